"""Backup and restore of a whole store, safe while the dashboard and imports run.

A backup is one gzip-compressed tar file (`.tar.gz`, mode 0600). Its first member is
`MANIFEST.json` (format, data version, creation time, xuncha version, audit head, and every
file with its size and SHA-256); then the store's own layout, relative to its root:

    CURRENT                    pointing at the current version
    versions/NNNNNN.duckdb     the current version, the pinned ones (or every one: all_versions)
    pins/…                     the pins
    audit/audit.jsonl, HEAD    the audit trail
    auth/users.sqlite          through SQLite's online backup API (consistent while in use)
    config/…, briefings/…      when present
    evidence/xx/<sha256>       the evidence files of online rectification, when present

Why tar.gz and not zip: a single compressed stream that can be written and read member by
member (restore hashes while it extracts, one pass), member types are explicit so links and
device files are easy to refuse, and `tar tzf` inspects one on any Linux server. Zip's only
advantage, random access, is not needed, and its per-member CRC32 is no integrity check anyway:
the manifest's SHA-256 is.

Consistency while others work: version files are never written after publication, so the
current (and pinned) ones are hard-linked or copied while holding the store's writer lock (no
publish or prune meanwhile); the audit trail is copied under the audit lock, taken inside the
writer lock (lock order: writer, then audit), so the data version and the audit head in the
manifest belong to the same moment. SQLite's backup API copies `auth/users.sqlite` as of one
transaction, including commits that are still only in its WAL.

Backup and restore both check every version they carry (it opens and every value of every
table reads: DuckDB's block checksums), so a damaged version is never called a good backup; and
every evidence file (its content, unsealed when sealed, has the SHA-256 it is named by). Evidence
is copied after the versions: a version refers only to evidence written before it (put before
the version that names it is published, never removed), so every file the carried versions
name is carried; a file written meanwhile is carried too, named by no version, harmless.

Restore verifies every member against the manifest while extracting into a staging directory
beside the target (`.STORE.restore-XXXX`, holding a marker file), then checks the staging store
(every version, the audit trail), appends a "restore" audit record there, and only then swaps
it into place; an existing store is moved aside to `STORE.replaced-YYYYmmddHHMMSS`, never
deleted. The swap is one atomic exchange of the two directories (Linux `renameat2`
RENAME_EXCHANGE), so the path holds the old store or the new one at every instant; where the
filesystem cannot exchange, two renames whose gap `recover` closes. `recover`, run by the next
command on the store, removes the staging folder of a restore killed before its swap and renames
aside the old store of one killed after it. Any failure before the swap leaves the target
untouched.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import glob
import hashlib
import importlib.metadata
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from xuncha import audit
from xuncha.store import crypto, faults
from xuncha.store.store import (
    CURRENT,
    EVALUATIONS,
    EVIDENCE,
    NOTICES,
    PINS,
    SPACE_MARGIN,
    VERSIONS,
    Store,
    StoreError,
    aside_path,
    check_version,
    disk_full,
)

FORMAT = "xuncha-backup"
FORMAT_VERSION = 1
MANIFEST = "MANIFEST.json"
SUFFIXES = (".tar.gz", ".tgz")
# What a store directory may hold; anything else in an archive is refused.
TOP_LEVEL = frozenset(
    {
        CURRENT,
        VERSIONS,
        PINS,
        audit.AUDIT_DIR,
        "auth",
        "config",
        "briefings",
        EVIDENCE,
        NOTICES,
        EVALUATIONS,
    }
)
COPIED_FOLDERS = ("config", "briefings", EVIDENCE, NOTICES, EVALUATIONS)
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_CHUNK = 1 << 20
_MANIFEST_MAX = 16 << 20
_HASH = re.compile(r"^[0-9a-f]{64}$")
# In a restore's staging folder, from its creation until the restored store is in place.
RESTORE_MARK = ".restore-incoming"


class BackupError(StoreError):
    """A backup or restore problem, with a message fit to show a user (Chinese)."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    store: Path
    data_version: int
    versions: list[int]
    files: int
    bytes: int  # the files, uncompressed
    archive_bytes: int
    sha256: str  # of the archive
    audit_head: tuple[int, str] | None
    created: str
    seconds: float
    skipped: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "archive": str(self.path),
            "db": str(self.store),
            "data_version": self.data_version,
            "versions": self.versions,
            "files": self.files,
            "bytes": self.bytes,
            "archive_bytes": self.archive_bytes,
            "sha256": self.sha256,
            "audit_head": _head_json(self.audit_head),
            "created": self.created,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class RestoreInfo:
    archive: Path
    store: Path
    data_version: int
    versions: list[int]
    files: int
    bytes: int
    backup_created: str
    backup_audit_head: tuple[int, str] | None
    audit_head: tuple[int, str]  # after the "restore" record
    replaced: Path | None  # where the store that was there before now is
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "archive": str(self.archive),
            "db": str(self.store),
            "data_version": self.data_version,
            "versions": self.versions,
            "files": self.files,
            "bytes": self.bytes,
            "backup_created": self.backup_created,
            "backup_audit_head": _head_json(self.backup_audit_head),
            "audit_head": _head_json(self.audit_head),
            "replaced": str(self.replaced) if self.replaced else None,
            "seconds": round(self.seconds, 3),
        }


