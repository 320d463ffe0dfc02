"""Named read-only queries (`queries/*.sql`) and the reader that runs them on one data version.

Each query file opens with a header that is its documentation and its contract:

    -- name: <file stem>
    -- returns: what it returns
    -- grain: one row | one row per col_a, col_b | one row per event (free text)
    -- params:
    --   $name TYPE  meaning
    -- columns:
    --   column TYPE  meaning

Parameters are always bound, never formatted into the text. A test runs every file against a
fixture store and checks the header against the result.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import os
import re
import threading
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from xuncha.store.store import Store, StoreError

QUERIES_DIR = Path(
    os.environ.get("XUNCHA_QUERIES", Path(__file__).resolve().parents[2] / "queries")
)
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")

# run_query reads a result through execute() and Arrow on purpose (see there); DuckDB warns
# that this copies the rows once more, which for these results is cheap.
warnings.filterwarnings(
    "ignore", message="Arrow output on a DB-API result makes an extra copy", category=UserWarning
)


def run_query(
    cursor: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any]
) -> pl.DataFrame:
    """A named query's rows as a Polars frame, through execute() and an Arrow table.

    The relation API (`cursor.sql(text, params=...).pl()`) binds the statement twice (once to
    describe the relation, once to run it) and scans its text for parameter markers in
    Python: 1-9 ms more per query on the demo store, the most on the largest statements
    (rectification_counts_current 29.9 ms against 20.8), measured by
    scripts/bench_sql_vocabulary.py --exec-before relation."""
    table = cursor.execute(sql, dict(params)).to_arrow_table()
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return frame


# Active recordings of the named queries run (the benchmark replays a page's exact query set).
# Empty when nobody records, so `Reader.query` pays one truthiness check.
_RECORDINGS: list[list[tuple[str, dict[str, Any]]]] = []
_RECORDINGS_LOCK = threading.Lock()
# Named queries running at once in this process (XUNCHA_QUERY_SLOTS, default 4). Each DuckDB
# query already uses every core; twenty sessions' queries at once only add their working
# memory (hash tables over millions of rows) and make each other wait the longer.
QUERY_SLOTS = threading.BoundedSemaphore(max(int(os.environ.get("XUNCHA_QUERY_SLOTS", "4")), 1))


# The shared query-result cache's bound (XUNCHA_RESULT_CACHE_MB, default 256): at a million
# findings a page's results are 0.1-30 MB, most under 1 MB (a few lists of every inspection
# or unit in scope are the large ones).
RESULT_CACHE_BYTES = int(float(os.environ.get("XUNCHA_RESULT_CACHE_MB", "256")) * 2**20)
# How often a caller waiting for another's computation asks whether to stop waiting.
_WAIT_POLL_S = 0.1


class _Flight:
    """One computation in progress, awaited by every caller of the same key."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: pl.DataFrame | None = None
        self.error: BaseException | None = None


