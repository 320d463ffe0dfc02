"""What a page drew in this run, for 导出本页: every table `ui.table` showed and every chart
`ui.chart` drew and its KPI cards (one table 主要指标), in order, each titled by the nearest section heading (st.subheader) above
it or by a title given.

app.py calls `begin(title)` before a page runs; `widgets.table` and `plotly_charts.chart`
call `add_table` / `add_chart`; the export button reads `items()` at the end of the run.
Kept in the session's state, so each browser session has its own record; an element drawn
again in the same run (a fragment rerun) replaces its earlier entry, by its key.

Headings: pages write their section titles with st.subheader and group views in st.tabs.
`begin` wraps those two functions (once per process) so that each heading and tab label is
remembered for the session whose run drew it; nothing else about them changes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import streamlit as st

from xuncha.page_export import ChartItem, Item, TableItem

_STATE = "_page_record"


@dataclass
class PageRecord:
    title: str
    heading: str = ""
    entries: dict[str, Item] = field(default_factory=dict)
    tabs: dict[int, str] = field(default_factory=dict)  # id of a tab's container → its label
    metrics: list[tuple[str, str, str]] = field(default_factory=list)  # (指标, 数值, 说明)


def begin(page_title: str) -> None:
    """A new, empty record for the page about to run."""
    _remember_headings()
    st.session_state[_STATE] = PageRecord(page_title)


def _current() -> PageRecord | None:
    try:
        found = st.session_state.get(_STATE)
    except Exception:  # no session (a builder in a worker thread, a bare script)
        return None
    return found if isinstance(found, PageRecord) else None


def heading(text: Any) -> None:
    """The section heading the next tables and charts belong to."""
    record = _current()
    if record is not None and isinstance(text, str):
        # A heading written through ui.md has its Markdown characters escaped.
        record.heading = re.sub(r"\\(.)", r"\1", text).strip()


def add_table(
    frame: pl.DataFrame,
    *,
    key: str,
    raw: bool = False,
    total: int | None = None,
    title: str | None = None,
) -> None:
    record = _current()
    if record is not None:
        record.entries[f"table:{key}"] = TableItem(title or _title(record), frame, raw, total)


def add_metric(label: str, value: str, note: str = "") -> None:
    """A KPI card: the cards of a page go together into one table 主要指标, placed where the
    first card was drawn (a card drawn again in the same run replaces its row)."""
    record = _current()
    if record is None:
        return
    record.metrics = [m for m in record.metrics if m[0] != label] + [(label, value, note)]
    frame = pl.DataFrame(record.metrics, schema=["指标", "数值", "说明"], orient="row")
    record.entries["table:_metrics"] = TableItem("主要指标", frame, raw=True)


def add_chart(figure: Any, *, key: str, title: str | None = None) -> None:
    """`figure`: a plotly figure or its dict; titled by its own title text when it has one."""
    record = _current()
    if record is None:
        return
    spec: Mapping[str, Any] = figure if isinstance(figure, Mapping) else figure.to_dict()
    own = ((spec.get("layout") or {}).get("title") or {}).get("text")
    chosen = title or (own if isinstance(own, str) and own.strip() else _title(record))
    record.entries[f"chart:{key}"] = ChartItem(chosen, spec)


def _title(record: PageRecord) -> str:
    """The heading above, with the label of the tab the element is drawn in, if any."""
    tab = _tab_label(record)
    if tab is None:
        return record.heading
    return f"{record.heading}：{tab}" if record.heading else tab


def _tab_label(record: PageRecord) -> str | None:
    """The label of the tab enclosing the element being drawn (the containers it is drawn
    in, innermost first, are Streamlit's context stack and each container's parent)."""
    if not record.tabs:
        return None
    try:
        dg: Any = st._main._active_dg
    except AttributeError:
        return None
    while dg is not None:
        label = record.tabs.get(id(dg))
        if label is not None:
            return label
        dg = getattr(dg, "_parent", None)
    return None


def items() -> list[Item]:
    """The tables and charts of this run, in the order they were drawn."""
    record = _current()
    return list(record.entries.values()) if record is not None else []


def page_title() -> str | None:
    record = _current()
    return record.title if record is not None else None


_WRAPPED: dict[str, bool] = {}


def _remember_headings() -> None:
    """Wrap st.subheader and st.tabs once, so a page's section titles and tab labels are
    remembered as they are drawn."""
    if _WRAPPED.get("subheader"):
        return
    original_subheader = st.subheader
    original_tabs = st.tabs

    @functools.wraps(original_subheader)
    def subheader(body: Any, *args: Any, **kwargs: Any) -> Any:
        heading(body)
        return original_subheader(body, *args, **kwargs)

    @functools.wraps(original_tabs)
    def tabs(labels: Any, *args: Any, **kwargs: Any) -> Any:
        drawn = original_tabs(labels, *args, **kwargs)
        record = _current()
        if record is not None:
            for tab, label in zip(drawn, labels, strict=False):
                # A label may start with an icon (:material/name:).
                record.tabs[id(tab)] = re.sub(r"^:[a-z]+/[a-z_]+:\s*", "", str(label))
        return drawn

    setattr(st, "subheader", subheader)  # noqa: B010 (the module attribute pages call)
    setattr(st, "tabs", tabs)  # noqa: B010
    _WRAPPED["subheader"] = True
