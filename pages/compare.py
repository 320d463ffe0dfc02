"""对比分析: two rounds side by side (findings by L1 category, per-unit counts, completion at
the same number of days after 反馈) and two 统计截至 dates side by side (the overview's KPI set
and the by-round rectification table, with the differences). Every number is the one its
own page shows for that round or date (figures.attention)."""

import datetime as dt

import polars as pl
import streamlit as st

from xuncha import figures, ui
from xuncha.figures import attention
from xuncha.figures.rates import format_rate
from xuncha.figures.rectification import CURVE_DEFINITION

reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("对比分析", reader, scope)

tab_rounds, tab_dates = st.tabs(["两个轮次", "两个日期"])

with tab_rounds:
    by_round = figures.rectification(reader, scope, "round", cycle_median=False)
    if by_round.height < 2:
        st.info("当前筛选范围内截至统计日已反馈的轮次不足两个，无法对比。")
    else:
        ids = [int(i) for i in by_round["group_id"].to_list()]
        names = dict(zip(ids, by_round["group_key"].to_list(), strict=True))
        c1, c2 = st.columns(2)
        with c1:
            round_a = st.selectbox(
                "轮次甲", ids, index=len(ids) - 2, format_func=names.__getitem__, key="cmp_a"
            )
        with c2:
            round_b = st.selectbox(
                "轮次乙", ids, index=len(ids) - 1, format_func=names.__getitem__, key="cmp_b"
            )
        if round_a == round_b:
            st.info("请选择两个不同的轮次。")
        else:
            a = attention.round_side(reader, scope, int(round_a))
            b = attention.round_side(reader, scope, int(round_b))
            ages = [x for x in (a.age, b.age) if x is not None]
            younger = min(ages) if ages else 0
            day = st.slider(
                "反馈后天数",
                min_value=0,
                max_value=max([*ages, 1]),
                value=younger,
                key="cmp_day",
                help="两轮在反馈后同一天数的整改完成率（整改进度曲线上的点）；默认为较新一轮目前的天数。",
            )

            def at_day(side: attention.RoundSide) -> str:
                value = side.completion_at(day)
                if value is None:
                    return f"尚未到第 {day} 天"
                return format_rate(value)

            summary = pl.DataFrame(
                {
                    "指标": [
                        "被巡察单位",
                        "发现问题",
                        "整改措施",
                        "整改完成率（统计截至日）",
                        f"反馈后第 {day} 天整改完成率",
                        "逾期措施",
                        "反弹问题",
                    ],
                    a.round_name: [
                        str(a.totals["units"]),
                        f"{a.totals['findings']:,}",
                        f"{a.totals['measures']:,}",
                        format_rate(a.totals["completion_rate"]),
                        at_day(a),
                        f"{a.totals['overdue_measures']:,}",
                        f"{a.totals['rebound_findings']:,}",
                    ],
                    b.round_name: [
                        str(b.totals["units"]),
                        f"{b.totals['findings']:,}",
                        f"{b.totals['measures']:,}",
                        format_rate(b.totals["completion_rate"]),
                        at_day(b),
                        f"{b.totals['overdue_measures']:,}",
                        f"{b.totals['rebound_findings']:,}",
                    ],
                }
            )
            ui.table(summary, key="cmp_summary", raw=True)
            st.caption(CURVE_DEFINITION)

            st.markdown("##### 问题类别（一级）")
            cats = attention.categories_side_by_side(a, b).rename(
                {
                    "a": f"{a.round_name}问题数",
                    "b": f"{b.round_name}问题数",
                    "diff": "差值（乙−甲）",
                }
            )
            ui.table(cats, key="cmp_categories")
            ui.downloads(
                cats,
                key="dl_cmp_categories",
                page="对比分析",
                title="两轮问题类别对比",
                scope=scope,
            )

            st.markdown("##### 各单位")
            left, right = st.columns(2)
            for column, side, key in ((left, a, "a"), (right, b, "b")):
                with column:
                    st.caption(ui.md(side.round_name))
                    ui.table(side.by_unit, key=f"cmp_units_{key}", height=320)
                    ui.downloads(
                        side.by_unit,
                        key=f"dl_cmp_units_{key}",
                        page="对比分析",
                        title=f"{side.round_name}各单位",
                        scope=scope,
                    )

with tab_dates:
    d1, d2 = st.columns(2)
    with d1:
        date_a = st.date_input(
            "日期甲",
            value=scope.as_of - dt.timedelta(days=180),
            max_value=dt.date.today(),
            min_value=dt.date(2000, 1, 1),
            format="YYYY-MM-DD",
            key="cmp_date_a",
        )
    with d2:
        date_b = st.date_input(
            "日期乙（默认统计截至）",
            value=scope.as_of,
            max_value=dt.date.today(),
            min_value=dt.date(2000, 1, 1),
            format="YYYY-MM-DD",
            key="cmp_date_b",
        )
    if date_a == date_b:
        st.info("请选择两个不同的日期。")
    elif isinstance(date_a, dt.date) and isinstance(date_b, dt.date):
        a_text, b_text = date_a.isoformat(), date_b.isoformat()
        kpis = attention.kpi_at_dates(reader, scope, date_a, date_b).rename(
            {"figure": "指标", "a": a_text, "b": b_text, "diff": "差值（乙−甲）"}
        )
        st.markdown("##### 总览指标")
        ui.table(kpis, key="cmp_kpis", raw=True)
        st.caption(
            "比率的差值以百分点计；无线索详情权限时问题线索按区间显示，不列数值。"
            "各数按所选日期的状态回溯计算。"
        )
        ui.downloads(
            kpis, key="dl_cmp_kpis", page="对比分析", title="两个日期总览指标", scope=scope
        )
        st.markdown("##### 各轮次整改情况")
        rounds = attention.rounds_at_dates(reader, scope, date_a, date_b)
        heads = {
            "findings": "问题数",
            "findings_done": "已完成",
            "completion_rate": "整改完成率(%)",
            "overdue_measures": "逾期措施",
            "on_time_rate": "按期完成率(%)",
        }
        renamed = {"round_name": "轮次"}
        for col, head in heads.items():
            renamed |= {
                f"{col}_a": f"{head}·{a_text}",
                f"{col}_b": f"{head}·{b_text}",
                f"{col}_diff": f"{head}·差值",
            }
        rounds_table = rounds.rename(renamed)
        ui.table(rounds_table, key="cmp_rounds", raw=True)
        ui.downloads(
            rounds_table,
            key="dl_cmp_rounds",
            page="对比分析",
            title="两个日期各轮次整改情况",
            scope=scope,
        )
