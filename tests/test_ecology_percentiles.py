"""The percentile normalisation of the political-ecology scores (issue 20) on small peer groups
worked out by hand, the explanations' words, and the demo city's distribution and stability.

The store has one round and five units with ten findings each, one measure per finding, no
clues, no outcome records, none inspected before: 国有企业 子 and 丑 (a group of two), 乡镇街道
寅, 卯 and 辰 (a group of three). Only the rectification differs:

    unit  done on time  overdue  completion  overdue rate
    子        10           0       100%          0%
    丑         8           2        80%         20%
    寅        10           0       100%          0%
    卯         9           1        90%         10%
    辰         6           4        60%         40%
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import AS_OF as DEMO_AS_OF
from tests.test_ecology import FEEDBACK, EcologyBuilder, by_unit, indicator, round_scope
from xuncha import cli, figures
from xuncha.figures import ecology, ecology_stability
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Reader, open_reader

AS_OF = dt.date(2024, 12, 31)
PEER_ONLY = ecology.EcologyConfig.load(None).with_values(normalisation={"shrinkage_k": 0.0})
ROWS = {"子": (10, 0), "丑": (8, 2), "寅": (10, 0), "卯": (9, 1), "辰": (6, 4)}


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    b = EcologyBuilder()
    r = b.round("第二轮", seq=2)
    for name, (on_time, overdue) in ROWS.items():
        group = "国有企业" if name in ("子", "丑") else "乡镇街道"
        inspection = b.inspection(r, b.unit(name, peer_group=group), FEEDBACK)
        b.add(inspection, "B06", "on_time", n=on_time)
        if overdue:
            b.add(inspection, "B06", "overdue", n=overdue)
    root = tmp_path_factory.mktemp("ecology_small") / "store"
    b.build(root)
    return root


@pytest.fixture()
def small(small_root: Path) -> Iterator[Reader]:
    r = open_reader(small_root)
    yield r
    r.close()


def test_a_group_of_two_or_three_is_ranked_not_stretched_to_0_and_100(small: Reader) -> None:
    cards = figures.scorecards(small, round_scope(small), PEER_ONLY)
    got = {u: indicator(cards, u, "completion_rate")["normalised"] for u in ROWS}
    # mid-rank percentiles (worse + ½ × equal + ½) ÷ m: of two 1½/2, ½/2; of three 2½/3, 1½/3, ½/3
    assert got == pytest.approx({"子": 75, "丑": 25, "寅": 250 / 3, "卯": 50, "辰": 50 / 3})
    # ties share the mid-rank: every unit has an on-time rate of 100%
    assert {indicator(cards, u, "on_time_rate")["normalised"] for u in ROWS} == {50.0}


# The population (all five, m = 5) for completion 100, 80, 100, 90, 60:
#   子, 寅: 3 worse + 1 equal → (3 + ½ + ½) / 5 = 80;  丑: 1 worse → 30;  卯: 2 worse → 50;
#   辰: ½ / 5 = 10.  With k = 4 the group of two weighs 2/6, the group of three 3/7:
#   子 = 75/3 + 80·2/3 = 78.33;  丑 = 25/3 + 30·2/3 = 28.33;
#   寅 = (250/3)·3/7 + 80·4/7 = 81.43;  卯 = 50;  辰 = (50/3)·3/7 + 10·4/7 = 12.86.
# The overdue rates (0, 20, 0, 10, 40, lower is better) put the units in the same order.
SHRUNK = {"子": 235 / 3, "丑": 85 / 3, "寅": 570 / 7, "卯": 50.0, "辰": 90 / 7}
# P and D are 50 for all (equal everywhere), X and S unavailable, R = (2 × shrunk + 50) / 3:
# score = (25·50 + 35·R + 15·50) / 75.
SCORES = {"子": 58.81, "丑": 43.26, "寅": 59.78, "卯": 50.0, "辰": 38.44}


def test_the_peer_percentile_is_shrunk_toward_the_population_by_n_over_n_plus_k(
    small: Reader,
) -> None:
    cards = figures.scorecards(small, round_scope(small))
    assert cards.config.shrinkage_k == 4.0
    for key in ("completion_rate", "overdue_rate"):
        got = {u: indicator(cards, u, key)["normalised"] for u in ROWS}
        assert got == pytest.approx(SHRUNK), key
    chou = indicator(cards, "丑", "completion_rate")
    assert chou["peer_weight"] == pytest.approx(1 / 3) and chou["peers_compared"] == 2
    assert (chou["peer_percentile"], chou["population_percentile"]) == pytest.approx((25, 30))
    assert chou["peer_median"] == 90.0 and chou["population_median"] == 90.0
    assert indicator(cards, "辰", "completion_rate")["peer_weight"] == pytest.approx(3 / 7)
    units = by_unit(cards)
    assert {u: units[u]["score"] for u in ROWS} == SCORES
    # default lines 62 / 52 / 40
    grades = {u: units[u]["grade"] for u in ROWS}
    assert grades == {"子": "较好", "丑": "一般", "寅": "较好", "卯": "一般", "辰": "差"}


def test_the_explanation_reads_in_plain_words_with_units(small: Reader) -> None:
    x = figures.explain_score(small, round_scope(small), unit_of(small, "丑"))
    items = {i.indicator: i for i in (*x.lowered, *x.lifted, *x.neutral, *x.unavailable)}
    # R's weight 35 of 75 (P, R, D available) over its three indicators: 15.6% each
    assert items["completion_rate"].text.startswith(
        "整改完成率 80.00%，低于同类组中位数 90.00%（同类组 2 个可比单位，计分占 33%），"
        "低于本轮全部 5 个单位的中位数 90.00%（计分占 67%），该项得分 28/100，占总分 15.6%，"
        "拉低总分"
    )
    assert items["finding_density"].text.startswith(
        "问题密度：每次巡察 10 个问题，为同类组中位数（10 个）的 1.00 倍"
    )
    assert items["four_winds_findings"].text.startswith(
        "四风问题数：每次巡察 0 个，与同类组中位数 0 个持平"
    )


def test_without_clue_rights_the_clue_indicators_say_what_is_shown_and_why(
    small: Reader,
) -> None:
    x = figures.explain_score(small, round_scope(small), unit_of(small, "子"))
    items = {i.indicator: i for i in (*x.lowered, *x.lifted, *x.neutral, *x.unavailable)}
    forms = items["heavier_forms"].text
    assert "线索 0 条" not in forms
    assert forms.startswith("第三、四种形态人次：本单位没有运用第三、四种形态处理的人员")
    assert "按披露规则显示" in forms and "同类组中位数" not in forms
    clues = items["clue_density"].text
    assert clues.startswith("线索密度：本单位没有问题线索（按披露规则显示")


def test_a_round_still_in_rectification_is_graded_provisionally(small: Reader) -> None:
    # 反馈 2024-03-01, latest original deadline 2024-06-30 (the overdue measures'): the period
    # ends then (more than the 3 months' minimum); graded 暂评 until that day, final after.
    during = round_scope(small, as_of=dt.date(2024, 6, 30))
    before = by_unit(figures.scorecards(small, during))
    assert all(u["provisional"] for u in before.values())
    assert all(u["grade_label"] == f"{u['grade']}（暂评）" for u in before.values())
    trend = figures.score_trend(small, during)
    assert trend["provisional"].all() and trend["grade_label"].str.ends_with("（暂评）").all()
    after = by_unit(figures.scorecards(small, round_scope(small)))
    assert not any(u["provisional"] for u in after.values())
    assert all(u["grade_label"] == u["grade"] for u in after.values())


def unit_of(reader: Reader, name: str) -> int:
    units = figures.scorecards(reader, round_scope(reader)).units
    return int(units.filter(pl.col("unit_name") == name)["unit_id"][0])


# -- the demo city ------------------------------------------------------------------------


def test_on_the_demo_a_finished_round_shows_all_four_grades_mostly_middle(
    demo_reader: Reader,
) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=DEMO_AS_OF))
    trend = figures.score_trend(demo_reader, scope)
    finished = trend.filter(~pl.col("provisional") & pl.col("grade").is_not_null())
    full_rounds = 0
    for part in finished.partition_by("round_id"):
        grades = part["grade"].to_list()
        if len(grades) >= 20:
            full_rounds += 1
            assert set(grades) == set(ecology.GRADES), part["round_name"][0]
            middle = sum(g in ("较好", "一般") for g in grades)
            assert middle > len(grades) / 2
    assert full_rounds >= 5
    # no round carries one cap badge on every unit
    for part in trend.partition_by("round_id"):
        badges = part.explode("badges").drop_nulls("badges").group_by("badges").len()
        assert (badges["len"] < part.height).all()


def test_on_the_demo_every_move_of_two_grades_names_its_reasons(demo_reader: Reader) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=DEMO_AS_OF))
    config = ecology.EcologyConfig.load(None)
    result = ecology_stability.distribution(demo_reader, scope, config)
    moves = result["moves"]
    # the moves counted equal the comparable pairs of the trend, counted here apart
    trend = figures.score_trend(demo_reader, scope, config)
    level = {g: i for i, g in enumerate(ecology.GRADES)}
    graded = (
        trend.filter(pl.col("grade").is_not_null())
        .sort("unit_id", "seq")
        .with_columns(pl.col("grade").replace_strict(level).alias("lv"))
    )
    everyone = trend.sort("unit_id", "seq").with_columns(
        pl.col("grade").replace_strict(level, default=None).alias("lv"),
        pl.col("grade")
        .replace_strict(level, default=None)
        .shift(1)
        .over("unit_id")
        .alias("before"),
    )
    pairs = everyone.filter(pl.col("lv").is_not_null() & pl.col("before").is_not_null())
    final = pairs.filter(~pl.col("provisional"))
    later = pairs.filter(pl.col("provisional"))
    steps = (final["lv"] - final["before"]).abs().to_list()
    steps_provisional = (later["lv"] - later["before"]).abs().to_list()
    assert graded.height > 0 and later.height > 0  # the demo's last round is still 暂评
    assert {k: steps.count(int(k)) for k in moves} == moves
    provisional = result["provisional_moves"]
    assert {k: steps_provisional.count(int(k)) for k in provisional} == provisional
    big = result["big_moves"]
    assert len(big) == sum(m[k] for m in (moves, provisional) for k in ("2", "3")) > 0
    assert result["big_moves_named"] == len(big)
    for move in big:
        assert "主要因为：" in move["text"] and "→" in move["text"]
        assert ("下降" in move["text"]) == (move["steps"] < 0)
        # a move into a round still in its rectification period says its grade is 暂评
        assert ("本轮等次为暂评" in move["text"]) == move["provisional"]
    assert any(m["provisional"] for m in big) and not all(m["provisional"] for m in big)


def test_the_command_prints_the_distribution_and_the_stability(
    capsys: Any, demo_store: Any
) -> None:
    args = ["ecology", "--db", str(demo_store.root), "--as-of", DEMO_AS_OF.isoformat()]
    code = cli.main([*args, "--distribution"])
    text, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert "等次分布" in text and "已结束整改期" in text and "暂评" in text
    assert "相邻两次被巡察的等次变化" in text
    code = cli.main([*args, "--distribution", "--format", "json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["label"] == "研判参考"
    statuses = {r["round"]: r["status"] for r in payload["rounds"]}
    assert statuses["十四届市委第六轮巡察"] == "已结束整改期"
    assert statuses["十四届市委第七轮巡察"] == "暂评"
    assert cli.main([*args, "--format", "text"]) == 1
    assert "text 仅用于 --distribution" in capsys.readouterr().err
