"""The common widgets of a page: its header (title, date, scope, data version, the demo
banner), rate and count metrics with their definitions, and tables with Chinese headers that
send the browser one page of TABLE_PAGE_ROWS rows at a time (of at most TABLE_MAX_ROWS kept
here): drawing 2,000 rows cost the browser seconds at provincial scale."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import polars as pl
import streamlit as st

from xuncha import labels
from xuncha.auth import VIEW_PAGES
from xuncha.figures import DEFINITIONS
from xuncha.figures.rates import format_rate
from xuncha.filters import Scope
from xuncha.store.reader import Reader
from xuncha.ui import page_record
from xuncha.ui.session import access, require
from xuncha.ui.text import md

# Rows of a table sent to the browser: more cost seconds to serialise and draw at provincial
# scale and nobody reads them on screen; exports hold every row.
TABLE_MAX_ROWS = 2000
# Rows of a table on one page: the browser gets one page at a time (上一页 / 下一页).
TABLE_PAGE_ROWS = 50
# Characters of a text cell sent to the browser (a grid cell shows one line of it).
TABLE_CELL_CHARS = 300
# A unit link shows the name the address ends with (LinkColumn decodes the captured text).
UNIT_LINK_TEXT = r"&name=(.*)$"


def freshness_text(rd: Reader, scope: Scope) -> str:
    """The data's own freshness (store_freshness.sql): the latest status, step or feedback
    date held, and when the latest batch was written (stored as the server's local wall time,
    shown in the configured zone: labels.shown_time). The first is the whole store's for a
    reader who may see all of it, else that of the inspections in the reader's scope: other
    units' activity is not theirs to learn."""
    shown = access()
    whole = shown.rounds is None and shown.units is None
    ids = None if whole else scope.ids_param()
    row = rd.query("store_freshness", {"inspection_ids": ids}).row(0, named=True)
    through = row["data_through"]
    written = row["last_import"]
    parts = [f"数据更新至 {through.isoformat() if through else '—'}"]
    # A naive time is the server's local wall time (datetime.now() when written).
    parts.append(f"最近导入 {labels.shown_time(written)}")
    return "，".join(parts)


def page_header(title: str, rd: Reader, scope: Scope) -> None:
    """Title, then one line of provenance: the 统计截至 date with the data's own freshness
    beside it, the scope, and the data version (its sequence number, never a digest)."""
    require(VIEW_PAGES)
    st.title(title)
    text = st.session_state.get("filters_text") or "全部"
    st.caption(
        f"统计截至 {scope.as_of.isoformat()}（{freshness_text(rd, scope)}） ｜ 范围：{md(text)} ｜ "
        f"数据版本 {int(rd.version)}"
    )
    meta = rd.scalar("SELECT value FROM store_meta WHERE key = 'demo'")
    if meta == "true":
        st.info(
            "演示数据：虚构的“江城市”，单位、问题与数字均为生成，不代表任何真实情况。",
            icon=":material/science:",
        )


def rate_metric(
    key: str, counts: Mapping[str, Any], *, label: str | None = None, delta: str | None = None
) -> None:
    """A rate with its numerator and denominator under it, or `delta` (its change against an
    earlier date) there and the two counts in the help."""
    figure = DEFINITIONS[key]
    num = sum(int(counts.get(k) or 0) for k in figure.numerator)
    den = int(counts.get(figure.denominator) or 0)
    value = format_rate(figure.compute(dict(counts)))
    shown_label = label or figure.label
    st.metric(
        shown_label,
        value,
        delta=delta or f"{num:,} ／ {den:,}",
        delta_color="off",
        delta_arrow="off",
        help=f"口径：{figure.definition}\n\n分子 {num:,} ／ 分母 {den:,}",
        border=True,
    )
    page_record.add_metric(shown_label, value, delta or f"分子 {num:,} ／ 分母 {den:,}")


def count_metric(
    label: str,
    value: Any,
    help_text: str | None = None,
    unit: str = "",
    *,
    delta: str | None = None,
) -> None:
    """A count (or a text such as a disclosure-controlled range), with `delta` under it (its
    change against an earlier date) when given."""
    shown = f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"
    st.metric(
        label, shown, delta=delta, delta_color="off", delta_arrow="off", help=help_text, border=True
    )
    page_record.add_metric(label, shown, delta or help_text or "")


