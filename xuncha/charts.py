"""Frames in, plotly figures out (graph_objects: several times cheaper to build than express).

Charts compute nothing: every number they show comes from `xuncha.figures` or a named query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
import polars as pl

from xuncha.labels import round_label

# A ranking of thousands of bars helps nobody: beyond this many groups, charts show the lowest
# this many and say so (the full ranking stays in the table beside them).
RANKING_BARS = 60


def lowest(frame: pl.DataFrame, rate: str) -> pl.DataFrame:
    """The groups a rate ranking draws: all of them up to RANKING_BARS, else the lowest
    RANKING_BARS by `rate` (ties by group_key, so the cut is the same on every run)."""
    if frame.height <= RANKING_BARS:
        return frame
    return frame.sort([rate, "group_key"], nulls_last=True).head(RANKING_BARS)


def clicked_group(point: Mapping[str, Any]) -> str | None:
    """The group_id (unit, round …) of a clicked bar of a chart that keeps it as the last
    value of each bar's customdata (`rate_ranking`, `top_units`): a bar's label is for
    reading and may hold anything a unit's name holds, its id is what a click stands for."""
    data = point.get("customdata")
    if isinstance(data, list | tuple) and data:
        value = data[-1]
        return None if value is None else str(value)
    return None


def clicked_status(point: Mapping[str, Any]) -> str | None:
    """The first value of a clicked point's customdata when it is a code naming what the
    point's trace stands for (DONE, OPEN, repeat, rebound …), else None."""
    data = point.get("customdata")
    if isinstance(data, list | tuple) and len(data) >= 2 and data[0]:
        return str(data[0])
    return None


def clicked_cell(point: Mapping[str, Any]) -> tuple[str, str] | None:
    """(unit id, category code) of a clicked cell of `heatmap`: the cell's customdata starts
    with them (its axes show names, which need not be unique)."""
    data = point.get("customdata")
    if isinstance(data, list | tuple) and len(data) >= 2 and None not in data[:2]:
        return str(data[0]), str(data[1])
    return None


def clicked_category(point: Mapping[str, Any]) -> str | None:
    """The category code (level 1 or 2) of a clicked tile of `category_treemap`: Streamlit
    hands a treemap click back with the tile's id (L1-B, L2-B01), not its customdata."""
    tile = point.get("id")
    if isinstance(tile, str) and tile[:3] in ("L1-", "L2-"):
        return tile[3:]
    return None


def short(name: str, most: int = 10) -> str:
    """A name cut for an axis tick (the whole name and its code are in the hover)."""
    return name if len(name) <= most else name[: most - 1] + "…"


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
    """Stacked findings by status per round, with the strict completion rate as a line.
    Each bar's customdata is (finding status, round id): a click on a bar stands for that
    round's findings of that status (what its legend entry means), on the line for all the
    round's findings (`clicked_group`, `clicked_status`)."""
    x = [round_label(name) for name in frame["group_key"].to_list()]
    ids = frame["group_id"].cast(pl.String).to_list()
    fig = go.Figure()
    for column, label, status in (
        ("findings_done", "已完成", "DONE"),
        ("findings_basically_done", "基本完成", "BASICALLY_DONE"),
        ("findings_open", "未完成", "OPEN"),
    ):
        fig.add_trace(
            go.Bar(
                x=x,
                y=frame[column].to_list(),
                name=label,
                marker_color=STATUS_COLOURS[label],
                customdata=[[status, i] for i in ids],
                hovertemplate="%{x}<br>" + label + "：%{y} 个<br>点击查看这些问题<extra></extra>",
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
            customdata=[["", i] for i in ids],
            hovertemplate="%{x}<br>整改完成率：%{y:.2f}%<extra></extra>",
        )
    )
    # Bars use the lower part of the plot, the rate line the upper part: labels never collide.
    top = max([1, *frame["findings"].to_list()])
    return _layout(
        fig,
        barmode="stack",
        yaxis={"title": "问题数", "range": [0, top * 1.9]},
        yaxis2={
            "title": "完成率(%)",
            "overlaying": "y",
            "side": "right",
            "range": [-80, 112],
            "tickvals": [0, 20, 40, 60, 80, 100],
            "showgrid": False,
        },
        height=420,
    )