# -- backup ------------------------------------------------------------------------------


def backup(
    store_root: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    all_versions: bool = False,
) -> BackupInfo:
    """Write a backup of the store to `out_path` (a new `.tar.gz` file, mode 0600)."""
    started = time.perf_counter()
    store = Store(store_root)
    store.version()  # a clear error when there is no store
    out = Path(out_path)
    if not out.name.endswith(SUFFIXES):
        raise BackupError(f"备份文件名须以 .tar.gz 结尾：{out}")
    if out.exists() or out.is_symlink():
        raise BackupError(f"文件已存在：{out}（不会覆盖已有的备份）")
    if not out.parent.is_dir():
        raise BackupError(f"目录不存在：{out.parent}")
    if out.parent.resolve().is_relative_to(store.root.resolve()):
        raise BackupError(f"备份文件不能放在数据仓目录 {store.root} 之内：{out}")
    with _folder_lock(out.parent, wait=True):
        _remove_killed_backups(out.parent)
        return _backup(store, out, all_versions, started)


def _remove_killed_backups(folder: Path) -> None:
    """What a backup killed in this folder left (its staging folder, its unfinished archive):
    under the folder's lock no other backup is running, so they are nobody's."""
    for path in sorted(folder.glob(".xuncha-backup-*")):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
    for suffix in SUFFIXES:
        for path in sorted(folder.glob(f"*{suffix}.part")):
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)


def _backup(store: Store, out: Path, all_versions: bool, started: float) -> BackupInfo:
    created = _now()
    staging = Path(tempfile.mkdtemp(prefix=".xuncha-backup-", dir=out.parent))
    part = out.with_name(out.name + ".part")
    try:
        snap = staging / "store"
        data_version, versions, head, skipped = _snapshot(store, snap, all_versions)
        for number in versions:
            problem = check_version(snap / VERSIONS / f"{number:06d}.duckdb", store.key())
            if problem is not None:
                raise BackupError(
                    f"备份未完成：数据版本 {number} 已损坏（{problem}），不能当作完好的备份；"
                    f"请先运行 xuncha repair --db {store.root} 查看并改用可用的版本"
                )
        problem = _evidence_problem(snap, store.key())
        if problem is not None:
            raise BackupError(
                f"备份未完成：佐证材料 {problem}，不能当作完好的备份；原单位重新上传同一文件即可"
                f"修复，或从较早的备份中取回该文件"
            )
        faults.reached("backup.snapshot")
        files = [_describe(snap, path) for path in _files(snap)]
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": created,
            "xuncha_version": _xuncha_version(),
            "store": str(store.root.resolve()),
            "data_version": data_version,
            "versions": versions,
            "audit_head": _head_json(head),
            "files": files,
        }
        _write_archive(part, snap, manifest)
        os.replace(part, out)
        _fsync_dir(out.parent)
    except BaseException as exc:
        part.unlink(missing_ok=True)
        if disk_full(exc):
            raise BackupError(
                f"磁盘空间不足，备份未完成：{out.parent} 所在磁盘已满；已删除未写完的备份文件，"
                f"数据仓未受影响。请换一个空间足够的目录或释放空间后重试"
            ) from exc
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupInfo(
        path=out,
        store=store.root,
        data_version=data_version,
        versions=versions,
        files=len(files),
        bytes=sum(int(f["size"]) for f in files),
        archive_bytes=out.stat().st_size,
        sha256=_sha256_file(out),
        audit_head=head,
        created=created,
        seconds=time.perf_counter() - started,
        skipped=skipped,
    )


