"""The Excel round trip of online rectification (DOMAIN.md §8): a unit's open measures as a
ledger to fill in, and the filled ledger uploaded as a batch of reports.

    open_measures_workbook   the reader's open measures (its scope only) as an .xlsx in the
                             shape offices know, with the columns to fill and a 说明 sheet
    read_report_workbook     an uploaded ledger checked (the hostile-file checks of ledger
                             imports first) and read into Reports, or into problems, each with
                             its row, column and reason in Chinese
    submit_round_trip        the reports written through workflow.report: one data version,
                             every row or none; 已完成 becomes a done claim 待审核, never DONE

The key of a row is 措施编号 (measure_id). A row is trusted only when its 具体问题 and
整改措施 are the store's own for that measure (compared ignoring whitespace, width and case):
a row whose key was typed over or moved onto another row's text would otherwise report on the
wrong measure, so such a row is refused, not warned about. The other descriptive columns
(轮次, 单位, 序号, 责任领导 …, 时限, 当前状态) are shown for orientation only; changing them
changes nothing and is not checked (the 说明 sheet says so). An unknown measure number and a
number of a measure outside the reader's scope get the same words, naming no other unit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xuncha import export
from xuncha.auth.access import REPORT, Access, PermissionDenied
from xuncha.ledger.deadlines import DeadlineError, parse_date
from xuncha.ledger.model import LedgerLimits
from xuncha.ledger.safety import RefusedFile, check_file
from xuncha.ledger.sources import Sheet, read_source
from xuncha.ledger.statuses import read_status
from xuncha.ledger.text import Cell, cell_text, column_letter, nfkc, squash
from xuncha.rectify import workflow
from xuncha.rectify.evidence import CheckedEvidence
from xuncha.rectify.workflow import (
    MAX_FILES,
    MAX_TEXT,
    STATE_LABELS,
    STATUS_LABELS,
    Report,
    Source,
    StepOutcome,
    WorkflowError,
)
from xuncha.store import Reader, Store

SHEET = "整改填报"
KEY = "措施编号"
STATUS = "本次填报状态"
PROGRESS = "整改进展"
COMPLETED = "完成日期"
EVIDENCE = "佐证材料文件名"
# (header, width): the columns shown for orientation (locked), then the columns to fill.
SHOWN_COLUMNS = [
    (KEY, 10),
    ("轮次", 20),
    ("单位", 16),
    ("序号", 6),
    ("具体问题", 36),
    ("整改措施", 40),
    ("责任领导", 10),
    ("责任部门", 12),
    ("责任人", 10),
    ("原定时限", 12),
    ("现行时限", 12),
    ("当前状态", 16),
]
FILL_COLUMNS = [(STATUS, 14), (PROGRESS, 40), (COMPLETED, 12), (EVIDENCE, 30)]
COLUMNS = [name for name, _ in SHOWN_COLUMNS + FILL_COLUMNS]
# The descriptive columns a row must keep as downloaded (see the module docstring).
KEY_TEXT_COLUMNS = {"具体问题": "title", "整改措施": "measure_text"}
CHOICES = ["正在整改", "阶段性完成", "未完成", "已完成"]
HEADER_ROW = 2  # 0-based: a title row, a line naming the unit and the date, then the header
HEADER_SEARCH_ROWS = 20
_NAMES = re.compile(r"[、；;，,\n]+")
NOT_FOUND = "措施不存在或不在本账号的范围内：{}"
NOTES = [
    "本表用于填报本单位整改措施的最新进展，填好后在“整改填报”页面上传，同时附上佐证材料文件。",
    "措施编号是每条措施在系统中的唯一标识，请勿修改、删除或复制到其他行；"
    "也不要改动同一行的“具体问题”和“整改措施”，否则该行会被拒绝。",
    "轮次、单位、序号、责任领导、责任部门、责任人、原定时限、现行时限、当前状态仅供对照，"
    "修改这些列不会生效（时限调整请在线提交延期申请，经巡察办批准后生效）。",
    "只填写本次要报告的措施：在“本次填报状态”下拉选择 正在整改、阶段性完成、未完成 或 已完成，"
    "并填写“整改进展”；不填报的措施整行留空即可。",
    "报“已完成”的措施须填写“完成日期”（如 2026-11-30），并在“佐证材料文件名”中写明文件名"
    "（多个用“、”或“；”分隔），上传时附上同名文件。",
    "报“已完成”不等于已完成：提交后进入待审核，经巡察组或监督检查室审核、巡察办销号后，"
    "才计为已完成；被退回的，按退回理由补充后重新填报。",
    "上传的表格整体检查：任一行有问题，全部不提交，并逐条列出行号、列名和原因，改正后重新上传。",
    "表中的单元格内容一律按文本处理，不会作为公式执行。",
]


@dataclass(frozen=True)
class RowProblem:
    """One reason an uploaded ledger is refused: its row (as Excel numbers it), its column
    (the header) and why, in Chinese. row/column are None for the file as a whole."""

    row: int | None
    column: str | None
    reason: str
    letter: str | None = None  # the column's letter in the uploaded sheet (A, B, …)

    def text(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"第 {self.row} 行")
        if self.column is not None:
            where.append(f"“{self.column}”列" + (f"（{self.letter} 列）" if self.letter else ""))
        return ("".join(where) + "：" if where else "") + self.reason


@dataclass
class RoundTrip:
    """What an uploaded ledger says: its reports, or the problems that refuse it."""

    file_name: str
    sha256: str | None
    reports: list[Report] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    refused: bool = False  # refused by the hostile-file checks before being read

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.reports)


# -- download ------------------------------------------------------------------------------


def _inspection_ids(store: Store, access: Access) -> list[int] | None:
    visible = workflow.visible_inspections(store, access)
    return None if visible is None else sorted(visible)


def _state_label(row: Mapping[str, Any]) -> str:
    label = STATUS_LABELS.get(row["status"], row["status"] or "")
    if row.get("done_state"):
        label += f"（完成申请{STATE_LABELS[row['done_state']]}）"
    return label


def open_measures_workbook(
    store: Store, reader: Reader, access: Access, *, today: dt.date
) -> tuple[str, bytes]:
    """The open (not yet 销号) measures `access` may report on, as an .xlsx to fill in:
    (file name, bytes). A liaison gets its own unit's measures only."""
    if not access.can(REPORT):
        raise PermissionDenied("没有整改填报权限")
    ids = _inspection_ids(store, access)
    frame = reader.query(
        "rectify_measures", {"inspection_ids": ids, "as_of": today, "open_only": True}
    )
    rows = frame.to_dicts()
    units = sorted({r["unit_name"] for r in rows if r["unit_name"]})
    if access.units and len(access.units) == 1:
        scope = access.units[0]
    elif ids is None:
        scope = "全部单位"
    else:
        scope = "、".join(units) if units else "本账号范围"
    exported_at = dt.datetime.now().replace(microsecond=0)
    meta = export.ExportMeta(
        title=f"{scope}整改措施填报表",
        scope=f"{scope}：未销号的整改措施 {len(rows)} 条"
        + (f"（账号限定单位：{'、'.join(access.units)}）" if access.units else ""),
        as_of=today,
        user=f"{access.display_name}（{access.user}，{access.role_label}）",
        notes=NOTES,
        exported_at=exported_at,
    )
    data = _write_workbook(rows, meta, scope)
    return export.file_name("整改填报表", scope, "xlsx", today), data


