"""The sandbox a user's SQL runs in, and the one call that runs it: check, run, limit, audit.

The dashboard holds the sandbox file only as an open descriptor (the file itself is unlinked);
every query, the statement check included, runs in a query process (pool.py, worker.py) that
opens the file read-only and locked, bounded by the operating system and killed at the time
limit. Nothing a query computes lives in the dashboard's process but the rows it returns.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import hashlib
import itertools
import logging
import os
import pickle
import re
import signal
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.ipc

from xuncha import audit
from xuncha.export import MAX_XLSX_ROWS, ExportMeta
from xuncha.filters import Scope
from xuncha.sandbox import build, wire
from xuncha.sandbox import pool as _pool
from xuncha.sandbox.build import SandboxLimits, SandboxScope
from xuncha.sandbox.errors import (
    SandboxError,
    SandboxOutOfMemory,
    SandboxProblem,
    SandboxRefused,
    SandboxTimeout,
)
from xuncha.sandbox.explain import explain
from xuncha.sandbox.statements import check_text, first_line
from xuncha.store import Store

_LOG = logging.getLogger("xuncha")

DISPLAY_MAX_ROWS = 1_000
EXPORT_MAX_ROWS = MAX_XLSX_ROWS  # 1,048,575: one Excel sheet
CACHE_SIZE = int(os.environ.get("XUNCHA_SANDBOX_CACHE", "4"))
_BATCH_ROWS = 8_192
_EXAMPLES = 3
_EXAMPLE_ROWS = 200
_SCHEMA_SLACK = 1 << 16  # an Arrow piece's schema, beyond the result's own bytes
_KEYS = itertools.count(1)


@dataclass(frozen=True)
class SqlResult:
    frame: pl.DataFrame
    truncated: bool  # more rows existed than max_rows; frame holds the first max_rows
    elapsed_ms: int
    columns: list[str]
    types: list[str]  # DuckDB type of each column
    max_rows: int
    audit_seq: int | None = None

    @property
    def rows(self) -> int:
        return self.frame.height

    @property
    def note(self) -> str | None:
        """The line a page shows under a cut result."""
        if not self.truncated:
            return None
        return f"结果超过 {self.max_rows:,} 行，仅显示前 {self.max_rows:,} 行"


@dataclass
class _Run:
    """What the audit record of one run says."""

    sql: str
    started: float = field(default_factory=time.perf_counter)
    outcome: str = "ok"
    reason: str | None = None
    rows: int = 0
    truncated: bool = False

    @property
    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


@dataclass(frozen=True)
class _Fetched:
    table: pa.Table
    names: list[str]
    types: list[str]
    truncated: bool


class _Garbled(Exception):
    """A query process sent something that is not the protocol."""


class Sandbox:
    """A read-only DuckDB database holding only one scope's rows, locked down (see build.py),
    queried in separate processes (pool.py).

    Get one with `Sandbox.for_scope` (cached per store version, scope, clue permission and
    limits); run queries with `run`, from any thread, each in a query process of its own.
    """

    def __init__(
        self,
        store: Store,
        version: int,
        scope: SandboxScope,
        *,
        clue_details: bool,
        limits: SandboxLimits,
        fd: int,
        build_ms: int,
    ) -> None:
        self.store = store
        self.version = version
        self.scope = scope
        self.clue_details = clue_details
        self.limits = limits
        self.build_ms = build_ms
        self._fd = fd
        self._key = f"{os.getpid()}-{next(_KEYS)}"
        self._lock = threading.Lock()  # the descriptor is sent, or closed, never both
        self._closer = weakref.finalize(self, _release_file, fd, self._key)
        self._schema: pl.DataFrame | None = None
        self._broken = False
        try:
            try:
                self._allowance = _pool.allowance(limits.memory_limit)
                self._memory_bytes = _pool.memory_bytes(limits.memory_limit)
            except ValueError:
                raise SandboxError(
                    "无法打开查询沙箱（内存上限或线程设置无效？）",
                    reason="open_failed",
                    detail=f"memory_limit={limits.memory_limit!r}",
                ) from None
            self._round_ids = self._read_round_ids()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return (
            f"Sandbox(version={self.version}, scope={self.scope.digest}, "
            f"inspections={len(self.scope.inspection_ids)}, clue_details={self.clue_details})"
        )

    # -- getting one ---------------------------------------------------------------------

    @classmethod
    def for_scope(
        cls,
        store: Store | str | os.PathLike[str],
        scope: Scope | SandboxScope | Iterable[int],
        *,
        clue_details: bool,
        memory_limit: str = build.DEFAULT_MEMORY_LIMIT,
        timeout: float = build.DEFAULT_TIMEOUT,
        threads: int = build.DEFAULT_THREADS,
        max_sql_chars: int = build.MAX_SQL_CHARS,
        cache: bool = True,
    ) -> Sandbox:
        """The sandbox for a scope on the store's current version.

        `scope`: a resolved `Scope` (its inspection_ids and category filters; as_of is not
        applied: the timelines let a query ask any date) or a list of inspection_ids.
        `clue_details`: True only for roles allowed clue details; otherwise the sandbox has
        `clue_counts` (1–2 shown as '<3') instead of `clues`.
        """
        target = store if isinstance(store, Store) else Store(store)
        wanted = SandboxScope.of(scope)
        limits = SandboxLimits(
            memory_limit=memory_limit, timeout=timeout, threads=threads, max_sql_chars=max_sql_chars
        )
        version = target.version()
        if not cache:
            return cls._build(target, version, wanted, clue_details=clue_details, limits=limits)
        key = (str(target.root.resolve()), version, wanted, bool(clue_details), limits)
        with _CACHE_LOCK:
            found = _CACHE.get(key)
            if found is not None and not found._broken:
                _CACHE.move_to_end(key)
                return found
            lock = _BUILDING.setdefault(key, threading.Lock())
        with lock:  # one build per key at a time; others wait and reuse it
            with _CACHE_LOCK:
                found = _CACHE.get(key)
                if found is not None and not found._broken:
                    return found
            made = cls._build(target, version, wanted, clue_details=clue_details, limits=limits)
            with _CACHE_LOCK:
                # A new version of the same store makes the old ones' sandboxes stale.
                for other in [k for k in _CACHE if k[0] == key[0] and k[1] != version]:
                    del _CACHE[other]
                _CACHE[key] = made
                while len(_CACHE) > max(CACHE_SIZE, 1):
                    _CACHE.popitem(last=False)  # closed when the last user lets go of it
                _BUILDING.pop(key, None)
            return made

    @classmethod
    def _build(
        cls,
        store: Store,
        version: int,
        scope: SandboxScope,
        *,
        clue_details: bool,
        limits: SandboxLimits,
    ) -> Sandbox:
        started = time.perf_counter()
        folder = build.new_folder(store)
        try:
            path = None if clue_details else build.copy_prepared(store, version, scope, folder)
            if path is None:
                path = build.build_file(
                    store, version, scope, clue_details=clue_details, folder=folder
                )
            # Kept only as a descriptor: the file is unlinked with its folder just below, so
            # nothing is left on disk and nobody can open it by name.
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        finally:
            build.discard(folder)
        return cls(
            store,
            version,
            scope,
            clue_details=clue_details,
            limits=limits,
            fd=fd,
            build_ms=int((time.perf_counter() - started) * 1000),
        )

    def close(self) -> None:
        with self._lock:
            self._broken = True
            self._closer()  # the descriptor closed; query processes let go of the file
        if _pool._POOL is not None:
            _pool._POOL.tidy()

    # -- running a query -----------------------------------------------------------------

    def run(
        self,
        sql: str,
        *,
        user: str,
        params: Mapping[str, Any] | None = None,
        max_rows: int = DISPLAY_MAX_ROWS,
        purpose: str = "display",
        details: Mapping[str, Any] | None = None,
    ) -> SqlResult:
        """Check and run one query; every call is written to the audit trail, whatever its
        outcome, before it returns or raises (if that write fails, no rows are returned).

        `params`: values for `$name` parameters (the named queries of queries/), bound, never
        written into the text. `purpose` ("display", "export") and `details` (e.g. the page)
        are recorded with the query.

        Raises SandboxRefused (before running), SandboxTimeout, SandboxOutOfMemory, or
        SandboxError.
        """
        if not 1 <= max_rows <= EXPORT_MAX_ROWS:
            raise ValueError(f"max_rows must be between 1 and {EXPORT_MAX_ROWS}")
        if not isinstance(user, str) or not user.strip():
            raise ValueError("run() needs the user's name for the audit trail")
        run = _Run(sql if isinstance(sql, str) else repr(sql))
        try:
            if self._broken:
                raise SandboxError("查询沙箱已关闭，请重新打开页面", reason="closed")
            check_text(sql, max_chars=self.limits.max_sql_chars)  # the parser's part: below
            result = self._execute(sql, params, max_rows, run, user)
        except SandboxProblem as problem:
            run.outcome, run.reason = problem.outcome, problem.reason
            self._record(run, user, purpose, max_rows, params, details)
            raise
        entry = self._record(run, user, purpose, max_rows, params, details)
        return SqlResult(
            frame=result.frame,
            truncated=result.truncated,
            elapsed_ms=run.elapsed_ms,
            columns=result.columns,
            types=result.types,
            max_rows=max_rows,
            audit_seq=entry.seq,
        )

    def _execute(
        self, sql: str, params: Mapping[str, Any] | None, max_rows: int, run: _Run, user: str
    ) -> SqlResult:
        fetched = self._fetch(
            sql, dict(params) if params else None, max_rows, user=user, check=True
        )
        columns = _unique(fetched.names)
        frame = _to_polars(fetched.table, columns)
        run.rows, run.truncated = frame.height, fetched.truncated
        return SqlResult(frame, fetched.truncated, 0, columns, fetched.types, max_rows)

    def _fetch(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None,
        max_rows: int,
        *,
        user: str | None,
        check: bool,
    ) -> _Fetched:
        """Run one query in a query process: the rows as Arrow, or a SandboxProblem."""
        pool = _pool.get_pool()
        try:
            with pool.lease(user, self.limits.timeout, self._key) as lease:
                return self._exchange(lease, sql, params, max_rows, check)
        except _pool.Busy as busy:
            if busy.kind == "user":
                raise SandboxRefused(
                    f"您已有 {busy.limit} 条查询在运行且未在时限内结束：请等其结束后再试",
                    reason="too_many_queries",
                ) from None
            raise SandboxError(
                f"同时运行的查询已达上限（{busy.limit} 条）：请稍后再试", reason="busy"
            ) from None
        except _pool.StartFailed as exc:
            raise SandboxError(
                "无法启动查询进程：请稍后再试或联系管理员", reason="worker_failed", detail=str(exc)
            ) from None

    def _exchange(
        self,
        lease: _pool.Lease,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None,
        max_rows: int,
        check: bool,
    ) -> _Fetched:
        process = lease.process
        try:
            self._open_in(lease)
            try:
                request = wire.request(
                    {
                        "op": "query",
                        "sql": sql,
                        "params": params,
                        "check": check,
                        "max_chars": self.limits.max_sql_chars,
                        "max_rows": max_rows,
                        "max_bytes": self._memory_bytes,
                        "batch_rows": _BATCH_ROWS,
                        "timeout": self.limits.timeout,
                        "threads": self.limits.threads,
                    }
                )
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                lease.healthy = True  # nothing was sent
                raise SandboxError(
                    "查询参数无法传递给查询进程", reason="params", detail=type(exc).__name__
                ) from None
            deadline = time.monotonic() + self.limits.timeout
            process.send_request(request)
            lease.running()
            return self._receive(lease, deadline)
        except wire.Deadline:
            process.kill()  # at the time limit, whatever the query is doing
            raise self._timeout("timeout", "killed at the time limit") from None
        except wire.TooLarge as exc:
            process.kill()
            raise self._too_large(exc.size) from None
        except _Garbled as exc:
            process.kill()
            raise SandboxError(
                "查询进程返回了无法识别的结果，已重启：请重试",
                reason="worker_protocol",
                detail=str(exc),
            ) from None
        except (EOFError, OSError):  # the process ended: killed by the kernel, crashed
            raise self._ended(process) from None

    def _open_in(self, lease: _pool.Lease) -> None:
        """The process started, with this sandbox open (sent as a descriptor if not yet)."""
        process = lease.process
        deadline = time.monotonic() + _pool.START_TIMEOUT
        try:
            process.wait_ready(deadline)
        except (EOFError, OSError, wire.Deadline, wire.TooLarge, ValueError):
            code = process.kill()
            _LOG.warning(
                "a query process did not start (%s): %s",
                _pool.describe_exit(code),
                process.stderr_tail()[-1000:],
            )
            raise SandboxError(
                "无法启动查询进程：请稍后再试或联系管理员",
                reason="worker_failed",
                detail=_pool.describe_exit(code),
            ) from None
        if process.key == self._key:
            return
        with self._lock:
            if self._broken:
                lease.healthy = True
                raise SandboxError("查询沙箱已关闭，请重新打开页面", reason="closed")
            process.key = None
            process.send(
                {
                    "op": "open",
                    "key": self._key,
                    **build.lockdown(self.limits),
                    "allowance": self._allowance,
                    "tmp": str(build.tmp_root()),
                }
            )
            process.send_fd(self._fd)
        reply = self._control(process, deadline)
        if "error" in reply:
            lease.healthy = True  # it answered; it has no sandbox open
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            reason = str(error.get("reason") or "open_failed")
            message = {
                "settings_not_applied": "查询沙箱的安全设置未生效，已停止",
                "files_not_disabled": "查询沙箱仍能读取文件，已停止",
            }.get(reason, "无法打开查询沙箱（内存上限或线程设置无效？）")
            raise SandboxError(message, reason=reason, detail=str(error.get("detail") or ""))
        if reply.get("opened") != self._key:
            raise _Garbled("open")
        process.key = self._key

    def _control(self, process: _pool.QueryProcess, deadline: float) -> dict[str, Any]:
        kind, payload = process.recv(deadline, _pool.CONTROL_LIMIT)
        if kind != wire.JSON:
            raise _Garbled(f"expected JSON, got {kind!r}")
        try:
            return wire.loads_json(payload)
        except ValueError as exc:
            raise _Garbled("bad JSON") from exc

    def _receive(self, lease: _pool.Lease, deadline: float) -> _Fetched:
        process = lease.process
        head = self._control(process, deadline)
        self._raise_reported(lease, head)
        try:
            names = [str(n) for n in head["columns"]]
            types = [str(t) for t in head["types"]]
        except (KeyError, TypeError) as exc:
            raise _Garbled("header") from exc
        schema: pa.Schema | None = None
        batches: list[pa.RecordBatch] = []
        used = 0
        while True:
            room = max(self._memory_bytes - used, 0) + _SCHEMA_SLACK
            kind, payload = process.recv(deadline, room)
            if kind == wire.ARROW:
                used += len(payload)
                try:
                    reader = pa.ipc.open_stream(pa.py_buffer(payload))
                    schema = schema or reader.schema
                    batches.extend(reader)
                except (pa.ArrowException, ValueError) as exc:
                    raise _Garbled("Arrow") from exc
                continue
            if kind != wire.JSON:
                raise _Garbled(f"unexpected {kind!r}")
            try:
                tail = wire.loads_json(payload)
            except ValueError as exc:
                raise _Garbled("bad JSON") from exc
            self._raise_reported(lease, tail)
            if not tail.get("done") or schema is None:
                raise _Garbled("trailer")
            process.queries += 1
            process.rss_kb = int(tail.get("rss_kb") or 0)
            lease.healthy = True
            try:
                table = pa.Table.from_batches(batches, schema=schema)
            except pa.ArrowException as exc:
                raise _Garbled("batches") from exc
            if len(names) != table.num_columns:
                raise _Garbled("columns")
            return _Fetched(table, names, types, bool(tail.get("truncated")))

    def _raise_reported(self, lease: _pool.Lease, message: dict[str, Any]) -> None:
        """The query's own failure, as the process reported it (it is still fine to use,
        unless the engine said its state is broken)."""
        problem = message.get("problem")
        if isinstance(problem, dict):
            lease.healthy = True
            kind = SandboxRefused if problem.get("outcome") == "refused" else SandboxError
            raise kind(
                self._clean(str(problem.get("message") or "查询出错")),
                reason=str(problem.get("reason") or "error"),
                detail=self._clean(str(problem["detail"])) if problem.get("detail") else None,
            )
        error = message.get("error")
        if isinstance(error, dict):
            if error.get("too_large"):
                lease.healthy = True  # it stopped sending; it is fine
                raise self._too_large(None)
            names = [str(n) for n in error.get("names") or []]
            found = self._problem(names, bool(error.get("duckdb")), str(error.get("text") or ""))
            lease.healthy = found.reason != "fatal"  # a broken engine: a new process
            raise found

    def _ended(self, process: _pool.QueryProcess) -> SandboxProblem:
        """The process ended in the middle of a query: why, as far as can be told."""
        code, tail = process.ended()
        how = _pool.describe_exit(code)
        if process.stopping:
            return SandboxError("服务正在停止，查询已中止", reason="shutdown", detail=how)
        _LOG.warning("a query process ended during a query (%s): %s", how, tail[-1000:])
        if code == -signal.SIGKILL:  # not by us: the kernel's out-of-memory killer
            return self._out_of_memory("memory_killed", f"the query process was killed ({how})")
        if code == -signal.SIGXCPU:
            return self._timeout("cpu_limit", f"CPU time limit ({how})")
        if code == _pool.EXIT_WALL:
            return self._timeout("timeout", "the query process stopped itself at its limit")
        lowered = tail.lower()
        if any(
            w in lowered for w in ("memoryerror", "bad_alloc", "cannot allocate", "out of memory")
        ):
            return self._out_of_memory("out_of_memory", f"{how}: {first_line(tail[-300:])}")
        return SandboxError(
            "查询进程意外退出（已自动重启）：请重试", reason="worker_died", detail=how
        )

    def _timeout(self, reason: str, detail: str) -> SandboxTimeout:
        return SandboxTimeout(
            f"查询超过时间上限（{self.limits.timeout:g} 秒）已中止：请缩小范围或增加筛选条件",
            reason=reason,
            detail=detail,
        )

    def _out_of_memory(self, reason: str, detail: str) -> SandboxOutOfMemory:
        return SandboxOutOfMemory(
            f"查询超出内存上限（{self.limits.memory_limit}）已中止：请缩小范围、增加筛选条件或减少列",
            reason=reason,
            detail=detail,
        )

    def _too_large(self, size: int | None) -> SandboxOutOfMemory:
        return SandboxOutOfMemory(
            f"查询结果超过内存上限（{self.limits.memory_limit}）已中止：请减少行或列，或增加筛选条件",
            reason="result_too_large",
            detail=None if size is None else f"{size} bytes",
        )

    def _problem(self, names: Sequence[str], engine: bool, text: str) -> SandboxProblem:
        """A failure the query process reported: the exception's class names (its MRO),
        whether DuckDB raised it, and its text."""
        text = self._clean(text)
        kind = _kind(names, engine, text)
        if kind == "interrupt":
            if "maximum execution time" in text:  # the engine's own limit, behind the kill
                return self._timeout("timeout", text)
            return SandboxError("查询被中止", reason="interrupted", detail=text)
        if kind == "out_of_memory":
            return self._out_of_memory("out_of_memory", text)
        if kind == "permission":
            return SandboxRefused(
                "不允许访问文件、网络或扩展：数据查询只能读取沙箱中的数据表",
                reason="permission",
                detail=text,
            )
        if "read-only mode" in text:
            return SandboxRefused(
                "不允许修改数据（包括 WITH 子句中的 INSERT/UPDATE/DELETE）：数据查询为只读",
                reason="read_only",
                detail=text,
            )
        if "configuration has been locked" in text:
            return SandboxRefused(
                "不允许修改设置：查询沙箱的设置已锁定", reason="locked", detail=text
            )
        if kind == "fatal":
            return SandboxError(
                "查询引擎内部错误，查询进程已重启，请重试", reason="fatal", detail=text
            )
        # In Chinese, with the closest name; the engine's own text kept as the detail.
        message = explain(kind, text, tables=build.TABLE_ORDER)
        return SandboxError(message, reason=kind, detail=text)

    def _clean(self, text: str) -> str:
        """DuckDB's message without file paths (the store's, the server's home, any other)."""
        for secret in (
            str(self.store.root.resolve()),
            str(self.store.root),
            os.path.expanduser("~"),
        ):
            if len(secret) > 1:
                text = text.replace(secret, "…")
        return _PATH.sub("…", text)

    def _record(
        self,
        run: _Run,
        user: str,
        purpose: str,
        max_rows: int,
        params: Mapping[str, Any] | None,
        details: Mapping[str, Any] | None,
    ) -> audit.AuditEntry:
        sql = run.sql
        info: dict[str, Any] = {"sql": sql, "sql_chars": len(sql)}
        if len(sql) > self.limits.max_sql_chars:  # refused as too long: keep a prefix and a hash
            info["sql"] = sql[:2_000]
            info["sql_sha256"] = hashlib.sha256(sql.encode("utf-8", "replace")).hexdigest()
        info |= {
            "outcome": run.outcome,
            "rows": run.rows,
            "truncated": run.truncated,
            "duration_ms": run.elapsed_ms,
            "max_rows": max_rows,
            "purpose": purpose,
            "data_version": self.version,
            "scope_digest": self.scope.digest,
            "scope_inspections": len(self.scope.inspection_ids),
            "scope_round_ids": self.round_ids(),
            "clue_details": self.clue_details,
        }
        if run.reason:
            info["reason"] = run.reason
        if params:
            info["params"] = {k: _loggable(v) for k, v in params.items()}
        for key, value in (details or {}).items():
            info.setdefault(key, value)  # a caller adds context; it cannot rewrite the facts
        action = "sql_refused" if run.outcome == "refused" else "sql_query"
        try:
            return audit.record(self.store.root, user=user, action=action, **info)
        except audit.AuditError as exc:
            raise SandboxError(
                f"审计记录写入失败，查询结果不予返回：{exc}", reason="audit_failed"
            ) from None

    # -- what the user can see -----------------------------------------------------------

    def round_ids(self) -> list[int]:
        """The rounds in the sandbox (for the audit trail and the 说明 sheet)."""
        return list(self._round_ids)

    def round_names(self) -> list[str]:
        """The names of the rounds in the sandbox, in their order (for the 说明 sheet)."""
        fetched = self._internal("SELECT name FROM rounds ORDER BY seq")
        return [str(v) for v in fetched.table.column(0).to_pylist()]

    def _read_round_ids(self) -> list[int]:
        fetched = self._internal("SELECT round_id FROM rounds ORDER BY round_id")
        return [int(v) for v in fetched.table.column(0).to_pylist()]

    def _internal(self, sql: str, params: Sequence[Any] | None = None) -> _Fetched:
        """The sandbox's own queries (round ids, the schema): not the user's, not audited."""
        return self._fetch(sql, params, EXPORT_MAX_ROWS, user=None, check=False)

    def tables(self) -> list[str]:
        return self.schema()["table"].unique(maintain_order=True).to_list()

    def schema(self) -> pl.DataFrame:
        """One row per table column: table, table_comment, column, type, comment, examples
        (up to three distinct non-null values, as text), in the order users read them."""
        if self._schema is not None:
            return self._schema
        catalog = self._internal(
            """
            SELECT t.table_name, t.comment, c.column_name, c.data_type, c.comment,
                   c.column_index
            FROM duckdb_tables() t
            JOIN duckdb_columns() c
              ON c.database_name = t.database_name AND c.schema_name = t.schema_name
             AND c.table_name = t.table_name
            WHERE t.database_name = ? AND t.schema_name = 'main'
            """,
            [build.CATALOG],
        ).table
        rows = list(zip(*(catalog.column(i).to_pylist() for i in range(6)), strict=True))
        tables = sorted({r[0] for r in rows}, key=_table_rank)
        examples: dict[tuple[str, str], list[str]] = {}
        for table in tables:
            sample = self._internal(f'SELECT * FROM "{table}" LIMIT {_EXAMPLE_ROWS}')
            frame = _to_polars(sample.table, _unique(sample.names))
            for name in frame.columns:
                values = frame[name].drop_nulls().unique(maintain_order=True).head(_EXAMPLES)
                # A file's fingerprint (sha256, alone or in a list) is no example a reader
                # can use: such values are not shown.
                shown = [_short(v) for v in values.to_list()]
                examples[(table, name)] = [e for e in shown if not _FINGERPRINT.search(e)]
        ordered = sorted(rows, key=lambda r: (_table_rank(r[0]), r[5]))
        self._schema = pl.DataFrame(
            {
                "table": [r[0] for r in ordered],
                "table_comment": [r[1] or "" for r in ordered],
                "column": [r[2] for r in ordered],
                "type": [r[3] for r in ordered],
                "comment": [r[4] or "" for r in ordered],
                "examples": [examples.get((r[0], r[2]), []) for r in ordered],
            },
            schema={
                "table": pl.String,
                "table_comment": pl.String,
                "column": pl.String,
                "type": pl.String,
                "comment": pl.String,
                "examples": pl.List(pl.String),
            },
        )
        return self._schema

    def export_meta(
        self, result: SqlResult, sql: str, *, user: str, title: str = "数据查询结果"
    ) -> ExportMeta:
        """The 说明 sheet of an exported query result: who, when, which scope, which SQL."""
        clue = "含线索详情" if self.clue_details else "线索仅显示条数"
        notes = [f"查询语句：{sql}"]
        if result.truncated:
            notes.append(f"结果超过 {result.max_rows:,} 行，只导出了前 {result.max_rows:,} 行")
        if result.audit_seq is not None:
            notes.append(f"审计记录编号：{result.audit_seq}")
        return ExportMeta(
            title=title,
            # Rounds by name, never ids or the scope's digest (the audit record keeps those).
            scope=(
                f"{len(self.scope.inspection_ids)} 次巡察（{'、'.join(self.round_names()) or '无'}），"
                f"{clue}；数据版本 {self.version}；"
                "查询的是该数据版本中的当前数据（不随“统计截至”回溯）"
            ),
            user=user,
            notes=notes,
        )


