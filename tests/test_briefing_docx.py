"""The leadership briefing as a Word document: numbering, tables, fonts, page, footer, chart
pictures (real kaleido + Chromium) and the PDF/PNG preview (real LibreOffice + poppler).

The briefing is the hand-made one of scripts/briefing_sample.py (loaded by path: scripts/ is
not a package); every expected value below is written out by hand from that data.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import docx as python_docx
import pytest
from docx.document import Document as DocumentObject
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt

from xuncha.briefing import docx as briefing_docx
from xuncha.briefing import render
from xuncha.briefing.model import Briefing, Chart, Paragraph, Section

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "xuncha_briefing_sample", ROOT / "scripts/briefing_sample.py"
)
assert _spec is not None and _spec.loader is not None
sample: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sample)

CJK = re.compile("[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

HEADINGS = [
    ("Heading 1", "一、总体情况"),
    ("Heading 2", "（一）问题分布"),
    ("Heading 3", "1.重点领域"),
    ("Heading 2", "（二）整改进展"),
    ("Heading 3", "1.逾期未完成情况"),
    ("Heading 1", "二、下步工作建议"),
    ("Heading 2", "（一）压实整改主体责任"),
    ("Heading 3", "1.建立整改台账"),
]
TABLE_1 = [
    ["单位", "问题数", "已完成整改", "整改完成率", "平均整改天数"],
    ["市财政局", "18", "17", "94.44%", "35.5"],
    ["市住建局", "15", "12", "80.00%", "48.25"],
    ["市教育局", "13", "13", "100.00%", "29"],
    ["市卫健委", "11", "8", "72.73%", "—"],
    ["合计", "57", "50", "87.72%", "38.92"],
]
NO_CHARTS = "（本机无法生成图表图片，本简报仅含表格。）"
FOOTER = "范围：第一轮 市直部门｜截至 2026-11-25｜内部资料 注意保密"


def _need(what: str, present: bool, reason: str) -> None:
    """Skip on a developer machine without the tool; fail in CI, which installs it."""
    if present:
        return
    message = f"{what} is missing: {reason} (scripts/setup.sh --browser installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _open(data: bytes) -> DocumentObject:
    return python_docx.Document(io.BytesIO(data))


@pytest.fixture(scope="module")
def briefing() -> Briefing:
    return sample.sample_briefing()


@pytest.fixture(scope="module")
def tables_only(briefing: Briefing) -> bytes:
    return briefing_docx.write_docx(briefing, chart_images={})


@pytest.fixture(scope="module")
def with_charts(briefing: Briefing) -> tuple[bytes, dict[int, bytes], str | None]:
    _need("Chromium", render.find_browser() is not None, "no /usr/bin/chromium")
    images, note = render.render_charts(briefing)
    return briefing_docx.write_docx(briefing, chart_images=images, charts_note=note), images, note


# -- numbering and text ------------------------------------------------------------------------


def test_headings_are_numbered_by_level_and_restart(tables_only: bytes) -> None:
    doc = _open(tables_only)
    headings = [
        (p.style.name, p.text)
        for p in doc.paragraphs
        if p.style is not None and p.style.name.startswith("Heading")
    ]
    assert headings == HEADINGS
    # Real heading styles with outline levels (navigation pane), restyled black.
    for level, font, bold in (
        (1, "黑体", False),
        (2, "楷体_GB2312", False),
        (3, "仿宋_GB2312", True),
    ):
        style = doc.styles[f"Heading {level}"]
        ppr = style.element.find(qn("w:pPr"))
        assert ppr is not None
        assert ppr.find(qn("w:outlineLvl")).get(qn("w:val")) == str(level - 1)
        rfonts = style.element.find(qn("w:rPr")).find(qn("w:rFonts"))
        assert rfonts.get(qn("w:eastAsia")) == font
        assert rfonts.get(qn("w:asciiTheme")) is None
        assert style.font.size == Pt(16)
        assert bool(style.font.bold) is bold
        assert str(style.font.color.rgb) == "000000"
        assert style.font.color.theme_color is None


def test_title_marking_subtitles_and_body(tables_only: bytes) -> None:
    doc = _open(tables_only)
    texts = [p.text for p in doc.paragraphs]
    assert texts[:4] == [
        "内部资料 注意保密",
        "关于2026年第一轮巡察整改情况的报告",
        "（截至2026年11月25日）",
        "市委巡察办",
    ]
    marking, title, subtitle = doc.paragraphs[0], doc.paragraphs[1], doc.paragraphs[2]
    assert _east_asia(marking.runs[0]) == "黑体"
    assert _east_asia(title.runs[0]) == "方正小标宋简体"
    assert title.style.font.size == Pt(22)
    assert title.style.paragraph_format.alignment == 1  # centred
    assert _east_asia(subtitle.runs[0]) == "楷体_GB2312"
    assert subtitle.style.font.size == Pt(16)

    body = next(p for p in doc.paragraphs if p.text.startswith("本轮巡察"))
    assert _east_asia(body.runs[0]) == "仿宋_GB2312"
    pf = body.style.paragraph_format
    assert body.style.font.size == Pt(16)
    assert pf.first_line_indent == Pt(32)
    assert pf.line_spacing_rule == 4  # WD_LINE_SPACING.EXACTLY
    assert Pt(28) <= pf.line_spacing <= Pt(29)
    # A written paragraph with a line break becomes two indented paragraphs.
    assert "督促被巡察党组织书记切实履行第一责任人职责。" in texts
    assert "对整改滞后的单位开展约谈。" in texts


def test_text_is_written_literally(tables_only: bytes) -> None:
    doc = _open(tables_only)
    expected = (
        '台账备注原文：=HYPERLINK("x") 与 <b>加粗</b>、{ PAGE }、&amp; 及控制符，均应按原样显示。'
    )
    assert expected in [p.text for p in doc.paragraphs]
    body = doc.element.body
    # No field, hyperlink or bold run came out of the text: the only field is in the footer.
    assert body.findall(f".//{W}instrText") == []
    assert body.findall(f".//{W}fldSimple") == []
    assert body.findall(f".//{W}hyperlink") == []
    nasty = next(p for p in doc.paragraphs if p.text == expected)
    assert all(not r.bold for r in nasty.runs)


# -- tables -------------------------------------------------------------------------------------


def _cell_texts(table: Any) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


def test_table_cells_formats_total_and_header(tables_only: bytes) -> None:
    doc = _open(tables_only)
    table = doc.tables[0]
    assert _cell_texts(table) == TABLE_1
    # Caption above, note below.
    body = list(doc.element.body)
    at = body.index(table._tbl)
    assert body[at - 1].xpath("string(.)") == "表1 各单位整改进展"
    assert body[at + 1].xpath("string(.)").startswith("注：整改完成率")
    caption = python_docx.text.paragraph.Paragraph(body[at - 1], doc)
    assert _east_asia(caption.runs[0]) == "黑体"
    assert caption.style.font.size == Pt(14)
    # Header row bold and repeated on every page; total row bold; other rows not.
    header, *rows, total = table.rows
    assert header._tr.trPr.find(qn("w:tblHeader")) is not None
    assert all(r._tr.trPr is None or r._tr.trPr.find(qn("w:tblHeader")) is None for r in rows)
    assert all(run.bold for c in header.cells for run in c.paragraphs[0].runs)
    assert all(run.bold for c in total.cells for run in c.paragraphs[0].runs)
    assert not any(run.bold for r in rows for c in r.cells for run in c.paragraphs[0].runs)
    # Numbers right-aligned, text left.
    first = rows[0].cells
    assert first[0].paragraphs[0].alignment == 0  # left
    assert [c.paragraphs[0].alignment for c in first[1:]] == [2, 2, 2, 2]  # right
    # Table text: 仿宋 at 10.5–12 pt, with grid borders.
    run = first[0].paragraphs[0].runs[0]
    assert _east_asia(run) == "仿宋_GB2312"
    assert Pt(10.5) <= (run.font.size or first[0].paragraphs[0].style.font.size) <= Pt(12)
    # A short table is kept on one page with its caption.
    assert caption.paragraph_format.keep_with_next or caption.style.paragraph_format.keep_with_next
    kept = [
        all(c.paragraphs[0].paragraph_format.keep_with_next for c in r.cells) for r in table.rows
    ]
    assert kept == [True] * 5 + [False]
    borders = table._tbl.tblPr.find(qn("w:tblBorders"))
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        assert borders.find(qn(f"w:{edge}")).get(qn("w:val")) == "single"

    second = doc.tables[1]
    assert _cell_texts(second) == [
        ["问题类别", "问题数", "占比"],
        ["政治纪律", "12", "21.05%"],
        ["廉洁纪律", "25", "43.86%"],
        ["工作纪律", "20", "35.09%"],
        ["合计", "57", "100.00%"],
    ]


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (None, "int", "—"),
        (None, "rate", "—"),
        (12345, "int", "12345"),
        (12.0, "int", "12"),
        (98.71, "rate", "98.71%"),
        (80, "rate", "80.00%"),
        (0.005, "rate", "0.01%"),
        (3.456, "number", "3.46"),
        (4.0, "number", "4"),
        (2.5, "number", "2.5"),
        (7, "number", "7"),
        (float("nan"), "number", "—"),
        ("合计", "int", "合计"),
        ("市财政局", "text", "市财政局"),
        ("=SUM(A1)", "text", "=SUM(A1)"),
    ],
)
def test_format_cell(value: Any, fmt: str, text: str) -> None:
    assert briefing_docx.format_cell(value, fmt) == text


def test_chinese_numbers() -> None:
    expected = {1: "一", 9: "九", 10: "十", 11: "十一", 20: "二十", 23: "二十三", 99: "九十九"}
    assert {n: briefing_docx.chinese_numeral(n) for n in expected} == expected
    assert briefing_docx.heading_label(1, 12) == "十二、"
    assert briefing_docx.heading_label(2, 3) == "（三）"
    assert briefing_docx.heading_label(3, 4) == "4."


# -- fonts, page, footer, properties --------------------------------------------------------


def _east_asia(run: Any) -> str | None:
    rpr = run._r.rPr
    rfonts = rpr.find(qn("w:rFonts")) if rpr is not None else None
    return rfonts.get(qn("w:eastAsia")) if rfonts is not None else None


def _parts_xml(doc: DocumentObject) -> list[Any]:
    section = doc.sections[0]
    return [doc.element.body, section.footer._element, section.header._element]


def test_every_chinese_run_names_an_east_asian_font(tables_only: bytes) -> None:
    doc = _open(tables_only)
    checked = 0
    for root in _parts_xml(doc):
        for r in root.iter(f"{W}r"):
            text = "".join(t.text or "" for t in r.iter(f"{W}t"))
            if not CJK.search(text):
                continue
            rfonts = r.find(f"{W}rPr/{W}rFonts")
            assert rfonts is not None, text
            assert rfonts.get(qn("w:eastAsia")), text
            assert (
                rfonts.get(qn("w:asciiTheme")) is None and rfonts.get(qn("w:eastAsiaTheme")) is None
            )
            checked += 1
    assert checked > 40
    # The styles too (text typed into the document later in Word gets them).
    names = ["Normal", "Heading 1", "Heading 2", "Heading 3", briefing_docx.S_TABLE_TEXT]
    for name in names:
        rfonts = doc.styles[name].element.find(f"{W}rPr/{W}rFonts")
        assert rfonts is not None and rfonts.get(qn("w:eastAsia")), name
    defaults = doc.styles.element.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}rFonts")
    assert defaults.get(qn("w:eastAsia")) == "仿宋_GB2312"


def test_page_is_a4_portrait_with_official_margins(tables_only: bytes) -> None:
    section = _open(tables_only).sections[0]
    # Word stores lengths in twentieths of a point: compare in millimetres to 0.1 mm.
    measured = [
        section.page_width,
        section.page_height,
        section.top_margin,
        section.bottom_margin,
        section.left_margin,
        section.right_margin,
    ]
    assert [round(length.mm, 1) for length in measured] == [210, 297, 37, 35, 28, 26]
    assert section.orientation == 0  # portrait


def test_footer_has_page_number_field_and_footer_text(
    tables_only: bytes, briefing: Briefing
) -> None:
    footer = _open(tables_only).sections[0].footer
    assert briefing.footer_text() == FOOTER
    texts = [p.text for p in footer.paragraphs]
    assert texts == ["— 1 —", FOOTER]
    instr = [e.text.strip() for e in footer._element.iter(f"{W}instrText")]
    assert instr == ["PAGE"]
    kinds = [e.get(qn("w:fldCharType")) for e in footer._element.iter(f"{W}fldChar")]
    assert kinds == ["begin", "separate", "end"]
    assert (
        footer.paragraphs[0].alignment in (None, 1)
        and footer.paragraphs[0].style.paragraph_format.alignment == 1
    )
    size = footer.paragraphs[1].style.font.size
    assert Pt(9) <= size <= Pt(10.5)


def test_core_properties(tables_only: bytes) -> None:
    props = _open(tables_only).core_properties
    assert props.title == "关于2026年第一轮巡察整改情况的报告"
    assert props.author == "张三"
    assert "数据版本：7" in props.comments
    # The configuration by its version and date, never its digest (issue 21 item 6).
    assert "研判配置：研判配置 第2版（2026-11-02 修改）" in props.comments
    assert "3f2a9c1d0b7e5a44" not in props.comments + props.keywords
    assert props.created.isoformat().startswith("2026-11-25T01:30:00")  # 09:30 +08:00 in UTC


# -- charts -------------------------------------------------------------------------------------


def test_no_charts_writes_the_note_and_no_picture(tables_only: bytes) -> None:
    doc = _open(tables_only)
    texts = [p.text for p in doc.paragraphs]
    assert texts.count(NO_CHARTS) == 1
    assert texts.index(NO_CHARTS) < texts.index("一、总体情况")
    assert doc.inline_shapes == [] or len(doc.inline_shapes) == 0
    assert doc.element.body.findall(f".//{W}drawing") == []
    assert not any(t.startswith("图1") for t in texts)  # no caption without its picture
    assert len(doc.tables) == 2


def test_the_callers_note_is_used(briefing: Briefing) -> None:
    data = briefing_docx.write_docx(briefing, charts_note="（图表暂缺。）")
    texts = [p.text for p in _open(data).paragraphs]
    assert "（图表暂缺。）" in texts and NO_CHARTS not in texts


def test_without_a_browser_render_charts_returns_the_note(briefing: Briefing) -> None:
    renderer = render.ChartRenderer(browser_path="/nonexistent/chromium")
    started = time.perf_counter()
    images, note = render.render_charts(briefing, renderer=renderer)
    assert time.perf_counter() - started < 5
    assert images == {}
    assert note == NO_CHARTS
    assert renderer.unavailable_reason == "本机未安装 Chromium 浏览器"


def test_a_slow_call_times_out() -> None:
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        render._call_with_timeout(lambda: time.sleep(5), 0.2)
    assert time.perf_counter() - started < 2


def test_a_briefing_without_charts_has_no_note() -> None:
    plain = Briefing(
        title="简报", subtitle_lines=[], sections=[Section("a", "概况", 1, [Paragraph("正文。")])]
    )
    texts = [p.text for p in _open(briefing_docx.write_docx(plain)).paragraphs]
    assert NO_CHARTS not in texts and "一、概况" in texts


def test_chart_is_drawn_and_placed_with_its_caption(
    with_charts: tuple[bytes, dict[int, bytes], str | None],
) -> None:
    from PIL import Image, ImageStat

    data, images, note = with_charts
    assert note is None
    assert list(images) == [0]
    png = Image.open(io.BytesIO(images[0]))
    assert png.size == (1800, 840)  # 900 × 420 at scale 2
    # Not a blank picture: the bars make the pixels vary.
    assert max(ImageStat.Stat(png.convert("L")).stddev) > 10

    doc = _open(data)
    assert len(doc.inline_shapes) == 1
    shape = doc.inline_shapes[0]
    assert abs(shape.width - Cm(15.5)) < Cm(0.05)
    assert abs(shape.height / shape.width - 420 / 900) < 0.01
    texts = [p.text for p in doc.paragraphs]
    assert NO_CHARTS not in texts
    # The picture's paragraph is followed by its caption, and the picture is in section
    # "（一）问题分布" after table 2.
    body = list(doc.element.body)
    at = next(i for i, e in enumerate(body) if e.findall(f".//{W}drawing"))
    assert body[at + 1].xpath("string(.)") == "图1 各单位问题数与已完成整改数"
    assert body[at - 2] is doc.tables[1]._tbl
    picture = python_docx.text.paragraph.Paragraph(body[at], doc)
    assert picture.style.paragraph_format.alignment == 1  # centred
    # The picture as stored is the one rendered.
    blip = body[at].findall(".//{http://schemas.openxmlformats.org/drawingml/2006/main}blip")[0]
    rid = blip.get(qn("r:embed"))
    assert doc.part.related_parts[rid].blob == images[0]


def test_render_charts_again_is_fast_and_identical(
    with_charts: tuple[bytes, dict[int, bytes], str | None], briefing: Briefing
) -> None:
    assert with_charts[1]  # drawn once already: the server is running
    started = time.perf_counter()
    again, note = render.render_charts(briefing)
    assert time.perf_counter() - started < 10
    assert note is None and again[0][:8] == b"\x89PNG\r\n\x1a\n"
    assert len(again[0]) > 10_000


def test_an_invalid_figure_is_left_out_with_a_note(briefing: Briefing) -> None:
    _need("Chromium", render.find_browser() is not None, "no /usr/bin/chromium")
    broken = Briefing(
        title="简报",
        subtitle_lines=[],
        sections=[
            Section(
                "a",
                "概况",
                1,
                [
                    Chart("图1 好的", sample.sample_figure()),
                    Chart("图2 坏的", {"data": [{"type": "no-such-trace"}]}),
                ],
            )
        ],
    )
    images, note = render.render_charts(broken)
    assert list(images) == [0]
    assert note == "（有 1 幅图表未能生成图片，已略去，相关数据见表格。）"
    doc = _open(briefing_docx.write_docx(broken, chart_images=images, charts_note=note))
    texts = [p.text for p in doc.paragraphs]
    assert "图1 好的" in texts and "图2 坏的" not in texts and note in texts
    assert len(doc.inline_shapes) == 1


# -- PDF and PNG preview ------------------------------------------------------------------------


def test_pdf_and_png_preview(
    with_charts: tuple[bytes, dict[int, bytes], str | None], tmp_path: Path
) -> None:
    from PIL import Image, ImageStat

    _need("LibreOffice", render.libreoffice_available(), "no soffice")
    _need("poppler-utils", render.pdftoppm_available(), "no pdftoppm")
    data, _, _ = with_charts
    pdf = render.docx_to_pdf(data, tmp_path)
    assert pdf is not None and pdf.read_bytes().startswith(b"%PDF")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))  # type: ignore[union-attr]
    assert pages >= 2
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info.stdout, re.M)
    assert size is not None
    assert abs(float(size.group(1)) - 595.3) < 2 and abs(float(size.group(2)) - 841.9) < 2  # A4

    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "内部资料 注意保密",
        "一、总体情况",
        "（一）问题分布",
        "各单位整改进展",  # pdftotext may put a space between 表1 and the caption
        "87.72%",
    ):
        assert expected in text, expected
    # The Chinese text was set in CJK fonts (no missing-glyph boxes).
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    assert "CJK" in fonts.stdout

    pngs = render.pdf_to_png(pdf, tmp_path / "png", first_page=1, last_page=2, dpi=80)
    assert [p.name for p in pngs] == [f"{pdf.stem}-{i}.png" for i in (1, 2)]
    for path in pngs:
        assert path.stat().st_size > 10_000
        picture = Image.open(path)
        width, height = picture.size  # A4 at 80 dpi: 661.4 × 935.4 pixels
        assert abs(width - 661) <= 2 and abs(height - 935) <= 2
        assert max(ImageStat.Stat(picture.convert("L")).stddev) > 10


def test_docx_bytes_to_pdf(tables_only: bytes) -> None:
    _need("LibreOffice", render.libreoffice_available(), "no soffice")
    pdf = render.docx_bytes_to_pdf(tables_only)
    assert pdf is not None and pdf.startswith(b"%PDF")


def test_without_libreoffice_there_is_no_pdf(
    tables_only: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        render.shutil,
        "which",
        lambda name, *a, **k: (
            None if name in ("soffice", "libreoffice", "pdftoppm") else real_which(name)
        ),
    )
    assert render.libreoffice_available() is False
    assert render.docx_to_pdf(tables_only, tmp_path) is None
    assert render.pdf_to_png(tmp_path / "x.pdf", tmp_path) == []


def test_numbers_never_wrap_and_text_takes_the_rest() -> None:
    header = ["问题类别", "问题数", "占比", "整改完成率"]
    rows = [
        ["落实党的理论和路线方针政策、党中央重大决策部署方面存在的问题", "100", "17.95%", "88.00%"],
        ["合计", "557", "100.00%", "91.92%"],
    ]
    widths = briefing_docx.column_widths(header, rows, ["text", "int", "rate", "rate"], 12)
    assert sum(widths) == int(Mm(210 - 28 - 26))
    # "100.00%" in 12 pt Times New Roman (digits 6 pt, "%" 10 pt, "." 3 pt) plus the two
    # 5.4 pt cell margins is about 54 pt: the column must be at least that wide.
    assert widths[2] >= Pt(54)
    assert widths[1] >= Pt(3 * 6 + 10.8)
    # The long text column gets the rest and is the widest.
    assert widths[0] == max(widths)
    assert widths[0] < Mm(156) - Pt(54 + 29 + 54)
