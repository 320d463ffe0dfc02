"""Unit pickers that send the browser a few options, not every unit of a province.

A selectbox or multiselect sends all its options (and their labels) to the browser on every
run: 15,000 units cost seconds of the browser's time at provincial scale. Above
PICKER_LIST_ALL units a picker is a search field (搜索单位) and a small list: the units whose
name holds the text typed, matched here on the server among the units the caller passes
(already narrowed to the reader's scope), at most PICKER_CAP of them, with the units chosen
always among the options so a choice made earlier (or read from the URL) stays. A city of a
few hundred units keeps the plain list of all of them."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import polars as pl
import streamlit as st

# At most this many units: the picker lists them all (a city), no search field.
PICKER_LIST_ALL = 300
# Options a searched picker sends at most (beside the units already chosen).
PICKER_CAP = 50


def matching_units(
    names: Mapping[Any, str],
    text: str,
    *,
    keep: Sequence[Any] = (),
    cap: int | None = None,
    search: Mapping[Any, str] | None = None,
) -> list[Any]:
    """The options of a searched picker: the units of `keep` that are among `names` first,
    then, in `names`' order, the units whose name (or `search` text, e.g. full and short name)
    holds every word of `text` (case-insensitive, literal), at most `cap` (PICKER_CAP) of
    these. An empty text matches every unit (the first `cap`)."""
    cap = PICKER_CAP if cap is None else cap
    kept = [u for u in dict.fromkeys(keep) if u in names]
    ids = list(names)
    words = [w for w in text.lower().split() if w]
    if words:
        haystack = pl.Series(
            [(search or names).get(u, names[u]) or "" for u in ids], dtype=pl.String
        ).str.to_lowercase()
        hit = pl.Series([True] * len(ids))
        for word in words:
            hit = hit & haystack.str.contains(word, literal=True)
        found = [u for u, h in zip(ids, hit.to_list(), strict=True) if h]
    else:
        found = ids
    seen = set(kept)
    out = list(kept)
    for u in found:
        if len(out) - len(kept) >= cap:
            break
        if u not in seen:
            out.append(u)
    return out


def _count_matches(names: Mapping[int, str], text: str, search: Mapping[int, str] | None) -> int:
    return len(matching_units(names, text, cap=len(names), search=search))


def _search_field(
    names: Mapping[int, str], *, key: str, search: Mapping[int, str] | None, where: Any
) -> str:
    """The 搜索单位 field above a picker of many units; its text ("" when empty)."""
    text = where.text_input(
        "搜索单位",
        key=f"{key}_search",
        placeholder=f"在 {len(names):,} 个单位中搜索",
        help=f"输入单位名称中的字后回车，下方列出匹配的单位（最多 {PICKER_CAP} 个）。",
    )
    return str(text or "").strip()


def _note_truncated(
    names: Mapping[int, str], text: str, search: Mapping[int, str] | None, where: Any
) -> None:
    if not text:
        return
    found = _count_matches(names, text, search)
    if found == 0:
        where.caption("没有名称含该文字的单位。")
    elif found > PICKER_CAP:
        where.caption(f"匹配 {found:,} 个单位，列出前 {PICKER_CAP} 个；请输入更多文字缩小范围。")


def unit_multiselect(
    label: str,
    names: Mapping[int, str],
    *,
    key: str,
    search: Mapping[int, str] | None = None,
    where: Any = None,
    **kwargs: Any,
) -> list[int]:
    """A multiselect of units (`names`: id → label, in order) whose value lives in
    st.session_state[key]: every unit when there are at most PICKER_LIST_ALL, else a search
    field and at most PICKER_CAP matches plus the units chosen."""
    where = where or st
    chosen = [u for u in (st.session_state.get(key) or []) if u in names]
    if len(names) <= PICKER_LIST_ALL:
        options = list(names)
    else:
        text = _search_field(names, key=key, search=search, where=where)
        options = matching_units(names, text, keep=chosen, search=search)
        _note_truncated(names, text, search, where)
    st.session_state[key] = chosen
    # A dict lookup, not a lambda per option: Streamlit formats every option on every run.
    labels = {u: names[u] for u in options}
    return list(
        where.multiselect(label, options, format_func=labels.__getitem__, key=key, **kwargs)
    )


def unit_selectbox(
    label: str,
    names: Mapping[Any, str],
    *,
    key: str,
    none_label: str | None = None,
    search: Mapping[int, str] | None = None,
    where: Any = None,
    **kwargs: Any,
) -> Any:
    """A selectbox of units (`names`: id → label, in order) whose value lives in
    st.session_state[key]; `none_label`: a first option None under that label (e.g. 全部单位).
    Every unit when there are at most PICKER_LIST_ALL, else a search field and at most
    PICKER_CAP matches plus the unit chosen."""
    where = where or st
    current = st.session_state.get(key)
    keep: list[Any] = [current] if isinstance(current, Hashable) and current in names else []
    if key in st.session_state and not keep and not (current is None and none_label is not None):
        # A choice the list no longer holds (another round, a narrower scope): the default.
        del st.session_state[key]
    if len(names) <= PICKER_LIST_ALL:
        options: list[Any] = list(names)
    else:
        text = _search_field(names, key=key, search=search, where=where)
        options = list(matching_units(names, text, keep=keep, search=search))
        _note_truncated(names, text, search, where)
    if none_label is not None:
        options = [None, *options]
    labels: dict[Any, str] = {u: names[u] for u in options if u is not None}
    if none_label is not None:
        labels[None] = none_label
    return where.selectbox(label, options, format_func=labels.__getitem__, key=key, **kwargs)
