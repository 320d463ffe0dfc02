"""Online rectification (DOMAIN.md §8) walked through on a real demo store, step by step, with
every figure asked "as of" each day and checked against counts computed here, in plain
Python, from the store's base tables (measures, findings, inspections and their histories),
or known by construction (the online counts of a unit that had no online activity before).

Dates: day 0 is three days after the demo's as-of date (the store's last recorded change), so
each step is later than anything in the store and every date used is in the past of the real
today (the steps pass explicit `on=` and `now=`).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.builders import sample_pdf
from xuncha import audit, demo
from xuncha.auth.access import Access, PermissionDenied
from xuncha.figures.online import online_by_unit
from xuncha.figures.rectification import rectification
from xuncha.filters import Filters, resolve_scope
from xuncha.rectify import workflow as wf
from xuncha.rectify.evidence import CheckedEvidence, check_evidence
from xuncha.store import Store, open_reader

DAY0 = demo.DEMO_AS_OF + dt.timedelta(days=3)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def at(n: int) -> dt.datetime:
    return dt.datetime.combine(day(n), dt.time(10, 30))


def proof(name: str = "整改报告.pdf", text: str = "report") -> CheckedEvidence:
    return check_evidence(name, sample_pdf(text))


# -- stores --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rectify") / "base"
    Store(root).write(lambda con: demo.build(con, findings=300, online=False), fresh=True)
    return root


@pytest.fixture
def store(base: Path, tmp_path: Path) -> Store:
    target = tmp_path / "db"
    shutil.copytree(base, target, symlinks=True)
    return Store(target)


def test_every_date_used_is_in_the_past_and_after_the_store() -> None:
    con_dates = [day(n) for n in range(0, 14)]  # the days the tests use
    assert min(con_dates) > demo.DEMO_AS_OF
    assert max(con_dates) < dt.date.today()


# -- the base tables, read plainly ---------------------------------------------------------


@dataclass
class Base:
    """The rows the figures are computed from, as plain Python values."""

    measures: dict[int, dict[str, Any]]  # measure_id → finding_id, deadline_original, …
    findings: dict[int, dict[str, Any]]  # finding_id → unit_id, inspection_id, recorded_on
    feedback: dict[int, dt.date | None]  # inspection_id → feedback_date
    statuses: dict[int, list[tuple[dt.date, int, str]]]  # measure → (date, history_id, status)
    deadlines: dict[int, list[tuple[dt.date, int, dt.date | None]]]
    units: dict[int, tuple[str, str]]  # unit_id → (name, short_name)


def read_base(store: Store) -> Base:
    con = store.connect()
    try:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return con.execute(sql).fetchall()

        measures = {
            r[0]: {"finding_id": r[1], "deadline_original": r[2], "completed_on": r[3]}
            for r in rows(
                "SELECT measure_id, finding_id, deadline_original, completed_on FROM measures"
            )
        }
        findings = {
            r[0]: {"unit_id": r[1], "inspection_id": r[2], "recorded_on": r[3]}
            for r in rows("SELECT finding_id, unit_id, inspection_id, recorded_on FROM findings")
        }
        feedback = dict(rows("SELECT inspection_id, feedback_date FROM inspections"))
        statuses: dict[int, list[tuple[dt.date, int, str]]] = {}
        for m, status, d, h in rows(
            "SELECT measure_id, status, status_date, history_id FROM measure_status_history"
        ):
            statuses.setdefault(m, []).append((d, h, status))
        deadlines: dict[int, list[tuple[dt.date, int, dt.date | None]]] = {}
        for m, deadline, d, h in rows(
            "SELECT measure_id, deadline, effective_date, history_id FROM measure_deadline_history"
        ):
            deadlines.setdefault(m, []).append((d, h, deadline))
        units = {u: (n, s) for u, n, s in rows("SELECT unit_id, name, short_name FROM units")}
    finally:
        con.close()
    return Base(measures, findings, feedback, statuses, deadlines, units)


def status_on(base: Base, measure_id: int, t: dt.date) -> str | None:
    """The last status recorded on or before t (the later record wins on a shared date)."""
    known = [row for row in base.statuses.get(measure_id, []) if row[0] <= t]
    return max(known)[2] if known else None


def deadline_on(base: Base, measure_id: int, t: dt.date) -> dt.date | None:
    """The deadline in force on t: the last one recorded on or before t, else the original."""
    known = [row for row in base.deadlines.get(measure_id, []) if row[0] <= t]
    return max(known)[2] if known else base.measures[measure_id]["deadline_original"]


def expected_unit(base: Base, unit_id: int, t: dt.date) -> dict[str, int]:
    """A unit's rectification counts as of t, from the base rows only."""
    in_scope: dict[int, list[int]] = {}
    for fid, f in base.findings.items():
        fb = base.feedback[f["inspection_id"]]
        if f["unit_id"] != unit_id or fb is None or fb > t:
            continue
        if (f["recorded_on"] or fb) > t:
            continue
        in_scope[fid] = []
    for mid, m in base.measures.items():
        if m["finding_id"] in in_scope and status_on(base, mid, t) is not None:
            in_scope[m["finding_id"]].append(mid)
    measure_ids = [mid for mids in in_scope.values() for mid in mids]
    status = {mid: status_on(base, mid, t) for mid in measure_ids}
    done = [mid for mid in measure_ids if status[mid] == "DONE"]
    completed = [
        mid
        for mid in done
        if base.measures[mid]["completed_on"] is not None
        and base.measures[mid]["deadline_original"] is not None
    ]
    overdue = [
        mid
        for mid in measure_ids
        if status[mid] != "DONE" and (d := deadline_on(base, mid, t)) is not None and d < t
    ]
    return {
        "findings": len(in_scope),
        "findings_done": sum(
            1 for mids in in_scope.values() if mids and all(status[m] == "DONE" for m in mids)
        ),
        "measures": len(measure_ids),
        "measures_done": len(done),
        "overdue_measures": len(overdue),
        "completed_with_deadline": len(completed),
        "on_time_original": sum(
            1
            for mid in completed
            if base.measures[mid]["completed_on"] <= base.measures[mid]["deadline_original"]
        ),
    }


