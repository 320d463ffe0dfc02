"""The current-state summaries (rect_current*, built at every write) give exactly the counts
the timelines give, for every grouping and filter, on and after settled_on — and the figures
use them only then: a date before settled_on still reads the timelines. Also: a scope holding
every inspection passes NULL instead of the list, and a narrowed copy never does."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.builders import StoreBuilder
from xuncha import figures
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Reader, Store, open_reader
from xuncha.store.reader import load_queries
from xuncha.store.schema import WHOLE_GROUPINGS

GROUPINGS = (
    "all",
    "round",
    "unit",
    "round_unit",
    "category_l1",
    "category_l2",
    "sector",
    "peer_group",
)
FILTERS = [
    Filters(),
    Filters(round_from=8, round_to=8),
    Filters(category_l1=("B",)),
    Filters(category_l2=("B03", "C01")),
    Filters(peer_groups=("乡镇街道",)),
]


def both(reader: Reader, filters: Filters, as_of: dt.date, by: str) -> tuple[list, list]:  # type: ignore[type-arg]
    scope = resolve_scope(reader, filters.with_(as_of=as_of))
    params = scope.params(by=by, cycle_median=True)
    slow = reader.query("rectification_counts", params).to_dicts()
    fast = reader.query("rectification_counts_current", params).to_dicts()
    return slow, fast


def settled(reader: Reader) -> dt.date:
    value = reader.query("store_settled_on")["settled_on"][0]
    assert isinstance(value, dt.date)
    return value


@pytest.mark.parametrize("days_after", [0, 45, 800])
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.to_url()) or "all")
def test_the_summaries_equal_the_timelines_on_and_after_settled_on(
    demo_reader: Reader, filters: Filters, days_after: int
) -> None:
    as_of = settled(demo_reader) + dt.timedelta(days=days_after)
    for by in GROUPINGS:
        slow, fast = both(demo_reader, filters, as_of, by)
        assert slow, (by, filters)
        assert fast == slow, (by, filters, as_of)


@pytest.mark.parametrize("days_after", [0, 45, 800])
@pytest.mark.parametrize("cycle_median", [True, False])
def test_the_whole_stores_groups_equal_the_summaries_and_the_timelines(
    demo_reader: Reader, days_after: int, cycle_median: bool
) -> None:
    """rectification_counts_whole (groups summed at write time) gives the very rows of the
    per-inspection summaries and of the timelines, for every grouping it serves."""
    as_of = settled(demo_reader) + dt.timedelta(days=days_after)
    scope = resolve_scope(demo_reader, Filters(as_of=as_of))
    assert scope.ids_param() is None
    for by in WHOLE_GROUPINGS:
        params = scope.params(by=by, cycle_median=cycle_median)
        whole = demo_reader.query("rectification_counts_whole", params)
        assert whole.height > 0, by
        assert whole.equals(demo_reader.query("rectification_counts_current", params)), by
        slow = demo_reader.query("rectification_counts", {**params, "cycle_median": True})
        if not cycle_median:
            slow = slow.with_columns(slow["cycle_days_median"].clear(slow.height))
        assert whole.to_dicts() == slow.to_dicts(), (by, as_of)


def test_the_figures_read_the_groups_only_for_the_whole_store_without_a_category(
    demo_reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    real = Reader.query

    def spy(self: Reader, name: str, params=None):  # type: ignore[no-untyped-def]
        asked.append(name)
        return real(self, name, params)

    monkeypatch.setattr(Reader, "query", spy)
    day = settled(demo_reader)
    cases = [
        (Filters(as_of=day), "round", "rectification_counts_whole"),
        (Filters(as_of=day + dt.timedelta(days=9)), "unit", "rectification_counts_whole"),
        (Filters(as_of=day), "category_l1", "rectification_counts_current"),
        (Filters(category_l1=("B",), as_of=day), "round", "rectification_counts_current"),
        (Filters(round_from=8, round_to=8, as_of=day), "all", "rectification_counts_current"),
        (Filters(as_of=day - dt.timedelta(days=1)), "round", "rectification_counts_current"),
    ]
    for filters, by, name in cases:
        scope = resolve_scope(demo_reader, filters)
        asked.clear()
        figures.rectification(demo_reader, scope, by)
        assert name in asked and not {
            "rectification_counts_whole",
            "rectification_counts_current",
            "rectification_counts",
        } - {name} & set(asked), (filters, by, asked)


def test_overdue_counts_move_with_the_date_in_both(demo_reader: Reader) -> None:
    day = settled(demo_reader)
    early = both(demo_reader, Filters(), day, "all")[1][0]
    late = both(demo_reader, Filters(), day + dt.timedelta(days=3000), "all")[1][0]
    assert late["overdue_measures"] > early["overdue_measures"]  # deadlines pass
    assert late["measures_not_due"] == 0


def test_the_figures_read_the_summaries_only_when_they_hold(demo_reader: Reader) -> None:
    day = settled(demo_reader)
    for offset, current in ((0, True), (1, True), (-1, False)):
        scope = resolve_scope(demo_reader, Filters(as_of=day + dt.timedelta(days=offset)))
        assert scope.current is current and scope.params()["current"] is current


def test_edge_cases_of_a_hand_built_store(tmp_path: Path) -> None:
    """An even number of cycles (the median is the mean of the two middle ones), a long-term
    measure, an extension, open measures past their deadline, a PHASED measure."""
    b = StoreBuilder()
    r1 = b.round("第一轮", 1)
    u1, u2 = b.unit("甲局"), b.unit("乙镇", peer_group="乡镇街道", sector="基层")
    i1 = b.inspection(r1, u1, dt.date(2024, 3, 1))
    i2 = b.inspection(r1, u2, dt.date(2024, 3, 5))
    for days in (10, 20, 30, 41):
        f = b.finding(i1, "B03")
        b.measure(f, deadline=dt.date(2024, 6, 1), history=[(dt.date(2024, 3, 1), "IN_PROGRESS"),
                  (dt.date(2024, 3, 1) + dt.timedelta(days=days), "DONE")])  # fmt: skip
    f = b.finding(i1, "C01")
    b.measure(f, deadline=None)  # long-term
    b.measure(
        f,
        deadline=dt.date(2024, 5, 1),
        extensions=[(dt.date(2024, 4, 20), dt.date(2024, 9, 1))],
        history=[(dt.date(2024, 3, 1), "IN_PROGRESS"), (dt.date(2024, 8, 1), "DONE")],
    )
    f = b.finding(i2, "A01")
    b.measure(f, deadline=dt.date(2024, 4, 1))  # open, overdue
    b.measure(f, deadline=dt.date(2024, 4, 1), history=[(dt.date(2024, 3, 5), "PHASED")])
    store = b.build(tmp_path / "store")
    reader = open_reader(store)
    try:
        day = settled(reader)
        for by in GROUPINGS:
            for filters in (Filters(), Filters(category_l1=("B",))):
                slow, fast = both(reader, filters, day, by)
                assert fast == slow, by
        unit = {r["group_key"]: r for r in both(reader, Filters(), day, "unit")[1]}
        assert unit["甲局"]["cycle_days_median"] == 25.0  # (20 + 30) / 2
        assert unit["乙镇"]["overdue_measures"] == 2 and unit["乙镇"]["findings_open"] == 1
    finally:
        reader.close()


def test_a_scope_of_every_inspection_passes_null_and_a_narrowed_copy_its_list(
    demo_reader: Reader,
) -> None:
    scope = resolve_scope(demo_reader, Filters())
    assert scope.params()["inspection_ids"] is None
    narrowed = dataclasses.replace(scope, inspection_ids=scope.inspection_ids[:5])
    assert narrowed.params()["inspection_ids"] == list(scope.inspection_ids[:5])
    empty = dataclasses.replace(scope, inspection_ids=())
    assert empty.params()["inspection_ids"] == []
    # The same figures either way.
    listed = dataclasses.replace(scope, total_inspections=None)
    assert listed.params()["inspection_ids"] == list(scope.inspection_ids)
    a = figures.rectification(demo_reader, scope, "round").to_dicts()
    b = figures.rectification(demo_reader, listed, "round").to_dicts()
    assert a == b


def test_a_version_written_by_older_code_is_read_through_a_copy_with_the_summaries(
    demo_store: Store, tmp_path: Path
) -> None:
    """A version written by older code has no current_layout mark (and lacks a summary
    table): queries with a summary branch must still bind, so it is read through a copy
    (upgraded/) to which the summaries were added from its own timelines. The version file
    is not changed; the figures are the same; a newer layout is left alone."""
    import shutil

    import duckdb

    from xuncha.store import schema

    target = tmp_path / "old"
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    old = Store(target)
    con = duckdb.connect(str(old.current_file()))
    con.execute("DROP TABLE rect_current_inspection")
    con.execute("DELETE FROM store_meta WHERE key = 'current_layout'")
    con.close()
    untouched = old.current_file().read_bytes()
    reader = open_reader(old)
    try:
        day = dt.date(2030, 1, 1)
        assert resolve_scope(reader, Filters(as_of=day)).current
        scope = resolve_scope(reader, Filters(as_of=day))
        assert scope.current
        fast = figures.rectification(reader, scope, "unit")
        slow = reader.query("rectification_counts", scope.params(by="unit", cycle_median=True))
        assert fast.select(slow.columns).equals(slow)
        assert reader.query("findings_by_category", scope.params()).height > 0
    finally:
        reader.close()
    assert old.current_file().read_bytes() == untouched
    copies = list((target / "upgraded").iterdir())
    assert [c.name for c in copies] == [f"{old.version():06d}-layout{schema.CURRENT_LAYOUT}.duckdb"]
    assert old.readable_file(old.version()) == copies[0]
    # A newer layout is not "upgraded" back.
    con = duckdb.connect(str(old.current_file()))
    con.execute("INSERT OR REPLACE INTO store_meta VALUES ('current_layout', '99')")
    con.close()
    assert old.readable_file(old.version()) == old.current_file()


# Values tried for the parameters of the queries with two branches, beyond the scope's own:
# every query declaring $current is found in queries/ (none kept by hand), and each of its
# other parameters must have values here (a new one fails the test until it has).
VARIANTS: dict[str, list[Any]] = {
    "by": list(GROUPINGS),
    # rectification_counts_grouped: several groupings at once, medians for some of them.
    "bys": [list(GROUPINGS), ["all", "round", "unit"], ["round_unit", "sector", "peer_group"]],
    "median_bys": [["all", "unit", "category_l2"], [], None],
    "level": [1, 2],
    "by_round": [False, True],
    "cycle_median": [True, False],
    "with_names": [True, False],
    "kinds": [["红"], ["红", "黄", "绿"], [""], None],
    "limit": [2000, 7, None],
    "unit_id": [None, "one"],  # "one": a unit that has findings in scope
    "category": [None, "B", "B03"],
    "round_from": [None, 3],
    "round_to": [None, 8],
    "k_min": [3],
    "k_share": [0.3],
    "step": [7, 1, 30],
}
SCOPE_PARAMS = {"inspection_ids", "category_l1", "category_l2", "as_of", "current"}


def _dual_path_cases(name: str, one_unit: int) -> list[dict[str, Any]]:
    named = load_queries()[name]
    extra = sorted(set(named.params) - SCOPE_PARAMS)
    missing = [p for p in extra if p not in VARIANTS]
    assert not missing, f"{name}: give VARIANTS values for {missing}"
    cases = []
    for i in range(max((len(VARIANTS[p]) for p in extra), default=1)):
        case = {p: VARIANTS[p][i % len(VARIANTS[p])] for p in extra}  # each value at least once
        cases.append({k: (one_unit if v == "one" else v) for k, v in case.items()})
    return cases


def test_the_dual_path_queries_are_found_not_listed() -> None:
    names = [n for n, q in load_queries().items() if "current" in q.params]
    assert len(names) >= 5 and "measures_supervision" in names


@pytest.mark.parametrize("days_after", [0, 300])
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.to_url()) or "all")
def test_every_query_with_two_paths_gives_the_same_rows_on_either(
    demo_reader: Reader, filters: Filters, days_after: int
) -> None:
    """$current true (summaries) and false (timelines) give identical frames on and after
    settled_on, for every query declaring $current, filter state and parameter value."""
    as_of = settled(demo_reader) + dt.timedelta(days=days_after)
    scope = resolve_scope(demo_reader, filters.with_(as_of=as_of))
    assert scope.current
    units = demo_reader.query("findings_by_unit_category", scope.params(level=1))
    one_unit = int(units["unit_id"][0])
    names = sorted(n for n, q in load_queries().items() if "current" in q.params)
    for name in names:
        named = load_queries()[name]
        for extra in _dual_path_cases(name, one_unit):
            params = {k: v for k, v in scope.params(**extra).items() if k in named.params}
            fast = demo_reader.query(name, params)
            slow = demo_reader.query(name, {**params, "current": False})
            assert fast.height > 0 or slow.height == 0, (name, extra)
            assert fast.equals(slow), (name, extra, filters)


def test_the_listing_total_and_first_rows_are_those_of_the_whole_list(
    demo_reader: Reader,
) -> None:
    """findings_detail on the current path reads only the groups that fill the limit: its
    rows are the head of the whole ordered list, its total the whole list's length."""
    scope = resolve_scope(demo_reader, Filters().with_(as_of=settled(demo_reader)))
    whole = demo_reader.query(
        "findings_detail", scope.params(unit_id=None, category=None, limit=1_000_000)
    )
    assert whole.height > 100
    for limit in (1, 13, 100):
        head = demo_reader.query(
            "findings_detail", scope.params(unit_id=None, category=None, limit=limit)
        )
        assert head.height == limit
        assert head.drop("total").equals(whole.head(limit).drop("total"))
        assert set(head["total"].to_list()) == {whole.height}