def heatmap(frame: pl.DataFrame, *, title: str = "") -> go.Figure:
    """Units (rows) × categories (columns) from a long frame unit_id, unit_name, category,
    category_name, findings: names on the axes, codes in the hover.

    A plotly heatmap sends no click to Streamlit (its cells cannot be selected), so each cell
    also holds an invisible square marker of a scatter trace: hover and click always go to
    the nearest marker (hoverdistance -1), i.e. the cell under the pointer, and a clicked
    cell hands back (unit id, category code) as its customdata (`clicked_cell`)."""
    if frame.is_empty():
        return _layout(go.Figure(), title=title)
    if "unit_id" not in frame.columns:
        frame = frame.with_columns(pl.col("unit_name").alias("unit_id"))
    frame = frame.with_columns(pl.col("unit_id").cast(pl.String))
    totals = frame.group_by("unit_id").agg(
        pl.col("findings").sum().alias("total"), pl.col("unit_name").first()
    )
    ordered = totals.sort(["total", "unit_id"], descending=[False, True])
    order = ordered["unit_id"].to_list()
    unit_names = dict(ordered.select("unit_id", "unit_name").rows())
    categories = sorted(frame["category"].unique().to_list())
    names = dict(frame.select("category", "category_name").unique("category").rows())
    cat_names = [names.get(c) or c for c in categories]
    wide = frame.pivot(on="category", index="unit_id", values="findings").fill_null(0)
    for c in categories:
        if c not in wide.columns:
            wide = wide.with_columns(pl.lit(0).alias(c))
    wide = pl.DataFrame({"unit_id": order}).join(wide, on="unit_id", how="left").fill_null(0)
    z = wide.select(categories).to_numpy()
    cells = [
        (unit, code, unit_names[unit], name, int(z[i][j]))
        for i, unit in enumerate(order)
        for j, (code, name) in enumerate(zip(categories, cat_names, strict=True))
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=categories,
            y=order,
            colorscale="Reds",
            hoverinfo="skip",
            xgap=1,
            ygap=1,
            colorbar={"title": "问题数"},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[c[1] for c in cells],
            y=[c[0] for c in cells],
            mode="markers",
            marker={"symbol": "square-open", "size": 14, "color": "rgba(0,0,0,0)"},
            # The clicked cell is outlined (Streamlit keeps the selection).
            selected={"marker": {"color": "#212121", "opacity": 1}},
            customdata=cells,
            hovertemplate="%{customdata[2]}<br>%{customdata[3]}（%{customdata[1]}）"
            "<br>问题数：%{customdata[4]}<br>点击查看这些问题<extra></extra>",
            showlegend=False,
        )
    )
    return _layout(
        fig,
        title=title,
        height=max(360, 22 * len(order) + 140),
        # Room above the names on top for the chart's toolbar, which would cover them.
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        hoverdistance=-1,
        xaxis={
            "side": "top",
            "type": "category",
            "tickvals": categories,
            "ticktext": [short(n) for n in cat_names],
            "showgrid": False,
        },
        yaxis={
            "type": "category",
            "tickvals": order,
            "ticktext": [unit_names[u] for u in order],
            "showgrid": False,
        },
    )


