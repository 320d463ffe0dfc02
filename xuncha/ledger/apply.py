"""import_ledgers: validate every file, then apply them all as one write of the store.

Nothing is written unless every file is free of errors. One call is one `Store.write`: one
transaction on a private copy of the current version, one new data version, the derived
tables rebuilt. Each file is one row of `import_batches` (file name, SHA-256, user, time,
round, unit, as-of date, counts), and every row it adds or changes is recorded in
`batch_changes` so the batch can be rolled back.

Matching (a later ledger of the same unit and round is a progress update): a finding is the
same problem when its 具体问题 text, normalised (NFKC, no spaces, punctuation or numbering),
equals one of the inspection's findings; a measure likewise within its finding. A status
that changed is recorded in measure_status_history dated with the ledger's 截至时间 (or the
as-of date given); a deadline that changed (申请延期 or a new date) in
measure_deadline_history, the original deadline kept. The unit's own words (status, deadline,
category text) are kept next to the parsed values; a blank cell never erases a stored value.
A file imported before (same SHA-256, same round and unit, batch still applied) changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from xuncha import audit
from xuncha.ledger.model import LedgerLimits, LedgerResult, ParsedFinding, ParsedMeasure, Problem
from xuncha.ledger.model import report_frame as _report_frame
from xuncha.ledger.pairing import (
    BASES,
    VERDICTS,
    DecisionKey,
    Decisions,
    Item,
    Pair,
    pair_items,
    words,
)
from xuncha.ledger.reader import bulk_work, read_ledger
from xuncha.ledger.workdays import (
    WorkdayCalendar,
    default_calendar,
    load_calendar,
    workdays_config_path,
)
from xuncha.store import Store, StoreError, schema
from xuncha.store import categories as store_categories


def _first(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> tuple[Any, ...] | None:
    """The first row of a query, fetched to the end (DuckDB 2 keeps a half-read result
    pending on the connection)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


MEASURE_COLUMNS = (
    "measure_id",
    "finding_id",
    "text",
    "lead_person",
    "department",
    "person",
    "deadline_kind",
    "deadline_text",
    "deadline_original",
    "deadline_current",
    "long_term",
    "status",
    "status_text",
    "completed_on",
    "closed_on",
    "evidence",
    "progress",
    "ledger_order",
    "remark",
)
MEASURE_UPDATABLE = MEASURE_COLUMNS[2:]
FINDING_COLUMNS = (
    "finding_id",
    "inspection_id",
    "round_id",
    "unit_id",
    "category_l1",
    "category_l2",
    "tags",
    "title",
    "detail",
    "severity",
    "person_level",
    "amount_wan",
    "immediate",
    "source_category_text",
    "ledger_position",
    "ledger_seq",
)
# DuckDB cannot update a referenced row's indexed or list columns (category_l1, category_l2,
# tags); a later ledger that classifies a problem differently is reported, not applied.
FINDING_UPDATABLE = (
    "title",
    "detail",
    "severity",
    "person_level",
    "amount_wan",
    "immediate",
    "source_category_text",
    "ledger_position",
    "ledger_seq",
)

_MEASURE_SCHEMA: dict[str, Any] = {
    "measure_id": pl.Int32,
    "finding_id": pl.Int32,
    "text": pl.String,
    "lead_person": pl.String,
    "department": pl.String,
    "person": pl.String,
    "deadline_kind": pl.String,
    "deadline_text": pl.String,
    "deadline_original": pl.Date,
    "deadline_current": pl.Date,
    "long_term": pl.Boolean,
    "status": pl.String,
    "status_text": pl.String,
    "completed_on": pl.Date,
    "closed_on": pl.Date,
    "evidence": pl.String,
    "progress": pl.String,
    "ledger_order": pl.Int32,
    "remark": pl.String,
}
_FINDING_SCHEMA: dict[str, Any] = {
    "finding_id": pl.Int32,
    "inspection_id": pl.Int32,
    "round_id": pl.Int32,
    "unit_id": pl.Int32,
    "category_l1": pl.String,
    "category_l2": pl.String,
    "tags": pl.List(pl.String),
    "title": pl.String,
    "detail": pl.String,
    "severity": pl.String,
    "person_level": pl.String,
    "amount_wan": pl.Decimal(14, 2),
    "immediate": pl.Boolean,
    "source_category_text": pl.String,
    "ledger_position": pl.String,
    "ledger_seq": pl.String,
    "recorded_on": pl.Date,
}


# -- outcome -----------------------------------------------------------------------------


@dataclass
class FileOutcome:
    """What one file did (or would do, in a dry run)."""

    file_name: str
    sha256: str | None
    rows_read: int
    as_of: dt.date | None = None
    batch_id: int | None = None
    duplicate_of: int | None = None  # the applied batch that already holds this very file
    findings_added: int = 0
    findings_updated: int = 0
    findings_unchanged: int = 0
    measures_added: int = 0
    measures_updated: int = 0
    measures_unchanged: int = 0
    status_changes: int = 0
    deadline_changes: int = 0
    findings_not_listed: int = 0  # the inspection's findings this ledger does not list (kept)
    measures_not_listed: int = 0
    no_changes: bool = False  # read fine, but holds nothing the store does not already hold
    # How this ledger pairs with what is held: {"问题"|"措施": {same, changed, new, missing}}.
    pairing: dict[str, dict[str, int]] = field(default_factory=dict)
    to_confirm: int = 0  # pairings that need a person's confirmation

    @property
    def changes(self) -> int:
        return (
            self.findings_added
            + self.findings_updated
            + self.measures_added
            + self.measures_updated
            + self.status_changes
            + self.deadline_changes
        )

    def as_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["as_of"] = self.as_of.isoformat() if self.as_of else None
        return out

    def describe(self) -> str:
        if self.duplicate_of is not None:
            return (
                f"{self.file_name}：与已导入的批次 #{self.duplicate_of} 是同一文件"
                "（SHA-256 相同），未作任何更改"
            )
        if self.no_changes:
            return (
                f"{self.file_name}：内容与已导入的数据相同（问题 {self.findings_unchanged} 个、"
                f"措施 {self.measures_unchanged} 条均未变），未作任何更改"
            )
        batch = f"批次 #{self.batch_id}" if self.batch_id is not None else "试运行"
        as_of = self.as_of.isoformat() if self.as_of else "—"
        text = (
            f"{self.file_name} → {batch}（截至 {as_of}），读取 {self.rows_read} 行；"
            f"问题 新增 {self.findings_added}、更新 {self.findings_updated}、未变 {self.findings_unchanged}；"
            f"措施 新增 {self.measures_added}、更新 {self.measures_updated}、未变 {self.measures_unchanged}；"
            f"状态变更 {self.status_changes} 条，时限变更 {self.deadline_changes} 条"
        )
        if self.findings_not_listed or self.measures_not_listed:
            text += (
                f"；已有但本台账未列出的问题 {self.findings_not_listed} 个、"
                f"措施 {self.measures_not_listed} 条（保留不变）"
            )
        if self.pairing:
            text += "；配对：" + "；".join(
                f"{kind} " + "、".join(f"{VERDICTS[v]} {n}" for v, n in c.items())
                for kind, c in self.pairing.items()
            )
        if self.to_confirm:
            text += f"；{self.to_confirm} 处配对需确认"
        return text


