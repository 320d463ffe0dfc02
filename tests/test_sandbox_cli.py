"""`xuncha sql` and `xuncha audit verify`: formats, files, exit codes, one-line errors, audit."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from xuncha import audit, cli
from xuncha.store import Store


def run(capsys: pytest.CaptureFixture[Any], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def store(demo_store: Store, tmp_path: Path) -> Store:
    """A private copy of the demo store, so this test's audit trail is its own."""
    target = tmp_path / "store"
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("audit"))
    return Store(target)


def test_json_lists_columns_types_and_rows(capsys: Any, store: Store) -> None:
    code, out, err = run(
        capsys,
        "sql",
        "SELECT round_id, count(*) AS n, sum(amount_wan) AS amount FROM findings"
        " GROUP BY ALL ORDER BY 1",
        "--db",
        str(store.root),
        "--user",
        "张三",
    )
    assert code == 0 and err == ""
    payload = json.loads(out)
    assert payload["columns"] == ["round_id", "n", "amount"]
    assert payload["types"][:2] == ["INTEGER", "BIGINT"]
    assert payload["row_count"] == len(payload["rows"]) == 9 and payload["truncated"] is False
    assert isinstance(payload["rows"][0]["amount"], str)  # decimals stay exact


def test_csv_goes_to_stdout_formula_safe_with_a_bom(capsysbinary: Any, store: Store) -> None:
    code = cli.main(
        ["sql", "SELECT '=1+1' AS f, 'plain' AS p", "--db", str(store.root), "--format", "csv"]
    )
    out = capsysbinary.readouterr().out
    assert code == 0 and out.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(out[3:].decode())))
    assert rows == [["f", "p"], ["'=1+1", "plain"]]


def test_xlsx_needs_out_and_holds_no_formula_even_for_formula_text(
    capsys: Any, store: Store, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "sql", "SELECT 1", "--db", str(store.root), "--format", "xlsx")
    assert code == 1 and err.count("\n") == 1 and "--out" in err
    target = tmp_path / "结果.xlsx"
    code, out, err = run(
        capsys,
        "sql",
        "SELECT '=1+1' AS f, '@SUM(A1)' AS g, '+cmd' AS h, title FROM findings LIMIT 3",
        "--db",
        str(store.root),
        "--format",
        "xlsx",
        "--out",
        str(target),
        "--user",
        "李四",
    )
    assert code == 0 and out == "" and err == ""
    book = openpyxl.load_workbook(target)
    sheet = book["数据"]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert sheet["A2"].value == "=1+1" and sheet["A2"].data_type == "s"
    notes = [(r[0].value, r[1].value) for r in book["说明"].iter_rows(min_row=2)]
    assert ("导出人", "李四") in notes
    assert any(k == "说明" and "title FROM findings LIMIT 3" in v for k, v in notes)


def test_out_writes_json_to_a_file_and_refuses_to_overwrite_without_force(
    capsys: Any, store: Store, tmp_path: Path
) -> None:
    target = tmp_path / "r.json"
    argv = ["sql", "SELECT 1 AS one", "--db", str(store.root), "--out", str(target)]
    assert run(capsys, *argv)[0] == 0
    assert json.loads(target.read_text())["rows"] == [{"one": 1}]
    code, _, err = run(capsys, *argv)
    assert code == 1 and "已存在" in err
    assert run(capsys, *argv, "--force")[0] == 0


def test_max_rows_cuts_the_result_and_says_so_on_stderr(capsys: Any, store: Store) -> None:
    code, out, err = run(
        capsys, "sql", "SELECT * FROM findings", "--db", str(store.root), "--max-rows", "5"
    )
    assert code == 0 and json.loads(out)["row_count"] == 5 and json.loads(out)["truncated"]
    assert "仅显示前 5 行" in err
    code, _, err = run(capsys, "sql", "SELECT 1", "--db", str(store.root), "--max-rows", "0")
    assert code == 1 and "--max-rows" in err


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE findings", "不允许删除对象"),
        ("SELECT 1; SELECT 2", "一次只能执行一条语句"),
        ("SELECT * FROM read_csv('/etc/passwd')", "不允许访问文件"),
        ("SELEC 1", "SQL 语法错误"),
        ("SELECT * FROM clues", "没有名为“clues”的表"),
    ],
)
def test_refusals_and_errors_exit_1_with_one_clear_line(
    capsys: Any, store: Store, sql: str, message: str
) -> None:
    code, out, err = run(capsys, "sql", sql, "--db", str(store.root))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("xuncha: ") and message in err
    assert str(store.root) not in err


