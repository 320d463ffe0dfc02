"""The query processes user SQL runs in (xuncha/sandbox/worker.py), a few kept started.

Each process runs one query at a time. A query takes an idle process (one that already has its
sandbox open, if any), or starts one if fewer than `workers` exist, or waits for one to come
free. A user's queries beyond `per_user` wait for the user's own to end, so one user cannot
hold every process. A process that ran past the time limit is killed (SIGKILL) and replaced,
as is one that died, failed or grew large. `spare` processes are kept started ahead so a
query does not wait for a start.

Processes are started with subprocess (fork and exec at once: nothing of the dashboard's
threads, DuckDB connections or memory is carried over), with a bare environment, and talk
over a socket pair (wire.py). The sandbox file reaches them as a file descriptor.

Settings (environment, read when the pool starts): XUNCHA_SQL_WORKERS (4), XUNCHA_SQL_SPARE
(1), XUNCHA_SQL_IDLE (2), XUNCHA_SQL_PER_USER (2), XUNCHA_SQL_RETIRE_MB (768).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xuncha.sandbox import wire

_LOG = logging.getLogger("xuncha")

ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the xuncha package
# -I: no environment variables, user site or script folder on the path; the package is found
# at ROOT, ahead of anything else.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from xuncha.sandbox.worker import main; sys.exit(main(sys.argv[2:]))"
)
HEADROOM = 256 << 20  # address space beyond the memory limit: interpreter, stacks, a batch
START_TIMEOUT = 60.0  # seconds a process may take to start (a loaded machine)
CONTROL_LIMIT = 1 << 20  # the longest JSON message a query process may send
EXIT_WALL = 70  # worker.EXIT_WALL (not imported: the dashboard never imports the worker)


class Busy(Exception):
    """No process came free in time for this query: the user kept running `limit` queries
    ("user"), or every process stayed busy ("full")."""

    def __init__(self, kind: str, limit: int) -> None:
        super().__init__(kind)
        self.kind = kind
        self.limit = limit


class StartFailed(Exception):
    """A query process could not be started."""


_UNITS = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}


def memory_bytes(text: str) -> int:
    """DuckDB's memory_limit text in bytes ('1GB' = 10^9, '1GiB' = 2^30, '80%' of the RAM)."""
    found = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z%]*)\s*", str(text))
    if not found:
        raise ValueError(f"not a memory size: {text!r}")
    number, unit = float(found[1]), found[2].lower()
    if unit == "%":
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * number / 100)
    if unit not in _UNITS:
        raise ValueError(f"not a memory size: {text!r}")
    return int(number * _UNITS[unit])


def allowance(memory_limit: str) -> int:
    """The address space a query process may add to itself for a sandbox with this limit."""
    return memory_bytes(memory_limit) + HEADROOM


def _env_int(name: str, default: int, least: int) -> int:
    try:
        return max(int(os.environ.get(name, default)), least)
    except ValueError:
        return default


@dataclass(frozen=True)
class PoolConfig:
    workers: int = 4  # query processes at most: queries running at once
    spare: int = 1  # idle processes kept started ahead
    idle: int = 2  # idle processes kept at most (with their sandbox open) for the next query
    per_user: int = 2  # queries one user may run at once
    retire_mb: int = 768  # a process larger than this after a query is replaced
    start_allowance: int = memory_bytes("1GB") + HEADROOM  # address space until a sandbox opens

    @classmethod
    def from_env(cls) -> PoolConfig:
        workers = _env_int("XUNCHA_SQL_WORKERS", cls.workers, 1)
        spare = min(_env_int("XUNCHA_SQL_SPARE", cls.spare, 0), workers)
        return cls(
            workers=workers,
            spare=spare,
            idle=max(_env_int("XUNCHA_SQL_IDLE", cls.idle, 0), spare),
            per_user=_env_int("XUNCHA_SQL_PER_USER", cls.per_user, 1),
            retire_mb=_env_int("XUNCHA_SQL_RETIRE_MB", cls.retire_mb, 64),
        )


def _environment() -> dict[str, str]:
    """A query process sees none of the dashboard's environment (no store path, no secrets)."""
    env = {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",  # glibc reserves 64 MB of address space per arena
        "OPENBLAS_NUM_THREADS": "1",  # numpy (through pyarrow) starts no thread pool
        "OMP_NUM_THREADS": "1",
        "ARROW_DEFAULT_MEMORY_POOL": "system",
    }
    if "TZ" in os.environ:  # current_date as in the dashboard
        env["TZ"] = os.environ["TZ"]
    return env