@dataclass
class ImportOutcome:
    """The result of `import_ledgers`: counts per file, or the validation report."""

    ok: bool
    dry_run: bool
    results: list[LedgerResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # not tied to one file's rows
    files: list[FileOutcome] = field(default_factory=list)
    version: int | None = None  # the new data version (None: nothing written)
    round_id: int | None = None
    unit_id: int | None = None
    inspection_id: int | None = None
    round_name: str | None = None
    unit_name: str | None = None
    created: list[str] = field(default_factory=list)
    # Every pairing with the problems and measures held (a later ledger), as shown on the page
    # and written to the pairing file: columns of xuncha.ledger.pairing.FILE_COLUMNS.
    pairings: list[dict[str, Any]] = field(default_factory=list)
    to_confirm: int = 0  # pairings a person must confirm before anything is written
    demo_refused: bool = False  # the store is the demo: real ledgers go to a real store

    def pairing_frame(self) -> pl.DataFrame:
        """The pairings as a table (Chinese columns, in the pairing file's order)."""
        from xuncha.ledger.pairing import FILE_COLUMNS

        schema_: dict[str, Any] = dict.fromkeys(FILE_COLUMNS, pl.String)
        schema_.update(
            {"问题行": pl.Int64, "措施序号": pl.Int64, "行": pl.Int64, "相似度": pl.Int64}
        )
        schema_["配对编号"] = pl.Int64
        return pl.DataFrame(self.pairings, schema=schema_)

    @property
    def all_problems(self) -> list[Problem]:
        return [*self.problems, *(p for r in self.results for p in r.problems)]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.all_problems if p.is_error]

    @property
    def batch_ids(self) -> list[int]:
        return [f.batch_id for f in self.files if f.batch_id is not None]

    def report_frame(self) -> pl.DataFrame:
        """The validation report of every file (级别, 文件, 工作表, 行, 列, 值, 问题)."""
        return _report_frame(self.all_problems)

    def summary_frame(self) -> pl.DataFrame:
        """One row per file with its counts (Chinese column names)."""
        labels = {
            "file_name": "文件",
            "batch_id": "批次",
            "as_of": "截至时间",
            "rows_read": "读取行数",
            "findings_added": "新增问题",
            "findings_updated": "更新问题",
            "findings_unchanged": "未变问题",
            "measures_added": "新增措施",
            "measures_updated": "更新措施",
            "measures_unchanged": "未变措施",
            "status_changes": "状态变更",
            "deadline_changes": "时限变更",
            "duplicate_of": "重复于批次",
        }
        rows = [{label: getattr(f, key) for key, label in labels.items()} for f in self.files]
        schema_: dict[str, Any] = {
            label: pl.String if key == "file_name" else pl.Int64 for key, label in labels.items()
        }
        schema_["截至时间"] = pl.Date
        return pl.DataFrame(rows, schema=schema_)

    def message(self) -> str:
        """One Chinese line: what happened."""
        if self.demo_refused:
            return self.errors[0].reason if self.errors else "演示数据仓不能导入真实台账"
        if not self.ok:
            errors = self.errors
            if self.to_confirm and len(errors) == self.to_confirm:
                return (
                    f"导入暂停：{self.to_confirm} 处配对需要确认（台账的序号或文字有变动），"
                    "未写入任何数据；请核对配对后再导入"
                )
            if self.dry_run:
                return f"预检未通过：发现 {len(errors)} 个错误（未写入任何数据）"
            return f"导入被拒绝：发现 {len(errors)} 个错误，未写入任何数据"
        if self.dry_run:
            confirm = f"；其中 {self.to_confirm} 处配对需要确认" if self.to_confirm else ""
            return f"试运行：{len(self.files)} 个文件校验通过，未写入任何数据{confirm}"
        if self.version is None:
            return "没有需要写入的更改：文件此前已导入，或内容与已有数据相同"
        return f"已导入 {len(self.batch_ids)} 个文件，数据版本 {self.version}"

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "message": self.message(),
            "version": self.version,
            "round_id": self.round_id,
            "round": self.round_name,
            "unit_id": self.unit_id,
            "unit": self.unit_name,
            "inspection_id": self.inspection_id,
            "created": self.created,
            "files": [f.as_json() for f in self.files],
            "problems": [p.as_json() for p in self.all_problems],
            "to_confirm": self.to_confirm,
            "pairings": self.pairings,
        }


# -- names -------------------------------------------------------------------------------


def normalise_name(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


_PEER_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(村|社区)(党委|党总支|党支部|委员会|居委会|村委会)?$"), "村社区"),
    (re.compile(r"(镇|乡|街道)(党委|党工委|人民政府|办事处)?$"), "乡镇街道"),
    (re.compile(r"(公司|集团)(党委|党总支|党支部)?$"), "国有企业"),
    (
        re.compile(r"(学校|中学|小学|大学|学院|医院|卫生院|幼儿园)(党委|党总支|党支部)?$"),
        "学校医院",
    ),
    (re.compile(r"^市.*(局|委|办|委员会|办公室|中心|院)(党组|党委|党工委|党总支)?$"), "市直部门"),
]


def infer_peer_group(name: str) -> str | None:
    """The peer group a unit's name states unmistakably (…镇, …社区, …公司, …医院, 市…局)."""
    text = unicodedata.normalize("NFKC", name).strip()
    for pattern, group in _PEER_PATTERNS:
        if pattern.search(text):
            return group
    return None


def _round_kind(name: str) -> str:
    for kind in ("专项", "回头看", "机动", "提级", "交叉"):
        if kind in name:
            return kind
    return "常规"


def _round_term(name: str) -> str | None:
    match = re.search(r"[一二三四五六七八九十]{1,3}届", name)
    return match.group(0) if match else None


# -- context: round, unit, inspection ------------------------------------------------------


@dataclass
class _Context:
    round_id: int | None = None
    round_label: str | None = None
    unit_id: int | None = None
    unit_label: str | None = None
    unit_names: tuple[str, ...] = ()
    inspection_id: int | None = None
    feedback: dt.date | None = None
    entry_end: dt.date | None = None
    group_name: str | None = None
    latest_as_of: dt.date | None = None
    latest_batch: int | None = None
    aliases: list[tuple[str, str]] | None = None
    other_units: dict[str, str] = field(default_factory=dict)  # normalised name → full name
    demo: bool = False  # the store is the demo city

    def key(self) -> tuple[Any, ...]:
        return (self.round_id, self.unit_id, self.inspection_id, self.feedback, self.entry_end)


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = _first(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name])
    return bool(row and row[0])


def load_aliases(store: Store) -> list[tuple[str, str]]:
    """The (wording, L1) pairs of the store's category_aliases (the seed when no store)."""
    if store.exists():
        con = store.connect()
        try:
            return _aliases(con)
        finally:
            con.close()
    return [(alias, l1) for _, alias, l1 in store_categories.ALIASES]


