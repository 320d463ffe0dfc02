"""The leadership briefing (领导简报) as a Word document in the official layout of Chinese
Party and government documents (GB/T 9704 in spirit).

Public API
----------
``write_docx(briefing, *, chart_images=None, charts_note=None) -> bytes``
    Lay a ``Briefing`` out as .docx bytes. ``chart_images`` maps a chart's index (its place
    among the briefing's Chart blocks in document order, see
    ``xuncha.briefing.render.charts_in_order``) to PNG bytes. A chart without a picture is
    left out (its data is in the tables); then one line under the title says so:
    ``charts_note`` when given, else ``render.NOTE_NO_CHARTS`` / ``NOTE_SOME_CHARTS``.
    Pure layout: no browser, no network, no files.
``briefing_docx(briefing) -> tuple[bytes, str | None]``
    Draw the charts (``render.render_charts``) and write the document; also returns the
    charts note (None when every chart was drawn) so a page can show it.
``format_cell(value, fmt) -> str``
    How a table cell is written: "int" → plain integer (no thousands separator), "rate" →
    "98.71%" (the value is already a percentage), "number" → at most two decimals, "text" →
    as is; None (and NaN) → "—".
``heading_label(level, number) -> str``
    "一、" / "（一）" / "1." for levels 1, 2, 3.

Layout: A4 portrait, margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm. The marking
(内部资料 注意保密) top left of the first page in 黑体 三号; the title centred in 方正小标宋简体
二号; subtitle lines in 楷体_GB2312 三号; headings numbered by the writer from
``Section.level`` (level 2 restarts under each level 1, level 3 under each level 2) in Word's
Heading 1/2/3 styles (so the navigation pane works) restyled 黑体 / 楷体_GB2312 / 仿宋_GB2312
bold, 16 pt, black; body text 仿宋_GB2312 三号, first line indented two characters, fixed
28.95 pt line spacing (22 lines a page). Every run and every style names its Chinese font as
the east-Asian font (``w:rFonts/@w:eastAsia``) and Times New Roman for Latin text. The footer
carries "— N —" (a PAGE field) and ``briefing.footer_text()``.

All text is written as literal text: nothing is parsed as a field, formula or markup, and
characters XML cannot hold are dropped.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Mapping
from typing import Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Mm, Pt, RGBColor
from docx.styles.style import ParagraphStyle
from docx.table import Table as DocxTable
from docx.table import _Cell
from docx.text.paragraph import Paragraph as DocxParagraph
from docx.text.run import Run

from xuncha.briefing import render
from xuncha.briefing.model import Briefing, Chart, Paragraph, Table

# -- fonts and sizes --------------------------------------------------------------------------

LATIN_FONT = "Times New Roman"
TITLE_FONT = "方正小标宋简体"
FANGSONG = "仿宋_GB2312"
KAITI = "楷体_GB2312"
HEITI = "黑体"
SONGTI = "宋体"

SIZE_TITLE = Pt(22)  # 二号
SIZE_BODY = Pt(16)  # 三号
SIZE_TABLE_CAPTION = Pt(14)  # 四号
SIZE_PAGE_NUMBER = Pt(14)  # 四号
SIZE_FIGURE_CAPTION = Pt(12)  # 小四
SIZE_TABLE = Pt(12)  # 小四, tables of up to WIDE_TABLE columns
SIZE_TABLE_WIDE = Pt(10.5)  # 五号
SIZE_NOTE = Pt(10.5)  # 五号
SIZE_FOOTER = Pt(10.5)
WIDE_TABLE = 6
CELL_PADDING = 14.0  # points: Word's default cell margins (2 × 5.4 pt) and some room
KEEP_TOGETHER_ROWS = 15  # tables of at most this many rows (header and total included)

LINE_BODY = Pt(28.95)  # 22 lines on the 225 mm type area
INDENT_BODY = Pt(32)  # two characters of 三号
PICTURE_WIDTH = Cm(15.5)
BLACK = RGBColor(0, 0, 0)
ZERO = Pt(0)

PAGE_WIDTH, PAGE_HEIGHT = Mm(210), Mm(297)
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = Mm(37), Mm(35), Mm(28), Mm(26)
TEXT_WIDTH = Emu(PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT)

NUMERIC_FORMATS = frozenset({"int", "rate", "number"})
EMPTY_CELL = "—"

# Style names (Word shows them in its style gallery).
S_TITLE = "Briefing Title"
S_SUBTITLE = "Briefing Subtitle"
S_MARKING = "Briefing Marking"
S_NOTE = "Briefing Note"
S_BODY = "Briefing Body"
S_TABLE_CAPTION = "Briefing Table Caption"
S_TABLE_TEXT = "Briefing Table Text"
S_TABLE_NOTE = "Briefing Table Note"
S_FIGURE = "Briefing Figure"
S_FIGURE_CAPTION = "Briefing Figure Caption"
S_FOOTER = "Briefing Footer"
S_PAGE_NUMBER = "Briefing Page Number"

# Characters XML 1.0 cannot hold (lxml refuses them); tabs and newlines are kept.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: object) -> str:
    return _XML_INVALID.sub("", str(text)).replace("\r\n", "\n").replace("\r", "\n")


# -- numbers ----------------------------------------------------------------------------------

_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 99 → 九十九; other numbers in Arabic digits."""
    if 1 <= n <= 9:
        return _DIGITS[n]
    if 10 <= n <= 99:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")
    return str(n)


