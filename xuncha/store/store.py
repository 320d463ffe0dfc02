"""The versioned store: a directory of DuckDB files, one per data version, and a CURRENT pointer.

DuckDB lets many processes open a file read-only but only one open it for writing, and never
both at once. So nobody ever writes a file that a reader may hold: a write copies the current
version to a new file, applies its batch there in one transaction, refreshes the derived
tables, checkpoints, and then atomically points CURRENT at the new file. Readers (dashboard,
command line) open the version CURRENT names read-only and notice a new one on their next
call. A crash leaves the old version intact; old versions are the backups.

A version can be pinned (`pins/<version>-<sha1(reason)[:12]>`, the file holding the reason): an
archived briefing pins the data version it was made from, and pruning never deletes a pinned
version, so the briefing can be regenerated identically.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import duckdb

from xuncha.store import schema

T = TypeVar("T")
log = logging.getLogger(__name__)

CURRENT = "CURRENT"
VERSIONS = "versions"
PINS = "pins"
KEEP_VERSIONS = 5
_VERSION_FILE = re.compile(r"^(\d{6})\.duckdb$")
# Copies of versions written by older code, with the current-state summaries added.
UPGRADED = "upgraded"
_UPGRADED_FILE = re.compile(r"^(\d{6})-layout\w+\.duckdb$")


def _layout_of(con: duckdb.DuckDBPyConnection) -> str | None:
    # fetchall, not fetchone: DuckDB 2.x refuses other work on a connection whose result
    # was not read to the end, and this connection goes on to serve the reader.
    try:
        rows = con.execute("SELECT value FROM store_meta WHERE key = 'current_layout'").fetchall()
    except duckdb.Error:
        return None
    return str(rows[0][0]) if rows else None


def _older_layout(layout: str | None) -> bool:
    """True for a version whose summaries are missing or older than this code's; a newer
    layout (written by newer code) is left as it is."""
    if layout is None:
        return True
    try:
        return int(layout) < int(schema.CURRENT_LAYOUT)
    except ValueError:
        return False


_PIN_FILE = re.compile(r"^(\d{6})-([0-9a-f]{12})$")

# Offline machines: never try to download or auto-load an extension.
BASE_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def reader_limits() -> dict[str, str | bool | int | float | list[str]]:
    """Bounds for a read-only connection: its buffer pool would otherwise grow to 80 % of
    the machine's memory per open version (XUNCHA_READER_MEMORY, default 1GB)."""
    return {"memory_limit": os.environ.get("XUNCHA_READER_MEMORY", "1GB")}


class StoreError(Exception):
    """A store problem with a message fit to show a user (Chinese)."""


