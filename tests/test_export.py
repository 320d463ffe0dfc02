"""Exports open cleanly in Excel and can never run as formulas."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import polars as pl
import pytest

from xuncha import export

HOSTILE = [
    '=HYPERLINK("http://x","点我")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "正常文本",
    "a=b",
]


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit_name": ["市住建局"] * len(HOSTILE),
            "title": HOSTILE,
            "deadline": [dt.date(2024, 6, 30)] * len(HOSTILE),
            "completion_rate": [98.71] * len(HOSTILE),
            "findings": list(range(len(HOSTILE))),
            "tags": [["廉洁纪律", "违规吃喝"]] * len(HOSTILE),
            "is_repeat": [True, False] * (len(HOSTILE) // 2),
        }
    )


def _meta() -> export.ExportMeta:
    return export.ExportMeta(
        title="整改进度：督办清单",
        scope="同类组 市直部门",
        as_of=dt.date(2026, 11, 20),
        user="张三",
        definitions={"整改完成率": "全部措施完成的问题数 ÷ 问题数"},
        exported_at=dt.datetime(2026, 11, 25, 9, 30),
    )


def test_csv_has_a_bom_chinese_headers_and_no_live_formula() -> None:
    data = export.to_csv(_frame())
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "单位,具体问题,现行时限,整改完成率(%),问题数,标签,重复"
    cells = [line.split(",")[1] for line in lines[1:3]]
    assert all(not c.lstrip('"').startswith(("=", "+", "-", "@")) for c in cells)
    assert "'+1+1" in text and "'-2+3" in text and "'@SUM(A1)" in text
    assert "a=b" in text and "正常文本" in text
    assert "廉洁纪律、违规吃喝" in text


def test_xlsx_opens_with_no_formula_cell_and_typed_values() -> None:
    book = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(_frame(), _meta())))
    sheet = book["数据"]
    header = [c.value for c in sheet[1]]
    assert header == ["单位", "具体问题", "现行时限", "整改完成率(%)", "问题数", "标签", "重复"]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    titles = [sheet.cell(row=r, column=2).value for r in range(2, len(HOSTILE) + 2)]
    # Kept verbatim, as text (a carriage return is stored as Excel's _x000D_ escape).
    assert [t.replace("_x000D_", "\r") for t in titles] == HOSTILE
    deadline = sheet["C2"]
    assert isinstance(deadline.value, dt.datetime) and deadline.value.date() == dt.date(2024, 6, 30)
    rate = sheet["D2"]
    assert rate.value == pytest.approx(0.9871) and rate.number_format == "0.00%"
    assert sheet["E3"].value == 1
    assert sheet["G2"].value == "是"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None


def test_xlsx_notes_sheet_says_scope_definitions_as_of_who_and_when() -> None:
    book = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(_frame(), _meta())))
    notes = {row[0].value: row[1].value for row in book["说明"].iter_rows(min_row=2)}
    assert notes["范围（筛选条件）"] == "同类组 市直部门"
    assert notes["统计截至"] == "2026-11-20"
    assert notes["导出人"] == "张三"
    assert notes["导出时间"] == "2026-11-25 09:30:00"
    assert notes["口径：整改完成率"].startswith("全部措施完成")
    assert notes["行数"] == str(len(HOSTILE))


def test_file_names_say_page_scope_and_date_without_unsafe_characters() -> None:
    name = export.file_name(
        "整改进度_督办清单", "轮次 3 至 7；类别 B/C", "xlsx", dt.date(2026, 11, 25)
    )
    assert name.startswith("整改进度_督办清单_") and name.endswith("_2026-11-25.xlsx")
    assert not set('/\\:*?"<>| ') & set(name)
    # The page part may hold a user's search terms: cleaned the same way.
    typed = export.file_name("问题分布_关键词检索_../a/b c", "全部", "csv", dt.date(2026, 11, 25))
    assert typed == "问题分布_关键词检索_.._a_b_c_全部_2026-11-25.csv"


def test_xlsx_refuses_more_rows_than_excel_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "MAX_XLSX_ROWS", 3)
    with pytest.raises(ValueError, match="超过 Excel 单表上限"):
        export.to_xlsx(_frame(), _meta())


def test_text_columns_are_neutralised_and_other_columns_left_as_they_are() -> None:
    frame = pl.DataFrame(
        {
            "text": ["=SUM(A1)", "+1", "-x", "@a", "\tt", "ok", None],
            "count": [-1, 2, 3, 4, 5, 6, 7],
        }
    )
    safe = export.neutralise_text_columns(frame)
    assert safe["text"].to_list() == ["'=SUM(A1)", "'+1", "'-x", "'@a", "'\tt", "ok", None]
    assert safe["count"].to_list() == frame["count"].to_list()
    assert safe.schema == frame.schema
