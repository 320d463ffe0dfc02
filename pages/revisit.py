"""回头看候选: the units to revisit, ranked by the stated rule (xuncha.figures.revisit), each
with its reasons and their figures, as of the scope's date; exported as the list and as the
draft plan of a new round (下一轮巡察计划（草案）). The 整改成效评估 grades come from
xuncha.evaluation; while no unit in scope has one the page says so."""

from __future__ import annotations

import streamlit as st

from xuncha import evaluation as effect
from xuncha import export, figures, ui
from xuncha.figures import periods, revisit_export
from xuncha.figures.revisit import evaluation_note, revisit_candidates
from xuncha.figures.revisit_rule import RevisitRule, RevisitRuleError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("回头看候选", reader, scope)
root = ui.store().root
try:
    rule = RevisitRule.for_store(root)
    period_rule = periods.rule_for_store(root)
except (RevisitRuleError, figures.EcologyConfigError, periods.PeriodConfigError) as exc:
    st.error(f"回头看排序规则无法使用：{exc}", icon=":material/error:")
    st.stop()

st.caption(
    "每个单位以其在筛选范围内、截至统计日整改期已结束的最近一次巡察为依据，按下列规则计分排序："
    "整改期内回头看没有意义，只有尚在整改期内巡察的单位不列入；依据之后还有巡察尚在整改期内的，"
    "在“其后尚在整改期内的巡察”一栏标注。名单供研究确定回头看对象参考，不代替组织决定。"
)
with st.expander("排序规则", expanded=False):
    for line in rule.describe():
        st.markdown(f"- {ui.md(line)}")
    st.markdown(f"- {ui.md(period_rule.describe())}")
    where = "本数据仓的配置" if rule.source != "默认规则" else "内置默认规则"
    st.caption(f"规则来源：{where}")

evaluation = ui.figure(effect.grades, reader, scope)
note = evaluation_note(evaluation)
if note:
    st.info(note, icon=":material/info:")

trend = ui.figure(figures.score_trend, reader, scope, figures.config_for_store(root))
candidates = revisit_candidates(reader, scope, rule, evaluation=evaluation, ecology_trend=trend)

cols = st.columns(3)
with cols[0]:
    ui.count_metric("回头看候选", candidates.height, unit=" 个")
with cols[1]:
    revisited = int(candidates["revisited"].is_not_null().sum())
    ui.count_metric("其中已回头看", revisited, "最近一次巡察之后已安排回头看轮次的单位", " 个")
with cols[2]:
    top = float(candidates["points"].max() or 0) if candidates.height else 0.0
    ui.count_metric("最高分", f"{top:g}", unit=" 分")

if candidates.is_empty():
    st.info("当前筛选范围内没有达到列入分数的单位。")
    st.stop()

ui.table(revisit_export.candidate_table(candidates), key="revisit_list", height=480)
# The reasons are the point of the list, and too long for a table cell: each unit's in full.
with st.expander("各单位列入理由", expanded=True):
    st.markdown(
        "\n".join(
            f"{row['rank']}. **{ui.md(row['unit_name'])}**（{row['points']:g} 分）："
            + ui.md("；".join(row["reasons"]))
            + (f"（{ui.md(row['in_period'])}）" if row.get("in_period") else "")
            for row in candidates.iter_rows(named=True)
        )
    )

scope_text = st.session_state.get("filters_text") or "全部"
who = ui.user_name()
notes = (note,) if note else ()
stem = export.file_name("回头看候选名单", scope_text, "", scope.as_of).rstrip(".")
row = st.container(horizontal=True)
with row:
    ui.file_download(
        "导出名单与计划草案（Excel）",
        lambda: revisit_export.workbook(
            candidates,
            rule_lines=rule.describe(),
            scope=scope_text,
            as_of=scope.as_of,
            user=who,
            notes=notes,
        ),
        f"{stem}.xlsx",
        mime=XLSX,
        key="revisit_xlsx",
        icon=":material/table_view:",
        rows=candidates.height,
        rule_digest=rule.digest(),
    )
    ui.file_download(
        "导出名单（CSV）",
        lambda: revisit_export.to_csv(candidates),
        f"{stem}.csv",
        mime="text/csv",
        key="revisit_csv",
        icon=":material/download:",
        rows=candidates.height,
        rule_digest=rule.digest(),
    )
