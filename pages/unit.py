"""单位全景: one unit across rounds — its inspections and their 整改期, findings by category,
rectification, repeats and 反弹, ecology grades (研判参考), the 整改成效评估, clue counts as
the role allows and the 督办 measures open on the date. Every figure is one the other pages
show (xuncha.figures.unit_profile composes them).

The unit is the sidebar's 单位 filter (the URL's `unit=`, which every unit name in a table
links to); the other filters (rounds, categories, 统计截至) apply. A reader may open only the
units of its scope: any other is refused without a word about it."""

import polars as pl
import streamlit as st

from xuncha import charts, figures, labels, ui
from xuncha import evaluation as effect
from xuncha.auth import VIEW_PAGES
from xuncha.figures import disclosure, periods, unit_profile
from xuncha.figures.periods import PROVISIONAL
from xuncha.figures.rates import WARNING_DEFINITION
from xuncha.filters import Filters

ECOLOGY = figures.ECOLOGY_LABEL

ui.require(VIEW_PAGES)
reader = ui.reader()
filters: Filters = st.session_state.get("filters") or Filters()
allowed = unit_profile.visible_units(reader, ui.access())
names = dict(allowed.select("unit_id", "short_name").rows())


def _pick() -> None:
    """The unit picked here becomes the sidebar's unit filter (and the URL's)."""
    picked = st.session_state.get("unit_page_pick")
    st.session_state["f_unit"] = [] if picked is None else [picked]


asked = filters.unit_ids
unit_id = asked[0] if len(asked) == 1 else None
if unit_id is not None and unit_id not in names:
    ui.record("refused", page="单位全景", unit_id=unit_id)  # as every refusal, in the trail
    st.title("单位全景")
    st.error(unit_profile.REFUSED, icon=":material/block:")
    st.stop()
# Several units in the filter: those this reader may open (a reader confined to rounds is
# offered every unit by the sidebar, but sees only those its rounds inspected).
options = [u for u in asked if u in names] if len(asked) > 1 else list(names)
if unit_id is not None:
    st.session_state["unit_page_pick"] = unit_id
elif st.session_state.get("unit_page_pick") not in options:
    st.session_state.pop("unit_page_pick", None)

scope = ui.current_scope(reader)
ui.page_header("单位全景", reader, scope)
ui.unit_selectbox(
    "单位",
    {u: names[u] for u in options},
    key="unit_page_pick",
    search={u: f"{n} {s}" for u, n, s in allowed.select("unit_id", "name", "short_name").rows()},
    index=None,
    on_change=_pick,
    placeholder="请选择单位",
    help="即侧栏的“单位”筛选；表格中的单位名称也可直接点击打开。",
)
if unit_id is None:
    st.info("请选择一个单位查看其历次巡察、问题、整改、屡查屡犯、政治生态与线索情况。")
    st.stop()

unit = allowed.filter(pl.col("unit_id") == unit_id).row(0, named=True)
st.markdown(
    f"### {ui.md(unit['name'])}\n"
    f"行业领域：{ui.md(unit['sector'])} ｜ 同类组：{ui.md(unit['peer_group'])}"
)
root = ui.store().root
rule = periods.rule_for_store(root)
visits = unit_profile.inspections(reader, scope, rule)
total = figures.rectification(reader, scope, "all", cycle_median=False).row(0, named=True)
clues = disclosure.totals(reader, scope)["clues"] if visits.height else None
cols = st.columns(5)
with cols[0]:
    ui.count_metric("被巡察次数", visits.height, "筛选范围内、截至统计日已进驻的巡察")
with cols[1]:
    ui.count_metric("发现问题", total["findings"], "统计截至日已反馈的问题")
with cols[2]:
    ui.rate_metric("completion_rate", total)
with cols[3]:
    ui.count_metric(
        "逾期措施", total["overdue_measures"], figures.DEFINITIONS["overdue_rate"].definition
    )
with cols[4]:
    ui.count_metric(
        "问题线索",
        "—" if clues is None else clues.text,
        "无线索详情权限时按区间显示（每次巡察不足 3 条记为“<3”）",
    )
if visits.is_empty():
    st.info("筛选范围内该单位截至统计日没有巡察。")
    st.stop()

st.subheader("历次巡察与整改期")


def _period(ended: str, end: str) -> pl.Expr:
    """The 整改期 in words: not fed back yet, ended (on), or running (until)."""
    return (
        pl.when(~pl.col("fed_back"))
        .then(pl.lit("尚未反馈"))
        .when(pl.col(ended))
        .then(pl.format("已结束（{}）", pl.col(end)))
        .otherwise(pl.format("整改期内（至 {}）", pl.col(end)))
    )


visit_table = visits.select(
    "round_name",
    pl.col("kind").alias("轮次类型"),
    pl.col("group_name").alias("巡察组"),
    pl.col("entry_start").alias("进驻开始"),
    pl.col("entry_end").alias("进驻结束"),
    "feedback_date",
    _period("finished", "period_end").alias("本单位整改期"),
    _period("round_finished", "round_period_end").alias("该轮整改期"),
)
ui.table(visit_table, key="unit_visits")
st.caption(rule.describe())

st.subheader("问题分布（按一级类别）")
by_l1 = unit_profile.findings_by_l1(reader, scope, visits)
findings = unit_profile.findings_table(by_l1)
ui.table(findings, key="unit_findings")

