"""The command line of ledger import: import, template, rollback; exit codes 0 / 1 / 2."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests import ledger_samples as S
from xuncha import audit, cli
from xuncha.store import Store


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def ledgers(tmp_path: Path) -> dict[str, Path]:
    return {
        "merged": S.merged_xlsx(tmp_path / S.MERGED.name),
        "progress": S.merged_xlsx(tmp_path / S.PROGRESS.name, progress=True),
    }


def _import_args(db: Path, *files: Path, feedback: bool = True) -> list[str]:
    args = ["import", *map(str, files), "--db", str(db), "--round", S.ZJ_ROUND, "--unit", S.ZJ_UNIT]
    return args + (["--feedback-date", S.ZJ_FEEDBACK.isoformat()] if feedback else [])


def test_import_prints_the_batch_summary_and_exits_zero(
    capsys: Any, tmp_path: Path, ledgers: dict[str, Path]
) -> None:
    db = tmp_path / "db"
    code, out, err = run(capsys, *_import_args(db, ledgers["merged"]), "--user", "巡察办张三")
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "已导入 1 个文件，数据版本 1"
    assert (
        f"  {S.MERGED.name} → 批次 #1（截至 2024-06-30），读取 9 行；问题 新增 5、更新 0、未变 0；"
        "措施 新增 9、更新 0、未变 0；状态变更 9 条，时限变更 1 条"
    ) in out.splitlines()
    assert f"  {S.MERGED.name} 未导入的列：督办意见" in out.splitlines()
    code, out, _ = run(capsys, *_import_args(db, ledgers["progress"]), "--format", "json")
    payload = json.loads(out)
    assert code == 0 and payload["ok"] and payload["version"] == 2
    (file,) = payload["files"]
    assert (file["batch_id"], file["findings_added"], file["measures_updated"]) == (2, 1, 3)
    _, info, _ = run(capsys, "info", "--db", str(db), "--format", "json")
    assert json.loads(info)["tables"]["findings"] == len(S.PROGRESS.findings)


def test_a_refused_import_prints_the_report_exits_one_and_writes_nothing(
    capsys: Any, tmp_path: Path, ledgers: dict[str, Path]
) -> None:
    db = tmp_path / "db"
    run(capsys, *_import_args(db, ledgers["merged"]))
    _, before, _ = run(capsys, "info", "--db", str(db), "--format", "json")
    book = openpyxl.load_workbook(ledgers["progress"])
    sheet = book.active
    assert sheet is not None
    sheet["G6"] = "2024年13月底前"
    broken = tmp_path / "坏台账.xlsx"
    book.save(broken)
    code, out, err = run(capsys, *_import_args(db, broken))
    assert code == 1
    assert err.strip() == "xuncha: 导入被拒绝：发现 1 个错误，未写入任何数据"
    # Grouped by kind, with what would be accepted, then each row with its own reason.
    lines = out.splitlines()
    assert lines[1].startswith("  [错误] 1 行：整改时限无法识别（可用：立行立改、")
    assert lines[2] == "    工作表“整改台账” 第6行 整改时限（G列） 值“2024年13月底前”：月份“13”无效"
    code, out, _ = run(capsys, *_import_args(db, broken), "--format", "json")
    payload = json.loads(out)
    assert code == 1 and not payload["ok"] and payload["version"] is None
    (error,) = [p for p in payload["problems"] if p["severity"] == "error"]
    assert (error["row"], error["column"], error["value"]) == (
        6,
        "整改时限（G列）",
        "2024年13月底前",
    )
    _, after, _ = run(capsys, "info", "--db", str(db), "--format", "json")
    assert json.loads(after) == json.loads(before)


def test_a_hostile_file_is_refused_with_exit_one(capsys: Any, tmp_path: Path) -> None:
    fake = tmp_path / "台账.xlsx"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    code, out, _ = run(capsys, *_import_args(tmp_path / "db", fake))
    assert code == 1 and "文件内容是PNG 图片" in out
    assert not Store(tmp_path / "db").exists()


def test_a_dry_run_validates_and_counts_but_writes_nothing(
    capsys: Any, tmp_path: Path, ledgers: dict[str, Path]
) -> None:
    code, out, _ = run(capsys, *_import_args(tmp_path / "db", ledgers["merged"]), "--dry-run")
    assert code == 0
    assert out.splitlines()[0] == "试运行：1 个文件校验通过，未写入任何数据"
    assert not Store(tmp_path / "db").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["import", "x.xlsx", "--unit", "市住建局"],
        ["import", "x.xlsx", "--round", "第一轮"],
        ["import", "--round", "第一轮", "--unit", "市住建局"],
        ["import", "x.xlsx", "--round", "r", "--unit", "u", "--format", "xml"],
        ["rollback", "abc"],
        ["template"],
    ],
)
def test_usage_errors_exit_with_two(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--feedback-date", "2024-13-01"], "日期格式不正确"),
        (["--max-mb", "0"], "--max-mb 必须是正数"),
    ],
)
def test_bad_values_print_one_line_and_exit_one(
    capsys: Any, tmp_path: Path, ledgers: dict[str, Path], extra: list[str], message: str
) -> None:
    code, out, err = run(
        capsys, *_import_args(tmp_path / "db", ledgers["merged"], feedback=False), *extra
    )
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_a_missing_file_is_one_clear_line(capsys: Any, tmp_path: Path) -> None:
    code, out, err = run(capsys, *_import_args(tmp_path / "db", tmp_path / "没有.xlsx"))
    assert code == 1 and out == "" and "文件不存在" in err


def test_template_writes_the_standard_template_and_will_not_overwrite(
    capsys: Any, tmp_path: Path
) -> None:
    out_file = tmp_path / "模板.xlsx"
    code, out, _ = run(capsys, "template", "--out", str(out_file))
    assert code == 0 and out_file.is_file() and "已生成整改台账模板" in out
    assert openpyxl.load_workbook(out_file)["整改台账"]["A3"].value == "序号"
    code, _, err = run(capsys, "template", "--out", str(out_file))
    assert code == 1 and "文件已存在" in err
    assert run(capsys, "template", "--out", str(out_file), "--force")[0] == 0
    code, _, err = run(capsys, "template", "--out", str(tmp_path / "模板.xls"))
    assert code == 1 and ".xlsx" in err


def test_rollback_undoes_a_batch_and_refuses_what_cannot_be_undone(
    capsys: Any, tmp_path: Path, ledgers: dict[str, Path]
) -> None:
    db = tmp_path / "db"
    run(capsys, *_import_args(db, ledgers["merged"]))
    run(capsys, *_import_args(db, ledgers["progress"]))
    code, _, err = run(capsys, "rollback", "1", "--db", str(db))
    assert code == 1 and err.strip() == (
        f"xuncha: 无法回滚：同一巡察在批次 #1 之后还有批次 #2（{S.PROGRESS.name}）；请先回滚较新的批次"
    )
    code, out, _ = run(capsys, "rollback", "2", "--db", str(db), "--format", "json")
    payload = json.loads(out)
    assert code == 0 and payload["version"] == 3 and payload["findings_removed"] == 1
    _, info, _ = run(capsys, "info", "--db", str(db), "--format", "json")
    assert json.loads(info)["tables"]["findings"] == len(S.MERGED.findings)
    code, _, err = run(capsys, "rollback", "7", "--db", str(db))
    assert code == 1 and "批次 #7 不存在" in err
    code, _, err = run(capsys, "rollback", "1", "--db", str(tmp_path / "nowhere"))
    assert code == 1 and "数据仓不存在" in err


# -- the audit trail ---------------------------------------------------------------------


def test_imports_and_rollbacks_are_in_the_audit_trail(
    capsys: Any, tmp_path: Path, ledgers: dict[str, Path]
) -> None:
    db = tmp_path / "db"
    assert run(capsys, *_import_args(db, ledgers["merged"]), "--user", "巡察办张三")[0] == 0
    assert run(capsys, *_import_args(db, ledgers["progress"]))[0] == 0
    assert run(capsys, "rollback", "2", "--db", str(db))[0] == 0
    first, second, undo = [e for e in audit.entries(db) if e.action in ("import", "rollback")]
    assert (first.action, first.user, first.details["source"]) == ("import", "巡察办张三", "cli")
    assert (first.details["data_version"], first.details["batch_ids"]) == (1, [1])
    assert (first.details["round"], first.details["unit"]) == (S.ZJ_ROUND, S.ZJ_UNIT)
    (file,) = first.details["files"]
    assert file["file"] == S.MERGED.name
    assert file["sha256"] == hashlib.sha256(ledgers["merged"].read_bytes()).hexdigest()
    assert (file["batch_id"], file["findings_added"], file["measures_added"]) == (1, 5, 9)
    assert second.user == cli._user() and second.details["data_version"] == 2
    (file,) = second.details["files"]
    assert file["file"] == S.PROGRESS.name
    assert file["sha256"] == hashlib.sha256(ledgers["progress"].read_bytes()).hexdigest()
    assert (file["batch_id"], file["findings_added"], file["findings_updated"]) == (2, 1, 4)
    assert (file["measures_added"], file["measures_updated"]) == (2, 3)
    assert (undo.action, undo.user, undo.details["source"]) == ("rollback", cli._user(), "cli")
    assert (undo.details["batch_id"], undo.details["rollback_batch_id"]) == (2, 3)
    assert (undo.details["data_version"], undo.details["findings_removed"]) == (3, 1)
    assert undo.details["file_name"] == S.PROGRESS.name
    assert audit.verify(db) == []


def test_a_dry_run_and_an_import_with_nothing_new_write_no_import_record(
    capsys: Any, tmp_path: Path, ledgers: dict[str, Path]
) -> None:
    db = tmp_path / "db"
    run(capsys, *_import_args(db, ledgers["merged"]))
    run(capsys, *_import_args(db, ledgers["progress"]), "--dry-run")
    run(capsys, *_import_args(db, ledgers["merged"]))  # the same file again: nothing to write
    assert [e.details["data_version"] for e in audit.entries(db) if e.action == "import"] == [1]


@pytest.mark.parametrize("tamper", ["cut", "head"])
def test_an_import_or_rollback_on_a_trail_that_does_not_verify_writes_nothing(
    capsys: Any, tmp_path: Path, ledgers: dict[str, Path], tamper: str
) -> None:
    db = tmp_path / "db"
    run(capsys, *_import_args(db, ledgers["merged"]))
    trail = audit.audit_path(db)
    if tamper == "cut":  # the last record (the first administrator's) cut off
        lines = trail.read_text(encoding="utf-8").splitlines(keepends=True)
        trail.write_text("".join(lines[:-1]), encoding="utf-8")
    else:
        (db / "audit" / "HEAD").unlink()
    version = Store(db).version()
    for argv in (
        _import_args(db, ledgers["progress"], feedback=False),
        ["rollback", "1", "--db", str(db)],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 1, argv
        (line,) = err.strip().splitlines()
        assert "审计记录未通过核验" in line and "未作任何更改" in line, line
        assert Store(db).version() == version
