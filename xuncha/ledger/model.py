"""What reading a ledger produces: the problems found (the validation report), the parsed
findings with their measures, and the limits reading runs under."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

import polars as pl

from xuncha.ledger.statuses import STATUS_LABELS

Severity = Literal["error", "warning"]
SEVERITY_LABELS = {"error": "错误", "warning": "提示"}

REPORT_COLUMNS = ["级别", "文件", "工作表", "行", "列", "值", "问题"]
# What users read for the parsed codes (the preview of a ledger).
DEADLINE_KIND_LABELS = {
    "IMMEDIATE": "立行立改",
    "DATE": "具体日期",
    "RELATIVE": "反馈后期限",
    "LONG_TERM": "长期坚持",
}


@dataclass(frozen=True)
class LedgerLimits:
    """Bounds on what a ledger file may make the reader do (hostile files are refused before
    parsing when they would exceed them). The densest sheet a workbook may declare costs about
    max_rows × max_columns × 32 bytes while it is read."""

    max_file_bytes: int = 20 * 1024 * 1024
    max_uncompressed_bytes: int = 400 * 1024 * 1024
    max_compression_ratio: float = 200.0
    max_zip_members: int = 1000
    max_rows: int = 150_000
    max_columns: int = 64
    max_cell_chars: int = 32_767
    max_seconds: float = 60.0

    @classmethod
    def from_env(cls) -> LedgerLimits:
        """Defaults, with the size limit overridable by XUNCHA_LEDGER_MAX_MB."""
        raw = os.environ.get("XUNCHA_LEDGER_MAX_MB")
        if raw:
            try:
                megabytes = float(raw)
            except ValueError:
                megabytes = 0
            if megabytes > 0:
                return cls(max_file_bytes=int(megabytes * 1024 * 1024))
        return cls()


@dataclass(frozen=True)
class Problem:
    """One line of the validation report: where, what value, why (in Chinese)."""

    file: str
    reason: str
    severity: Severity = "error"
    sheet: str | None = None
    row: int | None = None  # 1-based, as Excel shows it
    column_header: str | None = None
    column_letter: str | None = None
    value: str | None = None
    # What kind of problem this is, without the row's own values ("整改状态无法识别"): the
    # report groups by it so a clerk fixes every row of one kind in one pass. None: the reason
    # is its own kind.
    kind: str | None = None
    # What would be accepted instead (shown once per kind).
    hint: str | None = None

    @property
    def group(self) -> str:
        """The heading this problem is grouped under in the report."""
        return self.kind or self.reason

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def column(self) -> str | None:
        """The column as a user finds it: "整改时限（F列）"."""
        if self.column_header and self.column_letter:
            return f"{self.column_header}（{self.column_letter}列）"
        if self.column_letter:
            return f"{self.column_letter}列"
        return self.column_header

    def where(self) -> str:
        """Where the problem is and the value found there: 工作表“台账” 第6行 整改时限（G列） 值“…”."""
        parts = []
        if self.sheet:
            parts.append(f"工作表“{self.sheet}”")
        if self.row is not None:
            parts.append(f"第{self.row}行")
        if self.column:
            parts.append(self.column)
        text = " ".join(parts)
        if self.value is not None:
            text = f"{text} 值“{_short(self.value)}”".strip()
        return text

    def describe(self) -> str:
        """The problem as one Chinese line."""
        text = " ".join(part for part in (self.file, self.where()) if part)
        return f"[{SEVERITY_LABELS[self.severity]}] {text}：{self.reason}"

    def as_record(self) -> dict[str, object]:
        return {
            "级别": SEVERITY_LABELS[self.severity],
            "文件": self.file,
            "工作表": self.sheet,
            "行": self.row,
            "列": self.column,
            "值": self.value,
            "问题": self.reason,
        }

    def as_json(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "file": self.file,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "column_header": self.column_header,
            "column_letter": self.column_letter,
            "value": self.value,
            "reason": self.reason,
            "kind": self.group,
            "hint": self.hint,
        }


def _short(text: str, limit: int = 60) -> str:
    flat = text.replace("\n", " ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def report_frame(problems: list[Problem]) -> pl.DataFrame:
    """The validation report as a frame with Chinese column names (for showing and download)."""
    schema = {
        "级别": pl.String,
        "文件": pl.String,
        "工作表": pl.String,
        "行": pl.Int64,
        "列": pl.String,
        "值": pl.String,
        "问题": pl.String,
    }
    ordered = sorted(
        problems,
        key=lambda p: (p.file, p.severity != "error", p.sheet or "", p.row or 0),
    )
    return pl.DataFrame([p.as_record() for p in ordered], schema=schema)


@dataclass
class ParsedMeasure:
    """One measure as read from a ledger row (or one item of a numbered cell).

    Its identity is its place: `order`, its number under its problem (1, 2, …). `key` is its
    text normalised, used only to help pair a later ledger's measures with those held."""

    text: str
    key: str
    deadline_kind: str
    deadline_text: str | None
    deadline_date: dt.date | None
    long_term: bool
    status: str
    status_text: str | None
    extension_date: dt.date | None = None
    lead_person: str | None = None
    department: str | None = None
    person: str | None = None
    progress: str | None = None
    evidence: str | None = None
    completed_on: dt.date | None = None
    closed_on: dt.date | None = None
    sheet: str | None = None
    row: int | None = None
    order: int = 0
    remark: str | None = None
    # 申请延期 with a date in the 时限 column: that date is the approved new deadline of a
    # measure already held (the import keeps its original); for a new measure it is refused.
    extension_in_deadline: bool = False


