"""Timing helpers: a warm-up, then the median of several runs, in milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def timed(fn: Callable[[], Any], repeats: int, *, warmup: int = 1) -> tuple[float, Any]:
    """Median wall time of `fn` in ms over `repeats` runs after `warmup` runs; and the last
    result (so answers can be checked on exactly what was timed)."""
    result: Any = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(max(repeats, 1)):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return median(samples), result


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100), linear between closest ranks; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
