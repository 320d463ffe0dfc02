"""The audit trail's anchors: its head kept outside the trail, in the users database and in
every data version, so cutting the last lines, deleting or rewinding HEAD, or deleting both
files is reported by `xuncha audit verify` (exit 1, one line each) and never continued."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from argon2 import PasswordHasher

from tests import ledger_samples as S
from tests.test_ledger_cli import _import_args
from xuncha import audit, cli
from xuncha.auth import UserStore
from xuncha.store import Store

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "Xuncha-Test-2026"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real store as an office builds it: two ledgers imported on the command line (the
    first created the store and its administrator), then a user added."""
    folder = tmp_path_factory.mktemp("anchors")
    merged = S.merged_xlsx(folder / S.MERGED.name)
    progress = S.merged_xlsx(folder / S.PROGRESS.name, progress=True)
    db = folder / "store"
    assert cli.main(_import_args(db, merged)) == 0
    assert cli.main(_import_args(db, progress)) == 0
    UserStore(db, hasher=FAST).add_user("office1", "office", actor="test", password=PASSWORD)
    for n in range(3):
        audit.record(db, user="office1", action="sql_query", sql=f"SELECT {n}")
    return db


@pytest.fixture()
def store(real_store: Path, tmp_path: Path) -> Path:
    """A private copy of the real store, to tamper with."""
    return Path(shutil.copytree(real_store, tmp_path / "store"))


def _lines(db: Path) -> list[str]:
    return audit.audit_path(db).read_text(encoding="utf-8").splitlines()


def _cut(db: Path, n: int) -> None:
    """Cut the last `n` lines of the trail, as an attacker with a text editor would."""
    kept = _lines(db)[:-n]
    audit.audit_path(db).write_text("\n".join(kept) + "\n", encoding="utf-8")


def _head_file(db: Path) -> Path:
    return db / "audit" / "HEAD"


def _verify(capsys: Any, db: Path) -> tuple[int, list[str], str]:
    code, out, err = run(capsys, "audit", "verify", "--db", str(db))
    return code, out.splitlines(), err


def test_every_append_moves_the_anchor_in_the_users_database(store: Path) -> None:
    entry = audit.record(store, user="office1", action="sql_query", sql="SELECT 9")
    (users,) = [a for a in audit.anchors(store) if "用户库" in a.source]
    assert (users.seq, users.hash) == (entry.seq, entry.hash) == audit.head(store)


def test_a_user_change_moves_the_anchor_once_its_transaction_ends(store: Path) -> None:
    # The users database records a change inside its own transaction: the anchor there is
    # written by the next call into the audit module once that transaction has ended (here:
    # `anchors`), never lost, never a deadlock, and never by a thread behind the caller's back.
    UserStore(store, hasher=FAST).add_user("viewer1", "viewer", actor="test", password=PASSWORD)
    (users,) = [a for a in audit.anchors(store) if "用户库" in a.source]
    assert (users.seq, users.hash) == audit.head(store)
    assert audit.entries(store)[-1].action == "user_add"
    assert audit.verify(store) == []


def test_every_data_version_keeps_the_head_the_trail_had_when_it_was_written(
    real_store: Path,
) -> None:
    second_import = next(e for e in reversed(audit.entries(real_store)) if e.action == "import").seq
    con = duckdb.connect(str(Store(real_store).file_for(2)), read_only=True)
    try:
        ((value,),) = con.execute(
            "SELECT value FROM store_meta WHERE key = 'audit_head'"
        ).fetchall()
    finally:
        con.close()
    kept = json.loads(value)
    # Written before the import was recorded (the record follows the publication).
    assert kept["seq"] == second_import - 1
    assert kept["hash"] == audit.entries(real_store)[kept["seq"] - 1].hash
    # The first version was written on an empty trail: nothing to anchor yet.
    versions = [a for a in audit.anchors(real_store) if a.source.startswith("数据版本")]
    assert [a.source for a in versions] == ["数据版本 2 的锚点"]


def test_cutting_the_last_lines_and_deleting_head_is_reported_and_never_continued(
    capsys: Any, store: Path
) -> None:
    before = len(_lines(store))
    _cut(store, 2)
    _head_file(store).unlink()
    # The next ordinary record used to rebuild HEAD over the cut, and the trail verified.
    with pytest.raises(audit.AuditError, match="链头文件缺失"):
        audit.record(store, user="office1", action="sql_query", sql="SELECT 1")
    assert len(_lines(store)) == before - 2 and not _head_file(store).exists()
    code, out, err = _verify(capsys, store)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert any(
        line.strip() == f"审计记录末尾被截去：用户库中的锚点记到序号 {before}，"
        f"文件只到序号 {before - 2}"
        for line in out
    ), out
    assert any("链头文件缺失" in line for line in out), out


def test_cutting_the_last_lines_and_rewriting_head_to_match_is_reported(
    capsys: Any, store: Path
) -> None:
    before = len(_lines(store))
    _cut(store, 2)
    last = json.loads(_lines(store)[-1])
    _head_file(store).write_text(
        json.dumps({"seq": last["seq"], "hash": last["hash"]}), encoding="utf-8"
    )
    with pytest.raises(audit.AuditError, match="审计记录末尾被截去"):
        audit.record(store, user="office1", action="sql_query", sql="SELECT 1")
    code, out, err = _verify(capsys, store)
    assert code == 1 and "审计记录末尾被截去" in err
    assert any(f"序号 {before}，文件只到序号 {before - 2}" in line for line in out), out
    assert any(f"链头被删除后重建或被回退：链头记到序号 {before - 2}" in line for line in out), out


