"""read_ledger: safe-check, parse, normalise and validate one ledger file, touching no store."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from xuncha.ledger.classify import Classifier
from xuncha.ledger.join import join_lists
from xuncha.ledger.layout import ParseContext, SheetResult, parse_sheet
from xuncha.ledger.model import LedgerLimits, LedgerResult, ParsedFinding, Problem
from xuncha.ledger.safety import RefusedFile, check_file
from xuncha.ledger.sources import read_source
from xuncha.ledger.text import seq_key, squash

if TYPE_CHECKING:
    from xuncha.ledger.workdays import WorkdayCalendar


@contextlib.contextmanager
def bulk_work() -> Iterator[None]:
    """The cyclic garbage collector paused while a ledger's millions of small objects are made:
    they hold no cycles, yet CPython would scan every live one again at each collection (about
    an eighth of the reading time of a 100,000-row ledger). Reference counting still frees
    what is dropped meanwhile; collection resumes afterwards."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def read_ledger(
    path: Path,
    *,
    file_name: str | None = None,
    feedback_date: dt.date | None = None,
    round_name: str | None = None,
    unit_name: str | None = None,
    entry_end: dt.date | None = None,
    aliases: Iterable[tuple[str, str]] | None = None,
    limits: LedgerLimits | None = None,
    calendar: WorkdayCalendar | None = None,
) -> LedgerResult:
    """Read one ledger (.xlsx or .csv) into findings and measures, with its validation report.

    Nothing is written anywhere. Hostile or mislabelled files are refused before parsing
    (`result.refused`, one error saying why). `feedback_date` (反馈日期) resolves relative
    deadlines ("2个月内") and years left out ("一季度"); `entry_end` (进驻结束) is the due
    date of 立行立改 (the 反馈日期 when unknown). `round_name` / `unit_name`, when given, are
    compared with what the title and 填报单位 line say (a warning when they differ).
    `aliases` are (wording, L1) pairs for category text (default: the seed of the store's
    `category_aliases`). `calendar` counts working-day deadlines ("10个工作日内"; default:
    the official calendar without a store's additions). `file_name` is the name shown in the report (an uploaded file's
    original name); it also decides the format by its extension.
    """
    with bulk_work():
        return _read(
            path,
            file_name,
            feedback_date,
            round_name,
            unit_name,
            entry_end,
            aliases,
            limits,
            calendar,
        )


def _read(
    path: Path,
    file_name: str | None,
    feedback_date: dt.date | None,
    round_name: str | None,
    unit_name: str | None,
    entry_end: dt.date | None,
    aliases: Iterable[tuple[str, str]] | None,
    limits: LedgerLimits | None,
    calendar: WorkdayCalendar | None,
) -> LedgerResult:
    started = time.monotonic()
    limits = limits or LedgerLimits.from_env()
    path = Path(path)
    name = file_name or path.name
    result = LedgerResult(file_name=name, path=path)
    try:
        checked = check_file(path, name, limits, started)
        result.sha256, result.size, result.file_format = checked.sha256, checked.size, checked.kind
        source = read_source(checked, limits, started)
    except RefusedFile as exc:
        result.refused = True
        result.problems.append(Problem(file=name, reason=f"文件被拒绝：{exc}"))
        return result
    result.encoding = source.encoding
    source.sheets = join_lists(source.sheets)  # 问题清单 + 任务清单 → one ledger sheet
    classifier = Classifier.from_aliases(aliases) if aliases is not None else Classifier()
    context = ParseContext(name, feedback_date, entry_end, classifier, limits, started, calendar)
    parsed: list[SheetResult] = []
    try:
        for sheet in source.sheets:
            parsed.append(parse_sheet(sheet, context))
    except RefusedFile as exc:
        result.refused = True
        result.problems.append(Problem(file=name, reason=f"文件被拒绝：{exc}"))
        return result
    for hidden in source.hidden_sheets:
        result.problems.append(
            Problem(file=name, sheet=hidden, reason="隐藏的工作表未读取", severity="warning")
        )
    _combine(result, parsed, source_is_csv=result.file_format == "csv")
    _compare_names(result, round_name, unit_name)
    return result


