"""Filters from what a person types (round and unit names, category codes, a date), and
filters back in names.

The command line takes rounds and units by name. For a reader with a scope, a round or unit
outside it is unknown in the same words as one that does not exist, and an error lists only
the rounds the reader may see: an error never tells what exists beyond the scope.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from xuncha.auth.access import Access
from xuncha.auth.scope import name_key, scope_ids
from xuncha.filters import Filters, describe_filters, resolve_scope
from xuncha.store.reader import Reader


class FilterInputError(ValueError):
    """A name, code or date that does not resolve; its message is the one line to show."""


def parse_date(text: str | None) -> dt.date | None:
    """A date typed as YYYY-MM-DD (None stays None)."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FilterInputError(f"日期格式不正确：{text!r}（应为 YYYY-MM-DD）") from None


def filters_from_names(
    reader: Reader,
    *,
    rounds: Sequence[str] = (),
    units: Sequence[str] = (),
    categories: Sequence[str] = (),
    as_of: str | None = None,
    access: Access | None = None,
) -> Filters:
    """Filters from names typed by a user; an unknown name is an error, never dropped. For a
    user with a scope (`access`), a round or unit outside it is unknown too, in the same
    words, and the rounds an error lists are only the user's. Several rounds must follow one
    another (they become a round range). A unit is named by its full or short name."""
    shown_rounds, shown_units = visible_ids(reader, access)
    round_seqs: list[int] = []
    if rounds:
        known = reader.query("rounds_list")
        if shown_rounds is not None:
            known = known.filter(pl.col("round_id").is_in(sorted(shown_rounds)))
        by_name = {name_key(n): s for n, s in known.select("name", "seq").rows()}
        for name in rounds:
            if name_key(name) not in by_name:
                raise FilterInputError(
                    f"未知轮次：{name}（可用：{'、'.join(known['name'].to_list())}）"
                )
            round_seqs.append(by_name[name_key(name)])
    unit_ids: list[int] = []
    if units:
        known_units = reader.query("units_list")
        if shown_units is not None:
            known_units = known_units.filter(pl.col("unit_id").is_in(sorted(shown_units)))
        lookup: dict[str, int] = {}
        for uid, name, short in known_units.select("unit_id", "name", "short_name").rows():
            lookup[name_key(name)] = uid
            lookup.setdefault(name_key(short), uid)
        for name in units:
            if name_key(name) not in lookup:
                raise FilterInputError(f"未知单位：{name}")
            unit_ids.append(lookup[name_key(name)])
    l1: list[str] = []
    l2: list[str] = []
    if categories:
        known_cats = reader.query("categories_list")
        l1_codes = set(known_cats["category_l1"].to_list())
        l2_codes = set(known_cats["category_l2"].to_list())
        for code in categories:
            code = code.strip().upper()
            if code in l1_codes:
                l1.append(code)
            elif code in l2_codes:
                l2.append(code)
            else:
                raise FilterInputError(f"未知类别代码：{code}")
    filters = Filters(
        unit_ids=tuple(unit_ids),
        category_l1=tuple(l1),
        category_l2=tuple(l2),
        as_of=parse_date(as_of),
    )
    if round_seqs:
        seqs = sorted(round_seqs)
        if seqs != list(range(seqs[0], seqs[-1] + 1)):
            raise FilterInputError("--round 多次指定时须为连续轮次")
        filters = filters.with_(round_from=seqs[0], round_to=seqs[-1])
    return filters


def visible_ids(reader: Reader, access: Access | None) -> tuple[set[int] | None, set[int] | None]:
    """The round_ids and unit_ids a user with a scope may name (None: every one): those of
    the inspections in the scope, and the rounds and units the scope names."""
    if access is None or not access.scoped:
        return None, None
    shown = resolve_scope(reader, Filters(), access=access).inspection_ids
    frame = reader.query("inspections_list").filter(pl.col("inspection_id").is_in(list(shown)))
    rounds = {int(r) for r in frame["round_id"].to_list()}
    units = {int(u) for u in frame["unit_id"].to_list()}
    named_rounds, named_units = scope_ids(reader, access)
    rounds.update(named_rounds or ())
    units.update(named_units or ())
    return rounds, units


def describe_in_names(reader: Reader, filters: Filters) -> str:
    """The filters in words (describe_filters), rounds and units by their names."""
    rounds = reader.query("rounds_list")
    units = reader.query("units_list")
    return describe_filters(
        filters,
        round_labels=dict(rounds.select("seq", "name").rows()),
        unit_names=dict(units.select("unit_id", "name").rows()),
    )