def heading_label(level: int, number: int) -> str:
    if level <= 1:
        return f"{chinese_numeral(number)}、"
    if level == 2:
        return f"（{chinese_numeral(number)}）"
    return f"{number}."


def format_cell(value: Any, fmt: str = "text") -> str:
    if value is None:
        return EMPTY_CELL
    if isinstance(value, bool) or not isinstance(value, int | float):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return EMPTY_CELL
    if fmt == "int":
        return str(round(value))
    if fmt == "rate":
        return f"{value:.2f}%"
    if fmt == "number":
        if isinstance(value, int):
            return str(value)
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    return str(value)


# -- low-level formatting -----------------------------------------------------------------------


def _set_fonts(rpr: Any, east_asia: str) -> None:
    """Name the Chinese font as east-Asian font and Times New Roman for Latin text; theme
    fonts (which would win over named fonts) are removed."""
    rfonts = rpr.get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:ascii"), LATIN_FONT)
    rfonts.set(qn("w:hAnsi"), LATIN_FONT)
    rfonts.set(qn("w:cs"), LATIN_FONT)
    rfonts.set(qn("w:eastAsia"), east_asia)
    rfonts.set(qn("w:hint"), "eastAsia")


def _add_run(
    paragraph: DocxParagraph,
    text: str = "",
    *,
    font: str,
    size: Pt | None = None,
    bold: bool | None = None,
) -> Run:
    run = paragraph.add_run(clean_text(text) if text else None)
    _set_fonts(run._r.get_or_add_rPr(), font)
    if size is not None:
        run.font.size = size
    if bold is not None:
        run.font.bold = bold
    return run


def _add_paragraph(
    doc: DocumentObject | _Cell | Any,
    text: str,
    style: str,
    *,
    font: str,
    size: Pt | None = None,
    bold: bool | None = None,
) -> DocxParagraph:
    paragraph: DocxParagraph = doc.add_paragraph(style=style)
    _add_run(paragraph, text, font=font, size=size, bold=bold)
    return paragraph


def _first_line_indent(pformat: Any, chars: int) -> None:
    """Indent the first line by ``chars`` characters (Word's firstLineChars), with the same
    indent in points for programs that ignore character units."""
    pformat.first_line_indent = Pt(16 * chars)
    ind = pformat.element.get_or_add_pPr().get_or_add_ind()
    ind.set(qn("w:firstLineChars"), str(100 * chars))


