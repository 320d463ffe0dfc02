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
import datetime as dt
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import duckdb

from xuncha import audit
from xuncha.store import crypto, faults, schema

T = TypeVar("T")
log = logging.getLogger(__name__)

CURRENT = "CURRENT"
VERSIONS = "versions"
PINS = "pins"
KEEP_VERSIONS = 5
_VERSION_FILE = re.compile(r"^(\d{6})\.duckdb$")
# Beside a version file from just before it is renamed into place until CURRENT names it: a
# version whose marker is still there when the next write starts was never published.
_PENDING_FILE = re.compile(r"^(\d{6})\.duckdb\.pending$")
# A write needs room for the copy of the current version, for what its batch and the refreshed
# derived tables add, and for the WAL of that transaction: twice the version plus this margin.
SPACE_MARGIN = 64 << 20
# Copies of versions written by older code, with the current-state summaries added.
UPGRADED = "upgraded"
_UPGRADED_FILE = re.compile(r"^(\d{6})-layout\w+\.duckdb$")


def _layout_of(con: duckdb.DuckDBPyConnection) -> str | None:
    # fetchall, not fetchone: DuckDB 2.x refuses other work on a connection whose result
    # was not read to the end, and this connection goes on to serve the reader. A version
    # without the table is of an older layout; one whose table does not read is damaged (the
    # caller's error), never taken for an older layout to be copied.
    try:
        rows = con.execute("SELECT value FROM store_meta WHERE key = 'current_layout'").fetchall()
    except duckdb.CatalogException:
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
# Evidence files of online rectification (xuncha.rectify.evidence), named by the SHA-256 of
# their content: EVIDENCE/<sha[:2]>/<sha>, sealed like the versions when the store has a key.
EVIDENCE = "evidence"
# The archived 预警提醒 and 督办函 (xuncha.rectify.notices): NOTICES/<year>/<number>.docx.
NOTICES = "notices"
# The archived 整改成效评估 (xuncha.evaluation.archive): EVALUATIONS/<id>/evaluation.{json,xlsx}.
EVALUATIONS = "evaluations"
_EVIDENCE_FILE = re.compile(r"^[0-9a-f]{64}$")

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
        """The published versions on disk (a file a killed write renamed into place but never
        pointed CURRENT at is not one: its marker is still beside it)."""
        folder = self.root / VERSIONS
        if not folder.is_dir():
            return []
        names = [p.name for p in folder.iterdir()]
        pending = {int(m.group(1)) for m in map(_PENDING_FILE.match, names) if m}
        found = {int(m.group(1)) for m in map(_VERSION_FILE.match, names) if m}
        current = self._pointer()
        return sorted(n for n in found if n not in pending or f"{n:06d}.duckdb" == current)

    def _pointer(self) -> str | None:
        try:
            return (self.root / CURRENT).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None

    def connect(self, version: int | None = None) -> duckdb.DuckDBPyConnection:
        """A read-only connection to one version (the current one by default). A version
        written by older code, whose current-state summaries are missing or of an older
        layout, is read through a copy with the summaries added (see readable_file)."""
        number = self.version() if version is None else version
        con = self._open(self.file_for(number), number)
        try:
            layout = _layout_of(con)
        except duckdb.Error as exc:
            con.close()
            raise self._damaged_version(number, exc) from exc
        if not _older_layout(layout):
            return con
        con.close()
        return self._open(self.readable_file(number), number)

    def key(self) -> bytes | None:
        """The store key (XUNCHA_STORE_KEY_FILE or XUNCHA_STORE_KEY; see crypto), None when
        none is set: the store is then not encrypted. Read on every call, so a rotated key
        is taken up without a restart; StoreError when the key cannot be had."""
        try:
            return crypto.load_key(self.root)
        except crypto.CryptoError as exc:
            raise StoreError(str(exc)) from None

    def data_files(self) -> list[Path]:
        """Every DuckDB file the store holds, sealed or not: data versions, upgraded copies
        and prepared sandboxes (what `xuncha key status` reports on), sorted by path."""
        return sorted(
            p
            for folder in (VERSIONS, UPGRADED, "sandboxes")
            if (self.root / folder).is_dir()
            for p in (self.root / folder).iterdir()
            if p.name.endswith(".duckdb")
        )

    def _open(self, path: Path, number: int) -> duckdb.DuckDBPyConnection:
        try:
            return crypto.connect_read_only(
                path, self.key(), BASE_CONFIG | reader_limits(), plain_dir=None
            )
        except crypto.Damaged as exc:
            raise self._damaged_version(number, exc) from exc
        except crypto.CryptoError as exc:
            raise StoreError(f"数据仓 {self.root} 的版本 {number} 无法解密：{exc}") from None
        except duckdb.Error as exc:
            raise self._damaged_version(number, exc) from exc

    @contextlib.contextmanager
    def plain_path(self, version: int) -> Iterator[Path]:
        """A name DuckDB can ATTACH a version by (with its current-state summaries, as
        `readable_file`), valid while the block runs: the file itself when it is not sealed,
        else its plaintext unsealed into memory under a private name removed afterwards.
        A sealed version is unsealed once: its layout is read from the plaintext itself
        (readable_file would unseal it a first time only to read that)."""
        path = self.file_for(version)
        if crypto.is_sealed(path):
            plain = self._unseal(path, version)
            with plain, plain.named() as name:
                if not self._older_at(name, version):
                    yield name
                    return
        path = self.readable_file(version)
        if not crypto.is_sealed(path):
            yield path
            return
        plain = self._unseal(path, version)
        with plain, plain.named() as name:
            yield name

    def _older_at(self, name: Path, version: int) -> bool:
        """Whether the plaintext at `name` (a version) is of an older layout."""
        try:
            con = duckdb.connect(str(name), read_only=True, config=BASE_CONFIG | reader_limits())
        except duckdb.Error as exc:
            raise self._damaged_version(version, exc) from exc
        try:
            return _older_layout(_layout_of(con))
        except duckdb.Error as exc:
            raise self._damaged_version(version, exc) from exc
        finally:
            con.close()

    def _unseal(self, path: Path, number: int) -> crypto.PlainFile:
        key = self.key()
        if key is None:
            raise StoreError(self._no_key())
        try:
            return crypto.unseal_to_memory(path, key)
        except crypto.Damaged as exc:
            raise self._damaged_version(number, exc) from exc
        except crypto.CryptoError as exc:
            raise StoreError(f"数据仓 {self.root} 的版本 {number} 无法解密：{exc}") from None

    def _no_key(self) -> str:
        return (
            f"数据仓 {self.root} 已加密，但未提供数据仓密钥：请设置 {crypto.ENV_KEY_FILE}"
            f"（密钥文件）或 {crypto.ENV_KEY}；未作任何更改"
        )

    def _work_copy(self, source: Path | None, key: bytes) -> crypto.PlainFile:
        """The plaintext a write under `key` works on, in memory: an empty database, the
        unsealed source, or a copy of a source not yet sealed (a store being encrypted)."""
        try:
            if source is None:
                return crypto.PlainFile.new_database()
            if crypto.is_sealed(source):
                return crypto.unseal_to_memory(source, key)
            return crypto.PlainFile.copy_of(source)
        except crypto.Damaged as exc:
            raise StoreError(
                f"数据仓 {self.root} 的当前版本无法解密（{exc}）；未作任何更改。"
                f"请运行 xuncha repair --db {self.root}"
            ) from None
        except crypto.CryptoError as exc:
            raise StoreError(f"{exc}；未作任何更改") from None

    def _damaged_version(self, number: int, exc: Exception) -> StoreError:
        log.error("version %s of %s does not open: %s", number, self.root, exc)
        return StoreError(
            f"数据仓 {self.root} 的版本 {number} 无法打开（文件已损坏或不完整）；未作任何更改。"
            f"请运行 xuncha repair --db {self.root} 查看各版本并改用最近一个可用版本"
        )

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
        except duckdb.Error as exc:
            raise self._damaged_version(version, exc) from exc
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
            self._check_free_space(path)
            key = self.key()
            work: crypto.PlainFile | None = None
            try:
                if key is None:  # (a sealed version without a key did not open above)
                    shutil.copyfile(path, staging)
                    con = duckdb.connect(str(staging), config=BASE_CONFIG)
                else:  # upgraded in memory, the copy sealed like the versions
                    work = self._work_copy(path, key)
                    con = work.connect(read_only=False, config=BASE_CONFIG)
                try:
                    schema.add_current_summaries(con)
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
                if work is not None:
                    work.seal(staging, key)  # type: ignore[arg-type]
                _fsync(staging)
                os.replace(staging, target)
            except BaseException as exc:
                _discard(staging)
                if disk_full(exc):
                    log.exception("upgraded copy of version %s failed: disk full", version)
                    raise StoreError(
                        f"磁盘空间不足，无法读取数据仓 {self.root} 的版本 {version}（须先生成其"
                        f"当前版格式的副本）；已删除临时文件。请释放磁盘空间后重试"
                    ) from exc
                raise
            finally:
                if work is not None:
                    work.close()
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
            faults.reached("write.locked")
            known = self.versions()
            number = (known[-1] if known else 0) + 1
            target = self.file_for(number)
            pending = target.with_name(target.name + ".pending")
            # A name of its own: a write never opens a file (or a WAL) another write left.
            staging = target.with_name(f"{target.name}.{uuid.uuid4().hex[:12]}.tmp")
            source = None if fresh or not self.exists() else self.current_file()
            # With a key, the new version is written in memory and sealed; a store not yet
            # encrypted becomes encrypted version by version from the next write on.
            key = self.key()
            if key is None and source is not None and crypto.is_sealed(source):
                raise StoreError(self._no_key())
            self._check_free_space(source)
            work: crypto.PlainFile | None = None
            try:
                if key is None:
                    if source is not None:
                        shutil.copyfile(source, staging)
                    faults.reached("write.copied")
                    con = duckdb.connect(str(staging), config=BASE_CONFIG)
                else:
                    work = self._work_copy(source, key)
                    faults.reached("write.copied")
                    con = work.connect(read_only=False, config=BASE_CONFIG)
                try:
                    schema.migrate(con)
                    con.execute("BEGIN TRANSACTION")
                    result = apply(con)
                    faults.reached("write.applied")
                    schema.refresh_derived(con)
                    con.execute(
                        "INSERT OR REPLACE INTO store_meta VALUES ('data_version', ?)",
                        [str(number)],
                    )
                    _anchor_audit(con, self.root)
                    con.execute("COMMIT")
                    faults.reached("write.committed")
                    con.execute("CHECKPOINT")
                    faults.reached("write.checkpointed")
                finally:
                    con.close()
                if work is not None:
                    work.seal(staging, key)  # type: ignore[arg-type]
                    work.close()
                    faults.reached("write.sealed")
                _fsync(staging)
                pending.write_bytes(b"")
                os.replace(staging, target)
                _fsync(target.parent)
                faults.reached("write.renamed")
                self._point_at(target.name)
                faults.reached("write.pointed")
                pending.unlink()
            except BaseException as exc:
                if work is not None:
                    work.close()
                _discard(staging)
                if self._pointer() != target.name:
                    target.unlink(missing_ok=True)  # renamed into place, never published
                pending.unlink(missing_ok=True)
                if disk_full(exc):
                    log.exception("write of version %s failed: disk full", number)
                    raise StoreError(
                        f"磁盘空间不足，写入新的数据版本失败；已删除本次写入的临时文件，"
                        f"数据仓 {self.root} 仍是写入前的版本。请释放磁盘空间后重试"
                    ) from exc
                raise
            faults.reached("write.published")
            self._prune()
            return result, number

    def _check_free_space(self, source: Path | None) -> None:
        """StoreError before anything is copied when the disk lacks room for the write."""
        need = (2 * source.stat().st_size if source is not None else 0) + SPACE_MARGIN
        free = shutil.disk_usage(self.root / VERSIONS).free
        if free < need:
            raise StoreError(
                f"磁盘空间不足：写入新的数据版本约需 {_mb(need)}，数据仓 {self.root} 所在磁盘"
                f"仅剩 {_mb(free)}；未作任何更改。请释放磁盘空间（例如移走旧的备份或"
                f" *.replaced-* 目录）后重试"
            )

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
        # A version renamed into place by a write killed before CURRENT named it.
        current = self._pointer()
        folder = self.root / VERSIONS
        for marker in sorted(folder.glob("*.duckdb.pending")) if folder.is_dir() else []:
            version = marker.with_name(marker.name.removesuffix(".pending"))
            if version.name != current:
                log.warning("removing %s, renamed by an interrupted write (never current)", version)
                version.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
        # Plaintext folders on the memory file system that killed processes left.
        if self.key() is not None:
            with contextlib.suppress(crypto.CryptoError, OSError):
                for folder in crypto.sweep():
                    log.warning("removed %s, plaintext left by a killed process", folder)

    def repair(self) -> tuple[list[tuple[int, str]], int | None]:
        """Point CURRENT at the newest version that opens and whose tables all read, keeping
        a damaged pointer beside it (CURRENT.damaged). Returns what was found, version by
        version (number, "可用" or why not), and the version now current (None: none opens)."""
        found: list[tuple[int, str]] = []
        chosen: int | None = None
        with self._writer_lock():
            self._remove_leftovers()
            for number in sorted(self.versions(), reverse=True):
                problem = check_version(self.file_for(number), self.key())
                found.append((number, problem or "可用"))
                if problem is None and chosen is None:
                    chosen = number
            current = None if self.damaged() else self.version()
            usable = current is not None and dict(found).get(current) == "可用"
            if chosen is not None and not usable:
                pointer = self.root / CURRENT
                if pointer.exists():
                    os.replace(pointer, self.root / f"{CURRENT}.damaged")
                self._point_at(self.file_for(chosen).name)
            elif usable:
                chosen = current
        return found, chosen

    def seal_files(self, new_key: bytes, old_key: bytes | None = None) -> dict[str, int]:
        """Encrypt the store's data files under `new_key`, under the writer lock: versions
        and upgraded copies not yet sealed are sealed in place, those sealed under `old_key`
        re-sealed (rotation). The prepared sandboxes are deleted (rebuilt when asked for).
        Each file is replaced whole, so an interrupted run is simply run again. The evidence
        files (EVIDENCE/) are sealed or re-sealed the same way, counted with the others and
        also on their own ("evidence"); the staging files an interrupted evidence write, seal
        or rotation left (plaintext, possibly) are removed first. Returns the counts: sealed,
        rotated, already (under new_key), evidence, sandboxes removed."""
        counts = {"sealed": 0, "rotated": 0, "already": 0, "sandboxes": 0}
        with self._writer_lock():
            self.refuse_if_damaged()
            self._remove_leftovers()
            files = [
                path
                for folder, pattern in ((VERSIONS, _VERSION_FILE), (UPGRADED, _UPGRADED_FILE))
                if (self.root / folder).is_dir()
                for path in sorted((self.root / folder).iterdir())
                if pattern.match(path.name)
            ]
            evidence = self._evidence_files()
            counts["evidence"] = len(evidence)
            files += evidence
            for path in files:
                try:
                    if not crypto.is_sealed(path):
                        crypto.seal_in_place(path, new_key)
                        counts["sealed"] += 1
                    elif crypto.read_header(path).key_id == crypto.key_id(new_key):
                        crypto.verify(path, new_key)
                        counts["already"] += 1
                    elif old_key is None:
                        raise StoreError(
                            f"{path.name} 已用另一把密钥（{crypto.read_header(path).key_id}）"
                            f"加密：轮换密钥须同时提供原密钥"
                        )
                    else:
                        crypto.rotate(path, old_key, new_key)
                        counts["rotated"] += 1
                except crypto.CryptoError as exc:
                    raise StoreError(
                        f"{path.name}：{exc}；此前的文件已处理完毕，修正后重新运行即可继续"
                    ) from None
                faults.reached("seal.file")
            prepared = self.root / "sandboxes"
            if prepared.is_dir():
                for path in prepared.glob("*.duckdb"):
                    path.unlink(missing_ok=True)
                    counts["sandboxes"] += 1
        return counts

    def _evidence_files(self) -> list[Path]:
        """The evidence files, sorted; the staging files beside them (`*.tmp`: a killed
        evidence write, seal or rotation, never in place) are removed. Under the writer lock
        (evidence is written under it too), so none of them is being written."""
        folder = self.root / EVIDENCE
        if not folder.is_dir():
            return []
        found: list[Path] = []
        for shard in sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()):
            for path in sorted(shard.iterdir()):
                if path.name.endswith(".tmp") and path.is_file():
                    log.warning("removing %s, left by an interrupted evidence write", path)
                    path.unlink(missing_ok=True)
                elif (
                    _EVIDENCE_FILE.match(path.name)
                    and path.name[:2] == shard.name
                    and path.is_file()
                    and not path.is_symlink()
                ):
                    found.append(path)
        return found

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
        # Readers may still hold an old file; unlinking it is safe on POSIX. Nothing is pruned
        # unless the current version opens: never the last version that does.
        problem = _opens(self.current_file(), self.key())
        if problem is not None:
            log.error("not pruning %s: its current version does not open (%s)", self, problem)
            return
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


