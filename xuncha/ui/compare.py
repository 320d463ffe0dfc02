"""Comparing with an earlier date on a page: the choice of the earlier date (a date, or the
统计截至 of an archived 领导简报 this session may see) and the KPI cards with their change
(▲/▼ with the earlier value, rates in percentage points).

Without a comparison the cards are `widgets.count_metric` / `rate_metric` themselves, so a
page looks the same as before unless a comparison is chosen. The changes are
`figures.attention.kpi_changes` of two answers of `figures.overview`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from xuncha import briefing
from xuncha.auth import BRIEFING
from xuncha.figures.attention import Change, at_date, default_since, kpi_changes
from xuncha.figures.rectification import overview
from xuncha.filters import Scope
from xuncha.store.reader import Reader
from xuncha.ui import widgets
from xuncha.ui.data import store
from xuncha.ui.session import access, can_see_all_briefings, user_name

NONE, DATE = "none", "date"


@dataclass(frozen=True)
class Baseline:
    """The earlier date compared with, and how the page names it."""

    as_of: dt.date
    label: str


def archived_briefings() -> list[tuple[str, str, dt.date]]:
    """(id, title, 统计截至) of the archived briefings this session may see, newest first (as
    the 领导简报 page lists them); none without the briefing permission or when the archive
    cannot be read (a sealed archive without its key: the 领导简报 page says why)."""
    if not access().can(BRIEFING):
        return []
    try:
        kept = briefing.archive.list_briefings(
            store(), user=None if can_see_all_briefings() else user_name()
        )
    except (briefing.archive.ArchiveError, OSError, ValueError):
        # A damaged or half-written archive (a draft being saved): no briefing to compare
        # with here; the 领导简报 page says what is wrong.
        return []
    out = []
    for item in kept:
        try:
            as_of = dt.date.fromisoformat(str(item["as_of"]))
        except ValueError:
            continue
        out.append((str(item["briefing_id"]), str(item["title"]), as_of))
    return out


def baseline_picker(
    scope: Scope, *, key: str, default_on: bool, date_slot: Any = None
) -> Baseline | None:
    """The comparison chosen on this page: 不对比, a date (by default SINCE_DAYS days before
    统计截至) or an archived briefing's date. `default_on`: open on the latest briefing before
    统计截至 (else the date) rather than on 不对比. `date_slot`: the container for the date
    field (below the choice when None)."""
    kept = [b for b in archived_briefings() if b[2] <= scope.as_of]
    names = {NONE: "不对比", DATE: "指定日期"}
    names |= {f"b:{i}": f"简报《{t}》的统计截至日 {d.isoformat()}" for i, t, d in kept}
    options = list(names)
    start = (f"b:{kept[0][0]}" if kept else DATE) if default_on else NONE
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    choice = st.selectbox(
        "对比",
        options,
        index=options.index(start),
        format_func=names.__getitem__,
        key=key,
        help="卡片显示与所选日期相比的变化（▲ 增加、▼ 减少，括号内为此前的数值；"
        "比率的变化以百分点计）。选简报时按该简报的统计截至日期、以当前数据和当前筛选重新计算，"
        "与简报印发时的数字可能不同（其后数据有更正，或简报的范围不同）。",
    )
    if choice == DATE:
        default = default_since(scope.as_of, [])
        chosen = (date_slot or st).date_input(
            "对比日期",
            value=min(default, scope.as_of),
            max_value=scope.as_of,
            min_value=dt.date(2000, 1, 1),
            format="YYYY-MM-DD",
            key=f"{key}_date",
        )
        if isinstance(chosen, dt.date):
            return Baseline(chosen, chosen.isoformat())
        return None
    for i, t, d in kept:
        if choice == f"b:{i}":
            return Baseline(d, f"简报《{t}》（{d.isoformat()}）")
    return None


def changes(
    rd: Reader, scope: Scope, kpi: Mapping[str, Any], baseline: Baseline | None
) -> dict[str, Change]:
    """Each KPI's change against the baseline (empty without one)."""
    if baseline is None:
        return {}
    return kpi_changes(dict(kpi), overview(rd, at_date(scope, baseline.as_of)))


def count_card(
    label: str,
    value: Any,
    change: Change | None,
    help_text: str | None = None,
    unit: str = "",
) -> None:
    """widgets.count_metric, with the change as its delta when there is one."""
    widgets.count_metric(label, value, help_text, unit, delta=_delta(change))


def rate_card(key: str, counts: Mapping[str, Any], change: Change | None) -> None:
    """widgets.rate_metric, with the change in percentage points as its delta when there is
    one (the numerator and denominator then in the help)."""
    widgets.rate_metric(key, counts, delta=_delta(change))


def _delta(change: Change | None) -> str | None:
    return change.text if change is not None and change.before is not None else None
