"""Damaged files: a version with a corrupt block, a truncated version, an audit trail that
cannot be written. Backup and restore refuse a damaged version instead of calling it good,
`repair` moves off it, and every command says what happened in one line, never a traceback.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from xuncha import cli
from xuncha.store import Store
from xuncha.store import backup as store_backup
from xuncha.store.store import check_version


@pytest.fixture()
def store(demo_store: Store, tmp_path: Path) -> Store:
    """A copy of the demo store with a second version (its own files: safe to damage)."""
    root = tmp_path / "store"
    shutil.copytree(demo_store.root, root, ignore=shutil.ignore_patterns("audit"))
    copy = Store(root)
    copy.write(lambda con: con.execute("UPDATE units SET name = name || '' WHERE false"))
    return copy


def corrupt_block(path: Path, table: str = "findings") -> None:
    """Overwrite the start of a data block of `table` (its checksum), as a bad disk sector
    would: the file still opens, the table's count still answers."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        block = con.execute(
            "SELECT min(block_id) FROM pragma_storage_info(?) WHERE block_id >= 0", [table]
        ).fetchone()
        size = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()
    finally:
        con.close()
    assert block and block[0] is not None and size
    with open(path, "r+b") as handle:
        handle.seek(3 * 4096 + int(block[0]) * int(size[0]))
        handle.write(b"\xde\xad\xbe\xef" * 16)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


def test_a_corrupt_block_is_found_though_the_file_opens_and_counts(store: Store) -> None:
    path = store.current_file()
    assert check_version(path) is None
    corrupt_block(path)
    con = duckdb.connect(str(path), read_only=True)
    try:  # what a shallow check sees: nothing wrong
        assert con.execute("SELECT count(*) FROM findings").fetchone() == (
            con.execute("SELECT count(*) FROM findings").fetchone()
        )
    finally:
        con.close()
    assert check_version(path) == "表 findings 无法完整读取（数据块已损坏）"


def test_backup_refuses_a_damaged_version_and_writes_no_archive(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt_block(store.current_file())
    archive = tmp_path / "b.tar.gz"
    code, _, err = _run(capsys, "backup", "--db", str(store.root), "--out", str(archive))
    assert code == 1 and len(err) == 1
    assert "数据版本 2 已损坏" in err[0] and "xuncha repair" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # nothing left beside


def test_restore_refuses_an_archive_holding_a_damaged_version(
    store: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corrupt_block(store.current_file())
    archive = tmp_path / "b.tar.gz"
    with monkeypatch.context() as patch:  # an archive made by code that did not check
        patch.setattr(store_backup, "check_version", lambda path, key=None: None)
        assert cli.main(["backup", "--db", str(store.root), "--out", str(archive)]) == 0
    capsys.readouterr()
    target = tmp_path / "restored"
    code, out, err = _run(capsys, "restore", str(archive), "--db", str(target), "--user", "王五")
    assert code == 1 and out == "" and len(err) == 1
    assert "数据版本 2 已损坏" in err[0] and "拒绝恢复" in err[0]
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.gz", "store"]


def test_repair_moves_off_a_damaged_current_version_to_the_newest_good_one(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt_block(store.current_file())
    # A command that reads the damaged block says so in one line, naming the fix.
    code, _, err = _run(capsys, "search", "问题", "--db", str(store.root))
    assert code == 1 and len(err) == 1 and f"xuncha repair --db {store.root}" in err[0], err
    code, out, _ = _run(capsys, "repair", "--db", str(store.root))
    assert code == 0 and "版本 2：表 findings 无法完整读取" in out and "版本 1：可用" in out
    assert store.version() == 1
    code, _, _ = _run(capsys, "metrics", "--db", str(store.root))
    assert code == 0
    _, version = store.write(lambda con: None)  # the next write starts from version 1
    assert version == 3 and check_version(store.file_for(3)) is None


def test_a_truncated_version_is_one_line_naming_the_fix(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    path = store.current_file()
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 3)
    for argv in (["metrics"], ["info"], ["search", "问题"]):
        code, out, err = _run(capsys, *argv, "--db", str(store.root))
        assert code == 1 and len(err) == 1, (argv, err)
        assert "版本 2 无法打开" in err[0] and "xuncha repair" in err[0], (argv, err)
        assert "Traceback" not in out + "".join(err)


def test_an_audit_trail_that_cannot_be_written_is_one_line_and_no_figures(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    # A command that prints figures records that it did; when the record cannot be written
    # (here: the trail's file is a directory, as unwritable as a read-only disk) the command
    # fails closed, in one line.
    trail = store.root / "audit" / "audit.jsonl"
    trail.parent.mkdir(exist_ok=True)
    trail.unlink(missing_ok=True)
    trail.mkdir()
    code, out, err = _run(capsys, "metrics", "--db", str(store.root))
    assert code == 1 and len(err) == 1 and "无法写入审计记录" in err[0]
    assert "Traceback" not in out


def test_an_unforeseen_failure_is_one_line_with_its_traceback_in_the_log(
    store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "table_counts", broken)
    code, out, err = _run(capsys, "info", "--db", str(store.root))
    assert code == 1 and out == "" and len(err) == 1
    assert "意外错误（ZeroDivisionError）" in err[0] and "xuncha.log" in err[0]
    log = Path(err[0].split("详情已记入日志 ")[1].split("，")[0])
    text = log.read_text(encoding="utf-8")
    assert "Traceback" in text and "ZeroDivisionError: a bug" in text


def test_the_dashboard_on_a_damaged_store_says_so_in_chinese_and_runs_no_page(
    store: Store, app_env: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    (store.root / "CURRENT").unlink()
    monkeypatch.setenv("XUNCHA_DB", str(store.root))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [
        "数据仓暂时无法打开（数据文件损坏、版本指针丢失或磁盘已满），驾驶舱未作任何更改。"
        "请管理员在服务器上运行 xuncha repair 查看并修复；详细信息已记入服务器日志。"
    ]
    assert str(store.root) not in repr(at)  # no server path on the page
    assert not at.text_input and not at.metric  # neither the login form nor a page
    assert sorted(p.name for p in (store.root / "versions").iterdir()) == [
        "000001.duckdb",
        "000002.duckdb",
    ]  # nothing written over it
