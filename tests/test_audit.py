"""The audit trail: append-only, hash-chained, serialised across processes, and verifiable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xuncha import audit


def _fill(root: Path, n: int = 5) -> list[audit.AuditEntry]:
    return [
        audit.record(root, user=f"用户{i}", action="sql_query", sql=f"SELECT {i}", rows=i)
        for i in range(1, n + 1)
    ]


def _lines(root: Path) -> list[str]:
    return audit.audit_path(root).read_text(encoding="utf-8").splitlines()


def _write_lines(root: Path, lines: list[str]) -> None:
    audit.audit_path(root).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_records_are_numbered_chained_and_hashed_over_their_canonical_json(tmp_path: Path) -> None:
    entries = _fill(tmp_path, 3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == audit.GENESIS
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    first = json.loads(_lines(tmp_path)[0])
    assert first["user"] == "用户1" and first["action"] == "sql_query"
    assert first["details"] == {"sql": "SELECT 1", "rows": 1}
    assert first["time"].endswith("Z")
    assert audit.verify(tmp_path) == []
    assert audit.head(tmp_path) == (3, entries[2].hash)


def test_the_trail_lives_outside_the_versioned_store_files(demo_store, tmp_path: Path) -> None:
    assert audit.audit_path(demo_store.root) == demo_store.root / "audit" / "audit.jsonl"
    assert not str(audit.audit_path(demo_store.root)).endswith(".duckdb")


def test_details_are_stored_as_plain_json_so_verify_recomputes_the_same_hash(
    tmp_path: Path,
) -> None:
    import datetime as dt
    from decimal import Decimal

    audit.record(
        tmp_path,
        user="张三",
        action="export",
        when=dt.date(2026, 1, 2),
        amount=Decimal("1.50"),
        ids={3, 1, 2},
        path=tmp_path / "a.xlsx",
    )
    entry = audit.entries(tmp_path)[0]
    assert entry.details["when"] == "2026-01-02"
    assert entry.details["amount"] == "1.50"
    assert entry.details["ids"] == [1, 2, 3]
    assert audit.verify(tmp_path) == []


def test_a_record_without_a_user_or_with_a_malformed_action_is_refused(tmp_path: Path) -> None:
    with pytest.raises(audit.AuditError):
        audit.record(tmp_path, user=" ", action="sql_query")
    with pytest.raises(audit.AuditError):
        audit.record(tmp_path, user="张三", action="DROP TABLE")
    with pytest.raises(audit.AuditError):
        audit.record(tmp_path, user="张三", action="export", value=object())
    assert not audit.audit_path(tmp_path).exists()


def test_editing_one_line_is_named_by_its_seq(tmp_path: Path) -> None:
    _fill(tmp_path)
    lines = _lines(tmp_path)
    lines[2] = lines[2].replace('"user":"用户3"', '"user":"别人"')
    _write_lines(tmp_path, lines)
    problems = audit.verify(tmp_path)
    assert problems and problems[0].seq == 3
    assert "被修改" in problems[0].message and "序号 3" in problems[0].message


def test_editing_a_line_and_recomputing_its_hash_breaks_the_link_to_the_next(
    tmp_path: Path,
) -> None:
    _fill(tmp_path)
    lines = _lines(tmp_path)
    obj = json.loads(lines[1])
    obj["details"]["sql"] = "SELECT 'innocent'"
    obj["hash"] = audit._hash({k: v for k, v in obj.items() if k != "hash"})
    lines[1] = audit._canonical(obj)
    _write_lines(tmp_path, lines)
    problems = audit.verify(tmp_path)
    assert problems and problems[0].seq == 2
    assert "序号 2 被修改" in problems[0].message


def test_deleting_a_line_is_named_by_the_missing_seq(tmp_path: Path) -> None:
    _fill(tmp_path)
    lines = _lines(tmp_path)
    del lines[2]
    _write_lines(tmp_path, lines)
    problems = audit.verify(tmp_path)
    assert problems and problems[0].seq == 4
    assert "序号 3 缺失" in problems[0].message and "删除" in problems[0].message


def test_deleting_the_last_line_is_caught_by_head(tmp_path: Path) -> None:
    _fill(tmp_path)
    _write_lines(tmp_path, _lines(tmp_path)[:-1])
    problems = audit.verify(tmp_path)
    assert problems and "末尾记录缺失" in problems[0].message and problems[0].seq == 5


def test_swapping_two_lines_is_named_as_a_reordering(tmp_path: Path) -> None:
    _fill(tmp_path)
    lines = _lines(tmp_path)
    lines[1], lines[2] = lines[2], lines[1]
    _write_lines(tmp_path, lines)
    problems = audit.verify(tmp_path)
    assert problems and problems[0].seq == 3
    assert "次序被调换" in problems[0].message


def test_an_unparseable_line_is_named_by_its_line_number(tmp_path: Path) -> None:
    _fill(tmp_path)
    lines = _lines(tmp_path)
    lines[0] = lines[0][:40]
    _write_lines(tmp_path, lines)
    problems = audit.verify(tmp_path)
    assert problems and problems[0].line == 1 and "无法解析" in problems[0].message


def test_a_line_cut_short_by_a_crash_is_reported_and_later_records_still_chain(
    tmp_path: Path,
) -> None:
    _fill(tmp_path, 2)
    with open(audit.audit_path(tmp_path), "a", encoding="utf-8") as handle:
        handle.write('{"seq":3,"time":"2026')  # a crash mid-write, no newline
    entry = audit.record(tmp_path, user="张三", action="sql_query")
    assert entry.seq == 3
    problems = audit.verify(tmp_path)
    assert len(problems) == 1 and problems[0].line == 3 and "无法解析" in problems[0].message


def test_a_deleted_trail_with_head_left_is_reported_and_not_silently_restarted(
    tmp_path: Path,
) -> None:
    _fill(tmp_path, 2)
    audit.audit_path(tmp_path).unlink()
    assert "文件已被删除" in audit.verify(tmp_path)[0].message
    with pytest.raises(audit.AuditError):
        audit.record(tmp_path, user="张三", action="sql_query")


def test_an_empty_store_has_an_empty_trail_that_verifies(tmp_path: Path) -> None:
    assert audit.verify(tmp_path) == [] and audit.entries(tmp_path) == []
    assert audit.head(tmp_path) is None


def test_appends_from_several_processes_are_serialised_into_one_valid_chain(
    tmp_path: Path,
) -> None:
    # Plain interpreter processes (not multiprocessing's spawn, which re-imports the test
    # runner's main module and failed now and then under pytest-xdist on a loaded machine).
    code = (
        "import sys; from xuncha import audit\n"
        "for i in range(25): audit.record(sys.argv[1], user='进程' + sys.argv[2],"
        " action='sql_query', i=i)"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path), str(w)],
            stderr=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[1],
        )
        for w in range(4)
    ]
    for process in workers:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    entries = audit.entries(tmp_path)
    assert [e.seq for e in entries] == list(range(1, 101))
    assert audit.verify(tmp_path) == []
