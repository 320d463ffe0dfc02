"""Disclosure control of clue figures (DOMAIN.md §7): the one rule by which every clue count
and person count is shown to a reader without clue rights, on pages, in briefings, exports,
the SQL sandbox and the command line.

Hiding the cells of 1–2 alone is not disclosure control: 4 clues for two units minus 3 for
one of them gives the other exactly. So no figure is ever computed from the exact counts for
such a reader. Each inspection's count is first shown as a band, and every total, per unit,
per round or for the whole scope, is the sum of the bands of the inspections in it: an
interval ("360–444"), exact only when every inspection in it is. Whatever filters, totals and
tables a reader combines, all they can learn is what the bands of single inspections say, and a
band never says 1 or 2:

- counts fixed once an inspection is fed back (clues, persons): 0, "<3" (1 or 2), or exact
  from 3;
- counts that change with 统计截至 (clues and persons by 第三、四种形态, clues closed, which count
  from a clue's closing date): 0, "<3", then bands of three (3–5, 6–8, …), because with exact
  values from 3 the difference between two dates (4 − 3) would be a count of one itself; with
  these bands the difference between two dates is exact only when both are 0.

The attacker test (tests/test_disclosure.py) publishes every figure for every role, filter
and date it can, and solves for each inspection's count from all of them together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from xuncha.filters import Scope
from xuncha.store.reader import Reader

SMALL = "<3"
# The clue figures of clue_cells.sql: those fixed once fed back, and those that change with
# the date (form counts from closing dates).
FIXED = ("clues", "persons")
DATED = (
    "heavier_form_clues",
    "heavier_form_persons",
    "fourth_form_clues",
    "fourth_form_persons",
    "closed",
)
FIGURES = FIXED + DATED
# The ecology indicators (xuncha.figures.ecology, DOMAIN.md §6) computed from clue counts.
CLUE_INDICATORS = frozenset({"clue_density", "heavier_forms", "fourth_form"})
# What an ecology indicator record (scorecard_records) holds that a clue count could be worked
# back from; its normalised value and contribution to the score stay, as on the page.
CLUE_INDICATOR_FIELDS = (
    "raw_value",
    "numerator",
    "peer_reference",
    "peer_best",
    "peer_worst",
    "note",
)
CLUE_INDICATOR_MASKED = "线索数量明细仅案管人员可见"


@dataclass(frozen=True)
class Shown:
    """A clue figure as a reader may see it: the interval it lies in (equal ends: exact)."""

    low: int
    high: int

    @property
    def exact(self) -> bool:
        return self.low == self.high

    @property
    def text(self) -> str:
        if self.exact:
            return f"{self.low:,}"
        if self.high <= 2:
            return SMALL
        return f"{self.low:,}–{self.high:,}"

    def __str__(self) -> str:
        return self.text

    def as_json(self) -> int | dict[str, int]:
        """Exact: the number; else {"min": low, "max": high} (machine-readable outputs)."""
        return self.low if self.exact else {"min": self.low, "max": self.high}


def band(value: int, *, dated: bool = False) -> tuple[int, int]:
    """The interval one inspection's count is shown as (module docstring)."""
    if value < 0:
        raise ValueError(f"a count cannot be negative: {value}")
    if value == 0:
        return 0, 0
    if value <= 2:
        return 1, 2
    if dated:
        start = value - value % 3
        return start, start + 2
    return value, value


def disclose(values: Iterable[int], *, dated: bool = False) -> Shown:
    """A total as shown without clue rights: the sum of its inspections' bands."""
    low = high = 0
    for value in values:
        lo, hi = band(int(value), dated=dated)
        low += lo
        high += hi
    return Shown(low, high)


def exact(values: Iterable[int]) -> Shown:
    total = sum(int(v) for v in values)
    return Shown(total, total)


def shown(values: Iterable[int], figure: str, *, clue_details: bool) -> Shown:
    """One figure over some inspections: exact with clue rights, else disclosed."""
    if figure not in FIGURES:
        raise ValueError(f"not a clue figure: {figure!r}")
    if clue_details:
        return exact(values)
    return disclose(values, dated=figure in DATED)


def cells(reader: Reader, scope: Scope) -> pl.DataFrame:
    """Each inspection's clue figures in scope (clue_cells.sql): what every total is built
    from. Never shown as such to a reader without clue rights."""
    return reader.query("clue_cells", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of})


def totals(reader: Reader, scope: Scope, *, clue_details: bool | None = None) -> dict[str, Shown]:
    """Every clue figure for the whole scope, as this scope's reader may see it."""
    allowed = scope.clue_details if clue_details is None else clue_details and scope.clue_details
    frame = cells(reader, scope)
    return {f: shown(frame[f].to_list(), f, clue_details=allowed) for f in FIGURES}


def by_unit(
    reader: Reader, scope: Scope, *, clue_details: bool | None = None
) -> dict[int, dict[str, Shown]]:
    """Every clue figure per unit in scope (its inspections' bands summed)."""
    allowed = scope.clue_details if clue_details is None else clue_details and scope.clue_details
    return _grouped(cells(reader, scope), "unit_id", allowed)


def _grouped(frame: pl.DataFrame, key: str, allowed: bool) -> dict[int, dict[str, Shown]]:
    out: dict[int, dict[str, Shown]] = {}
    for part in frame.partition_by(key, maintain_order=True):
        out[int(part[key][0])] = {
            f: shown(part[f].to_list(), f, clue_details=allowed) for f in FIGURES
        }
    return out


def as_json(figures: Mapping[str, Shown]) -> dict[str, Any]:
    return {name: value.as_json() for name, value in figures.items()}


def mask_clue_indicators(
    records: list[dict[str, Any]], *, clue_details: bool
) -> list[dict[str, Any]]:
    """Ecology records (one per unit, with their "indicators") as a reader may see them:
    without clue rights, each clue indicator's CLUE_INDICATOR_FIELDS are None and it says
    why ("masked"). The records are changed in place and returned."""
    if clue_details:
        return records
    for record in records:
        for item in record.get("indicators", []):
            if item.get("key") in CLUE_INDICATORS:
                item.update({k: None for k in CLUE_INDICATOR_FIELDS})
                item["masked"] = CLUE_INDICATOR_MASKED
    return records
