"""The progress curve (整改进度曲线) over each round's complete cohort: a round whose inspections
were fed back on different days is drawn only up to the day its last-fed-back findings have
reached, so its denominator is the whole round on every point and the curve falls only where a
finding really left DONE. Every count is checked against one worked out here from the histories
the store was built with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.builders import StoreBuilder
from tests.test_figures_independent import half_up_rate
from xuncha import charts, figures
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store import Reader, open_reader

FB_A = dt.date(2024, 1, 10)  # 单位甲, fed back first
FB_B = dt.date(2024, 3, 10)  # 单位乙, fed back last
AS_OF = dt.date(2024, 12, 31)
LAST_DAY = (AS_OF - FB_B).days  # 296: the day 单位乙's findings have reached
BASIC = frozenset({"DONE", "PHASED", "LONG_TERM"})


def on(feedback: dt.date, day: int) -> dt.date:
    return feedback + dt.timedelta(days=day)


@dataclass
class Round:
    """What the store was built with: each finding's round, 反馈日期, L2 category and its
    measures' status histories, to count by hand."""

    builder: StoreBuilder = field(default_factory=StoreBuilder)
    findings: list[tuple[int, dt.date, str, list[list[tuple[dt.date, str]]]]] = field(
        default_factory=list
    )

    def add(self, inspection: int, feedback: dt.date, l2: str, *histories: list[Any]) -> None:
        finding = self.builder.finding(inspection, l2)
        for history in histories:
            self.builder.measure(finding, deadline=dt.date(2025, 6, 30), history=history)
        round_id = self.builder.inspections[inspection - 1][1]
        self.findings.append((round_id, feedback, l2, list(histories)))

    def counts(self, day: int, l2: str | None = None, round_id: int = 1) -> tuple[int, int, int]:
        """(findings, DONE, BASICALLY_DONE) of the round's findings fed back by AS_OF, each on
        its 反馈日期 + day: the whole round, whatever the day."""
        total = done = basic = 0
        for in_round, feedback, category, histories in self.findings:
            if in_round != round_id or feedback > AS_OF or (l2 is not None and category != l2):
                continue
            total += 1
            statuses = [
                [s for d, s in history if d <= on(feedback, day)][-1] for history in histories
            ]
            if all(s == "DONE" for s in statuses):
                done += 1
            elif all(s in BASIC for s in statuses):
                basic += 1
        return total, done, basic

    def observed(self, day: int) -> tuple[int, int]:
        """(findings, DONE) among only the findings fed back at least `day` days before AS_OF:
        the shrinking cohort the curve used to draw."""
        total = done = 0
        for _, feedback, _, histories in self.findings:
            if on(feedback, day) > AS_OF:
                continue
            total += 1
            statuses = [
                [s for d, s in history if d <= on(feedback, day)][-1] for history in histories
            ]
            done += all(s == "DONE" for s in statuses)
        return total, done


def progress(feedback: dt.date, *steps: tuple[int, str]) -> list[tuple[dt.date, str]]:
    """IN_PROGRESS from the 反馈日期, then each (day, status)."""
    return [(feedback, "IN_PROGRESS"), *((on(feedback, d), s) for d, s in steps)]


def build_round(*, reopened: bool = False) -> Round:
    """One round. 单位甲 (fed back 2024-01-10) is slow: of its four findings one is DONE on
    day 30, one on day 200, two never. 单位乙 (fed back 2024-03-10) is quick: its four are DONE
    on days 10, 20, 30 and 40 — or, when `reopened`, the one DONE on day 40 goes back to
    IN_PROGRESS on day 150 (a 回头看 finds it not done). 单位甲 has a fifth finding, C03, one
    measure DONE on day 60 and one PHASED from day 90 (基本完成 from day 90). 单位丙 is fed back
    after the as-of date and 单位丁 has no finding: neither shortens the curve."""
    r = Round()
    b = r.builder
    rid = b.round("第一轮", seq=1)
    a = b.inspection(rid, b.unit("单位甲"), feedback=FB_A)
    for steps in ([(30, "DONE")], [(200, "DONE")], [], []):
        r.add(a, FB_A, "B03", progress(FB_A, *steps))
    r.add(a, FB_A, "C03", progress(FB_A, (60, "DONE")), progress(FB_A, (90, "PHASED")))
    i_b = b.inspection(rid, b.unit("单位乙"), feedback=FB_B)
    for day in (10, 20, 30):
        r.add(i_b, FB_B, "B03", progress(FB_B, (day, "DONE")))
    last: list[tuple[int, str]] = [(40, "DONE")]
    if reopened:
        last.append((150, "IN_PROGRESS"))
    r.add(i_b, FB_B, "B03", progress(FB_B, *last))
    fb_c = dt.date(2025, 2, 1)
    r.add(b.inspection(rid, b.unit("单位丙"), feedback=fb_c), fb_c, "B03", progress(fb_c))
    b.inspection(rid, b.unit("单位丁"), feedback=dt.date(2024, 12, 20))
    return r


@pytest.fixture()
def reader_of(tmp_path: Path) -> Iterator[Any]:
    readers: list[Reader] = []

    def open_(r: Round) -> Reader:
        readers.append(open_reader(r.builder.build(tmp_path / f"store{len(readers)}")))
        return readers[-1]

    yield open_
    for reader in readers:
        reader.close()


