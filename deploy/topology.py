"""The production topology on one machine, from Debian's packages: nginx on one port in front
of N `festival serve --no-scheduler` processes, two `festival scheduler` processes, PgBouncer
(transaction pooling) in front of one PostgreSQL (the embedded one, or DATABASE_URL).

    python deploy/topology.py up [--apis 3] [--port 8800] [--dir var/topology]
    (Ctrl-C or SIGTERM takes it all down, in order.)

The tests start it the same way (tests/system/test_topology.py).
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from service.processes import FESTIVAL, free_port, stop, wait_http, wait_port

ROOT = Path(__file__).resolve().parent.parent
# What systemd does between fork and exec for a socket-activated service: the socket at fd 3,
# LISTEN_FDS=1 and LISTEN_PID = the pid that will run the service (exec keeps it).
SYSTEMD_HANDOFF = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); "
    "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid())); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def missing_tools() -> list[str]:
    found = {
        tool: shutil.which(tool) or shutil.which(f"/usr/sbin/{tool}")
        for tool in ("nginx", "pgbouncer")
    }
    return [tool for tool, path in found.items() if not path]


def _tool(name: str) -> str:
    path = shutil.which(name) or f"/usr/sbin/{name}"
    if not os.path.exists(path):
        raise SystemExit(f"{name} is not installed (Debian package {name})")
    return path


@dataclass
class Topology:
    database_url: str  # the PostgreSQL the festival lives in (direct, not through PgBouncer)
    folder: Path
    apis: int = 3
    port: int = 0
    schedulers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api_port: int = 0
    api_socket: socket.socket | None = None
    api_env: dict[str, str] = field(default_factory=dict)
    bouncer_port: int = 0
    bouncer_folder: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pooled_url(self) -> str:
        """The URL the festival processes use: through PgBouncer."""
        name = urlsplit(self.database_url).path.lstrip("/") or "postgres"
        user = urlsplit(self.database_url).username or "postgres"
        return f"postgresql://{user}@127.0.0.1:{self.bouncer_port}/{name}"

    # --- up ----------------------------------------------------------------------------

    def up(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.bouncer_port = free_port()
        self._pgbouncer()
        env = {
            **os.environ,
            **self.env,
            "DATABASE_URL": self.pooled_url,
            # PgBouncer 1.18 (Debian 12) pools transactions without prepared statements.
            "FESTIVAL_DB_STATEMENT_CACHE": "0",
            "FESTIVAL_TRUST_FORWARDED_FOR": "true",
            "FESTIVAL_ACCESS_LOG": "false",
            "FESTIVAL_POOL_MAX": "10",
        }
        migrated = subprocess.run(  # noqa: S603
            [*FESTIVAL, "migrate"], env=env, cwd=ROOT, capture_output=True, text=True, check=False
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"migration through PgBouncer failed:\n{migrated.stderr}")
        # As systemd's festival-api.socket: one listening socket, held here, that every API
        # process serves on; restarting a process never closes it.
        self.api_socket = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.api_port = self.api_socket.getsockname()[1]
        self.api_env = env
        for i in range(self.apis):
            self.start_api(i)
        for i in range(self.schedulers):
            self._start(f"scheduler-{i}", [*FESTIVAL, "scheduler"], env)
        wait_http(f"http://127.0.0.1:{self.api_port}/readyz")
        self._nginx()
        wait_http(self.base + "/readyz")

    def start_api(self, i: int) -> None:
        """API process `i` on the shared socket, handed over as systemd does (fd 3,
        LISTEN_FDS=1, LISTEN_PID = the process's own pid, set just before exec)."""
        assert self.api_socket is not None
        fd = self.api_socket.fileno()
        self._start(
            f"api-{i}",
            [sys.executable, "-c", SYSTEMD_HANDOFF, str(fd), *FESTIVAL, "serve", "--no-scheduler"],
            self.api_env,
            pass_fds=(fd,),
        )

    def restart_api(self, i: int, timeout: float = 60) -> None:
        """A rolling restart's step: drain and stop process `i`, start it again, and wait
        until it serves (so the next step never leaves fewer than N-1 serving)."""
        self.stop(f"api-{i}", signal.SIGTERM)
        self.start_api(i)
        log = self.folder / f"api-{i}.log"
        deadline = time.monotonic() + timeout
        while "serving on" not in log.read_text():
            if self.processes[f"api-{i}"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"api-{i} did not come back:\n{log.read_text()}")
            time.sleep(0.05)

    def _start(
        self, name: str, command: list[str], env: dict[str, str] | None = None, **kw: object
    ) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("w") as log:
            process = subprocess.Popen(  # type: ignore[call-overload]  # noqa: S603
                command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, **kw
            )
        self.processes[name] = process
        return process

    def _pgbouncer(self) -> None:
        target = urlsplit(self.database_url)
        query = parse_qs(target.query)
        host = query.get("host", [target.hostname or "127.0.0.1"])[0]
        port = target.port or 5432
        name = target.path.lstrip("/") or "postgres"
        user = target.username or "postgres"
        if os.geteuid() == 0:
            # Run as another user, it needs a folder that user can reach (not under a
            # root-only temp folder): its own, under /tmp.
            folder = Path(tempfile.mkdtemp(prefix="festival-pgbouncer-"))
            folder.chmod(0o755)
        else:
            folder = self.folder / "pgbouncer"
            folder.mkdir(exist_ok=True)
        self.bouncer_folder = folder
        (folder / "userlist.txt").write_text(f'"{user}" ""\n')
        (folder / "pgbouncer.ini").write_text(
            (ROOT / "deploy" / "pgbouncer.ini")
            .read_text()
            .replace("@DATABASE@", f"{name} = host={host} port={port} dbname={name} user={user}")
            .replace("@PORT@", str(self.bouncer_port))
            .replace("@FOLDER@", str(folder))
        )
        command = [_tool("pgbouncer"), str(folder / "pgbouncer.ini")]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: run it as whoever may open the server's socket.
            owner = (
                pwd.getpwuid(os.stat(host).st_uid).pw_name if host.startswith("/") else "postgres"
            )
            shutil.chown(folder, owner)
            for path in folder.iterdir():
                shutil.chown(path, owner)
            command = ["runuser", "-u", owner, "--", *command]
        self._start("pgbouncer", command)
        wait_port(self.bouncer_port)

    def _nginx(self) -> None:
        folder = self.folder / "nginx"
        folder.mkdir(exist_ok=True)
        upstreams = f"        server 127.0.0.1:{self.api_port};"
        (folder / "nginx.conf").write_text(
            (ROOT / "deploy" / "nginx-local.conf")
            .read_text()
            .replace("@UPSTREAMS@", upstreams)
            .replace("@PORT@", str(self.port))
            .replace("@FOLDER@", str(folder))
        )
        self._start(
            "nginx",
            [
                _tool("nginx"),
                "-p",
                str(folder),
                "-c",
                str(folder / "nginx.conf"),
                "-e",
                str(folder / "error.log"),
                "-g",
                "daemon off;",
            ],
        )

    # --- down --------------------------------------------------------------------------

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        stop(self.processes[name], sig)

    def down(self) -> None:
        # Front to back: nginx first, the database's pooler last.
        order = [
            "nginx",
            *[n for n in self.processes if n.startswith(("api-", "scheduler-"))],
            "pgbouncer",
        ]
        for name in order:
            if name in self.processes:
                self.stop(name)
        if self.api_socket is not None:
            self.api_socket.close()

    def __enter__(self) -> Topology:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.down()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the topology and keep it up until Ctrl-C")
    up.add_argument("--apis", type=int, default=3)
    up.add_argument("--port", type=int, default=8800)
    up.add_argument("--dir", default="var/topology")
    args = parser.parse_args()
    from service import embedded_postgres

    url = os.environ.get("DATABASE_URL") or embedded_postgres.start(ROOT / "var")
    topology = Topology(url, Path(args.dir).resolve(), apis=args.apis, port=args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with topology:
        print(
            f"serving on {topology.base} through nginx → {args.apis} API processes → "
            f"PgBouncer :{topology.bouncer_port} → PostgreSQL; two schedulers. Ctrl-C stops it."
        )
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
