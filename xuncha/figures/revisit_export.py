"""The 回头看 candidates as files: the list with its reasons (.xlsx, .csv) and the draft of a
new round's plan (下一轮巡察计划（草案）) that starts from it.

One workbook holds three sheets: 回头看候选名单 (rank, unit, points, every reason with its
figure), 下一轮巡察计划（草案） (unit, peer group, reasons, suggested kind 回头看, blank columns
for the 巡察组 and 进驻时间 the office fills in) and 说明 (the rule in words, the data date,
scope, who and when). Cells are written through export.safe_workbook as what they are, so a
unit name beginning with "=" stays text; the CSV is export.to_csv (BOM, inert text).
Writers take frames; they never query the store.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import polars as pl

from xuncha import export
from xuncha.figures.revisit import REVISIT_KIND

LIST_SHEET = "回头看候选名单"
PLAN_SHEET = "下一轮巡察计划（草案）"
REASON_SEPARATOR = "；"

# candidate column → header users read, in the order shown
HEADERS: dict[str, str] = {
    "rank": "排名",
    "unit_name": "被巡察单位",
    "peer_group": "同类组",
    "sector": "行业领域",
    "points": "总分",
    "reasons": "列入理由",
    "last_round": "依据巡察（整改期已结束）",
    "last_feedback": "反馈日期",
    "since_text": "距上次巡察",
    "since_points": "距上次巡察得分",
    "evaluation": "整改成效评估",
    "evaluation_round": "评估轮次",
    "evaluation_points": "成效评估得分",
    "findings": "问题数",
    "rebound_findings": "反弹问题数",
    "rebound_rate": "反弹率",
    "rebound_points": "反弹得分",
    "measures": "措施数",
    "overdue_measures": "逾期措施数",
    "overdue_rate": "逾期率",
    "overdue_points": "逾期得分",
    "ecology_grade": "政治生态等次（研判参考）",
    "ecology_trend": "政治生态趋势（研判参考）",
    "ecology_points": "政治生态得分",
    "revisited": "回头看情况",
    "in_period": "其后尚在整改期内的巡察",
}
PLAN_BLANKS = ("巡察组", "进驻时间", "备注")


def candidate_table(candidates: pl.DataFrame) -> pl.DataFrame:
    """The list as users read it: Chinese headers, the reasons joined in one cell."""
    return candidates.select(
        pl.col(c).list.join(REASON_SEPARATOR).alias(h) if c == "reasons" else pl.col(c).alias(h)
        for c, h in HEADERS.items()
    )


def plan_table(candidates: pl.DataFrame) -> pl.DataFrame:
    """The draft plan of a new round: one row per candidate in rank order, kind 回头看, and
    blank columns for what the office decides (巡察组, 进驻时间, 备注)."""
    return candidates.select(
        pl.col("rank").alias("序号"),
        pl.col("unit_name").alias("被巡察单位"),
        pl.col("peer_group").alias("同类组"),
        pl.col("sector").alias("行业领域"),
        pl.lit(REVISIT_KIND).alias("建议巡察类型"),
        pl.col("reasons").list.join(REASON_SEPARATOR).alias("列入理由"),
        pl.col("points").alias("候选总分"),
        pl.col("last_round").alias("上次巡察"),
        *(pl.lit(None, pl.String).alias(name) for name in PLAN_BLANKS),
    )


def to_csv(candidates: pl.DataFrame) -> bytes:
    """The list as CSV (UTF-8 with BOM, text that could run as a formula made inert)."""
    return export.to_csv(candidate_table(candidates))


def workbook(
    candidates: pl.DataFrame,
    *,
    rule_lines: Sequence[str],
    scope: str,
    as_of: dt.date,
    user: str,
    notes: Sequence[str] = (),
) -> bytes:
    """The .xlsx: the list, the draft plan and the 说明 sheet (the rule, the data date)."""
    buffer = io.BytesIO()
    book = export.safe_workbook(buffer)
    formats = {
        "header": book.add_format(
            {"bold": True, "bg_color": "#F2F2F2", "border": 1, "text_wrap": True}
        ),
        "percent": book.add_format({"num_format": "0.00%"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
    }
    _sheet(book, LIST_SHEET, candidate_table(candidates), formats)
    _sheet(book, PLAN_SHEET, plan_table(candidates), formats)
    lines = [
        ("表名", "回头看候选名单"),
        ("范围（筛选条件）", scope),
        ("数据截至", as_of.isoformat()),
        ("单位数", f"{candidates.height:,}"),
        ("导出人", user),
        ("导出时间", dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")),
        ("密级提示", "内部资料 注意保密"),
        *(("排序规则", line) for line in rule_lines),
        *(("说明", note) for note in notes),
        ("说明", f"“{PLAN_SHEET}”为草案：巡察组、进驻时间由巡察办研究确定后填写。"),
    ]
    notes_sheet = book.add_worksheet("说明")
    notes_sheet.write_string(0, 0, "项目", formats["header"])
    notes_sheet.write_string(0, 1, "内容", formats["header"])
    for row, (key, value) in enumerate(lines, start=1):
        notes_sheet.write_string(row, 0, key)
        notes_sheet.write_string(row, 1, value, formats["wrap"])
    notes_sheet.set_column(0, 0, 18)
    notes_sheet.set_column(1, 1, 100)
    book.close()
    return buffer.getvalue()


def _sheet(book: Any, name: str, frame: pl.DataFrame, formats: dict[str, Any]) -> None:
    sheet = book.add_worksheet(name)
    for col, header in enumerate(frame.columns):
        sheet.write_string(0, col, header, formats["header"])
        rate = header.endswith("率")
        for row, value in enumerate(frame[header].to_list(), start=1):
            _cell(sheet, row, col, value, rate, formats)
        wide = 60 if header == "列入理由" else 24 if header == "被巡察单位" else 14
        sheet.set_column(col, col, wide)
    sheet.freeze_panes(1, 0)
    if frame.columns:
        sheet.autofilter(0, 0, max(frame.height, 1), len(frame.columns) - 1)


def _cell(sheet: Any, row: int, col: int, value: Any, rate: bool, formats: dict[str, Any]) -> None:
    if value is None:
        sheet.write_blank(row, col, None)
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, col, value, formats["date"])
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if rate:
            sheet.write_number(row, col, float(value) / 100, formats["percent"])
        else:
            sheet.write_number(row, col, float(value))
    else:
        sheet.write_string(row, col, str(value), formats["wrap"])
