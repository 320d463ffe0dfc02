"""回头看候选 (xuncha.figures.revisit): on a hand-made store, the list's order follows the stated
rule (points computed here by hand from the fixture's rows), each reason carries its figure,
the 整改成效评估 counts only when given, a scoped reader sees only its units, a past date
replays, the rule file is validated, and exports keep a formula-like unit name as text."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from tests.builders import StoreBuilder
from xuncha.auth import Access
from xuncha.figures import grade_movement, score_trend
from xuncha.figures.ecology import EcologyConfig, store_config_path
from xuncha.figures.revisit import NO_EVALUATION, months_between, revisit_candidates
from xuncha.figures.revisit_export import (
    LIST_SHEET,
    PLAN_SHEET,
    candidate_table,
    plan_table,
    to_csv,
    workbook,
)
from xuncha.figures.revisit_rule import RevisitRule, RevisitRuleError, store_rule_path
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader
from xuncha.store.reader import Reader

# The rule the hand computations below were made under: the default points (evaluation 差 40 /
# 一般 20 / veto 50; 反弹 30; 5 per full 10 points of overdue rate; 10 per full year beyond 2;
# ecology 差 15, 下降 (not to 差) 15, a fall to 差 the larger of the two) with a lower
# 显著反弹 level than the ecology default (a rate above 10% with at least 2 反弹 findings) and
# a list line of 30, so that every reason shows on a small store. Each unit's basis is its
# latest inspection whose round's rectification period ended before the date (3 to 12 months
# after 反馈, to the latest measure deadline).
RULE = RevisitRule(
    **(
        RevisitRule.load(None).values()
        | {"rebound_findings_at_least": 2, "rebound_rate_above": 10.0, "min_points": 30.0}
    )
)
AS_OF = dt.date(2026, 6, 30)
FORMULA_NAME = '=HYPERLINK("http://x","市戊局")'
D = dt.date


@dataclasses.dataclass
class Fixture:
    store: Store
    units: dict[str, int]
    rounds: dict[str, int]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("revisit") / "store")


def build_fixture(root: Path) -> Fixture:
    """Six units over three rounds (第三轮 is a 回头看 round):

    甲: R1 (2022-03-01) B03 done; R2 (2025-01-10) 2×B03 (反弹, the earlier one was done) and
        2×B05; measures due 2025-06-30: two done, two open (overdue at AS_OF).
    乙: R1 only (2021-05-20): two findings, one measure done, one open due 2021-12-31.
    丙: R1 (2023-06-30) B03 done; R3 回头看 (2025-06-30) one B03 (a single 反弹), done.
    丁: R2 (2025-01-10) one finding, done.
    戊 (a name that looks like a formula) and 己: R2 (2025-01-10) one finding each, done.
    """
    b = StoreBuilder()
    r1, r2 = b.round("第一轮", seq=1), b.round("第二轮", seq=2)
    r3 = b.round("第三轮（回头看）", seq=3, kind="回头看")
    units = {
        "甲": b.unit("市甲局"),
        "乙": b.unit("市乙局"),
        "丙": b.unit("市丙局"),
        "丁": b.unit("市丁局"),
        "戊": b.unit(FORMULA_NAME, short_name="市戊局"),
        "己": b.unit("市己局"),
    }

    def done(finding: int, on: dt.date, due: dt.date) -> None:
        b.measure(finding, deadline=due, history=[(on, "DONE")])

    def open_(finding: int, feedback: dt.date, due: dt.date) -> None:
        b.measure(finding, deadline=due, history=[(feedback, "IN_PROGRESS")])

    i = b.inspection(r1, units["甲"], feedback=D(2022, 3, 1))
    done(b.finding(i, "B03"), D(2022, 5, 1), D(2022, 6, 30))
    fb = D(2025, 1, 10)
    i = b.inspection(r2, units["甲"], feedback=fb)
    done(b.finding(i, "B03"), D(2025, 3, 1), D(2025, 6, 30))
    open_(b.finding(i, "B03"), fb, D(2025, 6, 30))
    open_(b.finding(i, "B05"), fb, D(2025, 6, 30))
    done(b.finding(i, "B05"), D(2025, 3, 1), D(2025, 6, 30))

    fb = D(2021, 5, 20)
    i = b.inspection(r1, units["乙"], feedback=fb)
    done(b.finding(i, "B03"), D(2021, 10, 1), D(2021, 12, 31))
    open_(b.finding(i, "C03"), fb, D(2021, 12, 31))

    i = b.inspection(r1, units["丙"], feedback=D(2023, 6, 30))
    done(b.finding(i, "B03"), D(2023, 8, 1), D(2023, 9, 30))
    i = b.inspection(r3, units["丙"], feedback=D(2025, 6, 30))
    done(b.finding(i, "B03"), D(2025, 8, 1), D(2025, 9, 30))

    for key in ("丁", "戊", "己"):
        i = b.inspection(r2, units[key], feedback=D(2025, 1, 10))
        done(b.finding(i, "A01"), D(2025, 2, 1), D(2025, 3, 31))
    store = b.build(root)
    return Fixture(store, units, {"R1": r1, "R2": r2, "R3": r3})


@pytest.fixture()
def reader(fixture: Fixture) -> Iterator[Reader]:
    rd = open_reader(fixture.store)
    yield rd
    rd.close()


def evaluation_frame(fx: Fixture) -> pl.DataFrame:
    """Hand-made 整改成效评估 grades (the shape of xuncha.evaluation.grades)."""
    u, r = fx.units, fx.rounds
    rows: list[tuple[Any, ...]] = [
        (u["甲"], r["R1"], "差", False, False),  # older: 甲's latest is R2's 一般
        (u["甲"], r["R2"], "一般", False, False),
        (u["乙"], r["R1"], "差", True, False),  # 一票否决: 50 instead of the 差's 40
        (u["丙"], r["R3"], "差", False, True),  # provisional (暂评)
        (u["丁"], r["R2"], "好", False, False),
        (u["丁"], r["R1"], "差", False, False),  # 丁 was not inspected in R1: ignored
        (u["戊"], r["R2"], "差", False, False),
        (u["己"], r["R2"], "差", False, False),
    ]
    return pl.DataFrame(
        rows,
        schema={
            "unit_id": pl.Int64,
            "round_id": pl.Int64,
            "grade": pl.String,
            "vetoed": pl.Boolean,
            "provisional": pl.Boolean,
        },
        orient="row",
    ).with_columns(
        pl.lit("单位").alias("unit_name"),
        pl.lit("轮次").alias("round_name"),
        pl.lit(None, pl.Float64).alias("score"),
    )


def ecology_frame(fx: Fixture) -> pl.DataFrame:
    """A hand-made ecology trend (score_trend's columns): 甲 较好 → 一般 (下降), 乙 差 once."""
    u, r = fx.units, fx.rounds
    rows = [
        (u["甲"], r["R1"], "第一轮", 1, "较好", "较好", 75.0),
        (u["甲"], r["R2"], "第二轮", 2, "一般", "一般", 62.0),
        (u["乙"], r["R1"], "第一轮", 1, "差", "差", 40.0),
    ]
    return pl.DataFrame(
        rows,
        schema={
            "unit_id": pl.Int64,
            "round_id": pl.Int64,
            "round_name": pl.String,
            "seq": pl.Int64,
            "grade": pl.String,
            "grade_label": pl.String,
            "score": pl.Float64,
        },
        orient="row",
    )


def listed(reader: Reader, fx: Fixture, **kwargs: Any) -> pl.DataFrame:
    scope = resolve_scope(reader, Filters(as_of=kwargs.pop("as_of", AS_OF)))
    kwargs.setdefault("ecology_trend", ecology_frame(fx))
    return revisit_candidates(reader, scope, RULE, **kwargs)


def test_the_order_follows_the_stated_rule(reader: Reader, fixture: Fixture) -> None:
    got = listed(reader, fixture, evaluation=evaluation_frame(fixture))
    # By hand under RULE (every round's period has ended by 2026-06-30: R2's on 2025-06-30,
    # R3's on 2025-09-30):
    # 乙: veto 50 + overdue 1/2 = 50% → 25 + 2021-05-20 → 5 y 1 m → 3 × 10 + ecology 差 15 = 120
    # 甲: 一般 20 + 反弹 2/4 → 30 + overdue 2/4 = 50% → 25 + 17 months → 0 + 下降 15 = 90
    # 戊, 己: 差 40, fed back 2025-01-10 (tie: by name, "=" sorts before 市)
    # 丙: 差 (暂评) 40, fed back 2025-06-30, later than 戊 and 己; one 反弹 only (< 2) → 0
    # 丁: 好 → 0, below the minimum of 30: not listed
    expected = [("市乙局", 120.0), ("市甲局", 90.0), (FORMULA_NAME, 40.0), ("市己局", 40.0)]
    expected.append(("市丙局", 40.0))
    assert list(zip(got["unit_name"], got["points"], strict=True)) == expected
    assert got["rank"].to_list() == [1, 2, 3, 4, 5]
    parts = got.select(
        "unit_name",
        "evaluation_points",
        "rebound_points",
        "overdue_points",
        "since_points",
        "ecology_points",
    ).rows()
    assert parts[0] == ("市乙局", 50.0, 0.0, 25.0, 30.0, 15.0)
    assert parts[1] == ("市甲局", 20.0, 30.0, 25.0, 0.0, 15.0)
    assert parts[4] == ("市丙局", 40.0, 0.0, 0.0, 0.0, 0.0)


def test_a_changed_rule_changes_the_order_as_stated(reader: Reader, fixture: Fixture) -> None:
    values = RULE.values() | {
        "evaluation_veto": 0.0,
        "since_points_per_year": 0.0,
    }
    rule = RevisitRule(**values)
    scope = resolve_scope(reader, Filters(as_of=AS_OF))
    got = revisit_candidates(
        reader,
        scope,
        rule,
        evaluation=evaluation_frame(fixture),
        ecology_trend=ecology_frame(fixture),
    )
    # 乙 keeps overdue 25 + ecology 差 15 = 40, fed back 2021-05-20: first of the 40s.
    assert got["unit_name"].to_list() == ["市甲局", "市乙局", FORMULA_NAME, "市己局", "市丙局"]
    assert got["points"].to_list() == [90.0, 40.0, 40.0, 40.0, 40.0]


def test_each_reason_states_its_figure(reader: Reader, fixture: Fixture) -> None:
    got = {
        r["unit_name"]: r
        for r in listed(reader, fixture, evaluation=evaluation_frame(fixture)).iter_rows(named=True)
    }
    jia, yi, bing = got["市甲局"], got["市乙局"], got["市丙局"]
    assert (jia["findings"], jia["rebound_findings"], jia["rebound_rate"]) == (4, 2, 50.0)
    assert (jia["measures"], jia["overdue_measures"], jia["overdue_rate"]) == (4, 2, 50.0)
    assert (
        "反弹问题 2 个，占 50.00%，超过显著反弹线（反弹率超过 10%、至少 2 个），计 30 分"
        in jia["reasons"]
    )
    assert "逾期措施 2 项（占 50.00%），计 25 分" in jia["reasons"]
    assert any(r.startswith("政治生态等次下降（较好→一般") for r in jia["reasons"])
    assert jia["since_text"] == "距上次巡察 1 年 5 个月"
    assert any(r.startswith("整改成效评估为“一般”（第二轮）") for r in jia["reasons"])
    assert yi["months_since"] == 61 and yi["since_text"] == "距上次巡察 5 年 1 个月"
    assert any(
        r.startswith("距上次巡察 5 年 1 个月（第一轮，反馈于 2021-05-20）") for r in yi["reasons"]
    )
    assert yi["evaluation"] == "一票否决"
    assert any(r.startswith("整改成效评估一票否决（第一轮）") for r in yi["reasons"])
    assert bing["evaluation"] == "差（暂评）"
    assert any("暂评" in r for r in bing["reasons"])
    assert (bing["last_round"], bing["rebound_findings"]) == ("第三轮（回头看）", 1)
    assert bing["revisited"] == "已于第三轮（回头看）回头看"
    assert jia["revisited"] is None
    assert all(row["in_period"] is None for row in got.values())
    # Every reason says what it scores, and the points add up.
    for row in got.values():
        parts = ("evaluation", "rebound", "overdue", "since", "ecology")
        assert row["points"] == sum(row[f"{k}_points"] for k in parts)
        stated = sum(float(r.rsplit("计 ", 1)[1].removesuffix(" 分")) for r in row["reasons"])
        assert stated == row["points"]


def test_without_evaluation_the_reason_is_left_out(reader: Reader, fixture: Fixture) -> None:
    got = listed(reader, fixture, evaluation=None)
    # 乙 120 − 50 = 70, 甲 90 − 20 = 70 (乙 fed back earlier first); the others had only
    # their evaluation and drop below 30.
    assert list(zip(got["unit_name"], got["points"], strict=True)) == [
        ("市乙局", 70.0),
        ("市甲局", 70.0),
    ]
    assert set(got["evaluation"]) == {NO_EVALUATION}
    assert (got["evaluation_points"] == 0).all()
    assert not any("成效评估" in r for reasons in got["reasons"] for r in reasons)


def test_ecology_reasons_are_grade_movement_of_score_trend(
    reader: Reader, fixture: Fixture
) -> None:
    scope = resolve_scope(reader, Filters(as_of=AS_OF))
    rule = RevisitRule(**(RULE.values() | {"min_points": 0.0}))
    got = revisit_candidates(reader, scope, rule, evaluation=None)
    trend = score_trend(reader, scope)
    for row in got.iter_rows(named=True):
        basis_round = {"市丙局": fixture.rounds["R3"], "市乙局": fixture.rounds["R1"]}.get(
            row["unit_name"], fixture.rounds["R2"]
        )
        moved = grade_movement(trend, basis_round).filter(pl.col("unit_id") == row["unit_id"])
        expected = moved.row(0, named=True) if moved.height else None
        assert row["ecology_grade"] == (expected["grade_label"] if expected else None)
        assert row["ecology_trend"] == (expected["trend"] if expected else None)


def test_a_past_date_replays(reader: Reader, fixture: Fixture) -> None:
    # On 2025-03-31 丙's 回头看 (fed back 2025-06-30) had begun but not been fed back: its
    # basis is R1 and it is marked as under way.
    rule = RevisitRule(**(RULE.values() | {"min_points": 0.0}))
    scope = resolve_scope(reader, Filters(as_of=D(2025, 3, 31)))
    # 丙's 回头看 began (进驻) on 2025-04-21.
    every = revisit_candidates(
        reader, scope, rule, evaluation=None, ecology_trend=ecology_frame(fixture)
    )
    assert "市丙局" not in every["unit_name"].to_list()  # no reason then: not listed
    scope = resolve_scope(reader, Filters(as_of=D(2025, 5, 31)))
    rule0 = RevisitRule(**(rule.values() | {"since_after_years": 0}))
    every = revisit_candidates(
        reader, scope, rule0, evaluation=None, ecology_trend=ecology_frame(fixture)
    )
    bing = every.filter(pl.col("unit_name") == "市丙局").row(0, named=True)
    assert bing["last_round"] == "第一轮"
    assert bing["revisited"] == "已于第三轮（回头看）回头看（进行中）"


def test_the_basis_is_the_latest_inspection_past_its_rectification_period(
    reader: Reader, fixture: Fixture
) -> None:
    # On 2025-03-31 R2 (fed back 2025-01-10) is in its rectification period: it ends on
    # 2025-06-30, 甲's measures' deadline (later than 丁, 戊, 己's 2025-03-31 and than the
    # 3 months after 反馈, 2025-04-10). By hand under RULE, with the list line at 0:
    # 丁, 戊, 己 were inspected in R2 only: not listed (戊, 己's 差 of R2 does not count).
    # 乙 (R1): veto 50 + overdue 1/2 → 25 + 2021-05-20 → 3 y 10 m → 1 × 10 + 差 15 = 100.
    # 甲: basis R1 (2022-03-01): R1's evaluation 差 40 (R2's 一般 is in its period); R1's one
    #     finding was its first and is done: no 反弹, no overdue; R1's ecology 较好 with no
    #     round before: 0; 距上次巡察 from R2's 2025-01-10: 2 months → 0. Total 40, marked.
    # 丙 (R1, 2023-06-30): nothing scores → not listed.
    rule = RevisitRule(**(RULE.values() | {"min_points": 0.0}))
    scope = resolve_scope(reader, Filters(as_of=D(2025, 3, 31)))
    got = revisit_candidates(
        reader,
        scope,
        rule,
        evaluation=evaluation_frame(fixture),
        ecology_trend=ecology_frame(fixture),
    )
    assert list(zip(got["unit_name"], got["points"], strict=True)) == [
        ("市乙局", 100.0),
        ("市甲局", 40.0),
    ]
    yi, jia = got.rows(named=True)
    assert (jia["last_round"], jia["last_feedback"]) == ("第一轮", D(2022, 3, 1))
    assert (jia["evaluation"], jia["evaluation_round"]) == ("差", "第一轮")
    assert (jia["rebound_points"], jia["overdue_points"], jia["ecology_points"]) == (0, 0, 0)
    assert jia["since_text"] == "距上次巡察 2 个月"
    assert jia["in_period"] == "第二轮整改期内（至 2025-06-30）"
    assert yi["in_period"] is None
    # After R2's period, R2 is 甲's basis and nothing is marked.
    later = revisit_candidates(
        reader,
        resolve_scope(reader, Filters(as_of=D(2025, 7, 1))),
        rule,
        evaluation=evaluation_frame(fixture),
        ecology_trend=ecology_frame(fixture),
    )
    jia = later.filter(pl.col("unit_name") == "市甲局").row(0, named=True)
    assert (jia["last_round"], jia["in_period"], jia["evaluation"]) == ("第二轮", None, "一般")
    assert {FORMULA_NAME, "市己局"} <= set(later["unit_name"])  # 差 of R2, now a basis


def test_the_rule_text_states_the_basis_and_the_exclusions() -> None:
    text = "\n".join(RULE.describe())
    assert "整改期已结束的最近一次巡察为依据" in text
    assert "只有尚在整改期内巡察的单位不列入名单" in text
    assert "整改期内”" in text
    assert "只按两者中较高的一项计分" in text
    assert "显著反弹线（反弹率超过 10%、至少 2 个）" in text


def test_ecology_reasons_from_a_provisional_grade_say_so(reader: Reader, fixture: Fixture) -> None:
    trend = ecology_frame(fixture).with_columns(
        pl.col("grade_label") + pl.lit("（暂评）"), pl.lit(True).alias("provisional")
    )
    got = listed(reader, fixture, evaluation=None, ecology_trend=trend)
    reasons = {r["unit_name"]: r["reasons"] for r in got.iter_rows(named=True)}
    assert "政治生态等次为“差”（暂评，研判参考），计 15 分" in reasons["市乙局"]
    assert "政治生态等次下降（较好（暂评）→一般（暂评），研判参考），计 15 分" in reasons["市甲局"]
    plain = listed(reader, fixture, evaluation=None)
    yi = plain.filter(pl.col("unit_name") == "市乙局").row(0, named=True)
    assert "政治生态等次为“差”（研判参考），计 15 分" in yi["reasons"]


def test_a_fall_to_poor_is_one_fact(reader: Reader, fixture: Fixture) -> None:
    # 甲 较好 → 差 is both 下降 and 差: it scores the larger of the two, never both.
    fall = ecology_frame(fixture).with_columns(
        pl.when(pl.col("score") == 62.0).then(pl.lit("差")).otherwise(pl.col(c)).alias(c)
        for c in ("grade", "grade_label")
    )
    scope = resolve_scope(reader, Filters(as_of=AS_OF))
    for declining, poor in ((20.0, 15.0), (10.0, 15.0)):
        rule = RevisitRule(
            **(RULE.values() | {"ecology_declining": declining, "ecology_poor": poor})
        )
        got = revisit_candidates(reader, scope, rule, evaluation=None, ecology_trend=fall)
        rows = {r["unit_name"]: r for r in got.iter_rows(named=True)}
        jia, yi = rows["市甲局"], rows["市乙局"]
        assert jia["ecology_points"] == max(declining, poor)
        assert (
            f"政治生态等次降至“差”（较好→差，研判参考），计 {max(declining, poor):g} 分"
            in (jia["reasons"])
        )
        assert yi["ecology_points"] == poor  # 差 with no round before
        # 较好 → 一般 (the fixture's own trend): a fall short of 差 scores `declining`.
        kept = revisit_candidates(
            reader, scope, rule, evaluation=None, ecology_trend=ecology_frame(fixture)
        )
        assert kept.filter(pl.col("unit_name") == "市甲局")["ecology_points"].item() == declining


def test_a_significant_rebound_is_the_ecology_rebound_cap(
    reader: Reader, fixture: Fixture, tmp_path: Path
) -> None:
    # 甲's R2: 2 反弹 of 4 findings, 50.00%. The level is the store's ecology configuration.
    scope = resolve_scope(reader, Filters(as_of=AS_OF))
    config = store_config_path(tmp_path)
    config.parent.mkdir(parents=True)

    def jia(rate_above: float, at_least: int) -> dict[str, Any]:
        config.write_text(
            f"[caps]\nrebound_rate_above = {rate_above}\nrebound_findings_at_least = {at_least}\n",
            encoding="utf-8",
        )
        rule = RevisitRule.for_store(tmp_path)
        assert (rule.rebound_rate_above, rule.rebound_findings_at_least) == (rate_above, at_least)
        got = revisit_candidates(
            reader,
            scope,
            RevisitRule(**(rule.values() | {"min_points": 0.0})),
            evaluation=None,
            ecology_trend=ecology_frame(fixture),
        )
        # The scorecards with the same configuration cap 甲's R2 for 反弹 exactly when the
        # list counts its 反弹.
        cards = score_trend(reader, scope, EcologyConfig.load(config)).filter(
            (pl.col("unit_id") == fixture.units["甲"])
            & (pl.col("round_id") == fixture.rounds["R2"])
        )
        row = got.filter(pl.col("unit_name") == "市甲局").row(0, named=True)
        capped = any(b.startswith("反弹率超过") for b in cards["badges"].item())
        assert capped == (row["rebound_points"] > 0)
        return row

    row = jia(40.0, 2)
    assert row["rebound_points"] == 30
    assert (
        "反弹问题 2 个，占 50.00%，超过显著反弹线（反弹率超过 40%、至少 2 个），计 30 分"
        in row["reasons"]
    )
    assert any(
        "反弹率超过 40%、至少 2 个" in line for line in RevisitRule.for_store(tmp_path).describe()
    )
    assert jia(50.0, 2)["rebound_points"] == 0  # 50.00% is not above 50%
    assert jia(40.0, 3)["rebound_points"] == 0  # 2 反弹 findings, fewer than 3
    config.unlink()
    default = RevisitRule.for_store(tmp_path)
    ecology = EcologyConfig.load(None).caps
    assert default.rebound_rate_above == ecology["rebound_rate_above"]
    assert default.rebound_findings_at_least == ecology["rebound_findings_at_least"]


def test_a_scoped_reader_sees_only_its_units(reader: Reader, fixture: Fixture) -> None:
    group = Access.for_role("g", "group", rounds=["第一轮"], units=["市乙局", "市丙局"])
    scope = resolve_scope(reader, Filters(as_of=AS_OF), access=group)
    got = revisit_candidates(
        reader,
        scope,
        RevisitRule(**(RULE.values() | {"min_points": 0.0})),
        evaluation=evaluation_frame(fixture),
        ecology_trend=ecology_frame(fixture),
    )
    # 乙 as before (120); 丙 on its R1 inspection only: 2023-06-30 → 3 years → 10, no
    # evaluation (its graded R3 is not visible) and no 回头看 mark.
    assert list(zip(got["unit_name"], got["points"], strict=True)) == [
        ("市乙局", 120.0),
        ("市丙局", 10.0),
    ]
    bing = got.row(1, named=True)
    assert (bing["last_round"], bing["revisited"], bing["evaluation"]) == ("第一轮", None, None)
    viewer = Access.for_role("v", "viewer", units=["市甲局"])
    scope = resolve_scope(reader, Filters(as_of=AS_OF), access=viewer)
    got = revisit_candidates(reader, scope, RULE, evaluation=evaluation_frame(fixture))
    assert got["unit_name"].to_list() == ["市甲局"]


def test_months_between_counts_full_calendar_months() -> None:
    assert months_between(D(2021, 5, 20), D(2026, 6, 30)) == 61
    assert months_between(D(2025, 1, 10), D(2026, 6, 9)) == 16
    assert months_between(D(2025, 1, 31), D(2025, 2, 28)) == 1
    assert months_between(D(2025, 3, 1), D(2025, 2, 1)) == 0


# -- the rule file ---------------------------------------------------------------------------


def test_the_store_rule_overrides_the_default(tmp_path: Path) -> None:
    assert RevisitRule.for_store(tmp_path).source == "默认规则"
    path = store_rule_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("[evaluation]\npoor = 60\n", encoding="utf-8")
    rule = RevisitRule.for_store(tmp_path)
    assert rule.evaluation_poor == 60 and rule.evaluation_average == 20
    assert rule.digest() != RevisitRule.load(None).digest()
    assert any("“差”计 60 分" in line for line in rule.describe())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[evaluation]\npoor = -1\n", "evaluation.poor 不能为负数"),
        ('[since]\nafter_years = "两年"\n', "since.after_years 须为数字"),
        ("[since]\nafter_years = 1.5\n", "since.after_years 须为整数"),
        ("[rebound]\nmin_findings = 3\n", "[rebound] 的 min_findings 已停用"),
        ("[rebound]\nmin_rate = 50.0\npoints = 30\n", "[rebound] 的 min_rate 已停用"),
        ("[rebound]\nmin_rate = 50.0\n", "config/ecology.toml 的 [caps] rebound_rate_above"),
        ("[rebound]\npoint = 3\n", "[rebound] 有未知的配置项：point"),
        ("[weights]\nR = 1\n", "未知的配置节：weights"),
        ("format = 2\n", "format 须为 1"),
        ("[evaluation\n", "不是有效的 TOML"),
        ("[overdue]\npoints_per_10 = true\n", "overdue.points_per_10 须为数字"),
    ],
)
def test_a_wrong_rule_file_is_refused_in_chinese(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "revisit.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RevisitRuleError, match=message.replace("[", r"\[").replace("]", r"\]")):
        RevisitRule.load(path)


# -- exports ---------------------------------------------------------------------------------


def test_exports_keep_a_formula_like_name_as_text(reader: Reader, fixture: Fixture) -> None:
    got = listed(reader, fixture, evaluation=evaluation_frame(fixture))
    rule = RULE
    data = workbook(got, rule_lines=rule.describe(), scope="全部", as_of=AS_OF, user="测试")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == [LIST_SHEET, PLAN_SHEET, "说明"]
    for name in (LIST_SHEET, PLAN_SHEET):
        sheet = book[name]
        cells = [c for row in sheet.iter_rows() for c in row]
        formula = [c for c in cells if c.value == FORMULA_NAME]
        assert formula and all(c.data_type == "s" for c in formula), name
        assert not any(c.data_type == "f" for c in cells)
    plan = book[PLAN_SHEET]
    header = [c.value for c in plan[1]]
    assert header[:5] == ["序号", "被巡察单位", "同类组", "行业领域", "建议巡察类型"]
    assert {"巡察组", "进驻时间"} <= set(header)
    assert [plan.cell(r, 5).value for r in range(2, plan.max_row + 1)] == ["回头看"] * got.height
    assert plan.cell(2, header.index("巡察组") + 1).value is None
    notes = {row[1].value for row in book["说明"].iter_rows(min_row=2)}
    assert set(rule.describe()) <= notes
    assert "2026-06-30" in notes
    listing = book[LIST_SHEET]
    rate_col = [c.value for c in listing[1]].index("反弹率") + 1
    assert listing.cell(3, rate_col).value == pytest.approx(0.5)  # 甲, second
    csv = to_csv(got)
    assert csv.startswith(b"\xef\xbb\xbf")
    assert ("'" + FORMULA_NAME).encode() in csv.replace(b'""', b'"')
    assert candidate_table(got).height == plan_table(got).height == got.height


def test_a_small_sample_evaluation_grade_is_shown_but_not_scored(
    reader: Reader, fixture: Fixture
) -> None:
    """An evaluation of a unit with fewer findings than the sample line is for reference only:
    甲's 一般 (20 points by hand above) is listed with the words and scores nothing; 乙's
    一票否决 still counts whatever the sample."""
    frame = evaluation_frame(fixture).with_columns(
        pl.col("unit_id").is_in([fixture.units["甲"], fixture.units["乙"]]).alias("small_sample")
    )
    got = {
        r["unit_name"]: r for r in listed(reader, fixture, evaluation=frame).iter_rows(named=True)
    }
    jia, yi = got["市甲局"], got["市乙局"]
    assert jia["evaluation"] == "一般（样本不足，仅供参考，未计分）"
    assert jia["evaluation_points"] == 0.0 and jia["points"] == 90.0 - 20.0
    assert not any(r.startswith("整改成效评估") for r in jia["reasons"])
    assert yi["evaluation_points"] == 50.0 and yi["points"] == 120.0
