"""The machine the numbers were measured on, and its memory bandwidth measured in the same
run (so results can be read against the limit)."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from xuncha.bench.timing import median


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "duckdb": _version("duckdb"),
        "streamlit": _version("streamlit"),
        "polars": _version("polars"),
        "pandas": _version("pandas"),
        "sqlite": sqlite3.sqlite_version,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def memory_bandwidth_gbps(size_bytes: int = 1 << 30, repeats: int = 5) -> float:
    """STREAM-style copy bandwidth: a numpy copy of `size_bytes` (1 GiB) into a second
    array; bytes read + bytes written per second, GB/s (10⁹), median of `repeats`."""
    import numpy as np

    source = np.ones(size_bytes // 8, dtype=np.float64)
    target = np.empty_like(source)
    np.copyto(target, source)  # touch every page first
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        np.copyto(target, source)
        samples.append(2 * source.nbytes / (time.perf_counter() - started) / 1e9)
    del source, target
    return round(median(samples), 2)
