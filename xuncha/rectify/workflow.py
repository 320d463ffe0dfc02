"""The steps of online rectification and their checks (DOMAIN.md §8).

One measure's submissions move through these states (rectify_steps.state):

    progress report   report  → recorded           (the reported status takes effect at once)
    done, with proof  submit  → pending_review  待审核
                      pass    → pending_close   待销号   (reviewer: 巡察组 or 监督检查室)
                      return  → returned        已退回   (reviewer, or the approver at 待销号)
                      close   → closed          已销号   (approver: 巡察办)
    extension         request → extension_pending
                      approve → extension_approved  /  reject → extension_rejected  (巡察办)

Who may act is checked here, in the data layer, inside the write transaction (the store's
writer lock serialises writes, so the state read is the state changed): the permission of the
role (REPORT, REVIEW, APPROVE), the unit scope of the account, and the two-person rule — the
reviewer is not the submitter, the approver is neither the submitter nor the reviewer. A
crafted request (another submission id, a measure of another unit, one's own submission) is
refused with the same words as a missing one where telling them apart would disclose anything.

What the figures read changes only with approved states: a progress report's status (the unit
moves a measure between 整改中 states itself), a DONE dated on the 销号 day with the completion
date the unit reported, an approved extension as a new current deadline from its approval day
(on-time still counts against the original deadline). A submission awaiting review is not done.

Every step is one new data version (Store.write: one transaction, published whole or not at
all), an `online` import batch, a dated row of rectify_steps with the actor and the evidence
hashes, and an audit record written after the version is published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from xuncha import audit
from xuncha.auth.access import APPROVE, REPORT, REVIEW, Access, PermissionDenied
from xuncha.auth.scope import scope_ids
from xuncha.rectify import evidence as evidence_files
from xuncha.rectify.evidence import CheckedEvidence
from xuncha.store import Store, faults, open_reader

PROGRESS_STATUSES = ("IN_PROGRESS", "PHASED", "NOT_DONE")
STATUS_LABELS = {
    "IN_PROGRESS": "正在整改",
    "PHASED": "阶段性完成",
    "NOT_DONE": "未完成",
    "DONE": "已完成",
    "LONG_TERM": "长期坚持",
}
STATE_LABELS = {
    "recorded": "已记录",
    "pending_review": "待审核",
    "pending_close": "待销号",
    "returned": "已退回",
    "closed": "已销号",
    "extension_pending": "延期待审批",
    "extension_approved": "已批准延期",
    "extension_rejected": "不予延期",
    "superseded": "已撤销（台账已记为完成）",
}
OPEN_DONE_STATES = ("pending_review", "pending_close")
MAX_TEXT = 2000
MAX_FILES = 20
MAX_EXTENSION_DAYS = 2 * 365  # an extension asked for beyond this is a mistyped date

_NOT_FOUND = "措施不存在或不在本账号的范围内：{}"
_NO_SUBMISSION = "填报不存在或不在本账号的范围内：{}"


class WorkflowError(Exception):
    """A step that cannot be taken; the message says why in Chinese. Nothing was written."""


@dataclass(frozen=True)
class Report:
    """One measure's report: progress (a 整改中 status) or done (DONE, with the completion
    date and at least one evidence file)."""

    measure_id: int
    status: str
    progress: str
    completed_on: dt.date | None = None
    evidence: tuple[CheckedEvidence, ...] = ()
    source_row: int | None = None  # the row of an uploaded ledger


@dataclass(frozen=True)
class Source:
    """Where a batch of reports came from: typed online, or an uploaded ledger."""

    kind: str = "online"  # or "excel"
    file_name: str | None = None
    sha256: str | None = None


@dataclass
class StepOutcome:
    version: int
    batch_id: int
    submission_ids: list[int] = field(default_factory=list)
    step_ids: list[int] = field(default_factory=list)
    measure_ids: list[int] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # SHA-256 of the files the steps name
    message: str = ""


# -- scope ---------------------------------------------------------------------------------


def visible_inspections(store: Store, access: Access) -> frozenset[int] | None:
    """The inspections whose measures `access` may report on or decide (None: every one):
    its rounds and units, on the current data version. Ids are stable across versions."""
    if not access.scoped:
        return None
    reader = open_reader(store)
    try:
        round_ids, unit_ids = scope_ids(reader, access)
        frame = reader.query(
            "scope_inspections",
            dict.fromkeys(
                ("round_from", "round_to", "kinds", "sectors", "peer_groups", "unit_ids")
            ),
        )
    finally:
        reader.close()
    rows = frame.select("inspection_id", "round_id", "unit_id").rows()
    return frozenset(
        int(i)
        for i, r, u in rows
        if (round_ids is None or r in round_ids) and (unit_ids is None or u in unit_ids)
    )


def _refuse_out_of_scope(
    store: Store, visible: frozenset[int] | None, measure_ids: Sequence[int]
) -> None:
    """WorkflowError naming the measures that do not exist or are out of scope, read on the
    current version before anything (an evidence file) is kept."""
    con = store.connect()
    try:
        rows = con.execute(
            "SELECT m.measure_id, f.inspection_id FROM measures m JOIN findings f"
            " USING (finding_id) WHERE m.measure_id IN (SELECT unnest(?::INTEGER[]))",
            [list(measure_ids)],
        ).fetchall()
    finally:
        con.close()
    known = {int(m) for m, i in rows if visible is None or int(i) in visible}
    missing = [i for i in measure_ids if i not in known]
    if missing:
        raise WorkflowError(_NOT_FOUND.format("、".join(map(str, missing))) + "。未提交任何填报")


# -- reading inside the write --------------------------------------------------------------


def _measure(con: duckdb.DuckDBPyConnection, measure_id: int) -> dict[str, Any] | None:
    row = con.execute(
        "SELECT m.measure_id, m.finding_id, f.inspection_id, f.round_id, f.unit_id, m.status,"
        " m.deadline_kind, m.deadline_original, m.deadline_current, i.feedback_date,"
        " greatest((SELECT max(status_date) FROM measure_status_history h"
        "           WHERE h.measure_id = m.measure_id),"
        "          (SELECT max(effective_date) FROM measure_deadline_history d"
        "           WHERE d.measure_id = m.measure_id)) AS last_recorded,"
        " (SELECT max(status_date) FROM measure_status_history h"
        "  WHERE h.measure_id = m.measure_id AND h.status <> 'DONE') AS last_open_on"
        " FROM measures m JOIN findings f USING (finding_id)"
        " JOIN inspections i ON i.inspection_id = f.inspection_id WHERE m.measure_id = ?",
        [measure_id],
    ).fetchone()
    if row is None:
        return None
    keys = (
        "measure_id",
        "finding_id",
        "inspection_id",
        "round_id",
        "unit_id",
        "status",
        "deadline_kind",
        "deadline_original",
        "deadline_current",
        "feedback_date",
        "last_recorded",  # the latest dated status or deadline record: no step before it
        "last_open_on",  # the latest day it was recorded not done: no completion before it
    )
    return dict(zip(keys, row, strict=True))


def _submission(con: duckdb.DuckDBPyConnection, submission_id: int) -> dict[str, Any] | None:
    row = con.execute(
        "SELECT s.submission_id, s.measure_id, s.inspection_id, s.round_id, s.unit_id, s.kind,"
        " s.status, s.progress, s.completed_on, s.proposed_deadline, s.reason, s.submitted_by,"
        " st.state, st.step_date,"
        " (SELECT arg_max(actor, step_id) FROM rectify_steps p"
        "   WHERE p.submission_id = s.submission_id AND p.step = 'pass') AS reviewer"
        " FROM rectify_submissions s"
        " JOIN (SELECT submission_id, arg_max(state, step_id) AS state,"
        "       max(step_date) AS step_date FROM rectify_steps GROUP BY ALL) st"
        "   USING (submission_id)"
        " WHERE s.submission_id = ?",
        [submission_id],
    ).fetchone()
    if row is None:
        return None
    keys = (
        "submission_id",
        "measure_id",
        "inspection_id",
        "round_id",
        "unit_id",
        "kind",
        "status",
        "progress",
        "completed_on",
        "proposed_deadline",
        "reason",
        "submitted_by",
        "state",
        "step_date",
        "reviewer",
    )
    return dict(zip(keys, row, strict=True))


def _open_states(con: duckdb.DuckDBPyConnection, measure_id: int, kind: str) -> list[str]:
    """The states of the measure's submissions of this kind that are still open."""
    rows = con.execute(
        "SELECT st.state FROM rectify_submissions s"
        " JOIN (SELECT submission_id, arg_max(state, step_id) AS state FROM rectify_steps"
        "       GROUP BY ALL) st USING (submission_id)"
        " WHERE s.measure_id = ? AND s.kind = ?"
        "   AND st.state IN ('pending_review', 'pending_close', 'extension_pending')",
        [measure_id, kind],
    ).fetchall()
    return [r[0] for r in rows]


