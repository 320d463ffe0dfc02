"""整改进度: completion by unit and round as of any date, the progress curve of each round,
the 督办清单, long-term measures apart, and extensions."""

from collections.abc import Callable
from typing import Any

import polars as pl
import streamlit as st

from xuncha import charts, figures, labels, ui
from xuncha.figures.rates import CYCLE_DEFINITION, WARNING_DEFINITION, format_rate
from xuncha.figures.rectification import CURVE_DEFINITION
from xuncha.ui import rectify as ui_rectify
from xuncha.ui.drilldown import chart_findings, round_findings
from xuncha.ui.plotly_charts import clicked_points

reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("整改进度", reader, scope)

RATES = {
    "completion_rate": "整改完成率（严格，按问题）",
    "completion_rate_lenient": "含基本完成的完成率",
    "measure_completion_rate": "措施完成率（按措施）",
}
rate_key = (
    st.segmented_control(
        "完成率口径",
        list(RATES),
        format_func=RATES.__getitem__,
        default="completion_rate",
        key="progress_rate",
        help="默认严格口径：全部措施完成才计为完成。",
    )
    or "completion_rate"
)
figure = figures.DEFINITIONS[rate_key]
st.caption(f"口径：{figure.definition}")

# The page's three groupings of the counts in one query.
figures.prefetch_rectification(reader, scope, ["all", "unit", "round"], medians=["all", "round"])
total = figures.rectification(reader, scope, "all").row(0, named=True)
top = st.columns(3)
bottom = st.columns(3)
with top[0]:
    ui.rate_metric("completion_rate", total)
with top[1]:
    ui.rate_metric("completion_rate_lenient", total)
with top[2]:
    ui.rate_metric("measure_completion_rate", total)
with bottom[0]:
    ui.rate_metric("on_time_rate", total)
with bottom[1]:
    ui.rate_metric("overdue_rate", total)
with bottom[2]:
    cycle = total["cycle_days_median"]
    ui.count_metric(
        "整改周期中位数", "—" if cycle is None else f"{cycle:.1f}", CYCLE_DEFINITION, " 天"
    )

tab_unit, tab_round, tab_curve = st.tabs(["按单位", "按轮次", "整改进度曲线"])
with tab_unit:
    by_unit = figures.rectification(reader, scope, "unit", cycle_median=False)
    if by_unit.is_empty():
        st.warning("当前筛选范围内没有问题。")
    else:
        st.caption(
            f"按{figure.label}排序；n 为问题数，灰色为样本不足（问题少于 "
            f"{figures.MIN_SAMPLE} 个），仅供参考。点击条形查看该单位的问题。"
        )
        chart_units = charts.lowest(by_unit, rate_key)
        if chart_units.height < by_unit.height:
            st.caption(
                f"共 {by_unit.height:,} 个单位，图中显示{figure.label}最低的 "
                f"{charts.RANKING_BARS} 个；完整排名见下表。"
            )
        event = ui.chart(
            charts.rate_ranking,
            chart_units,
            rate_key,
            figure.label,
            key="progress_unit_chart",
            selectable=True,
        )
        # The clicked unit's findings directly under the chart, above the full ranking.
        points = clicked_points(event, "progress_unit_chart")
        picked = charts.clicked_group(points[0]) if points else None
        unit = by_unit.filter(pl.col("group_id").cast(pl.String) == (picked or ""))
        if picked is not None and not unit.is_empty():
            chart_findings(
                reader,
                scope,
                key="progress_unit_drill",
                heading=f"{unit['group_key'][0]} 的问题",
                unit_id=int(unit["group_id"][0]),
            )
        columns = [
            "group_key",
            "findings",
            "findings_done",
            "findings_basically_done",
            "findings_open",
            "measures",
            "measures_done",
            rate_key,
            "on_time_rate",
            "overdue_measures",
            "sample_note",
        ]
        ranked = by_unit.sort(rate_key, descending=True, nulls_last=True)
        table_frame = (
            ranked.select(columns)
            .rename({"group_key": "unit_name"})
            # The name links to 单位全景 (the id is never shown nor exported).
            .with_columns(unit_id=ranked["group_id"].cast(pl.Int64))
        )
        ui.table(table_frame, key="progress_unit_table", height=360)
        ui.downloads(
            table_frame,
            key="dl_progress_unit",
            page="整改进度",
            title="按单位",
            scope=scope,
        )
with tab_round:
    by_round = figures.rectification(reader, scope, "round")
    if not by_round.is_empty():
        event = ui.chart(
            charts.findings_and_completion_by_round,
            by_round,
            key="progress_round_chart",
            selectable=True,
        )
        st.caption(
            "点击柱形查看该轮次该状态的问题，点击折线上的点查看该轮次全部问题；"
            "点击图例可显示或隐藏该项。"
        )
        round_findings(reader, scope, by_round, event, key="progress_round_chart")
        columns = [
            "group_key",
            "units",
            "findings",
            "findings_done",
            "findings_basically_done",
            "findings_open",
            "completion_rate",
            "completion_rate_lenient",
            "measure_completion_rate",
            "on_time_rate",
            "on_time_rate_current",
            "overdue_measures",
            "cycle_days_median",
        ]
        frame = by_round.select(columns).rename({"group_key": "round_name"})
        ui.table(frame, key="progress_round_table")
        ui.downloads(
            frame,
            key="dl_progress_round",
            page="整改进度",
            title="按轮次",
            scope=scope,
        )
