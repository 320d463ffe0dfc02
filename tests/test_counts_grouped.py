"""Several groupings of the rectification counts in one query (rectification_counts_grouped,
figures.prefetch_rectification): each grouping's rows are the very rows its own query gives
(columns, types, values and order), for every filter, a unit scope, a date on or after
settled_on and one before it, with and without the median; and the pages and the brief that
ask for several groupings of one scope run one query for them instead of one each (on a past
date only the brief, with five)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

from tests.conftest import AS_OF
from tests.test_current_state import FILTERS, GROUPINGS, settled
from xuncha import figures
from xuncha.figures.rectification import PAST_MERGE_MIN
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store import Reader, Store, open_reader
from xuncha.store.reader import recording

CATEGORY_GROUPINGS = ("category_l1", "category_l2")
# The groupings asked together: every one (the categories among them read the summaries per
# category), those without a category (per inspection), and the pages' own sets.
SETS = [
    (GROUPINGS, ("all", "unit", "category_l2", "peer_group")),
    (tuple(g for g in GROUPINGS if g not in CATEGORY_GROUPINGS), ("all", "round", "sector")),
    (("all", "round"), ()),
    (("all", "unit", "round"), ("all", "round")),
]
DAYS = {"current": 45, "past": -200}


def unit_filters(reader: Reader) -> Filters:
    """The unit with most findings of the store (the benchmark's unit state)."""
    scope = resolve_scope(reader, Filters(as_of=settled(reader)))
    cells = reader.query("findings_by_unit_category", scope.params(level=1))
    by_unit = cells.group_by("unit_id").agg(pl.col("findings").sum())
    top = by_unit.sort(["findings", "unit_id"], descending=[True, False])["unit_id"][0]
    return Filters(unit_ids=(int(top),))


def scopes(reader: Reader, when: str) -> Iterator[tuple[str, Scope]]:
    as_of = settled(reader) + dt.timedelta(days=DAYS[when])
    for filters in [*FILTERS, unit_filters(reader)]:
        scope = resolve_scope(reader, filters.with_(as_of=as_of))
        assert scope.current is (when == "current")
        yield str(filters.to_url()) or "all", scope


def assert_same_rows(merged: pl.DataFrame, single: pl.DataFrame, where: Any) -> None:
    """Equal frames (columns, types, values) in the same order; two groups may tie on every
    ordering key (two units of one short name and as many findings): their order is the
    database's in both, so rows are compared by group and the ordering keys in order."""
    assert merged.height == single.height, where
    assert_frame_equal(merged.sort("group_id"), single.sort("group_id"))
    keys = ["group_order", "findings", "group_key"]
    assert merged.select(keys).rows() == single.select(keys).rows(), where


def test_the_demo_has_groups_in_every_state(demo_reader: Reader) -> None:
    """The comparisons below compare something: every scope has findings in both dates."""
    for when in DAYS:
        for name, scope in scopes(demo_reader, when):
            counts = demo_reader.query(
                "rectification_counts_current", scope.params(by="all", cycle_median=True)
            )
            assert counts["findings"][0] > 0, (when, name)
            assert counts["cycle_days_median"][0] is not None, (when, name)


@pytest.mark.parametrize("when", list(DAYS))
@pytest.mark.parametrize("bys, medians", SETS, ids=lambda v: "-".join(v) or "none")
def test_each_grouping_of_the_merged_query_equals_its_own_query(
    demo_reader: Reader, when: str, bys: tuple[str, ...], medians: tuple[str, ...]
) -> None:
    for name, scope in scopes(demo_reader, when):
        merged = demo_reader.query(
            "rectification_counts_grouped",
            scope.params(bys=list(bys), median_bys=list(medians)),
        )
        assert set(merged["grouping"]) <= set(bys)
        assert merged.columns[0] == "grouping"
        for by in bys:
            single = demo_reader.query(
                "rectification_counts_current", scope.params(by=by, cycle_median=by in medians)
            )
            rows = merged.filter(pl.col("grouping") == by).drop("grouping")
            assert_same_rows(rows, single, (when, name, by))
            if by not in medians:
                assert rows["cycle_days_median"].null_count() == rows.height


def test_no_median_at_all_and_an_empty_scope(demo_reader: Reader) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=settled(demo_reader)))
    for medians in (None, []):
        merged = demo_reader.query(
            "rectification_counts_grouped", scope.params(bys=["round"], median_bys=medians)
        )
        assert merged.height > 0 and merged["cycle_days_median"].null_count() == merged.height
    nothing = dataclasses.replace(scope, inspection_ids=())
    assert nothing.params()["inspection_ids"] == []
    empty = demo_reader.query(
        "rectification_counts_grouped", nothing.params(bys=["all", "round"], median_bys=["all"])
    )
    single = demo_reader.query(
        "rectification_counts_current", nothing.params(by="all", cycle_median=True)
    )
    assert empty.is_empty() and single.is_empty()
    assert empty.drop("grouping").schema == single.schema