def _anchor_audit(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """The audit trail's head as this version is written, kept in store_meta as an anchor
    (xuncha.audit.verify: a trail shorter than an anchor had its end cut). One carried over
    from the copied version is never moved back."""
    head = audit.head(root)
    if head is None or head[0] < 0:
        return
    rows = con.execute("SELECT value FROM store_meta WHERE key = ?", [audit.META_KEY]).fetchall()
    with contextlib.suppress(ValueError, KeyError, TypeError, IndexError):
        if rows and int(json.loads(rows[0][0])["seq"]) > head[0]:
            return
    value = json.dumps({"seq": head[0], "hash": head[1]})
    con.execute("INSERT OR REPLACE INTO store_meta VALUES (?, ?)", [audit.META_KEY, value])


def _connect_checked(path: Path, key: bytes | None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a version file, sealed or not. A missing or wrong key (or no
    memory folder) is StoreError: it says nothing of the file, which must not be judged
    damaged for it; a sealed file that was altered is crypto.Damaged."""
    try:
        return crypto.connect_read_only(path, key, BASE_CONFIG | reader_limits())
    except crypto.Damaged:
        raise
    except crypto.CryptoError as exc:
        raise StoreError(f"{exc}；未作任何更改") from None


def check_version(path: Path, key: bytes | None = None) -> str | None:
    """None when the version file opens and every column of every table reads to its end;
    else why not, in Chinese. Every value is read (a hash of each row), because DuckDB checks
    a block's checksum only when it reads the block and `count(*)` reads none of them. A
    sealed file is decrypted whole (every chunk's tag checked) with `key`; StoreError when
    the key is missing or another one (the file's state is then unknown)."""
    try:
        con = _connect_checked(path, key)
    except crypto.Damaged as exc:
        log.error("version %s does not unseal: %s", path, exc)
        return "加密文件已损坏或被改动（无法解密）"
    except duckdb.Error as exc:
        log.error("version %s does not open: %s", path, exc)
        return "无法打开（文件已损坏或不完整）"
    table = ""
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        if "store_meta" not in tables:
            return "不是数据仓版本文件（没有 store_meta 表）"
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            con.execute(f"SELECT max(hash({quoted})) FROM {quoted}").fetchall()
    except duckdb.Error as exc:
        log.error("version %s: table %s does not read: %s", path, table, exc)
        return f"表 {table} 无法完整读取（数据块已损坏）"
    finally:
        con.close()
    return None


def _opens(path: Path, key: bytes | None = None) -> str | None:
    """None when the version file opens and its store_meta reads (cheap: no data blocks,
    though a sealed file is decrypted whole)."""
    try:
        con = _connect_checked(path, key)
    except (duckdb.Error, crypto.CryptoError, StoreError) as exc:
        return str(exc).splitlines()[0]
    try:
        con.execute("SELECT count(*) FROM store_meta").fetchall()
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    finally:
        con.close()
    return None


def disk_full(exc: BaseException) -> bool:
    """True when `exc` says the disk (or the user's quota) is full, from Python or DuckDB."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, duckdb.Error) and "No space left on device" in str(exc)


def _mb(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MB"


def aside_path(root: Path, label: str) -> Path:
    """A free sibling name for a store moved aside, never deleted: `STORE.<label>-YYYYmmddHHMMSS`
    (with -2, -3, … when taken), e.g. the store a restore replaced or a demo was built over."""
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
    aside = root.with_name(f"{root.name}.{label}-{stamp}")
    n = 2
    while aside.exists() or aside.is_symlink():
        aside = root.with_name(f"{root.name}.{label}-{stamp}-{n}")
        n += 1
    return aside


def _pin_reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise StoreError("固定数据版本须说明原因")
    return reason.strip()


def _discard(staging: Path) -> None:
    """A staging file and its WAL, of a write or copy that failed: never published."""
    staging.unlink(missing_ok=True)
    Path(str(staging) + ".wal").unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
