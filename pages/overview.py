"""总览: headline figures, findings and completion by round, the most overdue measures."""

import streamlit as st

from xuncha import charts, figures, labels, ui
from xuncha.ui import compare
from xuncha.ui.drilldown import fit_height, round_findings

reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("总览", reader, scope)

# The page's two groupings of the counts in one query (the totals and the rounds' chart).
figures.prefetch_rectification(reader, scope, ["all", "round"])
kpi = figures.overview(reader, scope)
# The change of each card against an earlier date or briefing, when one is chosen.
pick, _ = st.columns([2, 3])
with pick:
    baseline = compare.baseline_picker(scope, key="overview_baseline", default_on=False)
change = compare.changes(reader, scope, kpi, baseline)
row1 = st.columns(5)
with row1[0]:
    compare.count_card("巡察轮次", kpi["rounds"], change.get("rounds"))
with row1[1]:
    compare.count_card(
        "被巡察单位",
        kpi["units_inspected"],
        change.get("units_inspected"),
        f"巡察 {kpi['inspections']:,} 次",
    )
with row1[2]:
    compare.count_card(
        "发现问题", kpi["findings"], change.get("findings"), "统计截至日已反馈的问题"
    )
with row1[3]:
    compare.count_card("整改措施", kpi["measures"], change.get("measures"))
with row1[4]:
    compare.rate_card("completion_rate", kpi, change.get("completion_rate"))
row2 = st.columns(5)
with row2[0]:
    compare.count_card(
        "逾期措施",
        kpi["overdue_measures"],
        change.get("overdue_measures"),
        figures.DEFINITIONS["overdue_rate"].definition,
    )
with row2[1]:
    compare.count_card(
        "长期坚持措施",
        kpi["measures_long_term"],
        change.get("measures_long_term"),
        "单列统计，不计入逾期",
    )
with row2[2]:
    # Exact only with clue rights; otherwise as disclosure control allows (DOMAIN.md §7).
    clues, persons = kpi["clues"], kpi["clue_persons"]
    note = "" if clues.exact and persons.exact else "；无线索详情权限时按区间显示"
    compare.count_card("问题线索", clues.text, change.get("clues"), f"涉及 {persons.text} 人{note}")
with row2[3]:
    compare.count_card(
        "建章立制", kpi["regulations"], change.get("regulations"), "新建或修订制度数", " 项"
    )
with row2[4]:
    compare.count_card(
        "挽回资金（万元）",
        f"{float(kpi['funds_wan']):,.2f}",
        change.get("funds_wan"),
        "清退、追缴、挽回资金",
    )

st.subheader("各轮次问题与整改完成率")
by_round = figures.rectification(reader, scope, "round", cycle_median=False)
if by_round.is_empty():
    st.warning("当前筛选范围内没有问题。")
else:
    event = ui.chart(
        charts.findings_and_completion_by_round, by_round, key="overview_by_round", selectable=True
    )
    st.caption(
        "点击柱形查看该轮次该状态的问题，点击折线上的点查看该轮次全部问题；"
        "点击图例可显示或隐藏该项。"
    )
    round_findings(reader, scope, by_round, event, key="overview_by_round")
    cols = [
        "group_key",
        "findings",
        "findings_done",
        "findings_basically_done",
        "findings_open",
        "completion_rate",
        "completion_rate_lenient",
        "overdue_measures",
        "measures_not_due",
        "on_time_rate",
    ]
    round_table = by_round.select(cols).rename({"group_key": "round_name"})
    ui.table(round_table, key="overview_round_table")
    ui.downloads(
        round_table,
        key="dl_overview_rounds",
        page="总览",
        title="各轮次整改情况",
        scope=scope,
    )
    st.caption("整改完成率口径：" + figures.DEFINITIONS["completion_rate"].definition)
    # A round still inside its rectification time reads low; say so rather than let it alarm.
    for row in by_round.iter_rows(named=True):
        if figures.mostly_not_due(row):
            open_measures = row["measures"] - row["measures_done"]
            st.caption(
                f"{ui.md(labels.round_label(row['group_key']))}：未完成的 {open_measures:,} 条措施中 "
                f"{row['measures_not_due']:,} 条尚在整改时限内，完成率偏低属正常进度。"
            )

st.subheader("督办：逾期最久的整改措施")
overdue = reader.query("measures_supervision", scope.params(kinds=["红"], limit=15))
if overdue.is_empty():
    st.success("统计截至日没有逾期措施。")
else:
    overdue_table = (
        labels.status_labels(overdue, finding=False)
        .select(
            "unit_name",
            "unit_id",
            "deadline",
            "days_overdue",
            "status",
            "lead_person",
            "department",
            "title",
            "text",
            "round_name",
        )
        .rename({"days_overdue": "overdue_days"})
    )
    red = reader.query("measures_supervision_counts", scope.params()).row(0, named=True)["red"]
    st.caption(
        f"逾期天数最多的 {overdue_table.height:,} 条；逾期（红色预警）措施共 {red:,} 条，"
        "完整清单见“整改进度”页的督办清单。"
    )
    ui.table(
        overdue_table,
        key="overview_overdue",
        # Tall enough for every row: the default height shows ten and hides the rest.
        height=fit_height(overdue_table.height),
        column_config={"overdue_days": st.column_config.NumberColumn("逾期天数", format="%d 天")},
    )
    ui.downloads(
        overdue_table,
        key="dl_overview_overdue",
        page="总览",
        title="逾期最久的措施",
        scope=scope,
        definitions={"逾期": figures.DEFINITIONS["overdue_rate"].definition},
    )