def test_findings_by_ids_are_the_listed_findings_in_scope(demo_reader: Reader) -> None:
    past = Filters(round_from=8, round_to=8).with_(
        as_of=settled(demo_reader) - dt.timedelta(days=200)
    )
    for filters in (Filters(), past):
        scope = resolve_scope(demo_reader, filters)
        listed = demo_reader.query(
            "findings_detail", scope.params(unit_id=None, category=None, limit=1_000_000)
        )
        wanted = listed["finding_id"].to_list()[::7]
        outside = [-1, 10**9]  # never in scope: not returned
        got = demo_reader.query("findings_by_ids", scope.params(finding_ids=wanted + outside))
        expected = listed.filter(listed["finding_id"].is_in(wanted)).drop("total")
        assert got.height == len(wanted)
        assert got.equals(expected)


def test_the_layout_mark_is_the_one_store_settled_on_trusts() -> None:
    from xuncha.store import schema

    assert f"= '{schema.CURRENT_LAYOUT}'" in load_queries()["store_settled_on"].sql


@pytest.mark.parametrize("as_of", [None, dt.date(2024, 6, 30)], ids=["current", "past"])
@pytest.mark.parametrize("by", ["all", "round", "unit", "category_l2"])
def test_leaving_out_the_cycle_median_changes_nothing_else(
    demo_reader: Reader, by: str, as_of: dt.date | None
) -> None:
    """Pages that do not show 整改周期 leave out its median (the costliest part of the roll-up):
    the column is absent, and every other column equals the full answer's, in both the
    summary and the timeline query."""
    day = as_of or settled(demo_reader) + dt.timedelta(days=30)
    scope = resolve_scope(demo_reader, Filters(as_of=day))
    assert scope.current is (as_of is None)
    full = figures.rectification(demo_reader, scope, by)
    lean = figures.rectification(demo_reader, scope, by, cycle_median=False)
    assert "cycle_days_median" not in lean.columns
    assert lean.equals(full.drop("cycle_days_median"))
    assert full["cycle_days_median"].null_count() < full.height  # the full answer has medians
    name = "rectification_counts_current" if scope.current else "rectification_counts"
    raw = demo_reader.query(name, scope.params(by=by, cycle_median=False))
    assert raw["cycle_days_median"].null_count() == raw.height
