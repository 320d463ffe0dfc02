"""The only module of the package that imports streamlit: cached readers keyed on the data
version, the shared filters kept in the URL, and the common widgets pages use."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from xuncha import labels
from xuncha.figures import DEFINITIONS
from xuncha.figures.rates import format_rate
from xuncha.filters import Filters, Scope, describe_filters, resolve_scope
from xuncha.store import Store, open_reader
from xuncha.store.reader import Reader

DEFAULT_STORE = Path(__file__).resolve().parents[1] / "data" / "demo"
_FILTER_KEYS = ("f_rounds", "f_kind", "f_sector", "f_peer", "f_unit", "f_l1", "f_l2", "f_asof")


def store() -> Store:
    return Store(os.environ.get("XUNCHA_DB") or DEFAULT_STORE)


@st.cache_resource(max_entries=4, show_spinner=False)
def _reader_for(root: str, version: int) -> Reader:
    return open_reader(Store(root), version)


@st.cache_data(max_entries=2000, show_spinner=False)
def _cached_query(
    root: str, version: int, name: str, params_key: str, _params: Mapping[str, Any]
) -> pl.DataFrame:
    # Keyed on a digest of the parameters: Streamlit's own hashing of a list of tens of
    # thousands of inspection ids on every call would cost more than the query.
    return _reader_for(root, version).query(name, _params)


def _params_key(params: Mapping[str, Any]) -> str:
    return hashlib.blake2b(repr(sorted(params.items())).encode(), digest_size=16).hexdigest()


class CachedReader(Reader):
    """A reader whose named-query results are cached per data version: a new import makes a
    new version, so nothing stale is ever served and nothing needs expiring by time."""

    def __init__(self, inner: Reader) -> None:
        super().__init__(inner.store, inner.version, inner._con)
        self._root = str(inner.store.root)

    def query(self, name: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        given = dict(params or {})
        return _cached_query(self._root, self.version, name, _params_key(given), given)


def reader() -> CachedReader:
    """The reader on the store's current version (re-read at every run, so a new version
    published by an import is picked up on the next interaction)."""
    target = store()
    if not target.exists() and target.root.resolve() == DEFAULT_STORE.resolve():
        _build_demo(target)
    return CachedReader(_reader_for(str(target.root), target.version()))


def _build_demo(target: Store) -> None:
    from xuncha import demo

    with st.spinner("首次启动：正在生成演示数据……"):
        if not target.exists():
            target.write(lambda con: demo.build(con), fresh=True)


# -- filters ---------------------------------------------------------------------------


def sidebar_filters(rd: Reader) -> Filters:
    """The shared sidebar filters; initial values come from the URL, and the URL is kept in
    step so a copied link reopens the same view."""
    rounds = rd.query("rounds_list")
    units = rd.query("units_list")
    cats = rd.query("categories_list")
    seqs = rounds["seq"].to_list()
    seq_label = {
        s: labels.round_label(n, t) for s, n, t in rounds.select("seq", "name", "term").rows()
    }
    unit_name = dict(units.select("unit_id", "short_name").rows())
    kinds = sorted(
        set(rounds["kind"].to_list()), key=["常规", "专项", "回头看", "机动", "提级", "交叉"].index
    )
    sectors = sorted(set(units["sector"].to_list()))
    peers = [
        p
        for p in ("市直部门", "乡镇街道", "国有企业", "学校医院", "村社区")
        if p in set(units["peer_group"].to_list())
    ]
    l1_names = dict(
        cats.select("category_l1", "l1_name").unique(maintain_order=True).sort("category_l1").rows()
    )
    l2_rows = cats.select("category_l2", "l2_name", "category_l1").rows()

    if not st.session_state.get("_filters_loaded"):
        initial = Filters.from_url(st.query_params.to_dict())
        lo = initial.round_from if initial.round_from in seqs else (seqs[0] if seqs else None)
        hi = initial.round_to if initial.round_to in seqs else (seqs[-1] if seqs else None)
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        # The slider takes its initial range through value=, never through session state:
        # a select_slider created without a range value turns single-valued on rerun.
        st.session_state["_rounds_init"] = (lo, hi)
        st.session_state["f_kind"] = [k for k in initial.kinds if k in kinds]
        st.session_state["f_sector"] = [s for s in initial.sectors if s in sectors]
        st.session_state["f_peer"] = [p for p in initial.peer_groups if p in peers]
        st.session_state["f_unit"] = [u for u in initial.unit_ids if u in unit_name]
        st.session_state["f_l1"] = [c for c in initial.category_l1 if c in l1_names]
        st.session_state["f_l2"] = [c for c, _, _ in l2_rows if c in initial.category_l2]
        # Figures are never asked "as of" the future.
        st.session_state["f_asof"] = min(initial.as_of or dt.date.today(), dt.date.today())
        st.session_state["_filters_loaded"] = True

    # A new data version may have lost or gained options (an import adds a round, a rollback
    # removes it): drop what no longer exists rather than let a widget fail on it.
    rounds_state = st.session_state.get("f_rounds")
    if isinstance(rounds_state, tuple | list) and not set(rounds_state) <= set(seqs):
        st.session_state.pop("f_rounds", None)
        st.session_state["_rounds_init"] = (seqs[0], seqs[-1]) if seqs else (None, None)
    for key, allowed in (
        ("f_kind", set(kinds)),
        ("f_sector", set(sectors)),
        ("f_peer", set(peers)),
        ("f_unit", set(unit_name)),
        ("f_l1", set(l1_names)),
    ):
        current = st.session_state.get(key) or []
        if not set(current) <= allowed:
            st.session_state[key] = [v for v in current if v in allowed]

    with st.sidebar:
        st.markdown("#### 筛选")
        if len(seqs) > 1:
            st.select_slider(
                "轮次范围",
                options=seqs,
                value=st.session_state.get("_rounds_init") or (seqs[0], seqs[-1]),
                format_func=lambda s: seq_label[s],
                key="f_rounds",
            )
        st.multiselect("轮次类型", kinds, key="f_kind", placeholder="全部")
        st.multiselect("行业领域", sectors, key="f_sector", placeholder="全部")
        st.multiselect("同类组", peers, key="f_peer", placeholder="全部")
        st.multiselect(
            "单位",
            list(unit_name),
            format_func=lambda u: unit_name[u],
            key="f_unit",
            placeholder="全部",
        )
        st.multiselect(
            "问题类别（一级）",
            list(l1_names),
            format_func=lambda c: f"{c} {l1_names[c]}",
            key="f_l1",
            placeholder="全部",
        )
        chosen_l1 = set(st.session_state.get("f_l1") or [])
        l2_options = [c for c, _, p in l2_rows if not chosen_l1 or p in chosen_l1]
        l2_name = {c: n for c, n, _ in l2_rows}
        st.session_state["f_l2"] = [c for c in st.session_state.get("f_l2", []) if c in l2_options]
        st.multiselect(
            "问题类别（二级）",
            l2_options,
            format_func=lambda c: f"{c} {l2_name[c]}",
            key="f_l2",
            placeholder="全部",
        )
        st.date_input(
            "统计截至日期",
            key="f_asof",
            min_value=dt.date(2000, 1, 1),
            max_value=dt.date.today(),
            format="YYYY-MM-DD",
            help="所有数字按该日的状态计算（按状态变更记录回溯）。",
        )
        if st.button("清除筛选", icon=":material/filter_alt_off:", use_container_width=True):
            for key in (*_FILTER_KEYS, "_rounds_init"):
                st.session_state.pop(key, None)
            st.session_state["_filters_loaded"] = False
            st.query_params.clear()
            st.rerun()

    chosen_rounds = st.session_state.get("f_rounds")
    if isinstance(chosen_rounds, tuple | list) and len(chosen_rounds) == 2:
        lo, hi = chosen_rounds
    else:  # one round (or none) in the store
        lo = hi = None
    as_of = st.session_state.get("f_asof")
    filters = Filters(
        round_from=lo if seqs and lo != seqs[0] else None,
        round_to=hi if seqs and hi != seqs[-1] else None,
        kinds=tuple(st.session_state.get("f_kind") or ()),
        sectors=tuple(st.session_state.get("f_sector") or ()),
        peer_groups=tuple(st.session_state.get("f_peer") or ()),
        unit_ids=tuple(st.session_state.get("f_unit") or ()),
        category_l1=tuple(st.session_state.get("f_l1") or ()),
        category_l2=tuple(st.session_state.get("f_l2") or ()),
        # Always pinned: a copied link shows the same figures tomorrow.
        as_of=as_of if isinstance(as_of, dt.date) else None,
    )
    wanted = filters.to_url()
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
    st.session_state["filters"] = filters
    st.session_state["filters_text"] = describe_filters(
        filters, round_labels=seq_label, unit_names=unit_name
    )
    return filters


def current_scope(rd: Reader) -> Scope:
    filters: Filters = st.session_state.get("filters") or Filters()
    return resolve_scope(rd, filters)


# -- common widgets ----------------------------------------------------------------------


def page_header(title: str, rd: Reader, scope: Scope) -> None:
    st.title(title)
    text = st.session_state.get("filters_text") or "全部"
    st.caption(f"统计截至 {scope.as_of.isoformat()} ｜ 范围：{md(text)} ｜ 数据版本 {rd.version}")
    meta = rd.scalar("SELECT value FROM store_meta WHERE key = 'demo'")
    if meta == "true":
        st.info(
            "演示数据：虚构的“江城市”，单位、问题与数字均为生成，不代表任何真实情况。",
            icon=":material/science:",
        )


def rate_metric(key: str, counts: Mapping[str, Any], *, label: str | None = None) -> None:
    figure = DEFINITIONS[key]
    num = sum(int(counts.get(k) or 0) for k in figure.numerator)
    den = int(counts.get(figure.denominator) or 0)
    value = figure.compute(dict(counts))
    st.metric(
        label or figure.label,
        format_rate(value),
        delta=f"{num:,} ／ {den:,}",
        delta_color="off",
        delta_arrow="off",
        help=f"口径：{figure.definition}\n\n分子 {num:,} ／ 分母 {den:,}",
        border=True,
    )


def count_metric(label: str, value: Any, help_text: str | None = None, unit: str = "") -> None:
    shown = f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"
    st.metric(label, shown, help=help_text, border=True)


def table(
    frame: pl.DataFrame,
    *,
    key: str,
    height: Any = "auto",
    column_config: dict[str, Any] | None = None,
    selectable: bool = False,
    raw: bool = False,
) -> Any:
    """A table with Chinese headers (raw: as given, e.g. a user's own SQL result)."""
    shown = frame if raw else labels.chinese_headers(frame)
    # An empty text cell reads "—", not "None".
    shown = shown.with_columns(
        pl.col(c).fill_null("—") for c, dtype in shown.schema.items() if dtype == pl.String
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
    config |= {labels.COLUMNS.get(k, k): v for k, v in (column_config or {}).items()}
    if selectable:
        return st.dataframe(
            shown,
            hide_index=True,
            key=key,
            height=height,
            column_config=config,
            on_select="rerun",
            selection_mode="single-row",
        )
    return st.dataframe(shown, hide_index=True, key=key, height=height, column_config=config)


def selected_row(event: Any) -> int | None:
    try:
        rows = event.selection.rows
    except AttributeError:
        return None
    return int(rows[0]) if rows else None


def selected_points(event: Any) -> list[dict[str, Any]]:
    try:
        return list(event.selection.points)
    except AttributeError:
        return []


def chart(fig: Any, *, key: str, selectable: bool = False) -> Any:
    return st.plotly_chart(
        fig,
        key=key,
        on_select="rerun" if selectable else "ignore",
        selection_mode="points",
        config={"displaylogo": False},
    )


def downloads(
    frame: pl.DataFrame,
    *,
    key: str,
    page: str,
    title: str,
    scope: Scope,
    definitions: Mapping[str, str] | None = None,
    notes: tuple[str, ...] = (),
) -> None:
    """Two download buttons (.xlsx with a 说明 sheet, .csv with BOM); files are built only
    when clicked. The 说明 sheet states the definition (口径) of every rate the table holds,
    derived from its columns, plus any `definitions` given."""
    from xuncha import export

    scope_text = st.session_state.get("filters_text") or "全部"
    stated = {f.label: f.definition for k, f in DEFINITIONS.items() if k in frame.columns}
    meta = export.ExportMeta(
        title=f"{page}：{title}",
        scope=scope_text,
        as_of=scope.as_of,
        user=user_name(),
        definitions=stated | dict(definitions or {}),
        notes=notes,
    )
    _download_pair(
        lambda: export.to_xlsx(frame, meta),
        lambda: export.to_csv(frame),
        key=key,
        stem=export.file_name(f"{page}_{title}", scope_text, "", scope.as_of).rstrip("."),
    )


def _download_pair(xlsx: Any, csv: Any, *, key: str, stem: str, verb: str = "导出") -> None:
    """An .xlsx and a .csv button side by side; the files are built only when clicked."""
    row = st.container(horizontal=True)
    with row:
        st.download_button(
            f"{verb} Excel",
            data=xlsx,
            file_name=f"{stem}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"{key}_xlsx",
            icon=":material/table_view:",
            on_click="ignore",
        )
        st.download_button(
            f"{verb} CSV",
            data=csv,
            file_name=f"{stem}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            icon=":material/download:",
            on_click="ignore",
        )


def findings_drilldown(rd: Reader, scope: Scope, finding_ids: list[int], *, key: str) -> None:
    """The findings behind a figure and, for the selected one, its measures as of the date."""
    if not finding_ids:
        st.caption("没有对应的问题。")
        return
    detail = rd.query(
        "findings_detail", scope.params(unit_id=None, category=None, limit=1_000_000)
    ).filter(pl.col("finding_id").is_in(finding_ids))
    st.caption(f"共 {detail.height:,} 个问题；选中一行查看其整改措施。")
    shown = labels.status_labels(detail, finding=True).select(
        "finding_id",
        "round_name",
        "unit_name",
        "category_l2",
        "l2_name",
        "title",
        "detail",
        "status",
        "measures",
        "measures_done",
        "is_repeat",
        "is_rebound",
    )
    event = table(shown, key=f"{key}_findings", height=300, selectable=True)
    row = selected_row(event)
    if row is not None and row < detail.height:
        finding = detail.row(row, named=True)
        measures_of(
            rd,
            scope,
            int(finding["finding_id"]),
            key=f"{key}_measures",
            heading=f"{finding['unit_name']}｜{finding['title']}",
            detail=finding["detail"],
        )


def measures_of(
    rd: Reader,
    scope: Scope,
    finding_id: int,
    *,
    key: str,
    heading: str = "",
    detail: str | None = None,
) -> None:
    if heading:
        st.markdown(f"**{md(heading)}**")
    if detail:
        st.markdown(md(detail))
    measures = rd.query("measures_of_findings", {"finding_ids": [finding_id], "as_of": scope.as_of})
    table(
        labels.status_labels(measures, finding=False).select(
            "text",
            "lead_person",
            "department",
            "deadline_text",
            "deadline",
            "status",
            "status_text",
            "completed_on",
        ),
        key=key,
    )


def serve(app_file: Path, *, port: int, address: str) -> int:
    """Start the Streamlit server on app_file in this process (what `xuncha serve` runs)."""
    # Streamlit treats an app with a pages/ folder as an old-style multipage app until the
    # entry point has run once, so a shared link opened first on a fresh server would run a
    # page without app.py (no filters, no navigation). app.py declares its pages with
    # st.navigation; say so before the server starts.
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli as streamlit_cli

    PagesManager.uses_pages_directory = False
    argv = ["run", str(app_file), "--server.port", str(port), "--server.address", address]
    return int(streamlit_cli.main(args=argv, prog_name="streamlit", standalone_mode=False) or 0)


def user_name() -> str:
    """Who is acting (the login of issue 7 will set it); recorded in batches and exports."""
    return str(st.session_state.get("user_name") or "演示用户")


def frame_downloads(frame: pl.DataFrame, *, key: str, name: str) -> None:
    """Downloads of a table that is not a view of the store (e.g. a validation report)."""
    from xuncha import export

    meta = export.ExportMeta(title=name, scope="—", user=user_name())
    _download_pair(
        lambda: export.to_xlsx(frame, meta),
        lambda: export.to_csv(frame),
        key=key,
        stem=export.file_name(name, "", "").rstrip("."),
        verb="下载",
    )


def template_download() -> None:
    from xuncha import ledger

    def build() -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "template.xlsx"
            ledger.write_template(path)
            return path.read_bytes()

    st.download_button(
        "下载整改台账模板（.xlsx）",
        data=build,
        file_name="整改台账模板.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="template_download",
        icon=":material/download:",
        on_click="ignore",
    )


def sandbox(scope: Scope) -> Any:
    """The SQL sandbox for this scope on the current data version (built once per version
    and scope, then reused: its data are read-only copies and its configuration locked).
    Clue details only for the roles allowed them (none until login arrives: counts only)."""
    from xuncha.sandbox import Sandbox

    return Sandbox.for_scope(
        store(), scope, clue_details=bool(st.session_state.get("clue_details"))
    )


def query_downloads(full: Any, meta: Any, *, key: str, name: str) -> None:
    """Downloads of a query result: the query runs again, up to the export cap, only when a
    button is clicked (and is audited as an export)."""
    from xuncha import export

    _download_pair(
        lambda: export.to_xlsx(full(), meta),
        lambda: export.to_csv(full()),
        key=key,
        stem=export.file_name(name, "", "").rstrip("."),
    )


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: object) -> str:
    """Data (names, titles, file names) made inert inside Markdown: a ledger's text must never
    become a link, an image that calls out, or HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", "" if text is None else str(text))