# -- the figures, as the product computes them ---------------------------------------------

ONLINE_KEYS = ("submitted", "pending_review", "pending_close", "returns", "decisions", "closed")


@dataclass(frozen=True)
class Seen:
    """What the product shows for one unit and one measure as of a date."""

    counts: dict[str, int]
    online: dict[str, Any]
    measure: dict[str, Any] | None  # the measure's measure_at row


def figures(store: Store, unit_id: int, measure_id: int, t: dt.date) -> Seen:
    reader = open_reader(store)
    try:
        scope = resolve_scope(reader, Filters(unit_ids=(unit_id,), as_of=t))
        row = rectification(reader, scope, "all", cycle_median=False).to_dicts()[0]
        counts = {k: int(row[k]) for k in COUNT_KEYS}
        frame = online_by_unit(reader, scope)
        online_rows = frame.filter(frame["unit_id"] == unit_id).to_dicts()
        online: dict[str, Any] = (
            {k: online_rows[0][k] for k in (*ONLINE_KEYS, "return_rate", "close_days_median")}
            if online_rows
            else {**dict.fromkeys(ONLINE_KEYS, 0), "return_rate": None, "close_days_median": None}
        )
    finally:
        reader.close()
    con = store.connect()
    try:
        cursor = con.execute(
            "SELECT * FROM measure_at(?::DATE, NULL, NULL, NULL) WHERE measure_id = ?",
            [t, measure_id],
        )
        names = [c[0] for c in cursor.description]
        found = cursor.fetchall()
    finally:
        con.close()
    assert len(found) <= 1
    measure_row: dict[str, Any] | None = dict(zip(names, found[0], strict=True)) if found else None
    if measure_row is not None:
        # When the interval valid on t ends is known only later: not part of the answer.
        del measure_row["valid_to"]
    return Seen(counts, online, measure_row)


COUNT_KEYS = (
    "findings",
    "findings_done",
    "measures",
    "measures_done",
    "overdue_measures",
    "completed_with_deadline",
    "on_time_original",
)