_CACHE: collections.OrderedDict[tuple[Any, ...], Sandbox] = collections.OrderedDict()
_BUILDING: dict[tuple[Any, ...], threading.Lock] = {}
_CACHE_LOCK = threading.Lock()

# A hex digest (a file's sha256) in an example value of the schema browser.
_FINGERPRINT = re.compile(r"[0-9a-f]{16,}")

# An absolute path of two or more parts, not inside a word (10/2/3 is not a path).
_PATH = re.compile(r"(?<![\w.~/])/(?:[^\s\"'/]+/)+[^\s\"']*")


# DuckDB's exception classes (by name: the query process sends the names of the exception's
# classes), and the prefixes of the same errors when they surface while the result streams
# (pyarrow re-raises them as OSError with the engine's text).
_KINDS: tuple[tuple[str, str, str], ...] = (
    ("InterruptException", "INTERRUPT Error", "interrupt"),
    ("OutOfMemoryException", "Out of Memory Error", "out_of_memory"),
    ("PermissionException", "Permission Error", "permission"),
    ("FatalException", "FATAL Error", "fatal"),
    ("InternalException", "INTERNAL Error", "fatal"),
    ("ParserException", "Parser Error", "syntax"),
    ("CatalogException", "Catalog Error", "catalog"),
    ("BinderException", "Binder Error", "binder"),
    ("ConversionException", "Conversion Error", "conversion"),
    ("OutOfRangeException", "Out of Range Error", "conversion"),
    ("InvalidInputException", "Invalid Input Error", "conversion"),
)