def _combine(result: LedgerResult, parsed: list[SheetResult], *, source_is_csv: bool) -> None:
    ledgers = [p for p in parsed if p.has_header]
    result.sheets = [p.name for p in ledgers] if not source_is_csv else []
    if not ledgers:
        result.problems.append(
            Problem(
                file=result.file_name,
                reason="未找到台账表头：前 40 行内应有一行同时含“具体问题”“整改措施”等列名",
            )
        )
        return
    for other in parsed:
        if not other.has_header and other.has_content:
            result.problems.append(
                Problem(
                    file=result.file_name,
                    sheet=other.name,
                    reason="工作表中没有台账表头，已跳过",
                    severity="warning",
                )
            )
    for index, sheet in enumerate(ledgers):
        result.problems.extend(sheet.problems)
        result.rows_read += sheet.rows_read
        for label, field in sheet.columns.items():
            result.columns.setdefault(label, field)
        for column in sheet.unknown_columns:
            shown = column if len(ledgers) == 1 else f"{sheet.name}：{column}"
            if shown not in result.unknown_columns:
                result.unknown_columns.append(shown)
        for finding in sheet.findings:
            finding.order = len(result.findings) + 1
            if len(ledgers) > 1:  # each ledger sheet numbers its own problems
                finding.group = (finding.group[0] + 1000 * (index + 1), finding.group[1])
            result.findings.append(finding)
        for attr in ("title", "guessed_unit", "guessed_group", "guessed_round"):
            source_attr = {
                "title": "title",
                "guessed_unit": "unit",
                "guessed_group": "group",
                "guessed_round": "round_name",
            }[attr]
            if getattr(result, attr) is None:
                setattr(result, attr, getattr(sheet, source_attr))
        if sheet.as_of is not None:
            if result.as_of is not None and result.as_of != sheet.as_of:
                result.problems.append(
                    Problem(
                        file=result.file_name,
                        sheet=sheet.name,
                        row=sheet.as_of_row,
                        value=sheet.as_of.isoformat(),
                        reason=f"各工作表的截至时间不一致（另一工作表为 {result.as_of.isoformat()}）",
                    )
                )
            else:
                result.as_of = sheet.as_of
    if not result.findings and not result.errors:
        result.problems.append(Problem(file=result.file_name, reason="文件中没有任何问题行"))
    assign_positions(result)


def assign_positions(result: LedgerResult) -> None:
    """Each problem's identity in this ledger (DOMAIN.md §4): its 序号 with the group row it
    stands under ("2-3": group 二, 序号 3; a group is known by its own numbering, so a later
    ledger without a finished group keeps the others' places), and with its sub-group where
    the 序号 repeats within a group; its plain 序号 in a ledger without group rows; its order
    where the 序号 is missing or still repeated (which is said)."""
    findings = result.findings
    seqs = [seq_key(f.seq) for f in findings]
    by_group = Counter((f.group[0], s) for f, s in zip(findings, seqs, strict=True) if s)
    by_sub = Counter((f.group, s) for f, s in zip(findings, seqs, strict=True) if s)
    repeated: list[ParsedFinding] = []
    for finding, seq in zip(findings, seqs, strict=True):
        group, sub = finding.group
        if seq and by_group[(group, seq)] == 1:
            finding.position = f"{group}-{seq}" if group else seq
        elif seq and by_sub[(finding.group, seq)] == 1:
            finding.position = f"{group}.{sub}-{seq}"
        else:
            finding.position = f"#{finding.order}"
            if seq:
                repeated.append(finding)
    for finding in repeated:
        result.problems.append(
            Problem(
                file=result.file_name,
                sheet=finding.sheet,
                row=finding.row,
                value=finding.seq,
                reason=f"序号“{finding.seq}”在同一分组下出现多次，按行的先后区分为不同问题",
                severity="warning",
                kind="序号重复（按顺序区分）",
            )
        )


def _compare_names(result: LedgerResult, round_name: str | None, unit_name: str | None) -> None:
    if unit_name and result.guessed_unit:
        mine, theirs = squash(unit_name), squash(result.guessed_unit)
        if mine not in theirs and theirs not in mine:
            result.problems.append(
                Problem(
                    file=result.file_name,
                    value=result.guessed_unit,
                    reason=f"台账写明的填报单位与所选单位“{unit_name}”名称不同，请核对",
                    severity="warning",
                )
            )
    if round_name and result.guessed_round:
        mine, theirs = squash(round_name), squash(result.guessed_round)
        if mine not in theirs and theirs not in mine:
            result.problems.append(
                Problem(
                    file=result.file_name,
                    value=result.guessed_round,
                    reason=f"台账标题中的轮次与所选轮次“{round_name}”不同，请核对",
                    severity="warning",
                )
            )
