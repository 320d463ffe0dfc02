"""The shared sidebar filters and the scope pages get from them. Initial values come from the
URL and the URL is kept in step, so a copied link reopens the same view; a scoped user is
offered only their rounds and units; the scope is resolved with this session's access."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import polars as pl
import streamlit as st

from xuncha import labels
from xuncha.auth import scope_ids
from xuncha.filters import Filters, Scope, describe_filters, resolve_scope
from xuncha.store.reader import Reader
from xuncha.store.schema import PEER_GROUPS, ROUND_KINDS
from xuncha.ui.data import cached_scope
from xuncha.ui.session import access
from xuncha.ui.unit_picker import unit_multiselect

_FILTER_KEYS = (
    "f_rounds",
    "f_kind",
    "f_sector",
    "f_peer",
    "f_unit",
    "f_unit_search",
    "f_l1",
    "f_l2",
    "f_asof",
)


@dataclasses.dataclass(frozen=True)
class FilterOptions:
    """What the sidebar offers this session: the rounds and units of its scope and the kinds,
    sectors, peer groups and categories there are to choose from."""

    seqs: list[int]  # round numbers, in order
    round_labels: dict[int, str]
    unit_names: dict[int, str]
    unit_search: dict[int, str]  # what a unit search matches: its full and short names
    kinds: list[str]
    sectors: list[str]
    peers: list[str]
    l1_names: dict[str, str]
    l2_rows: list[tuple[str, str, str]]  # (L2 code, its name, its L1 code)


def sidebar_filters(rd: Reader) -> Filters:
    """The shared sidebar filters; initial values come from the URL, and the URL is kept in
    step so a copied link reopens the same view."""
    options = _options(rd)
    if not st.session_state.get("_filters_loaded"):
        _load_from_url(options)
    _drop_stale(options)
    with st.sidebar:
        st.markdown("#### 筛选")
        _round_and_unit_widgets(options)
        _category_widgets(options)
        _date_and_reset_widgets()
    filters = _chosen(options)
    _publish(filters, options)
    return filters


def _options(rd: Reader) -> FilterOptions:
    rounds = rd.query("rounds_list")
    units = rd.query("units_list")
    # A scoped user is offered only their rounds and units (the data layer narrows the
    # scope in any case: resolve_scope).
    round_ids, unit_ids = scope_ids(rd, access())
    if round_ids is not None:
        rounds = rounds.filter(pl.col("round_id").is_in(list(round_ids)))
    if unit_ids is not None:
        units = units.filter(pl.col("unit_id").is_in(list(unit_ids)))
    cats = rd.query("categories_list")
    present_peers = set(units["peer_group"].to_list())
    return FilterOptions(
        seqs=rounds["seq"].to_list(),
        round_labels={
            s: labels.round_label(n, t) for s, n, t in rounds.select("seq", "name", "term").rows()
        },
        unit_names=dict(units.select("unit_id", "short_name").rows()),
        unit_search={
            u: f"{n} {s}" for u, n, s in units.select("unit_id", "name", "short_name").rows()
        },
        kinds=sorted(set(rounds["kind"].to_list()), key=ROUND_KINDS.index),
        sectors=sorted(set(units["sector"].to_list())),
        peers=[p for p in PEER_GROUPS if p in present_peers],
        l1_names=dict(
            cats.select("category_l1", "l1_name")
            .unique(maintain_order=True)
            .sort("category_l1")
            .rows()
        ),
        l2_rows=cats.select("category_l2", "l2_name", "category_l1").rows(),
    )


def _load_from_url(options: FilterOptions) -> None:
    """The widgets' first values, from the URL (once per session), keeping only values that
    exist."""
    seqs = options.seqs
    initial = Filters.from_url(st.query_params.to_dict())
    lo = initial.round_from if initial.round_from in seqs else (seqs[0] if seqs else None)
    hi = initial.round_to if initial.round_to in seqs else (seqs[-1] if seqs else None)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    # The slider takes its initial range through value=, never through session state:
    # a select_slider created without a range value turns single-valued on rerun.
    st.session_state["_rounds_init"] = (lo, hi)
    st.session_state["f_kind"] = [k for k in initial.kinds if k in options.kinds]
    st.session_state["f_sector"] = [s for s in initial.sectors if s in options.sectors]
    st.session_state["f_peer"] = [p for p in initial.peer_groups if p in options.peers]
    st.session_state["f_unit"] = [u for u in initial.unit_ids if u in options.unit_names]
    st.session_state["f_l1"] = [c for c in initial.category_l1 if c in options.l1_names]
    st.session_state["f_l2"] = [c for c, _, _ in options.l2_rows if c in initial.category_l2]
    # Figures are never asked "as of" the future.
    st.session_state["f_asof"] = min(initial.as_of or dt.date.today(), dt.date.today())
    st.session_state["_filters_loaded"] = True


def _drop_stale(options: FilterOptions) -> None:
    """A new data version may have lost or gained options (an import adds a round, a
    rollback removes it): drop what no longer exists rather than let a widget fail on it."""
    seqs = options.seqs
    rounds_state = st.session_state.get("f_rounds")
    if isinstance(rounds_state, tuple | list) and not set(rounds_state) <= set(seqs):
        st.session_state.pop("f_rounds", None)
        st.session_state["_rounds_init"] = (seqs[0], seqs[-1]) if seqs else (None, None)
    for key, allowed in (
        ("f_kind", set(options.kinds)),
        ("f_sector", set(options.sectors)),
        ("f_peer", set(options.peers)),
        ("f_unit", set(options.unit_names)),
        ("f_l1", set(options.l1_names)),
    ):
        current = st.session_state.get(key) or []
        if not set(current) <= allowed:
            st.session_state[key] = [v for v in current if v in allowed]


def _round_and_unit_widgets(options: FilterOptions) -> None:
    seqs, unit_name = options.seqs, options.unit_names
    if len(seqs) > 1:
        st.select_slider(
            "轮次范围",
            options=seqs,
            value=st.session_state.get("_rounds_init") or (seqs[0], seqs[-1]),
            format_func=lambda s: options.round_labels[s],
            key="f_rounds",
        )
    st.multiselect("轮次类型", options.kinds, key="f_kind", placeholder="全部")
    st.multiselect("行业领域", options.sectors, key="f_sector", placeholder="全部")
    st.multiselect("同类组", options.peers, key="f_peer", placeholder="全部")
    # Many units (a province): a search field and a few matching units, not all of them.
    unit_multiselect(
        "单位", unit_name, key="f_unit", search=options.unit_search, placeholder="全部"
    )


def _category_widgets(options: FilterOptions) -> None:
    """L1, then the L2 categories of the L1 chosen (all of them when none is)."""
    l1_names, l2_rows = options.l1_names, options.l2_rows
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


def _date_and_reset_widgets() -> None:
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


def _chosen(options: FilterOptions) -> Filters:
    """The filters the widgets hold (a full round range is no filter)."""
    seqs = options.seqs
    chosen_rounds = st.session_state.get("f_rounds")
    if isinstance(chosen_rounds, tuple | list) and len(chosen_rounds) == 2:
        lo, hi = chosen_rounds
    else:  # one round (or none) in the store
        lo = hi = None
    as_of = st.session_state.get("f_asof")
    return Filters(
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


def _publish(filters: Filters, options: FilterOptions) -> None:
    """The filters into the URL and the session (what current_scope and page headers read)."""
    wanted = filters.to_url()
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
    st.session_state["filters"] = filters
    st.session_state["filters_text"] = describe_filters(
        filters, round_labels=options.round_labels, unit_names=options.unit_names
    )


def current_scope(rd: Reader) -> Scope:
    """The sidebar's filters resolved with this session's access (the only way pages get a
    scope)."""
    filters: Filters = st.session_state.get("filters") or Filters()
    return cached_scope(rd, filters, access())


def resolver(rd: Reader) -> Callable[[Filters], Scope]:
    """Filters → scope on `rd` with this session's access rights applied (what briefings use
    to resolve their period and the rounds they compare with)."""
    who = access()

    def resolve(filters: Filters) -> Scope:
        return resolve_scope(rd, filters, access=who)

    return resolve