def scope_of(reader: Reader, filters: Filters | None = None) -> Scope:
    return resolve_scope(reader, (filters or Filters()).with_(as_of=AS_OF))


def points(reader: Reader, scope: Scope, step: int) -> dict[int, dict[str, Any]]:
    return {row["day"]: row for row in figures.progress_curve(reader, scope, step).to_dicts()}


def test_a_round_fed_back_on_different_days_is_drawn_only_while_its_cohort_is_complete(
    reader_of: Any,
) -> None:
    r = build_round()
    reader = reader_of(r)
    curve = points(reader, scope_of(reader), step=1)
    assert sorted(curve) == list(range(LAST_DAY + 1))
    for day, row in curve.items():
        want = r.counts(day)
        got = (row["findings"], row["findings_done"], row["findings_basically_done"])
        assert got == want, day
        assert row["completion_rate"] == float(half_up_rate(want[1], want[0])), day
        lenient = float(half_up_rate(want[1] + want[2], want[0]))
        assert row["completion_rate_lenient"] == lenient, day
    # The whole round (单位丙 fed back after the as-of date is not in it) on every day.
    assert {row["findings"] for row in curve.values()} == {9}
    # No finding ever leaves DONE (or 基本完成), and the curve never falls.
    for rate in ("completion_rate", "completion_rate_lenient"):
        rates = [curve[day][rate] for day in sorted(curve)]
        assert rates == sorted(rates), rate
    assert curve[LAST_DAY]["findings_done"] == 6
    # Past the last day only 单位甲's five findings are observed, two of them DONE: drawing them
    # would fall from 6/9 to 2/5 although no finding went back.
    assert r.observed(LAST_DAY) == (9, 6)
    assert r.observed(LAST_DAY + 1) == (5, 2)


@pytest.mark.parametrize("step", [7, 30, 296])
def test_the_curve_is_sampled_every_step_and_ends_on_its_last_complete_day(
    reader_of: Any, step: int
) -> None:
    r = build_round()
    reader = reader_of(r)
    curve = points(reader, scope_of(reader), step)
    assert sorted(curve) == sorted({*range(0, LAST_DAY + 1, step), LAST_DAY})
    for day, row in curve.items():
        got = (row["findings"], row["findings_done"], row["findings_basically_done"])
        assert got == r.counts(day), day


def test_the_curve_falls_where_a_finding_really_goes_back_from_done(reader_of: Any) -> None:
    r = build_round(reopened=True)
    reader = reader_of(r)
    curve = points(reader, scope_of(reader), step=1)
    assert sorted(curve) == list(range(LAST_DAY + 1))
    for day, row in curve.items():
        assert (row["findings"], row["findings_done"]) == r.counts(day)[:2], day
    done = [curve[day]["findings_done"] for day in sorted(curve)]
    falls = [day for day in range(1, len(done)) if done[day] < done[day - 1]]
    # 单位乙's fourth finding: DONE on day 40, back to IN_PROGRESS on day 150.
    assert falls == [150]
    assert (done[149], done[150]) == (5, 4)
    assert curve[150]["completion_rate"] < curve[149]["completion_rate"]


def test_only_the_inspections_with_findings_in_scope_shorten_the_curve(reader_of: Any) -> None:
    # C03 is found only at 单位甲 (fed back first): its curve runs to the day 单位甲 has reached.
    r = build_round()
    reader = reader_of(r)
    scope = scope_of(reader, Filters(category_l2=("C03",)))
    curve = points(reader, scope, step=1)
    assert max(curve) == (AS_OF - FB_A).days
    for day, row in curve.items():
        got = (row["findings"], row["findings_done"], row["findings_basically_done"])
        assert got == r.counts(day, "C03"), day
    # One measure DONE on day 60 and the other PHASED from day 90: 基本完成 from day 90.
    assert (curve[89]["findings_basically_done"], curve[90]["findings_basically_done"]) == (0, 1)
    assert curve[90]["completion_rate_lenient"] == 100.0
    assert curve[90]["completion_rate"] == 0.0


def test_the_chart_draws_each_round_as_far_as_its_rows_with_the_numerator_of_the_rate(
    reader_of: Any,
) -> None:
    # A second round whose only unit is fed back on the as-of date: one point, drawn as a
    # marker (a line of one point would not show).
    r = build_round()
    b = r.builder
    late = b.inspection(b.round("第二轮", seq=2), b.unit("单位戊"), feedback=AS_OF)
    r.add(late, AS_OF, "B03", progress(AS_OF))
    reader = reader_of(r)
    frame = figures.progress_curve(reader, scope_of(reader), step=30)
    for rate in ("completion_rate", "completion_rate_lenient"):
        first, second = charts.progress_curves(frame, rate).data
        assert list(first.x) == sorted({*range(0, LAST_DAY + 1, 30), LAST_DAY})
        assert (first.mode, list(second.x), second.mode) == ("lines", [0], "markers")
        for day, (numerator, findings) in zip(first.x, first.customdata, strict=True):
            total, done, basic = r.counts(day)
            want = done + basic if rate == "completion_rate_lenient" else done
            assert (numerator, findings) == (want, total), (rate, day)