def _write_workbook(rows: list[dict[str, Any]], meta: export.ExportMeta, scope: str) -> bytes:
    buffer = io.BytesIO()
    book = export.safe_workbook(buffer)
    title = book.add_format({"bold": True, "font_size": 14, "align": "center"})
    head = book.add_format(
        {"bold": True, "border": 1, "bg_color": "#DDEBF7", "text_wrap": True, "valign": "top"}
    )
    fill_head = book.add_format(
        {"bold": True, "border": 1, "bg_color": "#FFF2CC", "text_wrap": True, "valign": "top"}
    )
    shown = book.add_format(
        {"border": 1, "text_wrap": True, "valign": "top", "bg_color": "#F2F2F2"}
    )
    shown_date = book.add_format(
        {"border": 1, "valign": "top", "bg_color": "#F2F2F2", "num_format": "yyyy-mm-dd"}
    )
    fill = book.add_format({"border": 1, "text_wrap": True, "valign": "top", "locked": False})
    fill_date = book.add_format(
        {"border": 1, "valign": "top", "locked": False, "num_format": "yyyy-mm-dd"}
    )
    sheet = book.add_worksheet(SHEET)
    last_col = len(COLUMNS) - 1
    sheet.merge_range(0, 0, 0, last_col, meta.title, title)
    sheet.merge_range(
        1,
        0,
        1,
        last_col,
        f"填报单位：{scope}　　导出日期：{meta.as_of}　　请勿修改措施编号；"
        "灰色列仅供对照，黄色表头的列为本次填报内容",
        book.add_format({"font_size": 10}),
    )
    for col, (name, width) in enumerate(SHOWN_COLUMNS + FILL_COLUMNS):
        sheet.write_string(HEADER_ROW, col, name, fill_head if col >= len(SHOWN_COLUMNS) else head)
        sheet.set_column(col, col, width)
    for offset, row in enumerate(rows):
        r = HEADER_ROW + 1 + offset
        values: list[Any] = [
            row["measure_id"],
            row["round_name"],
            row["unit_name"],
            row["ledger_seq"],
            row["title"],
            row["measure_text"],
            row["lead_person"],
            row["department"],
            row["person"],
            row["deadline_original"],
            row["deadline_current"],
            _state_label(row),
        ]
        for col, value in enumerate(values):
            if value is None:
                sheet.write_blank(r, col, None, shown)
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, col, value, shown_date)
            elif isinstance(value, int):
                sheet.write_number(r, col, value, shown)
            else:  # text: never a formula, whatever it begins with
                sheet.write_string(r, col, str(value), shown)
        for col in range(len(SHOWN_COLUMNS), len(COLUMNS)):
            fmt = fill_date if COLUMNS[col] == COMPLETED else fill
            sheet.write_blank(r, col, None, fmt)
    first, last = HEADER_ROW + 1, HEADER_ROW + max(len(rows), 1)
    status_col = COLUMNS.index(STATUS)
    sheet.data_validation(
        first,
        status_col,
        last,
        status_col,
        {
            "validate": "list",
            "source": CHOICES,
            "input_title": STATUS,
            "input_message": "报“已完成”须填完成日期和佐证材料文件名，提交后待审核",
            "error_title": STATUS,
            "error_message": "请从下拉列表选择：" + "、".join(CHOICES),
        },
    )
    date_col = COLUMNS.index(COMPLETED)
    sheet.data_validation(
        first,
        date_col,
        last,
        date_col,
        {
            "validate": "date",
            "criteria": ">=",
            "value": dt.date(2000, 1, 1),
            "error_type": "warning",
            "input_title": COMPLETED,
            "input_message": "报“已完成”时必填，如 2026-11-30",
        },
    )
    sheet.freeze_panes(HEADER_ROW + 1, 1)
    sheet.autofilter(HEADER_ROW, 0, last, last_col)
    # Protected without a password: the shown columns cannot be typed over by accident, yet
    # nobody is asked for a password (审阅 → 撤销工作表保护 lifts it).
    sheet.protect(
        "",
        {
            "autofilter": True,
            "sort": False,
            "format_columns": True,
            "format_rows": True,
            "select_locked_cells": True,
            "select_unlocked_cells": True,
        },
    )
    notes_head = book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    export._notes_sheet(book, meta, notes_head, wrap, len(rows))
    book.close()
    return buffer.getvalue()