# -- picking measures and accounts ---------------------------------------------------------


def pick(store: Store, where: str, *, not_units: tuple[int, ...] = ()) -> dict[str, Any]:
    """The first open measure (by id) matching `where`, with its unit's names."""
    con = store.connect()
    try:
        cursor = con.execute(
            "SELECT m.measure_id, m.finding_id, f.unit_id, u.name AS unit_name,"
            " u.short_name AS unit_short, m.status, m.deadline_original, m.deadline_current,"
            " i.feedback_date"
            " FROM measures m JOIN findings f USING (finding_id)"
            " JOIN inspections i ON i.inspection_id = f.inspection_id"
            " JOIN units u ON u.unit_id = f.unit_id"
            f" WHERE m.status NOT IN ('DONE', 'LONG_TERM') AND ({where})"
            f" AND f.unit_id NOT IN (SELECT unnest(?::INTEGER[]))"
            " ORDER BY m.measure_id LIMIT 1",
            [list(not_units)],
        )
        names = [c[0] for c in cursor.description]
        row = cursor.fetchone()
    finally:
        con.close()
    assert row is not None, where
    return dict(zip(names, row, strict=True))


def liaison(unit_name: str, user: str = "联络员甲") -> Access:
    return Access.for_role(user, "liaison", units=[unit_name])


def reviewer(unit_name: str, user: str = "巡察组乙") -> Access:
    return Access.for_role(user, "group", units=[unit_name])


OFFICE = Access.for_role("巡察办丙", "office")