with tab_curve:
    step = st.select_slider("取点间隔（天）", [1, 7, 15, 30], value=7, key="progress_step")
    curve = figures.progress_curve(reader, scope, step=step)
    if curve.is_empty():
        st.info("统计截至日尚无已反馈的问题。")
    else:
        curve_rate = (
            "completion_rate_lenient"
            if rate_key == "completion_rate_lenient"
            else "completion_rate"
        )
        ui.chart(charts.progress_curves, curve, curve_rate, key="progress_curve_chart")
        st.caption(CURVE_DEFINITION)


def whole(name: str, columns: tuple[str, ...], **extra: Any) -> Callable[[], pl.DataFrame]:
    """The whole list as the page shows it, queried only when an export button is clicked."""

    def fetch() -> pl.DataFrame:
        frame = reader.query(name, scope.params(limit=None, **extra))
        return labels.status_labels(frame, finding=False).select(*columns)

    return fetch


def total_of(frame: pl.DataFrame) -> int:
    """Rows of the whole list, from the `total` column of its first rows."""
    return int(frame["total"][0]) if frame.height else 0


st.subheader("督办清单")
st.caption(f"统计截至日未完成且有具体时限的措施。{WARNING_DEFINITION}")
# The page fetches only the rows it shows (ui.TABLE_MAX_ROWS at most) and counts the rest in
# SQL; an export queries the whole list when its button is clicked.
COLOURS = {"红": "红", "黄": "黄", "绿": "绿", "正常": ""}  # pill → warning value
colour = st.pills(
    "预警",
    list(COLOURS),
    selection_mode="multi",
    default=["红", "黄", "绿"],
    key="progress_colours",
)
wanted = [COLOURS[c] for c in (colour or [])]
# Counted in SQL (from the current-state summaries on or after settled_on), not from the list.
counts = reader.query("measures_supervision_counts", scope.params()).row(0, named=True)
count = {
    "红": counts["red"],
    "黄": counts["yellow"],
    "绿": counts["green"],
    "正常": counts["normal"],
}
listed = sum(count[c] for c in (colour or []))
sort_note = (
    "可点击表头排序"
    if listed <= ui.TABLE_MAX_ROWS
    else f"按逾期天数排在前 {ui.TABLE_MAX_ROWS:,} 条，点击表头只在这些条目内排序"
)
st.caption(
    f"红 {count['红']:,} 条 ｜ 黄 {count['黄']:,} 条 ｜ 绿 {count['绿']:,} 条"
    f" ｜ 正常 {count['正常']:,} 条；所选预警共 {listed:,} 条，{sort_note}。"
)
SUPERVISION_COLUMNS = labels.SUPERVISION_COLUMNS


shown = reader.query("measures_supervision", scope.params(kinds=wanted, limit=ui.TABLE_MAX_ROWS))
listing = labels.status_labels(shown, finding=False).select(*SUPERVISION_COLUMNS)
event = ui.table(listing, key="progress_supervision", height=400, selectable=True, total=listed)
ui.downloads(
    whole("measures_supervision", SUPERVISION_COLUMNS, kinds=wanted),
    key="dl_supervision",
    page="整改进度",
    title="督办清单",
    scope=scope,
    definitions={
        "逾期": figures.DEFINITIONS["overdue_rate"].definition,
        "预警": WARNING_DEFINITION,
    },
)
row = ui.selected_row(event)
if row is not None and row < shown.height:
    item = shown.row(row, named=True)
    ui.measures_of(
        reader,
        scope,
        int(item["finding_id"]),
        key="progress_supervision_measures",
        heading=f"{item['unit_name']}｜{item['title']}",
    )

# One under the other at full width: in half-width columns the key columns (原定时限,
# 现行时限) fell off the right edge of the table.
st.subheader("长期坚持的措施")
long_term_columns = (
    "unit_name",
    "unit_id",
    "round_name",
    "title",
    "text",
    "deadline_text",
    "status",
    "lead_person",
)
long_term = reader.query("measures_long_term", scope.params(limit=ui.TABLE_MAX_ROWS))
long_term_total = total_of(long_term)
st.caption(f"共 {long_term_total:,} 条；无具体时限的长期坚持措施单列，不计入逾期。")
frame = labels.status_labels(long_term, finding=False).select(*long_term_columns)
ui.table(frame, key="progress_long_term", height=320, total=long_term_total)
ui.downloads(
    whole("measures_long_term", long_term_columns),
    key="dl_long_term",
    page="整改进度",
    title="长期坚持措施",
    scope=scope,
)
st.subheader("延期的措施")
extended_columns = (
    "unit_name",
    "unit_id",
    "deadline_original",
    "deadline",
    "extension_days",
    "status",
    "changed_on",
    "reason",
    "round_name",
    "title",
)
extended = reader.query("measures_extended", scope.params(limit=ui.TABLE_MAX_ROWS))
extended_total = total_of(extended)
st.caption(
    f"共 {extended_total:,} 条；原定时限与现行时限不同的措施。"
    f"按期完成率（现行时限）{format_rate(total['on_time_rate_current'])}，"
    f"原定时限 {format_rate(total['on_time_rate'])}。"
)
frame = labels.status_labels(extended, finding=False).select(*extended_columns)
ui.table(frame, key="progress_extended", height=320, total=extended_total)
ui.downloads(
    whole("measures_extended", extended_columns),
    key="dl_extended",
    page="整改进度",
    title="延期措施",
    scope=scope,
)

ui_rectify.online_section(reader, scope)