def _next_id(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0] or 0) + 1 if row else 1


class _Writer:
    """The rows of one step, numbered inside its transaction."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, access: Access, on: dt.date, now: dt.datetime
    ) -> None:
        self.con = con
        self.access = access
        self.on = on
        self.now = now
        self.batch_id = _next_id(con, "SELECT max(batch_id) FROM import_batches")
        self.submission_id = _next_id(con, "SELECT max(submission_id) FROM rectify_submissions")
        self.step_id = _next_id(con, "SELECT max(step_id) FROM rectify_steps")
        self.history_id = _next_id(
            con,
            "SELECT greatest((SELECT max(history_id) FROM measure_status_history),"
            " (SELECT max(history_id) FROM measure_deadline_history))",
        )
        self.outcome = StepOutcome(version=0, batch_id=self.batch_id)

    def batch(self, note: str, source: Source, rows: int, measure: dict[str, Any] | None) -> None:
        self.con.execute(
            "INSERT INTO import_batches (batch_id, kind, file_name, file_sha256, user_name,"
            " created_at, round_id, unit_id, inspection_id, as_of, rows_read, status, note,"
            " status_changes, deadline_changes)"
            " VALUES (?, 'online', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'applied', ?, 0, 0)",
            [
                self.batch_id,
                source.file_name,
                source.sha256,
                self.access.user,
                self.now,
                measure["round_id"] if measure else None,
                measure["unit_id"] if measure else None,
                measure["inspection_id"] if measure else None,
                self.on,
                rows,
                note,
            ],
        )

    def submission(
        self,
        measure: dict[str, Any],
        kind: str,
        *,
        source: Source,
        status: str | None = None,
        progress: str | None = None,
        completed_on: dt.date | None = None,
        proposed_deadline: dt.date | None = None,
        reason: str | None = None,
        source_row: int | None = None,
    ) -> int:
        sid = self.submission_id
        self.submission_id += 1
        self.con.execute(
            "INSERT INTO rectify_submissions VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                sid,
                measure["measure_id"],
                measure["finding_id"],
                measure["inspection_id"],
                measure["round_id"],
                measure["unit_id"],
                kind,
                status,
                progress,
                completed_on,
                proposed_deadline,
                reason,
                self.access.user,
                self.now,
                self.on,
                source.kind,
                source.file_name,
                source.sha256,
                source_row,
                self.batch_id,
            ],
        )
        self.outcome.submission_ids.append(sid)
        if measure["measure_id"] not in self.outcome.measure_ids:
            self.outcome.measure_ids.append(measure["measure_id"])
        return sid

    def step(
        self,
        submission: dict[str, Any],
        step: str,
        state: str,
        *,
        reason: str | None = None,
        evidence: Sequence[str] = (),
    ) -> int:
        step_id = self.step_id
        self.step_id += 1
        self.con.execute(
            "INSERT INTO rectify_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                step_id,
                submission["submission_id"],
                submission["measure_id"],
                submission["round_id"],
                submission["unit_id"],
                step,
                state,
                self.access.user,
                self.access.role,
                self.now,
                self.on,
                reason,
                list(evidence),
                self.batch_id,
            ],
        )
        self.outcome.step_ids.append(step_id)
        self.outcome.evidence.extend(h for h in evidence if h not in self.outcome.evidence)
        if submission["measure_id"] not in self.outcome.measure_ids:
            self.outcome.measure_ids.append(submission["measure_id"])
        return step_id

    def status(self, measure_id: int, status: str) -> None:
        self.con.execute(
            "INSERT INTO measure_status_history VALUES (?, ?, ?, ?, ?)",
            [self.history_id, measure_id, status, self.on, self.batch_id],
        )
        self.history_id += 1
        self.con.execute(
            "UPDATE import_batches SET status_changes = status_changes + 1 WHERE batch_id = ?",
            [self.batch_id],
        )

    def deadline(self, measure_id: int, deadline: dt.date, reason: str) -> None:
        self.con.execute(
            "INSERT INTO measure_deadline_history VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                self.history_id,
                measure_id,
                deadline,
                f"延期至{deadline.isoformat()}",
                self.on,
                self.batch_id,
                reason,
            ],
        )
        self.history_id += 1
        self.con.execute(
            "UPDATE import_batches SET deadline_changes = deadline_changes + 1 WHERE batch_id = ?",
            [self.batch_id],
        )


# -- checks --------------------------------------------------------------------------------


def check_dates(
    on: dt.date | None, now: dt.datetime | None, error: type[Exception] = WorkflowError
) -> tuple[dt.date, dt.datetime]:
    """The step's date and time (default: now); `error` when the date is after today. Shared
    by every dated step a person takes (rectification here, evaluation entries)."""
    now = now or dt.datetime.now()
    on = on or now.date()
    if on > now.date():
        raise error(f"日期不能晚于今天：{on.isoformat()}")
    return on, now


def check_text(
    value: str | None, what: str, *, required: bool, error: type[Exception] = WorkflowError
) -> str | None:
    """A person's text stripped, None when blank; `error` when required and blank, or longer
    than MAX_TEXT."""
    text = (value or "").strip()
    if not text:
        if required:
            raise error(f"请填写{what}")
        return None
    if len(text) > MAX_TEXT:
        raise error(f"{what}不能超过 {MAX_TEXT} 字（现为 {len(text)} 字）")
    return text


def _in_scope(row: dict[str, Any] | None, visible: frozenset[int] | None) -> bool:
    return row is not None and (visible is None or int(row["inspection_id"]) in visible)


def _not_before(on: dt.date, earlier: dt.date | None, what: str) -> None:
    if earlier is not None and on < earlier:
        raise WorkflowError(f"日期 {on.isoformat()} 早于{what}（{earlier.isoformat()}）")


def _check_report(
    con: duckdb.DuckDBPyConnection,
    report: Report,
    visible: frozenset[int] | None,
    on: dt.date,
) -> dict[str, Any]:
    measure = _measure(con, report.measure_id)
    if measure is None or not _in_scope(measure, visible):
        raise WorkflowError(_NOT_FOUND.format(report.measure_id))
    if measure["status"] == "DONE":
        raise WorkflowError(f"措施 {report.measure_id} 已完成，无需再填报")
    of = f"措施 {report.measure_id} 的"  # a batch's message names the measure of each problem
    _not_before(on, measure["feedback_date"], of + "反馈日期")
    _not_before(on, measure["last_recorded"], of + "最近一次状态或时限记录日期")
    check_text(report.progress, of + "整改进展", required=True)
    if report.status == "DONE":
        if report.completed_on is None:
            raise WorkflowError(f"措施 {report.measure_id} 报完成须填写完成日期")
        if report.completed_on > on:
            raise WorkflowError(
                f"措施 {report.measure_id} 的完成日期 {report.completed_on.isoformat()}"
                f" 晚于填报日期 {on.isoformat()}"
            )
        _not_before(report.completed_on, measure["feedback_date"], of + "反馈日期")
        _not_before(report.completed_on, measure["last_open_on"], of + "最近一次记为未完成的日期")
        if not report.evidence:
            raise WorkflowError(f"措施 {report.measure_id} 报完成须附佐证材料")
        if len(report.evidence) > MAX_FILES:
            raise WorkflowError(f"措施 {report.measure_id} 的佐证材料不能超过 {MAX_FILES} 个")
        if _open_states(con, report.measure_id, "done"):
            raise WorkflowError(
                f"措施 {report.measure_id} 已有待审核或待销号的完成申请，请等待审核"
            )
    elif report.status in PROGRESS_STATUSES:
        if report.completed_on is not None:
            raise WorkflowError(f"措施 {report.measure_id} 未报完成，不应填写完成日期")
        if _open_states(con, report.measure_id, "done"):
            # The claim says done; a progress report now would contradict it.
            raise WorkflowError(
                f"措施 {report.measure_id} 已报完成、正在审核或待销号，审核结果出来前不能再报进展"
            )
    else:
        shown = STATUS_LABELS.get(report.status, report.status)
        raise WorkflowError(f"措施 {report.measure_id} 的状态不能填报为：{shown}")
    return measure


# -- the steps -----------------------------------------------------------------------------


def _run(
    store: Store,
    access: Access,
    what: str,
    action: str,
    apply: Callable[[duckdb.DuckDBPyConnection], StepOutcome],
    details: Callable[[StepOutcome], dict[str, Any]],
) -> StepOutcome:
    return publish(
        store,
        access,
        what,
        action,
        apply,
        lambda outcome: {
            "submission_ids": outcome.submission_ids,
            "step_ids": outcome.step_ids,
            "measure_ids": outcome.measure_ids,
            **details(outcome),
        },
    )


def publish(
    store: Store,
    access: Access,
    what: str,
    action: str,
    apply: Callable[[duckdb.DuckDBPyConnection], StepOutcome],
    details: Callable[[StepOutcome], dict[str, Any]],
) -> StepOutcome:
    """One person's step as one new data version (`apply` inside Store.write's transaction),
    then its audit record: who, the role, the version, the batch, the evidence hashes and
    `details(outcome)`. The audit trail is checked writable first; when the record still fails
    after the write, the error says the step was written and must be checked. Shared by the
    online rectification steps and the 整改成效评估's entries and decisions."""
    audit.check_before_write(store.root, what)
    outcome, version = store.write(apply)
    outcome.version = version
    try:
        audit.record(
            store.root,
            user=access.user,
            action=action,
            role=access.role,
            data_version=version,
            batch_id=outcome.batch_id,
            evidence_sha256=sorted(outcome.evidence),
            **details(outcome),
        )
    except audit.AuditError as exc:
        raise audit.AuditError(
            f"{what}已写入（数据版本 {version}），但审计记录写入失败：{exc}；"
            "请管理员立即核查（xuncha audit verify）"
        ) from exc
    return outcome