def _snapshot(
    store: Store, snap: Path, all_versions: bool
) -> tuple[int, list[int], tuple[int, str] | None, list[str]]:
    """Copy what the backup holds into `snap`: versions, pins and the audit trail at one
    moment (under the writer lock, then the audit lock), then the rest."""
    snap.mkdir(mode=0o700)
    skipped: list[str] = []
    with store.writer_lock():
        data_version = store.version()
        existing = store.versions()
        wanted = set(existing) if all_versions else {data_version, *store.pinned()}
        versions = sorted(v for v in wanted if v in existing)
        (snap / VERSIONS).mkdir()
        for number in versions:
            source = store.file_for(number)
            _link_or_copy(source, snap / VERSIONS / source.name)
        (snap / CURRENT).write_text(f"{data_version:06d}.duckdb\n", encoding="utf-8")
        pins = store.root / PINS
        if pins.is_dir():
            skipped += _copy_tree(pins, snap / PINS, store.root)
        folder = store.root / audit.AUDIT_DIR
        head = None
        auth = store.root / "auth"
        if folder.is_dir():
            # The users database holds an anchor of the trail's head: copied at the same
            # moment as the trail, or a record appended between the two copies would put the
            # anchor ahead of the archived trail (and restore would refuse it as cut).
            with audit._locked(folder):
                skipped += _copy_tree(folder, snap / audit.AUDIT_DIR, store.root)
                head = audit.head(store.root)
                if auth.is_dir():
                    skipped += _copy_auth(auth, snap / "auth", store.root)
    if auth.is_dir() and not (snap / "auth").exists():
        skipped += _copy_auth(auth, snap / "auth", store.root)
    for name in COPIED_FOLDERS:
        if (store.root / name).is_dir():
            skipped += _copy_tree(store.root / name, snap / name, store.root)
    return data_version, versions, head, skipped


def _link_or_copy(source: Path, target: Path) -> None:
    """A version file is never written after publication: a hard link is a snapshot."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _skippable(path: Path) -> bool:
    name = path.name
    return name.endswith((".tmp", ".tmp.wal")) or name in {audit.LOCK_FILE, ".write.lock"}


def _copy_tree(source: Path, target: Path, root: Path) -> list[str]:
    """Copy the regular files under `source`; symbolic links and special files are left out
    (returned, relative to the store root)."""
    skipped: list[str] = []
    target.mkdir(mode=0o700, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if _skippable(entry):
            continue
        if entry.is_symlink() or not (entry.is_file() or entry.is_dir()):
            skipped.append(entry.relative_to(root).as_posix())
        elif entry.is_dir():
            skipped += _copy_tree(entry, target / entry.name, root)
        else:
            shutil.copyfile(entry, target / entry.name)
    return skipped


def _copy_auth(source: Path, target: Path, root: Path) -> list[str]:
    """SQLite databases through the online backup API, other files as they are."""
    skipped: list[str] = []
    target.mkdir(mode=0o700)
    for entry in sorted(source.iterdir()):
        if _skippable(entry) or entry.name.endswith(_SQLITE_SIDE_FILES):
            continue
        if entry.is_symlink() or not (entry.is_file() or entry.is_dir()):
            skipped.append(entry.relative_to(root).as_posix())
        elif entry.is_dir():
            skipped += _copy_tree(entry, target / entry.name, root)
        elif entry.suffix in {".sqlite", ".sqlite3", ".db"}:
            _sqlite_copy(entry, target / entry.name)
        else:
            shutil.copyfile(entry, target / entry.name)
    return skipped


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (committed transactions, WAL included).
    A read-write connection, which only reads: one opened read-only would leave -wal and -shm
    files behind, possibly owned by whoever runs the backup."""
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
                ok = dst.execute("PRAGMA quick_check").fetchone()
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"无法备份 {source}：{exc}") from exc
    if not ok or ok[0] != "ok":
        raise BackupError(f"{source} 的备份副本未通过完整性检查：{ok}")


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def _describe(root: Path, path: Path) -> dict[str, Any]:
    return {
        "path": path.relative_to(root).as_posix(),
        "size": path.stat().st_size,
        "sha256": _sha256_file(path),
    }