class QueryProcess:
    """The dashboard's end of one query process."""

    def __init__(self, start_allowance: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.errors = tempfile.TemporaryFile(prefix="xuncha-sql-")  # noqa: SIM115 - kept open
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    _BOOT,
                    ROOT,
                    str(theirs.fileno()),
                    str(start_allowance),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.errors,
                env=_environment(),
                cwd="/",
            )
        except BaseException:
            ours.close()
            self.errors.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.pid = self.proc.pid
        self.spawned = time.monotonic()
        self.ready = False
        self.ready_ms: float | None = None  # from start to ready
        self.key: str | None = None  # the sandbox it has open
        self.base_kb = 0
        self.rss_kb = 0
        self.queries = 0
        self.running = False
        self.stopping = False  # killed because the pool closed (the dashboard is stopping)
        self.last_used = self.spawned

    def __repr__(self) -> str:
        return f"QueryProcess(pid={self.pid}, key={self.key}, queries={self.queries})"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, deadline: float) -> None:
        if self.ready:
            return
        kind, payload = wire.recv(self.sock, deadline=deadline, limit=CONTROL_LIMIT)
        message = wire.loads_json(payload) if kind == wire.JSON else {}
        if not message.get("ready"):
            raise EOFError("the query process did not start")
        self.ready = True
        self.ready_ms = (time.monotonic() - self.spawned) * 1000
        self.base_kb = int(message.get("base_kb") or 0)

    def send(self, request: dict[str, Any]) -> None:
        wire.send_pickle(self.sock, request)

    def send_request(self, request: bytes) -> None:
        """A request already pickled (wire.request)."""
        wire.send(self.sock, wire.PICKLE, request)

    def send_fd(self, fd: int) -> None:
        socket.send_fds(self.sock, [b"F"], [fd])

    def recv(self, deadline: float, limit: int) -> tuple[bytes, bytearray]:
        return wire.recv(self.sock, deadline=deadline, limit=limit)

    def kill(self) -> int:
        """SIGKILL, reaped; the exit status (negative: the signal)."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        code = self.proc.wait()
        self._close()
        return code

    def ended(self) -> tuple[int, str]:
        """After its socket closed: its exit status and the end of what it wrote to stderr."""
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = self.kill()
        tail = self.stderr_tail()
        self._close()
        return code, tail

    def stderr_tail(self, size: int = 4096) -> str:
        with contextlib.suppress(OSError, ValueError):
            self.errors.seek(0, os.SEEK_END)
            end = self.errors.tell()
            self.errors.seek(max(end - size, 0))
            return self.errors.read().decode("utf-8", "replace")
        return ""

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(OSError):
            self.errors.close()


class Lease:
    """One query process for one caller until the `with` block ends. `healthy` says whether
    the process may serve another query (set only after a whole exchange went through)."""

    def __init__(self, pool: Pool, process: QueryProcess) -> None:
        self.pool = pool
        self.process = process
        self.healthy = False

    def running(self) -> None:
        self.pool._mark(self.process, running=True)


class Pool:
    def __init__(self, config: PoolConfig | None = None) -> None:
        self.config = config or PoolConfig.from_env()
        self._cond = threading.Condition(threading.RLock())
        self._idle: list[QueryProcess] = []  # least recently used first
        self._busy: set[QueryProcess] = set()
        self._users: collections.Counter[str] = collections.Counter()
        self._forgotten: collections.deque[str] = collections.deque()
        self._gone: set[str] = set()
        self._closed = False
        self.pid = os.getpid()
        self.started = 0  # processes started
        self.replaced = 0  # processes killed or retired

    def __repr__(self) -> str:
        return f"Pool({self.stats()})"

    # -- the caller's side ------------------------------------------------------------------

    def start(self) -> None:
        """Start the spare processes (returns at once; they get ready in the background)."""
        with self._cond:
            self._top_up()

    @contextlib.contextmanager
    def lease(self, user: str | None, wait: float, key: str | None = None) -> Iterator[Lease]:
        process = self._acquire(user, wait, key)
        lease = Lease(self, process)
        try:
            yield lease
        finally:
            self._release(process, user, lease.healthy)

    def forget(self, key: str) -> None:
        """A sandbox was closed: processes that have it open close it when next idle. Safe to
        call from a finalizer (it only queues the key)."""
        self._forgotten.append(key)

    def tidy(self) -> None:
        """Idle processes let go of closed sandboxes now (not only when next used)."""
        with self._cond:
            self._drain()

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return self._stats()

    def wait_until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
        """Wait (no polling) until predicate(stats) holds; False if it did not in time."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self._stats()), timeout)

    def close(self) -> None:
        """Kill every process (at exit, or when a test is done with the pool)."""
        with self._cond:
            self._closed = True
            processes = [*self._idle, *self._busy]
            for process in processes:
                process.stopping = True
            self._idle.clear()
            self._cond.notify_all()
        for process in processes:
            process.kill()

    # -- inside -----------------------------------------------------------------------------

    def _stats(self) -> dict[str, Any]:
        return {
            "idle": len(self._idle),
            "busy": len(self._busy),
            "running": sum(1 for p in self._busy if p.running),
            "pids": sorted(p.pid for p in (*self._idle, *self._busy)),
            "ready_pids": sorted(p.pid for p in (*self._idle, *self._busy) if p.ready),
            "running_pids": sorted(p.pid for p in self._busy if p.running),
            "started": self.started,
            "replaced": self.replaced,
            "users": dict(self._users),
        }

    def _acquire(self, user: str | None, wait: float, key: str | None) -> QueryProcess:
        deadline = time.monotonic() + wait
        with self._cond:
            self._drain()
            while True:
                if self._closed:
                    raise StartFailed("the pool is closed")
                mine = user is not None and self._users[user] >= self.config.per_user
                process = None if mine else self._pick(key)
                if (
                    process is None
                    and not mine
                    and len(self._idle) + len(self._busy) < self.config.workers
                ):
                    process = self._spawn()
                if process is not None:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if mine:
                        raise Busy("user", self.config.per_user)
                    raise Busy("full", self.config.workers)
                self._cond.wait(remaining)
            self._busy.add(process)
            if user is not None:
                self._users[user] += 1
            with contextlib.suppress(StartFailed):
                self._top_up()
            self._cond.notify_all()
            return process

    def _pick(self, key: str | None) -> QueryProcess | None:
        """An idle process: one with this sandbox open, else a fresh ready one, else the least
        recently used ready one, else one still starting."""
        for process in [p for p in self._idle if not p.alive]:
            self._idle.remove(process)
            process.kill()
            self.replaced += 1
        ready = [p for p in self._idle if p.ready]
        for choice in (
            [p for p in ready if key is not None and p.key == key][-1:],
            [p for p in ready if p.key is None][-1:],
            ready[:1],
            self._idle[:1],
        ):
            if choice:
                self._idle.remove(choice[0])
                return choice[0]
        return None

    def _spawn(self) -> QueryProcess:
        try:
            process = QueryProcess(self.config.start_allowance)
        except OSError as exc:
            raise StartFailed(str(exc)) from exc
        self.started += 1
        return process

    def _top_up(self) -> None:
        while (
            not self._closed
            and len(self._idle) < self.config.spare
            and len(self._idle) + len(self._busy) < self.config.workers
        ):
            self._idle.append(self._spawn())

    def _mark(self, process: QueryProcess, *, running: bool) -> None:
        with self._cond:
            process.running = running
            self._cond.notify_all()

    def _release(self, process: QueryProcess, user: str | None, healthy: bool) -> None:
        retire: list[QueryProcess] = []
        with self._cond:
            self._busy.discard(process)
            if user is not None:
                self._users[user] -= 1
                if self._users[user] <= 0:
                    del self._users[user]
            process.running = False
            process.last_used = time.monotonic()
            if (
                not healthy
                or self._closed
                or not process.alive
                or process.rss_kb > self.config.retire_mb * 1024
            ):
                retire.append(process)
            else:
                self._idle.append(process)
                self._drain()
                while len(self._idle) > max(self.config.idle, self.config.spare):
                    retire.append(self._idle.pop(0))
            self.replaced += len(retire)
            with contextlib.suppress(StartFailed):
                self._top_up()
            self._cond.notify_all()
        for old in retire:
            old.kill()

    def _drain(self) -> None:
        """Idle processes close the sandboxes that were closed (forget)."""
        while self._forgotten:
            self._gone.add(self._forgotten.popleft())
        if not self._gone:
            return
        for process in list(self._idle):
            if process.key is not None and process.key in self._gone:
                try:
                    process.send({"op": "close"})
                    process.key = None
                except OSError:
                    self._idle.remove(process)
                    process.kill()
                    self.replaced += 1
        held = {p.key for p in self._busy}
        self._gone &= held  # keep only keys a busy process may still hold


def describe_exit(code: int) -> str:
    """An exit status in words for the log: 'SIGKILL', 'exit 1'."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-code).name
        return f"signal {-code}"
    return f"exit {code}"


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def get_pool() -> Pool:
    """The process's pool, started on first use (and again in a forked child)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid() or _POOL._closed:
            _POOL = Pool()
            _POOL.start()
        return _POOL


def shutdown() -> None:
    """Kill every query process of this process (at exit; tests)."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None and pool.pid == os.getpid():
        pool.close()


atexit.register(shutdown)
