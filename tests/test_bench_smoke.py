"""A smoke run of the benchmark harness (`xuncha bench --quick`) at 10k findings: one filter
state, fewer repeats, no browser, import or load test. Checks the JSON has every field of
issue 8, that the SQLite and pandas answers were checked equal to ours, and that the numbers
are positive. The benchmark itself is not part of the test suite (bench/RESULTS.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xuncha.bench.pages import PAGES
from xuncha.bench.questions import QUESTIONS
from xuncha.cli import main

# Its module-scoped set-up is costly: one xdist worker builds it once (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("bench_smoke")

PAGE_FIELDS = ("page", "query_ms", "sqlite_ms", "pandas_ms", "render_ms_cold", "render_ms_warm")
TOP_FIELDS = (
    "text_search_ms",
    "import_100k_s",
    "import_peak_mb",
    "memory_gbps",
    "build_s",
    "machine",
    "date",
    "p50_ms",
    "p95_ms",
    "errors",
    "rss_mb",
    "budgets",
    "answers_checked",
)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("bench")
    out_file = folder / "out.json"
    argv = ["bench", "--findings", "10000", "--quick", "--format", "json", "--no-save"]
    argv += ["--keep", str(folder / "stores"), "--out", str(out_file)]
    assert main(argv) == 0
    return json.loads(out_file.read_text(encoding="utf-8"))


def test_the_json_has_every_field(result: dict) -> None:
    for field in TOP_FIELDS:
        assert field in result, field
    assert [p["page"] for p in result["pages"]] == [p.name for p in PAGES]
    for row in result["pages"]:
        for field in PAGE_FIELDS:
            assert field in row, (row["page"], field)
    machine = result["machine"]
    for field in ("cores", "ram_gib", "cpu_model", "python", "duckdb", "streamlit"):
        assert machine[field], field
    assert result["build_s"]["10000"] > 0
    # --quick leaves out the import, the browser and the load test: present, but empty.
    for field in ("import_100k_s", "import_peak_mb", "p50_ms", "p95_ms", "errors", "rss_mb"):
        assert result[field] is None, field


def test_sqlite_and_pandas_answers_were_checked_equal_to_ours(result: dict) -> None:
    size = result["sizes"][0]
    # every question, in each filter state, for both competitors
    assert size["answers_checked"] == 2 * len(QUESTIONS) * len(size["filter_states"])
    assert set(size["questions"]) == set(QUESTIONS)
    for entry in size["questions"].values():
        for state in entry["by_state"].values():
            assert state["ours_ms"] > 0 and state["sqlite_ms"] > 0 and state["pandas_ms"] > 0


def test_the_numbers_are_positive(result: dict) -> None:
    assert result["memory_gbps"] > 0
    assert result["text_search_ms"] > 0
    for row in result["pages"]:
        for field in PAGE_FIELDS[1:]:
            assert row[field] > 0, (row["page"], field)
    size = result["sizes"][0]
    assert size["rows_findings"] == 10_000 and size["rows_measures"] > 10_000
    for row in size["pages"]:
        assert row["queries"] > 0 and row["top_queries"]


def test_every_budget_is_reported_met_or_not(result: dict, tmp_path: Path) -> None:
    budgets = result["budgets"]
    assert len(budgets) == 5 * len(PAGES) + 1  # per page 5, plus text search
    assert all(b["met"] in (True, False) for b in budgets)
    assert result["all_budgets_met"] == all(b["met"] for b in budgets)


def test_import_peak_is_the_child_s_own_not_its_parent_s() -> None:
    """The import is measured in a child process started by the benchmark, which holds its
    stores and frames (gigabytes at 1M findings). Linux carries ru_maxrss across fork and exec,
    so the child's peak must come from its own address space (VmHWM)."""
    import importlib.util
    import subprocess
    import sys

    from xuncha.bench.importer import SCRIPT

    held = bytearray(400 * 1024 * 1024)
    for i in range(0, len(held), 4096):  # touch every page so it is resident
        held[i] = 1
    code = (
        "import importlib.util; "
        f"spec = importlib.util.spec_from_file_location('b', {str(SCRIPT)!r}); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        "print(m.peak_rss_mb())"
    )
    run = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    child = float(run.stdout.strip())
    spec = importlib.util.spec_from_file_location("bench_import", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parent = module.peak_rss_mb()
    assert parent >= 400, parent  # the measure sees what this process holds
    assert 5 < child < 200, child  # and the child reports its own, not the 400 MB held here
    del held


def test_the_cost_of_encryption_at_rest_is_measured_side_by_side(result: dict) -> None:
    measured = result["sizes"][0]["encryption"]
    for step in ("open", "sandbox", "write"):
        row = measured[step]
        assert row["plain_ms"] > 0 and row["sealed_ms"] > 0, step
        assert row["extra_ms"] == pytest.approx(row["sealed_ms"] - row["plain_ms"], abs=0.11)
    assert measured["seal_ms"] > 0 and measured["version_mb"] > 0
    # An open reader of the sealed store holds its plaintext version in memory.
    assert measured["reader_plaintext_mb"] >= 0.5 * measured["version_mb"]


def test_the_online_rectification_steps_were_measured_beside_an_empty_write(result: dict) -> None:
    measured = result["sizes"][0]["rectify"]
    for step in ("empty", "report", "submit", "pass", "close", "queue", "unit"):
        assert measured[f"{step}_ms"] > 0, step
    for step in ("report", "submit", "pass", "close"):
        assert measured[f"{step}_ratio"] == round(
            measured[f"{step}_ms"] / measured["empty_ms"], 2
        ), step
