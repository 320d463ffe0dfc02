"""Golden files for the export writers: the exact bytes of a CSV and the exact sheet XML of an
XLSX with formula-like text, Chinese, dates, rates and booleans. Regenerate deliberately with
XUNCHA_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from pathlib import Path

import polars as pl
import pytest

from xuncha import export

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("XUNCHA_UPDATE_GOLDEN") == "1"
# Parts of the workbook that hold what a user reads (docProps carry creation times).
XLSX_PARTS = (
    "xl/worksheets/sheet1.xml",
    "xl/worksheets/sheet2.xml",
    "xl/sharedStrings.xml",
    "xl/styles.xml",
    "xl/workbook.xml",
)


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit_name": ["市住建局", "市卫健委", "滨湖街道", "市城投集团"],
            "title": [
                '=HYPERLINK("http://x","点我")',
                "+SUM(1,2)",
                "落实“第一议题”制度不严格",
                "@cmd|' /C calc'!A0",
            ],
            "detail": ["-1", "\t=1", '含逗号,和"引号"\n以及换行', None],
            "deadline": [dt.date(2024, 6, 30), dt.date(2024, 12, 31), None, dt.date(2025, 3, 31)],
            "completion_rate": [98.71, 100.0, 0.0, None],
            "findings": [697, 5, 0, 12],
            "tags": [["廉洁纪律", "违规吃喝"], [], ["重点关注"], ["组织纪律"]],
            "is_repeat": [True, False, True, False],
        }
    )


def _meta() -> export.ExportMeta:
    return export.ExportMeta(
        title="整改进度：督办清单",
        scope="轮次 十四届第一轮 至 十四届第三轮；同类组 市直部门",
        as_of=dt.date(2026, 11, 20),
        user="巡察办 张三",
        definitions={"整改完成率": "全部整改措施均已完成的问题数 ÷ 范围内问题数"},
        notes=("举一反三：请对照自查。",),
        exported_at=dt.datetime(2026, 11, 25, 9, 30, 0),
    )


def _check(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_bytes(data)
    assert path.exists(), f"golden file {name} missing; run with XUNCHA_UPDATE_GOLDEN=1"
    assert data == path.read_bytes(), f"{name} differs from its golden file"


def test_the_csv_export_equals_its_golden_file() -> None:
    _check("export.csv", export.to_csv(_frame()))


@pytest.mark.parametrize("part", XLSX_PARTS)
def test_the_xlsx_export_equals_its_golden_file(part: str) -> None:
    book = zipfile.ZipFile(io.BytesIO(export.to_xlsx(_frame(), _meta())))
    _check("export.xlsx." + part.replace("/", "_"), book.read(part))


def test_the_golden_xlsx_holds_no_formula_and_the_golden_csv_no_live_formula() -> None:
    sheet = (GOLDEN / "export.xlsx.xl_worksheets_sheet1.xml").read_bytes()
    assert b"<f>" not in sheet and b"<f " not in sheet
    text = (GOLDEN / "export.csv").read_bytes().decode("utf-8-sig")
    for line in text.splitlines()[1:]:
        for cell in line.split(","):
            assert not cell.lstrip('"').startswith(("=", "+", "@")), cell
