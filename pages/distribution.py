"""问题分布: where problems concentrate — unit × category, category tree, peer groups, top units;
a click on any cell, tile or bar lists the findings behind it directly under that chart, and
the keyword search has its own tab at the top of the page."""

import polars as pl
import streamlit as st

from xuncha import charts, figures, labels, ui
from xuncha.ui.drilldown import chart_findings, narrowed
from xuncha.ui.plotly_charts import clicked_points

reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("问题分布", reader, scope)

categories = reader.query("categories_list")
l1_names = dict(categories.select("category_l1", "l1_name").unique().rows())
l2_names = dict(categories.select("category_l2", "l2_name").rows())
units = reader.query("units_list")
unit_name = dict(units.select("unit_id", "short_name").rows())


def category_name(code: str) -> str:
    return l1_names.get(code) or l2_names.get(code) or code


DETAIL_COLUMNS = (
    "finding_id",
    "round_name",
    "unit_name",
    "category_l2",
    "l2_name",
    "title",
    "detail",
    "severity",
    "status",
    "measures",
    "measures_done",
    "is_repeat",
    "is_rebound",
)

# The keyword search in a tab of its own, reachable at the top rather than below the charts.
tab_charts, tab_search = st.tabs(["分布与下钻", "关键词检索"])
with tab_search:
    text = st.text_input(
        "在具体问题和具体表现中检索",
        key="dist_search",
        max_chars=200,
        placeholder="如：公务接待；多个词以空格分隔，须同时包含",
        help="按字面检索（区分英文大小写），只在当前筛选范围和统计截至日期内检索。",
    )
    try:
        terms = figures.search_terms(text or "")
    except figures.SearchError as exc:
        st.warning(str(exc))
        terms = []
    if terms:
        found = ui.search_findings(reader, scope, terms)
        st.caption("检索词：" + "、".join(f"“{ui.md(t)}”" for t in terms))
        ui.findings_drilldown(
            reader, scope, found[: ui.TABLE_MAX_ROWS], key="dist_search", total=len(found)
        )
        if found:
            ui.downloads(
                lambda: labels.status_labels(
                    reader.query("findings_by_ids", scope.params(finding_ids=found)), finding=True
                ).select(*DETAIL_COLUMNS),
                key="dl_dist_search",
                page="问题分布",
                title="关键词检索_" + "_".join(terms),
                scope=scope,
                notes=("检索词：" + "、".join(terms) + "（须同时包含，按字面匹配）",),
            )