def _aliases(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    rows = con.execute("SELECT alias, category_l1 FROM category_aliases").fetchall()
    return [(str(a), str(b)) for a, b in rows] or [
        (alias, l1) for _, alias, l1 in store_categories.ALIASES
    ]


def _resolve(
    con: duckdb.DuckDBPyConnection | None,
    round_name: str,
    unit_name: str,
    problems: list[Problem],
    label: str,
) -> _Context:
    ctx = _Context()
    if con is None or not _table_exists(con, "rounds"):
        return ctx
    ctx.aliases = _aliases(con)
    demo_row = _first(con, "SELECT value FROM store_meta WHERE key = 'demo'")
    ctx.demo = bool(demo_row and demo_row[0] == "true")
    wanted_round = normalise_name(round_name)
    for round_id, name in con.execute("SELECT round_id, name FROM rounds").fetchall():
        if normalise_name(str(name)) == wanted_round:
            ctx.round_id, ctx.round_label = int(round_id), str(name)
    wanted_unit = normalise_name(unit_name)
    by_name: list[tuple[int, str, str]] = []
    by_short: list[tuple[int, str, str]] = []
    for unit_id, name, short in con.execute(
        "SELECT unit_id, name, short_name FROM units"
    ).fetchall():
        if normalise_name(str(name)) == wanted_unit:
            by_name.append((int(unit_id), str(name), str(short)))
        elif normalise_name(str(short)) == wanted_unit:
            by_short.append((int(unit_id), str(name), str(short)))
        ctx.other_units[normalise_name(str(name))] = str(name)
        ctx.other_units.setdefault(normalise_name(str(short)), str(name))
    matches = by_name or by_short
    if len(matches) > 1:
        names = "、".join(m[1] for m in matches)
        problems.append(
            Problem(file=label, reason=f"单位名称“{unit_name}”对应多个单位（{names}），请写全称")
        )
    elif matches:
        ctx.unit_id, ctx.unit_label = matches[0][0], matches[0][1]
        ctx.unit_names = (matches[0][1], matches[0][2])
    if ctx.round_id is not None and ctx.unit_id is not None:
        row = _first(
            con,
            "SELECT inspection_id, feedback_date, entry_end, group_name FROM inspections"
            " WHERE round_id = ? AND unit_id = ?",
            [ctx.round_id, ctx.unit_id],
        )
        if row:
            ctx.inspection_id, ctx.feedback, ctx.entry_end, ctx.group_name = (
                int(row[0]),
                row[1],
                row[2],
                row[3],
            )
        latest = _first(
            con,
            "SELECT batch_id, as_of FROM import_batches WHERE kind = 'ledger'"
            " AND status = 'applied' AND round_id = ? AND unit_id = ?"
            " ORDER BY as_of DESC NULLS LAST, batch_id DESC LIMIT 1",
            [ctx.round_id, ctx.unit_id],
        )
        if latest:
            ctx.latest_batch, ctx.latest_as_of = int(latest[0]), latest[1]
    return ctx


# -- the entry point ---------------------------------------------------------------------


def import_ledgers(
    store: Store,
    paths: Sequence[Path],
    *,
    round_name: str,
    unit_name: str,
    feedback_date: dt.date | None = None,
    as_of: dt.date | None = None,
    user: str = "system",
    dry_run: bool = False,
    file_names: Sequence[str] | None = None,
    unit_short_name: str | None = None,
    unit_sector: str | None = None,
    unit_peer_group: str | None = None,
    group_name: str | None = None,
    limits: LedgerLimits | None = None,
    pairing: Decisions | None = None,
    calendar: WorkdayCalendar | None = None,
    source: str | None = None,
) -> ImportOutcome:
    """Read and validate every file; if any has an error, write nothing and return the
    report; otherwise apply them all in one `Store.write` (one new data version).

    A later ledger of the same round and unit is paired with the problems and measures held
    (xuncha.ledger.pairing): by 序号, then by text where the numbering moved. Pairings that
    need a person's confirmation stop the import (nothing written) until `pairing` holds the
    decisions (from the pairing file a dry run writes, or the page's table). The demo store
    takes no ledger: real data go to a real store. Working-day deadlines count on `calendar`
    (default: the official calendar with the store's STORE/config/workdays.toml).

    The round and unit are matched to existing ones by normalised name (a unit by its full
    or short name), or created: the round as the latest (its kind and 届 read from the name),
    the unit with `unit_short_name`, `unit_sector` (default 未分类) and `unit_peer_group`
    (required unless the name states it, e.g. …镇, …医院, 市…局), the inspection with
    `feedback_date` (required then) and `group_name` (else the 巡察组 the title names).
    `as_of` dates the statuses when a file has no 截至时间 line (it must agree when it has).
    `file_names` are the names shown in the report (e.g. of uploaded files). A dry run
    validates and counts what would change without writing.

    An import that writes is in the audit trail (`source`: who called, e.g. "cli", "page"):
    the trail is checked before anything is written (a trail that does not verify refuses the
    import, AuditError, nothing written) and the record appended once the version is
    published, with every file's name, SHA-256 and counts, the batches and the data version.
    """
    names = list(file_names) if file_names is not None else [Path(p).name for p in paths]
    if len(names) != len(paths):
        raise ValueError("file_names must match paths")
    label = names[0] if names else "导入"
    problems: list[Problem] = []
    outcome = ImportOutcome(ok=False, dry_run=dry_run, problems=problems)
    if not paths:
        problems.append(Problem(file="导入", reason="没有选择任何文件"))
        return outcome
    round_name, unit_name = (round_name or "").strip(), (unit_name or "").strip()
    if not round_name:
        problems.append(Problem(file=label, reason="未指定轮次"))
    if not unit_name:
        problems.append(Problem(file=label, reason="未指定被巡察单位"))
    if problems:
        return outcome
    snapshot = store.connect() if store.exists() else None
    try:
        ctx = _resolve(snapshot, round_name, unit_name, problems, label)
    finally:
        if snapshot is not None:
            snapshot.close()
    feedback = ctx.feedback
    if ctx.inspection_id is not None:
        if feedback_date is not None and feedback_date != feedback:
            problems.append(
                Problem(
                    file=label,
                    reason=f"反馈日期 {feedback_date.isoformat()} 与已有记录（{feedback}）不一致；"
                    "已有巡察的反馈日期不会被导入修改",
                )
            )
    else:
        feedback = feedback_date
        if feedback is None:
            problems.append(
                Problem(
                    file=label,
                    reason=f"“{round_name}”对“{unit_name}”的巡察尚未建立，需要提供反馈日期（--feedback-date）",
                )
            )
    if ctx.demo and not dry_run:
        # Importing a real ledger into the demo would turn the demo into a real store that
        # needs a login nobody has; the demo stays as it is.
        outcome.demo_refused = True
        problems.append(Problem(file=label, reason=demo_refusal(store), kind="演示数据仓不能导入"))
        return outcome
    if ctx.demo:
        problems.append(
            Problem(
                file=label,
                reason="这是演示数据仓：可以试运行校验，但不能导入；" + demo_refusal(store),
                severity="warning",
                kind="演示数据仓不能导入",
            )
        )
    if calendar is None:
        calendar = load_calendar(store.root)
    new_unit = _new_unit_fields(
        ctx, unit_name, unit_short_name, unit_sector, unit_peer_group, problems, label
    )
    results = [
        read_ledger(
            Path(path),
            file_name=name,
            feedback_date=feedback,
            entry_end=ctx.entry_end,
            round_name=round_name,
            unit_name=unit_name,
            aliases=ctx.aliases,
            limits=limits,
            calendar=calendar,
        )
        for path, name in zip(paths, names, strict=True)
    ]
    outcome.results = results
    dates = _as_of_dates(results, as_of, feedback, ctx, problems)
    _check_units(results, ctx, unit_name, problems)
    if any(p.is_error for p in problems) or any(not r.ok for r in results):
        return outcome
    titled_groups = {r.guessed_group for r in results if r.guessed_group}
    group = group_name or (titled_groups.pop() if len(titled_groups) == 1 else None)
    request = _Request(
        round_name=round_name,
        unit_name=unit_name,
        feedback=feedback,  # type: ignore[arg-type]
        new_unit=new_unit,
        group_name=group,
        user=user,
        results=results,
        dates=dates,
        pairing=pairing,
    )
    if dry_run or _all_imported_before(store, results, ctx):
        con = store.connect() if store.exists() else None
        try:
            plan = _plan(con, request, ctx)
        finally:
            if con is not None:
                con.close()
        return _finish(outcome, plan, ctx, None)

    def apply(con: duckdb.DuckDBPyConnection) -> _Plan:
        now = _resolve(con, round_name, unit_name, [], label)
        if now.key() != ctx.key() or now.latest_batch != ctx.latest_batch:
            raise _Conflict
        plan = _plan(con, request, now)
        if plan.errors or plan.unconfirmed:
            raise _Refused(plan)
        if not plan.batches:
            raise _NothingToDo(plan)
        _execute(con, plan)
        con.execute(
            "INSERT OR REPLACE INTO store_meta VALUES ('workday_calendar', ?)",
            [json.dumps((calendar or default_calendar()).describe(), ensure_ascii=False)],
        )
        return plan

    audit.check_before_write(store.root, "导入")
    try:
        plan, version = store.write(apply)
    except _Refused as refused:
        return _refuse(outcome, refused.plan)
    except _NothingToDo as nothing:
        return _finish(outcome, nothing.plan, ctx, None)
    except _Conflict:
        problems.append(
            Problem(
                file=label, reason="导入期间数据仓已被其他导入修改，请重新导入（未写入任何数据）"
            )
        )
        return outcome
    except duckdb.Error as exc:
        raise StoreError(f"写入数据仓失败，未写入任何数据：{exc}") from exc
    outcome = _finish(outcome, plan, ctx, version)
    _record_import(store, outcome, user=user, source=source)
    return outcome


def _record_import(store: Store, outcome: ImportOutcome, *, user: str, source: str | None) -> None:
    """The audit record of a published import (AuditError, saying the data are in, when
    it cannot be written)."""
    files = [
        {
            "file": f.file_name,
            "sha256": f.sha256,
            "batch_id": f.batch_id,
            "as_of": f.as_of,
            "rows_read": f.rows_read,
            "findings_added": f.findings_added,
            "findings_updated": f.findings_updated,
            "measures_added": f.measures_added,
            "measures_updated": f.measures_updated,
            "status_changes": f.status_changes,
            "deadline_changes": f.deadline_changes,
            "duplicate_of": f.duplicate_of,
        }
        for f in outcome.files
    ]
    try:
        audit.record(
            store.root,
            user=user,
            action="import",
            source=source,
            data_version=outcome.version,
            batch_ids=outcome.batch_ids,
            round=outcome.round_name,
            unit=outcome.unit_name,
            inspection_id=outcome.inspection_id,
            created=outcome.created,
            files=files,
            # The administrator's calendar the deadlines were counted on (a configuration
            # change shows as another digest).
            workdays_config_sha256=_file_sha256(workdays_config_path(store.root)),
        )
    except audit.AuditError as exc:
        raise audit.AuditError(
            f"台账已导入（数据版本 {outcome.version}），但审计记录写入失败：{exc}；"
            "请管理员立即核查（xuncha audit verify）"
        ) from exc


def _file_sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _all_imported_before(store: Store, results: list[LedgerResult], ctx: _Context) -> bool:
    """Every file is one the store already holds (same SHA-256, same round and unit): answer
    from the current version, without preparing a write."""
    if not store.exists() or ctx.round_id is None or ctx.unit_id is None:
        return False
    con = store.connect()
    try:
        return all(
            _duplicate_batch(con, r.sha256, ctx.round_id, ctx.unit_id) is not None for r in results
        )
    finally:
        con.close()


def _refuse(outcome: ImportOutcome, plan: _Plan) -> ImportOutcome:
    """Nothing written: the pairing found errors, or pairings need a person's confirmation."""
    outcome.ok = False
    outcome.files = plan.files
    outcome.pairings = plan.pairing_rows
    outcome.to_confirm = len(plan.unconfirmed)
    outcome.problems.extend(plan.errors)
    for batch, sheet, row, why in plan.unconfirmed:
        outcome.problems.append(
            Problem(
                file=batch.result.file_name,
                sheet=sheet,
                row=row,
                reason=f"配对需要确认：{why}",
                kind="配对需要确认（序号或文字有变动）",
                hint="试运行生成配对文件，核对“配对编号”后用 --pairing 导入；页面上在配对表中确认",
            )
        )
    return outcome


def _finish(
    outcome: ImportOutcome, plan: _Plan, ctx: _Context, version: int | None
) -> ImportOutcome:
    if plan.errors:
        return _refuse(outcome, plan)
    outcome.ok = True
    outcome.version = version
    outcome.files = plan.files
    outcome.pairings = plan.pairing_rows
    outcome.to_confirm = len(plan.unconfirmed)
    if outcome.dry_run:
        for file in outcome.files:
            file.batch_id = None  # nothing was recorded
    outcome.round_id, outcome.unit_id, outcome.inspection_id = (
        plan.round_id,
        plan.unit_id,
        plan.inspection_id,
    )
    if outcome.dry_run:  # ids a dry run would have given new rows mean nothing yet
        outcome.round_id = None if plan.new_round else outcome.round_id
        outcome.unit_id = None if plan.new_unit else outcome.unit_id
        outcome.inspection_id = None if plan.new_inspection else outcome.inspection_id
    outcome.round_name, outcome.unit_name = plan.round_label, plan.unit_label
    outcome.created = plan.created
    for result in outcome.results:
        result.problems.extend(plan.warnings.get(result.file_name, []))
    return outcome


class _NothingToDo(Exception):
    def __init__(self, plan: _Plan) -> None:
        super().__init__("nothing to import")
        self.plan = plan


class _Conflict(Exception):
    pass


class _Refused(Exception):
    def __init__(self, plan: _Plan) -> None:
        super().__init__("refused by pairing")
        self.plan = plan


def demo_refusal(store: Store, *, on_page: bool = False) -> str:
    """Why a real ledger is not imported into the demo store, and where it goes instead (on
    the page, in the words of its users; on the command line, the command)."""
    real = store.root.parent / "store"
    if on_page:
        return (
            "这是演示数据仓（虚构的江城市）：可以预检台账，但不能导入，演示数据保持不变。"
            "真实台账请导入正式数据仓：请系统管理员建立正式数据仓并创建账号后，"
            "登录正式驾驶舱再导入。"
        )
    return (
        f"“{store.root}”是演示数据仓（虚构的江城市），不能导入真实台账，演示数据保持不变。"
        f"请导入正式数据仓：xuncha import 台账.xlsx --db {real} --round … --unit …"
        "（目录不存在时自动新建正式数据仓，并创建第一个管理员账号），"
        f"再用 xuncha serve --db {real} 打开驾驶舱"
    )


def _new_unit_fields(
    ctx: _Context,
    unit_name: str,
    short_name: str | None,
    sector: str | None,
    peer_group: str | None,
    problems: list[Problem],
    label: str,
) -> tuple[str, str, str] | None:
    if ctx.unit_id is not None:
        return None
    peer = peer_group or infer_peer_group(unit_name)
    if peer is None:
        problems.append(
            Problem(
                file=label,
                reason=f"单位“{unit_name}”尚不存在，无法从名称判断其同类组；请指定同类组"
                f"（--peer-group：{'/'.join(schema.PEER_GROUPS)}）",
            )
        )
        return None
    if peer not in schema.PEER_GROUPS:
        problems.append(
            Problem(file=label, reason=f"同类组“{peer}”无效（应为 {'/'.join(schema.PEER_GROUPS)}）")
        )
        return None
    return (short_name or unit_name, sector or "未分类", peer)


def _as_of_dates(
    results: list[LedgerResult],
    as_of: dt.date | None,
    feedback: dt.date | None,
    ctx: _Context,
    problems: list[Problem],
) -> dict[str, dt.date]:
    dates: dict[str, dt.date] = {}
    today = dt.date.today()
    for result in results:
        if result.refused:
            continue
        file_date = result.as_of
        if as_of is not None and file_date is not None and as_of != file_date:
            result.problems.append(
                Problem(
                    file=result.file_name,
                    reason=f"台账写明截至 {file_date.isoformat()}，与指定的截至日期 {as_of.isoformat()} 不一致",
                )
            )
            continue
        chosen = as_of or file_date
        if chosen is None:
            result.problems.append(
                Problem(
                    file=result.file_name,
                    reason="无法确定台账截至时间：文件中没有“截至时间”行，请指定截至日期（--as-of）",
                )
            )
            continue
        if feedback is not None and chosen < feedback:
            result.problems.append(
                Problem(
                    file=result.file_name,
                    reason=f"截至时间 {chosen.isoformat()} 早于反馈日期 {feedback.isoformat()}",
                )
            )
            continue
        if chosen > today:
            result.problems.append(
                Problem(
                    file=result.file_name,
                    reason=f"截至时间 {chosen.isoformat()} 晚于今天",
                    severity="warning",
                )
            )
        if ctx.latest_as_of is not None and chosen < ctx.latest_as_of:
            result.problems.append(
                Problem(
                    file=result.file_name,
                    reason=f"截至时间 {chosen.isoformat()} 早于已导入的最新台账（批次 #{ctx.latest_batch}，"
                    f"截至 {ctx.latest_as_of.isoformat()}）；请按时间顺序导入，或先回滚较新的批次",
                )
            )
            continue
        dates[result.file_name] = chosen
    return dates


def _check_units(
    results: list[LedgerResult], ctx: _Context, unit_name: str, problems: list[Problem]
) -> None:
    """A ledger whose 填报单位 names another existing unit is refused (wrong file or unit)."""
    mine = {normalise_name(n) for n in (*ctx.unit_names, unit_name) if n}
    for result in results:
        written = result.guessed_unit
        if not written:
            continue
        key = normalise_name(written)
        if any(key in m or m in key for m in mine):
            continue
        other = ctx.other_units.get(key)
        if other is not None:
            result.problems.append(
                Problem(
                    file=result.file_name,
                    value=written,
                    reason=f"台账的填报单位是“{other}”，与所选单位“{unit_name}”不符",
                )
            )


# -- planning --------------------------------------------------------------------------


@dataclass
class _Request:
    round_name: str
    unit_name: str
    feedback: dt.date
    new_unit: tuple[str, str, str] | None
    group_name: str | None
    user: str
    results: list[LedgerResult]
    dates: dict[str, dt.date]
    pairing: Decisions | None = None


@dataclass
class _Measure:
    values: dict[str, Any]
    # Online rectification (xuncha.rectify): the day it was closed (销号) online, and the
    # deadline an extension approved online set. A ledger neither reopens the one nor moves
    # the other: both are the commission's decisions, taken after review.
    closed_online: dt.date | None = None
    extended_online: dt.date | None = None

    @property
    def measure_id(self) -> int:
        return int(self.values["measure_id"])


@dataclass
class _Finding:
    values: dict[str, Any]
    measures: list[_Measure] = field(default_factory=list)

    @property
    def finding_id(self) -> int:
        return int(self.values["finding_id"])


@dataclass
class _Batch:
    batch_id: int
    outcome: FileOutcome
    result: LedgerResult
    as_of: dt.date


@dataclass
class _Plan:
    files: list[FileOutcome] = field(default_factory=list)
    batches: list[_Batch] = field(default_factory=list)
    warnings: dict[str, list[Problem]] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    round_id: int | None = None
    round_label: str | None = None
    unit_id: int | None = None
    unit_label: str | None = None
    inspection_id: int | None = None
    new_round: tuple[Any, ...] | None = None
    new_unit: tuple[Any, ...] | None = None
    new_inspection: tuple[Any, ...] | None = None
    created_in_batch: int | None = None
    finding_inserts: list[dict[str, Any]] = field(default_factory=list)
    measure_inserts: list[dict[str, Any]] = field(default_factory=list)
    finding_updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    measure_updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    status_rows: list[tuple[Any, ...]] = field(default_factory=list)
    deadline_rows: list[tuple[Any, ...]] = field(default_factory=list)
    changes: list[tuple[Any, ...]] = field(default_factory=list)
    batch_rows: list[dict[str, Any]] = field(default_factory=list)
    max_history: int = 0
    had_findings: bool = False
    decisions: Decisions | None = None
    # (batch, sheet, row, why): pairings that need a person's confirmation
    unconfirmed: list[tuple[Any, str | None, int | None, str]] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)  # what only pairing can find wrong
    pairing_rows: list[dict[str, Any]] = field(default_factory=list)

    def error(
        self,
        batch: _Batch,
        reason: str,
        *,
        sheet: str | None,
        row: int | None,
        kind: str | None = None,
        column: str | None = None,
        value: str | None = None,
    ) -> None:
        self.errors.append(
            Problem(
                file=batch.result.file_name,
                reason=reason,
                sheet=sheet,
                row=row,
                kind=kind,
                column_header=column,
                value=value,
            )
        )

    def pairing_row(
        self,
        batch: _Batch,
        what: str,
        finding: ParsedFinding | None,
        measure: ParsedMeasure | None,
        pair: Pair,
        held_text: str | None,
        parent: int | None = None,
    ) -> None:
        """One line of the pairing preview (and of the pairing file); a first ledger pairs
        with nothing and has none."""
        if not self.had_findings:
            return
        where = measure or finding
        self.pairing_rows.append(
            {
                "文件": batch.result.file_name,
                "文件SHA256": batch.result.sha256,
                "类型": what,
                # A held item the ledger does not list has no place in it: nothing to decide.
                # The key of a decision: sheet and first row of the problem (and the
                # measure's order); a held item the ledger does not list has none.
                "工作表": finding.sheet if finding is not None else None,
                "问题行": finding.row if finding and pair.parsed is not None else None,
                "措施序号": measure.order if measure is not None else None,
                "所属问题编号": parent if what == "措施" else None,
                "行": where.row if where is not None and pair.parsed is not None else None,
                "台账位置": finding.position if finding and pair.parsed is not None else "",
                "台账内容": (
                    measure.text if measure is not None else finding.title if finding else None
                ),
                "判断": VERDICTS[pair.verdict],
                "依据": BASES.get(pair.basis, ""),
                "相似度": round(pair.score) if pair.held is not None and pair.parsed else None,
                "需确认": "是" if pair.confirm else "",
                "说明": pair.why
                or (
                    f"本台账第 {finding.row} 行的问题下未列出此措施（保留不变）"
                    if finding is not None and pair.parsed is None
                    else ""
                ),
                "配对编号": pair.held.id if pair.held is not None else None,
                "已有内容": held_text,
                "候选编号": "、".join(str(c) for c in pair.candidates),
            }
        )


