"""The steps of online rectification killed with SIGKILL (as a power cut or `kill -9` would) at
every crash point of a write, and the report also between storing its evidence files and
writing the version that names them (rectify.evidence_stored).

After each kill the store is exactly as before the step or exactly as after it (every table's
content compared, timestamps of when something was written left out: tests/test_faults.py
`fingerprint`), taking the step again gives exactly the state an uninterrupted step gives, and
the next step goes through. Each step runs in a process of its own with fixed dates (`on=`,
`now=`), so that the step taken again is the same step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests import killing
from tests.test_faults import Fingerprint, _after_kill, _leftovers, fingerprint
from xuncha import audit, demo
from xuncha.store import Store, faults

# One worker runs the module: its stores (built once per module) are not built again on the
# other (26 s and more each).
pytestmark = pytest.mark.xdist_group("rectify_faults")

# The steps, as one piece of code run both here (the reference states) and in the killed
# process: run(db, step, params) takes one step of the workflow with fixed dates.
STEP_CODE = r"""
import datetime as dt
from xuncha.auth.access import Access
from xuncha.rectify import workflow as wf
from xuncha.rectify.evidence import check_evidence
from tests.builders import sample_pdf
from xuncha.store import Store

DAY0 = dt.date.fromisoformat("{day0}")


def run(db, step, params):
    store = Store(db)
    n = params["day"]
    on = DAY0 + dt.timedelta(days=n)
    now = dt.datetime.combine(on, dt.time(10, 30))
    unit = params["unit"]
    if step == "report":
        files = tuple(
            check_evidence(name, sample_pdf(name))
            for name in ("整改报告.pdf", "会议记录.pdf")
        )
        report = wf.Report(
            params["measure_id"], "DONE", "已完成整改", completed_on=on, evidence=files
        )
        liaison = Access.for_role("联络员甲", "liaison", units=[unit])
        wf.report(store, liaison, [report], on=on, now=now)
    elif step == "request":
        liaison = Access.for_role("联络员甲", "liaison", units=[unit])
        proposed = dt.date.fromisoformat(params["proposed"])
        wf.request_extension(
            store, liaison, params["measure_id"], proposed, "工程未完工", on=on, now=now
        )
    elif step in ("pass", "return"):
        group = Access.for_role("巡察组乙", "group", units=[unit])
        reason = "请补充材料" if step == "return" else None
        wf.decide(store, group, params["submission_id"], step, reason=reason, on=on, now=now)
    else:
        office = Access.for_role("巡察办丙", "office")
        wf.decide(store, office, params["submission_id"], step, on=on, now=now)
""".replace("{day0}", (demo.DEMO_AS_OF + dt.timedelta(days=3)).isoformat())
_DAY0 = demo.DEMO_AS_OF + dt.timedelta(days=3)  # the steps' day 0, as in STEP_CODE


SCRIPT = STEP_CODE + "\nimport json, sys\nrun(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))"


def _step_here(db: Path, step: str, params: dict[str, Any]) -> None:
    namespace: dict[str, Any] = {}
    exec(STEP_CODE, namespace)  # the same code the killed process runs
    namespace["run"](str(db), step, params)


def _step_killed(db: Path, step: str, params: dict[str, Any], at: str) -> None:
    killing.killed(SCRIPT, str(db), step, json.dumps(params), at=at)


class Case:
    """The demo store and each state of one measure's claim and extension, with their
    fingerprints, all reached by uninterrupted steps."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        base = folder / "base"
        Store(base).write(lambda con: demo.build(con, findings=300), fresh=True)
        con = Store(base).connect()
        try:
            # Two open measures of one unit: the steps' and the next write's.
            rows = con.execute(
                "SELECT m.measure_id, u.name, m.deadline_current FROM measures m"
                " JOIN findings f USING (finding_id) JOIN units u ON u.unit_id = f.unit_id"
                " WHERE m.status NOT IN ('DONE', 'LONG_TERM') AND m.deadline_kind = 'DATE'"
                "   AND m.deadline_current IS NOT NULL"
                " ORDER BY count(*) OVER (PARTITION BY f.unit_id) < 2, f.unit_id, m.measure_id"
                " LIMIT 2"
            ).fetchall()
        finally:
            con.close()
        (measure_id, unit, deadline), (other, other_unit, other_deadline) = rows
        assert other_unit == unit
        common = {"measure_id": measure_id, "unit": unit}
        self.roots: dict[str, Path] = {"base": base}
        # state → (the state it starts from, the step, its parameters)
        self.steps: dict[str, tuple[str, str, dict[str, Any]]] = {}

        def take(name: str, start: str, step: str, **params: Any) -> None:
            root = shutil.copytree(self.roots[start], folder / name, symlinks=True)
            self.steps[name] = (start, step, {**common, **params})
            _step_here(root, step, self.steps[name][2])
            self.roots[name] = root

        take("submitted", "base", "report", day=1)
        claim = self.last_submission(self.roots["submitted"])
        take("passed", "submitted", "pass", day=2, submission_id=claim)
        take("returned", "submitted", "return", day=2, submission_id=claim)
        take("closed", "passed", "close", day=3, submission_id=claim)
        # Extensions lie ahead of the day they are asked for (and of the deadline).
        soon = _DAY0 + dt.timedelta(days=5)
        proposed = (max(deadline, soon) + dt.timedelta(days=60)).isoformat()
        take("requested", "base", "request", day=1, proposed=proposed)
        asked = self.last_submission(self.roots["requested"])
        take("approved", "requested", "approve", day=2, submission_id=asked)
        # The next write after each step: an extension asked for the other measure.
        self.next_params = {
            **common,
            "measure_id": other,
            "day": 4,
            "proposed": (max(other_deadline, soon) + dt.timedelta(days=30)).isoformat(),
        }
        for state in list(self.steps):
            take(f"{state}+next", state, "request", **self.next_params)
        self.ref: dict[str, Fingerprint] = {k: fingerprint(v) for k, v in self.roots.items()}
        # Every step changed the store.
        assert len({json.dumps(v, sort_keys=True) for v in self.ref.values()}) == len(self.ref)

    @staticmethod
    def last_submission(root: Path) -> int:
        con = Store(root).connect()
        try:
            found = con.execute("SELECT max(submission_id) FROM rectify_submissions").fetchone()
        finally:
            con.close()
        assert found is not None and found[0] is not None
        return int(found[0])


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return Case(tmp_path_factory.mktemp("rectify-faults"))