def table(
    frame: pl.DataFrame,
    *,
    key: str,
    height: Any = "auto",
    column_config: dict[str, Any] | None = None,
    selectable: bool = False,
    raw: bool = False,
    total: int | None = None,
    page_rows: int | None = None,
) -> Any:
    """A table with Chinese headers (raw: as given, e.g. a user's own SQL result). The
    browser gets one page of `page_rows` (TABLE_PAGE_ROWS) rows with 上一页 / 下一页 above it,
    of the first TABLE_MAX_ROWS rows (a note says how many there are); the downloads beside a
    table always hold all of them. `total`: how many rows the whole list has when `frame`
    holds only its first rows (fetched with a limit). A selectable table's event counts its
    selected row in `frame`, whatever the page."""
    page_record.add_table(frame, key=key, raw=raw, total=total)  # for 导出本页
    rows = frame.height if total is None else max(total, frame.height)
    frame = frame.head(TABLE_MAX_ROWS)
    size = page_rows or TABLE_PAGE_ROWS
    order: list[int] | None = None  # each row's index in `frame` (a sorted page)
    if frame.height > size:  # one page of rows to the browser, the rest kept here
        start, frame = _one_page(frame, key=key, size=size, rows=rows, raw=raw)
        order = frame[_ROW].to_list()
        frame = frame.drop(_ROW)
    else:
        start = 0
        if rows > frame.height:
            st.caption(f"共 {rows:,} 行，此处显示前 {frame.height:,} 行；完整数据请使用导出。")
    links = None if raw else _unit_links(frame)
    if links is not None:  # unit_name holds each unit's page address; unit_id is not shown
        frame = frame.with_columns(unit_name=links).drop("unit_id")
    shown = frame if raw else labels.chinese_headers(frame)
    # An empty text cell reads "—", not "None"; a long one (a province's list of unit names)
    # is cut where a grid cell could never show it: the exports hold the whole text.
    shown = shown.with_columns(
        pl.when(pl.col(c).str.len_chars() > TABLE_CELL_CHARS)
        .then(pl.col(c).str.slice(0, TABLE_CELL_CHARS) + "…（全文见导出）")
        .otherwise(pl.col(c))
        .fill_null("—")
        for c, dtype in shown.schema.items()
        if dtype == pl.String and not (links is not None and c == labels.COLUMNS["unit_name"])
    )
    config: dict[str, Any] = {
        c: st.column_config.NumberColumn(c, format="%.2f")
        for c, dtype in shown.schema.items()
        if c.endswith("(%)") and dtype.is_numeric()
    }
    config |= {
        c: st.column_config.DateColumn(c, format="YYYY-MM-DD")
        for c, dtype in shown.schema.items()
        if dtype == pl.Date
    }
    # Text is text: never a link column, whatever the cells look like.
    config |= {
        c: st.column_config.TextColumn(c) for c, dtype in shown.schema.items() if dtype == pl.String
    }
    if links is not None:
        name = labels.COLUMNS["unit_name"]
        config[name] = st.column_config.LinkColumn(name, display_text=UNIT_LINK_TEXT)
    config |= {labels.COLUMNS.get(k, k): v for k, v in (column_config or {}).items()}
    # Arrow, not the Polars frame: Streamlit turns a Polars frame into pandas and back into
    # Arrow on every run (~2 ms per thousand rows); a pyarrow table it sends as it is.
    data = shown.to_arrow()
    # Each page its own widget (its own selection): the first keeps the table's key.
    shown_key = key if start == 0 else f"{key}__from{start}"
    if selectable:
        event = st.dataframe(
            data,
            hide_index=True,
            key=shown_key,
            height=height,
            column_config=config,
            on_select="rerun",
            selection_mode="single-row",
        )
        return _PageSelection(event, start, order)
    return st.dataframe(data, hide_index=True, key=shown_key, height=height, column_config=config)


class _PageSelection:
    """A paged table's selection event with its rows counted in the whole list (what
    selected_row hands the page), not in the page shown."""

    def __init__(self, event: Any, start: int, order: list[int] | None = None) -> None:
        self._event = event
        try:
            rows = list(event.selection.rows)
        except AttributeError:
            rows = []
        whole = [start + int(r) for r in rows] if order is None else [order[int(r)] for r in rows]
        self.selection = SimpleNamespace(rows=whole)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._event, name)


