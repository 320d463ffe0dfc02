"""The dashboard served on loopback for the browser timing and the load test: `python -m
xuncha.cli serve --db STORE --port P` in its own process group, stopped by that group's id;
or, for the load test with several processes (serve_gated), the production arrangement:
`xuncha serve --workers N`, the login gate and an nginx of the current user in front."""

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Served:
    base: str  # http://127.0.0.1:P
    port: int
    pid: int  # the (first) dashboard process
    pids: tuple[int, ...] = ()  # every dashboard process (serve_gated); () from serve
    apps: tuple[str, ...] = ()  # their address:port, in the order of pids (serve_gated)
    access_log: Path | None = None  # nginx's: status, method, target, upstream, user


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
            yield Served(base, port, proc.pid, (proc.pid,), (f"127.0.0.1:{port}",))
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


NGINX = Path("/usr/sbin/nginx")
TRUSTED = {
    "XUNCHA_TRUSTED_USER_HEADER": "X-Xuncha-User",
    "XUNCHA_TRUSTED_CLIENT_HEADER": "X-Real-IP",
}


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _start(command: list[str], log: IO[bytes], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def nginx_conf(folder: Path, port: int, apps: str | Sequence[str], gate: str) -> Path:
    """nginx.conf for an unprivileged nginx listening on `port` whose every file lives in
    `folder`, including deploy/nginx/xuncha.conf rendered for these addresses (the benchmark's
    stack and the proxy tests both run this one)."""
    from xuncha.auth.gate import render_nginx_conf

    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir()
    (folder / "xuncha.conf").write_text(render_nginx_conf(f"127.0.0.1:{port}", apps, gate))
    user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would be `nobody`
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""{user}worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    log_format xuncha '$status\\t$request_method\\t$request_uri\\t$upstream_addr\\t$xuncha_user';
    access_log {folder}/access.log xuncha;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/xuncha.conf;
}}
""",
        encoding="utf-8",
    )
    return conf


def nginx_command(folder: Path, conf: Path, *, test: bool = False) -> list[str]:
    """Debian's nginx in the foreground as the current user, prefix, pid and logs in folder."""
    command = [str(NGINX), "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
    command += ["-g", f"daemon off; pid {folder}/nginx.pid; error_log {folder}/error.log;"]
    return command + (["-t"] if test else [])


def _wait_open(port: int, proc: subprocess.Popen[bytes], what: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not listening on {port}")


def _pids_by_port(supervisor: int, ports: list[int], deadline: float) -> tuple[int, ...]:
    """The dashboard process listening on each port: the supervisor's child (or, with one
    worker, the supervisor itself, which then serves in its own process)."""
    import psutil

    parent = psutil.Process(supervisor)
    while True:
        found: dict[int, int] = {}
        for proc in [parent, *parent.children()]:
            with contextlib.suppress(psutil.Error):
                for conn in proc.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr.port in ports:
                        found[conn.laddr.port] = proc.pid
        if len(found) == len(ports) or time.monotonic() > deadline:
            return tuple(found[p] for p in ports)
        time.sleep(0.1)


@contextlib.contextmanager
def serve_gated(
    db: Path,
    *,
    workers: int,
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180.0,
) -> Iterator[Served]:
    """Serve `db` as in production, on loopback: `xuncha serve --workers N` (trusting the
    gate's user header), `xuncha gate` and nginx (deploy/nginx/xuncha.conf, sticky on the
    session cookie). `base` and `port` are nginx's: a client needs the gate's session cookie
    (UserStore.start_session) for anything, the websocket included. The dashboards' output
    goes to `log_path` (kept) or a temporary file; gate's and nginx's to a temporary folder."""
    if not NGINX.exists():
        raise RuntimeError(f"{NGINX} is not installed (scripts/setup.sh --browser installs it)")
    ports = _free_ports(workers + 2)
    app_ports, gate_port, nginx_port = ports[:workers], ports[-2], ports[-1]
    apps = [f"127.0.0.1:{p}" for p in app_ports]
    run_env = {
        **os.environ,
        "XUNCHA_DB": str(db),
        "STREAMLIT_SERVER_HEADLESS": "true",
        **TRUSTED,
        **(env or {}),
    }
    serve_cmd = [sys.executable, "-m", "xuncha.cli", "serve", "--db", str(db)]
    serve_cmd += ["--workers", str(workers), "--ports", ",".join(map(str, app_ports))]
    serve_cmd += ["--address", "127.0.0.1"]
    gate_cmd = [sys.executable, "-m", "xuncha.cli", "gate", "--db", str(db)]
    gate_cmd += ["--port", str(gate_port), "--address", "127.0.0.1"]
    procs: list[subprocess.Popen[bytes]] = []
    opened = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
    with opened as log, tempfile.TemporaryDirectory(prefix="xuncha-gated-") as tmp:
        folder = Path(tmp)
        try:
            with (folder / "gate.log").open("wb") as gate_log:
                procs.append(_start(gate_cmd, gate_log, run_env))
            supervisor = _start(serve_cmd, log, run_env)
            procs.append(supervisor)
            conf = nginx_conf(folder, nginx_port, apps, f"127.0.0.1:{gate_port}")
            with (folder / "nginx.out").open("wb") as nginx_log:
                procs.append(_start(nginx_command(folder, conf), nginx_log, dict(os.environ)))
            deadline = time.monotonic() + timeout
            try:
                for port in app_ports:
                    _wait_healthy(f"http://127.0.0.1:{port}", supervisor, log, timeout)
                _wait_open(gate_port, procs[0], "xuncha gate", deadline)
                _wait_open(nginx_port, procs[2], "nginx", deadline)
            except (RuntimeError, TimeoutError) as exc:
                logs = [
                    (folder / n).read_text(errors="replace")[-2000:]
                    for n in ("gate.log", "nginx.out")
                ]
                raise RuntimeError(f"{exc}\n{chr(10).join(logs)}") from exc
            pids = _pids_by_port(supervisor.pid, app_ports, deadline)
            yield Served(
                f"http://127.0.0.1:{nginx_port}",
                nginx_port,
                pids[0],
                pids,
                tuple(apps),
                folder / "access.log",
            )
        finally:
            for proc in reversed(procs):
                _stop(proc)
