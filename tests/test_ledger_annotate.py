"""What a clerk sees when a ledger is refused: the report grouped by kind and the annotated copy
of the ledger (each offending cell filled and commented, a 问题汇总 sheet first, nothing that
runs as a formula).

The broken ledgers are built here cell by cell; what each is built to cause is written out by
hand next to it. The tests check that each problem the reader reports is at its cell, not the
exact wording of its reason (the reader's wording is still being refined).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from xuncha.ledger import LedgerResult, Problem, read_ledger
from xuncha.ledger.annotate import (
    CELL_FILLS,
    FRAME_COLUMNS,
    ROW_FILLS,
    SUMMARY_SHEET,
    annotated_copy,
    group_problems,
    grouped_frame,
    grouped_lines,
)

FEEDBACK = dt.date(2024, 3, 15)
CATEGORY = "落实全面从严治党战略部署方面"
HEADER = ["序号", "问题类别", "具体问题", "整改措施", "整改时限", "整改状态"]
FORMULA_TEXT = '=HYPERLINK("http://x","点我")'

# The broken ledger's rows after its title, fill-in line and header (rows 4-8 in Excel).
# Built to cause exactly: three unreadable statuses (F4, F5, F6), one unreadable deadline (E6);
# rows 7 and 8 are good (row 8 is hidden).
ROWS: list[list[object]] = [
    [1, CATEGORY, "问题甲", "措施甲", "2024年6月底前", "尽快处理中?"],
    [2, CATEGORY, "问题乙", "措施乙", "2024年6月底前", "差不多"],
    [3, CATEGORY, "问题丙", "措施丙", "尽快", "差不多"],
    [4, CATEGORY, "问题丁", "措施丁", "2024年6月底前", "已完成"],
    [5, CATEGORY, "问题戊", "措施戊", "2024年9月底前", "正在整改"],
]
STATUS_CELLS = {(4, "F"), (5, "F"), (6, "F")}
DEADLINE_CELLS = {(6, "E")}


def _broken_xlsx(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "台账"
    sheet.append(["某单位巡察整改台账"])
    sheet.append(["填报单位：市财政局", None, None, "截至时间：2024年6月30日"])
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    sheet.merge_cells("A1:F1")
    sheet.column_dimensions["C"].width = 40
    sheet.row_dimensions[8].hidden = True
    book.save(path)
    return path


def _broken_csv(path: Path) -> Path:
    lines = [
        ["某单位巡察整改台账", "", "", "", "", ""],
        ["填报单位：市财政局", "", "", "截至时间：2024年6月30日", "", ""],
        list(HEADER),
        *([str(v) for v in row] for row in ROWS),
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(lines)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path


def _open(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def _cell_problems(result: LedgerResult) -> dict[tuple[int, str], list[Problem]]:
    found: dict[tuple[int, str], list[Problem]] = {}
    for p in result.problems:
        if p.row is not None and p.column_letter:
            found.setdefault((p.row, p.column_letter), []).append(p)
    return found


# -- grouping ----------------------------------------------------------------------------------


def _p(row: int | None, kind: str, **extra: object) -> Problem:
    fields: dict[str, Any] = {"file": "台账.xlsx", "sheet": "台账", "row": row, "kind": kind}
    fields["reason"] = extra.pop("reason", kind)
    fields.update(extra)
    return Problem(**fields)


def test_groups_put_errors_first_then_the_kinds_touching_more_rows() -> None:
    problems = [
        _p(9, "整改时限无法识别", column_letter="E", value="尽快", hint="2024年6月底前"),
        _p(12, "整改状态无法识别", column_letter="F", value="差不多"),
        _p(4, "整改状态无法识别", column_letter="F", value="尽快处理中?", hint="已完成、正在整改"),
        _p(7, "整改状态无法识别", column_letter="F", value="差不多", hint="另一种写法"),
        *(_p(r, "未知列", severity="warning") for r in (3, 4, 5, 6, 7)),
        Problem(file="台账.xlsx", reason="未找到台账表头"),
        # Two problems of one kind on one row count as one row.
        _p(9, "具体问题为空", column_letter="C"),
        _p(9, "具体问题为空", column_letter="D"),
    ]
    groups = group_problems(problems)

    assert [(g.severity, g.kind, g.rows) for g in groups] == [
        ("error", "整改状态无法识别", 3),
        ("error", "具体问题为空", 1),
        ("error", "整改时限无法识别", 1),
        ("error", "未找到台账表头", 0),
        ("warning", "未知列", 5),
    ]
    status = groups[0]
    assert [p.row for p in status.problems] == [4, 7, 12]
    assert status.hint == "已完成、正在整改"  # the first row's, not a later one's
    assert status.headline() == "3 行：整改状态无法识别（可用：已完成、正在整改）"
    assert groups[1].headline() == "1 行：具体问题为空"
    assert groups[3].headline() == "文件：未找到台账表头"
    assert groups[4].headline() == "5 行：未知列"


def test_groups_without_a_kind_fall_back_to_the_reason_and_keep_files_apart() -> None:
    problems = [
        Problem(file="甲.xlsx", reason="整改状态为空", sheet="台账", row=5),
        Problem(file="乙.xlsx", reason="整改状态为空", sheet="台账", row=5),
        Problem(file="甲.xlsx", reason="整改状态为空", sheet="台账", row=8),
    ]
    groups = group_problems(problems)
    assert [(g.file, g.kind, g.rows) for g in groups] == [
        ("甲.xlsx", "整改状态为空", 2),
        ("乙.xlsx", "整改状态为空", 1),
    ]


def test_the_command_line_lines_give_each_headline_then_its_rows_without_repeating_the_kind() -> (
    None
):
    problems = [
        _p(
            4,
            "整改状态无法识别",
            column_header="整改状态",
            column_letter="F",
            value="差不多",
            hint="已完成、正在整改",
        ),
        _p(
            6,
            "整改时限无法识别",
            reason="整改时限“尽快”无法识别",
            column_header="整改时限",
            column_letter="E",
            value="尽快",
        ),
        _p(5, "整改状态无法识别", column_header="整改状态", column_letter="F", value="尽快?"),
        Problem(file="台账.xlsx", sheet="说明", reason="工作表中没有台账表头，已跳过"),
    ]
    assert grouped_lines(problems) == [
        "[错误] 2 行：整改状态无法识别（可用：已完成、正在整改）",
        "  工作表“台账” 第4行 整改状态（F列） 值“差不多”",
        "  工作表“台账” 第5行 整改状态（F列） 值“尽快?”",
        "[错误] 1 行：整改时限无法识别",
        "  工作表“台账” 第6行 整改时限（E列） 值“尽快”：整改时限“尽快”无法识别",
        "[错误] 文件：工作表中没有台账表头，已跳过",
        "  工作表“说明”",
    ]


def test_a_broken_ledger_groups_into_the_kinds_it_was_built_to_cause(tmp_path: Path) -> None:
    result = read_ledger(_broken_xlsx(tmp_path / "坏台账.xlsx"), feedback_date=FEEDBACK)
    errors = [g for g in group_problems(result.problems) if g.is_error]

    # Three unreadable statuses, then one unreadable deadline; nothing else is an error.
    assert [(g.rows, {(p.row, p.column_letter) for p in g.problems}) for g in errors] == [
        (3, STATUS_CELLS),
        (1, DEADLINE_CELLS),
    ]
    assert errors[0].headline().startswith("3 行：")
    assert [p.row for p in errors[0].problems] == [4, 5, 6]

    lines = grouped_lines(result.problems)
    assert lines[0] == f"[错误] {errors[0].headline()}"
    assert lines[1].startswith("  工作表“台账” 第4行 整改状态（F列） 值“尽快处理中?”")
    assert lines[2].startswith("  工作表“台账” 第5行 整改状态（F列） 值“差不多”")


def test_the_page_frame_has_chinese_columns_and_one_row_per_problem_in_group_order(
    tmp_path: Path,
) -> None:
    result = read_ledger(_broken_xlsx(tmp_path / "坏台账.xlsx"), feedback_date=FEEDBACK)
    frame = grouped_frame(result.problems)

    assert frame.columns == FRAME_COLUMNS
    assert frame.columns == [
        "级别",
        "类别",
        "行数",
        "工作表",
        "行",
        "列",
        "值",
        "问题",
        "可接受的写法",
    ]
    assert frame.height == len(result.problems)
    errors = frame.filter(frame["级别"] == "错误")
    assert errors["行"].to_list() == [4, 5, 6, 6]
    assert errors["行数"].to_list() == [3, 3, 3, 1]
    assert errors["值"].to_list() == ["尽快处理中?", "差不多", "差不多", "尽快"]


# -- the annotated copy --------------------------------------------------------------------------


def test_the_copy_opens_with_the_summary_first_and_each_offending_cell_filled_and_commented(
    tmp_path: Path,
) -> None:
    path = _broken_xlsx(tmp_path / "坏台账.xlsx")
    result = read_ledger(path, feedback_date=FEEDBACK)
    book = _open(annotated_copy(path, result))

    assert book.sheetnames == [SUMMARY_SHEET, "台账"]
    assert book.active is not None and book.active.title == SUMMARY_SHEET
    sheet = book["台账"]
    at_cells = _cell_problems(result)
    assert set(at_cells) >= STATUS_CELLS | DEADLINE_CELLS
    for (row, letter), problems in at_cells.items():
        cell = sheet[f"{letter}{row}"]
        severity = "error" if any(p.is_error for p in problems) else "warning"
        assert cell.fill.fill_type == "solid"
        assert cell.fill.start_color.rgb == CELL_FILLS[severity]
        assert cell.comment is not None
        for problem in problems:
            assert problem.reason in cell.comment.text
            label = "【错误】" if problem.is_error else "【提示】"
            assert f"{label}{problem.reason}" in cell.comment.text
    # A cell the reader found nothing wrong with carries no mark (rows 7 and 8 are good).
    marked_rows = {p.row for p in result.problems if p.row is not None and not p.column_letter}
    for row in sheet.iter_rows(min_row=4, max_row=8, max_col=6):
        for cell in row:
            if (cell.row, cell.column_letter) not in at_cells and cell.row not in marked_rows:
                assert cell.comment is None, cell.coordinate
                assert cell.fill.fill_type is None, cell.coordinate
    assert sheet["F7"].comment is None and sheet["E8"].comment is None

    summary = book[SUMMARY_SHEET]
    assert summary.freeze_panes == "A2"
    assert summary.column_dimensions["B"].width > 20
    texts = [str(c.value) for row in summary.iter_rows() for c in row if c.value is not None]
    for group in group_problems(result.problems):
        assert group.headline() in texts
    located = [
        (r[2].value, r[3].value, r[4].value)
        for r in summary.iter_rows(min_row=2)
        if r[3].value is not None
    ]
    assert ("台账", 4, "整改状态（F列）") in located
    assert ("台账", 6, "整改时限（E列）") in located


def test_the_copy_keeps_the_ledgers_values_merges_widths_and_hidden_rows(tmp_path: Path) -> None:
    path = _broken_xlsx(tmp_path / "坏台账.xlsx")
    book = _open(annotated_copy(path, read_ledger(path, feedback_date=FEEDBACK)))
    original = openpyxl.load_workbook(path)["台账"]
    copy = book["台账"]

    def values(ws: Any) -> list[tuple[object, ...]]:
        return list(ws.iter_rows(min_row=1, max_row=8, max_col=6, values_only=True))

    assert values(copy) == values(original)
    assert [str(r) for r in copy.merged_cells.ranges] == ["A1:F1"]
    assert copy.column_dimensions["C"].width == 40
    assert copy.row_dimensions[8].hidden
    assert not copy.row_dimensions[7].hidden


def test_a_csv_ledger_gets_an_annotated_xlsx_rebuilt_from_its_values(tmp_path: Path) -> None:
    path = _broken_csv(tmp_path / "坏台账.csv")
    result = read_ledger(path, feedback_date=FEEDBACK)
    assert result.file_format == "csv"
    book = _open(annotated_copy(path, result))

    assert book.sheetnames == [SUMMARY_SHEET, "坏台账"]
    sheet = book["坏台账"]
    assert [c.value for c in sheet[3]] == HEADER
    assert sheet["C4"].value == "问题甲"
    assert sheet["F4"].value == "尽快处理中?"
    assert sheet["A1"].value == "某单位巡察整改台账"
    at_cells = _cell_problems(result)
    assert set(at_cells) >= STATUS_CELLS | DEADLINE_CELLS
    for (row, letter), problems in at_cells.items():
        cell = sheet[f"{letter}{row}"]
        assert cell.comment is not None
        assert all(p.reason in cell.comment.text for p in problems)
        assert cell.fill.start_color.rgb in CELL_FILLS.values()
    assert sheet["F7"].comment is None


def test_a_row_problem_marks_its_first_used_cell_and_tints_the_row_and_a_file_problem_only_the_summary(
    tmp_path: Path,
) -> None:
    path = _broken_xlsx(tmp_path / "坏台账.xlsx")
    problems = [
        Problem(file="坏台账.xlsx", sheet="台账", row=7, reason="具体问题与第 4 行的问题重复"),
        Problem(file="坏台账.xlsx", reason="台账写明的填报单位与所选单位不同", severity="warning"),
    ]
    result = LedgerResult(file_name="坏台账.xlsx", path=path, problems=problems)
    book = _open(annotated_copy(path, result))
    sheet = book["台账"]

    assert sheet["A7"].comment is not None
    assert "具体问题与第 4 行的问题重复" in sheet["A7"].comment.text
    assert sheet["A7"].fill.start_color.rgb == CELL_FILLS["error"]
    assert [c.fill.start_color.rgb for c in sheet[7][1:6]] == [ROW_FILLS["error"]] * 5
    commented = [c.coordinate for row in sheet.iter_rows() for c in row if c.comment]
    assert commented == ["A7"]
    texts = [c.value for row in book[SUMMARY_SHEET].iter_rows() for c in row]
    assert "文件：台账写明的填报单位与所选单位不同" in texts


def test_several_problems_on_one_cell_share_one_comment_sized_to_its_text(tmp_path: Path) -> None:
    path = _broken_xlsx(tmp_path / "坏台账.xlsx")
    long_reason = "整改状态无法识别，" * 12
    problems = [
        Problem(
            file="坏台账.xlsx",
            sheet="台账",
            row=5,
            column_letter="F",
            reason=long_reason,
            hint="已完成、正在整改",
        ),
        Problem(
            file="坏台账.xlsx",
            sheet="台账",
            row=5,
            column_letter="F",
            reason="状态与进展不符",
            severity="warning",
        ),
        # Inside the merged title: marked on its top-left cell.
        Problem(file="坏台账.xlsx", sheet="台账", row=1, column_letter="C", reason="标题有误"),
    ]
    result = LedgerResult(file_name="坏台账.xlsx", path=path, problems=problems)
    data = annotated_copy(path, result)
    sheet = _open(data)["台账"]

    comment = sheet["F5"].comment
    assert comment is not None
    assert comment.text.split("\n") == [
        f"【错误】{long_reason}",
        "可用：已完成、正在整改",
        "【提示】状态与进展不符",
    ]
    assert sheet["F5"].fill.start_color.rgb == CELL_FILLS["error"]
    # openpyxl does not read a comment's box back: its size is in the drawing the copy holds.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        drawings = [n for n in archive.namelist() if n.startswith("xl/drawings/")]
        vml = archive.read(drawings[0]).decode("utf-8")
    widths = [int(w) for w in re.findall(r"width:(\d+)px", vml)]
    heights = [int(h) for h in re.findall(r"height:(\d+)px", vml)]
    assert len(widths) == 2  # F5 and A1
    # Larger than Excel's default 144 × 79 box: the long reason needs it.
    assert max(widths) > 144 and max(heights) > 79
    assert sheet["A1"].comment is not None and "标题有误" in sheet["A1"].comment.text


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_text_that_looks_like_a_formula_stays_text_in_the_copy(tmp_path: Path, suffix: str) -> None:
    rows: list[list[object]] = [
        ["某单位巡察整改台账"],
        ["填报单位：市财政局", None, None, "截至时间：2024年6月30日"],
        list(HEADER),
        [1, CATEGORY, "问题甲", FORMULA_TEXT, "2024年6月底前", "@SUM(A1)"],
        [2, CATEGORY, "问题乙", "措施乙", FORMULA_TEXT, "已完成"],
        [3, CATEGORY, "问题丙", "+措施丙", "2024年6月底前", "已完成"],
    ]
    path = tmp_path / f"公式台账{suffix}"
    if suffix == ".xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                cell = sheet.cell(row=r, column=c, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text in the ledger, as a unit would type it
        sheet["H4"] = "=1+1"  # a real formula: the copy keeps its value, never the formula
        book.save(path)
    else:
        buffer = io.StringIO()
        csv.writer(buffer).writerows([["" if v is None else v for v in row] for row in rows])
        path.write_text(buffer.getvalue(), encoding="utf-8")
    result = read_ledger(path, feedback_date=FEEDBACK)
    data = annotated_copy(path, result)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = archive.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml, name
    book = _open(data)
    assert all(
        cell.data_type != "f" for ws in book.worksheets for row in ws.iter_rows() for cell in row
    )
    ledger = book.worksheets[1]
    assert ledger["D4"].value == FORMULA_TEXT
    assert ledger["F4"].value == "@SUM(A1)"
    assert ledger["E5"].value == FORMULA_TEXT
    assert ledger["D6"].value == "+措施丙"
    # The offending values are listed in the summary, as text too.
    shown = [c.value for row in book[SUMMARY_SHEET].iter_rows() for c in row]
    assert "@SUM(A1)" in shown


def test_a_refused_file_gets_a_copy_holding_the_summary_alone(tmp_path: Path) -> None:
    path = tmp_path / "图片.xlsx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    result = read_ledger(path, feedback_date=FEEDBACK)
    assert result.refused
    book = _open(annotated_copy(path, result))

    assert book.sheetnames == [SUMMARY_SHEET]
    texts = [c.value for row in book[SUMMARY_SHEET].iter_rows() for c in row]
    assert f"文件：{result.problems[0].reason}" in texts