def test_a_timeout_exits_1_with_one_clear_line(capsys: Any, store: Store) -> None:
    code, _, err = run(
        capsys,
        "sql",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        "--db",
        str(store.root),
        "--timeout",
        "1",
    )
    assert code == 1 and "时间上限（1 秒）" in err and err.count("\n") == 1


def test_the_query_can_come_from_stdin(
    capsys: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT 7 AS seven"))
    code, out, _ = run(capsys, "sql", "-", "--db", str(store.root))
    assert code == 0 and json.loads(out)["rows"] == [{"seven": 7}]


def test_clue_details_only_when_asked(capsys: Any, store: Store) -> None:
    assert run(capsys, "sql", "SELECT count(*) FROM clues", "--db", str(store.root))[0] == 1
    code, out, _ = run(
        capsys, "sql", "SELECT count(*) AS n FROM clues", "--db", str(store.root), "--clue-details"
    )
    assert code == 0 and json.loads(out)["rows"][0]["n"] > 0


def test_a_missing_store_exits_1(capsys: Any, tmp_path: Path) -> None:
    code, _, err = run(capsys, "sql", "SELECT 1", "--db", str(tmp_path / "none"))
    assert code == 1 and "数据仓不存在" in err


def test_every_run_is_audited_and_exports_are_recorded_too(
    capsys: Any, store: Store, tmp_path: Path
) -> None:
    run(capsys, "sql", "SELECT 1", "--db", str(store.root), "--user", "甲")
    run(capsys, "sql", "DELETE FROM findings", "--db", str(store.root), "--user", "乙")
    run(
        capsys,
        "sql",
        "SELECT 2",
        "--db",
        str(store.root),
        "--user",
        "丙",
        "--format",
        "csv",
        "--out",
        str(tmp_path / "x.csv"),
    )
    records = audit.entries(store.root)
    assert [(r.user, r.action) for r in records] == [
        ("甲", "sql_query"),
        ("乙", "sql_refused"),
        ("丙", "sql_query"),
        ("丙", "export"),
    ]
    assert records[0].details["source"] == "cli" and records[0].details["outcome"] == "ok"
    assert records[3].details["query_seq"] == records[2].seq
    assert records[3].details["file"].endswith("x.csv")


def test_audit_verify_says_ok_then_names_the_tampered_line(capsys: Any, store: Store) -> None:
    for n in range(4):
        run(capsys, "sql", f"SELECT {n}", "--db", str(store.root))
    code, out, err = run(capsys, "audit", "verify", "--db", str(store.root))
    assert code == 0 and out.startswith("OK 审计记录完整：共 4 条") and err == ""
    path = audit.audit_path(store.root)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"SELECT 1"', '"SELECT 100"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "audit", "verify", "--db", str(store.root))
    assert code == 1 and "序号 2" in err and "被修改" in err and err.count("\n") == 1


def test_audit_verify_names_a_deleted_and_a_swapped_line(capsys: Any, store: Store) -> None:
    for n in range(4):
        run(capsys, "sql", f"SELECT {n}", "--db", str(store.root))
    path = audit.audit_path(store.root)
    original = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(original[:1] + original[2:]) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "audit", "verify", "--db", str(store.root))
    assert code == 1 and "序号 2 缺失" in err
    swapped = [original[0], original[2], original[1], original[3]]
    path.write_text("\n".join(swapped) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "audit", "verify", "--db", str(store.root))
    assert code == 1 and "序号 3" in err and "次序被调换" in err


def test_audit_verify_on_a_store_without_records_is_ok(capsys: Any, store: Store) -> None:
    code, out, _ = run(capsys, "audit", "verify", "--db", str(store.root))
    assert code == 0 and out.startswith("OK 尚无审计记录")