def report(
    store: Store,
    access: Access,
    reports: Sequence[Report],
    *,
    on: dt.date | None = None,
    now: dt.datetime | None = None,
    source: Source | None = None,
) -> StepOutcome:
    """Record a unit's reports on several measures at once: progress takes effect, a done
    claim waits for review. All or nothing: one refused report refuses the batch, with every
    problem named (WorkflowError)."""
    if not access.can(REPORT):
        raise PermissionDenied("没有整改填报权限")
    if not reports:
        raise WorkflowError("没有要提交的填报")
    ids = [r.measure_id for r in reports]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise WorkflowError("同一措施在一次提交中出现多次：" + "、".join(map(str, twice)))
    on, now = check_dates(on, now)
    source = source or Source()
    visible = visible_inspections(store, access)
    files = [f for r in reports for f in r.evidence]
    if files:
        # Nothing is kept of a request that names measures out of scope (checked again,
        # authoritatively, inside the write).
        _refuse_out_of_scope(store, visible, ids)
    # Files first: a version never names a hash whose file is missing (an orphan file left
    # by a crash in between is harmless and reused by the next upload of the same content).
    for checked in {f.sha256: f for f in files}.values():
        evidence_files.put_evidence(store, checked)
    faults.reached("rectify.evidence_stored")

    def apply(con: duckdb.DuckDBPyConnection) -> StepOutcome:
        problems: list[str] = []
        checked_rows: list[tuple[Report, dict[str, Any]]] = []
        for item in reports:
            try:
                checked_rows.append((item, _check_report(con, item, visible, on)))
            except WorkflowError as exc:
                problems.append(str(exc))
        if problems:
            raise WorkflowError("；".join(problems) + "。未提交任何填报")
        writer = _Writer(con, access, on, now)
        first = checked_rows[0][1]
        one_unit = len({m["inspection_id"] for _, m in checked_rows}) == 1
        writer.batch("整改填报", source, len(reports), first if one_unit else None)
        for checked in {f.sha256: f for f in files}.values():
            evidence_files.register_evidence(con, checked, user=access.user, now=now)
        for item, measure in checked_rows:
            done = item.status == "DONE"
            sid = writer.submission(
                measure,
                "done" if done else "progress",
                source=source,
                status=item.status,
                progress=check_text(item.progress, "整改进展", required=True),
                completed_on=item.completed_on,
                source_row=item.source_row,
            )
            for position, checked in enumerate(item.evidence, start=1):
                con.execute(
                    "INSERT INTO submission_evidence VALUES (?, ?, ?, ?)",
                    [sid, checked.sha256, checked.file_name, position],
                )
            row = {**measure, "submission_id": sid}
            hashes = [c.sha256 for c in item.evidence]
            if done:
                writer.step(row, "submit", "pending_review", evidence=hashes)
            else:
                writer.step(row, "report", "recorded", evidence=hashes)
                if item.status != measure["status"]:
                    writer.status(measure["measure_id"], item.status)
                con.execute(
                    "UPDATE measures SET status = ?, progress = ? WHERE measure_id = ?",
                    [item.status, item.progress.strip(), measure["measure_id"]],
                )
        waiting = sum(1 for r in reports if r.status == "DONE")
        writer.outcome.message = f"已提交 {len(reports)} 条填报" + (
            f"，其中 {waiting} 条报完成，待审核" if waiting else ""
        )
        return writer.outcome

    return _run(
        store,
        access,
        "整改填报",
        "rectify_report",
        apply,
        lambda o: {
            "on": on,
            "source": source.kind,
            "file": source.file_name,
            "file_sha256": source.sha256,
        },
    )


