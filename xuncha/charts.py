"""Frames in, plotly figures out (graph_objects: several times cheaper to build than express).

Charts compute nothing: every number they show comes from `xuncha.figures` or a named query.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

FONT = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
STATUS_COLOURS = {"已完成": "#2e7d32", "基本完成": "#f9a825", "未完成": "#c62828"}
L1_COLOURS = {"A": "#b71c1c", "B": "#1565c0", "C": "#2e7d32", "D": "#6a1b9a", "Z": "#757575"}


def _layout(fig: go.Figure, *, height: int = 360, **extra: object) -> go.Figure:
    layout: dict[str, object] = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "font": {"family": FONT, "size": 13},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        "hoverlabel": {"font": {"family": FONT}},
    }
    fig.update_layout(**(layout | extra))
    return fig


def findings_and_completion_by_round(frame: pl.DataFrame) -> go.Figure:
    """Stacked findings by status per round, with the strict completion rate as a line."""
    x = frame["group_key"].to_list()
    fig = go.Figure()
    for column, label in (
        ("findings_done", "已完成"),
        ("findings_basically_done", "基本完成"),
        ("findings_open", "未完成"),
    ):
        fig.add_trace(
            go.Bar(
                x=x,
                y=frame[column].to_list(),
                name=label,
                marker_color=STATUS_COLOURS[label],
                hovertemplate="%{x}<br>" + label + "：%{y} 个<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=frame["completion_rate"].to_list(),
            name="整改完成率(%)",
            yaxis="y2",
            mode="lines+markers+text",
            text=[f"{v:.2f}%" if v is not None else "" for v in frame["completion_rate"].to_list()],
            textposition="top center",
            line={"color": "#37474f"},
            hovertemplate="%{x}<br>整改完成率：%{y:.2f}%<extra></extra>",
        )
    )
    return _layout(
        fig,
        barmode="stack",
        yaxis={"title": "问题数"},
        yaxis2={
            "title": "完成率(%)",
            "overlaying": "y",
            "side": "right",
            "range": [0, 105],
            "showgrid": False,
        },
        xaxis={"tickangle": -20},
        height=400,
    )


def heatmap(frame: pl.DataFrame, *, title: str = "") -> go.Figure:
    """Units (rows) × categories (columns) from a long frame unit_name, category, findings."""
    if frame.is_empty():
        return _layout(go.Figure(), title=title)
    totals = frame.group_by("unit_name").agg(pl.col("findings").sum().alias("total"))
    order = totals.sort(["total", "unit_name"], descending=[False, True])["unit_name"].to_list()
    categories = sorted(frame["category"].unique().to_list())
    names = dict(frame.select("category", "category_name").unique("category").rows())
    wide = frame.pivot(on="category", index="unit_name", values="findings").fill_null(0)
    wide = wide.join(pl.DataFrame({"unit_name": order}).with_row_index("o"), on="unit_name")
    wide = wide.sort("o")
    for c in categories:
        if c not in wide.columns:
            wide = wide.with_columns(pl.lit(0).alias(c))
    z = wide.select(categories).to_numpy()
    labels = [f"{c} {names.get(c) or ''}".strip() for c in categories]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=labels,
            y=wide["unit_name"].to_list(),
            colorscale="Reds",
            hovertemplate="%{y}<br>%{x}<br>问题数：%{z}<extra></extra>",
            xgap=1,
            ygap=1,
            colorbar={"title": "问题数"},
        )
    )
    return _layout(
        fig,
        title=title,
        height=max(360, 22 * len(order) + 120),
        xaxis={"side": "top", "tickangle": -30},
    )


def category_treemap(frame: pl.DataFrame) -> go.Figure:
    """Level 1 → level 2 treemap from findings_by_category."""
    l1 = frame.group_by("category_l1", "l1_name").agg(pl.col("findings").sum()).sort("category_l1")
    ids = [f"L1-{c}" for c in l1["category_l1"]] + [f"L2-{c}" for c in frame["category_l2"]]
    labels = [f"{c} {n}" for c, n in l1.select("category_l1", "l1_name").rows()] + [
        f"{c} {n}" for c, n in frame.select("category_l2", "l2_name").rows()
    ]
    parents = [""] * l1.height + [f"L1-{c}" for c in frame["category_l1"]]
    values = l1["findings"].to_list() + frame["findings"].to_list()
    colours = [L1_COLOURS.get(c, "#999") for c in l1["category_l1"]] + [
        L1_COLOURS.get(c, "#999") for c in frame["category_l1"]
    ]
    fig = go.Figure(
        go.Treemap(
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="total",
            marker={"colors": colours},
            textinfo="label+value+percent root",
            hovertemplate="%{label}<br>问题数：%{value}<br>占比：%{percentRoot:.1%}<extra></extra>",
        )
    )
    return _layout(fig, height=460, margin={"l": 0, "r": 0, "t": 10, "b": 0})


def peer_group_density(frame: pl.DataFrame) -> go.Figure:
    """Findings per inspection by sector, one trace per peer group."""
    fig = go.Figure()
    for group in frame["peer_group"].unique(maintain_order=True).to_list():
        part = frame.filter(pl.col("peer_group") == group)
        fig.add_trace(
            go.Bar(
                x=part["sector"].to_list(),
                y=part["findings_per_inspection"].to_list(),
                name=group,
                customdata=part.select("inspections", "findings").rows(),
                hovertemplate="%{x}（" + group + "）<br>平均每次巡察问题数：%{y:.1f}"
                "<br>问题 %{customdata[1]} 个 / 巡察 %{customdata[0]} 次<extra></extra>",
            )
        )
    return _layout(fig, barmode="group", yaxis={"title": "平均每次巡察问题数"}, height=380)


def top_units(frame: pl.DataFrame) -> go.Figure:
    """Horizontal bars: findings per unit, with n and completion in the hover."""
    part = frame.reverse()
    labels = [
        f"{k}{'（样本不足）' if s else ''}"
        for k, s in part.select("group_key", "small_sample").rows()
    ]
    fig = go.Figure(
        go.Bar(
            x=part["findings"].to_list(),
            y=labels,
            orientation="h",
            marker_color="#c62828",
            text=part["findings"].to_list(),
            textposition="outside",
            customdata=part.select("completion_rate", "overdue_measures").rows(),
            hovertemplate="%{y}<br>问题数：%{x}<br>整改完成率：%{customdata[0]:.2f}%"
            "<br>逾期措施：%{customdata[1]}<extra></extra>",
        )
    )
    return _layout(
        fig,
        height=max(300, 26 * part.height + 80),
        xaxis={"title": "问题数"},
        yaxis={"automargin": True},
    )