class _Ids:
    def __init__(self, con: duckdb.DuckDBPyConnection | None) -> None:
        def top(sql: str) -> int:
            if con is None:
                return 0
            try:
                row = _first(con, sql)
            except duckdb.CatalogException:
                return 0
            return int(row[0]) if row and row[0] is not None else 0

        # Ids never come back after a rollback: the undo log and the batches still name the
        # rows they added, so a new row must not take a removed row's id.
        def logged(table: str) -> int:
            return top(f"SELECT max(row_id) FROM batch_changes WHERE table_name = '{table}'")

        self.finding = max(top("SELECT max(finding_id) FROM findings"), logged("findings"))
        self.measure = max(top("SELECT max(measure_id) FROM measures"), logged("measures"))
        self.history = max(
            top("SELECT max(history_id) FROM measure_status_history"),
            top("SELECT max(history_id) FROM measure_deadline_history"),
        )
        self.batch = top("SELECT max(batch_id) FROM import_batches")
        self.change = top("SELECT max(change_id) FROM batch_changes")
        self.round = max(
            top("SELECT max(round_id) FROM rounds"),
            top("SELECT max(round_id) FROM import_batches"),
            logged("rounds"),
        )
        self.seq = top("SELECT max(seq) FROM rounds")
        self.unit = max(
            top("SELECT max(unit_id) FROM units"),
            top("SELECT max(unit_id) FROM import_batches"),
            logged("units"),
        )
        self.inspection = max(
            top("SELECT max(inspection_id) FROM inspections"), logged("inspections")
        )

    def next(self, name: str) -> int:
        value = getattr(self, name) + 1
        setattr(self, name, value)
        return int(value)


