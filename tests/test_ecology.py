"""Political-ecology scorecards (DOMAIN.md §6) on hand-built stores, numbers worked out by hand.

The main store has two rounds (第一轮 2022, 第二轮 2024, scored as of 2024-12-31) and two peer
groups. 市直部门: 甲局, 乙局, 丙局, 丁局 with ten or twenty findings each and 戊局 with three
(样本不足). 国有企业: 子公司 and 丑公司, to show that peers are compared only with peers.
Each finding has one measure of one of four kinds (on time, late, overdue, not yet due).

The second store gives each cap its own unit in its own peer group (a single unit in a peer
group scores 100 on every indicator it has, so only the cap can lower its grade).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.builders import StoreBuilder
from xuncha import figures
from xuncha.figures import ecology
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store import Reader, open_reader

AS_OF = dt.date(2024, 12, 31)
EARLIER_FEEDBACK = dt.date(2022, 3, 1)
FEEDBACK = dt.date(2024, 3, 1)
DUE = dt.date(2024, 6, 30)
NOT_YET_DUE = dt.date(2025, 6, 30)


class EcologyBuilder(StoreBuilder):
    """StoreBuilder with one-measure findings of a named kind, and outcome rows."""

    def add(
        self, inspection: int, l2: str, kind: str, tags: list[str] | None = None, n: int = 1
    ) -> list[int]:
        feedback = self._feedback[inspection]
        ids = []
        for _ in range(n):
            finding = self.finding(inspection, l2, tags=tags)
            ids.append(finding)
            if kind == "on_time":  # done before the deadline
                history = [(feedback, "IN_PROGRESS"), (feedback + dt.timedelta(days=90), "DONE")]
                self.measure(finding, deadline=feedback + dt.timedelta(days=121), history=history)
            elif kind == "late":  # done after the deadline
                history = [(feedback, "IN_PROGRESS"), (dt.date(2024, 8, 1), "DONE")]
                self.measure(finding, deadline=DUE, history=history)
            elif kind == "overdue":  # open, deadline passed
                self.measure(finding, deadline=DUE)
            elif kind == "not_due":  # open, deadline still ahead
                self.measure(finding, deadline=NOT_YET_DUE)
            else:
                raise ValueError(kind)
        return ids

    def outcome(self, inspection: int, regulations: int) -> None:
        self.outcomes.append((inspection, regulations, 0, 0))


# -- the main store ----------------------------------------------------------------------


def build_main(root: Path) -> dict[str, Any]:
    b = EcologyBuilder()
    r1 = b.round("第一轮", seq=1)
    r2 = b.round("第二轮", seq=2)
    unit = {
        name: b.unit(name, peer_group=peer)
        for name, peer in (
            ("甲局", "市直部门"),
            ("乙局", "市直部门"),
            ("丙局", "市直部门"),
            ("丁局", "市直部门"),
            ("戊局", "市直部门"),
            ("子公司", "国有企业"),
            ("丑公司", "国有企业"),
        )
    }
    ids: dict[str, Any] = {"unit": unit}
    # 第一轮: 乙局 C03 still open when 第二轮 fed back (repeat, no 反弹); 丙局 B01 closed in
    # 2022 (反弹 when found again); 丁局 Z99 (inspected before, nothing found again).
    e2 = b.inspection(r1, unit["乙局"], EARLIER_FEEDBACK)
    b.add(e2, "C03", "not_due")  # deadline 2025-06-30, never done
    e3 = b.inspection(r1, unit["丙局"], EARLIER_FEEDBACK)
    b.add(e3, "B01", "on_time")  # done 2022-05-30
    e4 = b.inspection(r1, unit["丁局"], EARLIER_FEEDBACK)
    b.add(e4, "Z99", "on_time")

    i = {name: b.inspection(r2, uid, FEEDBACK) for name, uid in unit.items()}
    ids["inspection"] = i
    # 甲局: 10 findings, all done on time; 5 regulations; no clues; never inspected before.
    b.add(i["甲局"], "B06", "on_time", n=10)
    b.outcome(i["甲局"], 5)
    # 乙局: 10 findings: 2 of L1 A (overdue), a repeat of C03, one 重点关注, one 四风 (违规吃喝),
    # 5 more; 8 done on time, 2 overdue (20%, at the cap line, not over it); one clue of the
    # 第一种形态; 2 regulations.
    ids["乙局_overdue"] = b.add(i["乙局"], "A02", "overdue", n=2)
    ids["乙局_repeat"] = b.add(i["乙局"], "C03", "on_time")
    ids["乙局_focus"] = b.add(i["乙局"], "B06", "on_time", tags=["重点关注"])
    ids["乙局_four_winds"] = b.add(i["乙局"], "B03", "on_time", tags=["违规吃喝", "廉洁纪律"])
    b.add(i["乙局"], "B06", "on_time", n=5)
    b.clue(i["乙局"], form="第一种形态")
    b.outcome(i["乙局"], 2)
    # 丙局: 20 findings: 5 of L1 A (not yet due), 2 of B01 (反弹), 13 of B06 (2 重点关注 and
    # 6 more on time, 5 late); clues: 第三种形态 (1 person) and 第一种形态; no outcome record.
    ids["丙局_not_due"] = b.add(i["丙局"], "A02", "not_due", n=5)
    ids["丙局_rebound"] = b.add(i["丙局"], "B01", "on_time", n=2)
    ids["丙局_focus"] = b.add(i["丙局"], "B06", "on_time", tags=["重点关注"], n=2)
    b.add(i["丙局"], "B06", "on_time", n=6)
    ids["丙局_late"] = b.add(i["丙局"], "B06", "late", n=5)
    ids["丙局_third_form"] = b.clue(i["丙局"], form="第三种形态", persons=1)
    b.clue(i["丙局"], form="第一种形态")
    # 丁局: 10 findings of B06: 5 on time, 3 overdue (30%), 2 not yet due; one clue of the
    # 第四种形态 with 2 persons; 1 regulation.
    b.add(i["丁局"], "B06", "on_time", n=5)
    ids["丁局_overdue"] = b.add(i["丁局"], "B06", "overdue", n=3)
    b.add(i["丁局"], "B06", "not_due", n=2)
    ids["丁局_fourth_form"] = b.clue(i["丁局"], form="第四种形态", persons=2)
    b.outcome(i["丁局"], 1)
    # 戊局: 3 findings, all of L1 A, done on time: 样本不足.
    b.add(i["戊局"], "A02", "on_time", n=3)
    # 国有企业: 子公司 like 乙局's rectification (8 on time, 2 overdue), 丑公司 all on time.
    b.add(i["子公司"], "B06", "on_time", n=8)
    b.add(i["子公司"], "B06", "overdue", n=2)
    b.add(i["丑公司"], "B06", "on_time", n=10)
    # measure ids follow finding ids one to one in this store
    ids["measure_of"] = {f: f for f in range(1, len(b.findings) + 1)}
    b.build(root)
    return ids


@pytest.fixture(scope="module")
def main_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("ecology") / "store"
    return root, build_main(root)


@pytest.fixture()
def reader(main_store: tuple[Path, dict[str, Any]]) -> Iterator[Reader]:
    r = open_reader(main_store[0])
    yield r
    r.close()


@pytest.fixture()
def ids(main_store: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    return main_store[1]


def round_scope(reader: Reader, seq: int = 2, as_of: dt.date = AS_OF) -> Scope:
    return resolve_scope(reader, Filters(round_from=seq, round_to=seq, as_of=as_of))


def by_unit(cards: ecology.Scorecards) -> dict[str, dict[str, Any]]:
    return {r["unit_name"]: r for r in cards.units.iter_rows(named=True)}


def indicator(cards: ecology.Scorecards, unit: str, key: str) -> dict[str, Any]:
    rows = cards.indicators.filter((pl.col("unit_name") == unit) & (pl.col("indicator") == key))
    assert rows.height == 1
    return rows.row(0, named=True)


# The hand-worked numbers below use the peer group only (shrinkage_k = 0): the shrinkage toward
# the round's population is pinned on its own in tests/test_ecology_percentiles.py.
PEER_ONLY = ecology.EcologyConfig.load(None).with_values(normalisation={"shrinkage_k": 0.0})

# Raw values and normalised scores worked out by hand (市直部门 reference units: 甲乙丙丁;
# 戊局 has 3 findings and is left out of the comparison). Mid-rank percentile among m peers:
# (worse + ½ × equal others + ½) ÷ m × 100; with m = 4: 12.5 + 25 × worse + 12.5 × equal.
#   finding density, per inspection ÷ median(10, 10, 20, 10) = 10: 1, 1, 2, 1 (−): 62.5 ×3, 12.5
#   L1 A share: 0%, 20%, 25%, 0% (−): 75, 37.5, 12.5, 75
#   重点关注: 0, 1, 2, 0 (−): 75, 37.5, 12.5, 75
#   四风: 0, 1, 0, 0 (−): 62.5, 12.5, 62.5, 62.5
#   选人用人: all 0: all equal, all 50
#   completion: 100%, 80%, 75%, 50% (+): 87.5, 62.5, 37.5, 12.5
#   on time: 100%, 100%, 10/15 = 66.67%, 100% (+): 62.5, 62.5, 12.5, 62.5
#   overdue: 0%, 20%, 0%, 30% (−): 75, 37.5, 75, 12.5
#   clues per inspection ÷ median(0, 1, 2, 1) = 1: 0, 1, 2, 1 (−): 87.5, 50, 12.5, 50
#   第三、四种形态 persons: 0, 0, 1, 2 (−): 75, 75, 37.5, 12.5
#   repeat: 甲局 never inspected before (unavailable); m = 3: 10%, 10%, 0% (−): 100/3, 100/3, 250/3
#   反弹: unavailable; 0%, 10%, 0% (−): 200/3, 50/3, 200/3
#   regulations per finding: 0.5, 0.2, no record (unavailable), 0.1 (+, m = 3): 250/3, 50, 50/3
# Dimensions: P = 65, 40, 30, 65;  R = 75, 162.5/3, 125/3, 87.5/3;  D = 81.25, 62.5, 25, 31.25
#             X = —, 50, 25, 75;  S = 250/3, 50, —, 50/3
EXPECTED_NORMALISED = {
    "甲局": [62.5, 75, 75, 62.5, 50, 87.5, 62.5, 75, 87.5, 75, None, None, 250 / 3],
    "乙局": [62.5, 37.5, 37.5, 12.5, 50, 62.5, 62.5, 37.5, 50, 75, 100 / 3, 200 / 3, 50],
    "丙局": [12.5, 12.5, 12.5, 62.5, 50, 37.5, 12.5, 75, 12.5, 37.5, 100 / 3, 50 / 3, None],
    "丁局": [62.5, 75, 75, 62.5, 50, 12.5, 62.5, 12.5, 50, 12.5, 250 / 3, 200 / 3, 50 / 3],
}
EXPECTED_RAW = {
    "甲局": [1.0, 0.0, 0, 0, 0, 100.0, 100.0, 0.0, 0.0, 0, None, None, 0.5],
    "乙局": [1.0, 20.0, 1, 1, 0, 80.0, 100.0, 20.0, 1.0, 0, 10.0, 0.0, 0.2],
    "丙局": [2.0, 25.0, 2, 0, 0, 75.0, 66.67, 0.0, 2.0, 1, 10.0, 10.0, None],
    "丁局": [1.0, 0.0, 0, 0, 0, 50.0, 100.0, 30.0, 1.0, 2, 0.0, 0.0, 0.1],
}
EXPECTED_DIMENSIONS = {
    "甲局": {"P": 65, "R": 75, "D": 81.25, "X": None, "S": 250 / 3},
    "乙局": {"P": 40, "R": 162.5 / 3, "D": 62.5, "X": 50, "S": 50},
    "丙局": {"P": 30, "R": 125 / 3, "D": 25, "X": 25, "S": None},
    "丁局": {"P": 65, "R": 87.5 / 3, "D": 31.25, "X": 75, "S": 50 / 3},
}
# Scores: weights P25 R35 D15 X15 S10, renormalised over the dimensions a unit has.
#   甲局: (25·65 + 35·75 + 15·81.25 + 10·250/3) / 85 = 6302.08 / 85 = 74.14 → 好
#   乙局: (25·40 + 35·162.5/3 + 15·62.5 + 15·50 + 10·50) / 100 = 50.83 → 一般
#   丙局: (25·30 + 35·125/3 + 15·25 + 15·25) / 90 = 2958.33 / 90 = 32.87 → 差
#   丁局: (25·65 + 35·87.5/3 + 15·31.25 + 15·75 + 10·50/3) / 100 = 44.06 → 一般 (caps: 一般)
EXPECTED_SCORES = {"甲局": 74.14, "乙局": 50.83, "丙局": 32.87, "丁局": 44.06}


def test_each_indicator_has_the_raw_value_worked_out_by_hand(reader: Reader) -> None:
    cards = figures.scorecards(reader, round_scope(reader), PEER_ONLY)
    for unit, values in EXPECTED_RAW.items():
        for key, expected in zip(ecology.INDICATORS, values, strict=True):
            got = indicator(cards, unit, key)["raw_value"]
            assert got == (None if expected is None else pytest.approx(expected)), (unit, key)


def test_each_indicator_is_normalised_within_the_peer_group_as_worked_out_by_hand(
    reader: Reader,
) -> None:
    cards = figures.scorecards(reader, round_scope(reader), PEER_ONLY)
    for unit, values in EXPECTED_NORMALISED.items():
        for key, expected in zip(ecology.INDICATORS, values, strict=True):
            row = indicator(cards, unit, key)
            assert row["normalised"] == (None if expected is None else pytest.approx(expected)), (
                unit,
                key,
            )
            assert row["available"] is (expected is not None)


def test_dimensions_are_the_mean_of_their_available_indicators(reader: Reader) -> None:
    units = by_unit(figures.scorecards(reader, round_scope(reader), PEER_ONLY))
    for unit, dims in EXPECTED_DIMENSIONS.items():
        for d, expected in dims.items():
            got = units[unit][f"dimension_{d}"]
            assert got == (None if expected is None else pytest.approx(expected)), (unit, d)


def test_scores_and_grades_are_as_computed_by_hand(reader: Reader) -> None:
    units = by_unit(figures.scorecards(reader, round_scope(reader), PEER_ONLY))
    for unit, score in EXPECTED_SCORES.items():
        assert units[unit]["score"] == score, unit
    assert units["甲局"]["grade"] == "好"
    assert [units[u]["grade"] for u in ("乙局", "丙局", "丁局")] == ["一般", "差", "一般"]
    # 第二轮's period (反馈 2024-03-01, measures due to 2025-06-30) had not ended on 2024-12-31
    assert all(units[u]["provisional"] for u in EXPECTED_SCORES)
    assert units["甲局"]["grade_label"] == "好（暂评）"


def test_a_missing_dimension_is_left_out_and_the_weights_renormalised(reader: Reader) -> None:
    cards = figures.scorecards(reader, round_scope(reader), PEER_ONLY)
    jia = cards.dimensions.filter(pl.col("unit_name") == "甲局")
    shares = dict(zip(jia["dimension"], jia["weight_share"], strict=True))
    # 甲局 has no X (never inspected before): 25, 35, 15, 10 of 85
    assert shares == pytest.approx({"P": 25 / 85, "R": 35 / 85, "D": 15 / 85, "X": 0, "S": 10 / 85})
    assert by_unit(cards)["甲局"]["dimensions_used"] == ["D", "P", "R", "S"]
    note = indicator(cards, "甲局", "repeat_rate")["note"]
    assert "此前轮次未被巡察" in note
    assert "没有巡察成效记录" in indicator(cards, "丙局", "regulations_per_finding")["note"]


def test_the_score_is_fifty_plus_the_contributions_of_the_indicators(reader: Reader) -> None:
    cards = figures.scorecards(reader, round_scope(reader), PEER_ONLY)
    sums = cards.indicators.group_by("unit_name").agg(
        pl.col("contribution").sum(), pl.col("weight_share").sum()
    )
    units = by_unit(cards)
    for row in sums.iter_rows(named=True):
        unit = units[row["unit_name"]]
        assert row["weight_share"] == pytest.approx(1.0)
        assert 50 + row["contribution"] == pytest.approx(unit["score"], abs=0.005)
    # 乙局's 四风 indicator (normalised 12.5) carries 25/100 of the weight over 5 indicators:
    # 0.05 × (12.5 − 50) = −1.875
    assert indicator(cards, "乙局", "four_winds_findings")["contribution"] == pytest.approx(-1.875)


def test_a_unit_with_fewer_than_five_findings_is_small_sample_without_grade_or_rank(
    reader: Reader,
) -> None:
    cards = figures.scorecards(reader, round_scope(reader), PEER_ONLY)
    wu = by_unit(cards)["戊局"]
    assert wu["small_sample"] and wu["grade"] is None and wu["grade_label"] == "样本不足"
    assert wu["peer_rank"] is None and "small_sample" in wu["caps"] and "样本不足" in wu["badges"]
    ranking = cards.ranking().filter(pl.col("unit_name") == "戊局").row(0, named=True)
    assert ranking["score"] is None and ranking["peer_rank"] is None
    # placed among its four peers as if a fifth: L1 A share 100%, worse than all: ½ ÷ 5 = 10;
    # finding density 0.3, better than all: 4½ ÷ 5 = 90
    assert indicator(cards, "戊局", "share_l1_a")["normalised"] == pytest.approx(10)
    assert indicator(cards, "戊局", "finding_density")["normalised"] == pytest.approx(90)


def test_a_small_sample_unit_does_not_move_its_peers_scale(reader: Reader) -> None:
    cards = figures.scorecards(reader, round_scope(reader), PEER_ONLY)
    # Were 戊局 (100% of L1 A) a reference unit, 乙局's 20% would be better than two of five
    # (2½ ÷ 5 = 50), not than one of four (1½ ÷ 4 = 37.5).
    row = indicator(cards, "乙局", "share_l1_a")
    assert (row["peer_best"], row["peer_worst"], row["peers_compared"]) == (0.0, 25.0, 4)
    assert row["peer_median"] == pytest.approx(10.0)
    assert row["normalised"] == pytest.approx(37.5)
    assert by_unit(cards)["乙局"]["peer_rated"] == 4


def test_peer_groups_are_scored_apart(reader: Reader) -> None:
    cards = figures.scorecards(reader, round_scope(reader), PEER_ONLY)
    # 子公司 rectifies exactly like 乙局 (80% done, 20% overdue) but its only peer, 丑公司,
    # did everything: ½ ÷ 2 = 25 on both, where 乙局 had 62.5 and 37.5 among its own peers.
    for key in ("completion_rate", "overdue_rate"):
        assert (
            indicator(cards, "子公司", key)["raw_value"]
            == indicator(cards, "乙局", key)["raw_value"]
        )
    assert indicator(cards, "子公司", "completion_rate")["normalised"] == 25
    assert indicator(cards, "子公司", "overdue_rate")["normalised"] == 25
    assert indicator(cards, "丑公司", "completion_rate")["normalised"] == 75
    units = by_unit(cards)
    # 子公司: P 50 (all equal), R (25+50+25)/3, D 50 (no clues at all: equal), no X, no S:
    # (25·50 + 35·100/3 + 15·50) / 75 = 42.22 → 一般;  丑公司: R (75+50+75)/3:
    # (25·50 + 35·200/3 + 15·50) / 75 = 57.78 → 较好
    assert units["子公司"]["score"] == 42.22 and units["子公司"]["grade"] == "一般"
    assert units["丑公司"]["score"] == 57.78 and units["丑公司"]["grade"] == "较好"
    assert (units["子公司"]["peer_rank"], units["丑公司"]["peer_rank"]) == (2, 1)
    note = indicator(cards, "子公司", "clue_density")["note"]
    assert "同类组均无线索" in note


def test_all_equal_values_score_fifty_and_move_nothing(reader: Reader) -> None:
    cards = figures.scorecards(reader, round_scope(reader), PEER_ONLY)
    personnel = cards.indicators.filter(
        (pl.col("indicator") == "personnel_findings") & (pl.col("peer_group") == "市直部门")
    )
    assert set(personnel["raw_value"]) == {0.0}
    assert set(personnel["normalised"]) == {50.0}
    assert set(personnel["contribution"]) == {0.0}


def test_an_overdue_rate_of_exactly_twenty_percent_does_not_cap(reader: Reader) -> None:
    units = by_unit(figures.scorecards(reader, round_scope(reader), PEER_ONLY))
    assert units["乙局"]["caps"] == [] and units["乙局"]["badges"] == []
    assert units["丁局"]["caps"] == ["fourth_form", "overdue"]
    # 丁局 is 一般 by its score, at or below both caps: the badges show, the grade is the same
    assert units["丁局"]["grade"] == units["丁局"]["grade_uncapped"] == "一般"
    assert not units["丁局"]["capped"]
    # 丙局's 反弹 (2 of 20 findings, 10%) is under the rebound line (75%): no badge
    assert units["丙局"]["caps"] == []


def test_the_peer_ranking_orders_graded_units_by_grade_then_score(reader: Reader) -> None:
    ranking = figures.peer_ranking(figures.scorecards(reader, round_scope(reader), PEER_ONLY))
    city = ranking.filter(pl.col("peer_group") == "市直部门")
    assert city["unit_name"].to_list() == ["甲局", "乙局", "丁局", "丙局", "戊局"]
    assert city["peer_rank"].to_list() == [1, 2, 3, 4, None]
    assert set(ranking["label"]) == {"研判参考"}


def test_every_output_is_labelled_for_judgement_only(reader: Reader) -> None:
    scope = round_scope(reader)
    cards = figures.scorecards(reader, scope)
    for frame in (cards.units, cards.dimensions, cards.indicators, cards.ranking()):
        assert set(frame["label"]) == {"研判参考"}
    assert cards.label == "研判参考"
    assert all(r["label"] == "研判参考" for r in cards.records())
    assert set(figures.score_trend(reader, scope)["label"]) == {"研判参考"}
    assert figures.explain_score(reader, scope, 1, cards=cards).label == "研判参考"


def test_every_score_records_the_configuration_it_used(reader: Reader) -> None:
    config = ecology.EcologyConfig.load(None)
    cards = figures.scorecards(reader, round_scope(reader), config)
    assert set(cards.units["config_digest"]) == {config.digest()}
    assert set(cards.indicators["config_digest"]) == {config.digest()}
    assert cards.config.scoring_values()["weights"] == {
        "P": 25.0,
        "R": 35.0,
        "D": 15.0,
        "X": 15.0,
        "S": 10.0,
    }


# -- changing the configuration ----------------------------------------------------------


def test_changing_a_weight_changes_scores_exactly_as_computed_by_hand(reader: Reader) -> None:
    config = PEER_ONLY.with_values(weights={"R": 70})
    units = by_unit(figures.scorecards(reader, round_scope(reader), config))
    # R 35 → 70; the dimensions do not change:
    #   甲局: (25·65 + 70·75 + 15·81.25 + 10·250/3) / 120 = 8927.08 / 120 = 74.39
    #   乙局: (25·40 + 70·162.5/3 + 15·62.5 + 15·50 + 10·50) / 135 = 6979.17 / 135 = 51.70
    #   丙局: (25·30 + 70·125/3 + 15·25 + 15·25) / 125 = 4416.67 / 125 = 35.33
    #   丁局: (25·65 + 70·87.5/3 + 15·31.25 + 15·75 + 10·50/3) / 135 = 5427.08 / 135 = 40.20
    #   子公司: (25·50 + 70·100/3 + 15·50) / 110 = 4333.33 / 110 = 39.39 → 差
    expected = {"甲局": 74.39, "乙局": 51.7, "丙局": 35.33, "丁局": 40.2, "子公司": 39.39}
    assert {u: units[u]["score"] for u in expected} == expected
    assert units["子公司"]["grade"] == "差"
    assert set(units[u]["config_digest"] for u in units) == {config.digest()}
    assert config.digest() != PEER_ONLY.digest()


def test_a_dimension_weighted_zero_drops_out_of_the_score(reader: Reader) -> None:
    config = PEER_ONLY.with_values(weights={"X": 0})
    units = by_unit(figures.scorecards(reader, round_scope(reader), config))
    # 丙局 without X: (25·30 + 35·125/3 + 15·25) / 75 = 2583.33 / 75 = 34.44
    assert units["丙局"]["score"] == 34.44
    assert "X" not in units["丙局"]["dimensions_used"]


def test_a_disabled_indicator_is_shown_but_not_counted(reader: Reader) -> None:
    config = PEER_ONLY.with_values(indicators={"four_winds_findings": {"enabled": False}})
    cards = figures.scorecards(reader, round_scope(reader), config)
    row = indicator(cards, "乙局", "four_winds_findings")
    assert row["raw_value"] == 1 and not row["available"] and row["contribution"] is None
    # 乙局's P without 四风: (62.5 + 37.5 + 37.5 + 50) / 4 = 46.875
    assert by_unit(cards)["乙局"]["dimension_P"] == pytest.approx(46.875)


def test_lower_grade_lines_change_the_grades_not_the_scores(reader: Reader) -> None:
    config = PEER_ONLY.with_values(grades={"good": 44, "fairly_good": 40, "average": 30})
    units = by_unit(figures.scorecards(reader, round_scope(reader), config))
    assert units["乙局"]["score"] == 50.83 and units["乙局"]["grade"] == "好"
    # 丁局 44.06 would be 好 but its 第四种形态 case caps it at 一般
    assert units["丁局"]["grade_uncapped"] == "好" and units["丁局"]["grade"] == "一般"
    assert units["丙局"]["grade"] == "一般"


# -- the explanation -------------------------------------------------------------------


def explain(reader: Reader, unit: str, ids: dict[str, Any], **kw: Any) -> ecology.Explanation:
    kw.setdefault("config", PEER_ONLY)
    return figures.explain_score(reader, round_scope(reader), ids["unit"][unit], **kw)


def items_by_key(explanation: ecology.Explanation) -> dict[str, ecology.ExplanationItem]:
    all_items = (
        explanation.lifted + explanation.lowered + explanation.neutral + explanation.unavailable
    )
    return {i.indicator: i for i in all_items}


def test_the_explanation_lists_the_overdue_measures_and_the_fourth_form_count(
    reader: Reader, ids: dict[str, Any]
) -> None:
    x = explain(reader, "丁局", ids)
    items = items_by_key(x)
    overdue = items["overdue_rate"]
    assert overdue.effect == "拉低" and overdue.id_kind == "measure"
    assert list(overdue.ids) == [ids["measure_of"][f] for f in ids["丁局_overdue"]]
    # 0.35/3 × (12.5 − 50) = −4.375 (a binary float: shown −4.37 or −4.38)
    assert overdue.contribution == pytest.approx(-4.375, abs=0.005)
    assert overdue.text.startswith(
        "逾期率 30.00%，高于同类组中位数 10.00%（同类组 4 个可比单位，计分占 100%），"
    )
    assert "该项得分 13/100，占总分 11.7%" in overdue.text
    caps = {c.cap: c for c in x.caps}
    assert set(caps) == {"fourth_form", "overdue"}
    # Without a case role: the count only as disclosure control shows it (1: <3), no ids
    assert caps["fourth_form"].ids == () and caps["fourth_form"].id_count == 0
    assert caps["fourth_form"].count_text == "<3" and "<3" in caps["fourth_form"].text
    assert list(caps["overdue"].ids) == list(overdue.ids)
    assert x.lowered[0].contribution <= x.lowered[-1].contribution  # worst first


def test_clue_ids_are_given_only_to_case_roles(reader: Reader, ids: dict[str, Any]) -> None:
    plain = explain(reader, "丙局", ids)
    assert items_by_key(plain)["heavier_forms"].ids == ()
    assert items_by_key(plain)["clue_density"].ids == ()
    forms = items_by_key(plain)["heavier_forms"]
    # one clue, one person: the text says <3 and gives no figure a count could be read from
    assert "#" not in forms.text and "<3" in forms.text
    assert forms.count_text == "<3" and "同类组最优" not in forms.text
    detailed = explain(reader, "丙局", ids, clue_details=True)
    assert list(items_by_key(detailed)["heavier_forms"].ids) == [ids["丙局_third_form"]]
    assert len(items_by_key(detailed)["clue_density"].ids) == 2
    fourth = explain(reader, "丁局", ids, clue_details=True)
    assert list({c.cap: c for c in fourth.caps}["fourth_form"].ids) == [ids["丁局_fourth_form"]]


def test_the_explanation_lists_the_findings_behind_each_indicator(
    reader: Reader, ids: dict[str, Any]
) -> None:
    yi = items_by_key(explain(reader, "乙局", ids))
    assert list(yi["focus_findings"].ids) == ids["乙局_focus"]
    assert list(yi["four_winds_findings"].ids) == ids["乙局_four_winds"]
    assert list(yi["share_l1_a"].ids) == ids["乙局_overdue"]  # its two A02 findings
    assert list(yi["completion_rate"].ids) == ids["乙局_overdue"]  # the two not done
    assert list(yi["repeat_rate"].ids) == ids["乙局_repeat"]
    assert yi["rebound_rate"].ids == ()
    # a rebound line low enough for 丙局's 2 rebounds of 20 findings (10%)
    low = PEER_ONLY.with_values(caps={"rebound_rate_above": 5.0, "rebound_findings_at_least": 2})
    bing = explain(reader, "丙局", ids, config=low)
    items = items_by_key(bing)
    assert list(items["rebound_rate"].ids) == ids["丙局_rebound"]
    assert list(items["on_time_rate"].ids) == [ids["measure_of"][f] for f in ids["丙局_late"]]
    assert items["regulations_per_finding"].effect == "未计入"
    assert {c.cap for c in bing.caps} == {"rebound"}
    assert list(bing.caps[0].ids) == ids["丙局_rebound"]


def test_the_explanation_says_what_lifted_and_lowered_the_score(
    reader: Reader, ids: dict[str, Any]
) -> None:
    x = explain(reader, "乙局", ids)
    lowered = [i.indicator for i in x.lowered]
    lifted = [i.indicator for i in x.lifted]
    # 乙局's normalised scores below 50: 四风 12.5, L1 A, 重点关注 and overdue 37.5, repeat 33.33
    assert set(lowered) == {
        "four_winds_findings",
        "share_l1_a",
        "focus_findings",
        "overdue_rate",
        "repeat_rate",
    }
    assert set(lifted) == {
        "finding_density",
        "completion_rate",
        "on_time_rate",
        "heavier_forms",
        "rebound_rate",
    }
    neutral = {i.indicator for i in x.neutral}  # all 50
    assert neutral == {"personnel_findings", "clue_density", "regulations_per_finding"}
    assert "50.83 分" in x.summary and "研判参考" in x.summary
    data = x.to_dict()
    assert data["label"] == "研判参考" and data["unit"] == "乙局"


# -- caps and single-unit peer groups ------------------------------------------------------


@pytest.fixture(scope="module")
def caps_reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reader]:
    b = EcologyBuilder()
    r1 = b.round("第一轮", seq=1)
    r2 = b.round("第二轮", seq=2)
    hospital = b.unit("某医院", peer_group="学校医院")
    village = b.unit("某社区", peer_group="村社区")
    street = b.unit("某街道", peer_group="乡镇街道")
    company = b.unit("某公司", peer_group="国有企业")
    office = b.unit("某办", peer_group="市直部门")
    earlier = b.inspection(r1, village, EARLIER_FEEDBACK)
    b.add(earlier, "B01", "on_time")
    i = {u: b.inspection(r2, u, FEEDBACK) for u in (hospital, village, street, company, office)}
    b.add(i[hospital], "B06", "on_time", n=5)
    b.clue(i[hospital], form="第四种形态")
    b.add(i[village], "B01", "on_time")  # found again after it was closed: 反弹
    b.add(i[village], "B06", "on_time", n=4)
    b.add(i[street], "B06", "on_time", n=3)
    b.add(i[street], "B06", "overdue", n=2)  # 40% overdue
    b.add(i[company], "B06", "on_time", n=5)
    # a 第四种形态 decided after the date asked: not yet a case on 2024-12-31
    b.clues.append(
        (
            len(b.clues) + 1,
            i[company],
            "移送纪委监委",
            "初步核实",
            "第四种形态",
            1,
            dt.date(2025, 3, 1),
        )
    )
    b.add(i[office], "B06", "on_time", n=4)  # alone and under five findings
    root = tmp_path_factory.mktemp("ecology_caps") / "store"
    b.build(root)
    r = open_reader(root)
    yield r
    r.close()


# Each unit alone in its peer group: with the peer group only (k = 0) every indicator scores 50
# (no peer is better or worse), so the score is 50; grade lines at 50 make that 好, and only a
# cap can lower it.
ALONE = PEER_ONLY.with_values(grades={"good": 50, "fairly_good": 45, "average": 40})


def caps_units(reader: Reader, config: ecology.EcologyConfig = ALONE, **kw: Any) -> dict:
    return by_unit(figures.scorecards(reader, round_scope(reader, **kw), config))


def test_a_single_unit_in_its_peer_group_scores_fifty_on_its_peers_alone(
    caps_reader: Reader,
) -> None:
    cards = figures.scorecards(caps_reader, round_scope(caps_reader), ALONE)
    hospital = cards.indicators.filter((pl.col("unit_name") == "某医院") & pl.col("available"))
    assert set(hospital["normalised"]) == {50.0}
    assert by_unit(cards)["某医院"]["score"] == 50.0


def test_a_fourth_form_case_caps_the_grade_at_average(caps_reader: Reader) -> None:
    unit = caps_units(caps_reader)["某医院"]
    assert (unit["grade_uncapped"], unit["grade"]) == ("好", "一般")
    assert unit["capped"] and unit["caps"] == ["fourth_form"]
    assert unit["badges"] == ["第四种形态·最高一般"]


def test_a_single_rebound_under_the_rebound_line_does_not_cap(caps_reader: Reader) -> None:
    # 某社区: 1 反弹 of 5 findings (20%): under the default 75% and 3 findings
    unit = caps_units(caps_reader)["某社区"]
    assert unit["rebound_findings"] == 1 and unit["rebound_rate"] == 20.0
    assert unit["caps"] == [] and unit["grade"] == "好"


def test_a_rebound_rate_over_the_line_caps_the_grade_at_fairly_good(caps_reader: Reader) -> None:
    low = ALONE.with_values(caps={"rebound_rate_above": 19.0, "rebound_findings_at_least": 1})
    unit = caps_units(caps_reader, low)["某社区"]
    assert (unit["score"], unit["grade_uncapped"], unit["grade"]) == (50.0, "好", "较好")
    assert unit["caps"] == ["rebound"] and unit["badges"] == ["反弹率超过19%·最高较好"]
    # both must be reached: the rate, and the count of rebound findings
    for caps in ({"rebound_rate_above": 20.0}, {"rebound_findings_at_least": 2}):
        stricter = low.with_values(caps=caps)
        assert caps_units(caps_reader, stricter)["某社区"]["caps"] == []


def test_an_overdue_rate_over_twenty_percent_caps_the_grade_at_fairly_good(
    caps_reader: Reader,
) -> None:
    unit = caps_units(caps_reader)["某街道"]
    assert unit["overdue_rate"] == 40.0
    assert (unit["score"], unit["grade_uncapped"], unit["grade"]) == (50.0, "好", "较好")
    assert unit["caps"] == ["overdue"] and unit["badges"] == ["逾期率超过20%·最高较好"]


def test_a_fourth_form_counts_from_the_day_its_clue_was_closed(caps_reader: Reader) -> None:
    before = caps_units(caps_reader)["某公司"]
    assert before["caps"] == [] and before["grade"] == "好"
    after = caps_units(caps_reader, as_of=dt.date(2025, 3, 1))["某公司"]
    assert after["caps"] == ["fourth_form"] and after["grade"] == "一般"


def test_a_peer_group_of_small_samples_gets_no_score_and_no_grade(caps_reader: Reader) -> None:
    cards = figures.scorecards(caps_reader, round_scope(caps_reader))
    office = by_unit(cards)["某办"]
    assert office["small_sample"] and office["score"] is None and office["grade"] is None
    assert office["grade_label"] == "样本不足" and office["peer_rated"] == 0
    rows = cards.indicators.filter(pl.col("unit_name") == "某办")
    assert rows["normalised"].null_count() == rows.height


def test_a_stricter_overdue_line_caps_what_the_default_does_not(caps_reader: Reader) -> None:
    config = ALONE.with_values(
        caps={
            "overdue_rate_above": 50.0,
            "rebound": "一般",
            "rebound_rate_above": 10.0,
            "rebound_findings_at_least": 1,
        }
    )
    units = caps_units(caps_reader, config)
    assert units["某街道"]["caps"] == [] and units["某街道"]["grade"] == "好"
    assert units["某社区"]["grade"] == "一般"


# -- trend -----------------------------------------------------------------------------


def test_the_trend_scores_each_round_on_its_own(reader: Reader) -> None:
    everything = resolve_scope(reader, Filters(as_of=AS_OF))
    trend = figures.score_trend(reader, everything, PEER_ONLY)
    assert trend.select("unit_id", "round_id").is_duplicated().sum() == 0
    first = trend.filter(pl.col("seq") == 1)
    # 第一轮: 乙局, 丙局, 丁局 with one finding each: 样本不足
    assert sorted(first["unit_name"]) == ["丁局", "丙局", "乙局"]
    assert set(first["grade_label"]) == {"样本不足"}
    second = trend.filter(pl.col("seq") == 2)
    alone = figures.scorecards(reader, round_scope(reader), PEER_ONLY)
    expected = dict(zip(alone.units["unit_name"], alone.units["score"], strict=True))
    assert dict(zip(second["unit_name"], second["score"], strict=True)) == expected


def test_a_scope_with_nothing_fed_back_gives_empty_frames(reader: Reader) -> None:
    scope = round_scope(reader, as_of=dt.date(2020, 1, 1))
    cards = figures.scorecards(reader, scope)
    assert cards.units.is_empty() and cards.indicators.is_empty()
    assert figures.score_trend(reader, scope).is_empty()
    assert cards.records() == []
