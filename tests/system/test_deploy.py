"""The deployment files name commands and settings that really exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from service.cli import build_parser
from service.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_systemd_units_run_real_festival_commands() -> None:
    units = sorted(DEPLOY.glob("*.service"))
    assert len(units) >= 2
    parser = build_parser()
    for unit in units:
        exec_start = re.search(r"^ExecStart=(.+)$", unit.read_text(), re.MULTILINE)
        assert exec_start, unit.name
        argv = shlex.split(exec_start.group(1).replace("%i", "8081"))
        assert argv[0].endswith("/festival"), unit.name
        parser.parse_args(argv[1:])  # exits (fails the test) on an unknown command or flag


def test_env_example_loads_into_settings(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    for line in (DEPLOY / "festival.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    env["FESTIVAL_JWT_SECRET"] = "s" * 48
    env["FESTIVAL_PHONE_KEY"] = "ab" * 32
    env["FESTIVAL_DATA_DIR"] = str(tmp_path)
    settings = Settings.from_env(env)
    assert settings.database_url and settings.trust_forwarded_for
    assert settings.phone_key_bytes() == bytes.fromhex("ab" * 32)
    assert not (tmp_path / "phone_key").exists()  # given, not generated
    assert str(settings.tz) == "Asia/Shanghai"


def test_compose_and_container_run_real_commands() -> None:
    parser = build_parser()
    compose = (DEPLOY / "compose.yaml").read_text()
    commands = re.findall(r'command: \["festival", (.+)\]', compose)
    assert len(commands) >= 3
    for command in commands:
        parser.parse_args([part.strip().strip('"') for part in command.split(",")])
    cmd = re.search(
        r'^CMD \["festival", (.+)\]$', (DEPLOY / "Containerfile").read_text(), re.MULTILINE
    )
    assert cmd
    parser.parse_args([part.strip().strip('"') for part in cmd.group(1).split(",")])
    # No secret is committed: every secret is a placeholder or comes from the environment.
    for path in DEPLOY.iterdir():
        text = path.read_text() if path.is_file() else ""
        for line in text.splitlines():
            if re.match(
                r"^\s*(FESTIVAL_JWT_SECRET|FESTIVAL_PHONE_KEY|POSTGRES_PASSWORD)\s*=", line
            ):
                assert line.split("=", 1)[1].strip() == "CHANGE-ME", (path.name, line)