def _load_findings(
    con: duckdb.DuckDBPyConnection | None, inspection_id: int | None
) -> list[_Finding]:
    """The inspection's problems held, in entry order, each with its measures in order."""
    if con is None or inspection_id is None:
        return []
    cursor = con.cursor()
    try:
        rows = cursor.execute(
            f"SELECT {', '.join(FINDING_COLUMNS)} FROM findings WHERE inspection_id = ?"
            " ORDER BY finding_id",
            [inspection_id],
        ).fetchall()
        held: list[_Finding] = []
        by_id: dict[int, _Finding] = {}
        for row in rows:
            values = dict(zip(FINDING_COLUMNS, row, strict=True))
            values["tags"] = list(values["tags"] or [])
            finding = _Finding(values)
            by_id[finding.finding_id] = finding
            held.append(finding)
        measure_rows = cursor.execute(
            f"SELECT {', '.join('m.' + c for c in MEASURE_COLUMNS)} FROM measures m"
            " JOIN findings f ON f.finding_id = m.finding_id WHERE f.inspection_id = ?"
            " ORDER BY m.finding_id, m.ledger_order NULLS LAST, m.measure_id",
            [inspection_id],
        ).fetchall()
    finally:
        cursor.close()
    online = _online_decisions(con, inspection_id)
    for row in measure_rows:
        values = dict(zip(MEASURE_COLUMNS, row, strict=True))
        closed, extended = online.get(int(values["measure_id"]), (None, None))
        by_id[int(values["finding_id"])].measures.append(_Measure(values, closed, extended))
    return held


def _online_decisions(
    con: duckdb.DuckDBPyConnection, inspection_id: int
) -> dict[int, tuple[dt.date | None, dt.date | None]]:
    """Per measure of the inspection: the day it was closed online and the deadline of its
    last extension approved online (empty for a store without online rectification)."""
    try:
        rows = con.execute(
            "SELECT st.measure_id,"
            " max(st.step_date) FILTER (WHERE st.step = 'close'),"
            " arg_max(s.proposed_deadline, st.step_id) FILTER (WHERE st.step = 'approve')"
            " FROM rectify_steps st JOIN rectify_submissions s USING (submission_id)"
            " WHERE s.inspection_id = ? AND st.step IN ('close', 'approve') GROUP BY ALL",
            [inspection_id],
        ).fetchall()
    except duckdb.CatalogException:
        return {}
    return {int(m): (closed, extended) for m, closed, extended in rows}


def _duplicate_batch(
    con: duckdb.DuckDBPyConnection | None,
    sha: str | None,
    round_id: int | None,
    unit_id: int | None,
) -> int | None:
    if con is None or sha is None or round_id is None or unit_id is None:
        return None
    row = _first(
        con,
        "SELECT min(batch_id) FROM import_batches WHERE kind = 'ledger' AND status = 'applied'"
        " AND file_sha256 = ? AND round_id = ? AND unit_id = ?",
        [sha, round_id, unit_id],
    )
    return int(row[0]) if row and row[0] is not None else None


def _plan(con: duckdb.DuckDBPyConnection | None, request: _Request, ctx: _Context) -> _Plan:
    with bulk_work():
        return _plan_all(con, request, ctx)


def _plan_all(con: duckdb.DuckDBPyConnection | None, request: _Request, ctx: _Context) -> _Plan:
    plan = _Plan()
    ids = _Ids(con)
    plan.round_id, plan.round_label = ctx.round_id, ctx.round_label
    plan.unit_id, plan.unit_label = ctx.unit_id, ctx.unit_label
    plan.inspection_id = ctx.inspection_id
    state = _load_findings(con, ctx.inspection_id)
    plan.had_findings = bool(state)
    plan.decisions = request.pairing
    if request.pairing is not None and not request.pairing.files & {
        r.sha256 for r in request.results
    }:
        plan.errors.append(
            Problem(
                file=request.pairing.source or "配对文件",
                reason="配对文件是为另一版本的台账生成的（文件 SHA-256 不符）；"
                "请用当前台账重新试运行，生成新的配对文件后再核对",
                kind="配对文件与台账不符",
            )
        )
    ordered = sorted(request.results, key=lambda r: request.dates[r.file_name])
    seen_files: dict[str, int] = {}
    for result in ordered:
        as_of = request.dates[result.file_name]
        outcome = FileOutcome(result.file_name, result.sha256, result.rows_read, as_of)
        plan.files.append(outcome)
        duplicate = _duplicate_batch(con, result.sha256, plan.round_id, plan.unit_id)
        if duplicate is None and result.sha256 in seen_files:
            duplicate = seen_files[result.sha256]
        if duplicate is not None:
            outcome.duplicate_of = duplicate
            outcome.findings_unchanged = len(result.findings)
            outcome.measures_unchanged = result.measure_count
            continue
        batch_id = ids.next("batch")
        outcome.batch_id = batch_id
        if result.sha256:
            seen_files[result.sha256] = batch_id
        batch = _Batch(batch_id, outcome, result, as_of)
        plan.batches.append(batch)
        if plan.inspection_id is None:
            _create_context(plan, request, ids, batch_id)
        _plan_file(plan, batch, state, request, ids)
        if outcome.changes == 0 and plan.created_in_batch != batch_id:
            # Same content as stored (a re-saved copy): no batch, no new version for it.
            plan.batches.pop()
            ids.batch -= 1
            outcome.batch_id = None
            outcome.no_changes = True
            continue
        plan.batch_rows.append(_batch_row(plan, batch, request.user))
    plan.max_history = ids.history
    return plan