def _decision_target(
    con: duckdb.DuckDBPyConnection,
    access: Access,
    submission_id: int,
    visible: frozenset[int] | None,
    on: dt.date,
) -> dict[str, Any]:
    found = _submission(con, submission_id)
    if found is None or not _in_scope(found, visible):
        raise WorkflowError(_NO_SUBMISSION.format(submission_id))
    if found["submitted_by"] == access.user:
        raise PermissionDenied("不能审核、销号或审批本人提交的填报")
    _not_before(on, found["step_date"], "上一步的日期")
    return found


def decide(
    store: Store,
    access: Access,
    submission_id: int,
    action: str,
    *,
    reason: str | None = None,
    on: dt.date | None = None,
    now: dt.datetime | None = None,
) -> StepOutcome:
    """Pass, return or close (销号) a done claim, or approve or reject an extension.

    pass: a reviewer, at 待审核. return: a reviewer at 待审核, or the approver at 待销号, with a
    reason. close: the approver at 待销号, who is neither the submitter nor the reviewer.
    approve / reject: the approver, on a pending extension (reject with a reason)."""
    needs = {
        "pass": REVIEW,
        "close": APPROVE,
        "approve": APPROVE,
        "reject": APPROVE,
    }
    if action not in (*needs, "return"):
        raise WorkflowError(f"未知的审核操作：{action}")
    if action == "return":
        if not (access.can(REVIEW) or access.can(APPROVE)):
            raise PermissionDenied("没有整改审核权限")
    else:
        access.require(needs[action])
    on, now = check_dates(on, now)
    note = check_text(reason, "理由", required=action in ("return", "reject"))
    visible = visible_inspections(store, access)

    def apply(con: duckdb.DuckDBPyConnection) -> StepOutcome:
        found = _decision_target(con, access, submission_id, visible, on)
        state, kind = found["state"], found["kind"]
        if action in ("approve", "reject"):
            if kind != "extension" or state != "extension_pending":
                raise WorkflowError(f"填报 {submission_id} 不是待审批的延期申请")
        elif kind != "done":
            raise WorkflowError(f"填报 {submission_id} 不是完成申请")
        elif action == "pass" and state != "pending_review":
            raise WorkflowError(f"填报 {submission_id} 当前为“{STATE_LABELS[state]}”，不能审核")
        elif action == "return":
            allowed = ["pending_review"] if access.can(REVIEW) else []
            allowed += ["pending_close"] if access.can(APPROVE) else []
            if state not in allowed:
                raise WorkflowError(f"填报 {submission_id} 当前为“{STATE_LABELS[state]}”，不能退回")
        elif action == "close":
            if state != "pending_close":
                raise WorkflowError(
                    f"填报 {submission_id} 当前为“{STATE_LABELS[state]}”，须先经审核通过才能销号"
                )
            if found["reviewer"] == access.user:
                raise PermissionDenied("审核人不能对同一填报销号")
        measure = _measure(con, found["measure_id"])
        assert measure is not None
        if measure["status"] == "DONE":
            raise WorkflowError(f"措施 {found['measure_id']} 已完成，不能再{_VERB[action]}")
        _not_before(on, measure["last_recorded"], "该措施最近一次状态或时限记录的日期")
        if action == "approve":
            current = measure["deadline_current"]
            if current is not None and found["proposed_deadline"] <= current:
                raise WorkflowError(
                    f"申请延至 {found['proposed_deadline'].isoformat()} 不晚于现行时限"
                    f" {current.isoformat()}，不能批准（时限已另行变更）"
                )
        writer = _Writer(con, access, on, now)
        writer.batch(_NOTES[action], Source(), 1, measure)
        if action == "pass":
            writer.step(found, "pass", "pending_close", reason=note)
        elif action == "return":
            writer.step(found, "return", "returned", reason=note)
        elif action == "close":
            names = con.execute(
                "SELECT string_agg(file_name, '；' ORDER BY position), list(sha256 ORDER BY"
                " position) FROM submission_evidence WHERE submission_id = ?",
                [submission_id],
            ).fetchone()
            hashes: list[str] = list(names[1] or []) if names else []
            writer.step(found, "close", "closed", reason=note, evidence=hashes)
            writer.status(found["measure_id"], "DONE")
            con.execute(
                "UPDATE measures SET status = 'DONE', status_text = '已销号', completed_on = ?,"
                " closed_on = ?, progress = ?, evidence = ? WHERE measure_id = ?",
                [
                    found["completed_on"],
                    on,
                    found["progress"],
                    names[0] if names else None,
                    found["measure_id"],
                ],
            )
        elif action == "approve":
            writer.step(found, "approve", "extension_approved", reason=note)
            writer.deadline(
                found["measure_id"], found["proposed_deadline"], f"申请延期：{found['reason']}"
            )
            con.execute(
                "UPDATE measures SET deadline_current = ? WHERE measure_id = ?",
                [found["proposed_deadline"], found["measure_id"]],
            )
        else:
            writer.step(found, "reject", "extension_rejected", reason=note)
        writer.outcome.message = f"填报 {submission_id}：{_DONE_TEXT[action]}"
        return writer.outcome

    return _run(
        store,
        access,
        _NOTES[action],
        f"rectify_{action}",
        apply,
        lambda o: {"on": on, "reason": note},
    )