def _write_archive(part: Path, snap: Path, manifest: dict[str, Any]) -> None:
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask
    with os.fdopen(fd, "wb") as raw:
        with tarfile.open(
            fileobj=raw, mode="w:gz", compresslevel=6, format=tarfile.PAX_FORMAT
        ) as tar:
            body = (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
            info = _tarinfo(MANIFEST, len(body), time.time())
            tar.addfile(info, io.BytesIO(body))
            raw.flush()
            faults.reached("backup.archiving")
            for entry in manifest["files"]:
                path = snap / entry["path"]
                stat = path.stat()
                with open(path, "rb") as handle:
                    tar.addfile(_tarinfo(entry["path"], stat.st_size, stat.st_mtime), handle)
        raw.flush()
        os.fsync(raw.fileno())


def _tarinfo(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# -- restore -----------------------------------------------------------------------------


def restore(
    archive_path: str | os.PathLike[str],
    store_root: str | os.PathLike[str],
    *,
    user: str,
    force: bool = False,
) -> RestoreInfo:
    """Restore a backup into `store_root`. An existing store is replaced only when `force`,
    and then moved aside (returned as `replaced`), never deleted. `user` is recorded in the
    "restore" audit record appended to the restored trail."""
    started = time.perf_counter()
    archive = Path(archive_path)
    target = Path(store_root)
    if not archive.is_file():
        raise BackupError(f"备份文件不存在：{archive}")
    if not isinstance(user, str) or not user.strip():
        raise BackupError("恢复须记录操作人")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise BackupError(f"{target} 不是目录，无法恢复到这里")
    occupied = target.is_dir() and any(target.iterdir())
    if occupied and not force:
        raise BackupError(
            f"数据仓 {target} 已存在，未作任何改动；如需用备份替换，请加 --force"
            f"（原数据仓将改名保留为 {target.name}.replaced-时间）"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    with _folder_lock(target.parent, wait=True):
        occupied = target.is_dir() and any(target.iterdir())
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore-", dir=target.parent))
        _write_mark(staging, target, ready=False)
        try:
            manifest = _extract(archive, staging, target)
            _check_restored(staging, manifest, archive)
            faults.reached("restore.checked")
            aside = _aside_name(target) if occupied else None
            try:
                entry = audit.record(
                    staging,
                    user=user,
                    action="restore",
                    archive=str(archive.resolve()),
                    archive_sha256=_sha256_file(archive),
                    backup_created=manifest["created"],
                    backup_store=manifest.get("store"),
                    backup_audit_head=manifest["audit_head"],
                    data_version=manifest["data_version"],
                    replaced=str(aside) if aside else None,
                )
            except audit.AuditError as exc:
                raise BackupError(f"恢复未完成，{target} 未作任何改动：{exc}") from exc
            faults.reached("restore.audited")
            _write_mark(staging, target, ready=True)
            _swap(staging, target, aside)
        except BaseException as exc:
            # Only while it is still the incoming store (marked): once exchanged, the folder
            # under the staging name is the old store, left for `recover` to rename aside.
            if (staging / RESTORE_MARK).is_file():
                shutil.rmtree(staging, ignore_errors=True)
            if disk_full(exc):
                kept = f"{target} 未作任何改动" if occupied else f"未创建 {target}"
                raise BackupError(
                    f"磁盘空间不足，恢复未完成：{target.parent} 所在磁盘已满；已删除临时目录，"
                    f"{kept}。请释放空间后重试"
                ) from exc
            raise
    version = Store(target).version()
    files = manifest["files"]
    return RestoreInfo(
        archive=archive,
        store=target,
        data_version=version,
        versions=Store(target).versions(),
        files=len(files),
        bytes=sum(int(f["size"]) for f in files),
        backup_created=str(manifest["created"]),
        backup_audit_head=_head_tuple(manifest["audit_head"]),
        audit_head=(entry.seq, entry.hash),
        replaced=aside,
        seconds=time.perf_counter() - started,
    )


def _extract(archive: Path, staging: Path, target: Path) -> dict[str, Any]:
    """Extract into `staging`, hashing each member as it is written; refuse anything the
    manifest does not vouch for, naming the file."""
    untouched = f"（{target} 未作任何改动）" if target.exists() else f"（未创建 {target}）"
    current = MANIFEST
    try:
        with tarfile.open(archive, mode="r|gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isreg():
                raise BackupError(f"{archive} 不是 xuncha 备份文件：缺少 {MANIFEST}{untouched}")
            if first.size > _MANIFEST_MAX:
                raise BackupError(f"{archive} 的 {MANIFEST} 过大{untouched}")
            handle = tar.extractfile(first)
            assert handle is not None
            manifest = _read_manifest(handle.read(), archive, untouched)
            expected = {f["path"]: f for f in manifest["files"]}
            need = sum(int(f["size"]) for f in manifest["files"]) + SPACE_MARGIN
            free = shutil.disk_usage(staging).free
            if free < need:
                raise BackupError(
                    f"磁盘空间不足：恢复须 {need >> 20:,} MB，{staging.parent} 所在磁盘仅剩"
                    f" {free >> 20:,} MB；请释放空间后重试{untouched}"
                )
            seen: set[str] = set()
            # tar.next(), not iteration: iterating would start again at the manifest.
            while (member := tar.next()) is not None:
                current = member.name
                name = _safe_name(member, untouched)
                if member.isdir():
                    continue
                entry = expected.get(name)
                if entry is None:
                    raise BackupError(
                        f"备份中的 {name} 不在清单中：备份被改动，拒绝恢复{untouched}"
                    )
                if name in seen:
                    raise BackupError(
                        f"备份中的 {name} 出现了两次：备份被改动，拒绝恢复{untouched}"
                    )
                if member.size != entry["size"]:
                    raise BackupError(
                        f"备份中的 {name} 大小与清单不符：文件已损坏或被篡改，拒绝恢复{untouched}"
                    )
                source = tar.extractfile(member)
                assert source is not None
                digest = _write_member(source, staging, name)
                if digest != entry["sha256"]:
                    raise BackupError(
                        f"备份中的 {name} 的 SHA-256 与清单不符：文件已损坏或被篡改，拒绝恢复{untouched}"
                    )
                seen.add(name)
                faults.reached("restore.extracting")
    except BackupError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeDecodeError) as exc:
        if disk_full(exc):
            raise
        raise BackupError(
            f"备份文件 {archive} 已损坏（读取 {current} 时出错：{exc}）{untouched}"
        ) from exc
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"备份缺少清单中的文件 {missing[0]}（共 {len(missing)} 个）{untouched}")
    return manifest


def _read_manifest(raw: bytes, archive: Path, untouched: str) -> dict[str, Any]:
    bad = f"{archive} 的 {MANIFEST} 无法读取或不完整{untouched}"
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise BackupError(bad) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} 不是 xuncha 备份文件{untouched}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{archive} 的备份格式版本为 {manifest.get('format_version')!r}，"
            f"本程序只能恢复版本 {FORMAT_VERSION}{untouched}"
        )
    files = manifest.get("files")
    if not isinstance(files, list) or not isinstance(manifest.get("data_version"), int):
        raise BackupError(bad)
    for entry in files:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("size"), int)
            and isinstance(entry.get("sha256"), str)
            and _HASH.match(entry["sha256"])
        ):
            raise BackupError(bad)
        _check_name(entry["path"], untouched)
    if "created" not in manifest or "audit_head" not in manifest:
        raise BackupError(bad)
    return manifest