st.subheader("整改情况（按轮次）")
by_round = unit_profile.rectification_by_round(reader, scope)
if by_round.is_empty():
    st.info("筛选范围内该单位没有问题。")
else:
    ui.chart(charts.findings_and_completion_by_round, by_round, key="unit_by_round")
    rect_table = by_round.select(
        "group_key",
        "findings",
        "findings_done",
        "findings_basically_done",
        "findings_open",
        "completion_rate",
        "completion_rate_lenient",
        "measures",
        "overdue_measures",
        "measures_long_term",
        "on_time_rate",
        "sample_note",
    ).rename({"group_key": "round_name"})
    ui.table(rect_table, key="unit_rectification")
    ui.downloads(
        rect_table,
        key="dl_unit_rect",
        page="单位全景",
        title=f"{unit['short_name']}整改情况",
        scope=scope,
    )
    st.caption("整改完成率口径：" + figures.DEFINITIONS["completion_rate"].definition)

    st.subheader("屡查屡犯")
    repeat_table = by_round.select(
        "group_key",
        "findings",
        "repeat_findings",
        "repeat_rate",
        "rebound_findings",
        "rebound_rate",
    ).rename({"group_key": "round_name"})
    ui.table(repeat_table, key="unit_repeats")
    chains = unit_profile.repeat_chains(reader, scope)
    if chains.is_empty():
        st.caption("筛选范围内该单位没有在两轮及以上被发现的同一二级类别问题。")
    else:
        st.caption("同一二级类别问题在哪些轮次被发现（反弹轮次已标注）：")
        ui.table(
            chains.select(
                "category_l2",
                "l2_name",
                "round_count",
                "chain",
                "findings",
                "rebound_rounds",
                "open_findings",
            ),
            key="unit_chains",
        )
    st.caption(
        f"重复：{figures.DEFINITIONS['repeat_rate'].definition} "
        f"反弹：{figures.DEFINITIONS['rebound_rate'].definition}"
    )

st.subheader(f"政治生态（{ECOLOGY}）")
# On the whole scope (the unit filter lifted): each unit is scored within its peer group.
wide = ui.resolver(reader)(filters.with_(unit_ids=()))
config = figures.config_for_store(root)
all_trend = ui.figure(figures.score_trend, reader, wide, config, rule=rule)
trend = unit_profile.ecology_rows(all_trend, unit_id)
if trend.is_empty():
    st.info("筛选范围内该单位没有可研判的巡察。")
else:
    ui.chart(charts.ecology_trend, trend, title=f"各轮得分（{ECOLOGY}）", key="unit_eco_trend")
    ui.table(
        trend.select(
            "round_name",
            "grade_label",
            "score",
            "peer_rank",
            pl.col("badges").list.join("；").alias("badges"),
            "findings",
            "label",
        ),
        key="unit_ecology",
        column_config={"score": st.column_config.NumberColumn(format="%.2f")},
    )
    st.caption(
        f"各轮分别与同类组比较；整改期未结束的轮次等次为“{PROVISIONAL}”。仅供研判参考，不代替组织判断。"
    )
    latest = trend.row(-1, named=True)
    peers = unit_profile.peer_rows(all_trend, int(latest["round_id"]), latest["peer_group"])
    st.markdown(f"**同类组各单位（{ui.md(latest['round_name'])}，{ECOLOGY}）**")
    ui.table(
        peers.select("unit_id", "unit_name", "peer_rank", "grade_label", "score", "findings"),
        key="unit_peers",
        height=300,
        column_config={"score": st.column_config.NumberColumn(format="%.2f")},
    )

st.subheader(effect.LABEL)
graded = unit_profile.evaluation_rows(ui.figure(effect.grades, reader, wide), unit_id)
if graded.is_empty():
    st.info(f"该单位在筛选范围内尚无{effect.LABEL}。")
else:
    ui.table(
        graded.select(
            "round_name",
            pl.col("score").alias("评估得分"),
            pl.col("grade").fill_null("—").alias("评估等次"),
            pl.col("provisional").replace_strict({True: PROVISIONAL, False: "—"}).alias("暂评"),
            pl.col("note").alias("说明"),
        ),
        key="unit_evaluation",
        column_config={"评估得分": st.column_config.NumberColumn(format="%.2f")},
    )

st.subheader("问题线索")
clue_rows = unit_profile.clues_by_round(reader, scope)
clue_table = visits.select("round_id", "round_name").join(clue_rows, on="round_id", how="inner")
ui.table(
    clue_table.select(
        "round_name", pl.col("clues").alias("线索数"), pl.col("persons").alias("涉及人数")
    ),
    key="unit_clues",
)
if not scope.clue_details:
    st.caption("线索数量按区间显示（每次巡察不足 3 条的记为“<3”），明细仅限案件办理人员。")

st.subheader("督办：未完成的有时限措施")
listing = unit_profile.supervision(reader, scope, ui.TABLE_MAX_ROWS)
st.caption(f"统计截至日未完成且有具体时限的措施，逾期最久的在前。{WARNING_DEFINITION}")
if listing.is_empty():
    st.success("统计截至日没有未完成的有时限措施。")
else:
    ui.table(
        labels.status_labels(listing, finding=False).select(
            c
            for c in labels.SUPERVISION_COLUMNS
            if c not in ("unit_name", "unit_id", "finding_id")  # one unit's page
        ),
        key="unit_supervision",
        height=360,
    )