class KeepingReader(Reader):
    """A reader that keeps its results, as the dashboard's does, and says which it ran."""

    def __init__(self, inner: Reader) -> None:
        super().__init__(inner.store, inner.version, inner._con, inner.identity)
        self.kept: dict[str, pl.DataFrame] = {}
        self.ran: list[str] = []

    @staticmethod
    def key(name: str, params: Mapping[str, Any] | None) -> str:
        return name + repr(sorted((params or {}).items()))

    def query(self, name: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        key = self.key(name, params)
        if key not in self.kept:
            self.ran.append(name)
            self.kept[key] = Reader.query(self, name, params)
        return self.kept[key]

    def keeps_results(self) -> bool:
        return True

    def prime(self, name: str, params: Mapping[str, Any], frame: pl.DataFrame) -> None:
        self.kept.setdefault(self.key(name, params), frame)


PAGE_SETS = {  # the groupings each page prefetches, and how it then asks for them
    "overview": ((("all", False), ("round", False)), ()),
    "progress": ((("all", True), ("unit", False), ("round", True)), ("all", "round")),
    "repeats": ((("all", False), ("round", False), ("unit", False)), ()),
}


@pytest.mark.parametrize("page", list(PAGE_SETS))
@pytest.mark.parametrize("when", list(DAYS))
def test_prefetch_answers_the_pages_calls_with_their_own_figures(
    demo_reader: Reader, page: str, when: str
) -> None:
    asks, medians = PAGE_SETS[page]
    bys = [by for by, _ in asks]
    for name, scope in scopes(demo_reader, when):
        keeping = KeepingReader(demo_reader)
        figures.prefetch_rectification(keeping, scope, bys, medians=medians)
        got = [figures.rectification(keeping, scope, by, cycle_median=m) for by, m in asks]
        want = [figures.rectification(demo_reader, scope, by, cycle_median=m) for by, m in asks]
        for (by, _), a, b in zip(asks, got, want, strict=True):
            assert_same_rows(a, b, (page, when, name, by))
        whole = scope.current and scope.ids_param() is None
        if whole and not scope.category_l1 and not scope.category_l2:
            # The whole store's groups summed at write time are read as before.
            assert set(keeping.ran) == {"rectification_counts_whole"}, keeping.ran
        elif scope.current or len(bys) >= PAST_MERGE_MIN:
            assert keeping.ran == ["rectification_counts_grouped"], (name, keeping.ran)
        else:  # a past date: two or three groupings run their own queries (see there)
            assert "rectification_counts_grouped" not in keeping.ran, (name, keeping.ran)
            assert keeping.ran.count("rectification_counts_current") == len(bys), keeping.ran


def test_a_reader_that_keeps_nothing_runs_each_grouping_as_before(
    demo_reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope = resolve_scope(
        demo_reader, Filters(round_from=8, round_to=8, as_of=settled(demo_reader))
    )
    with recording() as calls:
        figures.prefetch_rectification(demo_reader, scope, ["all", "round"])
    assert calls == []
    with pytest.raises(ValueError, match="grouping"):
        figures.prefetch_rectification(demo_reader, scope, ["all", "nonsense"])


@pytest.mark.parametrize("when", list(DAYS))
def test_a_brief_drafted_with_the_prefetch_says_the_same(demo_reader: Reader, when: str) -> None:
    """The brief asks five groupings of its scope in one query and says word for word what
    it says when each grouping runs its own."""
    from xuncha.briefing.content import BriefingRequest, draft_briefing

    as_of = settled(demo_reader) + dt.timedelta(days=DAYS[when])
    filters = Filters(round_from=7, round_to=8, as_of=as_of)

    def resolve(f: Filters) -> Scope:
        return resolve_scope(demo_reader, f)

    keeping = KeepingReader(demo_reader)
    with recording() as calls:
        merged = draft_briefing(keeping, BriefingRequest(filters=filters), resolve)
    names = [name for name, params in calls if params.get("inspection_ids") is not None]
    assert names.count("rectification_counts_grouped") == 1, names
    plain = draft_briefing(demo_reader, BriefingRequest(filters=filters), resolve)
    assert merged.sections == plain.sections and merged.sections


# -- the pages ---------------------------------------------------------------------------------

APP = str(Path(__file__).resolve().parents[1] / "app.py")

PAGES = {
    "overview": "pages/overview.py",
    "progress": "pages/progress.py",
    "repeats": "pages/repeats.py",
}


def page_calls(page: str, query: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The named queries a first visit to the page runs (after the first screen, every cache
    cleared), and the metrics it shows."""
    import streamlit as st

    from xuncha import ui

    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()
    with recording() as calls:
        at.switch_page(PAGES[page])
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return [name for name, _ in calls], {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("page", list(PAGES))
def test_the_pages_ask_one_query_for_their_groupings(
    app_env: Store, page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a scope the write-time groups do not serve (one round), a page runs
    rectification_counts_grouped once and none of the single queries; on a past date its own
    queries (PAST_MERGE_MIN); either way it shows the figures it shows without the prefetch."""
    reader = open_reader(app_env)
    try:
        past = settled(reader) + dt.timedelta(days=DAYS["past"])
    finally:
        reader.close()
    states = [{"rounds": "8-8", "asof": AS_OF.isoformat()}, {"asof": past.isoformat()}]
    for query, merged in zip(states, (True, False), strict=True):
        names, shown = page_calls(page, query)
        if merged:
            assert names.count("rectification_counts_grouped") == 1, (query, names)
            assert "rectification_counts_current" not in names, (query, names)
        else:  # a past date: two or three groupings run their own queries
            assert "rectification_counts_grouped" not in names, (query, names)
        with monkeypatch.context() as patch:
            patch.setattr(figures, "prefetch_rectification", lambda *a, **k: None)
            before, shown_before = page_calls(page, query)
        assert "rectification_counts_grouped" not in before
        assert before.count("rectification_counts_current") >= 2, (query, before)
        assert shown == shown_before, query