def _safe_name(member: tarfile.TarInfo, untouched: str) -> str:
    if not (member.isreg() or member.isdir()):
        kind = "链接" if member.issym() or member.islnk() else "特殊文件"
        raise BackupError(f"备份中的 {member.name} 是{kind}：拒绝恢复{untouched}")
    return _check_name(member.name.rstrip("/") if member.isdir() else member.name, untouched)


def _check_name(name: str, untouched: str) -> str:
    path = PurePosixPath(name)
    parts = name.split("/")
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or any(part in ("", ".", "..") for part in parts)
        or parts[0] not in TOP_LEVEL
    ):
        raise BackupError(f"备份中的路径 {name!r} 不安全或不属于数据仓：拒绝恢复{untouched}")
    return name


def _write_member(source: IO[bytes], staging: Path, name: str) -> str:
    target = staging.joinpath(*name.split("/"))
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _check_restored(staging: Path, manifest: dict[str, Any], archive: Path) -> None:
    store = Store(staging)
    try:
        version = store.version()
        store.connect().close()
    except StoreError as exc:
        raise BackupError(f"备份 {archive} 中的数据仓无法打开：{exc}") from exc
    if version != manifest["data_version"]:
        raise BackupError(
            f"备份 {archive} 的数据版本与清单不符：{version} ≠ {manifest['data_version']}"
        )
    for number in store.versions():
        problem = check_version(store.file_for(number), store.key())
        if problem is not None:
            raise BackupError(
                f"备份 {archive} 中的数据版本 {number} 已损坏（{problem}），拒绝恢复；"
                f"请改用更早的备份"
            )
    problem = _evidence_problem(staging, store.key())
    if problem is not None:
        raise BackupError(f"备份 {archive} 中的佐证材料 {problem}，拒绝恢复；请改用更早的备份")
    problems = audit.verify(staging)
    if problems:
        raise BackupError(f"备份 {archive} 中的审计记录未通过核验：{problems[0]}")
    if _head_json(audit.head(staging)) != manifest["audit_head"]:
        raise BackupError(f"备份 {archive} 中的审计记录末条与清单不符")


