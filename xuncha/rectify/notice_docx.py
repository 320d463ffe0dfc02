"""A 预警提醒 or 督办函 as a Word document in the official layout (信函格式, GB/T 9704 in spirit),
with the page, fonts and styles of the leadership briefing (xuncha.briefing.docx).

Public API
----------
``NoticeDocument``, ``NoticeLine``
    What one document says: kind, 文号, date, the unit and its recipients (主送, with their
    positions), the inspection office's recipients (抄送), and one line per measure.
``write_notice_docx(document) -> bytes``
    Pure layout: no store, no files.

Layout: A4, the briefing's margins; the issuing office's name in red 方正小标宋简体 over a red
rule, the 文号 under it on the right; the title (方正小标宋简体 二号) naming the kind; 主送
(the unit's recipients with their positions) and the unit as addressee; the measures under
“一、”, each with its 问题, 整改措施, 责任领导/责任人, 原定时限/现行时限 and the days left or
overdue; what is required under “二、”; the office and the date; 抄送 (the inspection office's
recipients) and the printing line at the foot. Body text 仿宋_GB2312 三号, fixed 28.95 pt
lines, page number “— N —” in the footer. All text is literal (nothing becomes a field).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docx.text.paragraph import Paragraph

from xuncha.briefing import docx as official
from xuncha.briefing.docx import FANGSONG, HEITI, KAITI, SONGTI, TITLE_FONT

RED_TEXT = RGBColor(0xE6, 0x00, 0x12)  # 红头 red
SIZE_ISSUER = Pt(30)  # at most; a longer name is set smaller to stay on one line

S_ISSUER = "Notice Issuer"
S_NUMBER = "Notice Number"
S_ADDRESSEE = "Notice Addressee"
S_SIGNATURE = "Notice Signature"
S_RECORD = "Notice Record"

KIND_TITLES = {
    "预警提醒": "关于{unit}整改措施临近整改时限的预警提醒",
    "督办函": "关于{unit}整改措施逾期未完成的督办函",
}
COLOUR_LABELS = {"绿": "绿色预警", "黄": "黄色预警", "红": "红色预警"}

REQUIREMENTS = {
    "预警提醒": (
        "请你单位督促责任领导、责任人对照上述整改措施抓紧推进，确保在现行整改时限内完成整改，"
        "并及时在系统中报送整改进展和佐证材料。",
        "确因客观原因不能按期完成的，应在整改时限届满前在系统中提出延期申请，说明理由和拟完成时限，"
        "经巡察办批准后方可延期；未经批准逾期的，将发出督办函。",
    ),
    "督办函": (
        "上述整改措施已超过整改时限仍未完成。请你单位主要负责人切实履行整改第一责任人职责，"
        "督促责任领导、责任人立即整改：",
        "一是自收到本函之日起 5 个工作日内，书面报告上述措施未按期完成的原因、责任落实情况和"
        "下步整改计划；二是明确完成时限，限期整改到位，并在系统中报送整改进展和佐证材料；"
        "三是对整改不力、敷衍整改、虚假整改的，将按照有关规定严肃追责问责。",
        "巡察办将对上述措施的整改情况跟踪督办。",
    ),
}


@dataclass(frozen=True)
class NoticeLine:
    measure_id: int
    colour: str
    title: str  # 问题
    text: str  # 整改措施
    lead_person: str | None
    person: str | None
    department: str | None
    deadline_original: dt.date | None
    deadline: dt.date
    days_left: int  # negative: calendar days overdue
    lead_unit: str  # 自然日 / 工作日


@dataclass(frozen=True)
class NoticeDocument:
    kind: str  # 预警提醒 / 督办函
    doc_number: str
    issued_on: dt.date
    unit_name: str
    unit_short_name: str
    recipients: tuple[tuple[str, str], ...]  # 主送: (name, position)
    copied: tuple[tuple[str, str], ...]  # 抄送: the inspection office's recipients
    lines: tuple[NoticeLine, ...]
    issuer: str

    @property
    def title(self) -> str:
        return KIND_TITLES[self.kind].format(unit=self.unit_short_name or self.unit_name)


def chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def days_text(line: NoticeLine) -> str:
    """剩余 N 天 / 剩余 N 个工作日 / 今日到期 / 已逾期 N 天."""
    if line.days_left < 0:
        return f"已逾期 {-line.days_left} 天"
    if line.days_left == 0:
        return "今日到期"
    unit = "个工作日" if line.lead_unit == "工作日" else "天"
    return f"剩余 {line.days_left} {unit}"


def _people(pairs: tuple[tuple[str, str], ...]) -> str:
    return "、".join(f"{name}（{position}）" for name, position in pairs)


def _shown(value: str | None) -> str:
    text = (value or "").strip()
    return text or "—"


def _rule(paragraph: Paragraph, *, colour: str = "E60012", size: int = 12) -> None:
    """A horizontal rule under the paragraph (its bottom border), e.g. the red line of 红头."""
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    bottom.set(qn("w:val"), "single")
    bottom.set(qn("w:sz"), str(size))
    bottom.set(qn("w:space"), "1")
    bottom.set(qn("w:color"), colour)
    borders.append(bottom)
    ppr.append(borders)


def _setup(doc: DocumentObject) -> None:
    official._setup_styles(doc)
    official._setup_page(doc)
    center, right, left = (
        WD_ALIGN_PARAGRAPH.CENTER,
        WD_ALIGN_PARAGRAPH.RIGHT,
        WD_ALIGN_PARAGRAPH.LEFT,
    )
    official._style(
        doc, S_ISSUER, font=TITLE_FONT, size=SIZE_ISSUER, align=center, line=None, after=Pt(6)
    )
    official._style(doc, S_NUMBER, font=FANGSONG, size=official.SIZE_BODY, align=right)
    official._style(doc, S_ADDRESSEE, font=FANGSONG, size=official.SIZE_BODY, align=left)
    official._style(doc, S_SIGNATURE, font=FANGSONG, size=official.SIZE_BODY, align=right)
    official._style(
        doc, S_RECORD, font=FANGSONG, size=official.SIZE_TABLE_CAPTION, align=left, line=None
    )


def _footer(doc: DocumentObject) -> None:
    footer = doc.sections[0].footer
    footer.is_linked_to_previous = False
    number = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
    number.style = doc.styles[official.S_PAGE_NUMBER]
    official._add_run(number, "— ", font=SONGTI)
    official._add_field(number, "PAGE", "1", SONGTI)
    official._add_run(number, " —", font=SONGTI)


def _properties(doc: DocumentObject, document: NoticeDocument) -> None:
    props = doc.core_properties
    props.title = official.clean_text(f"{document.doc_number} {document.title}")
    props.subject = official.clean_text(document.unit_name)
    props.author = official.clean_text(document.issuer)
    props.last_modified_by = official.clean_text(document.issuer)
    props.category = "内部资料 注意保密"
    props.keywords = official.clean_text(f"巡察；{document.kind}；{document.doc_number}")
    props.comments = official.clean_text(
        f"文号：{document.doc_number}；发文日期：{document.issued_on.isoformat()}；"
        f"措施编号：{'、'.join(str(line.measure_id) for line in document.lines)}"
    )
    stamp = dt.datetime.combine(document.issued_on, dt.time(0, 0))
    props.created = stamp
    props.modified = stamp
    props.revision = 1


def _body(doc: DocumentObject, text: str) -> None:
    official._add_paragraph(doc, text, official.S_BODY, font=FANGSONG)


def _heading(doc: DocumentObject, level: int, text: str) -> None:
    paragraph = doc.add_paragraph(style=doc.styles[f"Heading {level}"])
    official._add_run(paragraph, text, font=(HEITI, KAITI, FANGSONG)[level - 1])


def _measure(doc: DocumentObject, number: int, line: NoticeLine) -> None:
    _heading(doc, 2, f"{official.heading_label(2, number)}{line.title.strip() or '（未写明问题）'}")
    _body(doc, f"整改措施：{_shown(line.text)}")
    people = f"责任领导：{_shown(line.lead_person)}；责任人：{_shown(line.person)}"
    if line.department and line.department.strip():
        people += f"；责任部门：{line.department.strip()}"
    _body(doc, people)
    original = chinese_date(line.deadline_original) if line.deadline_original else "—"
    _body(doc, f"原定时限：{original}；现行时限：{chinese_date(line.deadline)}")
    _body(doc, f"{days_text(line)}（{COLOUR_LABELS.get(line.colour, line.colour)}）")


def write_notice_docx(document: NoticeDocument) -> bytes:
    """The document as .docx bytes (see the module docstring)."""
    if document.kind not in KIND_TITLES:
        raise ValueError(f"unknown notice kind {document.kind!r}")
    doc = Document()
    _setup(doc)
    _footer(doc)
    _properties(doc, document)

    first = doc.paragraphs[0] if doc.paragraphs else doc.add_paragraph()
    first.style = doc.styles[official.S_MARKING]
    official._add_run(first, "内部资料 注意保密", font=HEITI)
    issuer = official._add_paragraph(doc, document.issuer, S_ISSUER, font=TITLE_FONT)
    size = min(SIZE_ISSUER.pt, max(16.0, official.TEXT_WIDTH.pt // max(len(document.issuer), 1)))
    for run in issuer.runs:
        run.font.color.rgb = RED_TEXT
        run.font.size = Pt(size)
    number = official._add_paragraph(doc, document.doc_number, S_NUMBER, font=FANGSONG)
    _rule(number)
    official._add_paragraph(doc, document.title, official.S_TITLE, font=TITLE_FONT)

    official._add_paragraph(
        doc,
        f"主送：{_people(document.recipients) or document.unit_name}",
        S_ADDRESSEE,
        font=FANGSONG,
    )
    official._add_paragraph(doc, f"{document.unit_name}：", S_ADDRESSEE, font=FANGSONG)

    count = len(document.lines)
    day = chinese_date(document.issued_on)
    if document.kind == "督办函":
        _body(
            doc,
            f"经对整改台账比对，截至{day}，你单位以下 {count} 项整改措施已超过整改时限，"
            "仍未完成整改销号，现予督办。",
        )
        _heading(doc, 1, "一、逾期未完成的整改措施")
    else:
        _body(
            doc,
            f"经对整改台账比对，截至{day}，你单位以下 {count} 项整改措施临近整改时限，"
            "现予预警提醒。",
        )
        _heading(doc, 1, "一、临近整改时限的整改措施")
    for index, line in enumerate(document.lines, start=1):
        _measure(doc, index, line)
    _heading(doc, 1, "二、有关要求")
    for text in REQUIREMENTS[document.kind]:
        _body(doc, text)

    doc.add_paragraph(style="Normal")
    official._add_paragraph(doc, document.issuer, S_SIGNATURE, font=FANGSONG)
    official._add_paragraph(doc, day, S_SIGNATURE, font=FANGSONG)
    doc.add_paragraph(style="Normal")

    if document.copied:
        copied = official._add_paragraph(
            doc, f"抄送：{_people(document.copied)}", S_RECORD, font=FANGSONG
        )
        _rule(copied, colour="000000", size=6)
    printed = official._add_paragraph(
        doc, f"{document.issuer}　　{day}印发", S_RECORD, font=FANGSONG
    )
    _rule(printed, colour="000000", size=6)

    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