def category_treemap(frame: pl.DataFrame) -> go.Figure:
    """Level 1 → level 2 treemap from findings_by_category: names on the tiles, codes in the
    hover. Streamlit hands a tile's click back with its id (`clicked_category`)."""
    l1 = frame.group_by("category_l1", "l1_name").agg(pl.col("findings").sum()).sort("category_l1")
    ids = [f"L1-{c}" for c in l1["category_l1"]] + [f"L2-{c}" for c in frame["category_l2"]]
    labels = l1["l1_name"].to_list() + frame["l2_name"].to_list()
    codes = l1["category_l1"].to_list() + frame["category_l2"].to_list()
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
            customdata=codes,
            textinfo="label+value",
            textfont={"size": 14},
            hovertemplate="%{label}（%{customdata}）<br>问题数：%{value}"
            "<br>占比：%{percentRoot:.1%}<br>点击查看这些问题<extra></extra>",
        )
    )
    return _layout(fig, height=460, margin={"l": 0, "r": 0, "t": 10, "b": 0})


def density_bars(frame: pl.DataFrame, key: str, label: str) -> go.Figure:
    """Findings per inspection for each group (peer group or sector), densest at top."""
    part = frame.sort("findings_per_inspection")
    fig = go.Figure(
        go.Bar(
            x=part["findings_per_inspection"].to_list(),
            y=part[key].to_list(),
            orientation="h",
            marker_color="#1565c0",
            text=[f"{v:.1f}" for v in part["findings_per_inspection"].to_list()],
            textposition="outside",
            # The group last: what a click stands for (clicked_group).
            customdata=part.select("inspections", "findings", "units", key).rows(),
            hovertemplate="%{y}<br>平均每次巡察问题数：%{x:.1f}<br>问题 %{customdata[1]} 个 / "
            "巡察 %{customdata[0]} 次 / 单位 %{customdata[2]} 个<extra></extra>",
        )
    )
    return _layout(
        fig,
        height=max(300, 26 * part.height + 80),
        xaxis={"title": f"平均每次巡察问题数（按{label}）"},
        yaxis={"automargin": True},
    )


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
            # The group id last: what a click stands for (clicked_group).
            customdata=part.select("completion_rate", "overdue_measures", "group_id").rows(),
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


def rate_ranking(frame: pl.DataFrame, rate: str, label: str) -> go.Figure:
    """Horizontal bars of a rate per group, lowest at the top (what needs attention first),
    n and 样本不足 in the label."""
    part = frame.sort(rate, descending=True, nulls_last=False)
    labels = [
        f"{k}（n={n}{'，样本不足' if s else ''}）"
        for k, n, s in part.select("group_key", "findings", "small_sample").rows()
    ]
    colours = ["#bdbdbd" if s else "#1565c0" for s in part["small_sample"].to_list()]
    values = part[rate].to_list()
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colours,
            text=[f"{v:.2f}%" if v is not None else "—" for v in values],
            textposition="outside",
            customdata=part.select("group_id").rows(),  # what a click stands for (clicked_group)
            hovertemplate="%{y}<br>" + label + "：%{x:.2f}%<extra></extra>",
        )
    )
    return _layout(
        fig,
        height=max(320, 22 * part.height + 80),
        xaxis={"title": label, "range": [0, 110]},
        yaxis={"automargin": True},
    )


def progress_curves(frame: pl.DataFrame, rate: str = "completion_rate") -> go.Figure:
    """One line per round: completion (%) against days since 反馈, as far as the rows go (each
    round's rows stop where its cohort is complete: queries/rectification_curve.sql). The hover
    gives the numerator of the rate drawn over the round's findings."""
    done = pl.col("findings_done")
    if rate == "completion_rate_lenient":
        done = done + pl.col("findings_basically_done")
    fig = go.Figure()
    for name in frame["round_name"].unique(maintain_order=True).to_list():
        part = frame.filter(pl.col("round_name") == name)
        fig.add_trace(
            go.Scatter(
                x=part["day"].to_list(),
                y=part[rate].to_list(),
                # A round whose last unit was fed back on the as-of date has one point.
                mode="lines" if part.height > 1 else "markers",
                name=name,
                customdata=part.select(done, "findings").rows(),
                hovertemplate=name + "<br>反馈后第 %{x} 天：%{y:.2f}%"
                "<br>%{customdata[0]} / %{customdata[1]}<extra></extra>",
            )
        )
    return _layout(
        fig,
        height=420,
        xaxis={"title": "反馈后天数"},
        yaxis={"title": "完成率(%)", "range": [0, 105]},
        legend={"orientation": "v", "x": 1.02, "y": 1},
    )


