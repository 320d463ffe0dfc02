"""The query process: where a user's SQL runs, never in the dashboard's own process.

Started by xuncha/sandbox/pool.py as `python -I -c <boot> ROOT FD ALLOWANCE` with a bare
environment, it talks to the dashboard over the socket FD (xuncha/sandbox/wire.py) and
serves one request at a time:

    open   the sandbox file, received as a descriptor (the file is already unlinked), read-only
           and locked exactly as build.py says, the settings read back (else it refuses)
    query  check one statement (statements.check_sql), run it, send the rows as Arrow IPC,
           at most max_rows of them and max_bytes in all
    close  the open sandbox

The operating system bounds it: the address space (RLIMIT_AS) is set before DuckDB opens
anything, to the size of the process at that moment plus the allowance (the sandbox's memory
limit and a fixed headroom); CPU time (RLIMIT_CPU) is set per query to time limit × threads
plus a little; no core dumps. So a query that outgrows the allowance gets DuckDB's "Out of
Memory" or a MemoryError, not the machine's memory; the dashboard kills the process at the
time limit; and should the dashboard itself be gone, the process ends itself a few seconds
after the limit (and on the socket closing when idle).

Imports: the standard library, duckdb, pyarrow and the three small modules below, nothing
else (no polars, no store, no Streamlit), so it starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import math
import os
import pickle
import resource
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.ipc

from xuncha.sandbox import wire
from xuncha.sandbox.errors import SandboxError, SandboxProblem
from xuncha.sandbox.statements import check_sql

EXIT_WALL = 70  # the process's own clock ran out: nobody stopped it at the time limit
WALL_GRACE = 5.0  # seconds past the time limit before the process ends itself
CPU_GRACE = 3  # CPU seconds beyond time limit × threads before the kernel's SIGXCPU
_DIR_PREFIX = "xuncha-sandbox-"


class _OpenFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def status_kb(field: str) -> int:
    """A figure of /proc/self/status in kB (VmSize, VmRSS, VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _limit_memory(address_space: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        address_space = min(address_space, hard)
    resource.setrlimit(resource.RLIMIT_AS, (address_space, hard))


def _limit_cpu(seconds: float | None) -> None:
    """CPU time from now on (None: no limit); past it the kernel sends SIGXCPU, which ends
    the process (no handler is installed)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if seconds is None:
        soft = hard
    else:
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(used.ru_utime + used.ru_stime + seconds) + 1
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _trim() -> None:
    """Give freed memory back to the system (glibc keeps it otherwise)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Worker:
    def __init__(self, sock: socket.socket, base: int) -> None:
        self.sock = sock
        self.base = base  # the address space before DuckDB opened anything, in bytes
        self.base_rss_kb = status_kb("VmRSS")
        self.con: duckdb.DuckDBPyConnection | None = None
        self.key: str | None = None

    def serve(self) -> int:
        while True:
            try:
                kind, payload = wire.recv(self.sock)
            except EOFError:
                return 0  # the dashboard is gone or let this process go
            if kind != wire.PICKLE:
                return 2
            request: dict[str, Any] = pickle.loads(payload)
            op = request.get("op")
            if op == "open":
                self.open(request)
            elif op == "query":
                self.query(request)
            elif op == "close":
                self.close()
            else:
                return 2

    # -- open -------------------------------------------------------------------------------

    def open(self, request: dict[str, Any]) -> None:
        _, fds, _, _ = socket.recv_fds(self.sock, 1, 1)
        if len(fds) != 1:
            wire.send_json(self.sock, {"error": {"reason": "open_failed", "detail": "no file"}})
            return
        self.close()
        _limit_memory(self.base + int(request["allowance"]))
        try:
            self.con = self._open(fds[0], request)
            self.key = str(request["key"])
        except _OpenFailed as failed:
            wire.send_json(self.sock, {"error": {"reason": failed.reason, "detail": failed.detail}})
            return
        wire.send_json(self.sock, {"opened": self.key})

    def _open(self, fd: int, request: dict[str, Any]) -> duckdb.DuckDBPyConnection:
        # DuckDB opens files by name: a name in a private folder, pointing at the descriptor,
        # gone again as soon as the file is open (the catalog then shows a path that no
        # longer exists, as it did when the dashboard opened the file itself).
        folder = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=request["tmp"]))
        link = folder / "xuncha.duckdb"
        try:
            os.symlink(f"/proc/self/fd/{fd}", link)
            try:
                con = duckdb.connect(str(link), read_only=True, config=request["config"])
            except duckdb.Error as exc:
                raise _OpenFailed("open_failed", type(exc).__name__) from None
        finally:
            with contextlib.suppress(OSError):
                link.unlink()
            with contextlib.suppress(OSError):
                folder.rmdir()
            os.close(fd)
        try:
            for statement in request["sets"]:
                con.execute(statement)
            self._check(con, request["expected"], str(link))
        except _OpenFailed:
            con.close()
            raise
        except duckdb.Error as exc:
            con.close()
            raise _OpenFailed("open_failed", type(exc).__name__) from None
        return con

    @staticmethod
    def _check(con: duckdb.DuckDBPyConnection, expected: dict[str, str], path: str) -> None:
        """Fail closed if DuckDB did not take a setting, or can still read a file."""
        cursor = con.cursor()
        try:
            shown = dict(cursor.execute("SELECT name, value FROM duckdb_settings()").fetchall())
            wrong = {k: (shown.get(k), v) for k, v in expected.items() if shown.get(k) != v}
            if wrong:
                raise _OpenFailed("settings_not_applied", str(wrong))
            literal = "'" + path.replace("'", "''") + "'"
            try:
                cursor.execute(f"SELECT count(*) FROM read_blob({literal})").fetchall()
            except duckdb.PermissionException:
                pass
            except duckdb.Error as exc:  # reached the file system at all: not disabled
                raise _OpenFailed("files_not_disabled", type(exc).__name__) from None
            else:
                raise _OpenFailed("files_not_disabled", "read_blob")
        finally:
            cursor.close()

    def close(self) -> None:
        if self.con is not None:
            with contextlib.suppress(duckdb.Error):
                self.con.close()
            self.con, self.key = None, None
            _trim()

    # -- query ------------------------------------------------------------------------------

    def query(self, request: dict[str, Any]) -> None:
        if self.con is None:
            wire.send_json(self.sock, {"error": {"names": [], "duckdb": False, "text": "closed"}})
            return
        timeout = float(request["timeout"])
        _limit_cpu(timeout * int(request["threads"]) + CPU_GRACE)
        watchdog = threading.Timer(timeout + WALL_GRACE, os._exit, (EXIT_WALL,))
        watchdog.daemon = True
        watchdog.start()
        cursor = self.con.cursor()
        try:
            try:
                trailer = self._run(cursor, request)
            except SandboxProblem as problem:
                wire.send_json(self.sock, {"problem": _problem(problem)})
            except Exception as exc:  # the engine's, Arrow's, MemoryError, a bad parameter
                wire.send_json(self.sock, {"error": _error(exc)})
            else:
                wire.send_json(self.sock, trailer)
        finally:
            watchdog.cancel()
            with contextlib.suppress(duckdb.Error):
                cursor.close()
            _limit_cpu(None)
        if status_kb("VmRSS") > self.base_rss_kb + 65_536:
            _trim()

    def _run(self, cursor: duckdb.DuckDBPyConnection, request: dict[str, Any]) -> dict[str, Any]:
        sql = request["sql"]
        if request["check"]:
            check_sql(cursor, sql, max_chars=int(request["max_chars"]))
        params = request.get("params")
        relation = cursor.sql(sql, params=params) if params else cursor.sql(sql)
        if relation is None:  # pragma: no cover - a checked SELECT always has a relation
            raise SandboxError("查询没有返回结果", reason="no_result")
        names, types = list(relation.columns), [str(t) for t in relation.types]
        max_rows, budget = int(request["max_rows"]), int(request["max_bytes"])
        reader = relation.to_arrow_reader(min(int(request["batch_rows"]), max_rows + 1))
        wire.send_json(self.sock, {"columns": names, "types": types})
        schema = reader.schema
        sent_bytes = self._send_arrow(schema, [], budget)
        rows, truncated = 0, False
        for batch in reader:
            if batch.num_rows == 0:
                continue
            room = max_rows - rows
            if room <= 0:
                truncated = True
                break
            if batch.num_rows > room:
                batch, truncated = batch.slice(0, room), True
            sent_bytes += self._send_arrow(schema, [batch], budget - sent_bytes)
            rows += batch.num_rows
            if truncated:
                break
        reader.close()
        return {
            "done": True,
            "rows": rows,
            "truncated": truncated,
            "bytes": sent_bytes,
            "rss_kb": status_kb("VmRSS"),
            "hwm_kb": status_kb("VmHWM"),
        }

    def _send_arrow(self, schema: pa.Schema, batches: list[pa.RecordBatch], budget: int) -> int:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        payload = sink.getvalue()
        if payload.size > budget:
            raise _TooLarge
        wire.send(self.sock, wire.ARROW, memoryview(payload))
        return int(payload.size)


class _TooLarge(MemoryError):
    """The result outgrew max_bytes (the sandbox's memory limit)."""


def _problem(problem: SandboxProblem) -> dict[str, Any]:
    return {
        "outcome": problem.outcome,
        "message": problem.message,
        "reason": problem.reason,
        "detail": problem.detail,
    }


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "names": [cls.__name__ for cls in type(exc).__mro__],
        "duckdb": isinstance(exc, duckdb.Error),
        "too_large": isinstance(exc, _TooLarge),
        "text": str(exc)[:20_000],
    }


def main(argv: list[str]) -> int:
    fd, allowance = int(argv[0]), int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the dashboard decides when this ends
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dump holds a query's rows
    faulthandler.enable()  # a crash leaves its traceback in the stderr the dashboard keeps
    # Before DuckDB opens anything: the process as it is now, plus the allowance.
    base = status_kb("VmSize") * 1024
    _limit_memory(base + allowance)
    sock = socket.socket(fileno=fd)
    wire.send_json(sock, {"ready": True, "pid": os.getpid(), "base_kb": base // 1024})
    return Worker(sock, base).serve()


if __name__ == "__main__":  # pragma: no cover - started through pool.py's boot line
    sys.exit(main(sys.argv[1:]))