def _kill_and_redo(case: Case, tmp_path: Path, state: str, point: str) -> Path:
    """Take the step that leads to `state` killed at `point`; check before-or-after and redo."""
    start, step, params = case.steps[state]
    db = shutil.copytree(case.roots[start], tmp_path / "db", symlinks=True)
    _step_killed(db, step, params, point)
    _after_kill(db, case.ref[start], case.ref[state], lambda: _step_here(db, step, params))
    assert audit.verify(db) == []
    # The next write goes through, removes what the killed step left, and gives what it gives
    # after an uninterrupted step.
    _step_here(db, "request", case.next_params)
    assert fingerprint(db) == case.ref[f"{state}+next"] and not _leftovers(db)
    assert audit.verify(db) == []
    return db


REPORT_POINTS = (*faults.WRITE_POINTS, *faults.RECTIFY_POINTS)


@pytest.mark.parametrize("point", REPORT_POINTS)
def test_a_done_report_killed_at_any_step_leaves_the_store_before_or_after(
    case: Case, tmp_path: Path, point: str
) -> None:
    db = _kill_and_redo(case, tmp_path, "submitted", point)
    # The evidence the version names is in the store, whole.
    con = Store(db).connect()
    try:
        hashes = [
            r[0]
            for r in con.execute(
                "SELECT sha256 FROM submission_evidence WHERE submission_id IN"
                " (SELECT submission_id FROM rectify_submissions WHERE submitted_by = ?)",
                ["联络员甲"],
            ).fetchall()
        ]
    finally:
        con.close()
    assert len(hashes) == 2
    for sha in hashes:
        path = db / "evidence" / sha[:2] / sha
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha


# Pass and close at four points of the write (before COMMIT, after COMMIT before CHECKPOINT,
# renamed but not pointed to, pointed to); return and approve at the two that end before or
# after, to keep the suite's run time down (each kill is a process of its own).
FOUR = ("write.applied", "write.committed", "write.renamed", "write.pointed")
TWO = ("write.applied", "write.pointed")
DECISIONS = [
    *(("passed", p) for p in FOUR),
    *(("closed", p) for p in FOUR),
    *(("returned", p) for p in TWO),
    *(("approved", p) for p in TWO),
]


@pytest.mark.parametrize(("state", "point"), DECISIONS)
def test_a_decision_killed_midway_leaves_the_store_before_or_after(
    case: Case, tmp_path: Path, state: str, point: str
) -> None:
    _kill_and_redo(case, tmp_path, state, point)


def test_the_kills_are_the_points_own(case: Case, tmp_path: Path) -> None:
    # Without a crash point set the step completes in its process: the kills above are real.
    start, step, params = case.steps["submitted"]
    db = shutil.copytree(case.roots[start], tmp_path / "db", symlinks=True)
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    exit_code, output = killing.run(SCRIPT, str(db), step, json.dumps(params), env=env)
    assert exit_code == 0, output
    assert fingerprint(db) == case.ref["submitted"]