def _style(
    doc: DocumentObject,
    name: str,
    *,
    font: str,
    size: Pt,
    bold: bool = False,
    align: WD_ALIGN_PARAGRAPH | None = None,
    line: Pt | None = LINE_BODY,
    indent_chars: int = 0,
    before: Pt = ZERO,
    after: Pt = ZERO,
    keep_with_next: bool = False,
) -> ParagraphStyle:
    styles = doc.styles
    try:
        style = styles[name]
    except KeyError:
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = styles["Normal"]
        style.quick_style = True
    assert isinstance(style, ParagraphStyle)
    _set_fonts(style.element.get_or_add_rPr(), font)
    style.font.size = size
    style.font.bold = bold
    style.font.color.rgb = BLACK
    pf = style.paragraph_format
    if align is not None:
        pf.alignment = align
    if line is None:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    else:
        pf.line_spacing = line  # a length: exact spacing
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.space_before = before
    pf.space_after = after
    pf.keep_with_next = keep_with_next
    if indent_chars:
        _first_line_indent(pf, indent_chars)
    else:
        pf.first_line_indent = Pt(0)
    return style


def _restyle_heading(doc: DocumentObject, level: int, font: str, bold: bool) -> None:
    style = doc.styles[f"Heading {level}"]
    rpr = style.element.get_or_add_rPr()
    _set_fonts(rpr, font)
    color = rpr.find(qn("w:color"))
    if color is not None:
        rpr.remove(color)
    style.font.color.rgb = BLACK
    style.font.size = SIZE_BODY
    style.font.bold = bold
    style.font.italic = False
    pf = style.paragraph_format
    pf.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    pf.line_spacing = LINE_BODY
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    pf.keep_with_next = True
    _first_line_indent(pf, 2)
    # Outline level (0-based) for the navigation pane and a table of contents; the template
    # already has it, set it again so it does not depend on the template.
    ppr = style.element.get_or_add_pPr()
    outline = ppr.find(qn("w:outlineLvl"))
    if outline is None:
        outline = OxmlElement("w:outlineLvl")
        ppr.append(outline)
    outline.set(qn("w:val"), str(level - 1))


def _setup_styles(doc: DocumentObject) -> None:
    # Document defaults: 仿宋 三号, Chinese language for line breaking, no space after.
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr = defaults.find(qn("w:rPrDefault") + "/" + qn("w:rPr"))
        if rpr is not None:
            _set_fonts(rpr, FANGSONG)
            lang = rpr.find(qn("w:lang"))
            if lang is not None:
                lang.set(qn("w:eastAsia"), "zh-CN")
        spacing = defaults.find(qn("w:pPrDefault") + "/" + qn("w:pPr") + "/" + qn("w:spacing"))
        if spacing is not None:
            spacing.set(qn("w:after"), "0")
    normal = doc.styles["Normal"]
    assert isinstance(normal, ParagraphStyle)
    _set_fonts(normal.element.get_or_add_rPr(), FANGSONG)
    normal.font.size = SIZE_BODY
    normal.font.color.rgb = BLACK
    normal.paragraph_format.line_spacing = LINE_BODY
    normal.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.widow_control = True

    _restyle_heading(doc, 1, HEITI, bold=False)
    _restyle_heading(doc, 2, KAITI, bold=False)
    _restyle_heading(doc, 3, FANGSONG, bold=True)

    center, left = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.LEFT
    _style(doc, S_MARKING, font=HEITI, size=SIZE_BODY, align=left)
    # The title may wrap: single spacing so two lines of 二号 are not clipped.
    _style(
        doc,
        S_TITLE,
        font=TITLE_FONT,
        size=SIZE_TITLE,
        align=center,
        line=None,
        before=Pt(24),
        after=Pt(12),
    )
    _style(doc, S_SUBTITLE, font=KAITI, size=SIZE_BODY, align=center)
    _style(doc, S_NOTE, font=KAITI, size=SIZE_TABLE_CAPTION, align=center)
    _style(
        doc, S_BODY, font=FANGSONG, size=SIZE_BODY, align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent_chars=2
    )
    _style(
        doc,
        S_TABLE_CAPTION,
        font=HEITI,
        size=SIZE_TABLE_CAPTION,
        align=center,
        line=None,
        before=Pt(6),
        after=Pt(6),
        keep_with_next=True,
    )
    _style(doc, S_TABLE_TEXT, font=FANGSONG, size=SIZE_TABLE, line=None)
    _style(
        doc,
        S_TABLE_NOTE,
        font=FANGSONG,
        size=SIZE_NOTE,
        align=left,
        line=None,
        before=Pt(3),
        after=Pt(8),
    )
    # A picture in a paragraph with exact line spacing would be cut to one line's height.
    _style(
        doc,
        S_FIGURE,
        font=FANGSONG,
        size=SIZE_BODY,
        align=center,
        line=None,
        before=Pt(6),
        keep_with_next=True,
    )
    _style(
        doc,
        S_FIGURE_CAPTION,
        font=HEITI,
        size=SIZE_FIGURE_CAPTION,
        align=center,
        line=None,
        before=Pt(3),
        after=Pt(8),
    )
    _style(doc, S_PAGE_NUMBER, font=SONGTI, size=SIZE_PAGE_NUMBER, align=center, line=None)
    _style(doc, S_FOOTER, font=FANGSONG, size=SIZE_FOOTER, align=center, line=None)