def _evidence_problem(root: Path, key: bytes | None) -> str | None:
    """Why an evidence file under `root` is not what its name says (the SHA-256 of its
    content, unsealed with `key` when sealed), or None when each one is. A sealed file and no
    key, or another key: BackupError (the file's state is then unknown)."""
    folder = root / EVIDENCE
    if not folder.is_dir():
        return None
    for path in sorted(p for p in folder.rglob("*") if not p.is_dir()):
        where = path.relative_to(root).as_posix()
        if not (
            path.is_file()
            and not path.is_symlink()
            and path.parent.parent == folder
            and _HASH.match(path.name)
            and path.parent.name == path.name[:2]
        ):
            return f"{where} 不是按内容 SHA-256 命名的文件"
        try:
            if crypto.is_sealed(path):
                if key is None:
                    raise BackupError(
                        f"{where} 已加密，但未提供数据仓密钥：请设置 {crypto.ENV_KEY_FILE}"
                    )
                data = crypto.unseal_bytes(path, key, limit=1 << 40)
            else:
                data = path.read_bytes()
        except crypto.Damaged:
            return f"{where} 已损坏或被改动（无法解密）"
        except crypto.CryptoError as exc:
            raise BackupError(f"{where}：{exc}") from None
        if hashlib.sha256(data).hexdigest() != path.name:
            return f"{where} 的内容与其 SHA-256 不符（文件已损坏或被替换）"
    return None


def _aside_name(target: Path) -> Path:
    return aside_path(target, "replaced")