class ResultCache:
    """Named-query results shared by every session of the process, least recently used
    first out, bounded by the frames' bytes (Polars' `estimated_size`) rather than by a
    count: one list of every inspection at provincial scale weighs as much as a thousand
    counts. Callers asking for the same key at once wait for one computation (single-flight):
    twenty sessions opening the same page do not run its queries twenty times. Keys are
    built by `result_key`: the store, the data version's identity, the query and its bound
    parameters (the scope's inspection ids among them), so a new version or another scope
    never reads another's result. Polars frames are immutable: every caller shares one."""

    def __init__(self, max_bytes: int = RESULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: collections.OrderedDict[Hashable, tuple[pl.DataFrame, int]] = (
            collections.OrderedDict()
        )
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0  # computations (a caller that waited for one counts as a hit)

    def get(
        self,
        key: Hashable,
        compute: Callable[[], pl.DataFrame],
        waiting: Callable[[], None] | None = None,
    ) -> pl.DataFrame:
        """The cached frame for `key`, else `compute()` once for all concurrent callers.
        `waiting`, when given, is called every 0.1 s while waiting for another caller's
        computation (Streamlit's check that raises when the run is to stop or rerun)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[0]
            flight = self._flights.get(key)
            owner = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self.misses += 1
            else:
                self.hits += 1
        if not owner:
            while not flight.done.wait(_WAIT_POLL_S if waiting else None):
                if waiting is not None:
                    waiting()
            if flight.error is not None:
                raise flight.error
            assert flight.value is not None
            return flight.value
        try:
            value = compute()
        except BaseException as exc:
            flight.error = exc
            with self._lock:
                del self._flights[key]
            flight.done.set()
            raise
        flight.value = value
        self._put(key, value)
        flight.done.set()
        return value

    def _put(self, key: Hashable, value: pl.DataFrame) -> None:
        size = int(value.estimated_size())
        with self._lock:
            del self._flights[key]
            if size > self.max_bytes // 4:
                return  # one frame never takes a quarter of the cache
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped

    def drop_other_versions(self, root: str, identity: str) -> None:
        """Forget the results of every other data version of `root` (a new version has been
        published: the old results would only be evicted by the bytes bound later)."""
        with self._lock:
            for key in [k for k in self._entries if _stale(k, root, identity)]:
                self.bytes -= self._entries.pop(key)[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


def _stale(key: Hashable, root: str, identity: str) -> bool:
    return isinstance(key, tuple) and len(key) > 2 and key[0] == root and key[1] != identity


def params_key(params: Mapping[str, Any]) -> str:
    """A digest of bound parameters: hashing a list of tens of thousands of inspection ids
    once is cheaper than keeping it in the key."""
    return hashlib.blake2b(repr(sorted(params.items())).encode(), digest_size=16).hexdigest()


def result_key(reader: Reader, name: str, params: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The shared cache's key for `name` with `params` on `reader`'s data version: only the
    parameters the query binds count (a query that ignores the date is shared across dates)."""
    given = dict(params or {})
    named = load_queries().get(name)
    bound = given if named is None else {k: given[k] for k in named.params if k in given}
    return (str(reader.store.root), reader.identity, name, params_key(bound))


# The process's shared query results (the dashboard's CachedReader reads through it).
RESULTS = ResultCache()


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Collect `(query name, params)` of every named query any `Reader` runs (any thread)
    while the block is active; cached results are not run, so they are not recorded."""
    calls: list[tuple[str, dict[str, Any]]] = []
    with _RECORDINGS_LOCK:
        _RECORDINGS.append(calls)
    try:
        yield calls
    finally:
        with _RECORDINGS_LOCK:
            for i, active in enumerate(_RECORDINGS):
                if active is calls:
                    del _RECORDINGS[i]
                    break


@dataclass(frozen=True)
class NamedQuery:
    name: str
    returns: str
    grain: str
    params: dict[str, str]
    columns: dict[str, str]
    sql: str = field(repr=False)

    @property
    def grain_keys(self) -> list[str] | None:
        """Key columns when the grain is 'one row per a, b'; [] for 'one row'; None if free."""
        text = self.grain.strip()
        if text == "one row":
            return []
        match = re.fullmatch(r"one row per ([a-z0-9_]+(?:\s*,\s*[a-z0-9_]+)*)", text)
        if match:
            return [part.strip() for part in match.group(1).split(",")]
        return None


def parse_query_file(path: Path) -> NamedQuery:
    text = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    params: dict[str, str] = {}
    columns: dict[str, str] = {}
    section: dict[str, str] | None = None
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        body = line[2:].rstrip()
        item = re.match(r"^\s{2,}(\$?[a-z_][a-z0-9_]*)\s+(.*)$", body)
        if item and section is not None:
            section[item.group(1).lstrip("$")] = item.group(2).strip()
            continue
        key, _, value = body.strip().partition(":")
        key = key.strip()
        if key == "params":
            section = params
        elif key == "columns":
            section = columns
        elif key in {"name", "returns", "grain"}:
            header[key] = value.strip()
            section = None
    for required in ("name", "returns", "grain"):
        if required not in header:
            raise ValueError(f"{path.name}: header lacks '-- {required}:'")
    if header["name"] != path.stem:
        raise ValueError(f"{path.name}: header name {header['name']!r} differs from file name")
    return NamedQuery(
        name=header["name"],
        returns=header["returns"],
        grain=header["grain"],
        params=params,
        columns=columns,
        sql=text,
    )


@functools.cache
def load_queries(folder: Path = QUERIES_DIR) -> dict[str, NamedQuery]:
    return {p.stem: parse_query_file(p) for p in sorted(folder.glob("*.sql"))}


def used_params(sql: str) -> set[str]:
    """Names of $parameters in the SQL body (comments stripped)."""
    body = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return set(_PARAM.findall(body))


class Reader:
    """Runs named queries on one read-only data version; a cursor per query (DuckDB 2.x
    refuses concurrent calls on one connection)."""

    def __init__(
        self,
        store: Store,
        version: int,
        con: duckdb.DuckDBPyConnection,
        identity: str | None = None,
    ) -> None:
        self.store = store
        self.version = version
        # What caches are keyed on (Store.identity): never aliased by a restored number.
        self.identity = identity or f"{version:06d}"
        self._con = con
        self._lock = threading.Lock()

    def query(self, name: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        queries = load_queries()
        if name not in queries:
            raise KeyError(f"no named query {name!r} in {QUERIES_DIR}")
        named = queries[name]
        given = dict(params or {})
        missing = set(named.params) - set(given)
        if missing:
            raise TypeError(f"query {name} needs parameters {sorted(missing)}")
        bound = {key: given[key] for key in named.params}
        if _RECORDINGS:
            with _RECORDINGS_LOCK:
                for calls in _RECORDINGS:
                    calls.append((name, dict(given)))
        with QUERY_SLOTS:
            cursor = self._con.cursor()
            try:
                return run_query(cursor, named.sql, bound)
            finally:
                cursor.close()

    def keeps_results(self) -> bool:
        """Whether `query` answers from kept results that `prime` can fill (a plain reader
        keeps none: a figure that would run one larger query to prime several smaller ones
        asks the smaller ones instead)."""
        return False

    def prime(self, name: str, params: Mapping[str, Any], frame: pl.DataFrame) -> None:
        """Offer `frame` as the result of `query(name, params)`, computed by other means (one
        query for several groupings); a plain reader keeps nothing."""

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """One value from fixed, trusted SQL owned by the package (never user text)."""
        cursor = self._con.cursor()
        try:
            row = cursor.execute(sql, dict(params or {})).fetchone()
            return row[0] if row else None
        finally:
            cursor.close()

    def close(self) -> None:
        self._con.close()


def table_counts(reader: Reader) -> dict[str, int]:
    """The exact row count of every table of the reader's data version (schema_tables.sql),
    by table name."""
    names = reader.query("schema_tables")["table_name"].to_list()
    # Table names come from DuckDB's own catalog, not from the user; quoted all the same.
    return {
        name: int(reader.scalar(f'SELECT count(*) FROM "{name.replace(chr(34), chr(34) * 2)}"'))
        for name in names
    }


def open_reader(store: Store | str | os.PathLike[str], version: int | None = None) -> Reader:
    """A reader on the current version of a store directory."""
    target = store if isinstance(store, Store) else Store(store)
    number = target.version() if version is None else version
    identity = target.identity(number)
    try:
        con = target.connect(number)
    except StoreError:
        raise
    return Reader(target, number, con, identity)
