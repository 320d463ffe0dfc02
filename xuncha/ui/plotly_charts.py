"""Charts on a page: the figures of xuncha.charts drawn with st.plotly_chart, their data text
escaped so it never draws as markup, their dicts made once per kept figure, and the points a
user selects given back as the data hold them.

Every chart is a way in: a click on a bar, point, heatmap cell or treemap tile reruns the page
with that chart's selection, and the page lists the findings behind it directly under the
chart (`clicked_points`). Legend clicks stay plotly's own (they show or hide a trace in the
browser and never reach Streamlit); what a legend entry stands for is reached by clicking a
bar or point of that trace, which each chart's builder makes mean exactly that."""

from __future__ import annotations

import contextlib
import functools
import html
import importlib
import re
from collections.abc import Mapping
from typing import Any

import streamlit as st

from xuncha.ui import chinese, page_record
from xuncha.ui.data import built_figure

# plotly imports pandas lazily while building the first figure; two sessions doing that at
# once race on the half-initialised module ("partially initialized module 'pandas'"), seen
# in the load test. Import it once here, where it is installed.
with contextlib.suppress(ImportError):
    importlib.import_module("pandas")


def selected_points(event: Any) -> list[dict[str, Any]]:
    """The points selected on a chart, with the text as the data hold it (charts are drawn
    with their text escaped: `_inert_figure`). Streamlit's event is a dict with attribute
    access; a selection given through st.session_state (as AppTest sets it) is a plain dict."""
    try:
        if isinstance(event, Mapping):
            points = list(event["selection"]["points"])
        else:
            points = list(event.selection.points)
    except (AttributeError, KeyError, TypeError):
        return []
    return [_unescaped(dict(p)) if isinstance(p, Mapping) else p for p in points]


# The key of the chart clicked last in this session (set by its on_select callback, before
# the page reruns): only that chart shows the findings behind its selection, so one click
# gives one result, under the chart clicked, whatever the other charts still hold selected.
LAST_CLICKED = "_chart_clicked_last"


def _note_click(key: str) -> None:
    st.session_state[LAST_CLICKED] = key


def clicked_points(event: Any, key: str) -> list[dict[str, Any]]:
    """The points selected on chart `key` when its result is the one to show: it was the
    chart clicked last, or the chart clicked last holds no selection any more (deselected, or
    on another page), or no click was recorded (a selection set through st.session_state)."""
    points = selected_points(event)
    last = st.session_state.get(LAST_CLICKED)
    if not points or last in (None, key):
        return points
    try:
        other = st.session_state[last]
    except (KeyError, AttributeError):
        return points
    return [] if selected_points(other) else points


def _unescaped(value: Any) -> Any:
    if isinstance(value, str):
        return html.unescape(value)
    if isinstance(value, list | tuple):
        return [_unescaped(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _unescaped(v) for k, v in value.items()}
    return value


# Trace attributes that are the chart's own markup, not data: kept as they are.
_FIGURE_TEMPLATES = frozenset({"hovertemplate", "texttemplate", "type"})
# Axis attributes holding category names (data), escaped like the traces' x and y.
_AXIS_DATA = frozenset({"categoryarray", "tickvals", "ticktext"})


def _escaped(value: Any) -> Any:
    """Every string in `value` with &, < and > escaped (plotly draws &lt; as "<")."""
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind in ("O", "U"):  # a numpy array of names
        return [_escaped(v) for v in value.tolist()]
    return value


# Decimals a chart's numbers keep: what a hover shows (two decimals of a percentage), and
# nothing of the seventeen digits of a float's full text the browser would read.
CHART_DECIMALS = 4


def _rounded(value: Any) -> Any:
    """A trace's numbers rounded to CHART_DECIMALS (in lists, tuples, dicts and float
    arrays); anything else as it is."""
    if isinstance(value, float):
        return round(value, CHART_DECIMALS)
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if getattr(getattr(value, "dtype", None), "kind", None) == "f":
        return value.round(CHART_DECIMALS)
    return value


def _inert_figure(spec: dict[str, Any]) -> dict[str, Any]:
    """A figure's dict whose data cannot draw as markup: plotly renders <a href>, <b>,
    <br> and the like inside tick labels, hover text, legends and texts, so a unit or
    round name holding them would become a link on the chart. Every string of the traces
    (but the chart's own templates) and of the axes' categories is escaped; the chart's
    own titles and annotations are kept. `selected_points` gives the text back unescaped."""
    data = [
        {k: v if k in _FIGURE_TEMPLATES else _rounded(_escaped(v)) for k, v in trace.items()}
        for trace in spec.get("data", [])
    ]
    layout = dict(spec.get("layout") or {})
    for name, axis in list(layout.items()):
        if isinstance(axis, dict) and re.match(r"^(x|y)axis\d*$|^polar\d*$", name):
            layout[name] = {k: _escaped(v) if k in _AXIS_DATA else v for k, v in axis.items()}
            for sub in ("angularaxis", "radialaxis"):
                if isinstance(axis.get(sub), dict):
                    layout[name][sub] = {
                        k: _escaped(v) if k in _AXIS_DATA else v for k, v in axis[sub].items()
                    }
    return {**spec, "data": data, "layout": layout}


class _Drawn:
    """A kept figure as st.plotly_chart takes it, its dict made once: Streamlit calls
    `to_dict()` on every run, a deep copy of every trace with its arrays encoded again
    (~0.7 ms a chart). Built lazily: plotly is imported only when a chart is drawn."""

    _cls: Any = None

    @classmethod
    def of(cls, fig: Any) -> Any:
        if cls._cls is None:
            from plotly.basedatatypes import BaseFigure

            class Drawn(BaseFigure):
                # No BaseFigure.__init__: only to_dict() is ever called on it.
                def __init__(self, spec: dict[str, Any]) -> None:
                    object.__setattr__(self, "_spec", spec)

                def to_dict(self) -> dict[str, Any]:
                    return self._spec

            cls._cls = Drawn
        spec = getattr(fig, "_xuncha_spec", None)
        if spec is None:
            spec = _inert_figure(fig.to_dict())
            # Kept figures are shared and never changed after they are built.
            fig._xuncha_spec = spec
        return cls._cls(spec)


def chart(fig: Any, *args: Any, key: str, selectable: bool = False, **kwargs: Any) -> Any:
    """A plotly chart. `fig` is a figure, or a builder from xuncha.charts called with the
    other arguments (its figure is then reused while those inputs are unchanged, and so is
    its dict). Text from the data never draws as markup (`_inert_figure`)."""
    fig = _Drawn.of(built_figure(fig, *args, **kwargs) if callable(fig) else fig)
    page_record.add_chart(fig.to_dict(), key=key)  # for 导出本页
    return st.plotly_chart(
        fig,
        key=key,
        on_select=functools.partial(_note_click, key) if selectable else "ignore",
        selection_mode="points",
        # No image download from the chart toolbar: exports are checked and audited.
        # Plotly's own texts and number/date formats in Chinese (chinese.PLOTLY_CONFIG).
        config={
            "displaylogo": False,
            "modeBarButtonsToRemove": ["toImage"],
            **chinese.PLOTLY_CONFIG,
        },
    )
