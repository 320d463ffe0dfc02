"""Entering and confirming the 整改成效评估's manual items (满意度测评, 实地查看, 群众评判 …) and
一票否决 items, with their evidence, by two different people.

Who may act is checked here, in the data layer, inside the write transaction (the store's
writer lock serialises writes, so the state read is the state changed), as the online
rectification steps are (xuncha.rectify.workflow): the EVALUATE permission (巡察办, 监督检查室),
the account's scope (an inspection out of scope is refused with the same words as a missing
one), and the two-person rule — an entry is confirmed or rejected by an account other than
the one that entered it. An entry counts in the score only once confirmed; a rejected one
never counts. While an entry of an item awaits confirmation, no new entry of that item may be
made for the unit (one open entry per item, so a confirmation always confirms what is shown).

Every entry needs its basis (依据) and at least one evidence file, checked and kept by
xuncha.rectify.evidence (content-addressed, sealed when the store has a key), written before
the data version that names it. A veto item is entered as 1 (成立) or 0 (不成立); a manual item
as points from 0 to its configured maximum.

Each entry and each decision is one new data version (Store.write: one transaction, published
whole or not at all), an `evaluation` import batch, insert-only rows, and an audit record
written after the version is published.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from xuncha.auth.access import EVALUATE, Access, PermissionDenied
from xuncha.auth.scope import scope_ids
from xuncha.evaluation.config import EvaluationConfig, VetoItem
from xuncha.rectify import evidence as evidence_files
from xuncha.rectify.evidence import CheckedEvidence
from xuncha.rectify.workflow import (
    StepOutcome,
    WorkflowError,
    check_dates,
    check_text,
    publish,
)
from xuncha.store import Store
from xuncha.store.reader import Reader

MAX_FILES = 20
DECISIONS = {"confirm": "确认", "reject": "退回"}
_NOT_FOUND = "被评估的巡察不存在或不在本账号的范围内：{}"
_NO_ENTRY = "评分录入不存在或不在本账号的范围内：{}"


class EvaluationError(WorkflowError):
    """An entry or decision that cannot be made; the message says why in Chinese. Nothing
    was written. (A WorkflowError, so the pages show it as any refused step.)"""


def _check_value(config: EvaluationConfig, item: str, value: float) -> tuple[str, float]:
    spec = config.manual_item(item)
    if spec is None:
        known = "、".join(f"{i.key}（{i.label}）" for i in config.entered_items())
        raise EvaluationError(f"没有这个人工评分项或一票否决项：{item}（可用：{known}）")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EvaluationError(f"{spec.label}的分值须为数字，现为 {value!r}")
    if isinstance(spec, VetoItem):
        if value not in (0, 1):
            raise EvaluationError(f"一票否决项“{spec.label}”只能录入 1（成立）或 0（不成立）")
    elif not 0 <= value <= spec.points:
        raise EvaluationError(f"{spec.label}的分值须在 0 到 {spec.points:g} 分之间，现为 {value:g}")
    return spec.label, float(value)


def _inspection(con: duckdb.DuckDBPyConnection, inspection_id: int) -> dict[str, Any] | None:
    row = con.execute(
        "SELECT inspection_id, round_id, unit_id, feedback_date FROM inspections"
        " WHERE inspection_id = ?",
        [inspection_id],
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("inspection_id", "round_id", "unit_id", "feedback_date"), row, strict=True))


def _in_scope(
    store: Store, con: duckdb.DuckDBPyConnection, access: Access, inspection_id: int
) -> bool:
    """Whether the inspection is in `access`'s rounds and units on the data being written
    (read in the write's transaction, under the writer lock: the scope checked is the scope
    the version is written on). The scope's names are matched by auth.scope_ids, the one
    definition every read uses."""
    if not access.scoped:
        return True
    round_ids, unit_ids = scope_ids(Reader(store, 0, con), access)
    row = con.execute(
        "SELECT round_id, unit_id FROM inspections WHERE inspection_id = ?", [inspection_id]
    ).fetchone()
    return (
        row is not None
        and (round_ids is None or int(row[0]) in round_ids)
        and (unit_ids is None or int(row[1]) in unit_ids)
    )


def _next_id(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0] or 0) + 1 if row else 1


def _batch(
    con: duckdb.DuckDBPyConnection,
    access: Access,
    note: str,
    place: dict[str, Any],
    on: dt.date,
    now: dt.datetime,
) -> int:
    batch_id = _next_id(con, "SELECT max(batch_id) FROM import_batches")
    con.execute(
        "INSERT INTO import_batches (batch_id, kind, user_name, created_at, round_id, unit_id,"
        " inspection_id, as_of, rows_read, status, note, status_changes, deadline_changes)"
        " VALUES (?, 'evaluation', ?, ?, ?, ?, ?, ?, 1, 'applied', ?, 0, 0)",
        [
            batch_id,
            access.user,
            now,
            place["round_id"],
            place["unit_id"],
            place["inspection_id"],
            on,
            note,
        ],
    )
    return batch_id


def _publish(
    store: Store,
    access: Access,
    what: str,
    action: str,
    apply: Any,
    details: dict[str, Any],
    context: Mapping[str, Any] | None,
) -> StepOutcome:
    return publish(store, access, what, action, apply, lambda _: {**details, **dict(context or {})})


def enter(
    store: Store,
    access: Access,
    inspection_id: int,
    item: str,
    value: float,
    note: str,
    evidence: Sequence[CheckedEvidence],
    *,
    config: EvaluationConfig,
    on: dt.date | None = None,
    now: dt.datetime | None = None,
    context: Mapping[str, Any] | None = None,
) -> StepOutcome:
    """Enter one manual or veto item of one unit in one round (an inspection), with its
    basis and evidence; it awaits another person's confirmation (EvaluationError or
    PermissionDenied when refused, nothing written). `context` is added to the audit
    record (e.g. the operating-system user of a command)."""
    access.require(EVALUATE)
    label, value = _check_value(config, item, value)
    text = check_text(note, "评分依据", required=True, error=EvaluationError)
    if not evidence:
        raise EvaluationError(f"{label}须附佐证材料（至少一个文件）")
    if len(evidence) > MAX_FILES:
        raise EvaluationError(f"佐证材料不能超过 {MAX_FILES} 个")
    on, now = check_dates(on, now, EvaluationError)
    # Nothing is kept of a request out of scope (checked again, authoritatively, inside the
    # write's transaction).
    con = store.connect()
    try:
        found = _inspection(con, inspection_id) is not None and _in_scope(
            store, con, access, inspection_id
        )
    finally:
        con.close()
    if not found:
        raise EvaluationError(_NOT_FOUND.format(inspection_id))
    files = list({f.sha256: f for f in evidence}.values())
    for checked in files:
        evidence_files.put_evidence(store, checked)

    def apply(con: duckdb.DuckDBPyConnection) -> StepOutcome:
        place = _inspection(con, inspection_id)
        if place is None or not _in_scope(store, con, access, inspection_id):
            raise EvaluationError(_NOT_FOUND.format(inspection_id))
        if place["feedback_date"] is None or on < place["feedback_date"]:
            raise EvaluationError(f"录入日期 {on.isoformat()} 早于该次巡察的反馈日期")
        open_entry = con.execute(
            "SELECT e.entry_id FROM evaluation_entries e LEFT JOIN evaluation_decisions d"
            " USING (entry_id) WHERE e.inspection_id = ? AND e.item = ? AND d.entry_id IS NULL",
            [inspection_id, item],
        ).fetchone()
        if open_entry is not None:
            raise EvaluationError(
                f"该单位的“{label}”已有待确认的录入（编号 {open_entry[0]}），请先由另一人确认或退回"
            )
        batch_id = _batch(con, access, "整改成效评估录入", place, on, now)
        for checked in files:
            evidence_files.register_evidence(con, checked, user=access.user, now=now)
        entry_id = _next_id(con, "SELECT max(entry_id) FROM evaluation_entries")
        con.execute(
            "INSERT INTO evaluation_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                entry_id,
                inspection_id,
                place["round_id"],
                place["unit_id"],
                item,
                value,
                text,
                access.user,
                access.role,
                now,
                on,
                batch_id,
            ],
        )
        for position, checked in enumerate(evidence, start=1):
            con.execute(
                "INSERT INTO evaluation_entry_evidence VALUES (?, ?, ?, ?)",
                [entry_id, checked.sha256, checked.file_name, position],
            )
        outcome = StepOutcome(version=0, batch_id=batch_id)
        outcome.step_ids.append(entry_id)
        outcome.evidence.extend(f.sha256 for f in files)
        outcome.message = f"已录入“{label}”（编号 {entry_id}），待另一人确认后计入得分"
        return outcome

    return _publish(
        store,
        access,
        "整改成效评估录入",
        "evaluation_enter",
        apply,
        {"inspection_id": inspection_id, "item": item, "value": value, "on": on},
        context,
    )


def decide(
    store: Store,
    access: Access,
    entry_id: int,
    decision: str,
    *,
    reason: str | None = None,
    on: dt.date | None = None,
    now: dt.datetime | None = None,
    context: Mapping[str, Any] | None = None,
) -> StepOutcome:
    """Confirm (it counts from its decision date) or reject (with a reason; it never counts)
    another person's entry awaiting confirmation."""
    access.require(EVALUATE)
    if decision not in DECISIONS:
        raise EvaluationError(f"未知的确认操作：{decision}（可用：confirm 确认、reject 退回）")
    note = check_text(reason, "退回理由", required=decision == "reject", error=EvaluationError)
    on, now = check_dates(on, now, EvaluationError)

    def apply(con: duckdb.DuckDBPyConnection) -> StepOutcome:
        row = con.execute(
            "SELECT e.entry_id, e.inspection_id, e.round_id, e.unit_id, e.item, e.value,"
            " e.entered_by, e.entered_on, d.decision FROM evaluation_entries e"
            " LEFT JOIN evaluation_decisions d USING (entry_id) WHERE e.entry_id = ?",
            [entry_id],
        ).fetchone()
        if row is None or not _in_scope(store, con, access, int(row[1])):
            raise EvaluationError(_NO_ENTRY.format(entry_id))
        entry = dict(
            zip(
                (
                    "entry_id",
                    "inspection_id",
                    "round_id",
                    "unit_id",
                    "item",
                    "value",
                    "entered_by",
                    "entered_on",
                    "decision",
                ),
                row,
                strict=True,
            )
        )
        if entry["entered_by"] == access.user:
            raise PermissionDenied("不能确认或退回本人录入的评分，须由另一人办理")
        if entry["decision"] is not None:
            raise EvaluationError(
                f"评分录入 {entry_id} 已{DECISIONS[entry['decision']]}，不能再次办理"
            )
        if on < entry["entered_on"]:
            raise EvaluationError(
                f"日期 {on.isoformat()} 早于录入日期（{entry['entered_on'].isoformat()}）"
            )
        batch_id = _batch(con, access, f"整改成效评估{DECISIONS[decision]}", entry, on, now)
        con.execute(
            "INSERT INTO evaluation_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [entry_id, decision, note, access.user, access.role, now, on, batch_id],
        )
        outcome = StepOutcome(version=0, batch_id=batch_id)
        outcome.step_ids.append(entry_id)
        outcome.message = (
            f"评分录入 {entry_id} 已确认，计入得分"
            if decision == "confirm"
            else f"评分录入 {entry_id} 已退回，不计入得分"
        )
        return outcome

    return _publish(
        store,
        access,
        f"整改成效评估{DECISIONS[decision]}",
        f"evaluation_{decision}",
        apply,
        {"entry_id": entry_id, "reason": note, "on": on},
        context,
    )
