"""Several dashboard processes on one store: what `xuncha serve --workers N` runs.

One Streamlit process computes one page run at a time per core it can use (Python, the GIL,
DuckDB's planning), so a bigger machine or more leaders than one process keeps up with need
more processes. Each one here is a plain `xuncha serve` on its own loopback port; they share
nothing but the store directory, which every process reads as it always does (the version
CURRENT names, looked up again at every run, so a new import is seen by all of them). nginx
in front sends each signed-in browser always to the same process (deploy/nginx, hashing on
the gate's session cookie): a browser's Streamlit session, websocket and downloads live in one
process only.

The supervisor only starts, watches and stops: a child that exits while it runs is started
again (after a pause that grows while it keeps failing at once), SIGINT/SIGTERM stop every
child (SIGTERM, then SIGKILL after a grace period), and a child dies with its supervisor even
when the supervisor is killed outright (Linux's parent-death signal).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TextIO

POLL_S = 0.2
GRACE_S = 10.0  # how long stopped children may take before SIGKILL
STEADY_S = 30.0  # a child that ran this long before it exited is restarted at once
MAX_PAUSE_S = 30.0
_PR_SET_PDEATHSIG = 1


class WorkersError(Exception):
    """A setting that cannot be served (printed as one line by the command line)."""


def worker_ports(port: int, workers: int, ports: str | None = None) -> list[int]:
    """The ports of `workers` processes: the given comma-separated list, or consecutive ports
    from `port`. WorkersError when the two disagree or a port is impossible."""
    if workers < 1:
        raise WorkersError(f"进程数须至少为 1，不能为 {workers}")
    if ports:
        try:
            listed = [int(p) for p in ports.split(",") if p.strip()]
        except ValueError:
            raise WorkersError(f"端口列表不正确：{ports}") from None
        if len(listed) != workers:
            raise WorkersError(f"端口列表有 {len(listed)} 个端口，与进程数 {workers} 不一致")
    else:
        listed = [port + i for i in range(workers)]
    if len(set(listed)) != len(listed):
        raise WorkersError(f"端口重复：{ports}")
    for p in listed:
        if not 0 < p < 65536:
            raise WorkersError(f"端口不正确：{p}")
    return listed


def check_free(address: str, ports: Sequence[int]) -> None:
    """WorkersError naming the first port already in use on `address`."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for port in ports:
        with socket.socket(family) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError:
                raise WorkersError(f"端口 {port} 已被占用（地址 {address}）") from None


def host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def serve_command(db: str, address: str, port: int) -> list[str]:
    """One child: a normal single-process `xuncha serve` of this code."""
    command = [sys.executable, "-m", "xuncha.cli", "serve", "--db", db]
    return [*command, "--port", str(port), "--address", address]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to send the child SIGTERM when the supervisor dies (even by SIGKILL)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _ended(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"被信号 {signal.Signals(-code).name} 终止"
        return f"被信号 {-code} 终止"
    return f"退出码 {code}"


@dataclass
class _Child:
    index: int
    address: str
    command: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0  # exits in a row soon after starting
    restart_at: float | None = None

    @property
    def name(self) -> str:
        return f"驾驶舱进程 {self.index}（{self.address}）"


class Supervisor:
    """N children started, restarted when they exit, stopped together."""

    def __init__(
        self,
        commands: Sequence[tuple[str, list[str]]],
        *,
        out: TextIO | None = None,
        popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
    ) -> None:
        self.children = [
            _Child(i + 1, address, command) for i, (address, command) in enumerate(commands)
        ]
        self.out = out or sys.stderr
        self.popen = popen
        self.stopping = False
        self.restarts = 0

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _start(self, child: _Child) -> None:
        child.proc = self.popen(
            child.command,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        child.started = time.monotonic()
        child.restart_at = None

    def _stop_requested(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        """Start every child and watch them until SIGINT or SIGTERM; 0 once all stopped."""
        previous = {
            sig: signal.signal(sig, self._stop_requested) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for child in self.children:
                self._start(child)
            while not self.stopping:
                self._watch()
                time.sleep(POLL_S)
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.say(f"已停止全部 {len(self.children)} 个驾驶舱进程")
        return 0

    def _watch(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is not None:
                code = child.proc.poll()
                if code is None or self.stopping:
                    continue
                quick = now - child.started < STEADY_S
                child.failures = child.failures + 1 if quick else 0
                pause = min(MAX_PAUSE_S, 2.0 ** (child.failures - 1)) if quick else 0.5
                child.proc = None
                child.restart_at = now + pause
                self.say(f"{child.name}已退出（{_ended(code)}），{pause:g} 秒后重新启动")
            elif child.restart_at is not None and now >= child.restart_at:
                self._start(child)
                self.restarts += 1
                self.say(f"已重新启动{child.name}")

    def _stop_all(self) -> None:
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()


def announce(db: str, addresses: Sequence[str], out: TextIO) -> None:
    """Which addresses serve, and the nginx upstream that puts them behind the gate."""
    from xuncha.auth.gate import nginx_upstream

    lines = [f"已启动 {len(addresses)} 个驾驶舱进程，共用数据仓 {db}："]
    lines += [f"  进程 {i}：http://{a}" for i, a in enumerate(addresses, start=1)]
    apps = " ".join(f"--app {a}" for a in addresses)
    lines += [
        "请经 nginx 和登录网关访问（同一登录会话固定到同一进程）。nginx 配置中的 upstream：",
        nginx_upstream(addresses).rstrip("\n"),
        f"完整配置可由 xuncha gate --print-nginx-conf {apps} 生成（见 deploy/nginx/README.md）。",
        "任一进程退出后自动重新启动；按 Ctrl-C 停止全部进程。",
    ]
    print("\n".join(lines), file=out, flush=True)


def serve_workers(db: str, address: str, ports: Sequence[int], *, out: TextIO | None = None) -> int:
    """Run one `xuncha serve` per port on `address` until stopped (see the module)."""
    out = out or sys.stderr
    check_free(address, ports)
    commands = [(host_port(address, p), serve_command(db, address, p)) for p in ports]
    supervisor = Supervisor(commands, out=out)
    announce(db, [a for a, _ in commands], out)
    return supervisor.run()


__all__ = [
    "Supervisor",
    "WorkersError",
    "announce",
    "check_free",
    "serve_command",
    "serve_workers",
    "worker_ports",
]
