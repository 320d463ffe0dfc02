"""屡查屡犯: repeat findings and 反弹 by round and unit, the chains of rounds per unit and
category, common problems of a round (举一反三), and similar-text suggestions."""

import polars as pl
import streamlit as st

from xuncha import charts, figures, ui
from xuncha.figures.rates import COMMON_DEFINITION, SIMILARITY_DEFINITION
from xuncha.figures.rectification import common_problem_rounds
from xuncha.ui.drilldown import chart_findings, narrowed, round_findings
from xuncha.ui.plotly_charts import clicked_points

reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("屡查屡犯", reader, scope)

# The page's three groupings of the counts in one query.
figures.prefetch_rectification(reader, scope, ["all", "round", "unit"])
total = figures.rectification(reader, scope, "all", cycle_median=False).row(0, named=True)
cols = st.columns(4)
with cols[0]:
    ui.count_metric(
        "重复问题", total["repeat_findings"], figures.DEFINITIONS["repeat_rate"].definition
    )
with cols[1]:
    ui.rate_metric("repeat_rate", total)
with cols[2]:
    ui.count_metric(
        "反弹问题（屡改屡犯）",
        total["rebound_findings"],
        figures.DEFINITIONS["rebound_rate"].definition,
    )
with cols[3]:
    ui.rate_metric("rebound_rate", total)

st.subheader("重复率与反弹率趋势")
by_round = figures.rectification(reader, scope, "round", cycle_median=False)
if by_round.is_empty():
    st.warning("当前筛选范围内没有问题。")
else:
    event = ui.chart(charts.repeat_trend, by_round, key="repeats_trend", selectable=True)
    st.caption(
        "最早轮次没有更早的轮次可比，重复率为 0；“回头看”轮次的重复率通常较高。"
        "点击柱形或重复率上的点查看该轮次的重复问题，点击反弹率上的点查看反弹问题。"
    )
    round_findings(reader, scope, by_round, event, key="repeats_trend")

st.subheader("各单位重复与反弹")
by_unit = figures.rectification(reader, scope, "unit", cycle_median=False).filter(
    pl.col("findings") > 0
)
unit_table = (
    by_unit.sort(["rebound_findings", "repeat_findings"], descending=True)
    .select(
        "group_key",
        "group_id",
        "findings",
        "repeat_findings",
        "repeat_rate",
        "rebound_findings",
        "rebound_rate",
        "sample_note",
    )
    .rename({"group_key": "unit_name"})
    # The name links to 单位全景 (the id is never shown nor exported).
    .with_columns(pl.col("group_id").cast(pl.Int64).alias("unit_id"))
    .drop("group_id")
)
ui.table(unit_table, key="repeats_units", height=300)
ui.downloads(
    unit_table,
    key="dl_repeats_units",
    page="屡查屡犯",
    title="各单位重复与反弹",
    scope=scope,
)

st.subheader("屡查屡犯链条")
st.caption(
    "同一单位在两个及以上轮次被发现同一二级类别问题；“（反弹）”表示此前同类问题已整改完成后再次出现。"
    "重复与反弹对照该单位此前全部轮次判断，不受轮次筛选影响。选中一行查看链条上的全部问题。"
)
# The first rows only (the table shows at most TABLE_MAX_ROWS; a province has ~10^5 chains),
# with how many there are; the downloads read the whole list when clicked.
chains = reader.query("repeat_chains", scope.params(limit=ui.TABLE_MAX_ROWS))
CHAIN_COLUMNS = (
    "unit_name",
    "peer_group",
    "category_l2",
    "l2_name",
    "round_count",
    "chain",
    "findings",
    "rebound_rounds",
    "open_findings",
)
only_rebound = st.toggle("只看有反弹的链条", key="repeats_only_rebound")
chain_total = int(chains["total"][0]) if chains.height else 0
if only_rebound:
    # Chains with a 反弹 come first, so the rows fetched hold the first of them too.
    chains = chains.filter(pl.col("rebound_rounds") > 0)
    chain_total = int(chains["total_rebound"][0]) if chains.height else 0
chain_table = chains.select(CHAIN_COLUMNS)


def all_chains() -> pl.DataFrame:
    every = reader.query("repeat_chains", scope.params(limit=None))
    if only_rebound:
        every = every.filter(pl.col("rebound_rounds") > 0)
    return every.select(CHAIN_COLUMNS)


event = ui.table(
    chain_table,
    key="repeats_chains",
    height=360,
    selectable=True,
    total=chain_total,
    column_config={
        "rebound_rounds": st.column_config.ProgressColumn(
            "反弹轮次数",
            min_value=0,
            max_value=max(int(chains.select(pl.col("rebound_rounds").max()).item() or 1), 1),
            format="%d",
        )
    },
)
ui.downloads(
    chain_table if chain_total <= chain_table.height else all_chains,
    key="dl_chains",
    page="屡查屡犯",
    title="屡查屡犯链条",
    scope=scope,
)
row = ui.selected_row(event)
if row is not None and row < chains.height:
    picked = chains.row(row, named=True)
    st.markdown(
        f"##### {ui.md(picked['unit_name'])}｜{picked['category_l2']} {picked['l2_name']}："
        f"{ui.md(picked['chain'])}"
    )
    ui.findings_drilldown(reader, scope, list(picked["finding_ids"]), key="repeats_chain_drill")

