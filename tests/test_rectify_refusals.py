"""Steps the workflow refuses, each leaving the store as it was: a progress report while a
done claim waits (it would contradict the claim), an extension to a date already past or
years away, an extension approved after the deadline moved past it, a step dated before the
measure's latest record."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.test_rectify_ledger import DAY, LIAISON, OFFICE, _claim, _measure, first, store
from xuncha.rectify import workflow
from xuncha.store import Store

__all__ = ["first", "store"]  # the fixtures, imported to be used here


def _refused(store: Store, step: Any, match: str) -> None:
    version = store.version()
    with pytest.raises(workflow.WorkflowError, match=match):
        step()
    assert store.version() == version


def test_no_progress_report_while_a_done_claim_waits(store: Store) -> None:
    measure = _measure(store, "IN_PROGRESS", dt.date(2024, 9, 30))
    _claim(store, measure)
    report = workflow.Report(measure, "NOT_DONE", "又发现问题")
    _refused(store, lambda: workflow.report(store, LIAISON, [report], on=DAY), "审核结果出来前")


def test_an_extension_must_lie_ahead_and_within_two_years(store: Store) -> None:
    measure = _measure(store, "IN_PROGRESS", dt.date(2024, 9, 30))

    def ask(proposed: dt.date) -> Any:
        return lambda: workflow.request_extension(store, LIAISON, measure, proposed, "理由", on=DAY)

    _refused(store, ask(dt.date(2024, 7, 1)), "晚于现行时限")  # before the deadline
    far = DAY + dt.timedelta(days=workflow.MAX_EXTENSION_DAYS + 1)
    _refused(store, ask(far), "超过 2 年")
    asked = workflow.request_extension(
        store, LIAISON, measure, dt.date(2024, 12, 31), "理由", on=DAY
    )
    assert asked.submission_ids


def test_an_extension_already_past_on_the_day_asked_is_refused(store: Store) -> None:
    measure = _measure(store, "PHASED", dt.date(2024, 6, 30))  # overdue on DAY (07-10)
    _refused(
        store,
        lambda: workflow.request_extension(
            store, LIAISON, measure, dt.date(2024, 7, 5), "理由", on=DAY
        ),
        "须晚于今天",
    )


def test_an_approval_rechecks_the_date_against_the_deadline_in_force(store: Store) -> None:
    measure = _measure(store, "IN_PROGRESS", dt.date(2024, 9, 30))
    first_ask = workflow.request_extension(
        store, LIAISON, measure, dt.date(2024, 11, 30), "理由", on=DAY
    ).submission_ids[0]
    # Meanwhile the deadline moved later by another way (here a direct write standing for a
    # ledger that stated a new date).
    store.write(
        lambda con: con.execute(
            "UPDATE measures SET deadline_current = DATE '2024-12-31' WHERE measure_id = ?",
            [measure],
        )
    )
    _refused(
        store,
        lambda: workflow.decide(store, OFFICE, first_ask, "approve", on=DAY),
        "不晚于现行时限",
    )


def test_no_step_is_dated_before_the_measures_latest_record(store: Store) -> None:
    measure = _measure(store, "IN_PROGRESS", dt.date(2024, 9, 30))
    early = dt.date(2024, 6, 1)  # the first ledger's records are dated 2024-06-30
    report = workflow.Report(measure, "PHASED", "阶段性完成")
    _refused(store, lambda: workflow.report(store, LIAISON, [report], on=early), "最近一次")
