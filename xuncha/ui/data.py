"""Data and caches of the dashboard process: the store and its reader on the current data
version, named-query results, scorecards and chart figures kept per version, resolved scopes,
and `clear_caches`. Nothing here draws a page (but the one-line notes when the store cannot
be opened or a demo is being built)."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import hashlib
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.scriptrunner_utils.script_run_context import get_run_yield_check

from xuncha.auth import Access, UserStore
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store import Store, StoreError, open_reader, permissions
from xuncha.store.reader import RESULTS, Reader, result_key
from xuncha.store.reader import params_key as reader_params_key

_LOG = logging.getLogger("xuncha")

DEFAULT_STORE = Path(__file__).resolve().parents[2] / "data" / "demo"


def store() -> Store:
    return Store(os.environ.get("XUNCHA_DB") or DEFAULT_STORE)


# Page runs at once in this process (XUNCHA_PAGE_RUNS; default: the machine's cores). Twenty
# sessions' runs at once each hold their frames and queries and slow one another on two
# cores: at a million findings one session alone ran 2.6 pages a second in 1.3 GB, twenty at
# once 1.5 a second in 3.3 GB (scripts/bench_load.py). A run waits for a slot before its
# page and still obeys a stop or rerun while it waits.
PAGE_RUNS = max(int(os.environ.get("XUNCHA_PAGE_RUNS") or os.cpu_count() or 2), 1)
_SLOT_POLL_S = 0.1


class _FairSlots:
    """`n` slots handed out first come, first served (a plain semaphore lets a late waiter
    overtake: in the load test at a million findings its p95 was 30.2 s, this one's 16.0)."""

    def __init__(self, n: int) -> None:
        self._free = n
        self._queue: collections.deque[object] = collections.deque()
        self._cond = threading.Condition()

    def acquire(self, ticket: object, timeout: float) -> bool:
        """Take a slot for `ticket` (queued on its first call) when it is first in line and
        a slot is free; False after `timeout` without one (the ticket keeps its place)."""
        with self._cond:
            if ticket not in self._queue:
                self._queue.append(ticket)
            ready = self._cond.wait_for(
                lambda: self._free > 0 and self._queue[0] is ticket, timeout=timeout
            )
            if ready:
                self._queue.popleft()
                self._free -= 1
                self._cond.notify_all()  # the next in line may take another free slot
            return ready

    def leave(self, ticket: object) -> None:
        """Give up waiting (the run stops or reruns): out of the line."""
        with self._cond:
            if ticket in self._queue:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._free += 1
            self._cond.notify_all()


_PAGE_SLOTS = _FairSlots(PAGE_RUNS)


@contextlib.contextmanager
def page_run_slot() -> Iterator[None]:
    """Hold one of the process's PAGE_RUNS slots for a page's run, in the order the runs
    asked (wait for it, asking every 0.1 s whether the session's run is to stop or rerun:
    Streamlit's check raises then, and the run leaves the line)."""
    waiting = get_run_yield_check()
    ticket = object()
    try:
        while not _PAGE_SLOTS.acquire(ticket, _SLOT_POLL_S):
            if waiting is not None:
                waiting()
    except BaseException:
        _PAGE_SLOTS.leave(ticket)
        raise
    try:
        yield
    finally:
        _PAGE_SLOTS.release()


# The reader open on each version number of a store, while anybody holds it: DuckDB hands a
# second connect() to a path the database it already has open there, so the reader of a
# version that a restore replaced must be closed before the new file of that number is read.
_OPEN_READERS: weakref.WeakValueDictionary[tuple[str, int], Reader] = weakref.WeakValueDictionary()
_OPEN_LOCK = threading.Lock()


@st.cache_resource(max_entries=2, show_spinner=False)
def _reader_for(root: str, version: int, identity: str) -> Reader:
    # Keyed on the version's identity too: a number used again after a restore is another
    # version, never the one this process read before.
    with _OPEN_LOCK:
        stale = _OPEN_READERS.get((root, version))
        if stale is not None and stale.identity != identity:
            stale.close()  # its file no longer exists under this number
        reader = open_reader(Store(root), version)
        _OPEN_READERS[(root, version)] = reader
    return reader


def params_key(params: Mapping[str, Any]) -> str:
    return reader_params_key(params)


# Figures kept per process: a scorecard of one round at provincial scale holds ~14 MB of
# frames (5,128 units, 66,664 indicator rows) and the trend ~7 MB, so 64 entries could
# hold most of a gigabyte; twelve cover the rounds and dates a few leaders look at.
FIGURE_CACHE_ENTRIES_SHARED = 12


@st.cache_resource(max_entries=FIGURE_CACHE_ENTRIES_SHARED, show_spinner=False)
def _cached_figure(root: str, identity: str, key: str, _call: Callable[[], Any]) -> Any:
    return _call()


def _key_part(value: Any) -> Any:
    digest = getattr(value, "digest", None)
    if callable(digest):  # a configuration: its digest covers what changes a result
        return ("digest", digest())
    if isinstance(value, Scope):
        return (
            "scope",
            value.params(),
            sorted(value.unit_filter) if value.unit_filter is not None else None,
            value.population_ids,
        )
    return value


def _config_stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    """The store's configuration files as they are now (name, size, modification time): a
    figure that reads one of them itself (the period rule, the sample line) is computed again
    when an administrator changes it, not only when the data version changes."""
    folder = Path(root) / "config"
    if not folder.is_dir():
        return ()
    return tuple(
        sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in folder.glob("*.toml"))
    )


