"""Rates: percentages with two decimals rounded half up, the same scalar and vectorised."""

from __future__ import annotations

import random

import polars as pl
import pytest

from xuncha.figures.rates import DEFINITIONS, rate, rate_expr


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (688, 697, 98.71),  # DOMAIN.md: 697 problems, 688 done → 98.71%, not 99.28%
        (692, 697, 99.28),  # the lenient figure of the same notice
        (1, 8, 12.5),
        (1, 3, 33.33),
        (2, 3, 66.67),
        (1, 200, 0.5),
        (1, 400, 0.25),
        (1, 800, 0.13),  # 0.125 rounds half up, not to even
        (3, 800, 0.38),  # 0.375 → 0.38
        (0, 5, 0.0),
        (5, 5, 100.0),
    ],
)
def test_a_rate_is_a_percentage_rounded_half_up_to_two_decimals(
    numerator: int, denominator: int, expected: float
) -> None:
    assert rate(numerator, denominator) == expected


def test_a_rate_over_nothing_is_undefined_not_zero() -> None:
    assert rate(0, 0) is None
    assert rate(3, None) is None


def test_the_vectorised_rate_equals_the_scalar_rate_for_many_pairs() -> None:
    rng = random.Random(20261125)
    pairs = [(688, 697), (1, 800), (3, 800), (0, 0), (7, 0)]
    for _ in range(50_000):
        den = rng.randint(1, 100_000)
        pairs.append((rng.randint(0, den), den))
    frame = pl.DataFrame(pairs, schema=["n", "d"], orient="row").with_columns(
        rate_expr(("n",), "d").alias("r")
    )
    mismatches = [(n, d, r) for n, d, r in frame.rows() if rate(n, d) != r]
    assert mismatches == []


def test_the_lenient_rate_adds_basically_done_to_done() -> None:
    counts = {"findings": 697, "findings_done": 688, "findings_basically_done": 4}
    assert DEFINITIONS["completion_rate"].compute(counts) == 98.71
    assert DEFINITIONS["completion_rate_lenient"].compute(counts) == 99.28


def test_every_figure_states_its_definition_in_chinese() -> None:
    for figure in DEFINITIONS.values():
        assert figure.label and any("\u4e00" <= ch <= "\u9fff" for ch in figure.definition)
