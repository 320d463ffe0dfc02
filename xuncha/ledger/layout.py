"""One sheet of cell values → findings with their measures, and the problems met on the way.

Real layouts (DOMAIN.md §4): title rows, a 填报单位/截至时间 line and blank rows above the
header (found by its synonyms, possibly over two rows); group rows "一、…方面" giving the
category of the rows below (and "（一）…" a sub-category); merged cells filled with their
value over the range they cover, and in CSV, where merges are lost, a blank cell on a
continuation row of a problem taking the value of the row above; several numbered measures
in one cell split into measures (and a numbered deadline or status cell with as many items
distributed over them); footer lines (审核人, 填报人, 联系电话 …) ignored.

A row starts a problem when its 具体问题 cell has its own value (not one copied from a
merge), or, with no title there and no merge over it, when its 序号 has one; a row repeating
the problem above (same 序号 and text, one row per measure) continues it. Other rows with a
measure continue the problem above. Text identifies nothing (DOMAIN.md §4): two problems with
the same 具体问题, or two measures with the same wording, are told apart by their place and
reported as a 提示. 合计/小计 rows are skipped; a problem with no category anywhere is 未分类
(Z99), with a 提示 and a count.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from xuncha.ledger import columns as cols
from xuncha.ledger import deadlines as deadline_forms
from xuncha.ledger import statuses as status_words
from xuncha.ledger.classify import CategoryError, Classifier, looks_like_heading
from xuncha.ledger.deadlines import (
    DeadlineError,
    DeadlineSpec,
    Period,
    parse_date,
    parse_deadline,
    resolve_deadline,
)
from xuncha.ledger.model import LedgerLimits, ParsedFinding, ParsedMeasure, Problem, Severity
from xuncha.ledger.safety import RefusedFile
from xuncha.ledger.sources import Sheet
from xuncha.ledger.statuses import leading_status, read_status
from xuncha.ledger.text import (
    Cell,
    cell_text,
    clean,
    cn_number,
    column_letter,
    is_blank,
    match_key,
    nfkc,
    split_numbered,
    squash,
    strip_marker,
)
from xuncha.store import categories

if TYPE_CHECKING:
    from xuncha.ledger.workdays import WorkdayCalendar

HEADER_SCAN_ROWS = 40
FOOTER_LABELS = (
    "审核人",
    "审核",
    "填报人",
    "填表人",
    "制表人",
    "联系电话",
    "联系人",
    "负责人",
    "单位负责人",
    "主要负责人",
    "分管领导签字",
    "签字",
    "盖章",
    "单位盖章",
    "注:",
    "注：",
    "说明:",
    "说明：",
    "填报说明",
    "合计",
    "总计",
    "小计",
    "报送时间",
    "填报时间",
    "填报日期",
)
_SQUASHED_FOOTERS = tuple(squash(label) for label in FOOTER_LABELS)
_AS_OF = re.compile(
    r"截[至止](?:时间|日期)?\s*[:：]?\s*"
    r"(?P<date>\d{4}\s*[年./-]\s*\d{1,2}\s*(?:[月./-]\s*\d{1,2}\s*[日号]?|月\s*(?:底|末)?))"
)
_AS_OF_LABEL = re.compile(r"截[至止](?:时间|日期)\s*[:：]?\s*$")
_UNIT = re.compile(r"(?:填报|报送)单位\s*(?:\(盖章\)|（盖章）)?\s*[:：]\s*(?P<unit>[^\s:：]+)")
_GROUP = re.compile(r"(?:市委|县委|区委|市|县|区)?第[一二三四五六七八九十\d]{1,3}巡察组")
_ROUND = re.compile(
    r"(?:[一二三四五六七八九十]{1,3}届)?(?:市委|县委|区委)?第[一二三四五六七八九十\d]{1,3}轮巡察(?:[(（][^)）]{1,12}[)）])?"
)
_TITLE_UNIT = re.compile(
    r"^(?:中共|中国共产党)?(?P<unit>.{2,40}?)(?:党组|党委|党工委|党总支|党支部)?关于"
)
_EXAMPLE = ("示例", "例", "填写示例", "样例")
# A row of totals, not a problem: its first cell (序号 or 具体问题) says so.
_TOTALS = re.compile(r"^(?:合计|小计|总计|共计|累计|合\s*计|小\s*计)(?:[:：].*|\d.*|[（(].*)?$")
# A 序号 cell that is a group row's numbering ("一、", "二", "（一）", "第一部分").
_GROUP_MARKER = re.compile(
    r"^(?:[一二三四五六七八九十]{1,3}[、.．]?|[(（][一二三四五六七八九十]{1,3}[)）][、.．]?"
    r"|第[一二三四五六七八九十]{1,3}(?:部分|类|方面)[、.．:：]?)$"
)
_TOTALS_START = frozenset("合小总共累")
UNCATEGORISED = ("Z", "Z99")
_YES = {"是", "√", "✓", "y", "yes", "true", "1"}
_NO = {"否", "×", "n", "no", "false", "0"}


@dataclass
class ParseContext:
    file_name: str
    feedback: dt.date | None
    entry_end: dt.date | None
    classifier: Classifier
    limits: LedgerLimits
    started: float
    calendar: WorkdayCalendar | None = None  # working days (default: the official calendar)


@dataclass
class SheetResult:
    name: str
    has_header: bool = False
    has_content: bool = False
    findings: list[ParsedFinding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    unit: str | None = None
    group: str | None = None
    round_name: str | None = None
    as_of: dt.date | None = None
    as_of_row: int | None = None
    rows_read: int = 0


@dataclass
class _Group:
    text: str | None = None
    row: int | None = None
    sub_text: str | None = None
    sub_row: int | None = None
    failed: bool = False  # the heading's category could not be read (reported once)
    ordinal: tuple[int, int] = (0, 0)  # which group and sub-group row of the sheet


@dataclass
class _Block:
    rows: list[int]
    group: _Group
    key: tuple[str, str]


class _SheetParser:
    def __init__(self, sheet: Sheet, ctx: ParseContext) -> None:
        self.sheet = sheet
        self.ctx = ctx
        self.rows = sheet.rows
        self.width = max((len(r) for r in self.rows), default=0)
        self.result = SheetResult(sheet.name)
        self.sheet_label = None if sheet.from_csv else sheet.name
        self.covered: set[tuple[int, int]] = set()
        self.field_col: dict[str, int] = {}
        self.extra_progress: list[int] = []
        self.headers: dict[int, str] = {}
        self._texts: dict[int, list[str | None]] = {}
        self.fill_down = sheet.from_csv or bool(getattr(sheet, "fill_down", False))
        self.uncategorised: list[int] = []  # 1-based rows of problems left 未分类 (Z99)
        self.group_ordinal = 0
        self.sub_ordinal = 0

    # -- reporting -------------------------------------------------------------------------

    def problem(
        self,
        reason: str,
        *,
        row: int | None = None,
        col: int | None = None,
        value: Cell = None,
        severity: Severity = "error",
        kind: str | None = None,
        hint: str | None = None,
    ) -> None:
        sheet = self.sheet_label
        origin = self.sheet.origin
        if origin is not None and row is not None:  # a joined sheet: the cell's own sheet
            sheet, row = origin.locate(row, col)
        self.result.problems.append(
            Problem(
                file=self.ctx.file_name,
                reason=reason,
                severity=severity,
                sheet=sheet,
                row=None if row is None else row + 1,
                column_header=self.headers.get(col) if col is not None else None,
                column_letter=column_letter(col) if col is not None else None,
                value=_shown(value),
                kind=kind,
                hint=hint,
            )
        )

    # -- cells -----------------------------------------------------------------------------

    def row_texts(self, r: int) -> list[str | None]:
        """The row's cells as text (None when blank), computed once per row."""
        texts = self._texts.get(r)
        if texts is None:
            texts = [cell_text(v) for v in self.rows[r]]
            self._texts[r] = texts
        return texts

    def cell(self, r: int, c: int | None) -> Cell:
        """The raw value (a date stays a date), None when blank or a blank marker."""
        if c is None:
            return None
        texts = self.row_texts(r)
        if c >= len(texts) or texts[c] is None:
            return None
        return self.rows[r][c]

    def text(self, r: int, field_name: str) -> str | None:
        c = self.field_col.get(field_name)
        if c is None:
            return None
        texts = self.row_texts(r)
        return texts[c] if c < len(texts) else None

    # -- steps -----------------------------------------------------------------------------

    def where(self, r: int, *, measure: bool = False) -> tuple[str | None, int]:
        """(sheet, 1-based row) of row r as the user finds it: in a joined sheet, the problem
        sheet's row for a problem and the task sheet's row for a measure."""
        origin = self.sheet.origin
        if origin is None:
            return self.sheet_label, r + 1
        sheet, row = origin.locate(r, origin.split if measure else None)
        return sheet, (row if row is not None else r) + 1

    def run(self) -> SheetResult:
        self._fill_merges()
        header = self._find_header()
        if header is None:
            self.result.has_content = any(not is_blank(value) for row in self.rows for value in row)
            return self.result
        if self.sheet.origin is not None:
            for task_row, seq in self.sheet.orphans:
                self.result.problems.append(
                    Problem(
                        file=self.ctx.file_name,
                        sheet=self.sheet.origin.task_sheet,
                        row=task_row + 1,
                        value=seq or None,
                        reason=f"任务清单中的序号“{seq}”在问题清单中没有对应的问题"
                        if seq
                        else "任务清单中的这条措施没有填写所属问题的序号",
                        kind="任务清单的序号在问题清单中找不到",
                    )
                )
        self.result.has_header = True
        data_start = self._map_columns(header)
        self._read_meta(0, header)
        if any(p.is_error for p in self.result.problems):
            return self.result
        blocks = self._blocks(data_start)
        seen: dict[str, int] = {}
        for index, block in enumerate(blocks):
            if index % 500 == 0:
                self._check_time()
            finding = self._finding(block)
            if finding is None:
                continue
            # Same words, another place: a different problem (titles are generic), said once.
            earlier = seen.get(finding.key)
            if earlier is not None:
                self.problem(
                    f"具体问题与第 {earlier} 行的问题文字相同，按序号和位置作为不同问题导入，请核对",
                    row=block.rows[0],
                    col=self.field_col["title"],
                    value=finding.title,
                    severity="warning",
                    kind="具体问题文字相同（按位置区分）",
                )
            else:
                seen[finding.key] = block.rows[0] + 1
            self.result.findings.append(finding)
        if self.uncategorised:
            rows = self.uncategorised
            shown = "、".join(str(r) for r in rows[:20]) + ("等" if len(rows) > 20 else "")
            where = "“问题类别”列为空" if "category" in self.field_col else "台账没有“问题类别”列"
            self.problem(
                f"{len(rows)} 个问题没有问题类别（{where}，上方也没有可识别的“一、…方面”分组行），"
                f"计为“未分类”（Z99），可在导入后核对：第 {shown} 行",
                severity="warning",
                kind="问题类别未填写，计为未分类",
            )
        return self.result

    def _check_time(self) -> None:
        if time.monotonic() - self.ctx.started > self.ctx.limits.max_seconds:
            raise RefusedFile(f"解析超时（超过 {self.ctx.limits.max_seconds:g} 秒）")

    def _fill_merges(self) -> None:
        if not self.sheet.merges:
            return
        height = len(self.rows)
        area = 0
        clipped = []
        for r1, c1, r2, c2 in self.sheet.merges:
            r2, c2 = min(r2, height - 1), min(c2, self.width - 1)
            if r1 > r2 or c1 > c2:
                continue
            area += (r2 - r1 + 1) * (c2 - c1 + 1)
            clipped.append((r1, c1, r2, c2))
        if area > height * max(self.width, 1):
            raise RefusedFile("工作表的合并单元格互相重叠（文件结构异常）")
        for r1, c1, r2, c2 in clipped:
            top = self.rows[r1][c1]
            for r in range(r1, r2 + 1):
                row = self.rows[r]
                for c in range(c1, c2 + 1):
                    if (r, c) != (r1, c1):
                        row[c] = top
                        self.covered.add((r, c))

    def _header_fields(self, r: int) -> dict[int, str]:
        found: dict[int, str] = {}
        for c, value in enumerate(self.rows[r]):
            if isinstance(value, str) and value.strip() and len(value) <= 40:
                name = cols.field_of(value)
                if name is not None:
                    found[c] = name
        return found

    def _find_header(self) -> int | None:
        for r in range(min(len(self.rows), HEADER_SCAN_ROWS)):
            fields = self._header_fields(r)
            names = set(fields.values())
            if "title" in names and "measure" in names and len(names) >= 3:
                return r
        return None

    def _map_columns(self, header: int) -> int:
        fields = self._header_fields(header)
        data_start = header + 1
        # A second header row naming what a merged parent ("责任主体") spans.
        if data_start < len(self.rows):
            below = self._header_fields(data_start)
            nonblank = [c for c, v in enumerate(self.rows[data_start]) if not is_blank(v)]
            if below and all(
                c in below or (header, c) in self.covered or (data_start, c) in self.covered
                for c in nonblank
            ):
                for c, name in below.items():
                    fields[c] = name
                for c in range(self.width):
                    value = self.cell(data_start, c)
                    if c in below and isinstance(value, str):
                        self.headers[c] = clean(value)
                data_start += 1
        for c in range(self.width):
            if c in self.headers:
                continue
            value = self.cell(header, c)
            if value is not None:
                self.headers[c] = clean(str(value)) if isinstance(value, str) else str(value)
        taken: dict[str, int] = {}
        for c in sorted(fields):
            name = fields[c]
            if name in taken:
                if name == "progress":
                    self.extra_progress.append(c)
                    self.result.columns[self.headers.get(c, column_letter(c))] = cols.FIELD_LABELS[
                        name
                    ]
                    continue
                first = taken[name]
                self.problem(
                    f"与 {column_letter(first)} 列同为“{cols.FIELD_LABELS[name]}”，本列未导入",
                    row=header,
                    col=c,
                    severity="warning",
                )
                self.result.unknown_columns.append(self.headers.get(c, column_letter(c)))
                continue
            taken[name] = c
            self.result.columns[self.headers.get(c, column_letter(c))] = cols.FIELD_LABELS[name]
        self.field_col = taken
        mapped = set(fields)
        for c in range(self.width):
            if c in mapped:
                continue
            label = self.headers.get(c)
            has_data = any(
                c < len(self.rows[r]) and not is_blank(self.rows[r][c])
                for r in range(data_start, len(self.rows))
            )
            if not has_data and (label is None or (header, c) in self.covered):
                continue
            self.result.unknown_columns.append(label or f"{column_letter(c)}列（无表头）")
            self.problem("未识别的列，其内容不会导入", row=header, col=c, severity="warning")
        missing = [name for name in cols.REQUIRED if name not in taken]
        if "status" not in taken and "progress" not in taken:
            missing.append("status")
        for name in missing:
            label, synonyms = cols.FIELDS[name]
            hint = "、".join(synonyms[:5])
            self.problem(f"缺少必需的列“{label}”（可用的列名：{hint}）", row=header)
        return data_start

    def _read_meta(self, start: int, stop: int) -> None:
        texts: list[tuple[int, int, str]] = []
        for r in range(start, stop):
            for c, value in enumerate(self.rows[r]):
                if (r, c) in self.covered:
                    continue
                text = cell_text(value)
                if text:
                    texts.append((r, c, text))
        for r, c, text in texts:
            flat = nfkc(text)
            if self.result.title is None and not _UNIT.search(flat) and "截" not in flat:
                self.result.title = text
            if unit := _UNIT.search(flat):
                self.result.unit = unit.group("unit")
            self._read_as_of(r, c, flat)
        title = nfkc(self.result.title or "")
        if group := _GROUP.search(title):
            self.result.group = group.group(0)
        if round_match := _ROUND.search(title):
            self.result.round_name = round_match.group(0)
        if self.result.unit is None and (m := _TITLE_UNIT.search(title)):
            self.result.unit = m.group("unit")

    def _read_as_of(self, r: int, c: int, flat: str) -> None:
        found = _AS_OF.search(flat)
        raw: Cell = found.group("date") if found else None
        if raw is None and _AS_OF_LABEL.search(flat):
            for value in self.rows[r][c + 1 :]:
                if not is_blank(value):
                    raw = value
                    break
            if raw is None:
                return  # an empty 截至时间 line (a template)
        if raw is None:
            return
        try:
            day = parse_date(raw, allow_month_end=True)
        except DeadlineError as exc:
            self.problem(f"截至时间无法识别：{exc}", row=r, value=raw)
            return
        if self.result.as_of is not None and self.result.as_of != day:
            self.problem(
                f"出现了两个不同的截至时间（{self.result.as_of.isoformat()} 与 {day.isoformat()}）",
                row=r,
                value=raw,
            )
            return
        self.result.as_of = day
        self.result.as_of_row = r + 1

    # -- rows → blocks ---------------------------------------------------------------------

    def _is_footer(self, texts: list[str]) -> bool:
        return all(squash(t).startswith(_SQUASHED_FOOTERS) for t in texts)

    def _is_header_again(self, r: int) -> bool:
        """The header repeated (a ledger printed page by page and pasted together)."""
        title = self.rows[r][self.field_col["title"]]
        if not isinstance(title, str) or len(title) > 12 or cols.field_of(title) != "title":
            return False
        again = self._header_fields(r)
        return len(again) >= 3 and all(self.field_col.get(n) == c for c, n in again.items())

    def _heading(self, r: int, texts: list[str]) -> tuple[int, str]:
        """(1 or 2, the heading's text) when the row is a group heading, else (0, "").

        A heading is one text merged across the row ("二、…方面"), or its numbering in the 序号
        column and the words merged across the rest ("一、" | "…方面")."""
        distinct = list(dict.fromkeys(texts))
        measure = cell_text(self.cell(r, self.field_col.get("measure")))
        if len(distinct) == 2:
            seq = cell_text(self.cell(r, self.field_col.get("seq")))
            if seq is None or seq != distinct[0] or not _GROUP_MARKER.match(nfkc(seq)):
                return 0, ""
            if measure is not None and measure != distinct[1]:
                return 0, ""
            marker = nfkc(seq).strip()
            if marker[-1] not in "、.．:：)）" and not marker.startswith("第"):
                marker += "、"
            text = marker + distinct[1]
        elif len(distinct) == 1:
            if measure is not None and measure != distinct[0]:
                return 0, ""
            text = distinct[0]
        else:
            return 0, ""
        level = looks_like_heading(text)
        if level:
            return level, text
        key = squash(text)
        if key.endswith(("方面", "方面问题", "方面的问题", "方面存在的问题")):
            return 1, text
        return 0, ""

    def _is_totals(self, row_texts: list[str | None]) -> bool:
        """A 合计/小计 row: its first cell, its 序号 or its 具体问题 says so."""
        for text in (
            row_texts[0] if row_texts else None,
            self.text_at(row_texts, "seq"),
            self.text_at(row_texts, "title"),
        ):
            # Cheap test first: every totals word starts with one of these characters.
            if (
                text
                and len(text) <= 20
                and text.lstrip()[:1] in _TOTALS_START
                and _TOTALS.match(squash(text))
            ):
                return True
        return False

    def text_at(self, row_texts: list[str | None], field_name: str) -> str | None:
        c = self.field_col.get(field_name)
        return row_texts[c] if c is not None and c < len(row_texts) else None

    def _blocks(self, data_start: int) -> list[_Block]:
        blocks: list[_Block] = []
        group = _Group()
        title_col = self.field_col["title"]
        seq_col = self.field_col.get("seq")
        measure_col = self.field_col["measure"]
        current: _Block | None = None
        for r in range(data_start, len(self.rows)):
            if (r - data_start) % 5000 == 0:
                self._check_time()
            row = self.rows[r]
            # Fast path: a row with a measure and more than two distinct values is neither a
            # heading (one value merged across, or its numbering and one value) nor a footer.
            # (Two values may be a group row: "一、" in 序号, "…方面" merged across the rest.)
            measure_value = row[measure_col] if measure_col < len(row) else None
            fast = not is_blank(measure_value) and len({v for v in row if v != ""}) > 2
            row_texts = self.row_texts(r)
            texts = [] if fast else [t for t in row_texts if t]
            if not fast and not texts:
                continue
            # Totals rows are rare: a first character tells most rows apart without a call.
            t0 = row_texts[0] if row_texts else None
            ts = row_texts[seq_col] if seq_col is not None else None
            tt = row_texts[title_col]
            if (
                (t0 and t0[0] in _TOTALS_START)
                or (ts and ts[0] in _TOTALS_START)
                or (tt and tt[0] in _TOTALS_START)
            ) and self._is_totals(row_texts):
                current = None
                continue
            if not fast and self._is_footer(texts):
                for c, value in enumerate(row):
                    text = cell_text(value)
                    if text:
                        self._read_as_of(r, c, nfkc(text))
                current = None
                continue
            if self._is_header_again(r):
                current = None
                continue
            seq_text = cell_text(self.cell(r, seq_col))
            if seq_text and squash(seq_text) in _EXAMPLE:
                self.problem(
                    "示例行，已忽略", row=r, col=seq_col, value=seq_text, severity="warning"
                )
                current = None
                continue
            level, heading = (0, "") if fast else self._heading(r, texts)
            if level:
                # A group is known by its own numbering ("二、…"), so a later ledger that
                # leaves out a finished group keeps the others' places; else by its order.
                number = _marker_number(heading)
                if level == 1:
                    self.group_ordinal = number or self.group_ordinal + 1
                    self.sub_ordinal = 0
                    group = _Group(heading, r, ordinal=(self.group_ordinal, 0))
                else:
                    self.sub_ordinal = number or self.sub_ordinal + 1
                    group = _Group(
                        group.text,
                        group.row,
                        heading,
                        r,
                        group.failed,
                        ordinal=(self.group_ordinal, self.sub_ordinal),
                    )
                group = self._check_group(group, level)
                current = None
                continue
            self.result.rows_read += 1
            title_raw = row_texts[title_col] is not None and (r, title_col) not in self.covered
            title_merged = (r, title_col) in self.covered
            seq_raw = (
                seq_col is not None
                and row_texts[seq_col] is not None
                and (r, seq_col) not in self.covered
            )
            starts = title_raw or (not title_merged and seq_raw)
            if starts:
                # The problem written again on each of its measure rows: same 序号 and text
                # (and, without a 序号, the same 具体表现), on the next row.
                detail = self.text_at(row_texts, "detail") if not seq_text else None
                key = (
                    squash(seq_text or ""),
                    match_key(row_texts[title_col] or "") + "\0" + match_key(detail or ""),
                )
                if (
                    current is not None
                    and current.key == key
                    and key[1] != "\0"
                    and current.rows[-1] == r - 1
                ):
                    current.rows.append(r)
                    continue
                current = _Block([r], group, key)
                blocks.append(current)
            elif current is not None:
                current.rows.append(r)
            else:
                self.problem(
                    "该行既没有具体问题也没有序号，且不在任何问题之下",
                    row=r,
                    col=title_col,
                )
        return blocks

    def _check_group(self, group: _Group, level: int) -> _Group:
        if level == 1 and group.text:
            try:
                self.ctx.classifier.read(group.text, None)
            except CategoryError as exc:
                # A heading is the unit's own grouping, not always a category: the problems
                # under it keep their own 问题类别 cells, else count as 未分类 (said below).
                self.problem(
                    f"分组行未能识别为问题类别（{exc}）；其下未填写问题类别的问题计为未分类（Z99）",
                    row=group.row,
                    value=group.text,
                    severity="warning",
                    kind="分组行不是可识别的问题类别",
                )
                group.failed = True
        return group

    # -- a block → a finding ---------------------------------------------------------------

    def _finding(self, block: _Block) -> ParsedFinding | None:
        first = block.rows[0]
        title_col = self.field_col["title"]
        title = cell_text(self.cell(first, title_col))
        errors_before = sum(p.is_error for p in self.result.problems)
        if not title:
            self.problem("具体问题为空", row=first, col=title_col)
            return None
        key = match_key(title)
        if not key:
            self.problem("具体问题没有可识别的文字", row=first, col=title_col, value=title)
            return None
        category_text = self.text(first, "category")
        sub_text = self.text(first, "subcategory")
        for r in block.rows[1:]:
            for name in ("category", "subcategory"):
                other = self.text(r, name)
                mine = category_text if name == "category" else sub_text
                if other and mine and squash(other) != squash(mine):
                    self.problem(
                        f"同一问题的续行中“{cols.FIELD_LABELS[name]}”与首行不一致",
                        row=r,
                        col=self.field_col.get(name),
                        value=other,
                    )
        group_text = None if block.group.failed else block.group.text
        source_text = category_text or group_text
        sub_source = sub_text or block.group.sub_text
        l1 = l2 = None
        if source_text is None and sub_source is None:
            l1, l2 = UNCATEGORISED
            self.uncategorised.append(first + 1)
        else:
            if source_text is not None:
                try:
                    reading = self.ctx.classifier.read(source_text, None)
                    l1, l2 = reading.l1, reading.l2
                except CategoryError as exc:
                    self.problem(
                        str(exc),
                        row=first,
                        col=self.field_col.get("category"),
                        value=source_text,
                        kind="问题类别无法识别",
                        hint="“四个落实”或“三个聚焦”的表述（如“落实全面从严治党战略部署方面”）或二级类别名称",
                    )
            if sub_source:
                sub = self.ctx.classifier.l2_of(sub_source)
                if sub is None:
                    sub_row = first if sub_text else block.group.sub_row
                    self.problem(
                        f"问题子类“{sub_source}”不是二级类别名称，二级类别留空",
                        row=sub_row,
                        col=self.field_col.get("subcategory") if sub_text else None,
                        value=sub_source,
                        severity="warning",
                        kind="问题子类不是二级类别名称",
                    )
                    if l1 is None and source_text is None:
                        l1, l2 = UNCATEGORISED
                        self.uncategorised.append(first + 1)
                elif l1 is not None and categories.L2_PARENT[sub] != l1:
                    self.problem(
                        f"问题子类“{sub_source}”（{sub}）不属于一级类别 {l1}（{categories.L1_NAMES[l1]}）",
                        row=first,
                        col=self.field_col.get("subcategory"),
                        value=sub_source,
                        kind="问题子类与一级类别不符",
                    )
                else:
                    l2, l1 = sub, categories.L2_PARENT[sub]
        place = self.where(first)
        source_category = source_text
        if sub_source and source_text:
            source_category = f"{source_text} / {sub_source}"
        elif sub_source:
            source_category = sub_source
        finding = ParsedFinding(
            title=title,
            key=key,
            category_l1=l1 or "",
            category_l2=l2,
            source_category_text=source_category,
            detail=self.text(first, "detail"),
            seq=self.text(first, "seq"),
            sheet=place[0],
            row=place[1],
            group=block.group.ordinal,
        )
        self._finding_extras(finding, first)
        finding.measures = self._measures(block)
        if not finding.measures and not any(
            p.is_error and p.row is not None and p.row - 1 in block.rows
            for p in self.result.problems
        ):
            self.problem("该问题没有整改措施", row=first, col=self.field_col["measure"])
        immediate = self.text(first, "immediate")
        if immediate is not None:
            flag = squash(immediate)
            if flag in _YES:
                finding.immediate = True
            elif flag in _NO:
                finding.immediate = False
            else:
                self.problem(
                    "“是否立行立改”应填“是”或“否”",
                    row=first,
                    col=self.field_col.get("immediate"),
                    value=immediate,
                )
        else:
            finding.immediate = bool(finding.measures) and all(
                m.deadline_kind == "IMMEDIATE" for m in finding.measures
            )
        errors_after = sum(p.is_error for p in self.result.problems)
        if errors_after > errors_before or not finding.category_l1:
            return None
        return finding

    def _finding_extras(self, finding: ParsedFinding, r: int) -> None:
        severity = self.text(r, "severity")
        if severity is not None:
            if severity in ("一般", "较重", "严重"):
                finding.severity = severity
            else:
                self.problem(
                    "严重程度应为“一般”“较重”或“严重”",
                    row=r,
                    col=self.field_col.get("severity"),
                    value=severity,
                )
        level = self.text(r, "person_level")
        if level is not None:
            if level in ("一把手", "班子成员", "中层", "一般干部"):
                finding.person_level = level
            else:
                self.problem(
                    "涉及人员层级应为“一把手”“班子成员”“中层”或“一般干部”",
                    row=r,
                    col=self.field_col.get("person_level"),
                    value=level,
                )
        amount = self.cell(r, self.field_col.get("amount_wan"))
        if amount is not None:
            try:
                value = Decimal((cell_text(amount) or "").replace(",", ""))
                exponent = value.as_tuple().exponent
                if (
                    not value.is_finite()
                    or value < 0
                    or (isinstance(exponent, int) and exponent < -2)
                ):
                    raise InvalidOperation
                finding.amount_wan = value.quantize(Decimal("0.01"))
            except (InvalidOperation, ValueError):
                self.problem(
                    "涉及金额应为不小于 0 的数字（万元，最多两位小数）",
                    row=r,
                    col=self.field_col.get("amount_wan"),
                    value=amount,
                )
        tags = self.text(r, "tags")
        if tags is not None:
            known = {t for t, _ in categories.TAGS}
            parts = [p for p in re.split(r"[、,，;；/\s]+", tags) if p]
            unknown = [p for p in parts if p not in known]
            if unknown:
                self.problem(
                    f"未知的问题标签“{unknown[0]}”（应为六项纪律、四风、选人用人类型或“重点关注”）",
                    row=r,
                    col=self.field_col.get("tags"),
                    value=tags,
                )
            else:
                finding.tags = tuple(dict.fromkeys(parts))

    # -- measures --------------------------------------------------------------------------

    def _row_values(self, block: _Block) -> list[dict[str, Cell]]:
        """Measure-level cells per row; in CSV a blank on a continuation row takes the value
        of the row above (the CSV form of a merged cell)."""
        out: list[dict[str, Cell]] = []
        previous: dict[str, Cell] = {}
        names = [n for n in cols.MEASURE_FIELDS if n in self.field_col] + ["measure"]
        for index, r in enumerate(block.rows):
            values: dict[str, Cell] = {}
            for name in names:
                value = self.cell(r, self.field_col[name])
                if value is None and index > 0 and self.fill_down and name != "measure":
                    value = previous.get(name)
                values[name] = value
            values["_progress_extra"] = next(
                (self.cell(r, c) for c in self.extra_progress if self.cell(r, c) is not None), None
            )
            out.append(values)
            previous = values
        return out

    def _measures(self, block: _Block) -> list[ParsedMeasure]:
        measures: list[ParsedMeasure] = []
        seen: dict[str, int] = {}
        measure_col = self.field_col["measure"]
        for r, values in zip(block.rows, self._row_values(block), strict=True):
            raw = values["measure"]
            text = cell_text(raw)
            if not text:
                others = [n for n in cols.MEASURE_FIELDS if values.get(n) is not None]
                if len(block.rows) > 1 and others:
                    self.problem("该行填写了进展等内容，但没有整改措施", row=r, col=measure_col)
                continue
            items = split_numbered(text)
            shared = self._distribute(r, values, len(items))
            if shared is None:
                continue
            for k, item in enumerate(items):
                measure = self._measure(r, item, shared[k])
                if measure is None:
                    continue
                # A measure is its number under its problem; the same wording twice is two
                # measures (units repeat "制定整改方案…"), said once.
                measure.order = len(measures) + 1
                earlier = seen.get(measure.key)
                if earlier is not None:
                    self.problem(
                        f"同一问题下第 {measure.order} 条措施与第 {earlier} 条文字相同，"
                        "按顺序作为不同措施导入，请核对",
                        row=r,
                        col=measure_col,
                        value=item,
                        severity="warning",
                        kind="同一问题下措施文字相同（按顺序区分）",
                    )
                else:
                    seen[measure.key] = measure.order
                measures.append(measure)
        return measures

    def _distribute(
        self, r: int, values: dict[str, Cell], count: int
    ) -> list[dict[str, Cell]] | None:
        """Per-item values: a numbered cell with as many items as there are measures is
        spread over them; any other cell applies to all."""
        per: list[dict[str, Cell]] = [dict(values) for _ in range(count)]
        if count == 1:
            return per
        ok = True
        for name in cols.MEASURE_FIELDS:
            value = values.get(name)
            if not isinstance(value, str):
                continue
            parts = split_numbered(value)
            if len(parts) == count:
                for k in range(count):
                    per[k][name] = parts[k]
            elif len(parts) > 1:
                self.problem(
                    f"整改措施分为 {count} 条，但“{cols.FIELD_LABELS[name]}”分为 {len(parts)} 条，无法对应",
                    row=r,
                    col=self.field_col.get(name),
                    value=value,
                )
                ok = False
        return per if ok else None

    def _measure(self, r: int, text: str, values: dict[str, Cell]) -> ParsedMeasure | None:
        measure_col = self.field_col["measure"]
        stored = strip_marker(text)
        key = match_key(stored)
        if not key:
            self.problem("整改措施没有可识别的文字", row=r, col=measure_col, value=text)
            return None
        failed = False

        def fail(
            reason: str,
            name: str,
            value: Cell = None,
            kind: str | None = None,
            hint: str | None = None,
        ) -> None:
            nonlocal failed
            failed = True
            self.problem(
                reason, row=r, col=self.field_col.get(name), value=value, kind=kind, hint=hint
            )

        # 整改时限
        deadline_col = self.field_col["deadline"]
        deadline_raw = values.get("deadline")
        spec: DeadlineSpec | None = None
        try:
            spec = parse_deadline(deadline_raw)
        except DeadlineError as exc:
            fail(
                str(exc),
                "deadline",
                deadline_raw,
                kind="整改时限为空" if deadline_raw is None else "整改时限无法识别",
                hint=deadline_forms.ACCEPTED_HINT,
            )
        # 整改状态
        status_raw, status_name = values.get("status"), "status"
        reading = None
        if "status" in self.field_col:
            if status_raw is None:
                fail("整改状态为空", "status", kind="整改状态为空", hint=status_words.ACCEPTED_HINT)
            else:
                reading = read_status(cell_text(status_raw) or "")
                if reading is None:
                    fail(
                        f"无法识别的整改状态（可用：{status_words.ACCEPTED_HINT}；"
                        "两个不同状态的词写在一起也无法识别）",
                        "status",
                        status_raw,
                        kind="整改状态无法识别",
                        hint=status_words.ACCEPTED_HINT,
                    )
        else:
            for candidate in (values.get("progress"), values.get("_progress_extra")):
                text_value = cell_text(candidate)
                if text_value:
                    reading = leading_status(text_value)
                    if reading is not None:
                        status_raw, status_name = candidate, "progress"
                        break
            if reading is None:
                fail(
                    "无法确定整改状态：没有“整改状态”列，且“整改进展”没有以状态词（已完成、正在整改等）开头",
                    "progress",
                    values.get("progress"),
                    kind="整改进展没有以状态词开头",
                    hint=status_words.ACCEPTED_HINT,
                )
        # 延期
        extension: Period | None = spec.extension if spec else None
        ext_raw = values.get("extension")
        if ext_raw is not None:
            try:
                ext_spec = parse_deadline(ext_raw)
                if ext_spec.kind != "DATE" or ext_spec.period is None:
                    raise DeadlineError("延期时限应为具体日期或“2024年12月底前”等")
                extension = ext_spec.period
            except DeadlineError as exc:
                fail(f"延期时限：{exc}", "extension", ext_raw)
        if reading is not None and reading.extension and reading.extension_text:
            try:
                ext_spec = parse_deadline(reading.extension_text.lstrip("至到"))
                if ext_spec.kind == "DATE" and ext_spec.period is not None:
                    extension = ext_spec.period
            except DeadlineError:
                pass
        # 申请延期 with no new date of its own: a dated 时限 cell holds the approved new date
        # (offices overwrite the 时限 of a later ledger); the import keeps the original of the
        # measure it already holds, and refuses the date for a measure it does not hold.
        extension_in_deadline = False
        if reading is not None and reading.extension and extension is None and not failed:
            if spec is not None and spec.kind in ("DATE", "RELATIVE") and not spec.long_term:
                extension_in_deadline = True
            else:
                fail(
                    "申请延期须写明批准的新时限（如“申请延期至2024年12月底前”，"
                    "或在“整改时限”“延期时限”列填写新时限）",
                    status_name,
                    status_raw,
                    kind="申请延期没有写明新时限",
                )
        if failed or spec is None or reading is None:
            return None
        if extension is not None and spec.extension != extension:
            spec = DeadlineSpec(
                spec.kind,
                spec.long_term,
                spec.period,
                spec.months,
                spec.days,
                extension,
                spec.workdays,
                spec.note,
            )
        try:
            resolved = resolve_deadline(
                spec,
                feedback=self.ctx.feedback,
                entry_end=self.ctx.entry_end,
                calendar=self.ctx.calendar,
            )
        except DeadlineError as exc:
            self.problem(
                str(exc),
                row=r,
                col=deadline_col,
                value=deadline_raw,
                kind="整改时限无法确定到期日",
            )
            return None
        for note in resolved.notes:
            self.problem(
                note,
                row=r,
                col=deadline_col,
                value=deadline_raw,
                severity="warning",
                kind="整改时限没有写年份，按反馈日期推定"
                if "没有写年份" in note
                else ("整改时限以数字填写，按年月读取" if "以数字" in note else None),
            )
        feedback = self.ctx.feedback
        if (
            feedback is not None
            and resolved.due is not None
            and resolved.kind != "IMMEDIATE"
            and resolved.due < feedback
        ):
            self.problem(
                f"整改时限 {resolved.due.isoformat()} 早于反馈日期 {feedback.isoformat()}",
                row=r,
                col=deadline_col,
                value=deadline_raw,
                severity="warning",
            )
        completed_ok, completed = self._date(r, values, "completed_on")
        closed_ok, closed = self._date(r, values, "closed_on")
        if not (completed_ok and closed_ok):
            return None
        status = reading.status
        as_of = self.result.as_of
        for when, column in ((completed, "completed_on"), (closed, "closed_on")):
            if when is not None and as_of is not None and when > as_of:
                self.problem(
                    f"{'完成' if column == 'completed_on' else '销号'}时间 {when.isoformat()} "
                    f"晚于台账截至时间 {as_of.isoformat()}",
                    row=r,
                    col=self.field_col.get(column),
                    value=when.isoformat(),
                )
                return None
        if status != "DONE" and (completed or closed):
            self.problem(
                "措施未完成，却填写了完成或销号时间，该时间未导入",
                row=r,
                col=self.field_col.get("completed_on" if completed else "closed_on"),
                severity="warning",
            )
            completed = closed = None
        place = self.where(r, measure=True)
        progress = cell_text(values.get("progress"))
        extra = cell_text(values.get("_progress_extra"))
        if extra and progress and extra != progress:
            progress = f"{progress}\n{extra}"
        elif extra and not progress:
            progress = extra
        return ParsedMeasure(
            text=stored,
            key=key,
            deadline_kind=resolved.kind,
            deadline_text=cell_text(deadline_raw),
            deadline_date=resolved.due,
            long_term=resolved.long_term,
            status=status,
            status_text=cell_text(status_raw),
            extension_date=resolved.extension,
            lead_person=cell_text(values.get("lead_person")),
            department=cell_text(values.get("department")),
            person=cell_text(values.get("person")),
            progress=progress,
            evidence=cell_text(values.get("evidence")),
            completed_on=completed,
            closed_on=closed,
            sheet=place[0],
            row=place[1],
            remark=cell_text(values.get("remark")),
            extension_in_deadline=extension_in_deadline,
        )

    def _date(self, r: int, values: dict[str, Cell], name: str) -> tuple[bool, dt.date | None]:
        """(read fine, the date or None when blank)."""
        raw = values.get(name)
        if raw is None:
            return True, None
        try:
            return True, parse_date(raw)
        except DeadlineError as exc:
            self.problem(
                f"{cols.FIELD_LABELS[name]}：{exc}",
                row=r,
                col=self.field_col.get(name),
                value=raw,
                kind=f"{cols.FIELD_LABELS[name]}不是有效日期",
                hint="2024年6月30日、2024.6.30、2024/6/30、2024-06-30 或日期格式的单元格",
            )
            return False, None


_HEADING_NUMBER = re.compile(r"^\s*[(（]?第?([一二三四五六七八九十]{1,3})")


def _marker_number(heading: str) -> int | None:
    """The number a group row's own numbering gives ("二、" → 2, "（三）" → 3)."""
    found = _HEADING_NUMBER.match(nfkc(heading))
    return cn_number(found.group(1)) if found else None


def _shown(value: Cell) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    text = cell_text(value)
    return text if text is not None else (str(value) if value != "" else None)


def parse_sheet(sheet: Sheet, ctx: ParseContext) -> SheetResult:
    """Parse one sheet; `has_header` is false (and nothing reported) when it holds no ledger."""
    return _SheetParser(sheet, ctx).run()