def _create_context(plan: _Plan, request: _Request, ids: _Ids, batch_id: int) -> None:
    plan.created_in_batch = batch_id
    if plan.round_id is None:
        plan.round_id = ids.next("round")
        seq = ids.next("seq")
        plan.round_label = request.round_name
        plan.new_round = (
            plan.round_id,
            request.round_name,
            _round_term(request.round_name),
            seq,
            _round_kind(request.round_name),
            None,
            None,
        )
        plan.created.append(
            f"新建轮次“{request.round_name}”（{_round_kind(request.round_name)}，排序第 {seq}，列为最新一轮）"
        )
        plan.changes.append(("rounds", plan.round_id, "insert", None, batch_id))
    if plan.unit_id is None:
        assert request.new_unit is not None
        short, sector, peer = request.new_unit
        plan.unit_id = ids.next("unit")
        plan.unit_label = request.unit_name
        plan.new_unit = (plan.unit_id, request.unit_name, short, sector, peer)
        plan.created.append(
            f"新建单位“{request.unit_name}”（简称 {short}，领域 {sector}，同类组 {peer}）"
        )
        plan.changes.append(("units", plan.unit_id, "insert", None, batch_id))
    plan.inspection_id = ids.next("inspection")
    plan.new_inspection = (
        plan.inspection_id,
        plan.round_id,
        plan.unit_id,
        request.group_name,
        None,
        None,
        request.feedback,
    )
    group = f"，{request.group_name}" if request.group_name else ""
    plan.created.append(f"新建巡察（反馈日期 {request.feedback.isoformat()}{group}）")
    plan.changes.append(("inspections", plan.inspection_id, "insert", None, batch_id))


def _batch_row(plan: _Plan, batch: _Batch, user: str) -> dict[str, Any]:
    o = batch.outcome
    return {
        "batch_id": batch.batch_id,
        "kind": "ledger",
        "file_name": o.file_name,
        "file_sha256": o.sha256,
        "user_name": user,
        "created_at": dt.datetime.now().replace(microsecond=0),
        "round_id": plan.round_id,
        "unit_id": plan.unit_id,
        "as_of": batch.as_of,
        "rows_read": o.rows_read,
        "findings_added": o.findings_added,
        "findings_updated": o.findings_updated,
        "measures_added": o.measures_added,
        "measures_updated": o.measures_updated,
        "status": "applied",
        "note": None,
        "inspection_id": plan.inspection_id,
        "findings_unchanged": o.findings_unchanged,
        "measures_unchanged": o.measures_unchanged,
        "status_changes": o.status_changes,
        "deadline_changes": o.deadline_changes,
    }


def _warn(
    plan: _Plan,
    batch: _Batch,
    reason: str,
    *,
    row: int | None,
    sheet: str | None,
    value: str | None = None,
) -> None:
    plan.warnings.setdefault(batch.result.file_name, []).append(
        Problem(
            file=batch.result.file_name,
            reason=reason,
            severity="warning",
            sheet=sheet,
            row=row,
            value=value,
        )
    )


def _held_finding_item(finding: _Finding) -> Item:
    v = finding.values
    return Item(v.get("ledger_position"), words(v["title"], v["detail"]), finding.finding_id)


def _held_measure_item(measure: _Measure) -> Item:
    order = measure.values.get("ledger_order")
    return Item(
        str(order) if order is not None else None,
        words(measure.values["text"]),
        measure.measure_id,
    )


def _decide(
    plan: _Plan,
    batch: _Batch,
    pairs: list[Pair],
    held: dict[int, Item],
    keys: list[DecisionKey],
    what: str,
    places: list[tuple[str | None, int | None]],
) -> list[Pair]:
    """The pairings a person decided (a pairing file or the page's table) replace the
    proposed ones; each decision is checked (the held item exists here, is used once)."""
    decisions = plan.decisions
    sha = batch.result.sha256 or ""
    if decisions is None or sha not in decisions.files:
        return pairs
    out: list[Pair] = []
    used: dict[int, int] = {}
    for pair in pairs:
        if pair.parsed is None:
            continue
        decided, chosen = decisions.get(keys[pair.parsed.index])
        sheet, row = places[pair.parsed.index]
        if not decided:
            plan.error(
                batch,
                f"配对文件中没有本行的{what}（请用本台账重新试运行生成配对文件）",
                sheet=sheet,
                row=row,
                kind="配对文件与台账不符",
            )
            out.append(pair)
            continue
        if chosen is not None and chosen not in held:
            plan.error(
                batch,
                f"配对编号 {chosen} 不是本次巡察已有的问题"
                if what == "问题"
                else f"配对编号 {chosen} 不是所配问题已有的措施",
                sheet=sheet,
                row=row,
                kind="配对编号无效",
            )
            out.append(pair)
            continue
        if chosen is not None and chosen in used:
            plan.error(
                batch,
                f"配对编号 {chosen} 同时配给了多行{what}（另一行为第 {used[chosen]} 行）",
                sheet=sheet,
                row=row,
                kind="配对编号重复",
            )
        if chosen is not None:
            used[chosen] = row or 0
        out.append(
            Pair(
                pair.parsed,
                held[chosen] if chosen is not None else None,
                "confirmed" if chosen is not None else "",
                pair.score,
            )
        )
    chosen_ids = {p.held.id for p in out if p.held is not None}
    out.extend(Pair(None, h, "") for h in held.values() if h.id not in chosen_ids)
    return out


def _plan_file(
    plan: _Plan, batch: _Batch, state: list[_Finding], request: _Request, ids: _Ids
) -> None:
    outcome = batch.outcome
    result = batch.result
    sha = result.sha256 or ""
    had_findings = plan.had_findings = bool(state)
    by_id = {f.finding_id: f for f in state}
    held_items = {f.finding_id: _held_finding_item(f) for f in state}
    if had_findings:
        parsed_items = [
            Item(f.position or None, words(f.title, f.detail), None, k)
            for k, f in enumerate(result.findings)
        ]
        pairs = pair_items(parsed_items, list(held_items.values()))
    else:  # a first ledger: every problem is new, nothing to compare
        pairs = [
            Pair(Item(f.position, "", None, k), None, "") for k, f in enumerate(result.findings)
        ]
    pairs = _decide(
        plan,
        batch,
        pairs,
        held_items,
        [DecisionKey(sha, f.sheet or "", f.row or 0) for f in result.findings],
        "问题",
        [(f.sheet, f.row) for f in result.findings],
    )
    counts = {"问题": Counter[str](), "措施": Counter[str]()}
    for pair in pairs:
        counts["问题"][pair.verdict] += 1
        if pair.parsed is None:
            assert pair.held is not None and pair.held.id is not None
            gone = by_id[pair.held.id]
            outcome.findings_not_listed += 1
            outcome.measures_not_listed += len(gone.measures)
            plan.pairing_row(batch, "问题", None, None, pair, gone.values["title"])
            continue
        parsed = result.findings[pair.parsed.index]
        held_text = by_id[pair.held.id].values["title"] if pair.held and pair.held.id else None
        plan.pairing_row(batch, "问题", parsed, None, pair, held_text)
        if pair.confirm:
            plan.unconfirmed.append((batch, parsed.sheet, parsed.row, f"问题：{pair.why}"))
        if pair.held is None:
            if had_findings:
                # Not known before this ledger: it counts from this ledger's 截至时间, so
                # figures asked as of earlier dates stay what they were.
                _warn(
                    plan,
                    batch,
                    "此前导入的台账中没有这个问题，将作为新问题导入，自本台账截至时间起计入问题数",
                    row=parsed.row,
                    sheet=parsed.sheet,
                    value=parsed.title,
                )
            finding = _insert_finding(
                plan, batch, parsed, ids, recorded_on=batch.as_of if had_findings else None
            )
            state.append(finding)
            outcome.findings_added += 1
            for measure in parsed.measures:
                counts["措施"]["new"] += 1
                _insert_measure(plan, batch, finding, measure, request, ids)
                outcome.measures_added += 1
            continue
        assert pair.held.id is not None
        finding = by_id[pair.held.id]
        changed = _update_finding(plan, batch, finding, parsed)
        m_held = {m.measure_id: _held_measure_item(m) for m in finding.measures}
        m_by_id = {m.measure_id: m for m in finding.measures}
        m_pairs = pair_items(
            [Item(str(m.order), words(m.text), None, k) for k, m in enumerate(parsed.measures)],
            list(m_held.values()),
        )
        decisions = plan.decisions
        if (
            decisions is None
            or sha not in decisions.files
            or decisions.measures_decided(sha, parsed.sheet or "", parsed.row or 0, pair.held.id)
        ):
            m_pairs = _decide(
                plan,
                batch,
                m_pairs,
                m_held,
                [
                    DecisionKey(sha, parsed.sheet or "", parsed.row or 0, m.order)
                    for m in parsed.measures
                ],
                "措施",
                [(m.sheet, m.row) for m in parsed.measures],
            )
        else:
            # A person paired this problem with another held one than its measures were
            # decided against: those decisions do not apply; the measures pair by order, and
            # any that need a look are asked about again (a dry run with the decisions shows
            # them against the new partner).
            for m_pair in m_pairs:
                if m_pair.confirm:
                    m_pair.why += "（问题的配对已改动，请带上配对文件再次试运行，核对其措施）"
        for m_pair in m_pairs:
            counts["措施"][m_pair.verdict] += 1
            if m_pair.parsed is None:
                assert m_pair.held is not None and m_pair.held.id is not None
                outcome.measures_not_listed += 1
                plan.pairing_row(
                    batch, "措施", parsed, None, m_pair, m_by_id[m_pair.held.id].values["text"]
                )
                continue
            measure = parsed.measures[m_pair.parsed.index]
            held_measure = m_by_id.get(m_pair.held.id) if m_pair.held and m_pair.held.id else None
            plan.pairing_row(
                batch,
                "措施",
                parsed,
                measure,
                m_pair,
                held_measure.values["text"] if held_measure else None,
                finding.finding_id,
            )
            if m_pair.confirm:
                plan.unconfirmed.append((batch, measure.sheet, measure.row, f"措施：{m_pair.why}"))
            if held_measure is None:
                _insert_measure(plan, batch, finding, measure, request, ids)
                outcome.measures_added += 1
                changed = True
                continue
            if _update_measure(plan, batch, held_measure, measure, ids):
                outcome.measures_updated += 1
                changed = True
            else:
                outcome.measures_unchanged += 1
        if changed:
            outcome.findings_updated += 1
        else:
            outcome.findings_unchanged += 1
    if had_findings:  # a first ledger pairs with nothing: no pairing to show
        outcome.pairing = {kind: {v: c.get(v, 0) for v in VERDICTS} for kind, c in counts.items()}
    outcome.to_confirm = sum(1 for b, *_ in plan.unconfirmed if b is batch)