def _setup_page(doc: DocumentObject) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.top_margin, section.bottom_margin = MARGIN_TOP, MARGIN_BOTTOM
    section.left_margin, section.right_margin = MARGIN_LEFT, MARGIN_RIGHT
    section.header_distance = Mm(15)
    section.footer_distance = Mm(15)
    section.gutter = Mm(0)


def _add_field(paragraph: DocxParagraph, instruction: str, placeholder: str, font: str) -> None:
    """A complex field (begin / instruction / separate / result / end), e.g. PAGE."""

    def fld_char(kind: str) -> None:
        run = _add_run(paragraph, font=font)
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        run._r.append(element)

    fld_char("begin")
    run = _add_run(paragraph, font=font)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run._r.append(instr)
    fld_char("separate")
    _add_run(paragraph, placeholder, font=font)
    fld_char("end")


def _setup_footer(doc: DocumentObject, briefing: Briefing) -> None:
    footer = doc.sections[0].footer
    footer.is_linked_to_previous = False
    number = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
    number.style = doc.styles[S_PAGE_NUMBER]
    _add_run(number, "— ", font=SONGTI)
    _add_field(number, "PAGE", "1", SONGTI)
    _add_run(number, " —", font=SONGTI)
    text = briefing.footer_text()
    if text:
        _add_paragraph(footer, text, S_FOOTER, font=FANGSONG)


def _core_properties(doc: DocumentObject, briefing: Briefing) -> None:
    meta = briefing.meta
    props = doc.core_properties
    user = str(meta.get("user") or "")
    props.title = clean_text(briefing.title)
    props.subject = clean_text(briefing.scope_text)
    props.author = clean_text(user)
    props.last_modified_by = clean_text(user)
    props.category = clean_text(briefing.marking)
    details = []
    keywords = ["巡察", "领导简报"]
    for key, label in (
        ("briefing_id", "简报编号"),
        ("data_version", "数据版本"),
        ("config_name", "研判配置"),
        ("generated_at", "生成时间"),
    ):
        value = meta.get(key)
        if value not in (None, ""):
            details.append(f"{label}：{value}")
            if key in ("data_version", "config_name"):
                keywords.append(f"{label}:{value}")
    if briefing.as_of:
        details.append(f"数据截至：{briefing.as_of}")
    props.comments = clean_text("；".join(details))
    props.keywords = clean_text("；".join(keywords))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    generated = meta.get("generated_at")
    created = now
    if isinstance(generated, str):
        try:
            parsed = dt.datetime.fromisoformat(generated)
        except ValueError:
            pass
        else:
            # Core properties are written as UTC (python-docx appends "Z" to the time).
            created = parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed
    props.created = created
    props.modified = now
    props.revision = 1


# -- blocks -----------------------------------------------------------------------------------


def _text_points(text: str, size: float) -> float:
    """Approximate printed width: CJK and full-width characters one em, others 0.6 em."""
    return sum(size if ord(ch) > 0x2E7F else 0.6 * size for ch in text)