with tab_charts:
    st.subheader("单位 × 问题类别")
    left, right = st.columns([1, 3])
    with left:
        drill_l1 = st.selectbox(
            "下钻到一级类别",
            [None, *l1_names],
            key="dist_drill_l1",
            format_func=lambda c: "不下钻（显示一级类别）" if c is None else l1_names[c],
        )
    with right:
        top_n = st.slider("显示问题最多的单位数", 5, 80, 30, step=5, key="dist_top_n")
    # The cells of the top_n units with most findings in the categories shown (ties broken by
    # unit: the same units on every rerun), chosen in the query: only they are read.
    cells = reader.query(
        "findings_heatmap",
        scope.params(level=2 if drill_l1 else 1, category=drill_l1, limit=top_n),
    )
    if cells.is_empty():
        st.warning("当前筛选范围内没有问题。")
    else:
        event = ui.chart(charts.heatmap, cells, key="dist_heatmap", selectable=True)
        st.caption("点击格子查看该单位该类别的问题（列于图下）。")
        points = clicked_points(event, "dist_heatmap")
        cell = charts.clicked_cell(points[0]) if points else None
        if cell is not None:
            unit_id, code = int(cell[0]), cell[1]
            chart_findings(
                reader,
                scope,
                key="dist_heatmap_drill",
                heading=f"{unit_name.get(unit_id, '')}｜{category_name(code)} 的问题",
                unit_id=unit_id,
                category=code,
            )

    col_tree, col_peer = st.columns(2)
    with col_tree:
        st.subheader("问题类别构成")
        by_cat = reader.query("findings_by_category", scope.params())
        tile = None
        if not by_cat.is_empty():
            event = ui.chart(charts.category_treemap, by_cat, key="dist_treemap", selectable=True)
            st.caption("点击色块查看该类别的问题（列于图下）；点击一级类别可展开其二级类别。")
            points = clicked_points(event, "dist_treemap")
            tile = charts.clicked_category(points[0]) if points else None
    with col_peer:
        st.subheader("行业领域与同类组比较")
        grouping = (
            st.segmented_control(
                "比较维度", ["同类组", "行业领域"], default="同类组", key="dist_density_by"
            )
            or "同类组"
        )
        key = "peer_group" if grouping == "同类组" else "sector"
        density = figures.findings_density(
            reader.query("findings_by_peer_group", scope.params()), key
        )
        group = None
        if not density.is_empty():
            event = ui.chart(
                charts.density_bars, density, key, grouping, key="dist_peer", selectable=True
            )
            st.caption(
                "平均每次巡察问题数 = 问题数 ÷ 已反馈的巡察次数；各组规模与职能不同，宜结合组内比较研判。"
                "点击条形查看该组的问题。"
            )
            points = clicked_points(event, "dist_peer")
            group = charts.clicked_group(points[0]) if points else None
    # Under the two charts (whose columns are too narrow for a list): the findings clicked.
    if tile is not None:
        chart_findings(
            reader,
            scope,
            key="dist_treemap_drill",
            heading=f"{category_name(tile)} 的问题",
            category=tile,
        )
    elif group is not None:
        chart_findings(
            reader,
            narrowed(reader, scope, **{key: group}),
            key="dist_peer_drill",
            heading=f"{grouping}“{group}”的问题",
        )

    st.subheader("问题最多的单位")
    by_unit = figures.rectification(reader, scope, "unit", cycle_median=False).sort(
        "findings", descending=True
    )
    if not by_unit.is_empty():
        top = by_unit.head(15)
        event = ui.chart(charts.top_units, top, key="dist_top_units", selectable=True)
        points = clicked_points(event, "dist_top_units")
        # Apply a bar click once: a later pick in the drill-down must not be overridden by the
        # chart's selection, which Streamlit keeps across reruns.
        clicked = charts.clicked_group(points[0]) if points else None
        if clicked is not None and clicked != st.session_state.get("dist_last_click"):
            match = top.filter(pl.col("group_id").cast(pl.String) == clicked)
            if not match.is_empty():
                st.session_state["dist_unit"] = int(match["group_id"][0])
        st.session_state["dist_last_click"] = clicked
        st.caption(
            f"样本不足：问题少于 {figures.MIN_SAMPLE} 个的单位，其比率仅供参考。"
            "点击条形可在下方问题清单中查看该单位的问题。"
        )

    # Directly under the unit chart, so a bar's click shows its findings next to it.
    st.subheader("问题清单：按单位和类别")
    in_scope_units = by_unit["group_id"].cast(pl.Int64).to_list() if not by_unit.is_empty() else []
    scope_unit_set = set(in_scope_units)
    unit_options = [None, *[u for u in unit_name if u in scope_unit_set]]
    if st.session_state.get("dist_unit") not in unit_options:
        st.session_state["dist_unit"] = None
    cat_options = [None, *l1_names, *categories["category_l2"].to_list()]
    if st.session_state.get("dist_category") not in cat_options:
        st.session_state["dist_category"] = None
    c1, c2 = st.columns(2)
    with c1:
        drill_unit = ui.unit_selectbox(
            "单位",
            {u: unit_name[u] for u in unit_options if u is not None},
            key="dist_unit",
            none_label="全部单位",
        )
    with c2:
        drill_cat = st.selectbox(
            "类别",
            cat_options,
            key="dist_category",
            format_func=lambda c: "全部类别" if c is None else category_name(c),
        )

    def listing(limit: int) -> pl.DataFrame:
        frame = reader.query(
            "findings_detail", scope.params(unit_id=drill_unit, category=drill_cat, limit=limit)
        )
        return labels.status_labels(frame, finding=True).select(*DETAIL_COLUMNS)

    # The page reads the rows it shows; the export reads the whole list when clicked.
    detail = reader.query(
        "findings_detail",
        scope.params(unit_id=drill_unit, category=drill_cat, limit=ui.TABLE_MAX_ROWS),
    )
    total = int(detail["total"][0]) if detail.height else 0
    st.caption(f"共 {total:,} 个问题；选中一行查看其整改措施。")
    shown = labels.status_labels(detail, finding=True).select(*DETAIL_COLUMNS)
    event = ui.table(shown, key="dist_detail", height=360, selectable=True, total=total)
    ui.downloads(
        lambda: listing(max(total, 1)),
        key="dl_dist_detail",
        page="问题分布",
        title="问题清单",
        scope=scope,
    )
    row = ui.selected_row(event)
    if row is not None and row < detail.height:
        finding = detail.row(row, named=True)
        ui.measures_of(
            reader,
            scope,
            int(finding["finding_id"]),
            key="dist_measures",
            heading=f"{finding['unit_name']}｜{finding['title']}",
            detail=finding["detail"],
        )