st.subheader("共性问题（举一反三）")
st.caption(COMMON_DEFINITION)
c1, c2, c3 = st.columns([3, 1, 1])
with c2:
    k_min = st.number_input(
        "最少单位数", min_value=1, max_value=100, value=figures.COMMON_K_MIN, key="repeats_k_min"
    )
with c3:
    k_share = st.number_input(
        "最少单位比例(%)",
        min_value=0,
        max_value=100,
        value=int(figures.COMMON_K_SHARE * 100),
        step=5,
        key="repeats_k_share",
    )
# The rounds having common problems first (no unit names); the problems with their units of
# the chosen round only.
common_rounds = common_problem_rounds(
    figures.common_problems(reader, scope, int(k_min), int(k_share) / 100, with_names=False)
)
round_names = common_rounds["round_name"].to_list()
with c1:
    chosen = (
        st.selectbox(
            "轮次", round_names, key="repeats_common_round", placeholder="当前范围内没有共性问题"
        )
        if round_names
        else None
    )
if chosen:
    seq = int(common_rounds.filter(pl.col("round_name") == chosen)["seq"][0])
    part = figures.common_problems(
        reader, scope, int(k_min), int(k_share) / 100, round_from=seq, round_to=seq
    )
    event = ui.chart(charts.common_problem_bars, part, key="repeats_common_chart", selectable=True)
    st.caption("点击条形查看本轮次该类别的问题（列于图下）。")
    points = clicked_points(event, "repeats_common_chart")
    code = charts.clicked_group(points[0]) if points else None
    names = dict(part.select("category_l2", "l2_name").rows())
    if code in names:
        chart_findings(
            reader,
            narrowed(reader, scope, round_seq=seq),
            key="repeats_common_chart_drill",
            heading=f"{chosen}｜{names[code]} 的问题",
            category=code,
        )
    listing = part.select(
        "category_l2",
        "l2_name",
        "units_found",
        "units_inspected",
        "threshold",
        "unit_share",
        "findings",
        "unit_names",
    )
    event = ui.table(listing, key="repeats_common_table", selectable=True)
    ui.downloads(
        part.select(
            "round_name",
            "category_l2",
            "l2_name",
            "units_found",
            "units_inspected",
            "threshold",
            "unit_share",
            "findings",
            "unit_names",
        ),
        key="dl_common",
        page="屡查屡犯",
        title="举一反三清单",
        scope=scope,
        definitions={"共性问题": COMMON_DEFINITION},
        notes=("举一反三：请未被巡察或未发现该问题的单位对照自查。",),
    )
    row = ui.selected_row(event)
    if row is not None and row < part.height:
        cat = part.row(row, named=True)
        ids = (
            reader.query(
                "findings_detail",
                scope.params(unit_id=None, category=cat["category_l2"], limit=1_000_000),
            )
            .filter(pl.col("round_name") == chosen)["finding_id"]
            .to_list()
        )
        ui.findings_drilldown(reader, scope, ids, key="repeats_common_drill")
elif not round_names:
    st.info("按当前阈值，筛选范围内没有共性问题。")

st.subheader("相似问题提示")
st.caption(SIMILARITY_DEFINITION)
units = (
    by_unit.sort("repeat_findings", descending=True)
    .select(pl.col("group_id").cast(pl.Int64), "group_key")
    .rows()
)
# Comparing every unit's texts is cheap for a city, not for a province: above this many
# units the comparison is asked one unit at a time.
ALL_UNITS_LIMIT = 200
unit_names = dict(units)
u1, u2 = st.columns([3, 1])
with u1:
    unit_choice = ui.unit_selectbox(
        "单位",
        unit_names,
        key="repeats_similar_unit",
        none_label="全部单位（最多 200 对）" if len(units) <= ALL_UNITS_LIMIT else None,
        help=f"范围内单位超过 {ALL_UNITS_LIMIT} 个时，请逐个单位比对（默认重复问题最多的单位）。",
    )
with u2:
    threshold = st.slider("最低相似度", 0.2, 0.9, 0.4, 0.05, key="repeats_similar_min")
pairs = reader.query(
    "similar_findings", scope.params(unit_id=unit_choice, min_similarity=threshold, limit=200)
)
if pairs.is_empty():
    st.info("没有达到该相似度的跨轮次、跨类别问题。")
else:
    pair_table = pairs.select(
        "unit_name",
        "round_a",
        "category_a",
        "title_a",
        "round_b",
        "category_b",
        "title_b",
        "similarity",
    )
    event = ui.table(
        pair_table,
        key="repeats_similar_table",
        height=300,
        selectable=True,
        column_config={
            "similarity": st.column_config.ProgressColumn(
                "相似度", min_value=0.0, max_value=1.0, format="%.3f"
            )
        },
    )
    st.caption("仅为提示，供研判是否属于同一问题反复出现；系统不会自动合并或改变类别。")
    row = ui.selected_row(event)
    if row is not None and row < pairs.height:
        pair = pairs.row(row, named=True)
        ui.findings_drilldown(
            reader, scope, [pair["finding_a"], pair["finding_b"]], key="repeats_similar_drill"
        )