def figure(fn: Callable[..., Any], rd: Reader, scope: Scope, *args: Any, **kwargs: Any) -> Any:
    """fn(rd, scope, *args, **kwargs) computed once per data version and arguments, shared by
    every session (figures whose Python work over many units costs more than their queries:
    the scorecards and their trend across rounds)."""
    parts = (
        fn.__module__,
        fn.__qualname__,
        _config_stamp(rd.store.root),
        _key_part(scope),
        [_key_part(a) for a in args],
        sorted((k, _key_part(v)) for k, v in kwargs.items()),
    )
    key = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return _cached_figure(
        str(rd.store.root), rd.identity, key, lambda: fn(rd, scope, *args, **kwargs)
    )


class CachedReader(Reader):
    """A reader whose named-query results are cached per data version: a new import makes a
    new version, so nothing stale is ever served and nothing needs expiring by time."""

    def __init__(self, inner: Reader) -> None:
        super().__init__(inner.store, inner.version, inner._con, inner.identity)
        self._root = str(inner.store.root)

    def query(self, name: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        if get_script_run_ctx(suppress_warning=True) is None:
            # Outside a script run (a download built on click, in a worker thread): the
            # whole list is read once for the file, not kept in the shared cache.
            return Reader.query(self, name, params)
        # One process-wide cache, bounded by bytes, computed once for concurrent callers
        # (reader.ResultCache): Streamlit's own hashing of a list of tens of thousands of
        # inspection ids on every call would cost more than the query, and a data cache
        # would unpickle a copy on every hit. Polars frames are immutable: all share one.
        return RESULTS.get(
            result_key(self, name, params),
            lambda: Reader.query(self, name, params),
            waiting=get_run_yield_check(),
        )

    def keeps_results(self) -> bool:
        return get_script_run_ctx(suppress_warning=True) is not None

    def prime(self, name: str, params: Mapping[str, Any], frame: pl.DataFrame) -> None:
        if self.keeps_results():
            # A result already kept (or being computed) stays: it has the same rows.
            RESULTS.get(result_key(self, name, params), lambda: frame)


def reader() -> CachedReader:
    """The reader on the store's current version (re-read at every run, so a new version
    published by an import is picked up on the next interaction)."""
    target = store()
    if not target.exists() and target.root.resolve() == DEFAULT_STORE.resolve():
        _build_demo(target)
    _private_once(target.root)
    number = target.version()
    identity = target.identity(number)
    if _LAST_IDENTITY.get(str(target.root)) != identity:
        _LAST_IDENTITY[str(target.root)] = identity
        RESULTS.drop_other_versions(str(target.root), identity)
    return CachedReader(_reader_for(str(target.root), number, identity))


# The data version each store was last read at: results of older versions are dropped
# from the shared cache once a newer one is published.
_LAST_IDENTITY: dict[str, str] = {}


_PRIVATE_ROOTS: set[str] = set()


def _private_once(root: Path) -> None:
    """Once per process and store: take the group and other bits off what a store made
    before the umask rule still has (xuncha.store.permissions)."""
    key = str(root)
    if key not in _PRIVATE_ROOTS:
        _PRIVATE_ROOTS.add(key)
        changed = permissions.private_tree(root)
        if changed:
            _LOG.warning("store %s: %d entries made private to their owner", root, changed)


def reader_or_stop() -> CachedReader:
    """`reader()`, or, when the store cannot be read (damaged, lost pointer, full disk), one
    line in Chinese saying so and what the administrator does, and the run stops: no page
    runs on a store it cannot read. The details (server paths included) go to the log."""
    try:
        return reader()
    except StoreError as exc:
        _LOG.error("store unavailable: %s", exc)
        st.error(
            "数据仓暂时无法打开（数据文件损坏、版本指针丢失或磁盘已满），驾驶舱未作任何更改。"
            "请管理员在服务器上运行 xuncha repair 查看并修复；详细信息已记入服务器日志。",
            icon=":material/error:",
        )
        st.stop()
        raise  # st.stop() does not return


def _build_demo(target: Store) -> None:
    from xuncha import demo

    with st.spinner("首次启动：正在生成演示数据……"):
        if not target.exists():
            try:  # the one audited way to build a demo store, which refuses a real store
                version = demo.build_store(target, user="system", source="dashboard").version
            except demo.DemoRefused as exc:
                raise StoreError(str(exc)) from exc
            prepare_sandbox(target, version)


def prepare_sandbox(target: Store, version: int) -> None:
    """After a write: the whole store's 数据查询 sandbox, built once for the new version
    (xuncha.sandbox.prepare; a failure only means it is built when first asked for)."""
    from xuncha.sandbox import prepare

    with st.spinner("正在准备数据查询……"):
        prepare(target, version)


def users() -> UserStore:
    return UserStore(store().root)


def is_demo_store(rd: Reader) -> bool:
    return rd.scalar("SELECT value FROM store_meta WHERE key = 'demo'") == "true"


# -- resolved scopes ---------------------------------------------------------------------

SCOPE_CACHE_ENTRIES = 64
_SCOPES: collections.OrderedDict[tuple[Any, ...], Scope] = collections.OrderedDict()
_SCOPES_LOCK = threading.Lock()


def cached_scope(rd: Reader, filters: Filters, who: Access) -> Scope:
    """`filters` resolved on `rd` with `who`'s access, once per data version, filters, access
    and day (Scope is immutable): a rerun does not rebuild a tuple of every inspection in
    scope."""
    key = (str(rd.store.root), rd.version, filters, who, dt.date.today())
    with _SCOPES_LOCK:
        if key in _SCOPES:
            _SCOPES.move_to_end(key)
            return _SCOPES[key]
    scope = resolve_scope(rd, filters, access=who)
    with _SCOPES_LOCK:
        _SCOPES[key] = scope
        while len(_SCOPES) > SCOPE_CACHE_ENTRIES:
            _SCOPES.popitem(last=False)
    return scope


# -- chart figures kept across reruns ----------------------------------------------------

FIGURE_CACHE_ENTRIES = 64
_FIGURES: collections.OrderedDict[bytes, Any] = collections.OrderedDict()
_FIGURES_LOCK = threading.Lock()


def _digest(*values: Any) -> bytes:
    """A digest of a chart builder's inputs: frames by schema, height and row hashes."""
    h = hashlib.blake2b(digest_size=20)

    def feed(value: Any) -> None:
        if isinstance(value, pl.DataFrame):
            h.update(b"F" + repr(value.schema).encode() + str(value.height).encode())
            if value.height:
                h.update(value.hash_rows(seed=11).to_numpy().tobytes())
        elif isinstance(value, list | tuple):
            h.update(b"[")
            for item in value:
                feed(item)
            h.update(b"]")
        elif isinstance(value, dict):
            h.update(b"{")
            for k in sorted(value, key=repr):
                feed(k)
                feed(value[k])
            h.update(b"}")
        else:
            h.update(type(value).__name__.encode() + b":" + repr(value).encode() + b";")

    for value in values:
        feed(value)
    return h.digest()


def built_figure(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`build(*args, **kwargs)`, kept by a digest of its inputs (any session): a rerun with
    the same data draws the figure it built before instead of building plotly objects again,
    which costs more than the rest of a rerun. Figures hold only what their inputs hold."""
    key = _digest(f"{build.__module__}.{build.__qualname__}", args, kwargs)
    with _FIGURES_LOCK:
        if key in _FIGURES:
            _FIGURES.move_to_end(key)
            return _FIGURES[key]
    fig = build(*args, **kwargs)
    with _FIGURES_LOCK:
        _FIGURES[key] = fig
        while len(_FIGURES) > FIGURE_CACHE_ENTRIES:
            _FIGURES.popitem(last=False)
    return fig


def clear_caches() -> None:
    """Forget the resolved scopes and built figures (Streamlit's own caches are cleared with
    st.cache_data.clear() / st.cache_resource.clear(); the benchmark clears all of them)."""
    with _SCOPES_LOCK:
        _SCOPES.clear()
    with _FIGURES_LOCK:
        _FIGURES.clear()
    RESULTS.clear()