class Store:
    """A store directory: `CURRENT`, `versions/NNNNNN.duckdb`, and a writer lock."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- reading -------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.root / CURRENT).is_file()

    def damaged(self) -> str | None:
        """Why the store is damaged, or None: versions on disk but no readable CURRENT naming
        one of them. Such a store is never taken for an empty one (a write would start a new
        store over the real versions and prune them); `repair` points CURRENT again."""
        known = self.versions()
        if not known:
            return None
        pointer = self.root / CURRENT
        try:
            text = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return f"版本指针 CURRENT 丢失，但数据仓中有 {len(known)} 个数据版本"
        except (OSError, UnicodeDecodeError):
            return "版本指针 CURRENT 无法读取"
        if not _VERSION_FILE.match(text) or not (self.root / VERSIONS / text).is_file():
            return f"版本指针 CURRENT 已损坏（内容为 {text[:40]!r}）"
        return None

    def refuse_if_damaged(self) -> None:
        """StoreError naming the fix when the store is damaged."""
        why = self.damaged()
        if why is not None:
            raise StoreError(
                f"数据仓 {self.root} 已损坏：{why}；未作任何更改。"
                f"请先运行 xuncha repair --db {self.root} 查看并修复"
            )

    def version(self) -> int:
        """The current data version; StoreError when the store has none."""
        self.refuse_if_damaged()
        pointer = self.root / CURRENT
        try:
            text = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            if self.root.is_file():
                raise StoreError(
                    f"{self.root} 是文件而不是数据仓目录；请用 --db 指向数据仓目录"
                ) from None
            raise StoreError(
                f"数据仓不存在：{self.root}（可先运行 xuncha demo --db {self.root}）"
            ) from None
        match = _VERSION_FILE.match(text)
        if not match or not (self.root / VERSIONS / text).is_file():
            raise StoreError(f"数据仓 {self.root} 的版本指针已损坏：{text!r}")
        return int(match.group(1))

    def identity(self, version: int) -> str:
        """What a version is, not only its number: the number with its file's inode, size and
        modification time. A restore, or a number used again after one, is another file and so
        another identity: caches and prepared sandboxes keyed on it never serve a version that
        no longer exists."""
        try:
            stat = self.file_for(version).stat()
        except FileNotFoundError:
            raise StoreError(f"数据仓 {self.root} 没有版本 {version}") from None
        return f"{version:06d}.{stat.st_ino:x}.{stat.st_size:x}.{stat.st_mtime_ns:x}"

    def file_for(self, version: int) -> Path:
        return self.root / VERSIONS / f"{version:06d}.duckdb"

    def current_file(self) -> Path:
        return self.file_for(self.version())

    def versions(self) -> list[int]:
        folder = self.root / VERSIONS
        if not folder.is_dir():
            return []
        found = (_VERSION_FILE.match(p.name) for p in folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def connect(self, version: int | None = None) -> duckdb.DuckDBPyConnection:
        """A read-only connection to one version (the current one by default). A version
        written by older code, whose current-state summaries are missing or of an older
        layout, is read through a copy with the summaries added (see readable_file)."""
        number = self.version() if version is None else version
        con = self._open(self.file_for(number), number)
        if not _older_layout(_layout_of(con)):
            return con
        con.close()
        return self._open(self.readable_file(number), number)

    def _open(self, path: Path, number: int) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(path), read_only=True, config=BASE_CONFIG | reader_limits())
        except duckdb.Error as exc:
            raise StoreError(f"无法打开数据仓 {self.root}（版本 {number}）：{exc}") from exc

    def readable_file(self, version: int) -> Path:
        """The file to read a version from: its own, or — for a version written by older
        code — a copy beside it (UPGRADED/) to which the current-state summaries were added,
        computed from that version's own timelines. The version itself is never changed and
        its derived tables are not rebuilt, so an archived briefing drafted on it regenerates
        from the very rows it was drafted from; every query can bind its summary branch."""
        path = self.file_for(version)
        con = self._open(path, version)
        try:
            older = _older_layout(_layout_of(con))
        finally:
            con.close()
        if not older:
            return path
        target = self.root / UPGRADED / f"{version:06d}-layout{schema.CURRENT_LAYOUT}.duckdb"
        if target.is_file():
            return target
        with self._writer_lock():
            if target.is_file():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            self._remove_leftovers()
            # A name of its own, as a write's: never a WAL an interrupted copy left.
            staging = target.with_name(f"{target.name}.{uuid.uuid4().hex[:12]}.tmp")
            shutil.copyfile(path, staging)
            try:
                con = duckdb.connect(str(staging), config=BASE_CONFIG)
                try:
                    schema.add_current_summaries(con)
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
                _fsync(staging)
                os.replace(staging, target)
            except BaseException:
                staging.unlink(missing_ok=True)
                Path(str(staging) + ".wal").unlink(missing_ok=True)
                raise
        return target

    def pinned(self) -> dict[int, list[str]]:
        """Pinned versions and the reasons they are pinned for (sorted); {} when none."""
        folder = self.root / PINS
        if not folder.is_dir():
            return {}
        out: dict[int, list[str]] = {}
        for path in folder.iterdir():
            match = _PIN_FILE.match(path.name)
            if not match or not path.is_file():
                continue
            try:
                reason = path.read_text(encoding="utf-8")
            except FileNotFoundError:  # unpinned meanwhile
                continue
            out.setdefault(int(match.group(1)), []).append(reason)
        return {number: sorted(out[number]) for number in sorted(out)}

    # -- writing -------------------------------------------------------------------------

    def pin(self, version: int, reason: str) -> None:
        """Keep `version` whatever pruning does, for `reason` (e.g. "简报 2026-11-25 第3期").
        Pinning twice for the same reason is one pin; each reason is a pin of its own."""
        text = _pin_reason(reason)
        with self._writer_lock():  # so pruning cannot delete the version between check and pin
            if not self.file_for(version).is_file():
                raise StoreError(f"数据仓 {self.root} 没有版本 {version}，无法固定")
            folder = self.root / PINS
            folder.mkdir(exist_ok=True)
            path = self._pin_file(version, text)
            staging = path.with_name(path.name + ".tmp")
            staging.write_text(text, encoding="utf-8")
            _fsync(staging)
            os.replace(staging, path)
            _fsync(folder)

    def unpin(self, version: int, reason: str) -> None:
        """Remove the pin of `version` for `reason` (nothing happens if there is none). The
        version is pruned by a later write once no pin holds it and it is not among the
        latest."""
        path = self._pin_file(version, _pin_reason(reason))
        with self._writer_lock():
            path.unlink(missing_ok=True)

    def _pin_file(self, version: int, reason: str) -> Path:
        digest = hashlib.sha1(reason.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
        return self.root / PINS / f"{version:06d}-{digest}"

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the writer lock: no version is published or pruned meanwhile (readers go on).
        Not re-entrant: do not call `write`, `pin`, `unpin` or `point_at` inside it."""
        with self._writer_lock():
            yield

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".write.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write(
        self, apply: Callable[[duckdb.DuckDBPyConnection], T], *, fresh: bool = False
    ) -> tuple[T, int]:
        """Apply `apply` to a copy of the current version (or an empty store when `fresh`)
        in one transaction, then publish it as the new current version.

        Returns what `apply` returned and the new version number. On any error nothing is
        published and the current version is untouched.
        """
        with self._writer_lock():
            self.refuse_if_damaged()  # never a new store over versions that lost their pointer
            (self.root / VERSIONS).mkdir(parents=True, exist_ok=True)
            self._remove_leftovers()
            known = self.versions()
            number = (known[-1] if known else 0) + 1
            target = self.file_for(number)
            # A name of its own: a write never opens a file (or a WAL) another write left.
            staging = target.with_name(f"{target.name}.{uuid.uuid4().hex[:12]}.tmp")
            if not fresh and self.exists():
                shutil.copyfile(self.current_file(), staging)
            try:
                con = duckdb.connect(str(staging), config=BASE_CONFIG)
                try:
                    schema.migrate(con)
                    con.execute("BEGIN TRANSACTION")
                    result = apply(con)
                    schema.refresh_derived(con)
                    con.execute(
                        "INSERT OR REPLACE INTO store_meta VALUES ('data_version', ?)",
                        [str(number)],
                    )
                    con.execute("COMMIT")
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
                _fsync(staging)
                os.replace(staging, target)
                self._point_at(target.name)
            except BaseException:
                staging.unlink(missing_ok=True)
                Path(str(staging) + ".wal").unlink(missing_ok=True)
                raise
            self._prune()
            return result, number

    def _remove_leftovers(self) -> None:
        """Staging files (and their WAL) of a write or an upgraded copy killed before it was
        published (in versions/ and upgraded/): under the writer lock no write is running, so
        whatever they hold was never published, and replaying it into this write would publish
        it unasked. Removed, and said so in the log."""
        folders = [self.root / VERSIONS, self.root / UPGRADED]
        for stale in sorted(p for f in folders if f.is_dir() for p in f.glob("*.tmp*")):
            if not stale.name.endswith((".tmp", ".tmp.wal")):
                continue
            log.warning("removing %s, left by an interrupted write (never published)", stale)
            stale.unlink(missing_ok=True)

    def repair(self) -> tuple[list[tuple[int, str]], int | None]:
        """Point CURRENT at the newest version that opens and whose tables all read, keeping
        a damaged pointer beside it (CURRENT.damaged). Returns what was found, version by
        version (number, "可用" or why not), and the version now current (None: none opens)."""
        found: list[tuple[int, str]] = []
        chosen: int | None = None
        with self._writer_lock():
            for number in sorted(self.versions(), reverse=True):
                problem = _check_version(self.file_for(number))
                found.append((number, problem or "可用"))
                if problem is None and chosen is None:
                    chosen = number
            if chosen is not None and self.damaged() is not None:
                pointer = self.root / CURRENT
                if pointer.exists():
                    os.replace(pointer, self.root / f"{CURRENT}.damaged")
                self._point_at(self.file_for(chosen).name)
        return found, chosen

    def point_at(self, version: int) -> None:
        """Make an existing version current again (rollback to a backup)."""
        with self._writer_lock():
            if not self.file_for(version).is_file():
                raise StoreError(f"数据仓 {self.root} 没有版本 {version}")
            self._point_at(self.file_for(version).name)

    def _point_at(self, file_name: str) -> None:
        pointer = self.root / CURRENT
        staging = pointer.with_name(CURRENT + ".tmp")
        staging.write_text(file_name + "\n", encoding="utf-8")
        _fsync(staging)
        os.replace(staging, pointer)
        _fsync(self.root)

    def _prune(self) -> None:
        # Readers may still hold an old file; unlinking it is safe on POSIX.
        known = self.versions()
        keep = {self.version(), *self.pinned()}
        for number in known[:-KEEP_VERSIONS]:
            if number not in keep:
                self.file_for(number).unlink(missing_ok=True)
        kept = set(self.versions())
        folder = self.root / UPGRADED
        if folder.is_dir():
            for copy in folder.iterdir():
                match = _UPGRADED_FILE.match(copy.name)
                if match and int(match.group(1)) not in kept:
                    copy.unlink(missing_ok=True)


def _check_version(path: Path) -> str | None:
    """None when the version file opens and every table reads to its end; else why not."""
    try:
        con = duckdb.connect(str(path), read_only=True, config=BASE_CONFIG)
    except duckdb.Error as exc:
        return f"无法打开（{str(exc).splitlines()[0][:80]}）"
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        for table in tables:
            con.execute(f'SELECT count(*) FROM "{table}"').fetchall()
        if "store_meta" not in tables:
            return "不是数据仓版本文件（没有 store_meta）"
    except duckdb.Error as exc:
        return f"表无法读取（{str(exc).splitlines()[0][:80]}）"
    finally:
        con.close()
    return None


def _pin_reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise StoreError("固定数据版本须说明原因")
    return reason.strip()


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