class Steps:
    """Takes steps on a store and checks that each writes one version and one audit record."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, step: Callable[[], wf.StepOutcome], action: str) -> wf.StepOutcome:
        version, records = self.store.version(), len(audit.entries(self.store.root))
        outcome = step()
        assert self.store.version() == version + 1 == outcome.version
        entries = audit.entries(self.store.root)
        assert len(entries) == records + 1
        assert entries[-1].action == action
        assert entries[-1].details["data_version"] == outcome.version
        assert entries[-1].details["step_ids"] == outcome.step_ids
        assert audit.verify(self.store.root) == []
        return outcome

    def refused(self, step: Callable[[], object], error: type[Exception] = wf.WorkflowError) -> str:
        """The step is refused and writes nothing: no version, no audit record, no row."""
        version, records = self.store.version(), len(audit.entries(self.store.root))
        rows = self.rows()
        with pytest.raises(error) as caught:
            step()
        assert self.store.version() == version
        assert len(audit.entries(self.store.root)) == records
        assert self.rows() == rows
        return str(caught.value)

    def rows(self) -> tuple[int, ...]:
        con = self.store.connect()
        try:
            return tuple(
                con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                for t in (
                    "rectify_submissions",
                    "rectify_steps",
                    "measure_status_history",
                    "measure_deadline_history",
                    "import_batches",
                )
            )
        finally:
            con.close()

    def step_rows(self, measure_id: int) -> list[dict[str, Any]]:
        con = self.store.connect()
        try:
            cursor = con.execute(
                "SELECT * FROM rectify_steps WHERE measure_id = ? ORDER BY step_id", [measure_id]
            )
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        finally:
            con.close()


# -- the walk ------------------------------------------------------------------------------


def online_expected(n: int) -> dict[str, Any]:
    """The unit's online counts as of day n, known by construction of the walk below:
    day 1 submit, day 3 return, day 5 submit again, day 8 pass, day 12 close."""
    if n < 1:
        return {**dict.fromkeys(ONLINE_KEYS, 0), "return_rate": None, "close_days_median": None}
    submitted = 1 if n < 5 else 2
    returns = 1 if n >= 3 else 0
    passes = 1 if n >= 8 else 0
    decisions = returns + passes
    return {
        "submitted": submitted,
        "pending_review": 1 if n in (1, 2, 5, 6, 7) else 0,
        "pending_close": 1 if 8 <= n < 12 else 0,
        "returns": returns,
        "decisions": decisions,
        "closed": 1 if n >= 12 else 0,
        "return_rate": round(100 * returns / decisions, 2) if decisions else None,
        "close_days_median": 7.0 if n >= 12 else None,  # submitted day 5, closed day 12
    }


def test_a_measure_walked_from_report_to_close_with_figures_as_of_every_day(
    store: Store,
) -> None:
    m = pick(
        store,
        f"m.deadline_kind = 'DATE' AND m.deadline_original > DATE '{day(20)}'"
        " AND m.deadline_current = m.deadline_original",
    )
    other = pick(store, "TRUE", not_units=(m["unit_id"],))
    mid, unit = m["measure_id"], m["unit_id"]
    assert m["feedback_date"] < day(0)
    unit_a, unit_b = liaison(m["unit_name"]), liaison(other["unit_name"], "联络员丁")
    group = reviewer(m["unit_name"])
    steps = Steps(store)
    first, second = proof("整改报告.pdf", "first"), proof("整改报告（补充）.pdf", "second")
    seen: dict[int, Seen] = {}

    def look(n: int) -> None:
        """The figures as of day n, now, against the base tables and the walk."""
        got = figures(store, unit, mid, day(n))
        base = read_base(store)
        assert got.counts == expected_unit(base, unit, day(n)), n
        assert got.online == online_expected(n), n
        assert got.measure is not None
        assert got.measure["status"] == status_on(base, mid, day(n)), n
        if n < 12:
            assert got.measure["status"] == m["status"] and got.measure["completed_on"] is None
        seen[n] = got

    look(0)
    # Day 1: the liaison reports DONE with evidence; it waits for review (待审核).
    claim = steps(
        lambda: wf.report(
            store,
            unit_a,
            [wf.Report(mid, "DONE", "已完成整改", completed_on=day(0), evidence=(first,))],
            on=day(1),
            now=at(1),
        ),
        "rectify_report",
    )
    record = audit.entries(store.root)[-1]
    assert record.details["evidence_sha256"] == [first.sha256]
    assert record.details["measure_ids"] == [mid]
    stored = store.root / "evidence" / first.sha256[:2] / first.sha256
    assert stored.read_bytes() == first.data
    # The other unit's liaison cannot see it, let alone report on it.
    message = steps.refused(
        lambda: wf.report(
            store,
            unit_b,
            [wf.Report(mid, "IN_PROGRESS", "试图填报")],
            on=day(1),
            now=at(1),
        )
    )
    assert str(mid) in message
    for name in (m["unit_name"], m["unit_short"]):
        assert name not in message
    # A second done claim while one is pending is refused.
    steps.refused(
        lambda: wf.report(
            store,
            unit_a,
            [wf.Report(mid, "DONE", "再报", completed_on=day(1), evidence=(second,))],
            on=day(1),
            now=at(1),
        )
    )
    look(1)
    look(2)
    # Day 3: the reviewer returns it with a reason.
    steps.refused(
        lambda: wf.decide(store, group, claim.submission_ids[0], "return", on=day(3), now=at(3))
    )
    steps(
        lambda: wf.decide(
            store,
            group,
            claim.submission_ids[0],
            "return",
            reason="佐证材料不足",
            on=day(3),
            now=at(3),
        ),
        "rectify_return",
    )
    look(3)
    look(4)
    # Day 5: reported again, with more evidence.
    again = steps(
        lambda: wf.report(
            store,
            unit_a,
            [wf.Report(mid, "DONE", "补充整改", completed_on=day(4), evidence=(first, second))],
            on=day(5),
            now=at(5),
        ),
        "rectify_report",
    )
    assert audit.entries(store.root)[-1].details["evidence_sha256"] == sorted(
        [first.sha256, second.sha256]
    )
    for n in (5, 6, 7):
        look(n)
    # Day 8: the reviewer passes it; day 12: the office closes it.
    steps(
        lambda: wf.decide(store, group, again.submission_ids[0], "pass", on=day(8), now=at(8)),
        "rectify_pass",
    )
    for n in (8, 9, 10, 11):
        look(n)
    closed = steps(
        lambda: wf.decide(store, OFFICE, again.submission_ids[0], "close", on=day(12), now=at(12)),
        "rectify_close",
    )
    assert closed.measure_ids == [mid]
    look(12)
    look(13)

    final = seen[12].measure
    assert final is not None
    assert final["status"] == "DONE" and final["valid_from"] == day(12)
    assert final["completed_on"] == day(4)  # the date the unit reported, not the 销号 day
    assert final["on_time_original"] is (day(4) <= m["deadline_original"])
    # The history of steps, each dated, with the actor and the evidence of the close.
    history = [
        (r["step"], r["state"], r["actor"], r["step_date"], r["evidence"])
        for r in steps.step_rows(mid)
    ]
    assert history == [
        ("submit", "pending_review", unit_a.user, day(1), [first.sha256]),
        ("return", "returned", group.user, day(3), []),
        ("submit", "pending_review", unit_a.user, day(5), [first.sha256, second.sha256]),
        ("pass", "pending_close", group.user, day(8), []),
        ("close", "closed", OFFICE.user, day(12), [first.sha256, second.sha256]),
    ]
    # Asked again after day 12, every earlier day gives the answer it gave then.
    for n, then in seen.items():
        assert figures(store, unit, mid, day(n)) == then, n
    # Nothing to do any more on a closed measure.
    steps.refused(
        lambda: wf.report(
            store,
            unit_a,
            [wf.Report(mid, "IN_PROGRESS", "再次填报")],
            on=day(13),
            now=at(13),
        )
    )


# -- two-person rule and crafted requests ---------------------------------------------------


@pytest.fixture
def claim(store: Store) -> Iterator[tuple[Store, dict[str, Any], int]]:
    """A done claim of one unit awaiting review, submitted by the account "same"."""
    m = pick(store, "m.deadline_kind = 'DATE'")
    outcome = wf.report(
        store,
        liaison(m["unit_name"], "same"),
        [wf.Report(m["measure_id"], "DONE", "已整改", completed_on=day(0), evidence=(proof(),))],
        on=day(1),
        now=at(1),
    )
    yield store, m, outcome.submission_ids[0]


def test_no_one_decides_their_own_claim_and_the_reviewer_does_not_close_it(
    claim: tuple[Store, dict[str, Any], int],
) -> None:
    store, m, sid = claim
    steps = Steps(store)
    unit = m["unit_name"]
    # The liaison has no review or approval right at all.
    for action in ("pass", "close", "return"):
        steps.refused(
            lambda a=action: wf.decide(  # type: ignore[misc]
                store, liaison(unit, "same"), sid, a, reason="自己审", on=day(2), now=at(2)
            ),
            PermissionDenied,
        )
    # The same account name under a reviewer's or the office's role: still the submitter.
    for role, action in (("group", "pass"), ("group", "return"), ("office", "return")):
        message = steps.refused(
            lambda r=role, a=action: wf.decide(  # type: ignore[misc]
                store,
                Access.for_role("same", r, units=[unit] if r == "group" else None),
                sid,
                a,
                reason="理由",
                on=day(2),
                now=at(2),
            ),
            PermissionDenied,
        )
        assert "本人提交" in message
    # Passed by "checker"; "checker" as the office may not close what it passed.
    steps(
        lambda: wf.decide(store, reviewer(unit, "checker"), sid, "pass", on=day(2), now=at(2)),
        "rectify_pass",
    )
    message = steps.refused(
        lambda: wf.decide(
            store, Access.for_role("checker", "office"), sid, "close", on=day(3), now=at(3)
        ),
        PermissionDenied,
    )
    assert "审核人" in message
    steps.refused(
        lambda: wf.decide(
            store, Access.for_role("same", "office"), sid, "close", on=day(3), now=at(3)
        ),
        PermissionDenied,
    )
    # A reviewer cannot close; the office can, on a date not before the pass.
    steps.refused(
        lambda: wf.decide(store, reviewer(unit), sid, "close", on=day(3), now=at(3)),
        PermissionDenied,
    )
    steps.refused(lambda: wf.decide(store, OFFICE, sid, "close", on=day(1), now=at(1)))
    steps(lambda: wf.decide(store, OFFICE, sid, "close", on=day(3), now=at(3)), "rectify_close")


def test_crafted_requests_of_another_unit_are_refused_without_naming_it(
    claim: tuple[Store, dict[str, Any], int],
) -> None:
    store, m, sid = claim
    steps = Steps(store)
    other = pick(store, "TRUE", not_units=(m["unit_id"],))
    hidden = (m["unit_name"], m["unit_short"])
    # A reviewer of another unit deciding this unit's claim: told the same as for no claim.
    outsider = reviewer(other["unit_name"], "外单位审核人")
    for action in ("pass", "return"):
        message = steps.refused(
            lambda a=action: wf.decide(  # type: ignore[misc]
                store, outsider, sid, a, reason="越权", on=day(2), now=at(2)
            )
        )
        missing = steps.refused(
            lambda a=action: wf.decide(  # type: ignore[misc]
                store, outsider, 999_999, a, reason="越权", on=day(2), now=at(2)
            )
        )
        assert message == missing.replace("999999", str(sid))
        assert not any(name in message for name in hidden)
    # A liaison of the other unit reporting on, or asking an extension for, this unit's measure.
    intruder = liaison(other["unit_name"], "外单位联络员")
    attempts: list[Callable[[], object]] = [
        lambda: wf.report(
            store,
            intruder,
            [wf.Report(m["measure_id"], "PHASED", "越权填报")],
            on=day(2),
            now=at(2),
        ),
        lambda: wf.report(
            store,
            intruder,
            [wf.Report(m["measure_id"], "DONE", "越权", completed_on=day(1), evidence=(proof(),))],
            on=day(2),
            now=at(2),
        ),
        lambda: wf.request_extension(
            store, intruder, m["measure_id"], day(90), "越权延期", on=day(2), now=at(2)
        ),
    ]
    for attempt in attempts:
        message = steps.refused(attempt)
        assert str(m["measure_id"]) in message
        assert not any(name in message for name in hidden), message
    assert [r["step"] for r in steps.step_rows(m["measure_id"])] == ["submit"]


# -- extensions ----------------------------------------------------------------------------


def test_an_approved_extension_moves_the_current_deadline_from_its_approval_day(
    store: Store, base: Path
) -> None:
    m = pick(
        store,
        f"m.deadline_kind = 'DATE' AND m.deadline_original BETWEEN DATE '{day(3)}'"
        f" AND DATE '{day(10)}' AND m.deadline_current = m.deadline_original",
    )
    mid, unit, original = m["measure_id"], m["unit_id"], m["deadline_original"]
    new = original + dt.timedelta(days=60)
    unit_a, steps = liaison(m["unit_name"]), Steps(store)
    assert "理由" in steps.refused(
        lambda: wf.request_extension(store, unit_a, mid, new, "  ", on=day(0), now=at(0))
    )
    steps.refused(
        lambda: wf.request_extension(store, unit_a, mid, original, "太早", on=day(0), now=at(0))
    )
    asked = steps(
        lambda: wf.request_extension(store, unit_a, mid, new, "工程未完工", on=day(0), now=at(0)),
        "rectify_request",
    )
    sid = asked.submission_ids[0]
    assert "待审批" in steps.refused(
        lambda: wf.request_extension(
            store, unit_a, mid, new + dt.timedelta(days=1), "再申请", on=day(0), now=at(0)
        )
    )
    # The reviewer cannot approve; rejecting needs a reason.
    steps.refused(
        lambda: wf.decide(store, reviewer(m["unit_name"]), sid, "approve", on=day(1), now=at(1)),
        PermissionDenied,
    )
    assert "理由" in steps.refused(
        lambda: wf.decide(store, OFFICE, sid, "reject", on=day(1), now=at(1))
    )
    # Not yet approved: the deadline is the original one.
    assert figures(store, unit, mid, day(1)).measure["deadline"] == original  # type: ignore[index]
    steps(lambda: wf.decide(store, OFFICE, sid, "approve", on=day(2), now=at(2)), "rectify_approve")
    steps.refused(lambda: wf.decide(store, OFFICE, sid, "approve", on=day(2), now=at(2)))
    base_rows = read_base(store)
    assert [(d, dl) for d, _, dl in base_rows.deadlines[mid] if d > demo.DEMO_AS_OF] == [
        (day(2), new)
    ]
    before = Store(base)
    late = original + dt.timedelta(days=2)  # overdue by the original deadline, not by the new
    for t in (day(1), day(2), late):
        seen = figures(store, unit, mid, t)
        assert seen.measure is not None
        assert seen.measure["deadline"] == (original if t < day(2) else new), t
        assert seen.measure["deadline_original"] == original
        assert seen.counts == expected_unit(base_rows, unit, t), t
    # Against the same store without the extension, one measure fewer is overdue.
    without = figures(before, unit, mid, late)
    with_ext = figures(store, unit, mid, late)
    assert without.counts["overdue_measures"] == with_ext.counts["overdue_measures"] + 1
    # Completed after the original deadline, within the new one: late by the on-time rate.
    done_on = original + dt.timedelta(days=1)
    claim = wf.report(
        store,
        unit_a,
        [wf.Report(mid, "DONE", "已完成", completed_on=done_on, evidence=(proof(),))],
        on=late,
        now=dt.datetime.combine(late, dt.time(9)),
    )
    wf.decide(
        store,
        reviewer(m["unit_name"]),
        claim.submission_ids[0],
        "pass",
        on=late,
        now=dt.datetime.combine(late, dt.time(11)),
    )
    closed_on = late + dt.timedelta(days=1)
    wf.decide(
        store,
        OFFICE,
        claim.submission_ids[0],
        "close",
        on=closed_on,
        now=dt.datetime.combine(closed_on, dt.time(9)),
    )
    seen = figures(store, unit, mid, closed_on)
    assert seen.measure is not None and seen.measure["status"] == "DONE"
    assert seen.measure["on_time_original"] is False
    assert seen.measure["on_time_current"] is True
    assert seen.counts == expected_unit(read_base(store), unit, closed_on)
    # An extension cannot be asked for a closed measure.
    steps.refused(
        lambda: wf.request_extension(
            store, unit_a, mid, new + dt.timedelta(days=9), "再延", on=closed_on, now=at(13)
        )
    )


def test_a_rejected_extension_changes_nothing_and_a_new_one_may_be_asked(store: Store) -> None:
    m = pick(store, "m.deadline_kind = 'DATE' AND m.deadline_current IS NOT NULL")
    mid = m["measure_id"]
    unit_a, steps = liaison(m["unit_name"]), Steps(store)
    # after the current deadline and after the days of the requests (a date already passed is
    # no extension)
    later = max(m["deadline_current"], day(2)) + dt.timedelta(days=30)
    deadlines_before = read_base(store).deadlines.get(mid, [])
    asked = steps(
        lambda: wf.request_extension(store, unit_a, mid, later, "人手不足", on=day(0), now=at(0)),
        "rectify_request",
    )
    steps(
        lambda: wf.decide(
            store,
            OFFICE,
            asked.submission_ids[0],
            "reject",
            reason="理由不充分",
            on=day(1),
            now=at(1),
        ),
        "rectify_reject",
    )
    assert read_base(store).deadlines.get(mid, []) == deadlines_before
    assert [(r["step"], r["state"]) for r in steps.step_rows(mid)] == [
        ("request", "extension_pending"),
        ("reject", "extension_rejected"),
    ]
    steps(
        lambda: wf.request_extension(store, unit_a, mid, later, "补充理由", on=day(2), now=at(2)),
        "rectify_request",
    )


# -- batches and progress ------------------------------------------------------------------


def test_a_batch_with_one_bad_report_writes_nothing_and_names_the_bad_measure(
    store: Store,
) -> None:
    first = pick(
        store,
        "f.unit_id IN (SELECT f2.unit_id FROM measures m2 JOIN findings f2 USING (finding_id)"
        " WHERE m2.status NOT IN ('DONE', 'LONG_TERM') GROUP BY ALL HAVING count(*) >= 3)",
    )
    con = store.connect()
    try:
        ids = [
            r[0]
            for r in con.execute(
                "SELECT m.measure_id FROM measures m JOIN findings f USING (finding_id)"
                " WHERE f.unit_id = ? AND m.status NOT IN ('DONE', 'LONG_TERM')"
                " ORDER BY m.measure_id",
                [first["unit_id"]],
            ).fetchall()
        ]
    finally:
        con.close()
    a, b, c = ids[:3]
    early = pick(store, f"m.measure_id = {b}")["feedback_date"] - dt.timedelta(days=1)
    unit_a, steps = liaison(first["unit_name"]), Steps(store)
    good = [
        wf.Report(a, "PHASED", "阶段性完成"),
        wf.Report(c, "DONE", "已完成", completed_on=day(0), evidence=(proof(),)),
    ]
    for bad in (
        wf.Report(b, "DONE", "无佐证", completed_on=day(0)),  # no evidence
        wf.Report(b, "DONE", "晚于填报", completed_on=day(3), evidence=(proof(),)),
        wf.Report(b, "FINISHED", "未知状态"),
        wf.Report(b, "IN_PROGRESS", " "),  # no progress text
        wf.Report(b, "IN_PROGRESS", "长" * (wf.MAX_TEXT + 1)),
        wf.Report(b, "DONE", "早于反馈", completed_on=early, evidence=(proof(),)),
    ):
        message = steps.refused(
            lambda bad=bad: wf.report(  # type: ignore[misc]
                store, unit_a, [good[0], bad, good[1]], on=day(1), now=at(1)
            )
        )
        assert f"措施 {b}" in message or str(b) in message, message
        assert str(a) not in message.replace(str(b), "") and str(c) not in message.replace(
            str(b), ""
        ), message
    # The same batch without the bad row goes through whole: two submissions, one version.
    outcome = steps(lambda: wf.report(store, unit_a, good, on=day(1), now=at(1)), "rectify_report")
    assert outcome.measure_ids == [a, c] and len(outcome.submission_ids) == 2


def test_a_progress_report_takes_effect_from_its_date_and_a_pending_claim_is_not_done(
    store: Store,
) -> None:
    m = pick(store, "m.status IN ('NOT_DONE', 'IN_PROGRESS')")
    mid, unit = m["measure_id"], m["unit_id"]
    new_status = "PHASED"
    unit_a, steps = liaison(m["unit_name"]), Steps(store)
    before = figures(store, unit, mid, day(2))
    steps(
        lambda: wf.report(
            store, unit_a, [wf.Report(mid, new_status, "阶段性完成")], on=day(2), now=at(2)
        ),
        "rectify_report",
    )
    base = read_base(store)
    assert max(base.statuses[mid])[0::2] == (day(2), new_status)
    for t, status in ((day(1), m["status"]), (day(2), new_status), (day(5), new_status)):
        seen = figures(store, unit, mid, t)
        assert seen.measure is not None and seen.measure["status"] == status, t
        assert seen.counts == expected_unit(base, unit, t), t
    assert figures(store, unit, mid, day(1)) == figures(Store(store.root), unit, mid, day(1))
    # A progress report with the status it already has records the step, not a status change.
    history = len(base.statuses[mid])
    steps(
        lambda: wf.report(
            store, unit_a, [wf.Report(mid, new_status, "继续推进")], on=day(3), now=at(3)
        ),
        "rectify_report",
    )
    assert len(read_base(store).statuses[mid]) == history
    # Submitted as done: 待审核, not done, in any figure.
    steps(
        lambda: wf.report(
            store,
            unit_a,
            [wf.Report(mid, "DONE", "已完成", completed_on=day(4), evidence=(proof(),))],
            on=day(4),
            now=at(4),
        ),
        "rectify_report",
    )
    seen = figures(store, unit, mid, day(4))
    assert seen.measure is not None and seen.measure["status"] == new_status
    assert seen.online["pending_review"] == 1
    assert seen.counts == expected_unit(read_base(store), unit, day(4))
    assert seen.counts["measures_done"] == before.counts["measures_done"]