def _kind(names: Sequence[str], engine: bool, text: str) -> str:
    for name, prefix, kind in _KINDS:
        if (engine and name in names) or (not engine and text.startswith(prefix)):
            return kind
    if "MemoryError" in names:  # Python's or Arrow's: the address space ran out
        return "out_of_memory"
    return "error"


def _release_file(fd: int, key: str) -> None:
    """A sandbox's descriptor closed, and its query processes told (finalizer-safe)."""
    with contextlib.suppress(OSError):
        os.close(fd)
    if _pool._POOL is not None:
        _pool._POOL.forget(key)


def clear_cache() -> None:
    """Forget every cached sandbox (tests; or after changing permissions)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _loggable(value: Any) -> Any:
    """A parameter value for the audit trail; a long list (the scope's inspection ids) by its
    length and digest instead of every element."""
    if isinstance(value, list | tuple) and len(value) > 20:
        digest = hashlib.sha256(repr(list(value)).encode()).hexdigest()[:16]
        return f"<{len(value)} 个值，摘要 {digest}>"
    if isinstance(value, str | int | float | bool | dt.date | type(None)):
        return value
    if isinstance(value, list | tuple):
        return [_loggable(v) for v in value]
    return str(value)


def _table_rank(name: str) -> tuple[int, str]:
    order = build.TABLE_ORDER
    return (order.index(name) if name in order else len(order), name)


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (a query may return two columns called the same)."""
    used: set[str] = set()
    out = []
    for name in names:
        base = name or "column"
        candidate, number = base, 1
        while candidate in used:
            candidate, number = f"{base}_{number}", number + 1
        used.add(candidate)
        out.append(candidate)
    return out


def _to_polars(table: pa.Table, names: list[str]) -> pl.DataFrame:
    """Arrow → Polars, column by column; a type Polars cannot hold (INTERVAL, UNION, …) becomes
    text rather than failing the whole result."""
    series = []
    for name, column in zip(names, table.columns, strict=True):
        if pa.types.is_interval(column.type):
            values = [None if v is None else _interval(v) for v in column.to_pylist()]
            series.append(pl.Series(name, values, dtype=pl.String))
            continue
        try:
            converted = pl.from_arrow(column)
            assert isinstance(converted, pl.Series)
            if isinstance(converted.dtype, pl.Object):  # pragma: no cover - defensive
                raise TypeError
            series.append(converted.alias(name))
        except Exception:
            values = [None if v is None else str(v) for v in column.to_pylist()]
            series.append(pl.Series(name, values, dtype=pl.String))
    return pl.DataFrame(series)


def _interval(value: Any) -> str:
    """An Arrow month-day-nano interval in DuckDB's own words (1 year 2 months 3 days 04:05:06)."""
    years, months = divmod(int(value.months), 12)
    parts = [
        f"{n} {unit}{'s' if abs(n) != 1 else ''}"
        for n, unit in ((years, "year"), (months, "month"), (int(value.days), "day"))
        if n
    ]
    nanos = int(value.nanoseconds)
    if nanos or not parts:
        sign, nanos = ("-" if nanos < 0 else ""), abs(nanos)
        seconds, rest = divmod(nanos, 1_000_000_000)
        clock = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        parts.append(clock + (f".{rest // 1000:06d}" if rest else ""))
    return " ".join(parts)


def _short(value: Any) -> str:
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def exportable(frame: pl.DataFrame) -> pl.DataFrame:
    """A query result the export writers can take: nested and binary columns as text (lists of
    plain values stay lists; the writers join them with 、)."""

    def plain(dtype: Any) -> bool:
        return bool(
            dtype.is_numeric() or dtype.is_temporal() or dtype in (pl.String, pl.Boolean, pl.Null)
        )

    out = []
    for name, dtype in frame.schema.items():
        column = frame[name]
        if isinstance(dtype, pl.List) and plain(dtype.inner):
            out.append(column)
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            out.append(column.cast(pl.String))
        elif isinstance(dtype, pl.Binary):
            out.append(column.map_elements(lambda b: b.hex(), return_dtype=pl.String))
        elif plain(dtype):
            out.append(column)
        else:
            out.append(
                pl.Series(
                    name, [None if v is None else str(v) for v in column.to_list()], pl.String
                )
            )
    return pl.DataFrame(out) if out else frame