def _insert_finding(
    plan: _Plan,
    batch: _Batch,
    parsed: ParsedFinding,
    ids: _Ids,
    *,
    recorded_on: dt.date | None = None,
) -> _Finding:
    finding_id = ids.next("finding")
    values = {
        "finding_id": finding_id,
        "inspection_id": plan.inspection_id,
        "round_id": plan.round_id,
        "unit_id": plan.unit_id,
        "category_l1": parsed.category_l1,
        "category_l2": parsed.category_l2,
        "tags": list(parsed.tags),
        "title": parsed.title,
        "detail": parsed.detail,
        "severity": parsed.severity,
        "person_level": parsed.person_level,
        "amount_wan": parsed.amount_wan,
        "immediate": parsed.immediate,
        "source_category_text": parsed.source_category_text,
        "ledger_position": parsed.position or None,
        "ledger_seq": parsed.seq,
        "recorded_on": recorded_on,
    }
    plan.finding_inserts.append(values)
    plan.changes.append(("findings", finding_id, "insert", None, batch.batch_id))
    return _Finding(values)


def _insert_measure(
    plan: _Plan,
    batch: _Batch,
    finding: _Finding,
    parsed: ParsedMeasure,
    request: _Request,
    ids: _Ids,
) -> None:
    if parsed.extension_in_deadline:
        plan.error(
            batch,
            "整改状态为“申请延期”，整改时限列的日期应为延期后的新时限，但此前没有导入该措施的"
            "原定时限，无法区分；请在“整改时限”列填写原定时限、在“延期时限”列填写新时限",
            sheet=parsed.sheet,
            row=parsed.row,
            kind="申请延期的新措施缺少原定时限",
            column="整改时限",
            value=parsed.deadline_text,
        )
        return
    measure_id = ids.next("measure")
    current = parsed.extension_date or parsed.deadline_date
    # No completion date written: none is invented (the on-time rate leaves such measures out).
    completed = parsed.completed_on
    values = {
        "measure_id": measure_id,
        "finding_id": finding.finding_id,
        "text": parsed.text,
        "lead_person": parsed.lead_person,
        "department": parsed.department,
        "person": parsed.person,
        "deadline_kind": parsed.deadline_kind,
        "deadline_text": parsed.deadline_text,
        "deadline_original": parsed.deadline_date,
        "deadline_current": current,
        "long_term": parsed.long_term,
        "status": parsed.status,
        "status_text": parsed.status_text,
        "completed_on": completed,
        "closed_on": parsed.closed_on if parsed.status == "DONE" else None,
        "evidence": parsed.evidence,
        "progress": parsed.progress,
        "ledger_order": parsed.order or None,
        "remark": parsed.remark,
    }
    plan.measure_inserts.append(values)
    finding.measures.append(_Measure(values))
    plan.changes.append(("measures", measure_id, "insert", None, batch.batch_id))
    plan.status_rows.append(
        (ids.next("history"), measure_id, parsed.status, batch.as_of, batch.batch_id)
    )
    batch.outcome.status_changes += 1
    # The plan's deadline holds from the 反馈日期; an extension from this ledger's date.
    plan.deadline_rows.append(
        (
            ids.next("history"),
            measure_id,
            parsed.deadline_date,
            parsed.deadline_text,
            min(request.feedback, batch.as_of),
            batch.batch_id,
            None,
        )
    )
    if parsed.extension_date is not None and parsed.extension_date != parsed.deadline_date:
        plan.deadline_rows.append(
            (
                ids.next("history"),
                measure_id,
                parsed.extension_date,
                parsed.deadline_text,
                batch.as_of,
                batch.batch_id,
                "申请延期",
            )
        )
        batch.outcome.deadline_changes += 1


def _record_update(
    plan: _Plan, batch: _Batch, table: str, row_id: int, before: dict[str, Any]
) -> None:
    plan.changes.append(
        (
            table,
            row_id,
            "update",
            json.dumps(before, ensure_ascii=False, default=_json),
            batch.batch_id,
        )
    )


