"""A user's scope (round and unit names) checked against, and resolved on, the store's data."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable

from xuncha.auth.access import ONE_UNIT, Access, AuthError, scope_tuple
from xuncha.store import Reader, Store, open_reader


def canonical_scope(
    store_root: str | os.PathLike[str],
    rounds: Iterable[str] | None,
    units: Iterable[str] | None,
    *,
    role: str | None = None,
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None, bool]:
    """Round and unit names as the store spells them (a unit's short name gives its full
    name), and whether they were checked (False when the store has no data yet).
    AuthError names an unknown round or unit and lists the known ones (for administrators
    only: user management is the one place these names are typed), and, for a liaison's
    `role`, a round that did not inspect its unit."""
    wanted_rounds, wanted_units = scope_tuple(rounds), scope_tuple(units)
    store = Store(store_root)
    if not store.exists() or (wanted_rounds is None and wanted_units is None):
        return wanted_rounds, wanted_units, store.exists()
    reader = open_reader(store)
    try:
        out_rounds, out_units = resolve_names(reader, wanted_rounds, wanted_units)
        if role is not None:
            check_unit_rounds(reader, role, out_rounds, out_units)
        return out_rounds, out_units, True
    finally:
        reader.close()


def check_unit_rounds(
    reader: Reader, role: str, rounds: tuple[str, ...] | None, units: tuple[str, ...] | None
) -> None:
    """A liaison's rounds (optional) must be rounds that inspected its one unit: AuthError
    names a round that did not, and the rounds that did. Names as the store spells them
    (resolve_names); other roles, and a scope check_scope refuses anyway, pass."""
    if role not in ONE_UNIT or rounds is None or units is None or len(units) != 1:
        return
    unit = units[0]
    frame = reader.query("inspections_list").reverse()  # earliest round first
    inspected = [
        name
        for name, full, short in frame.select("round_name", "unit_name", "short_name").rows()
        if name_key(full) == name_key(unit) or (short and name_key(short) == name_key(unit))
    ]
    done = {name_key(n) for n in inspected}
    for name in rounds:
        if name_key(name) not in done:
            listed = "、".join(dict.fromkeys(inspected)) or "无"
            raise AuthError(f"{name}未巡察{unit}（巡察过该单位的轮次：{listed}）")


def resolve_names(
    reader: Reader, rounds: tuple[str, ...] | None, units: tuple[str, ...] | None
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    out_rounds = None
    if rounds is not None:
        known = reader.query("rounds_list")["name"].to_list()
        by_name = {name_key(n): n for n in known}
        out_rounds = tuple(dict.fromkeys(_pick(by_name, name, "轮次", known) for name in rounds))
    out_units = None
    if units is not None:
        rows = reader.query("units_list").select("name", "short_name").rows()
        by_unit: dict[str, str] = {name_key(n): n for n, _ in rows}
        shorts: dict[str, set[str]] = {}
        for full, short in rows:
            if short:
                shorts.setdefault(name_key(short), set()).add(full)
        for short, fulls in shorts.items():
            if short not in by_unit and len(fulls) == 1:
                by_unit[short] = next(iter(fulls))
        names = [n for n, _ in rows]
        picked = []
        for name in units:
            if name_key(name) not in by_unit and len(shorts.get(name_key(name), ())) > 1:
                raise AuthError(f"单位简称不唯一：{name}（请写全称）")
            picked.append(_pick(by_unit, name, "单位", names))
        out_units = tuple(dict.fromkeys(picked))
    return out_rounds, out_units


def scope_ids(
    reader: Reader, access: Access
) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """The round_ids and unit_ids the access may see (None: all). A name that no longer
    matches the data is dropped, so a stale scope shows less, never more."""
    round_ids = None
    if access.rounds is not None:
        wanted = {name_key(n) for n in access.rounds}
        frame = reader.query("rounds_list")
        round_ids = tuple(
            int(rid)
            for rid, name in frame.select("round_id", "name").rows()
            if name_key(name) in wanted
        )
    unit_ids = None
    if access.units is not None:
        wanted = {name_key(n) for n in access.units}
        rows = reader.query("units_list").select("unit_id", "name", "short_name").rows()
        short_count: dict[str, int] = {}
        for _, _, short in rows:
            if short:
                short_count[name_key(short)] = short_count.get(name_key(short), 0) + 1
        # A short name counts only when it names one unit: an ambiguous one widens nothing.
        unit_ids = tuple(
            int(uid)
            for uid, name, short in rows
            if name_key(name) in wanted
            or (short and name_key(short) in wanted and short_count[name_key(short)] == 1)
        )
    return round_ids, unit_ids


def _pick(known: dict[str, str], name: str, what: str, listing: list[str]) -> str:
    found = known.get(name_key(name))
    if found is None:
        shown = "、".join(listing[:30]) + ("…" if len(listing) > 30 else "")
        raise AuthError(f"未知{what}：{name}（可用：{shown or '无'}）")
    return found


def name_key(text: str) -> str:
    """What two spellings of one round or unit name have in common: NFKC (full-width letters
    and digits as half-width), no spaces anywhere."""
    return "".join(unicodedata.normalize("NFKC", str(text)).split())
