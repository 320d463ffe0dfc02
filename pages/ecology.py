"""政治生态研判: the peer-group scorecards of DOMAIN.md §6 for one round of the scope, a unit's
profile (dimensions, score across rounds, the explanation and the rows behind it), units by
grade and trend, and the configuration in use (read-only here: an administrator changes it on
the 研判配置 page, pages/ecology_config.py). Every score is 研判参考."""

import dataclasses
from typing import Any

import polars as pl
import streamlit as st

from xuncha import charts, figures, ui
from xuncha.auth import EDIT_CONFIG
from xuncha.figures import ecology_names, ecology_stability, periods
from xuncha.figures.ecology import (
    GRADES,
    ID_KINDS,
    SMALL_SAMPLE,
    TRENDS,
    ExplanationItem,
)
from xuncha.figures.periods import PROVISIONAL

LABEL = figures.ECOLOGY_LABEL

reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("政治生态研判", reader, scope)
st.warning(
    f"**{LABEL}**：本页所有得分、等次和排名仅供研判参考，用于辅助分析判断，不代替组织判断，"
    "不作为考核结论。",
    icon=":material/balance:",
)
with st.expander("计算方法（研判参考）"):
    st.markdown(ui.md(figures.ECOLOGY_METHOD))
    st.markdown(ui.md(periods.rule_for_store(ui.store().root).describe()))

config = figures.config_for_store(ui.store().root)
# Named by its version and date (研判配置 第3版（…修改）), never by its digest.
config_name = ecology_names.config_name(ui.store().root, config)
rounds = reader.query("ecology_rounds", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of})
if rounds.is_empty():
    st.info("当前筛选范围内没有截至统计日已反馈的巡察，无法研判。")
    st.stop()

rule = periods.rule_for_store(ui.store().root)
finished = periods.finished_rounds(reader, scope.ids_param(), scope.as_of, rule)
round_ids = rounds["round_id"].cast(pl.Int64).to_list()
round_row = {int(r["round_id"]): r for r in rounds.iter_rows(named=True)}
default_round = figures.default_ecology_round(rounds, finished)
if st.session_state.get("eco_round") not in round_ids:
    st.session_state.pop("eco_round", None)
round_id = st.selectbox(
    "研判轮次",
    round_ids,
    index=round_ids.index(default_round),
    format_func=lambda r: (
        f"{round_row[r]['round_name']}（{round_row[r]['inspections']} 个单位"
        f"{'，整改期已结束' if r in finished else f'，整改期未结束，等次为{PROVISIONAL}'}）"
    ),
    key="eco_round",
    help="默认为整改期已结束的最近一轮；没有时为最近一轮。整改期未结束的轮次，等次标注“暂评”。"
    + rule.describe(),
)
chosen = round_row[int(round_id)]
round_scope = dataclasses.replace(scope, inspection_ids=tuple(chosen["inspection_ids"]))
cards = ui.figure(figures.scorecards, reader, round_scope, config, rule=rule)
ranking = figures.peer_ranking(cards)
units = cards.units
# Every round of the scope scored on its own: the unit's trend and the grade × trend matrix.
trend_all = ui.figure(figures.score_trend, reader, scope, config, rule=rule)
if int(round_id) not in finished:
    st.info(
        f"{ui.md(chosen['round_name'])}的整改期尚未结束，各单位等次为“{PROVISIONAL}”，"
        "会随整改进展变化；最终等次在整改期结束后评定。",
        icon=":material/hourglass_top:",
    )

st.subheader(f"同类组排名（{LABEL}）")
st.caption(
    f"{ui.md(chosen['round_name'])}｜按等次、再按得分排序；问题少于 {config.min_findings} 个的单位为"
    f"“{SMALL_SAMPLE}”，不评等次、不排名，列在各组最后。徽标为封顶规则。"
    f"所用配置：{config_name}。"
)
counts = dict(
    units.with_columns(pl.col("grade").fill_null(pl.col("grade_label")))
    .group_by("grade")
    .len()
    .rows()
)
status = f"，{PROVISIONAL}" if int(round_id) not in finished else ""
# Bare numbers (单位数 in the caption): six cards a row still show them on a tablet; every
# grade's label keeps 研判参考.
st.caption("各等次单位数（个）")
cols = st.columns(len(GRADES) + 1)
for col, grade in zip(cols, [*GRADES, SMALL_SAMPLE], strict=True):
    with col:
        ui.count_metric(f"{grade}（{LABEL}{status}）", int(counts.get(grade, 0)))

