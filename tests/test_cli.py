"""The xuncha command line: demo, info, metrics, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AS_OF
from xuncha import cli, figures
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader

REQUIRED_KEYS = {
    "findings",
    "findings_done",
    "findings_basically_done",
    "findings_open",
    "completion_rate",
    "completion_rate_lenient",
    "measures",
    "measures_done",
    "measure_completion_rate",
    "overdue_measures",
    "overdue_findings",
    "on_time_rate",
    "repeat_findings",
    "rebound_findings",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_prints_the_row_count_of_every_table(capsys: Any, demo_store: Store) -> None:
    code, out, _ = run(capsys, "info", "--db", str(demo_store.root), "--format", "json")
    assert code == 0
    tables = json.loads(out)["tables"]
    reader = open_reader(demo_store)
    try:
        for table in (
            "rounds",
            "units",
            "inspections",
            "findings",
            "measures",
            "clues",
            "measure_status_history",
            "outcomes",
            "import_batches",
        ):
            assert tables[table] == reader.scalar(f"SELECT count(*) FROM {table}")
    finally:
        reader.close()


def test_metrics_prints_the_documented_keys_as_computed_by_the_figures(
    capsys: Any, demo_store: Store
) -> None:
    code, out, _ = run(
        capsys, "metrics", "--db", str(demo_store.root), "--as-of", AS_OF.isoformat()
    )
    assert code == 0
    payload = json.loads(out)
    assert set(payload) >= REQUIRED_KEYS
    reader = open_reader(demo_store)
    expected = figures.rectification(reader, resolve_scope(reader, Filters(as_of=AS_OF))).row(
        0, named=True
    )
    reader.close()
    for key in REQUIRED_KEYS:
        assert payload[key] == expected[key], key
    assert payload["completion_rate"] == round(
        payload["findings_done"] * 100 / payload["findings"], 2
    )


def test_metrics_by_round_lists_one_object_per_round_carrying_its_key(
    capsys: Any, demo_store: Store
) -> None:
    code, out, _ = run(
        capsys,
        "metrics",
        "--db",
        str(demo_store.root),
        "--by",
        "round",
        "--as-of",
        AS_OF.isoformat(),
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 9
    assert all("round" in r and set(r) >= REQUIRED_KEYS for r in rows)
    _, total, _ = run(capsys, "metrics", "--db", str(demo_store.root), "--as-of", AS_OF.isoformat())
    assert sum(r["findings"] for r in rows) == json.loads(total)["findings"]


def test_metrics_filters_by_round_and_unit_names(capsys: Any, demo_store: Store) -> None:
    code, out, _ = run(
        capsys,
        "metrics",
        "--db",
        str(demo_store.root),
        "--round",
        "十四届市委第三轮巡察",
        "--as-of",
        AS_OF.isoformat(),
        "--by",
        "unit",
    )
    assert code == 0
    by_unit = json.loads(out)
    _, one, _ = run(
        capsys,
        "metrics",
        "--db",
        str(demo_store.root),
        "--round",
        "十四届市委第三轮巡察",
        "--unit",
        by_unit[0]["unit"],
        "--as-of",
        AS_OF.isoformat(),
    )
    assert json.loads(one)["findings"] == by_unit[0]["findings"]


def test_metrics_writes_csv_with_a_header(capsys: Any, demo_store: Store) -> None:
    code, out, _ = run(
        capsys,
        "metrics",
        "--db",
        str(demo_store.root),
        "--by",
        "category_l1",
        "--format",
        "csv",
        "--as-of",
        AS_OF.isoformat(),
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert [r["category_l1"] for r in rows] and set(rows[0]) >= REQUIRED_KEYS


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["metrics", "--db", "{missing}"], "数据仓不存在"),
        (["metrics", "--db", "{db}", "--round", "第九十九轮"], "未知轮次"),
        (["metrics", "--db", "{db}", "--unit", "不存在的单位"], "未知单位"),
        (["metrics", "--db", "{db}", "--as-of", "2026-13-01"], "日期格式不正确"),
        (["metrics", "--db", "{db}", "--category", "Q9"], "未知类别代码"),
        (["info", "--db", "{missing}"], "数据仓不存在"),
    ],
)
def test_user_errors_print_one_clear_line_and_exit_non_zero(
    capsys: Any, demo_store: Store, tmp_path: Path, argv: list[str], message: str
) -> None:
    args = [a.format(db=demo_store.root, missing=tmp_path / "missing") for a in argv]
    code, out, err = run(capsys, *args)
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_usage_errors_exit_with_two(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["metrics", "--by", "nonsense"])
    assert exc.value.code == 2


def test_demo_builds_a_store_that_info_reads(capsys: Any, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "demo", "--db", str(tmp_path / "d"), "--format", "json")
    built = json.loads(out)
    assert code == 0 and built["findings"] > 1000 and built["version"] == 1
    _, info, _ = run(capsys, "info", "--db", str(tmp_path / "d"), "--format", "json")
    assert json.loads(info)["tables"]["findings"] == built["findings"]


def test_the_console_script_is_installed() -> None:
    exe = shutil.which("xuncha") or str(Path(__file__).resolve().parents[1] / ".venv/bin/xuncha")
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "metrics" in result.stdout
