"""Keyword search over the findings' text (具体问题 and 具体表现), defined once.

`queries/findings_search.sql` is the definition: the findings in scope as of a date whose
title or detail contains every term, literally and with the case as typed, latest round
first. Scanning 240 MB of text in DuckDB costs ~170 ms at a million findings, so the
dashboard holds the text of one data version in memory (`TextIndex`, ~270 MB at that scale,
loaded on the first search) and answers in Polars, which scans it in a few tens of
milliseconds; a test checks both give the same findings for many scopes, dates and terms.
Scope (inspections, categories, date) is applied here too, so a search never returns a
finding its reader may not see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from xuncha.filters import Scope
from xuncha.store.reader import Reader

MAX_TERMS = 8
MAX_TERM_CHARS = 50


class SearchError(ValueError):
    """Search text that cannot be searched for, with the reason in Chinese."""


def search_terms(text: str) -> list[str]:
    """The terms of what a user typed: split on spaces (half- or full-width), duplicates
    dropped, in order. Empty: nothing to search for."""
    terms = list(dict.fromkeys(t for t in re.split(r"[\s\u3000]+", text.strip()) if t))
    if len(terms) > MAX_TERMS:
        raise SearchError(f"检索词最多 {MAX_TERMS} 个（以空格分隔）")
    if any(len(t) > MAX_TERM_CHARS for t in terms):
        raise SearchError(f"每个检索词最多 {MAX_TERM_CHARS} 个字")
    return terms


def search_sql(reader: Reader, scope: Scope, terms: list[str]) -> list[int]:
    """The definition, run in DuckDB (the command line; the reference for TextIndex)."""
    if not terms:
        return []
    frame = reader.query("findings_search", scope.params(terms=terms))
    return [int(i) for i in frame["finding_id"].to_list()]


@dataclass(frozen=True)
class TextIndex:
    """The text of every finding of one data version, in listing order, held in memory."""

    version: int
    frame: pl.DataFrame  # queries/findings_text.sql, in the listing's order

    @classmethod
    def load(cls, reader: Reader) -> TextIndex:
        return cls(reader.version, reader.query("findings_text"))

    @property
    def rows(self) -> int:
        return self.frame.height

    def search(self, scope: Scope, terms: list[str]) -> list[int]:
        """The finding ids of `findings_search` for this scope and these terms."""
        if not terms:
            return []
        # Cheap filters first, then each term only over the rows still left: the text is
        # scanned once for the first term, a few rows for the others.
        found = self.frame.filter(pl.col("feedback_date") <= scope.as_of)
        ids = scope.ids_param()
        if ids is not None:
            found = found.filter(pl.col("inspection_id").is_in(ids))
        if scope.category_l1:
            found = found.filter(pl.col("category_l1").is_in(list(scope.category_l1)))
        if scope.category_l2:
            found = found.filter(pl.col("category_l2").is_in(list(scope.category_l2)))
        for term in terms:
            found = found.filter(
                pl.col("title").str.contains(term, literal=True)
                | pl.col("detail").str.contains(term, literal=True)
            )
        return [int(i) for i in found["finding_id"].to_list()]