shown_ranking = ranking.select(
    "peer_group",
    "peer_rank",
    "unit_name",
    "unit_id",  # the name links to 单位全景
    "grade_label",
    "score",
    pl.col("badges").list.join("；").alias("badges"),
    "findings",
    "peer_rated",
    "label",
)
ui.table(
    shown_ranking,
    key="eco_ranking",
    height=420,
    column_config={
        "score": st.column_config.NumberColumn(format="%.2f"),
        # "反弹率超过75%·最高较好" and the like, whole.
        "badges": st.column_config.TextColumn(width="large"),
    },
)
ui.downloads(
    shown_ranking,
    key="dl_eco_ranking",
    page="政治生态研判",
    title=f"{chosen['round_name']}同类组排名（{LABEL}）",
    scope=round_scope,
    definitions={LABEL: figures.ECOLOGY_METHOD, "整改期": rule.describe()},
    notes=(
        f"{LABEL}：仅供研判参考，不代替组织判断。",
        f"轮次：{chosen['round_name']}；所用配置：{config_name}。",
    ),
)

# -- unit profile ------------------------------------------------------------------------

st.subheader(f"单位画像（{LABEL}）")
unit_ids = units["unit_id"].to_list()
unit_label = {
    u: f"{n}（{g}）" for u, n, g in units.select("unit_id", "unit_name", "peer_group").rows()
}
if st.session_state.get("eco_unit") not in unit_ids:
    st.session_state.pop("eco_unit", None)
unit_id = ui.unit_selectbox("单位", unit_label, key="eco_unit")
if unit_id is not None:
    unit = units.filter(pl.col("unit_id") == unit_id).row(0, named=True)

    def _explained(rd: Any, sc: Any, unit: int, cfg: Any, rl: Any, details: bool) -> Any:
        # `cards` are those of (sc, cfg, rl), all in ui.figure's key: the explanation is kept
        # per unit, not recomputed (per unit of the round, in Python) on every rerun.
        return figures.explain_score(rd, sc, unit, config=cfg, cards=cards, clue_details=details)

    explanation = ui.figure(
        _explained, reader, round_scope, int(unit_id), config, rule, ui.clue_details()
    )
    m1, m2, m3, m4 = st.columns(4)
    with m1:
        ui.count_metric(f"得分（{LABEL}）", "—" if unit["small_sample"] else f"{unit['score']:.2f}")
    with m2:
        ui.count_metric(f"等次（{LABEL}）", unit["grade_label"])
    with m3:
        rank = unit["peer_rank"]
        ui.count_metric("同类组排名", "—" if rank is None else f"{rank} / {unit['peer_rated']}")
    with m4:
        ui.count_metric("问题数", int(unit["findings"]))
    if unit["badges"]:
        st.markdown(" ".join(f":orange-badge[{ui.md(b)}]" for b in unit["badges"]))
    st.info(ui.md(explanation.summary), icon=":material/insights:")
    # Two grades or more since the previous inspection: which indicators moved (the trend is
    # passed as it is, not through ui.figure's cache key).

    def _moved(rd: Any, sc: Any, rid: int, unit: int, cfg: Any, rl: Any, details: bool) -> Any:
        # `trend_all` is score_trend of (sc, cfg, rl), all in ui.figure's key.
        return ecology_stability.explain_movement(
            rd, sc, rid, unit, config=cfg, rule=rl, trend=trend_all, clue_details=details
        )

    moved = ui.figure(
        _moved, reader, scope, int(round_id), int(unit_id), config, rule, ui.clue_details()
    )
    if moved is not None:
        st.warning(ui.md(moved.text), icon=":material/swap_vert:")

    left, right = st.columns(2)
    with left:
        dims = cards.dimensions.filter(pl.col("unit_id") == unit_id)
        ui.chart(charts.ecology_radar, dims, title=f"五个维度得分（{LABEL}）", key="eco_radar")
    with right:
        mine = trend_all.filter(pl.col("unit_id") == unit_id)
        ui.chart(
            charts.ecology_trend,
            mine,
            title=f"各轮得分（{LABEL}，各轮分别与同类组比较）",
            key="eco_unit_trend",
        )

    st.markdown(f"**得分解释（{LABEL}）**")
    items = [*explanation.lowered, *explanation.lifted, *explanation.neutral]
    items += list(explanation.unavailable)

    def evidence(item: ExplanationItem) -> str:
        if not item.id_kind or item.count_text == "0":
            return "—"
        noun = ID_KINDS[item.id_kind]
        if item.id_kind == "clue":  # exact, or as disclosure control shows it
            return f"{noun} {item.count_text} 条"
        return f"{noun} {item.id_count} 个"

    explain_table = pl.DataFrame(
        {
            "effect": [i.effect for i in items],
            "indicator_name": [i.name for i in items],
            "dimension_name": [config.dimensions[i.dimension].label for i in items],
            "normalised": [i.normalised for i in items],
            "contribution": [i.contribution for i in items],
            "evidence": [evidence(i) for i in items],
            "label": [LABEL] * len(items),
        },
        schema={
            "effect": pl.String,
            "indicator_name": pl.String,
            "dimension_name": pl.String,
            "normalised": pl.Float64,
            "contribution": pl.Float64,
            "evidence": pl.String,
            "label": pl.String,
        },
    )
    ui.table(
        explain_table,
        key="eco_explain",
        column_config={
            "normalised": st.column_config.NumberColumn(format="%.2f"),
            "contribution": st.column_config.NumberColumn(format="%+.2f"),
        },
    )
    for heading, group in (("拉低得分", explanation.lowered), ("提升得分", explanation.lifted)):
        if group:
            st.markdown(f"**{heading}**")
            st.markdown("\n".join(f"- {ui.md(i.text)}" for i in group))
    if explanation.caps:
        st.markdown("**封顶与样本**")
        st.markdown("\n".join(f"- {ui.md(c.text)}" for c in explanation.caps))
    st.caption(
        "问题线索只显示条数（每次巡察不足 3 条的记为“<3”，合计以区间表示），明细仅限案件办理人员。"
    )

    # The findings behind each indicator or cap that has them (measure, inspection and clue
    # ids stay in the text above; clue ids are never shown without a case role).
    behind = [
        (i.name, i.ids)
        for i in (*explanation.lowered, *explanation.lifted)
        if i.id_kind == "finding" and i.ids
    ] + [(c.badge, c.ids) for c in explanation.caps if c.id_kind == "finding" and c.ids]
    if behind:
        picked = st.selectbox(
            "查看背后的问题",
            range(len(behind)),
            format_func=lambda k: f"{behind[k][0]}（{len(behind[k][1])} 个问题）",
            key="eco_drill_indicator",
        )
        if picked is not None and picked < len(behind):
            ui.findings_drilldown(reader, round_scope, list(behind[picked][1]), key="eco_drill")