def column_widths(
    header: list[str], rows: list[list[str]], formats: list[str], size: float
) -> list[int]:
    """Column widths (EMU) adding up to the text width. Numbers never wrap (their headers may,
    onto two lines); text columns take the rest in proportion to what they would need on one
    line, down to four characters."""
    total = TEXT_WIDTH.pt
    natural, least = [], []
    for c, fmt in enumerate(formats):
        value = max((_text_points(r[c], size) for r in rows), default=0.0)
        head = _text_points(header[c], size * 1.05)  # bold
        natural.append(max(value, head) + CELL_PADDING)
        if fmt in NUMERIC_FORMATS:
            least.append(max(value, head / 2 + size / 2) + CELL_PADDING)
        else:
            least.append(min(max(value, head), 4 * size) + CELL_PADDING)
    if sum(natural) <= total:
        points = [w * total / sum(natural) for w in natural]
    elif sum(least) < total:
        room = total - sum(least)
        slack = [n - m for n, m in zip(natural, least, strict=True)]
        points = [m + room * s / sum(slack) for m, s in zip(least, slack, strict=True)]
    else:  # too many columns for the page: everything shrinks and wraps
        points = [w * total / sum(least) for w in least]
    widths = [int(Pt(w)) for w in points]
    widths[-1] += int(TEXT_WIDTH) - sum(widths)
    return widths


def _set_table_borders(table: DocxTable) -> None:
    tbl_pr = table._tbl.tblPr
    borders = tbl_pr.find(qn("w:tblBorders"))
    if borders is None:
        borders = OxmlElement("w:tblBorders")
        tbl_pr.append(borders)
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = borders.find(qn(f"w:{edge}"))
        if element is None:
            element = OxmlElement(f"w:{edge}")
            borders.append(element)
        element.set(qn("w:val"), "single")
        element.set(qn("w:sz"), "6" if edge.startswith("inside") else "8")
        element.set(qn("w:space"), "0")
        element.set(qn("w:color"), "000000")


def _row_properties(row: Any, *, header: bool) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    cant_split = OxmlElement("w:cantSplit")
    tr_pr.append(cant_split)
    if header:
        tbl_header = OxmlElement("w:tblHeader")
        tbl_header.set(qn("w:val"), "true")
        tr_pr.append(tbl_header)


def _fill_cell(
    cell: _Cell, text: str, *, style_id: str, size: Pt, bold: bool, align: Any, width: int
) -> None:
    cell.width = Emu(width)
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    paragraph = cell.paragraphs[0]
    # The style by id: python-docx's lookup by name scans every style, for every cell.
    paragraph._p.get_or_add_pPr().style = style_id
    paragraph.alignment = align
    _add_run(paragraph, text, font=FANGSONG, size=size, bold=bold)


def _write_table(doc: DocumentObject, table: Table) -> None:
    n = len(table.columns)
    if n == 0:
        return
    formats = [table.formats[i] if i < len(table.formats) else "text" for i in range(n)]

    def cells(values: list[Any]) -> list[str]:
        padded = list(values[:n]) + [None] * (n - len(values))
        return [format_cell(v, f) for v, f in zip(padded, formats, strict=True)]

    header = [clean_text(c) for c in table.columns]
    body = [cells(r) for r in table.rows]
    total = cells(table.total) if table.total is not None else None
    size = SIZE_TABLE if n <= WIDE_TABLE else SIZE_TABLE_WIDE
    widths = column_widths(header, [*body, *([total] if total else [])], formats, size.pt)

    if table.caption:
        _add_paragraph(doc, table.caption, S_TABLE_CAPTION, font=HEITI)
    out = doc.add_table(rows=0, cols=n)
    out.style = doc.styles["Table Grid"]
    out.alignment = WD_TABLE_ALIGNMENT.CENTER
    out.autofit = False
    _set_table_borders(out)
    for col, width in zip(out.columns, widths, strict=True):
        col.width = Emu(width)

    center = WD_ALIGN_PARAGRAPH.CENTER
    aligns = [
        WD_ALIGN_PARAGRAPH.RIGHT if f in NUMERIC_FORMATS else WD_ALIGN_PARAGRAPH.LEFT
        for f in formats
    ]
    lines = [(header, True, [center] * n), *((r, False, aligns) for r in body)]
    if total is not None:
        lines.append((total, True, aligns))
    # A short table stays on one page with its caption: every row is kept with the next.
    keep = len(lines) <= KEEP_TOGETHER_ROWS
    style_id = doc.styles[S_TABLE_TEXT].style_id
    for number, (values, bold, row_aligns) in enumerate(lines):
        row = out.add_row()
        _row_properties(row, header=number == 0)
        last = number == len(lines) - 1
        for cell, text, align, width in zip(row.cells, values, row_aligns, widths, strict=True):
            _fill_cell(
                cell, text, style_id=style_id, size=size, bold=bold, align=align, width=width
            )
            if keep and not last:
                cell.paragraphs[0].paragraph_format.keep_with_next = True
    if table.note:
        _add_paragraph(doc, table.note, S_TABLE_NOTE, font=FANGSONG)
    else:
        # Keeps the next paragraph off the table's bottom border (and two tables apart).
        doc.add_paragraph(style=S_TABLE_NOTE)