def repeat_trend(frame: pl.DataFrame) -> go.Figure:
    """Repeat and 反弹 rates by round (lines) with repeat counts (bars)."""
    x = [round_label(name) for name in frame["group_key"].to_list()]
    ids = frame["group_id"].cast(pl.String).to_list()
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=frame["repeat_findings"].to_list(),
            name="重复问题数",
            marker_color="#ffcc80",
            yaxis="y2",
            # (what the trace stands for, round id): clicked_status, clicked_group.
            customdata=[["repeat", i] for i in ids],
            hovertemplate="%{x}<br>重复问题：%{y} 个<br>点击查看这些问题<extra></extra>",
        )
    )
    for column, label, colour, kind in (
        ("repeat_rate", "重复率(%)", "#ef6c00", "repeat"),
        ("rebound_rate", "反弹率(%)", "#b71c1c", "rebound"),
    ):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=frame[column].to_list(),
                name=label,
                mode="lines+markers",
                line={"color": colour},
                customdata=[[kind, i] for i in ids],
                hovertemplate="%{x}<br>" + label + "：%{y:.2f}%<br>点击查看这些问题<extra></extra>",
            )
        )
    return _layout(
        fig,
        height=380,
        yaxis={"title": "比率(%)", "rangemode": "tozero"},
        yaxis2={
            "title": "问题数",
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "rangemode": "tozero",
        },
        xaxis={"tickangle": -20},
    )


def common_problem_bars(frame: pl.DataFrame) -> go.Figure:
    """Units found per common category of one round, against its threshold k."""
    part = frame.sort("units_found")
    codes = part["category_l2"].to_list()
    fig = go.Figure(
        go.Bar(
            x=part["units_found"].to_list(),
            y=codes,
            orientation="h",
            marker_color="#6a1b9a",
            text=[
                f"{u}/{t} 个单位" for u, t in part.select("units_found", "units_inspected").rows()
            ],
            textposition="outside",
            # The code last: what a click stands for (clicked_group).
            customdata=part.select("l2_name", "category_l2").rows(),
            hovertemplate="%{customdata[0]}（%{customdata[1]}）<br>发现单位数：%{x}"
            "<br>点击查看这些问题<extra></extra>",
        )
    )
    if part.height:
        fig.add_vline(
            x=int(part["threshold"][0]),
            line_dash="dash",
            line_color="#757575",
            annotation_text=f"k = {int(part['threshold'][0])}",
        )
    return _layout(
        fig,
        height=max(300, 28 * part.height + 80),
        xaxis={"title": "发现该类问题的单位数"},
        # Names on the axis (codes in the hover); the codes keep equal names apart.
        yaxis={
            "automargin": True,
            "type": "category",
            "tickvals": codes,
            "ticktext": part["l2_name"].to_list(),
        },
    )


# -- political ecology (研判参考) ----------------------------------------------------------

GRADE_COLOURS = {
    "好": "#2e7d32",
    "较好": "#1565c0",
    "一般": "#f9a825",
    "差": "#c62828",
    "样本不足": "#bdbdbd",
    "无法评分": "#bdbdbd",
}