def page_count(rows: int, size: int = TABLE_PAGE_ROWS) -> int:
    """How many pages of `size` rows `rows` rows fill (at least one)."""
    return max(1, -(-rows // size))


# The column _one_page adds: each row's index in the list as given (its order sorted away).
_ROW = "__row_in_list"


def _sort_options(frame: pl.DataFrame, raw: bool) -> dict[Any, str]:
    """The orders a paged table offers (None: as listed), each column up and down, by its
    header as shown."""
    shown = [
        c
        for c, dtype in frame.schema.items()
        if c != _ROW and (raw or c not in labels.LINK_ONLY) and not dtype.is_nested()
    ]
    options: dict[Any, str] = {None: "默认顺序"}
    for column in shown:
        header = column if raw else labels.COLUMNS.get(column, column)
        options[(column, False)] = f"{header} 升序"
        options[(column, True)] = f"{header} 降序"
    return options


def _one_page(
    frame: pl.DataFrame, *, key: str, size: int, rows: int, raw: bool = False
) -> tuple[int, pl.DataFrame]:
    """The page of `frame` this session is on (st.session_state[key + "_page"], 1-based,
    kept within the pages there are), in the order chosen under 排序 (st.session_state[key +
    "_sort"]: every row kept here sorted, not only the page the browser has, whose column
    headers sort that page alone), with 上一页 / 下一页 and 第 N / M 页 under the table's
    caption; (its first row's place in the sorted list, its rows with their index in `frame`
    as column _ROW)."""
    pages = page_count(frame.height, size)
    state = f"{key}_page"
    page = min(max(int(st.session_state.get(state) or 1), 1), pages)
    st.session_state[state] = page

    def turn(step: int) -> None:
        st.session_state[state] = min(max(int(st.session_state.get(state) or 1) + step, 1), pages)

    def first_page() -> None:
        st.session_state[state] = 1

    options = _sort_options(frame, raw)
    if st.session_state.get(f"{key}_sort") not in options:
        st.session_state.pop(f"{key}_sort", None)  # a column the list no longer has
    more = f"，可翻阅前 {frame.height:,} 行，完整数据请使用导出" if rows > frame.height else ""
    with st.container(horizontal=True, vertical_alignment="center", key=f"{key}_pager"):
        order = st.selectbox(
            "排序",
            list(options),
            format_func=options.__getitem__,
            key=f"{key}_sort",
            on_change=first_page,
            label_visibility="collapsed",
            width=220,
            help="按所选列对全部行排序后分页（点击表头只排序当前页）。",
        )
        st.button(
            "上一页",
            key=f"{key}_prev",
            on_click=turn,
            args=(-1,),
            disabled=page <= 1,
            icon=":material/chevron_left:",
        )
        st.markdown(f"第 {page} / {pages} 页")
        st.button(
            "下一页",
            key=f"{key}_next",
            on_click=turn,
            args=(1,),
            disabled=page >= pages,
            icon=":material/chevron_right:",
        )
        st.caption(f"共 {rows:,} 行，每页 {size} 行{more}。")
    listed = frame.with_row_index(_ROW)
    if order is not None:
        column, descending = order
        listed = listed.sort(column, descending=descending, nulls_last=True, maintain_order=True)
    start = (page - 1) * size
    return start, listed.slice(start, size)


def _unit_links(frame: pl.DataFrame) -> pl.Series | None:
    """The 单位全景 address of each row's unit ("unit?<filters>&unit=<id>&name=<name>"), when
    the frame has unit_id and unit_name and every row has a numeric id; else None. The
    address is ours: a relative path, the id as a number, the filters as the URL keeps them,
    and the name with every byte percent-encoded, last, only for the cell to show it
    (UNIT_LINK_TEXT): no text of the data can make it point anywhere else."""
    if "unit_id" not in frame.columns or "unit_name" not in frame.columns:
        return None
    try:  # an id is a number (rectification's group_id is its text): anything else, no link
        ids = frame["unit_id"].cast(pl.Int64, strict=True)
    except pl.exceptions.PolarsError:
        return None
    if ids.null_count():
        return None
    filters = st.session_state.get("filters")
    kept = {k: v for k, v in (filters.to_url() if filters else {}).items() if k != "unit"}
    prefix = "unit?" + "".join(f"{k}={quote(v, safe='')}&" for k, v in kept.items())
    return pl.Series(
        [
            f"{prefix}unit={int(uid)}&name={''.join(f'%{b:02X}' for b in str(n or '').encode())}"
            for uid, n in zip(ids.to_list(), frame["unit_name"].to_list(), strict=True)
        ],
        dtype=pl.String,
    )


def no_nulls(frame: pl.DataFrame) -> pl.DataFrame:
    """Missing values shown as "—" (a table grid would print "None"): dates as YYYY-MM-DD
    text, and a number column with a gap as text too."""
    out = []
    for name, kind in frame.schema.items():
        column = pl.col(name)
        if kind == pl.Date:
            out.append(column.dt.strftime("%Y-%m-%d").fill_null("—"))
        elif kind == pl.String:
            out.append(column.fill_null("—"))
        elif kind.is_numeric() and frame[name].null_count():
            out.append(column.cast(pl.String).fill_null("—"))
        else:
            out.append(column)
    return frame.select(out)


def selected_row(event: Any) -> int | None:
    try:
        rows = event.selection.rows
    except AttributeError:
        return None
    return int(rows[0]) if rows else None
