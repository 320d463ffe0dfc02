"""The dashboard served on loopback for the browser timing and the load test: `python -m
xuncha.cli serve --db STORE --port P` in its own process group, stopped by that group's id."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Served:
    base: str  # http://127.0.0.1:P
    port: int
    pid: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(
    db: Path,
    *,
    port: int = 0,
    timeout: float = 120.0,
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Served]:
    """Serve `db`; the server's output goes to `log_path` (kept) or a temporary file."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "xuncha.cli", "serve", "--db", str(db)]
    command += ["--port", str(port), "--address", "127.0.0.1"]
    env = {**os.environ, "XUNCHA_DB": str(db), "STREAMLIT_SERVER_HEADLESS": "true", **(env or {})}
    opened = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
    with opened as log:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,  # .streamlit/config.toml
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_healthy(base, proc, log, timeout)
            yield Served(base, port, proc.pid)
        finally:
            _stop(proc)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: IO[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"xuncha serve exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with _NO_PROXY.open(f"{base}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base}/_stcore/health not ok after {timeout:.0f} s:\n{_tail(log)}")


def _tail(log: IO[bytes], size: int = 4000) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # start_new_session=True: the group id is the server's own pid; only what it started.
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