def _write_chart(doc: DocumentObject, chart: Chart, png: bytes) -> None:
    picture = doc.add_paragraph(style=S_FIGURE)
    run = _add_run(picture, font=FANGSONG)
    run.add_picture(io.BytesIO(png), width=PICTURE_WIDTH)
    if chart.caption:
        _add_paragraph(doc, chart.caption, S_FIGURE_CAPTION, font=HEITI)


def _write_paragraph(doc: DocumentObject, paragraph: Paragraph) -> None:
    for line in clean_text(paragraph.text).split("\n"):
        if line.strip():
            _add_paragraph(doc, line.strip(), S_BODY, font=FANGSONG)


# -- the document -----------------------------------------------------------------------------


def write_docx(
    briefing: Briefing,
    *,
    chart_images: Mapping[int, bytes] | None = None,
    charts_note: str | None = None,
) -> bytes:
    images = dict(chart_images or {})
    charts = render.charts_in_order(briefing)
    missing = sum(1 for i in range(len(charts)) if i not in images)
    if missing and not charts_note:
        charts_note = (
            render.NOTE_NO_CHARTS
            if missing == len(charts)
            else render.NOTE_SOME_CHARTS.format(n=missing)
        )

    doc = Document()
    _setup_styles(doc)
    _setup_page(doc)
    _setup_footer(doc, briefing)
    _core_properties(doc, briefing)

    # python-docx's template starts with one empty paragraph: use it for the marking.
    first = doc.paragraphs[0] if doc.paragraphs else doc.add_paragraph()
    first.style = doc.styles[S_MARKING]
    if briefing.marking:
        _add_run(first, briefing.marking, font=HEITI)
    _add_paragraph(doc, briefing.title, S_TITLE, font=TITLE_FONT)
    for line in briefing.subtitle_lines:
        _add_paragraph(doc, line, S_SUBTITLE, font=KAITI)
    if missing and charts_note:
        _add_paragraph(doc, charts_note, S_NOTE, font=KAITI)
    doc.add_paragraph(style="Normal")  # one blank line before the text

    counters = [0, 0, 0]
    chart_index = 0
    for section in briefing.sections:
        level = min(max(section.level, 1), 3)
        counters[level - 1] += 1
        for deeper in range(level, 3):
            counters[deeper] = 0
        label = heading_label(level, counters[level - 1])
        heading = doc.add_paragraph(style=doc.styles[f"Heading {level}"])
        _add_run(heading, label + section.heading, font=(HEITI, KAITI, FANGSONG)[level - 1])
        for block in section.blocks:
            if isinstance(block, Paragraph):
                _write_paragraph(doc, block)
            elif isinstance(block, Table):
                _write_table(doc, block)
            elif isinstance(block, Chart):
                png = images.get(chart_index)
                chart_index += 1
                if png:
                    _write_chart(doc, block, png)

    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def briefing_docx(briefing: Briefing) -> tuple[bytes, str | None]:
    images, note = render.render_charts(briefing)
    return write_docx(briefing, chart_images=images, charts_note=note), note