# -- upload --------------------------------------------------------------------------------


def _refused(file_name: str, reason: str) -> RoundTrip:
    return RoundTrip(file_name, None, problems=[RowProblem(None, None, reason)], refused=True)


def _checked_sheets(file_name: str, data: bytes, limits: LedgerLimits) -> tuple[str, list[Sheet]]:
    """The hostile-file checks of ledger imports, then the sheets' cell values."""
    started = time.monotonic()
    suffix = Path(file_name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="xuncha-roundtrip-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        checked = check_file(path, file_name, limits, started)
    source = read_source(checked, limits, started)
    return checked.sha256, source.sheets


def _find_header(sheets: list[Sheet]) -> tuple[Sheet, int, dict[str, int]] | None:
    """The sheet and 0-based row of the header (the first naming 措施编号 and 本次填报状态),
    with the column index of each known header."""
    wanted = {squash(name): name for name in COLUMNS}
    ordered = sorted(sheets, key=lambda s: s.name != SHEET)
    for sheet in ordered:
        for index, row in enumerate(sheet.rows[:HEADER_SEARCH_ROWS]):
            found: dict[str, int] = {}
            for col, value in enumerate(row):
                text = cell_text(value)
                name = wanted.get(squash(text)) if text else None
                if name is not None and name not in found:
                    found[name] = col
            if KEY in found and STATUS in found:
                return sheet, index, found
    return None


def _names(text: str | None) -> list[str]:
    out: list[str] = []
    for part in _NAMES.split(text or ""):
        name = part.strip(" \t\u3000\"'“”‘’")
        if name and name not in out:
            out.append(name)
    return out


def _name_key(name: str) -> str:
    return nfkc(name).strip().casefold()


def _measure_id(value: Cell) -> int | None:
    text = cell_text(value)
    if text is None:
        return None
    text = nfkc(text).strip()
    return int(text) if text.isdigit() and len(text) <= 9 else -1


class _Rows:
    """Reads the filled rows of one uploaded ledger against the measures in scope."""

    def __init__(
        self,
        *,
        columns: dict[str, int],
        measures: dict[int, dict[str, Any]],
        feedback: dict[int, dt.date],
        evidence: dict[str, CheckedEvidence],
        today: dt.date,
    ) -> None:
        self.columns = columns
        self.measures = measures
        self.feedback = feedback
        self.evidence = evidence
        self.today = today
        self.used: set[str] = set()  # evidence names some row refers to
        self.seen: dict[int, int] = {}  # measure_id → the row that reported it first
        self.row_number = 0
        self.problems: list[RowProblem] = []

    def cell(self, row: list[Cell], name: str) -> Cell:
        col = self.columns.get(name)
        return row[col] if col is not None and col < len(row) else None

    def problem(self, column: str, reason: str) -> None:
        letter = column_letter(self.columns[column]) if column in self.columns else None
        self.problems.append(RowProblem(self.row_number, column, reason, letter))

    def read(self, row: list[Cell], row_number: int) -> tuple[Report | None, list[RowProblem]]:
        """The report of one row (None: a row not filled in, or a refused one), and the
        row's problems."""
        self.row_number = row_number
        self.problems = []
        problem = self.problem
        status_text = cell_text(self.cell(row, STATUS))
        progress = cell_text(self.cell(row, PROGRESS))
        completed_raw = self.cell(row, COMPLETED)
        names = _names(cell_text(self.cell(row, EVIDENCE)))
        if status_text is None:
            if progress is not None or cell_text(completed_raw) is not None or names:
                problem(STATUS, "已填写进展、完成日期或佐证材料，但未选择本次填报状态")
            return None, self.problems  # a measure not reported this time
        measure_id, measure = self._measure(row)
        status = self._status(status_text, measure_id, measure)
        done = status == "DONE"
        if progress is None:
            problem(PROGRESS, "请填写整改进展")
        elif len(progress) > MAX_TEXT:
            problem(PROGRESS, f"整改进展不能超过 {MAX_TEXT} 字（现为 {len(progress)} 字）")
        completed_on = self._completed_on(completed_raw, status, measure)
        files = self._files(names, done)
        if self.problems:
            return None, self.problems
        assert measure_id is not None and status is not None and progress is not None
        report = Report(
            measure_id=measure_id,
            status=status,
            progress=progress,
            completed_on=completed_on,
            evidence=tuple(files),
            source_row=row_number,
        )
        return report, self.problems

    def _measure(self, row: list[Cell]) -> tuple[int | None, dict[str, Any] | None]:
        """The measure the row's key names, when it is one the reader may report on."""
        raw = self.cell(row, KEY)
        measure_id = _measure_id(raw)
        if measure_id is None:
            self.problem(KEY, "缺少措施编号")
            return None, None
        if measure_id < 0:
            self.problem(KEY, f"措施编号“{cell_text(raw)}”不是有效的编号（应为下载时的数字）")
            return None, None
        if measure_id in self.seen:
            self.problem(
                KEY, f"措施 {measure_id} 在第 {self.seen[measure_id]} 行已填报，同一措施只能填一行"
            )
            return measure_id, None
        self.seen[measure_id] = self.row_number
        measure = self.measures.get(measure_id)
        if measure is None:
            self.problem(KEY, NOT_FOUND.format(measure_id))
            return measure_id, None
        if measure["status"] == "DONE":
            self.problem(KEY, f"措施 {measure_id} 已销号，无需再填报")
            return measure_id, None
        for name, key in KEY_TEXT_COLUMNS.items():
            text = cell_text(self.cell(row, name))
            if text is not None and squash(text) != squash(measure[key] or ""):
                self.problem(
                    name,
                    f"与系统中措施 {measure_id} 的{name}不一致（措施编号可能被改动或行被错位）；"
                    "请勿修改措施编号及同一行的具体问题和整改措施，可重新下载后填写",
                )
        return measure_id, measure

    def _status(
        self, text: str, measure_id: int | None, measure: dict[str, Any] | None
    ) -> str | None:
        """The canonical status written, read as ledger imports read it."""
        reading = read_status(text)
        if reading is None:
            self.problem(STATUS, f"无法识别的状态“{text}”（可填：{'、'.join(CHOICES)}）")
            return None
        if reading.extension:
            self.problem(STATUS, "申请延期请在“整改填报”页面在线提交（须写明理由和申请的新时限）")
            return None
        if reading.status not in (*workflow.PROGRESS_STATUSES, "DONE"):
            self.problem(STATUS, f"本表不能填报“{text}”（可填：{'、'.join(CHOICES)}）")
            return None
        if reading.status == "DONE" and measure is not None and measure["done_submission_id"]:
            self.problem(
                STATUS,
                f"措施 {measure_id} 已有{STATE_LABELS[measure['done_state']]}的完成申请，"
                "请等待审核结果",
            )
        return reading.status

    def _completed_on(
        self, raw: Cell, status: str | None, measure: dict[str, Any] | None
    ) -> dt.date | None:
        if cell_text(raw) is None:
            if status == "DONE":
                self.problem(COMPLETED, "报“已完成”须填写完成日期")
            return None
        if status is not None and status != "DONE":
            self.problem(COMPLETED, "未报“已完成”，不应填写完成日期")
            return None
        try:
            day = parse_date(raw)
        except DeadlineError as exc:
            self.problem(COMPLETED, f"完成日期“{cell_text(raw)}”无法识别：{exc}")
            return None
        if day > self.today:
            self.problem(COMPLETED, f"完成日期 {day.isoformat()} 晚于今天")
        fed = self.feedback.get(int(measure["inspection_id"])) if measure else None
        if fed is not None and day < fed:
            self.problem(COMPLETED, f"完成日期 {day.isoformat()} 早于反馈日期 {fed.isoformat()}")
        return day

    def _files(self, names: list[str], done: bool) -> list[CheckedEvidence]:
        files: list[CheckedEvidence] = []
        for name in names:
            checked = self.evidence.get(_name_key(name))
            if checked is None:
                self.problem(
                    EVIDENCE, f"佐证材料“{name}”未随本次上传；请一并上传该文件，或改正文件名"
                )
                continue
            self.used.add(_name_key(name))
            if checked.sha256 not in {f.sha256 for f in files}:
                files.append(checked)
        if done and not names:
            self.problem(EVIDENCE, "报“已完成”须填写佐证材料文件名，并在上传时附上这些文件")
        if len(files) > MAX_FILES:
            self.problem(EVIDENCE, f"每条措施的佐证材料不能超过 {MAX_FILES} 个")
        return files


def read_report_workbook(
    store: Store,
    reader: Reader,
    access: Access,
    file_name: str,
    data: bytes,
    *,
    evidence: Mapping[str, CheckedEvidence],
    today: dt.date,
    limits: LedgerLimits | None = None,
) -> RoundTrip:
    """Check and read an uploaded report ledger. Nothing is written: the result holds the
    reports (with their Excel row numbers) or every problem, by row and column.

    `evidence` are the files uploaded with it, already checked (evidence.check_evidence), by
    their file names; a row names its files in 佐证材料文件名."""
    if not access.can(REPORT):
        raise PermissionDenied("没有整改填报权限")
    try:
        sha256, sheets = _checked_sheets(file_name, data, limits or LedgerLimits.from_env())
    except RefusedFile as exc:
        return _refused(file_name, f"文件被拒绝：{exc}")
    result = RoundTrip(file_name, sha256)
    found = _find_header(sheets)
    if found is None:
        result.problems.append(
            RowProblem(
                None,
                None,
                f"未找到表头：须有“{KEY}”和“{STATUS}”两列；请使用下载的填报表填写，不要删除或改名列",
            )
        )
        return result
    sheet, header, columns = found
    for name in (PROGRESS, COMPLETED, EVIDENCE):
        if name not in columns:
            result.problems.append(
                RowProblem(
                    header + 1, name, f"缺少“{name}”列；请使用下载的填报表，不要删除或改名列"
                )
            )
    if result.problems:
        return result

    ids = _inspection_ids(store, access)
    measures = {
        int(r["measure_id"]): r
        for r in reader.query(
            "rectify_measures", {"inspection_ids": ids, "as_of": today, "open_only": False}
        ).to_dicts()
    }
    feedback = {
        int(i): d
        for i, d in reader.query("rectify_roundtrip_feedback", {"inspection_ids": ids})
        .select("inspection_id", "feedback_date")
        .rows()
    }
    rows = _Rows(
        columns=columns,
        measures=measures,
        feedback=feedback,
        evidence={_name_key(name): checked for name, checked in evidence.items()},
        today=today,
    )
    for index in range(header + 1, len(sheet.rows)):
        report, problems = rows.read(sheet.rows[index], index + 1)
        result.problems.extend(problems)
        if report is not None:
            result.reports.append(report)
    for name in evidence:
        if _name_key(name) not in rows.used:
            result.warnings.append(
                RowProblem(None, EVIDENCE, f"上传的文件“{name}”没有被任何一行引用，不会保存")
            )
    if not result.reports and not result.problems:
        result.problems.append(
            RowProblem(None, STATUS, "没有填报任何措施：请在要报告的措施行选择本次填报状态")
        )
    return result


def submit_round_trip(
    store: Store,
    access: Access,
    round_trip: RoundTrip,
    file_name: str,
    data: bytes,
    *,
    on: dt.date | None = None,
    now: dt.datetime | None = None,
) -> StepOutcome:
    """Write a checked round trip through workflow.report: one data version, one batch with
    the file's name and SHA-256, every row or none. 已完成 rows become done claims awaiting
    review (待审核); they are done only when 销号. Refused (WorkflowError, nothing written)
    while the round trip has problems or the file is not the one that was checked."""
    if round_trip.problems:
        shown = "；".join(p.text() for p in round_trip.problems[:20])
        more = len(round_trip.problems) - 20
        raise WorkflowError(
            f"填报表有 {len(round_trip.problems)} 处问题，未提交任何填报：{shown}"
            + (f"；另有 {more} 处" if more > 0 else "")
        )
    if not round_trip.reports:
        raise WorkflowError("没有要提交的填报")
    digest = hashlib.sha256(data).hexdigest()
    if digest != round_trip.sha256 or file_name != round_trip.file_name:
        raise WorkflowError("上传的文件与检查时的文件不同，请重新上传并检查")
    return workflow.report(
        store,
        access,
        round_trip.reports,
        on=on,
        now=now,
        source=Source(kind="excel", file_name=file_name, sha256=digest),
    )
