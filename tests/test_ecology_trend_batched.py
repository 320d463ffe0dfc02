"""score_trend fetches every round's scorecard inputs with two queries that count each round
apart and scores every round in one pass (units and peer groups keyed per round); the trend
equals the one computed round by round (two queries per round), on the
demo store, for the current state and a past date, whole and narrowed, and for a scoped
reader (who is scored on the whole peer population, round by round)."""

from __future__ import annotations

import datetime as dt

import pytest

from xuncha.auth.access import Access
from xuncha.figures import ecology
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Reader


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(as_of=dt.date(2025, 3, 31)),
        Filters(category_l1=("B",)),
        Filters(round_from=4, round_to=7, peer_groups=("乡镇街道",)),
    ],
    ids=["now", "past", "l1", "narrow"],
)
def test_the_batched_trend_equals_the_round_by_round_trend(
    demo_reader: Reader, filters: Filters
) -> None:
    scope = resolve_scope(demo_reader, filters)
    batched = ecology.score_trend(demo_reader, scope)
    each = ecology.score_trend(demo_reader, scope, batched=False)
    assert batched.height > 5
    assert batched["round_id"].n_unique() > 1
    assert batched.equals(each)


def test_each_rounds_inputs_are_that_rounds_own(demo_reader: Reader) -> None:
    """The per-round slices of the batched queries equal the queries asked for one round."""
    scope = resolve_scope(demo_reader, Filters())
    of = ecology._inputs_by_round(demo_reader, scope)
    assert of is not None
    rounds = demo_reader.query(
        "ecology_rounds", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
    )
    for row in rounds.iter_rows(named=True):
        one = resolve_scope(demo_reader, Filters(round_from=row["seq"], round_to=row["seq"]))
        got = of(int(row["round_id"]))
        assert got is not None
        counts, rect = got
        expected_counts = demo_reader.query("ecology_unit_counts", one.params(by_round=False))
        assert counts.drop("round_id").equals(expected_counts.drop("round_id"))
        expected_rect = ecology.rectification(demo_reader, one, by="unit", cycle_median=False)
        assert rect.drop("group_order").equals(expected_rect.drop("group_order"))


def test_a_scoped_reader_is_scored_round_by_round_on_the_population(
    demo_reader: Reader,
) -> None:
    units = demo_reader.query("units_list")["short_name"].to_list()[:4]
    access = Access.for_role("组员", "group", units=units)
    scope = resolve_scope(demo_reader, Filters(), access=access)
    assert ecology._inputs_by_round(demo_reader, scope) is None
    trend = ecology.score_trend(demo_reader, scope)
    whole = ecology.score_trend(demo_reader, resolve_scope(demo_reader, Filters()))
    mine = whole.filter(whole["unit_id"].is_in(trend["unit_id"].unique().implode()))
    assert trend.height > 0
    assert trend.equals(mine)