# -- grade × trend -----------------------------------------------------------------------

st.subheader(f"等次与变化（{LABEL}）")
st.caption(
    "各单位在所选轮次的等次，与其上一次被巡察时（范围内更早的轮次，各轮分别与同类组比较）的等次相比："
    "好转、持平或下降；任一轮样本不足或无法评分为“无法比较”。"
)
matrix = figures.grade_movement(trend_all, int(round_id))
grade_rows = [*GRADES, SMALL_SAMPLE]
grade_rows += [g for g in matrix["grade_label"].unique().to_list() if g not in grade_rows]
ui.chart(charts.ecology_matrix, matrix, grade_rows, list(TRENDS), key="eco_matrix")
ui.table(
    matrix.sort(
        pl.col("trend").replace_strict({t: i for i, t in enumerate(TRENDS)}),
        pl.col("_now"),
        "unit_name",
        nulls_last=True,
    ).select(
        "unit_name",
        "unit_id",
        "peer_group",
        "grade_label",
        pl.when(pl.col("small_sample")).then(None).otherwise(pl.col("score")).alias("score"),
        "previous_round",
        "previous_grade",
        "trend",
        "label",
    ),
    key="eco_matrix_table",
    height=300,
    column_config={"score": st.column_config.NumberColumn(format="%.2f")},
)

# -- configuration (read-only) -------------------------------------------------------------

editable = ui.can(EDIT_CONFIG)
with st.expander("当前使用的配置" + ("" if editable else "（只读）")):
    st.caption(
        "权重、等次线和封顶规则来自配置，不写在代码里；每个得分都记录所用的配置版本。"
        + (
            "你是管理员，可在“研判配置”页修改并保存，修改记入审计日志。"
            if editable
            else "修改配置仅限管理员。"
        )
    )
    if editable:
        st.page_link("pages/ecology_config.py", label="修改研判配置", icon=":material/tune:")
    st.markdown(f"所用配置：{ui.md(config_name)}")
    weights = pl.DataFrame(
        {
            "dimension_name": [s.label for s in config.dimensions.values()],
            "weight": [float(config.weights[d]) for d in config.dimensions],
        }
    )
    ui.table(weights, key="eco_config_weights")
    g = config.grades
    caps = config.caps
    st.markdown(
        f"等次线：好 ≥ {g['good']:g}，较好 ≥ {g['fairly_good']:g}，一般 ≥ {g['average']:g}，"
        f"其余为差。封顶：第四种形态最高{ui.md(caps['fourth_form'])}；反弹率超过 "
        f"{caps['rebound_rate_above']:g}% 且反弹问题不少于 {caps['rebound_findings_at_least']} 个最高"
        f"{ui.md(caps['rebound'])}；逾期率超过 {caps['overdue_rate_above']:g}% 最高"
        f"{ui.md(caps['overdue'])}。问题少于 {config.min_findings} 个为{SMALL_SAMPLE}。"
        f"小同类组收缩参数 k = {config.shrinkage_k:g}（同类组占 n ÷ (n + k)）。"
    )
    ui.table(
        pl.DataFrame(
            {
                "indicator_name": [s.label for s in config.indicators.values()],
                "dimension_name": [
                    config.dimensions[s.dimension].label for s in config.indicators.values()
                ],
                "direction_label": [s.direction_label for s in config.indicators.values()],
                "enabled": ["是" if s.enabled else "否" for s in config.indicators.values()],
                "detail": [s.help for s in config.indicators.values()],
            }
        ).rename({"enabled": "启用", "detail": "说明"}),
        key="eco_config_indicators",
    )