def _swap(staging: Path, target: Path, aside: Path | None) -> None:
    """Put the restored store at the path. Over an existing store: exchange the two
    directories in one step, while the old store's writer and audit locks are held so no
    publish or audit append is cut in two; then rename the old one aside."""
    if aside is None:
        os.rename(staging, target)  # over an empty directory too, in one step
        _fsync_dir(target.parent)
    else:
        old = Store(target)
        folder = target / audit.AUDIT_DIR
        with old.writer_lock(), audit._locked(folder) if folder.is_dir() else _nothing():
            if _exchange(staging, target):
                faults.reached("restore.swapped")
                os.rename(staging, aside)
            else:  # two renames; `recover` completes the second when killed between them
                os.rename(target, aside)
                faults.reached("restore.swapped")
                try:
                    os.rename(staging, target)
                except BaseException:
                    os.rename(aside, target)
                    raise
        _fsync_dir(target.parent)
    faults.reached("restore.aside")
    (target / RESTORE_MARK).unlink(missing_ok=True)


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories atomically (Linux renameat2 RENAME_EXCHANGE); False where the C
    library or the filesystem cannot."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if function(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(first))


def _write_mark(staging: Path, target: Path, *, ready: bool) -> None:
    """The marker of a restore's staging folder: ready once the restored store is checked and
    its audit record appended (so `recover` may complete a swap cut in two)."""
    body = json.dumps({"target": str(target), "ready": ready}).encode("utf-8")
    part = staging / (RESTORE_MARK + ".tmp")
    part.write_bytes(body)
    os.replace(part, staging / RESTORE_MARK)
    _fsync_dir(staging)


@contextlib.contextmanager
def _folder_lock(folder: Path, *, wait: bool) -> Iterator[bool]:
    """One restore, recovery or backup at a time in a folder (the one that holds the store,
    or the backup's): a lock on that folder itself, so nothing is left in it. Yields False
    when another holds it and `wait` is off."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def recover(store_root: str | os.PathLike[str]) -> list[str]:
    """Finish what a killed restore of `store_root` left, and say what was done (Chinese, one
    line each; [] when nothing was left). A staging folder still marked as incoming is removed
    (the restore never reached the path), unless it was ready and the path is empty (killed
    between the two renames of the fallback swap: completed); an unmarked one is the store that
    was at the path, exchanged out by a restore killed before renaming it aside: renamed aside
    now. Nothing is done while a restore of the path is running."""
    target = Path(store_root)
    parent = target.parent
    if not parent.is_dir():
        return []
    leftovers = sorted(p for p in parent.glob(f".{glob.escape(target.name)}.restore-*"))
    marker = target / RESTORE_MARK
    if not leftovers and not marker.is_file():
        return []
    done: list[str] = []
    with _folder_lock(target.parent, wait=False) as mine:
        if not mine:
            return []
        for folder in leftovers:
            if folder.is_symlink() or not folder.is_dir():
                continue
            mark = folder / RESTORE_MARK
            if mark.is_file():
                if _mark_ready(mark) and not target.exists():
                    os.rename(folder, target)
                    done.append(f"完成了上次被中断的恢复：{target} 现为恢复后的数据仓")
                else:
                    shutil.rmtree(folder)
                    done.append(f"删除了上次被中断的恢复留下的临时目录 {folder}（数据仓未改动）")
            elif any(folder.iterdir()):
                aside = _aside_name(target)
                os.rename(folder, aside)
                done.append(f"上次恢复在替换后被中断：原数据仓已改名保留为 {aside}")
            else:
                folder.rmdir()
        if marker.is_file():
            marker.unlink()
        _fsync_dir(parent)
    return done


def _mark_ready(mark: Path) -> bool:
    try:
        return json.loads(mark.read_text(encoding="utf-8")).get("ready") is True
    except (OSError, ValueError, AttributeError):
        return False


# -- helpers -----------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _head_json(head: tuple[int, str] | None) -> dict[str, Any] | None:
    return None if head is None else {"seq": head[0], "hash": head[1]}


def _head_tuple(obj: Any) -> tuple[int, str] | None:
    if not isinstance(obj, dict):
        return None
    return int(obj["seq"]), str(obj["hash"])


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _xuncha_version() -> str:
    try:
        return importlib.metadata.version("xuncha")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
