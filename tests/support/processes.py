"""Running the real `festival` command in child processes, as an operator would."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from service.processes import FESTIVAL, free_port, stop, wait_http
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["FESTIVAL", "ROOT", "Server", "festival_env", "free_port", "run_festival", "serving"]


def festival_env(database_url: str | None, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "FESTIVAL_"))}
    env.update({"FESTIVAL_DATA_DIR": str(data_dir), "FESTIVAL_JWT_SECRET": TEST_SECRET})
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_festival(
    args: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FESTIVAL, *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Server:
    base: str
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


@contextmanager
def serving(env: dict[str, str], log_path: Path, *extra: str) -> Iterator[Server]:
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*FESTIVAL, "serve", "--port", str(port), *extra],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        try:
            wait_http(server.base + "/healthz", 60, process)
        except (OSError, RuntimeError) as err:
            raise AssertionError(f"serve did not start ({err}):\n{server.log()}") from None
        yield server
    finally:
        stop(process)
