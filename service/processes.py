"""Helpers for running the service's own processes: a free port, waiting for one to answer,
stopping one in order. Shared by deploy/topology.py, the tests and the benchmark."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request

# `festival` as a child process of this interpreter (the project's virtual environment).
FESTIVAL = [sys.executable, "-m", "service.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    """Until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_http(url: str, timeout: float = 60, process: subprocess.Popen | None = None) -> None:
    """Until `url` answers 2xx; early if `process` (the one that should answer) exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited ({process.returncode}) before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own local URL)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer in {timeout:.0f} s") from None
            time.sleep(0.1)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    """Signal `process` (SIGTERM: it drains and exits), wait, and kill it if it will not."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


async def until_stopped() -> None:
    """Wait for SIGTERM or Ctrl-C (in a process that runs until told to stop)."""
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