def _json(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def _update_finding(plan: _Plan, batch: _Batch, finding: _Finding, parsed: ParsedFinding) -> bool:
    values = finding.values
    fresh = {
        "title": parsed.title,
        "detail": parsed.detail,
        "severity": parsed.severity,
        "person_level": parsed.person_level,
        "amount_wan": parsed.amount_wan,
        "source_category_text": parsed.source_category_text,
        # The problem now stands where this ledger puts it: the next ledger pairs by it.
        "ledger_position": parsed.position or None,
        "ledger_seq": parsed.seq,
    }
    before: dict[str, Any] = {}
    for column, value in fresh.items():
        if value is not None and value != values[column]:
            before[column] = values[column]
            values[column] = value
    if parsed.category_l1 != values["category_l1"] or (
        parsed.category_l2 is not None and parsed.category_l2 != values["category_l2"]
    ):
        was = values["category_l1"] + (f"/{values['category_l2']}" if values["category_l2"] else "")
        now = parsed.category_l1 + (f"/{parsed.category_l2}" if parsed.category_l2 else "")
        _warn(
            plan,
            batch,
            f"问题类别与此前导入的不同（此前 {was}，本台账 {now}），保留此前的类别；"
            "如需更正，请回滚此前的批次后重新导入",
            row=parsed.row,
            sheet=parsed.sheet,
            value=parsed.source_category_text,
        )
    if parsed.tags and list(parsed.tags) != list(values["tags"]):
        _warn(
            plan,
            batch,
            "问题标签与此前导入的不同，保留此前的标签",
            row=parsed.row,
            sheet=parsed.sheet,
        )
    if not before:
        return False
    _record_update(plan, batch, "findings", finding.finding_id, before)
    plan.finding_updates[finding.finding_id] = values
    return True


def _update_measure(
    plan: _Plan, batch: _Batch, measure: _Measure, parsed: ParsedMeasure, ids: _Ids
) -> bool:
    values = measure.values
    before: dict[str, Any] = {}

    def put(column: str, value: Any) -> None:
        if value != values[column]:
            before.setdefault(column, values[column])
            values[column] = value

    history_text = parsed.deadline_text  # the ledger's own words go into the history
    if parsed.extension_in_deadline:
        # 申请延期 with the new date written over the 时限: the original stays as held. A date
        # no later than the deadline in force is no extension: said, and nothing moves.
        new_date = parsed.deadline_date
        held_current = values["deadline_current"] or values["deadline_original"]
        parsed.deadline_date = values["deadline_original"]
        parsed.deadline_text = values["deadline_text"]
        if new_date is not None and held_current is not None and new_date <= held_current:
            _warn(
                plan,
                batch,
                f"整改状态为“申请延期”，但整改时限 {new_date} 不晚于现行时限 {held_current}，"
                "未记为延期；请核对延期后的新时限",
                row=parsed.row,
                sheet=parsed.sheet,
                value=history_text,
            )
        else:
            parsed.extension_date = new_date

    if measure.closed_online is not None and parsed.status != "DONE":
        _warn(
            plan,
            batch,
            f"该措施已于 {measure.closed_online} 在线销号，台账中的整改状态"
            f"“{parsed.status_text or parsed.status}”未采用",
            row=parsed.row,
            sheet=parsed.sheet,
            value=parsed.status_text,
        )
        parsed.status = values["status"]
        parsed.status_text = values["status_text"]
        parsed.completed_on = parsed.closed_on = None
    for column, value in (
        ("text", parsed.text),
        ("lead_person", parsed.lead_person),
        ("department", parsed.department),
        ("person", parsed.person),
        ("status_text", parsed.status_text),
        ("evidence", parsed.evidence),
        ("progress", parsed.progress),
        ("deadline_text", parsed.deadline_text),
        ("remark", parsed.remark),
        ("ledger_order", parsed.order or None),
    ):
        if value is not None:
            put(column, value)
    if parsed.status != values["status"]:
        was_done = values["status"] == "DONE"
        put("status", parsed.status)
        plan.status_rows.append(
            (ids.next("history"), measure.measure_id, parsed.status, batch.as_of, batch.batch_id)
        )
        batch.outcome.status_changes += 1
        if parsed.status == "DONE" and not was_done:
            put("completed_on", parsed.completed_on)
        elif parsed.status != "DONE":
            put("completed_on", None)
            put("closed_on", None)
    if parsed.status == "DONE":
        if parsed.completed_on is not None:
            put("completed_on", parsed.completed_on)
        if parsed.closed_on is not None:
            put("closed_on", parsed.closed_on)
    put("deadline_kind", parsed.deadline_kind)
    put("long_term", parsed.long_term)
    # A granted extension stands until a ledger states another date: restating the original
    # deadline without the extension changes nothing.
    current: dt.date | None
    if parsed.extension_date is not None:
        current = parsed.extension_date
    elif parsed.deadline_date == values["deadline_original"]:
        current = values["deadline_current"]
    else:
        current = parsed.deadline_date
    if current != values["deadline_current"] and measure.extended_online is not None:
        _warn(
            plan,
            batch,
            f"该措施已在线批准延期至 {values['deadline_current']}，台账中的整改时限"
            f" {current or '无'} 未采用",
            row=parsed.row,
            sheet=parsed.sheet,
            value=parsed.deadline_text,
        )
        current = values["deadline_current"]
    if current != values["deadline_current"]:
        reason = "申请延期" if parsed.extension_date is not None else "台账时限变更"
        if reason != "申请延期":
            _warn(
                plan,
                batch,
                f"整改时限由 {values['deadline_current'] or '无'} 改为 {current or '无'}（未注明延期）",
                row=parsed.row,
                sheet=parsed.sheet,
                value=parsed.deadline_text,
            )
        put("deadline_current", current)
        plan.deadline_rows.append(
            (
                ids.next("history"),
                measure.measure_id,
                current,
                history_text,
                batch.as_of,
                batch.batch_id,
                reason,
            )
        )
        batch.outcome.deadline_changes += 1
    if not before:
        return False
    _record_update(plan, batch, "measures", measure.measure_id, before)
    plan.measure_updates[measure.measure_id] = values
    return True


# -- executing ---------------------------------------------------------------------------


def _withdraw_open_claims(con: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    """A measure the ledger records DONE leaves no online claim or extension request waiting:
    each gets a `withdraw` step (state superseded) dated on the ledger's 截至时间 (or its last
    step's day, if later), so the
    queues and the 待审核 counts no longer hold it and no return is counted against the unit."""
    done = [
        (mid, day, batch) for _, mid, status, day, batch in plan.status_rows if status == "DONE"
    ]
    if not done:
        return
    users = {row["batch_id"]: row.get("user_name") or "system" for row in plan.batch_rows}
    try:
        con.execute(
            "CREATE TEMP TABLE ledger_done (measure_id INTEGER, day DATE, batch_id INTEGER)"
        )
    except duckdb.CatalogException:
        con.execute("DELETE FROM ledger_done")
    con.executemany("INSERT INTO ledger_done VALUES (?, ?, ?)", done)
    try:
        open_claims = con.execute(
            "SELECT s.submission_id, s.measure_id, s.round_id, s.unit_id,"
            " greatest(d.day, st.last_day), d.batch_id"
            " FROM rectify_submissions s"
            " JOIN (SELECT submission_id, arg_max(state, step_id) AS state,"
            "       max(step_date) AS last_day FROM rectify_steps GROUP BY ALL) st"
            "   USING (submission_id)"
            " JOIN ledger_done d ON d.measure_id = s.measure_id"
            " WHERE st.state IN ('pending_review', 'pending_close', 'extension_pending')"
            " ORDER BY s.submission_id"
        ).fetchall()
        row = _first(con, "SELECT coalesce(max(step_id), 0) FROM rectify_steps")
    except duckdb.CatalogException:  # no online rectification in this store
        return
    finally:
        con.execute("DROP TABLE ledger_done")
    step_id = int(row[0]) if row else 0
    now = dt.datetime.now()
    for submission_id, measure_id, round_id, unit_id, day, batch_id in open_claims:
        step_id += 1
        con.execute(
            "INSERT INTO rectify_steps VALUES (?, ?, ?, ?, ?, 'withdraw', 'superseded', ?,"
            " 'system', ?, ?, '台账已记为完成，在线申请不再审核', [], ?)",
            [
                step_id,
                submission_id,
                measure_id,
                round_id,
                unit_id,
                users.get(batch_id),
                now,
                day,
                batch_id,
            ],
        )


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.is_empty():
        return
    con.register("ledger_rows", frame)
    try:
        names = ", ".join(frame.columns)
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM ledger_rows")
    finally:
        con.unregister("ledger_rows")


def _update_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: str,
    columns: Iterable[str],
    frame: pl.DataFrame,
) -> None:
    if frame.is_empty():
        return
    con.register("ledger_updates", frame)
    try:
        sets = ", ".join(f"{c} = u.{c}" for c in columns)
        con.execute(
            f"UPDATE {table} SET {sets} FROM ledger_updates u WHERE {table}.{key} = u.{key}"
        )
    finally:
        con.unregister("ledger_updates")


def _execute(con: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    if plan.new_round is not None:
        con.execute("INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?, ?)", list(plan.new_round))
    if plan.new_unit is not None:
        con.execute("INSERT INTO units VALUES (?, ?, ?, ?, ?)", list(plan.new_unit))
    if plan.new_inspection is not None:
        con.execute(
            "INSERT INTO inspections VALUES (?, ?, ?, ?, ?, ?, ?)", list(plan.new_inspection)
        )
    _insert_frame(con, "findings", pl.DataFrame(plan.finding_inserts, schema=_FINDING_SCHEMA))
    _insert_frame(con, "measures", pl.DataFrame(plan.measure_inserts, schema=_MEASURE_SCHEMA))
    _update_frame(
        con,
        "findings",
        "finding_id",
        FINDING_UPDATABLE,
        pl.DataFrame(list(plan.finding_updates.values()), schema=_FINDING_SCHEMA).select(
            "finding_id", *FINDING_UPDATABLE
        ),
    )
    _update_frame(
        con,
        "measures",
        "measure_id",
        MEASURE_UPDATABLE,
        pl.DataFrame(list(plan.measure_updates.values()), schema=_MEASURE_SCHEMA),
    )
    _insert_frame(
        con,
        "measure_status_history",
        pl.DataFrame(
            plan.status_rows,
            schema={
                "history_id": pl.Int64,
                "measure_id": pl.Int32,
                "status": pl.String,
                "status_date": pl.Date,
                "batch_id": pl.Int32,
            },
            orient="row",
        ),
    )
    _insert_frame(
        con,
        "measure_deadline_history",
        pl.DataFrame(
            plan.deadline_rows,
            schema={
                "history_id": pl.Int64,
                "measure_id": pl.Int32,
                "deadline": pl.Date,
                "deadline_text": pl.String,
                "effective_date": pl.Date,
                "batch_id": pl.Int32,
                "reason": pl.String,
            },
            orient="row",
        ),
    )
    row = _first(con, "SELECT coalesce(max(change_id), 0) FROM batch_changes")
    start = int(row[0]) if row else 0
    _insert_frame(
        con,
        "batch_changes",
        pl.DataFrame(
            [
                (start + k + 1, batch_id, table, row_id, action, before)
                for k, (table, row_id, action, before, batch_id) in enumerate(plan.changes)
            ],
            schema={
                "change_id": pl.Int64,
                "batch_id": pl.Int32,
                "table_name": pl.String,
                "row_id": pl.Int32,
                "action": pl.String,
                "before_json": pl.String,
            },
            orient="row",
        ),
    )
    for batch_row in plan.batch_rows:
        names = ", ".join(batch_row)
        marks = ", ".join("?" for _ in batch_row)
        con.execute(
            f"INSERT INTO import_batches ({names}) VALUES ({marks})", list(batch_row.values())
        )
    _withdraw_open_claims(con, plan)
    if plan.max_history:
        con.execute("SELECT setval('history_seq', ?)", [plan.max_history])
