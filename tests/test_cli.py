"""The xuncha command line: demo, info, metrics, and one-line errors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from tests.conftest import AS_OF
from xuncha import audit, cli, figures
from xuncha.auth import UserStore
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


# -- a user with a scope: errors name nothing beyond it; what is printed is recorded ---------

SCOPED_ROUND = "十四届市委第六轮巡察"
OTHER_ROUND = "十四届市委第五轮巡察"
GROUP_UNITS = ("市统计局", "市应急管理局")
OTHER_UNIT = "市公安局"  # inspected in the same round, outside the group's scope


@pytest.fixture(scope="module")
def scoped_db(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo city's data as a real store (its own trail) with a 巡察组 user whose scope is
    one round and two of its units, and an office user who sees everything."""
    root = tmp_path_factory.mktemp("scoped") / "store"
    shutil.copytree(demo_store.root, root, ignore=shutil.ignore_patterns("audit", "*.lock"))
    store = Store(root)
    store.write(lambda con: con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'"))
    users = UserStore(root, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    password = "Xuncha-Test-2026"
    users.add_user(
        "g1", "group", actor="test", password=password, rounds=[SCOPED_ROUND], units=GROUP_UNITS
    )
    users.add_user("o1", "office", actor="test", password=password)
    return str(root)


def _all_rounds(db: str) -> list[str]:
    reader = open_reader(Store(db))
    try:
        return list(reader.query("rounds_list")["name"].to_list())
    finally:
        reader.close()


def _briefing(db: str, tmp: Path) -> list[str]:
    return ["briefing", "--db", db, "--out", str(tmp / "x.docx"), "--round", SCOPED_ROUND]


@pytest.mark.parametrize("command", ["metrics", "search", "ecology"])
def test_a_round_outside_the_scope_reads_as_unknown_and_only_own_rounds_are_listed(
    capsys: Any, scoped_db: str, command: str
) -> None:
    base = [command, *(["问题"] if command == "search" else []), "--db", scoped_db]
    errors = []
    for name in (OTHER_ROUND, "第九十九轮"):
        code, out, err = run(capsys, *base, "--user", "g1", "--round", name)
        assert code == 1 and out == ""
        (line,) = err.strip().splitlines()
        assert line == f"xuncha: 未知轮次：{name}（可用：{SCOPED_ROUND}）"
        errors.append(line.replace(name, "…"))
        for other in _all_rounds(scoped_db):
            if other != SCOPED_ROUND:
                assert other not in line.replace(name, "…"), other
    assert errors[0] == errors[1]  # a foreign round is told from no unknown one
    # A user who sees everything still hears every round.
    code, _, err = run(capsys, *base, "--user", "o1", "--round", "第九十九轮")
    assert code == 1 and all(r in err for r in _all_rounds(scoped_db))


@pytest.mark.parametrize("command", ["metrics", "search", "briefing"])
def test_a_unit_outside_the_scope_reads_as_unknown(
    capsys: Any, scoped_db: str, command: str, tmp_path: Path
) -> None:
    if command == "briefing":
        base = _briefing(scoped_db, tmp_path)
    else:
        base = [command, *(["问题"] if command == "search" else []), "--db", scoped_db]
    lines = []
    for name in (OTHER_UNIT, "不存在的单位"):
        code, _, err = run(capsys, *base, "--user", "g1", "--unit", name)
        assert code == 1
        (line,) = err.strip().splitlines()
        assert line == f"xuncha: 未知单位：{name}"
        lines.append(line.replace(name, "…"))
    assert lines[0] == lines[1]
    assert not (tmp_path / "x.docx").exists()
    # Its own units and round are known, by full or short name.
    code, out, err = run(
        capsys, "metrics", "--db", scoped_db, "--user", "g1", "--unit", GROUP_UNITS[0]
    )
    assert code == 0 and json.loads(out)["findings"] > 0, err


def _last_print(db: str) -> dict[str, Any]:
    (entry,) = [e for e in audit.entries(db) if e.action in ("cli_query", "export")][-1:]
    return entry.details


@pytest.mark.parametrize(
    ("argv", "columns"),
    [
        (["metrics", "--format", "csv", "--by", "unit"], None),
        (["metrics"], None),
        (["search", "问题", "--format", "json"], list(cli.SEARCH_COLUMNS)),
        (["search", "问题", "--format", "csv"], list(cli.SEARCH_COLUMNS)),
        (["ecology", "--format", "csv", "--round", SCOPED_ROUND], None),
    ],
)
def test_what_a_command_prints_is_recorded_with_its_sha256_and_columns(
    capsysbinary: Any, scoped_db: str, argv: list[str], columns: list[str] | None
) -> None:
    code = cli.main([*argv, "--db", scoped_db, "--user", "g1", "--as-of", AS_OF.isoformat()])
    out = capsysbinary.readouterr().out
    assert code == 0 and out
    details = _last_print(scoped_db)
    assert details["command"] == argv[0] and details["format"] == (
        "json" if "csv" not in argv else "csv"
    )
    assert details["sha256"] == hashlib.sha256(out).hexdigest() and details["bytes"] == len(out)
    if columns is None and "csv" in argv:
        header = out.decode("utf-8").lstrip("\ufeff").splitlines()[0]
        columns = next(csv.reader([header]))
    elif columns is None:
        columns = list(json.loads(out))
    assert details["columns"] == columns


def test_an_sql_export_is_recorded_with_its_sha256_and_columns(
    scoped_db: str, tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    argv = ["sql", "SELECT unit_id, name FROM units ORDER BY 1", "--db", scoped_db]
    assert cli.main([*argv, "--user", "g1", "--format", "csv", "--out", str(target)]) == 0
    details = _last_print(scoped_db)
    assert details["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert details["columns"] == ["unit_id", "name"] and details["rows"] == len(GROUP_UNITS)


def test_a_scoped_user_lists_and_drafts_again_only_their_own_briefings(
    capsys: Any, scoped_db: str, tmp_path: Path
) -> None:
    db = str(tmp_path / "store")
    shutil.copytree(scoped_db, db, ignore=shutil.ignore_patterns("*.lock"))
    made = {}
    for user in ("g1", "o1"):
        code, out, err = run(
            capsys, *_briefing(db, tmp_path), "--user", user, "--as-of", AS_OF.isoformat(),
            "--format", "json",
        )  # fmt: skip
        assert code == 0, err
        made[user] = json.loads(out)["briefing_id"]
    listed = {}
    for user in ("g1", "o1"):
        code, out, _ = run(
            capsys, "briefing", "--db", db, "--list", "--user", user, "--format", "json"
        )
        assert code == 0
        listed[user] = sorted(item["briefing_id"] for item in json.loads(out))
    assert listed == {"g1": [made["g1"]], "o1": sorted(made.values())}
    code, out, err = run(capsys, "briefing", "--db", db, "--regenerate", made["o1"], "--user", "g1")
    assert (code, out, err) == (1, "", "xuncha: g1：只能重新生成本人起草的简报\n")
    for user, brief_id in (("g1", made["g1"]), ("o1", made["g1"])):
        code, out, err = run(
            capsys, "briefing", "--db", db, "--regenerate", brief_id, "--user", user,
            "--format", "json",
        )  # fmt: skip
        assert code == 0 and json.loads(out)["identical"] is True, err
