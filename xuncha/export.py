"""Table exports: .xlsx and .csv that open cleanly in Excel and can never run as formulas.

- CSV: UTF-8 with a byte-order mark (Excel needs it for Chinese); any text that begins with
  = + - @ tab or carriage return is prefixed with an apostrophe so Excel shows it as text.
- XLSX (xlsxwriter): every string is written with write_string (never a formula), Chinese
  headers, frozen header row, autofilter, sensible widths, dates as dates, rates as
  percentages, and a second sheet 说明 with the scope, definitions, as-of date, who and when.

Writers take frames and metadata; they never query the store.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
import xlsxwriter

from xuncha import labels

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_XLSX_ROWS = 1_048_575  # Excel's sheet limit, less the header row
_UNSAFE_FILE_CHARS = re.compile(r'[\\/:*?"<>|\s]+')


def neutralise(text: str) -> str:
    """Text that a spreadsheet could read as a formula, made inert (for CSV)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def neutralise_text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell of `frame` made inert (neutralise), for a CSV written as it is."""
    return frame.with_columns(
        pl.col(c).map_elements(neutralise, return_dtype=pl.String)
        for c, dtype in frame.schema.items()
        if dtype == pl.String
    )


@dataclass(frozen=True)
class ExportMeta:
    """What the 说明 sheet says: where the table comes from and under which definitions."""

    title: str
    scope: str
    as_of: dt.date | None = None
    user: str = "匿名"
    definitions: Mapping[str, str] = field(default_factory=dict)
    notes: Sequence[str] = ()
    exported_at: dt.datetime = field(
        default_factory=lambda: dt.datetime.now().replace(microsecond=0)
    )


def file_name(page: str, scope: str, extension: str, when: dt.date | None = None) -> str:
    """e.g. 整改进度_督办清单_轮次3至7_2026-11-25.xlsx (no characters file systems dislike)."""
    day = (when or dt.date.today()).isoformat()
    # The page part may hold what a user typed too (a search's terms).
    safe_page = _UNSAFE_FILE_CHARS.sub("_", page)[:80].strip("_")
    parts = [p for p in (safe_page, _UNSAFE_FILE_CHARS.sub("_", scope)[:60].strip("_"), day) if p]
    return "_".join(parts) + "." + extension


def display(frame: pl.DataFrame) -> pl.DataFrame:
    """Chinese headers; lists joined with 、 so every cell is a plain value."""
    out = frame.with_columns(
        pl.col(c).cast(pl.List(pl.String)).list.join("、")
        for c, dtype in frame.schema.items()
        if isinstance(dtype, pl.List)
    )
    return labels.chinese_headers(out)


def to_csv(frame: pl.DataFrame) -> bytes:
    shown = display(frame).with_columns(
        # As the xlsx shows them: 是/否, and rates with their two decimals.
        *(
            pl.when(pl.col(c)).then(pl.lit("是")).otherwise(pl.lit("否")).alias(c)
            for c, dtype in display(frame).schema.items()
            if dtype == pl.Boolean
        ),
        *(
            pl.col(c).map_batches(_two_decimals, return_dtype=pl.String).alias(c)
            for c, dtype in display(frame).schema.items()
            if is_rate(c) and dtype.is_numeric()
        ),
    )
    safe = shown.with_columns(
        pl.when(pl.col(c).str.contains(r"^[=+\-@\t\r]"))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c, dtype in shown.schema.items()
        if dtype == pl.String
    )
    buffer = io.BytesIO()
    safe.write_csv(buffer)
    return b"\xef\xbb\xbf" + buffer.getvalue()


def _two_decimals(series: pl.Series) -> pl.Series:
    return pl.Series([None if v is None else f"{v:.2f}" for v in series.to_list()], dtype=pl.String)


def is_rate(column: str) -> bool:
    return column.endswith("(%)") or column.endswith("率")


def safe_workbook(buffer: io.BytesIO) -> xlsxwriter.Workbook:
    """A workbook in memory whose cells are what was written, never more: text that looks
    like a formula (=HYPERLINK(…)), a link or a number stays text. Every .xlsx the product
    writes is made here."""
    return xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "default_date_format": "yyyy-mm-dd",
        },
    )


def to_xlsx(frame: pl.DataFrame, meta: ExportMeta, *, sheet: str = "数据") -> bytes:
    if frame.height > MAX_XLSX_ROWS:
        raise ValueError(f"超过 Excel 单表上限 {MAX_XLSX_ROWS:,} 行，请缩小范围或导出 CSV")
    shown = display(frame)
    buffer = io.BytesIO()
    book = safe_workbook(buffer)
    header = book.add_format(
        {"bold": True, "bg_color": "#F2F2F2", "border": 1, "text_wrap": True, "valign": "top"}
    )
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    percent = book.add_format({"num_format": "0.00%"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    data = book.add_worksheet(sheet)
    columns = shown.columns
    widths = []
    for col, name in enumerate(columns):
        data.write_string(0, col, name, header)
        values = shown[name]
        longest = max(
            [width(name)] + [width(str(v)) for v in values.head(500).to_list() if v is not None]
        )
        widths.append(min(max(longest + 2, 8), 60))
    for col, name in enumerate(columns):
        rate = is_rate(name)
        for row, value in enumerate(shown[name].to_list(), start=1):
            write(
                data,
                row,
                col,
                value,
                rate=rate,
                date_format=date_format,
                percent=percent,
                wrap=wrap,
            )
        data.set_column(col, col, widths[col])
    data.freeze_panes(1, 0)
    if columns:
        data.autofilter(0, 0, max(shown.height, 1), len(columns) - 1)
    _notes_sheet(book, meta, header, wrap, shown.height)
    book.close()
    return buffer.getvalue()


def width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def write(
    sheet: Any,
    row: int,
    col: int,
    value: Any,
    *,
    rate: bool,
    date_format: Any,
    percent: Any,
    wrap: Any,
) -> None:
    if value is None:
        sheet.write_blank(row, col, None)
    elif isinstance(value, bool):
        sheet.write_string(row, col, "是" if value else "否")
    elif isinstance(value, dt.datetime | dt.date):
        sheet.write_datetime(row, col, value, date_format)
    elif isinstance(value, int | float | Decimal):
        if rate:
            sheet.write_number(row, col, float(value) / 100, percent)
        else:
            sheet.write_number(row, col, float(value))
    else:
        sheet.write_string(row, col, str(value), wrap if len(str(value)) > 40 else None)


def _notes_sheet(book: Any, meta: ExportMeta, header: Any, wrap: Any, rows: int) -> None:
    notes = book.add_worksheet("说明")
    lines: list[tuple[str, str]] = [
        ("表名", meta.title),
        ("范围（筛选条件）", meta.scope),
        ("统计截至", meta.as_of.isoformat() if meta.as_of else "—"),
        ("行数", f"{rows:,}"),
        ("导出人", meta.user),
        ("导出时间", meta.exported_at.isoformat(sep=" ")),
        ("密级提示", "内部资料 注意保密"),
    ]
    lines += [(f"口径：{k}", v) for k, v in meta.definitions.items()]
    lines += [("说明", n) for n in meta.notes]
    notes.write_string(0, 0, "项目", header)
    notes.write_string(0, 1, "内容", header)
    for row, (key, value) in enumerate(lines, start=1):
        notes.write_string(row, 0, key)
        notes.write_string(row, 1, value, wrap)
    notes.set_column(0, 0, 22)
    notes.set_column(1, 1, 90)
