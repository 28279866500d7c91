"""PostgreSQL servers of the chaos runs' own, from PostgreSQL's binaries (Debian's packages,
else the ones pgserver ships): one to crash and restart, or a primary with a synchronous
standby to lose and promote. Under root they run as the `postgres` user (PostgreSQL refuses
root); every process started is stopped by its own pid."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from service.processes import free_port


def binaries() -> Path:
    """The newest Debian PostgreSQL's bin folder, else pgserver's."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for folder in debian:
        if (folder / "pg_basebackup").exists():
            return folder
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Node:
    """One PostgreSQL server: a data folder, a TCP port on 127.0.0.1, a log."""

    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _as_owner([str(self.bin / tool), *args]),
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        log = str(self.data.parent / f"{self.data.name}.log")
        return self.run(
            "pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", *args, check=check
        )

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self) -> None:
        """Stop it if it runs (fast shutdown), and wait."""
        if self.pid() is not None:
            self.pg_ctl("-m", "fast", "stop", check=False)

    def crash_restart(self) -> None:
        """`pg_ctl restart -m immediate`: no checkpoint, crash recovery at the next start."""
        self.pg_ctl("-m", "immediate", "restart")

    def kill(self) -> None:
        """The machine is gone: SIGKILL the postmaster (its backends follow)."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            for _ in range(200):  # gone, or a zombie nobody has reaped yet
                try:
                    state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
                except OSError:
                    break
                if state == "Z":
                    break
                time.sleep(0.02)

    def promote(self) -> None:
        self.pg_ctl("promote")

    def pid(self) -> int | None:
        path = self.data / "postmaster.pid"
        try:
            return int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def ready(self) -> bool:
        return (
            self.run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False).returncode
            == 0
        )

    def psql(self, sql: str) -> str:
        return self.run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-Atc", sql
        ).stdout


@dataclass
class Servers:
    folder: Path
    nodes: list[Node]

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="festival-chaos-pg-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    return folder


def _init(bin_: Path, folder: Path, name: str, settings: dict[str, str]) -> Node:
    node = Node(bin_, folder / name, free_port())
    node.run("initdb", "-D", str(node.data), "-U", "postgres", "-A", "trust", "--no-sync")
    _configure(node, settings)
    return node


def _configure(node: Node, settings: dict[str, str]) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(node.port),
        "unix_socket_directories": f"'{node.data.parent}'",
        "fsync": "on",
        "max_connections": "100",
        **settings,
    }
    conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
    _append(node, "postgresql.auto.conf", conf)


def _append(node: Node, name: str, text: str) -> None:
    path = node.data / name
    with path.open("a") as f:
        f.write(text)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(path, owner.pw_uid, owner.pw_gid)


def single() -> Servers:
    """One server, started, with a `festival` database."""
    folder = _folder()
    node = _init(binaries(), folder, "single", {})
    node.start()
    node.psql("CREATE DATABASE festival")
    return Servers(folder, [node])


def primary_and_standby() -> Servers:
    """A primary and a synchronous standby streaming from it (`synchronous_standby_names`):
    a commit is acknowledged only once the standby has it, so losing the primary loses no
    acknowledged write. nodes[0] is the primary."""
    bin_ = binaries()
    folder = _folder()
    primary = _init(
        bin_,
        folder,
        "primary",
        {"wal_level": "replica", "max_wal_senders": "4", "synchronous_commit": "on"},
    )
    _append(primary, "pg_hba.conf", "host replication all 127.0.0.1/32 trust\n")
    primary.start()
    primary.psql("CREATE DATABASE festival")
    standby = Node(bin_, folder / "standby", free_port())
    standby.run(
        "pg_basebackup",
        "-d",
        f"host=127.0.0.1 port={primary.port} user=postgres application_name=standby1",
        "-D",
        str(standby.data),
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",
        "--no-sync",
    )
    _configure(standby, {"hot_standby": "on"})
    standby.start()
    # Synchronous from now on (earlier, with no standby yet, every commit would wait).
    primary.psql("ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
    primary.psql("SELECT pg_reload_conf()")
    for _ in range(300):  # until the primary counts it as its synchronous standby
        if primary.psql("SELECT sync_state FROM pg_stat_replication").strip() == "sync":
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the standby did not become synchronous")
    return Servers(folder, [primary, standby])
