"""导出本页: one PDF (A4 landscape) or one .xlsx workbook of a page as it was shown, built
from what the page drew (its tables and charts, recorded by xuncha.ui.page_record) and a
`PageMeta` (who, when, which scope and date, the export's id).

Why here and not in the UI: the files are built on the server from plain frames and figure
dicts, so this module never imports streamlit and is tested on its own.

- xlsx: one sheet per table (Chinese headers, dates as dates, rates as percentages, every
  string written as a string so nothing is ever a formula: xuncha.export's writers), a 图表
  sheet with each chart as a picture, and a 说明 sheet.
- PDF (reportlab, its built-in CID font STSong-Light: no system font is needed): the title,
  the header line, each table (its first PDF_ROWS rows, with a note when it has more), each
  chart as a picture, then the 说明.
- Watermark: every PDF page carries a light diagonal "<name> <time> <export id>"; every
  sheet carries it in its printed header and footer and in a light note row on screen. The
  export id is the one the export's audit record carries (`export_id`).
- Charts are drawn by xuncha.briefing.render (kaleido with Debian's Chromium); a chart that
  cannot be drawn reads CHART_MISSING and the rest of the file is still written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import polars as pl

from xuncha import export, labels
from xuncha.figures import DEFINITIONS

PDF_ROWS = 30  # rows of a table printed in the PDF; the workbook holds all of them
PDF_COLUMNS = 12  # columns of a table printed side by side; more are printed in parts
CHART_MISSING = "图表未能生成"
CONFIDENTIAL = "内部资料 注意保密"
_FONT = "STSong-Light"
_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class TableItem:
    """A table as the page drew it: `frame` with the data's own column names (Chinese
    headers are applied when written) unless `raw`; `total`: rows of the whole list when
    the page fetched only its first rows."""

    title: str
    frame: pl.DataFrame
    raw: bool = False
    total: int | None = None

    @property
    def rows(self) -> int:
        return max(self.total or 0, self.frame.height)

    def shown(self) -> pl.DataFrame:
        """As the page shows it: Chinese headers, and without the unit_id a table keeps only
        to link each unit name to its page (ui.table does not show it either)."""
        if self.raw:
            return self.frame
        return export.display(self.frame.drop(labels.LINK_ONLY, strict=False))


@dataclass(frozen=True)
class ChartItem:
    """A chart as the page drew it: its plotly figure as a dict."""

    title: str
    figure: Mapping[str, Any]


Item = TableItem | ChartItem


@dataclass(frozen=True)
class PageMeta:
    """What the 说明 and the watermark say."""

    page: str
    scope: str
    as_of: dt.date | None
    user: str
    export_id: str
    exported_at: dt.datetime = field(default_factory=labels.local_now)
    data: str = ""  # the data's version and freshness, as the page header states it
    notes: Sequence[str] = ()

    @property
    def header(self) -> str:
        parts = [
            f"统计截至 {self.as_of.isoformat() if self.as_of else '—'}",
            f"范围：{self.scope}",
        ]
        return " ｜ ".join([*parts, self.data] if self.data else parts)

    @property
    def watermark(self) -> str:
        return f"{self.user} {self.exported_at:%Y-%m-%d %H:%M} {self.export_id}"


def new_export_id(now: dt.datetime | None = None) -> str:
    """A readable id for one export: its time and a random part (e.g. 20261207-071503-3FA9C1),
    written into the file's watermark and into the export's audit record."""
    when = now or labels.local_now()
    return f"{when:%Y%m%d-%H%M%S}-{secrets.token_hex(3).upper()}"


def titled(items: Sequence[Item]) -> list[Item]:
    """Items whose titles are unique among the tables and among the charts (a repeated one
    gets （2）, （3） …) and never empty."""
    seen: dict[tuple[bool, str], int] = {}
    out: list[Item] = []
    for item in items:
        table = isinstance(item, TableItem)
        base = item.title.strip() or ("表格" if table else "图表")
        n = seen[table, base] = seen.get((table, base), 0) + 1
        title = base if n == 1 else f"{base}（{n}）"
        if isinstance(item, TableItem):
            out.append(TableItem(title, item.frame, item.raw, item.total))
        else:
            out.append(ChartItem(title, item.figure))
    return out


def definitions(items: Sequence[Item]) -> dict[str, str]:
    """The definition (口径) of every figure a table of the page holds."""
    columns = {c for i in items if isinstance(i, TableItem) and not i.raw for c in i.frame.columns}
    return {f.label: f.definition for k, f in DEFINITIONS.items() if k in columns}


def notes_lines(items: Sequence[Item], meta: PageMeta) -> list[tuple[str, str]]:
    """The 说明: page, scope, date, data, who, when, the export id, each table's rows, the
    definitions used."""
    lines = [
        ("页面", meta.page),
        ("统计截至", meta.as_of.isoformat() if meta.as_of else "—"),
        ("范围（筛选条件）", meta.scope),
    ]
    if meta.data:
        lines.append(("数据", meta.data))
    lines += [
        ("导出人", meta.user),
        ("导出时间", meta.exported_at.isoformat(sep=" ")),
        ("导出编号", meta.export_id),
        ("密级提示", CONFIDENTIAL),
    ]
    for item in items:
        if isinstance(item, TableItem):
            lines.append((f"表格：{item.title}", f"共 {item.rows:,} 行"))
        else:
            lines.append((f"图表：{item.title}", "见图表"))
    lines += [(f"口径：{k}", v) for k, v in definitions(items).items()]
    lines += [("说明", n) for n in meta.notes]
    return lines


# -- chart pictures ---------------------------------------------------------------------------


def chart_picture(figure: Mapping[str, Any], title: str) -> bytes:
    """One chart as a PNG (twice its layout size), drawn by the briefing's renderer; raises
    render.ChartRenderError when it cannot be drawn."""
    import plotly.io as pio

    from xuncha.briefing import render
    from xuncha.briefing.model import Chart

    key = hashlib.sha256(pio.to_json(dict(figure), engine="json").encode()).hexdigest()
    with _PICTURES_LOCK:
        if key in _PICTURES:
            _PICTURES.move_to_end(key)
            return _PICTURES[key]
    layout = _printable_layout(figure.get("layout") or {})
    height = int(layout.get("height") or 420)
    spec = {**figure, "layout": layout}
    data = render.chart_png(Chart(title, spec, width_px=1000, height_px=height))
    with _PICTURES_LOCK:
        _PICTURES[key] = data
        while len(_PICTURES) > PICTURES_KEPT:
            _PICTURES.popitem(last=False)
    return data


def _printable_layout(layout: Mapping[str, Any]) -> dict[str, Any]:
    """The layout with room for its axis labels: the page's charts have thin margins (the
    browser makes room for the labels as it draws them); printed at a larger text size, the
    labels would be cut off. The figure the page keeps is not changed."""
    out = dict(layout)
    for name in {"xaxis", "yaxis"} | {k for k in out if re.match(r"^[xy]axis\d*$", k)}:
        out[name] = {**(out.get(name) or {}), "automargin": True}
    margin = dict(out.get("margin") or {})
    for side, least in (("l", 20), ("r", 20), ("t", 40), ("b", 20)):
        margin[side] = max(int(margin.get(side) or 0), least)
    out["margin"] = margin
    return out


# The last pictures drawn, by figure: the PDF and the workbook of one page (clicked one after
# the other) draw each chart once; a picture takes a second or more to draw.
PICTURES_KEPT = 32
_PICTURES: OrderedDict[str, bytes] = OrderedDict()
_PICTURES_LOCK = threading.Lock()


def pictures(items: Sequence[Item]) -> dict[int, bytes | str]:
    """Per chart item index: its PNG, or why it could not be drawn (Chinese). After a fatal
    failure (no Chromium) the other charts are not tried."""
    from xuncha.briefing.render import ChartRenderError

    out: dict[int, bytes | str] = {}
    broken: str | None = None
    for index, item in enumerate(items):
        if not isinstance(item, ChartItem):
            continue
        if broken is not None:
            out[index] = broken
            continue
        try:
            out[index] = chart_picture(item.figure, item.title)
        except ChartRenderError as exc:
            out[index] = str(exc)
            if exc.fatal:
                broken = str(exc)
    return out


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, read from its header."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# -- xlsx -------------------------------------------------------------------------------------


def _sheet_name(index: int, title: str, used: set[str]) -> str:
    name = _SHEET_UNSAFE.sub("_", f"表{index} {title}")[:31].strip("' ")
    while name in used:
        name = name[:28] + f"_{len(used)}"
    used.add(name)
    return name


def _header_text(text: str) -> str:
    """Text for an Excel header or footer, where & starts a code."""
    return text.replace("&", "&&")


def to_xlsx(
    items: Sequence[Item],
    meta: PageMeta,
    *,
    draw: Callable[[Sequence[Item]], Mapping[int, bytes | str]] | None = None,
) -> bytes:
    """The page as a workbook: a sheet per table, 图表, 说明; the watermark on every sheet."""
    items = titled(items)
    images = (draw or pictures)(items)
    buffer = io.BytesIO()
    book = export.safe_workbook(buffer)
    f = _Formats(book)
    used: set[str] = {"图表", "说明"}
    tables = [i for i in items if isinstance(i, TableItem)]
    for n, table in enumerate(tables, start=1):
        sheet = book.add_worksheet(_sheet_name(n, table.title, used))
        _marked(sheet, f, meta, table.title)
        _table_sheet(sheet, table, f)
    charts = [(i, item) for i, item in enumerate(items) if isinstance(item, ChartItem)]
    if charts:
        sheet = book.add_worksheet("图表")
        _marked(sheet, f, meta, "图表")
        sheet.set_column(0, 0, 120)
        row = 3
        for index, chart in charts:
            sheet.write_string(row, 0, chart.title, f.title)
            picture = images.get(index)
            if isinstance(picture, bytes):
                _, height = _png_size(picture)
                sheet.insert_image(
                    row + 1,
                    0,
                    f"chart{index}.png",
                    {"image_data": io.BytesIO(picture), "x_scale": 0.5, "y_scale": 0.5},
                )
                row += 3 + height // 2 // 20
            else:
                reason = f"（{picture}）" if picture else ""
                sheet.write_string(row + 1, 0, CHART_MISSING + reason, f.wrap)
                row += 3
    notes = book.add_worksheet("说明")
    _marked(notes, f, meta, "说明")
    notes.write_string(3, 0, "项目", f.header)
    notes.write_string(3, 1, "内容", f.header)
    for row, (key, value) in enumerate(notes_lines(items, meta), start=4):
        notes.write_string(row, 0, key)
        notes.write_string(row, 1, value, f.wrap)
    notes.set_column(0, 0, 26)
    notes.set_column(1, 1, 90)
    book.close()
    return buffer.getvalue()


class _Formats:
    def __init__(self, book: Any) -> None:
        self.header = book.add_format(
            {"bold": True, "bg_color": "#F2F2F2", "border": 1, "text_wrap": True, "valign": "top"}
        )
        self.title = book.add_format({"bold": True, "font_size": 12})
        self.mark = book.add_format({"font_color": "#A6A6A6", "italic": True, "font_size": 9})
        self.date = book.add_format({"num_format": "yyyy-mm-dd"})
        self.percent = book.add_format({"num_format": "0.00%"})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})


# Rows above a table: its title, the watermark note, a blank row; the header is row 3.
HEADER_ROW = 3


def _marked(sheet: Any, f: _Formats, meta: PageMeta, title: str) -> None:
    """The sheet's title and the watermark: a light note row on screen, and the printed
    header and footer of every page (A4 landscape)."""
    sheet.write_string(0, 0, f"{meta.page}：{title}", f.title)
    sheet.write_string(1, 0, f"{CONFIDENTIAL} ｜ {meta.watermark} ｜ {meta.header}", f.mark)
    mark = _header_text(meta.watermark)
    sheet.set_header(f"&L&9&K808080{_header_text(meta.page)}&R&9&K808080{mark}")
    sheet.set_footer(f"&L&9&K808080{_header_text(CONFIDENTIAL)} {mark}&R&9第 &P 页，共 &N 页")
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)


def _table_sheet(sheet: Any, item: TableItem, f: _Formats) -> None:
    shown = item.shown()
    if shown.height > export.MAX_XLSX_ROWS:
        shown = shown.head(export.MAX_XLSX_ROWS)
    for col, name in enumerate(shown.columns):
        sheet.write_string(HEADER_ROW, col, name, f.header)
        rate = not item.raw and export.is_rate(name)
        values = shown[name].to_list()
        for row, value in enumerate(values, start=HEADER_ROW + 1):
            export.write(
                sheet,
                row,
                col,
                value,
                rate=rate,
                date_format=f.date,
                percent=f.percent,
                wrap=f.wrap,
            )
        longest = max(
            [export.width(name)] + [export.width(str(v)) for v in values[:500] if v is not None]
        )
        sheet.set_column(col, col, min(max(longest + 2, 8), 60))
    if item.rows > shown.height:
        sheet.write_string(
            HEADER_ROW + shown.height + 2,
            0,
            f"共 {item.rows:,} 行，此处前 {shown.height:,} 行；完整数据请使用表格旁的导出。",
            f.mark,
        )
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    if shown.columns:
        sheet.autofilter(HEADER_ROW, 0, HEADER_ROW + max(shown.height, 1), len(shown.columns) - 1)


# -- PDF --------------------------------------------------------------------------------------


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        if column.endswith("(%)"):
            return f"{float(value):.2f}"
        if column.endswith("率"):
            return f"{float(value):.2f}%"
        return f"{float(value):,.2f}"
    return str(value)


def to_pdf(
    items: Sequence[Item],
    meta: PageMeta,
    *,
    draw: Callable[[Sequence[Item]], Mapping[int, bytes | str]] | None = None,
) -> bytes:
    """The page as an A4 landscape PDF with the watermark on every page."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import (
        BaseDocTemplate,
        Frame,
        Image,
        KeepTogether,
        LongTable,
        PageTemplate,
        Paragraph,
        Spacer,
        TableStyle,
    )

    if _FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_FONT))
    items = titled(items)
    images = (draw or pictures)(items)
    page_size = landscape(A4)
    margin = 12 * mm
    width = page_size[0] - 2 * margin

    def style(size: float, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(
            f"s{size}", fontName=_FONT, fontSize=size, leading=size * 1.35, wordWrap="CJK", **kw
        )

    title, heading, body, small = style(18), style(12.5), style(9.5), style(8)
    note = style(8, textColor=colors.HexColor("#666666"))

    def text(value: str, st: ParagraphStyle) -> Paragraph:
        return Paragraph(escape(value), st)

    story: list[Any] = [
        text(meta.page, title),
        Spacer(1, 3 * mm),
        text(meta.header, note),
        Spacer(1, 5 * mm),
    ]
    for index, item in enumerate(items):
        block: list[Any] = [text(item.title, heading), Spacer(1, 2 * mm)]
        if isinstance(item, TableItem):
            shown = item.shown()
            head = shown.head(PDF_ROWS)
            cell = small if len(shown.columns) > 8 else body
            if not shown.columns:
                block.append(text("（无数据）", note))
            parts = _column_parts(shown.columns)
            for n, columns in enumerate(parts, start=1):
                part = head.select(columns)
                rows = [[text(c, cell) for c in columns]] + [
                    [text(_cell(v, c), cell) for c, v in zip(columns, r, strict=True)]
                    for r in part.iter_rows()
                ]
                if len(parts) > 1:
                    block.append(text(f"（列较多，分 {len(parts)} 段显示：第 {n} 段）", note))
                grid = LongTable(rows, colWidths=_widths(part, width, 14 * mm), repeatRows=1)
                grid.setStyle(
                    TableStyle(
                        [
                            ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#BBBBBB")),
                            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#F2F2F2")),
                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("LEFTPADDING", (0, 0), (-1, -1), 3),
                            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                        ]
                    )
                )
                block.append(grid)
            if item.rows > head.height:
                block.append(text(f"共 {item.rows:,} 行，此处前 {head.height:,} 行", note))
        else:
            picture = images.get(index)
            if isinstance(picture, bytes):
                w, h = _png_size(picture)
                # As wide as the page allows, and no taller than a page below its heading.
                tallest = page_size[1] - 2 * margin - 20 * mm
                shown_w = min(width, 240 * mm, tallest * w / max(h, 1))
                shown_h = shown_w * h / max(w, 1)
                block.append(Image(io.BytesIO(picture), width=shown_w, height=shown_h))
            else:
                reason = f"（{picture}）" if picture else ""
                block.append(text(CHART_MISSING + reason, body))
        story.append(KeepTogether(block))
        story.append(Spacer(1, 6 * mm))
    lines = notes_lines(items, meta)
    notes_grid = LongTable(
        [[text(k, small), text(v, small)] for k, v in lines], colWidths=[50 * mm, width - 50 * mm]
    )
    notes_grid.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#BBBBBB")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [text("说明", heading), Spacer(1, 2 * mm), notes_grid]

    def decorate(canvas: Any, doc: Any) -> None:
        _watermark(canvas, page_size, meta)
        canvas.saveState()
        canvas.setFont(_FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#888888"))
        canvas.drawString(margin, 6 * mm, f"{CONFIDENTIAL} ｜ {meta.watermark}")
        canvas.drawRightString(page_size[0] - margin, 6 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=page_size, title=f"{meta.page}（导出）", author=meta.user
    )
    frame = Frame(margin, margin, width, page_size[1] - 2 * margin, id="body")
    # Drawn when the page is done, so the watermark lies over the tables and pictures.
    doc.addPageTemplates([PageTemplate("page", [frame], onPageEnd=decorate)])
    doc.build(story)
    return buffer.getvalue()


def _column_parts(columns: Sequence[str]) -> list[list[str]]:
    """The columns of a table too wide for one page, in parts of at most PDF_COLUMNS, each
    part after the first repeating the first column (the unit or round the row is about)."""
    if len(columns) <= PDF_COLUMNS:
        return [list(columns)] if columns else []
    first, rest = columns[0], list(columns[1:])
    step = PDF_COLUMNS - 1
    return [[first, *rest[i : i + step]] for i in range(0, len(rest), step)]


def _widths(frame: pl.DataFrame, total: float, least: float) -> list[float]:
    """Column widths in proportion to their content (header and first rows, capped), none
    narrower than `least`, so a wide table wraps inside the page instead of running off its
    right edge."""
    weights = []
    for name in frame.columns:
        values = [_cell(v, name) for v in frame[name].head(PDF_ROWS).to_list()]
        longest = max([export.width(name) / 2] + [export.width(v) for v in values])
        weights.append(float(min(max(longest, 4), 40)))
    narrow: set[int] = set()
    while len(narrow) < len(weights):
        free = total - least * len(narrow)
        wide = sum(w for i, w in enumerate(weights) if i not in narrow)
        widths = [least if i in narrow else w * free / wide for i, w in enumerate(weights)]
        more = {i for i, w in enumerate(widths) if w < least} - narrow
        if not more:
            return widths
        narrow |= more
    return [total / len(weights)] * len(weights)


def _watermark(canvas: Any, size: tuple[float, float], meta: PageMeta) -> None:
    """The watermark repeated diagonally across the page, light enough to read through."""
    canvas.saveState()
    canvas.setFont(_FONT, 16)
    canvas.setFillColorRGB(0.5, 0.5, 0.5)
    canvas.setFillAlpha(0.13)
    for x in (0.25, 0.75):
        for y in (0.25, 0.72):
            canvas.saveState()
            canvas.translate(size[0] * x, size[1] * y)
            canvas.rotate(28)
            canvas.drawCentredString(0, 0, meta.watermark)
            canvas.restoreState()
    canvas.restoreState()
