"""关注事项: the first screen. What needs attention now (红 and 黄 measures, units with 反弹,
rounds whose rectification period ends soon, findings new since the last briefing) and what
changed since an earlier date, on one tablet screen; each card opens the page that explains
it with the same filters. Every number is the linked page's own (figures.attention)."""

import streamlit as st

from xuncha import figures, ui
from xuncha.figures import attention, periods
from xuncha.filters import Filters
from xuncha.ui import compare

# One screen: less of the page's own top and bottom margin (this page only; style alone takes
# no room on the page).
st.html(
    "<style>[data-testid='stMainBlockContainer']"
    "{padding-top: 2.5rem; padding-bottom: 1rem;}</style>"
)

reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("关注事项", reader, scope)
filters: Filters = st.session_state.get("filters") or Filters()
link_query = filters.to_url()

left, mid, right = st.columns([3, 2, 2], vertical_alignment="bottom")
with left:
    baseline = compare.baseline_picker(
        scope, key="attn_baseline", default_on=True, date_slot=mid.empty()
    )
with right:
    days = st.number_input(
        "临近结束（天）",
        min_value=1,
        max_value=365,
        value=attention.ENDING_DAYS,
        step=1,
        key="attn_days",
        help="列出整改期在统计截至日后这么多天内结束的轮次。",
    )

kpi = figures.overview(reader, scope)
change = compare.changes(reader, scope, kpi, baseline)
# Four cards in a row; the stylesheet wraps them two by two on a tablet or a phone.
cards = st.columns(4)
with cards[0]:
    compare.count_card("发现问题", kpi["findings"], change.get("findings"))
with cards[1]:
    compare.count_card("整改措施", kpi["measures"], change.get("measures"))
with cards[2]:
    compare.rate_card("completion_rate", kpi, change.get("completion_rate"))
with cards[3]:
    compare.count_card(
        "逾期措施",
        kpi["overdue_measures"],
        change.get("overdue_measures"),
        figures.DEFINITIONS["overdue_rate"].definition,
    )

row1 = st.columns(2)
row2 = st.columns(2)
with row1[0], st.container(border=True):
    warn = attention.warnings(reader, scope)
    st.markdown(f"**逾期与临期措施**　:red[红 {warn.red:,} 条]　:orange[黄 {warn.yellow:,} 条]")
    lines = [
        f"- {ui.md(r['unit_name'])}　:red[逾期 {r['days_overdue']:,} 天]"
        for r in warn.top_red.head(2).iter_rows(named=True)
    ] + [
        f"- {ui.md(r['unit_name'])}　:orange[剩 {-r['days_overdue']:,} 天]"
        for r in warn.top_yellow.head(1).iter_rows(named=True)
    ]
    st.markdown("\n".join(lines) if lines else "统计截至日没有逾期或临期措施。")
    st.page_link(
        "pages/progress.py",
        label="查看督办清单（整改进度）",
        icon=":material/task_alt:",
        query_params=link_query,
    )
with row1[1], st.container(border=True):
    rebound = attention.rebounds(reader, scope)
    st.markdown(
        f"**反弹单位**　{rebound.unit_count:,} 个，反弹问题 {rebound.rebound_findings:,} 个"
    )
    lines = [
        f"- {ui.md(r['group_key'])}　反弹 {r['rebound_findings']:,} 个"
        for r in rebound.units.head(2).iter_rows(named=True)
    ]
    st.markdown("\n".join(lines) if lines else "当前范围内没有反弹问题。")
    st.page_link(
        "pages/repeats.py",
        label="查看屡查屡犯",
        icon=":material/replay:",
        query_params=link_query,
    )
with row2[0], st.container(border=True):
    rule = periods.rule_for_store(ui.store().root)
    ending = attention.rounds_ending(reader, scope, rule, int(days))
    st.markdown(f"**整改期将结束的轮次**　{int(days)} 天内 {ending.height} 轮")
    if ending.is_empty():
        later = attention.rounds_ending(reader, scope, rule, None)
        if later.is_empty():
            st.markdown("当前范围内没有整改期未结束的轮次。")
        else:
            first = later.row(0, named=True)
            st.markdown(
                f"- 最近一轮：{ui.md(first['round_name'])}，{first['period_end']} 结束"
                f"（{first['days_left']:,} 天后）"
            )
    else:
        st.markdown(
            "\n".join(
                f"- {ui.md(r['round_name'])}：{r['period_end']} 结束（{r['days_left']:,} 天后）"
                for r in ending.head(attention.TOP).iter_rows(named=True)
            )
        )
    st.page_link(
        "pages/evaluation.py",
        label="查看整改成效评估",
        icon=":material/grading:",
        query_params=link_query,
    )
with row2[1], st.container(border=True):
    briefing_dates = [d for _, _, d in compare.archived_briefings()]
    since = (
        baseline.as_of
        if baseline is not None
        else attention.default_since(scope.as_of, briefing_dates)
    )
    new = attention.new_findings(reader, scope, since)
    st.markdown(f"**新发现问题**　{since.isoformat()} 以来 {new.new:,} 个")
    lines = [
        f"- {ui.md(r['round_name'])}：{r['new']:,} 个"
        for r in new.by_round.head(2).iter_rows(named=True)
    ]
    if new.by_category.height:
        lines.append(
            "- 类别："
            + "、".join(
                f"{ui.md(r['l1_name'] or r['category_l1'])} {r['new']:,}"
                for r in new.by_category.head(attention.TOP).iter_rows(named=True)
            )
        )
    st.markdown("\n".join(lines) if lines else "此后没有新反馈的问题。")
    st.page_link(
        "pages/distribution.py",
        label="查看问题分布",
        icon=":material/grid_on:",
        query_params=link_query,
    )