_VERB = {
    "pass": "审核",
    "return": "退回",
    "close": "销号",
    "approve": "批准延期",
    "reject": "审批延期",
}
_NOTES = {
    "pass": "整改审核通过",
    "return": "整改退回",
    "close": "整改销号",
    "approve": "批准延期",
    "reject": "不予延期",
}
_DONE_TEXT = {
    "pass": "审核通过，待销号",
    "return": "已退回",
    "close": "已销号",
    "approve": "已批准延期",
    "reject": "不予延期",
}


def request_extension(
    store: Store,
    access: Access,
    measure_id: int,
    proposed: dt.date,
    reason: str,
    *,
    on: dt.date | None = None,
    now: dt.datetime | None = None,
) -> StepOutcome:
    """A unit asks for a new deadline; it takes effect only when the 巡察办 approves it."""
    access.require(REPORT)
    on, now = check_dates(on, now)
    text = check_text(reason, "延期理由", required=True)
    visible = visible_inspections(store, access)

    def apply(con: duckdb.DuckDBPyConnection) -> StepOutcome:
        measure = _measure(con, measure_id)
        if measure is None or not _in_scope(measure, visible):
            raise WorkflowError(_NOT_FOUND.format(measure_id))
        if measure["status"] == "DONE":
            raise WorkflowError(f"措施 {measure_id} 已完成，不能申请延期")
        _not_before(on, measure["last_recorded"], "该措施最近一次状态或时限记录的日期")
        current = measure["deadline_current"]
        if current is None:
            raise WorkflowError(f"措施 {measure_id} 没有具体的整改时限，不能申请延期")
        if proposed <= current:
            raise WorkflowError(
                f"申请的时限 {proposed.isoformat()} 须晚于现行时限 {current.isoformat()}"
            )
        if proposed <= on:
            raise WorkflowError(f"申请的时限 {proposed.isoformat()} 须晚于今天")
        if proposed > on + dt.timedelta(days=MAX_EXTENSION_DAYS):
            raise WorkflowError(
                f"申请的时限 {proposed.isoformat()} 超过 {MAX_EXTENSION_DAYS // 365} 年，"
                "请核对日期；长期坚持的措施无需申请延期"
            )
        if _open_states(con, measure_id, "extension"):
            raise WorkflowError(f"措施 {measure_id} 已有待审批的延期申请")
        writer = _Writer(con, access, on, now)
        writer.batch("申请延期", Source(), 1, measure)
        sid = writer.submission(
            measure, "extension", source=Source(), proposed_deadline=proposed, reason=text
        )
        writer.step({**measure, "submission_id": sid}, "request", "extension_pending", reason=text)
        writer.outcome.message = (
            f"已提交延期申请（措施 {measure_id}，申请延至 {proposed.isoformat()}）"
        )
        return writer.outcome

    return _run(
        store,
        access,
        "延期申请",
        "rectify_request",
        apply,
        lambda o: {"on": on, "proposed": proposed, "reason": text},
    )
