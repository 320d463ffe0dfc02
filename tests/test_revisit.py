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

# The rule the hand computations below were made under: the default rule with a lower rebound
# level and list line than the shipped ones, so that every reason shows on a small store.
RULE = RevisitRule(
    **(
        RevisitRule.load(None).values()
        | {"rebound_min_findings": 2, "rebound_min_rate": 10.0, "min_points": 30.0}
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
    # By hand, default rule (evaluation 差 40 / 一般 20 / veto 50; 反弹 ≥ 2 and ≥ 10% → 30;
    # 5 per full 10 points of overdue rate; 10 per full year beyond 2; ecology 下降 15, 差 15):
    # 乙: veto 50 + overdue 1/2 = 50% → 25 + 2021-05-20 → 5 y 1 m → 3 × 10 + ecology 差 15 = 120
    # 甲: 一般 20 + 反弹 2/4 → 30 + overdue 2/4 = 50% → 25 + 17 months → 0 + 下降 15 = 90
    # 戊, 己: 差 40, fed back 2025-01-10 (tie: by name, "=" sorts before 市)
    # 丙: 差 (暂评) 40, fed back 2025-06-30, later than 戊 and 己; one 反弹 only → 0
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
    assert "反弹问题 2 个（占 50.00%），计 30 分" in jia["reasons"]
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
    # basis is R1 and it is marked as under way; 甲's measures (due 2025-06-30) were not due.
    got = listed(reader, fixture, evaluation=None, as_of=D(2025, 3, 31))
    rows = {r["unit_name"]: r for r in got.iter_rows(named=True)}
    jia = rows["市甲局"]
    assert jia["overdue_measures"] == 0
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
        ("[rebound]\nmin_findings = 0\n", "rebound.min_findings 须至少为 1"),
        ("[rebound]\nmin_rate = 120\n", "rebound.min_rate 为百分比"),
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
