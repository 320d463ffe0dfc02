"""The global filters every page shares, their URL form, and their resolution to a query scope.

A `Filters` value is what the user picked (round range, kinds, sectors, peer groups, units,
categories, as-of date). `resolve_scope` turns it, on one data version, into the bound
parameters every named query takes: the inspections in scope, the category lists and the
as-of date. Access scope (who may see what) will narrow the same inspection list, so every
path that reads findings goes through here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from xuncha.auth.access import CLUE_DETAILS, VIEW_PAGES, Access
from xuncha.auth.scope import scope_ids
from xuncha.store.reader import Reader

URL_KEYS = ("rounds", "kind", "sector", "peer", "unit", "l1", "l2", "asof")


@dataclass(frozen=True)
class Filters:
    round_from: int | None = None  # round seq, inclusive
    round_to: int | None = None
    kinds: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    peer_groups: tuple[str, ...] = ()
    unit_ids: tuple[int, ...] = ()
    category_l1: tuple[str, ...] = ()
    category_l2: tuple[str, ...] = ()
    as_of: dt.date | None = None  # None: today

    def effective_as_of(self, today: dt.date | None = None) -> dt.date:
        return self.as_of or today or dt.date.today()

    def with_(self, **changes: Any) -> Filters:
        return replace(self, **changes)

    # -- URL query string --------------------------------------------------------------

    def to_url(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.round_from is not None or self.round_to is not None:
            out["rounds"] = f"{self.round_from or ''}-{self.round_to or ''}"
        for key, values in (
            ("kind", self.kinds),
            ("sector", self.sectors),
            ("peer", self.peer_groups),
            ("unit", tuple(str(u) for u in self.unit_ids)),
            ("l1", self.category_l1),
            ("l2", self.category_l2),
        ):
            if values:
                out[key] = ",".join(values)
        if self.as_of is not None:
            out["asof"] = self.as_of.isoformat()
        return out

    @classmethod
    def from_url(cls, params: Mapping[str, str]) -> Filters:
        """Parse a URL query string; values that do not parse are dropped, never guessed."""

        def split(key: str) -> tuple[str, ...]:
            raw = params.get(key) or ""
            return tuple(part for part in (p.strip() for p in raw.split(",")) if part)

        round_from = round_to = None
        if params.get("rounds"):
            lo, _, hi = params["rounds"].partition("-")
            round_from = int(lo) if lo.isdigit() else None
            round_to = int(hi) if hi.isdigit() else None
        as_of = None
        if params.get("asof"):
            try:
                as_of = dt.date.fromisoformat(params["asof"])
            except ValueError:
                as_of = None
        return cls(
            round_from=round_from,
            round_to=round_to,
            kinds=split("kind"),
            sectors=split("sector"),
            peer_groups=split("peer"),
            unit_ids=tuple(int(u) for u in split("unit") if u.isdigit()),
            category_l1=split("l1"),
            category_l2=split("l2"),
            as_of=as_of,
        )


@dataclass(frozen=True)
class Scope:
    """Bound parameters for named queries: what is in scope, as of when."""

    inspection_ids: tuple[int, ...]
    category_l1: tuple[str, ...] | None
    category_l2: tuple[str, ...] | None
    as_of: dt.date
    filters: Filters = field(default_factory=Filters)
    # Access scope (who may see what). unit_filter: the units the reader may see (None: all);
    # population_ids: the inspections the filters select before access narrowed them (None:
    # not narrowed). Peer-group scores are computed on the population and then shown only
    # for the units the reader may see, so a scoped reader sees the same scores as everyone.
    unit_filter: frozenset[int] | None = None
    population_ids: tuple[int, ...] | None = None
    access_text: str = ""
    # How many inspections the store has: a scope holding all of them passes NULL ("every
    # inspection") to the queries instead of the whole list, whose binding alone costs
    # tens of milliseconds per query at provincial scale. Kept as a count, not a flag, so a
    # scope narrowed with dataclasses.replace() can never pass for the whole store.
    total_inspections: int | None = None
    # The date from which the store's current-state summaries (rect_current*) hold (None:
    # unknown or missing). Kept as a date, not a flag, so a scope whose as_of is replaced by
    # an earlier date falls back to the timelines by itself.
    settled_on: dt.date | None = None
    # Whether the reader may see clue counts exactly (case roles; the system's own view).
    # Off by default: a scope made without access shows clue figures disclosure-controlled
    # (xuncha.figures.disclosure).
    clue_details: bool = False

    @property
    def current(self) -> bool:
        """True when nothing changes after settled_on up to as_of: queries may read the
        current-state summaries instead of the timelines (the usual case: today)."""
        return self.settled_on is not None and self.as_of >= self.settled_on

    def ids_param(self) -> list[int] | None:
        """The inspections as a query parameter: None when they are every inspection."""
        if (
            self.total_inspections is not None
            and len(self.inspection_ids) == self.total_inspections
        ):
            return None
        return list(self.inspection_ids)

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "inspection_ids": self.ids_param(),
            "category_l1": list(self.category_l1) if self.category_l1 else None,
            "category_l2": list(self.category_l2) if self.category_l2 else None,
            "as_of": self.as_of,
            "current": self.current,
            **extra,
        }


def resolve_scope(
    reader: Reader,
    filters: Filters,
    today: dt.date | None = None,
    *,
    access: Access | None = None,
) -> Scope:
    """The inspections the filters select, narrowed to what `access` may see (None: the
    system's own view, everything). Every page, export, briefing, SQL sandbox and command
    that reads findings gets its scope here, so access is enforced in one place."""
    frame = reader.query(
        "scope_inspections",
        {
            "round_from": filters.round_from,
            "round_to": filters.round_to,
            "kinds": list(filters.kinds) or None,
            "sectors": list(filters.sectors) or None,
            "peer_groups": list(filters.peer_groups) or None,
            "unit_ids": list(filters.unit_ids) or None,
        },
    )
    population = tuple(int(i) for i in frame["inspection_id"].to_list())
    visible = population
    unit_filter: frozenset[int] | None = None
    narrowed = False
    if access is not None and not access.can(VIEW_PAGES):
        visible, unit_filter, narrowed = (), frozenset(), True
    elif access is not None and access.scoped:
        round_ids, unit_ids = scope_ids(reader, access)
        kept = frame
        if round_ids is not None:
            kept = kept.filter(pl.col("round_id").is_in(list(round_ids)))
        if unit_ids is not None:
            kept = kept.filter(pl.col("unit_id").is_in(list(unit_ids)))
            unit_filter = frozenset(int(u) for u in unit_ids)
        visible = tuple(int(i) for i in kept["inspection_id"].to_list())
        narrowed = True
    return Scope(
        inspection_ids=visible,
        category_l1=filters.category_l1 or None,
        category_l2=filters.category_l2 or None,
        as_of=filters.effective_as_of(today),
        filters=filters,
        unit_filter=unit_filter,
        population_ids=population if narrowed else None,
        access_text=access.describe() if access is not None else "",
        total_inspections=int(reader.query("inspections_count")["inspections"][0]),
        settled_on=settled_on(reader),
        clue_details=access is None or access.can(CLUE_DETAILS),
    )


def settled_on(reader: Reader) -> dt.date | None:
    """The date from which the current-state summaries hold (None: a store whose summaries
    are missing or older than this code; the timelines are read then)."""
    frame = reader.query("store_settled_on")
    value = frame["settled_on"][0] if frame.height else None
    return value if isinstance(value, dt.date) else None


def describe_filters(
    filters: Filters,
    *,
    round_labels: Mapping[int, str] | None = None,
    unit_names: Mapping[int, str] | None = None,
) -> str:
    """The filters in words, for captions, exports and briefings (Chinese)."""
    parts: list[str] = []
    labels = round_labels or {}
    if filters.round_from is not None or filters.round_to is not None:
        lo = labels.get(filters.round_from or -1, str(filters.round_from or "最早"))
        hi = labels.get(filters.round_to or -1, str(filters.round_to or "最新"))
        parts.append(f"轮次 {lo}" if lo == hi else f"轮次 {lo} 至 {hi}")
    if filters.kinds:
        parts.append("类型 " + "、".join(filters.kinds))
    if filters.sectors:
        parts.append("领域 " + "、".join(filters.sectors))
    if filters.peer_groups:
        parts.append("同类组 " + "、".join(filters.peer_groups))
    if filters.unit_ids:
        names = unit_names or {}
        parts.append("单位 " + "、".join(names.get(u, str(u)) for u in filters.unit_ids))
    if filters.category_l1 or filters.category_l2:
        parts.append("类别 " + "、".join(filters.category_l1 + filters.category_l2))
    return "；".join(parts) if parts else "全部轮次、全部单位、全部类别"