def ecology_radar(frame: pl.DataFrame, *, title: str = "") -> go.Figure:
    """The dimension scores (0–100) of one unit, from `Scorecards.dimensions` rows
    (dimension_name, score); a dimension the unit lacks is drawn at the centre and marked."""
    names = [f"{n}（{d}）" for d, n in frame.select("dimension", "dimension_name").rows()]
    scores = frame["score"].to_list()
    shown = [0.0 if s is None else s for s in scores]
    text = ["未计入" if s is None else f"{s:.2f}" for s in scores]
    fig = go.Figure(
        go.Scatterpolar(
            r=[*shown, shown[0]] if shown else [],
            theta=[*names, names[0]] if names else [],
            text=[*text, text[0]] if text else [],
            fill="toself",
            name="维度得分",
            line={"color": "#1565c0"},
            hovertemplate="%{theta}：%{text}<extra>研判参考</extra>",
        )
    )
    return _layout(
        fig,
        title=title,
        height=380,
        polar={"radialaxis": {"range": [0, 100], "tickvals": [0, 25, 50, 75, 100]}},
        showlegend=False,
    )


def ecology_trend(frame: pl.DataFrame, *, title: str = "") -> go.Figure:
    """A unit's score round by round (from `score_trend`), the grade as text; rounds where it
    was 样本不足 show no score."""
    x = [round_label(n) for n in frame["round_name"].to_list()]
    scores = frame["score"].to_list()
    small = frame["small_sample"].to_list()
    y = [None if s else v for v, s in zip(scores, small, strict=True)]
    grades = frame["grade_label"].to_list()
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="lines+markers+text",
            text=[g or "" for g in grades],
            textposition="top center",
            marker={"color": [GRADE_COLOURS.get(g or "", "#757575") for g in grades], "size": 10},
            line={"color": "#607d8b"},
            customdata=grades,
            hovertemplate="%{x}<br>得分：%{y:.2f}<br>等次：%{customdata}<extra>研判参考</extra>",
        )
    )
    return _layout(
        fig,
        title=title,
        height=340,
        yaxis={"title": "得分（研判参考）", "range": [0, 105]},
        xaxis={"type": "category"},
        showlegend=False,
    )


def ecology_matrix(frame: pl.DataFrame, grades: list[str], trends: list[str]) -> go.Figure:
    """Units counted by grade (rows) × trend against the previous round (columns), from a
    frame of unit_name, grade_label, trend; the hover lists the units."""
    z: list[list[int]] = []
    names: list[list[str]] = []
    for grade in grades:
        row_z, row_n = [], []
        for trend in trends:
            part = frame.filter((pl.col("grade_label") == grade) & (pl.col("trend") == trend))
            row_z.append(part.height)
            units = part["unit_name"].to_list()
            row_n.append(
                "、".join(units[:12]) + (f" 等 {len(units)} 个" if len(units) > 12 else "")
            )
        z.append(row_z)
        names.append(row_n)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=trends,
            y=grades,
            text=z,
            texttemplate="%{text}",
            customdata=names,
            colorscale="Blues",
            xgap=2,
            ygap=2,
            hovertemplate="%{y} ｜ %{x}<br>单位数：%{z}<br>%{customdata}<extra>研判参考</extra>",
            colorbar={"title": "单位数"},
        )
    )
    return _layout(
        fig,
        height=max(260, 50 * len(grades) + 100),
        xaxis={"side": "top", "type": "category"},
        yaxis={"type": "category", "autorange": "reversed"},
    )


def count_bars(labels: list[str], values: list[int], *, x_title: str = "问题数") -> go.Figure:
    """Horizontal bars of counts, largest at the top, the count beside each bar (briefing
    charts: long Chinese category names stay readable on paper)."""
    fig = go.Figure(
        go.Bar(
            x=values[::-1],
            y=labels[::-1],
            orientation="h",
            text=values[::-1],
            textposition="outside",
            marker_color="#1565c0",
        )
    )
    top = max(values, default=0)
    return _layout(
        fig,
        height=max(240, 44 * len(labels) + 80),
        xaxis={"title": x_title, "range": [0, top * 1.15 + 1]},
        yaxis={"automargin": True},
    )
