"""What a page drew in this run, for 导出本页: every table `ui.table` showed and every chart
`ui.chart` drew, in order, each titled by the nearest section heading (st.subheader) above
it or by a title given.

app.py calls `begin(title)` before a page runs; `widgets.table` and `plotly_charts.chart`
call `add_table` / `add_chart`; the export button reads `items()` at the end of the run.
Kept in the session's state, so each browser session has its own record; an element drawn
again in the same run (a fragment rerun) replaces its earlier entry, by its key.

Headings: pages write their section titles with st.subheader. `begin` wraps that one
function (once per process) so that each heading is remembered for the session whose run
wrote it; nothing else about st.subheader changes.
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
        record.entries[f"table:{key}"] = TableItem(title or record.heading, frame, raw, total)


def add_chart(figure: Any, *, key: str, title: str | None = None) -> None:
    """`figure`: a plotly figure or its dict; titled by its own title text when it has one."""
    record = _current()
    if record is None:
        return
    spec: Mapping[str, Any] = figure if isinstance(figure, Mapping) else figure.to_dict()
    own = ((spec.get("layout") or {}).get("title") or {}).get("text")
    chosen = title or (own if isinstance(own, str) and own.strip() else record.heading)
    record.entries[f"chart:{key}"] = ChartItem(chosen, spec)


def items() -> list[Item]:
    """The tables and charts of this run, in the order they were drawn."""
    record = _current()
    return list(record.entries.values()) if record is not None else []


def page_title() -> str | None:
    record = _current()
    return record.title if record is not None else None


_WRAPPED: dict[str, bool] = {}


def _remember_headings() -> None:
    """Wrap st.subheader once so a page's section titles are remembered as they are drawn."""
    if _WRAPPED.get("subheader"):
        return
    original = st.subheader

    @functools.wraps(original)
    def subheader(body: Any, *args: Any, **kwargs: Any) -> Any:
        heading(body)
        return original(body, *args, **kwargs)

    st.subheader = subheader
    _WRAPPED["subheader"] = True