@dataclass
class ParsedFinding:
    """One problem with its measures, as read from a ledger.

    Its identity is its place in the ledger (DOMAIN.md §4): `position`, its 序号 (with the
    group it stands under where numbering restarts per group), else its order. `key` is its
    text normalised (具体问题 and 具体表现), used only to help pair a later ledger's problems
    with those held; identical text never makes two problems one."""

    title: str
    key: str
    category_l1: str
    category_l2: str | None
    source_category_text: str | None
    detail: str | None = None
    tags: tuple[str, ...] = ()
    severity: str | None = None
    person_level: str | None = None
    amount_wan: Decimal | None = None
    immediate: bool = False
    seq: str | None = None
    sheet: str | None = None
    row: int | None = None
    measures: list[ParsedMeasure] = field(default_factory=list)
    order: int = 0  # 1-based order in the file
    group: tuple[int, int] = (0, 0)  # ordinals of the group row and sub-group row above it
    position: str = ""  # the identity in this ledger (set by the reader for the whole file)


@dataclass
class LedgerResult:
    """Everything read from one ledger file, before anything is written anywhere.

    `ok` is true when no problem is an error and at least one finding was read; warnings do
    not stop an import. `problems` is the validation report (also as `report_frame()`).
    """

    file_name: str
    path: Path
    sha256: str | None = None
    size: int = 0
    file_format: str | None = None  # "xlsx" | "csv"
    encoding: str | None = None  # CSV only
    sheets: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    findings: list[ParsedFinding] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # header as written → field label
    title: str | None = None
    guessed_round: str | None = None
    guessed_unit: str | None = None
    guessed_group: str | None = None
    as_of: dt.date | None = None
    rows_read: int = 0
    refused: bool = False  # refused before parsing (hostile or not a ledger file)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.findings)

    @property
    def measure_count(self) -> int:
        return sum(len(f.measures) for f in self.findings)

    def report_frame(self) -> pl.DataFrame:
        """The validation report: 级别, 文件, 工作表, 行, 列, 值, 问题."""
        return report_frame(self.problems)

    def findings_frame(self) -> pl.DataFrame:
        """One row per parsed finding (for a preview)."""
        return pl.DataFrame(
            [
                {
                    "工作表": f.sheet,
                    "行": f.row,
                    "序号": f.seq,
                    "位置": f.position,
                    "一级类别": f.category_l1,
                    "二级类别": f.category_l2,
                    "台账类别原文": f.source_category_text,
                    "具体问题": f.title,
                    "具体表现": f.detail,
                    "立行立改": f.immediate,
                    "措施数": len(f.measures),
                }
                for f in self.findings
            ],
            schema={
                "工作表": pl.String,
                "行": pl.Int64,
                "序号": pl.String,
                "位置": pl.String,
                "一级类别": pl.String,
                "二级类别": pl.String,
                "台账类别原文": pl.String,
                "具体问题": pl.String,
                "具体表现": pl.String,
                "立行立改": pl.Boolean,
                "措施数": pl.Int64,
            },
        )

    def measures_frame(self) -> pl.DataFrame:
        """One row per parsed measure (for a preview)."""
        return pl.DataFrame(
            [
                {
                    "工作表": m.sheet,
                    "行": m.row,
                    "具体问题": f.title,
                    "整改措施": m.text,
                    "责任领导": m.lead_person,
                    "责任部门": m.department,
                    "责任人": m.person,
                    "时限原文": m.deadline_text,
                    "时限类型": DEADLINE_KIND_LABELS.get(m.deadline_kind, m.deadline_kind),
                    "整改时限": m.deadline_date,
                    "长期坚持": m.long_term,
                    "延期至": m.extension_date,
                    "状态原文": m.status_text,
                    "状态": STATUS_LABELS.get(m.status, m.status),
                    "完成日期": m.completed_on,
                    "整改进展": m.progress,
                }
                for f in self.findings
                for m in f.measures
            ],
            schema={
                "工作表": pl.String,
                "行": pl.Int64,
                "具体问题": pl.String,
                "整改措施": pl.String,
                "责任领导": pl.String,
                "责任部门": pl.String,
                "责任人": pl.String,
                "时限原文": pl.String,
                "时限类型": pl.String,
                "整改时限": pl.Date,
                "长期坚持": pl.Boolean,
                "延期至": pl.Date,
                "状态原文": pl.String,
                "状态": pl.String,
                "完成日期": pl.Date,
                "整改进展": pl.String,
            },
        )
