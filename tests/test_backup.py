"""Backup and restore of a whole store while others read and write it."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from xuncha import audit, cli
from xuncha.store import Store, StoreError, open_reader
from xuncha.store import backup as store_backup
from xuncha.store.backup import BackupError, backup, restore

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SELECT count(*) FROM findings").fetchone()
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture()
def store(demo_store: Store, tmp_path: Path) -> Store:
    """A copy of the demo store with a second version, a pin on the first, an audit trail,
    a user database, configuration and an archived briefing."""
    root = tmp_path / "store"
    # The shared demo store's own audit trail (commands other tests ran on it) stays behind:
    # this store's trail is the two records below and its own writes.
    shutil.copytree(demo_store.root, root, ignore=shutil.ignore_patterns("audit"))
    copy = Store(root)
    copy.write(lambda con: con.execute("UPDATE units SET name = name || '' WHERE false"))
    copy.pin(1, "简报 2026年第1期")
    audit.record(root, user="张三", action="sql_query", query="SELECT 1")
    audit.record(root, user="李四", action="export", rows=12)
    _users(root, ["张三", "李四"]).close()
    (root / "config").mkdir()
    (root / "config" / "ecology.toml").write_text("[weights]\nrectification = 0.3\n", "utf-8")
    (root / "briefings" / "2026").mkdir(parents=True)
    (root / "briefings" / "2026" / "第1期.docx").write_bytes(b"PK\x03\x04 briefing")
    return copy


def _users(root: Path, names: list[str]) -> sqlite3.Connection:
    (root / "auth").mkdir(exist_ok=True)
    con = sqlite3.connect(root / "auth" / "users.sqlite")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")  # commits stay in the WAL
    con.execute("CREATE TABLE IF NOT EXISTS users(name TEXT)")
    con.executemany("INSERT INTO users VALUES (?)", [(n,) for n in names])
    con.commit()
    return con


def _info(capsys: pytest.CaptureFixture[str], root: Path) -> dict[str, Any]:
    assert cli.main(["info", "--db", str(root), "--format", "json"]) == 0
    out, _ = capsys.readouterr()
    info: dict[str, Any] = json.loads(out)
    return info


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its content: to show that something was not touched."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in {".lock", ".write.lock"}
    }


@pytest.fixture()
def holder(store: Store) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the current version open read-only, as the dashboard does."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store.current_file())],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_backup_taken_while_the_store_is_open_restores_the_same_store(
    capsys: pytest.CaptureFixture[str], store: Store, holder: Any, tmp_path: Path
) -> None:
    archive = tmp_path / "backup.tar.gz"
    info = backup(store.root, archive)
    assert holder.poll() is None  # the reader was never disturbed
    assert archive.stat().st_mode & 0o777 == 0o600
    assert info.data_version == 2 and info.versions == [1, 2]  # current and pinned
    assert info.audit_head == audit.head(store.root)

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        handle = tar.extractfile("MANIFEST.json")
        assert handle is not None
        manifest = json.loads(handle.read())
    assert names[0] == "MANIFEST.json"
    assert manifest["data_version"] == 2
    assert manifest["xuncha_version"] and manifest["created"].endswith("Z")
    assert manifest["audit_head"] == {"seq": 2, "hash": audit.head(store.root)[1]}  # type: ignore[index]
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(names[1:])
    assert set(listed) >= {
        "CURRENT",
        "versions/000001.duckdb",
        "versions/000002.duckdb",
        "audit/audit.jsonl",
        "audit/HEAD",
        "auth/users.sqlite",
        "config/ecology.toml",
        "briefings/2026/第1期.docx",
    }
    assert len([n for n in names if n.startswith("pins/")]) == 1
    assert listed["versions/000002.duckdb"]["size"] == store.file_for(2).stat().st_size

    target = tmp_path / "restored"
    restored = restore(archive, target, user="王五")
    assert restored.replaced is None and restored.data_version == 2
    assert Store(target).version() == 2
    assert Store(target).pinned() == store.pinned()
    original, copy = _info(capsys, store.root), _info(capsys, target)
    assert copy["tables"] == original["tables"] and copy["version"] == original["version"]
    assert audit.verify(target) == []
    trail = audit.entries(target)
    assert trail[:-1] == audit.entries(store.root)
    assert (trail[-2].seq, trail[-2].hash) == info.audit_head
    assert trail[-1].action == "restore" and trail[-1].user == "王五"
    assert trail[-1].details["data_version"] == 2
    assert restored.audit_head == (trail[-1].seq, trail[-1].hash) == audit.head(target)
    assert (target / "config" / "ecology.toml").read_bytes() == (
        store.root / "config" / "ecology.toml"
    ).read_bytes()
    assert (target / "briefings" / "2026" / "第1期.docx").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_all_versions_takes_every_version_kept(store: Store, tmp_path: Path) -> None:
    store.unpin(1, "简报 2026年第1期")
    assert backup(store.root, tmp_path / "pinned-only.tar.gz").versions == [2]
    info = backup(store.root, tmp_path / "all.tar.gz", all_versions=True)
    assert info.versions == store.versions() == [1, 2]
    restore(tmp_path / "all.tar.gz", tmp_path / "r", user="王五")
    assert Store(tmp_path / "r").versions() == [1, 2]


def test_backups_taken_while_imports_publish_are_each_consistent(
    store: Store, tmp_path: Path
) -> None:
    store.unpin(1, "简报 2026年第1期")  # so that pruning runs during the backups
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(5):
                store.write(lambda con: con.execute("SELECT 1"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    archives = []
    while thread.is_alive() or not archives:
        archive = tmp_path / f"b{len(archives)}.tar.gz"
        backup(store.root, archive)
        archives.append(archive)
    thread.join()
    assert not errors
    assert 1 not in store.versions()
    for number, archive in enumerate(archives):
        restored = restore(archive, tmp_path / f"r{number}", user="王五")
        assert Store(restored.store).version() == restored.data_version


def test_restore_refuses_an_existing_store_without_force(store: Store, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar.gz"
    backup(store.root, archive)
    before = _tree(store.root)
    with pytest.raises(BackupError, match=r"已存在.*--force"):
        restore(archive, store.root, user="王五")
    assert _tree(store.root) == before


def _rewrite(
    source: Path, target: Path, change: Callable[[tarfile.TarInfo, bytes], list[Any]]
) -> None:
    """Copy an archive member by member; `change` returns the (info, data) pairs to write
    in place of each member."""
    with tarfile.open(source) as old, tarfile.open(target, "w:gz", compresslevel=1) as new:
        for member in old.getmembers():
            handle = old.extractfile(member)
            data = handle.read() if handle else b""
            for info, body in change(member, data):
                new.addfile(info, io.BytesIO(body) if body is not None else None)


def test_a_tampered_archive_is_refused_naming_the_file_and_nothing_is_touched(
    store: Store, tmp_path: Path
) -> None:
    archive = tmp_path / "b.tar.gz"
    backup(store.root, archive)

    def flip(member: tarfile.TarInfo, data: bytes) -> list[Any]:
        if member.name == "auth/users.sqlite":
            data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
        return [(member, data)]

    tampered = tmp_path / "tampered.tar.gz"
    _rewrite(archive, tampered, flip)
    before = _tree(store.root)
    with pytest.raises(BackupError, match=r"auth/users\.sqlite 的 SHA-256 与清单不符"):
        restore(tampered, store.root, user="王五", force=True)
    assert _tree(store.root) == before
    with pytest.raises(BackupError, match=r"auth/users\.sqlite"):
        restore(tampered, tmp_path / "new", user="王五")
    assert not (tmp_path / "new").exists()

    # A byte changed in the compressed file itself.
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match=r"已损坏|不符"):
        restore(broken, store.root, user="王五", force=True)
    assert _tree(store.root) == before

    # A file the manifest does not list.
    def extra(member: tarfile.TarInfo, data: bytes) -> list[Any]:
        if member.name != "CURRENT":
            return [(member, data)]
        added = tarfile.TarInfo("config/extra.toml")
        added.size = 3
        return [(member, data), (added, b"x=1")]

    _rewrite(archive, tmp_path / "extra.tar.gz", extra)
    with pytest.raises(BackupError, match=r"config/extra\.toml 不在清单中"):
        restore(tmp_path / "extra.tar.gz", tmp_path / "new", user="王五")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backup of a store with an empty schema: quick to take apart and put together."""
    folder = tmp_path_factory.mktemp("small")
    Store(folder / "store").write(lambda con: None, fresh=True)
    audit.record(folder / "store", user="张三", action="export", rows=0)
    backup(folder / "store", folder / "small.tar.gz")
    return folder / "small.tar.gz"


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple[Any, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    body = b"" if kind != tarfile.REGTYPE else b"evil"
    info.size = len(body)
    return info, body


@pytest.mark.parametrize(
    ("name", "kind", "link", "message"),
    [
        ("../evil", tarfile.REGTYPE, "", "不安全"),
        ("config/../../evil", tarfile.REGTYPE, "", "不安全"),
        ("/tmp/xuncha-evil", tarfile.REGTYPE, "", "不安全"),
        ("config/link", tarfile.SYMTYPE, "/etc/passwd", "是链接"),
        ("config/hard", tarfile.LNKTYPE, "CURRENT", "是链接"),
        ("config/fifo", tarfile.FIFOTYPE, "", "是特殊文件"),
        ("evil.sh", tarfile.REGTYPE, "", "不属于数据仓"),
    ],
)
def test_paths_outside_the_store_links_and_special_files_are_refused(
    small_archive: Path, tmp_path: Path, name: str, kind: bytes, link: str, message: str
) -> None:
    def inject(member: tarfile.TarInfo, data: bytes) -> list[Any]:
        if member.name == "CURRENT":
            return [_member(name, kind, link), (member, data)]
        return [(member, data)]

    hostile = tmp_path / "hostile.tar.gz"
    _rewrite(small_archive, hostile, inject)
    target = tmp_path / "deep" / "restored"
    with pytest.raises(BackupError, match=f"{re.escape(name)}.*{message}.*拒绝恢复") as refused:
        restore(hostile, target, user="王五")
    assert f"未创建 {target}" in str(refused.value)
    assert not target.exists()
    assert not (tmp_path / "deep" / "evil").exists() and not (tmp_path / "evil").exists()
    assert not Path("/tmp/xuncha-evil").exists()


def test_a_manifest_listing_a_path_outside_the_store_is_refused(
    small_archive: Path, tmp_path: Path
) -> None:
    def poison(member: tarfile.TarInfo, data: bytes) -> list[Any]:
        if member.name != "MANIFEST.json":
            return [(member, data)]
        manifest = json.loads(data)
        manifest["files"].append({"path": "../evil", "size": 4, "sha256": "0" * 64})
        body = json.dumps(manifest).encode()
        member.size = len(body)
        return [(member, body)]

    _rewrite(small_archive, tmp_path / "poisoned.tar.gz", poison)
    with pytest.raises(BackupError, match="不安全"):
        restore(tmp_path / "poisoned.tar.gz", tmp_path / "r", user="王五")


def test_a_forced_restore_keeps_the_old_store_aside(store: Store, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar.gz"
    backup(store.root, archive)
    store.write(lambda con: con.execute("DELETE FROM clues"))  # after the backup
    audit.record(store.root, user="张三", action="export", rows=1)
    before = _tree(store.root)
    reader = open_reader(store)  # the dashboard, still on the old store
    try:
        restored = restore(archive, store.root, user="王五", force=True)
        assert reader.scalar("SELECT count(*) FROM clues") == 0
    finally:
        reader.close()
    aside = restored.replaced
    assert aside is not None and aside.parent == store.root.parent
    assert (
        aside.name.startswith("store.replaced-") and len(aside.name) == len("store.replaced-") + 14
    )
    assert _tree(aside) == before  # moved, not changed
    assert Store(aside).version() == 3
    assert store.version() == 2
    assert open_reader(store).scalar("SELECT count(*) FROM clues") > 0
    assert audit.verify(store.root) == [] and audit.entries(store.root)[-1].action == "restore"
    assert audit.entries(store.root)[-1].details["replaced"] == str(aside)


@pytest.mark.parametrize("exchange", [True, False])
def test_a_failure_while_swapping_leaves_the_old_store_in_place(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    archive = tmp_path / "b.tar.gz"
    backup(store.root, archive)
    before = _tree(store.root)
    full = OSError(28, "No space left on device")
    if exchange:  # the atomic exchange of the two directories fails

        def failing_exchange(first: Path, second: Path) -> bool:
            raise full

        monkeypatch.setattr(store_backup, "_exchange", failing_exchange)
    else:  # no exchange on this filesystem: the second of two renames fails
        rename = os.rename

        def failing(src: Any, dst: Any) -> None:
            if Path(dst) == store.root and ".restore-" in Path(src).name:
                raise full
            rename(src, dst)

        monkeypatch.setattr(store_backup, "_exchange", lambda first, second: False)
        monkeypatch.setattr(store_backup.os, "rename", failing)
    with pytest.raises(BackupError, match=r"磁盘空间不足.*未作任何改动"):
        restore(archive, store.root, user="王五", force=True)
    assert _tree(store.root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.gz", "store"]


def test_the_user_database_is_copied_with_commits_still_in_its_wal(
    store: Store, tmp_path: Path
) -> None:
    live = _users(store.root, [f"用户{n}" for n in range(200)])  # stays open
    try:
        wal = store.root / "auth" / "users.sqlite-wal"
        assert wal.stat().st_size > 0  # not checkpointed
        naive = tmp_path / "naive.sqlite"
        shutil.copyfile(store.root / "auth" / "users.sqlite", naive)  # what a file copy gets
        stale = sqlite3.connect(naive)
        try:  # only what had been checkpointed: the two users of the fixture
            assert stale.execute("SELECT count(*) FROM users").fetchone() == (2,)
        finally:
            stale.close()
        live.execute("BEGIN")
        live.execute("INSERT INTO users VALUES ('未提交')")  # never part of a backup
        archive = tmp_path / "b.tar.gz"
        backup(store.root, archive)
    finally:
        live.rollback()
        live.close()
    restore(archive, tmp_path / "r", user="王五")
    copy = sqlite3.connect(tmp_path / "r" / "auth" / "users.sqlite")
    try:
        names = [row[0] for row in copy.execute("SELECT name FROM users")]
    finally:
        copy.close()
    assert len(names) == 202 and "用户199" in names and "未提交" not in names


def test_backup_refuses_to_overwrite_and_needs_a_store(store: Store, tmp_path: Path) -> None:
    existing = tmp_path / "b.tar.gz"
    existing.write_bytes(b"keep me")
    with pytest.raises(BackupError, match="已存在"):
        backup(store.root, existing)
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(BackupError, match=r"\.tar\.gz"):
        backup(store.root, tmp_path / "b.zip")
    with pytest.raises(BackupError, match="不能放在数据仓目录"):
        backup(store.root, store.root / "config" / "b.tar.gz")
    with pytest.raises(StoreError, match="数据仓不存在"):
        backup(tmp_path / "nowhere", tmp_path / "c.tar.gz")
    with pytest.raises(BackupError, match="不是 xuncha 备份"):
        bogus = tmp_path / "bogus.tar.gz"
        with tarfile.open(bogus, "w:gz") as tar:
            info = tarfile.TarInfo("CURRENT")
            tar.addfile(info, io.BytesIO(b""))
        restore(bogus, tmp_path / "r", user="王五")


def test_the_command_line_backs_up_and_restores(
    capsys: pytest.CaptureFixture[str], store: Store, tmp_path: Path
) -> None:
    archive = tmp_path / "cli.tar.gz"
    code = cli.main(["backup", "--db", str(store.root), "--out", str(archive), "--format", "json"])
    out, _ = capsys.readouterr()
    made = json.loads(out)
    assert code == 0 and made["data_version"] == 2 and made["archive"] == str(archive)
    assert made["audit_head"]["seq"] == 2

    target = tmp_path / "r"
    code = cli.main(["restore", str(archive), "--db", str(target), "--user", "王五"])
    out, _ = capsys.readouterr()
    assert code == 0 and "已从" in out and "审计记录核验通过" in out

    code = cli.main(["restore", str(archive), "--db", str(target)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--force" in err

    code = cli.main(["restore", str(archive), "--db", str(target), "--force", "--format", "json"])
    out, _ = capsys.readouterr()
    done = json.loads(out)
    assert code == 0 and done["replaced"] and Path(done["replaced"]).is_dir()
    assert _info(capsys, target)["tables"] == _info(capsys, store.root)["tables"]

    code = cli.main(["backup", "--db", str(store.root), "--out", str(archive)])
    _, err = capsys.readouterr()
    assert code == 1 and "已存在" in err

    code = cli.main(["backup", "--db", str(store.root), "--out", str(tmp_path / "t.tar.gz")])
    out, _ = capsys.readouterr()
    # The fixture's two records and the first backup's own (a backup is an export of all).
    assert code == 0 and "已备份数据仓" in out and "审计记录 3 条" in out
    last = audit.entries(store.root)[-1]
    assert last.action == "backup" and last.details["archive"] == str(
        (tmp_path / "t.tar.gz").resolve()
    )
    assert last.details["archive_sha256"] == store_backup._sha256_file(tmp_path / "t.tar.gz")