def test_cutting_the_last_lines_with_head_left_is_never_repaired_by_the_next_record(
    store: Path,
) -> None:
    head = audit.head(store)
    _cut(store, 1)
    # The next record used to chain to the cut end and write a new HEAD over the old one.
    with pytest.raises(audit.AuditError, match="链头（序号 "):
        audit.record(store, user="office1", action="sql_query", sql="SELECT 1")
    assert audit.head(store) == head
    assert any("末尾记录缺失" in p.message for p in audit.verify(store))


def test_a_head_rewound_over_a_whole_trail_is_reported(capsys: Any, store: Path) -> None:
    entries = audit.entries(store)
    earlier = entries[-3]
    _head_file(store).write_text(
        json.dumps({"seq": earlier.seq, "hash": earlier.hash}), encoding="utf-8"
    )
    code, out, _ = _verify(capsys, store)
    assert code == 1
    assert any(
        line.strip() == f"链头被回退：链头记到序号 {earlier.seq}，文件已到序号 {entries[-1].seq}"
        for line in out
    ), out
    with pytest.raises(audit.AuditError, match="与审计记录末条"):
        audit.record(store, user="office1", action="sql_query")


def test_deleting_both_files_is_reported_while_anchors_remain(capsys: Any, store: Path) -> None:
    seq = audit.head(store)[0]  # type: ignore[index]
    shutil.rmtree(store / "audit")
    code, out, err = _verify(capsys, store)
    # It used to say "OK 尚无审计记录" and exit 0.
    assert code == 1 and not any(line.startswith("OK") for line in out)
    assert [line.strip() for line in out] == [
        f"审计记录文件和链头均已删除：用户库中的锚点记到序号 {seq}，现在一条记录也没有"
    ]
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(audit.AuditError, match="均已删除"):
        audit.record(store, user="office1", action="sql_query")
    assert not audit.audit_path(store).exists()


def test_with_the_users_database_gone_too_the_data_versions_still_tell(
    capsys: Any, store: Path
) -> None:
    shutil.rmtree(store / "audit")
    shutil.rmtree(store / "auth")
    code, out, _ = _verify(capsys, store)
    assert code == 1
    assert len(out) == 1 and "均已删除：数据版本 2 的锚点记到序号 " in out[0], out
    with pytest.raises(audit.AuditError, match="数据版本 2 的锚点"):
        audit.record(store, user="office1", action="sql_query")


def test_an_anchor_that_names_another_hash_is_a_rewritten_trail(store: Path) -> None:
    # Lines cut and as many new ones forged (chained correctly, HEAD matching): the anchor in
    # the users database still names the record that was there.
    lines = _lines(store)
    cut = lines[:-2]
    prev = json.loads(cut[-1])
    for n in range(2):
        body = {
            "seq": prev["seq"] + 1,
            "time": prev["time"],
            "user": "office1",
            "action": "sql_query",
            "details": {"sql": f"SELECT 'forged {n}'"},
            "prev_hash": prev["hash"],
        }
        prev = {**body, "hash": audit._hash(body)}
        cut.append(audit._canonical(prev))
    audit.audit_path(store).write_text("\n".join(cut) + "\n", encoding="utf-8")
    _head_file(store).write_text(
        json.dumps({"seq": prev["seq"], "hash": prev["hash"]}), encoding="utf-8"
    )
    problems = [p.message for p in audit.verify(store)]
    assert f"序号 {prev['seq']} 与用户库中的锚点记下的哈希不符：审计记录被改写" in (problems)
    with pytest.raises(audit.AuditError, match="被改写"):
        audit.record(store, user="office1", action="sql_query")


def test_an_intact_trail_verifies_and_names_its_anchors(capsys: Any, store: Path) -> None:
    code, out, err = _verify(capsys, store)
    assert code == 0 and err == ""
    assert out[0].startswith("OK 审计记录完整")
    assert "用户库中的锚点" in out[1] and "数据版本 2 的锚点" in out[1]


def test_a_record_cut_between_its_line_and_head_is_still_continued(tmp_path: Path) -> None:
    # A crash after the line was written but before HEAD (and so before any anchor): one
    # record behind is not a rewind, and the next record goes on from the line.
    for n in range(3):
        audit.record(tmp_path, user="张三", action="sql_query", sql=f"SELECT {n}")
    before = audit.head(tmp_path)
    audit.record(tmp_path, user="张三", action="sql_query", sql="SELECT 'crash'")
    _head_file(tmp_path).write_text(
        json.dumps({"seq": before[0], "hash": before[1]}),  # type: ignore[index]
        encoding="utf-8",
    )
    assert audit.verify(tmp_path) == []
    entry = audit.record(tmp_path, user="张三", action="sql_query")
    assert entry.seq == 5
    assert audit.head(tmp_path) == (entry.seq, entry.hash) and audit.verify(tmp_path) == []
