"""The demo city: deterministic, and realistic in the ways the pages depend on."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from argon2 import PasswordHasher

from tests import ledger_samples as S
from tests.conftest import AS_OF
from tests.test_ledger_cli import _import_args
from xuncha import audit, cli, demo, figures
from xuncha.auth import UserStore
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader


def test_the_same_seed_generates_the_same_city() -> None:
    first = demo.generate(seed=11)
    second = demo.generate(seed=11)
    for table in first:
        assert first[table].equals(second[table]), table


def test_another_seed_generates_another_city() -> None:
    assert not demo.generate(seed=1)["findings"].equals(demo.generate(seed=2)["findings"])


def test_the_findings_flag_builds_exactly_that_many_findings(tmp_path: Path) -> None:
    store = Store(tmp_path / "big")
    summary, _ = store.write(lambda con: demo.build(con, findings=12_345), fresh=True)
    assert summary.findings == 12_345
    reader = open_reader(store)
    try:
        assert reader.scalar("SELECT count(*) FROM findings") == 12_345
        assert reader.scalar("SELECT count(DISTINCT unit_id) FROM units") > len(
            demo.demo_text.UNITS
        )
        assert reader.scalar("SELECT count(*) - count(DISTINCT name) FROM units") == 0
    finally:
        reader.close()


def test_the_demo_has_the_shape_of_a_city(demo_reader: Any) -> None:
    q = demo_reader.scalar
    assert 8 <= q("SELECT count(*) FROM rounds") <= 10
    assert 55 <= q("SELECT count(*) FROM units") <= 70
    assert {
        r for (r,) in demo_reader._con.execute("SELECT DISTINCT kind FROM rounds").fetchall()
    } >= {"常规", "专项", "回头看"}
    assert q("SELECT count(DISTINCT peer_group) FROM units") == 5
    assert q("SELECT min(n) FROM (SELECT count(*) n FROM measures GROUP BY finding_id)") == 1
    assert q("SELECT max(n) FROM (SELECT count(*) n FROM measures GROUP BY finding_id)") == 3
    assert q("SELECT count(DISTINCT category_l2) FROM findings") == 25


def test_every_deadline_form_of_the_ledgers_appears(demo_reader: Any) -> None:
    texts = demo_reader._con.execute("SELECT DISTINCT deadline_text FROM measures").fetchall()
    joined = "\n".join(t for (t,) in texts)
    for pattern in (
        "月底前",
        "年底前",
        "上半年",
        "季度",
        "个月内",
        "立行立改",
        "长期坚持",
        "常态化",
        "完成，长期坚持",
        ".",
    ):
        assert pattern in joined, pattern
    kinds = {
        k
        for (k,) in demo_reader._con.execute(
            "SELECT DISTINCT deadline_kind FROM measures"
        ).fetchall()
    }
    assert kinds == {"IMMEDIATE", "DATE", "RELATIVE", "LONG_TERM"}


def test_finished_rounds_have_unit_completion_rates_like_published_notices(
    demo_reader: Any,
) -> None:
    scope = resolve_scope(demo_reader, Filters(round_to=8, as_of=AS_OF))
    units = figures.rectification(demo_reader, scope, "unit").filter(~pl.col("small_sample"))
    rates = units["completion_rate"]
    assert 80 <= rates.median() <= 98
    assert rates.quantile(0.1) >= 65
    assert rates.max() == 100.0


def test_the_latest_round_is_still_being_rectified(demo_reader: Any) -> None:
    scope = resolve_scope(demo_reader, Filters(round_from=9, as_of=AS_OF))
    latest = figures.rectification(demo_reader, scope, "all").row(0, named=True)
    assert 20 <= latest["completion_rate"] <= 75


def test_the_demo_has_overdue_extended_long_term_repeat_and_rebound_cases(demo_reader: Any) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=AS_OF))
    row = figures.rectification(demo_reader, scope, "all").row(0, named=True)
    assert row["overdue_measures"] > 0
    assert row["measures_long_term"] > 0
    assert 0 < row["rebound_findings"] < row["repeat_findings"]
    assert row["on_time_current"] > row["on_time_original"]  # extensions exist
    extended = demo_reader.scalar(
        "SELECT count(*) FROM measures WHERE deadline_current <> deadline_original"
    )
    assert extended > 0


def test_some_categories_are_common_problems_of_a_round(demo_reader: Any) -> None:
    # DOMAIN.md §5: found in at least max(3, 30% of units inspected) units of the round.
    common = demo_reader.scalar(
        """
        WITH per AS (
            SELECT f.round_id, f.category_l2, count(DISTINCT f.unit_id) AS units
            FROM findings f GROUP BY ALL
        ), size AS (SELECT round_id, count(*) AS n FROM inspections GROUP BY ALL)
        SELECT count(*) FROM per JOIN size USING (round_id)
        WHERE units >= greatest(3, ceil(0.3 * n))
        """
    )
    assert common > 0


def test_clues_use_all_four_forms(demo_reader: Any) -> None:
    forms = {
        f
        for (f,) in demo_reader._con.execute(
            "SELECT DISTINCT form FROM clues WHERE form IS NOT NULL"
        ).fetchall()
    }
    assert forms == {"第一种形态", "第二种形态", "第三种形态", "第四种形态"}


@pytest.mark.parametrize("table", ["findings", "measures"])
def test_generated_text_has_no_unfilled_placeholders(demo_reader: Any, table: str) -> None:
    column = "title || detail" if table == "findings" else "text || coalesce(evidence, '')"
    left = demo_reader.scalar(f"SELECT count(*) FROM {table} WHERE ({column}) LIKE '%{{%'")
    assert left == 0


# -- `xuncha demo` never turns a real store into a demo -------------------------------------

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def real_with_briefing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real store as an office builds it: a ledger imported on the command line (which made
    the store and its administrator), and a briefing drafted and archived there."""
    folder = tmp_path_factory.mktemp("real")
    ledger = S.merged_xlsx(folder / S.MERGED.name)
    db = folder / "store"
    assert cli.main(_import_args(db, ledger)) == 0
    argv = ["briefing", "--db", str(db), "--round", S.ZJ_ROUND, "--as-of", "2024-12-31"]
    assert cli.main([*argv, "--out", str(folder / "简报.docx")]) == 0
    assert list((db / "briefings").glob("*/final.docx"))
    return db


@pytest.fixture()
def real(real_with_briefing: Path, tmp_path: Path) -> Store:
    return Store(shutil.copytree(real_with_briefing, tmp_path / "store"))


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith((".lock", "-wal", "-shm"))
    }


def test_demo_refuses_a_store_with_real_data_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], real: Store
) -> None:
    before = _files(real.root)
    code, out, err = _cli(capsys, "demo", "--db", str(real.root), "--findings", "150")
    assert code == 1 and out == ""
    (line,) = err.strip().splitlines()
    assert "含有真实数据（数据版本 1 不是演示数据）、1 个用户账号" in line
    assert "不能改作演示数据仓" in line and "--force" in line
    assert _files(real.root) == before  # the trail included: nothing was written


def test_demo_refuses_a_store_that_holds_only_users(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "store"
    UserStore(db, hasher=FAST).add_user("admin", "admin", actor="test", password="Xuncha-Test-2026")
    code, _, err = _cli(capsys, "demo", "--db", str(db), "--findings", "150")
    assert code == 1 and "1 个用户账号" in err and not Store(db).exists()


def test_a_forced_demo_moves_the_whole_real_store_aside_first(
    capsys: pytest.CaptureFixture[str], real: Store
) -> None:
    before = _files(real.root)
    code, out, err = _cli(capsys, "demo", "--db", str(real.root), "--findings", "150", "--force")
    assert code == 0, err
    (aside,) = real.root.parent.glob("store.before-demo-*")
    assert re.fullmatch(r"store\.before-demo-\d{14}", aside.name)
    assert f"原数据仓（含真实数据、用户、简报存档和审计记录）已整体改名保留为 {aside}" in out
    # The real store is whole under its new name: data, users, briefings, trail.
    moved = _files(aside)
    assert {k: v for k, v in moved.items() if not k.startswith(("audit/", "auth/"))} == {
        k: v for k, v in before.items() if not k.startswith(("audit/", "auth/"))
    }
    assert UserStore(aside).get("admin") is not None
    assert list((aside / "briefings").glob("*/final.docx"))
    assert audit.verify(aside) == []
    last = audit.entries(aside)[-1]
    assert (last.action, last.details["step"], last.details["moved_to"]) == (
        "demo_build",
        "move_aside",
        str(aside),
    )
    # The demo at the path holds nothing real: no user, no briefing, no real version.
    assert not (real.root / "briefings").exists() and not (real.root / "auth").exists()
    assert Store(real.root).versions() == [1]
    assert demo.real_contents(Store(real.root)) == []
    (built,) = audit.entries(real.root)
    assert built.action == "demo_build" and built.details["replaced"] == str(aside)
    assert built.details["data_version"] == 1 and built.details["findings"] == 150


def test_every_demo_build_is_in_the_audit_trail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "demo"
    assert _cli(capsys, "demo", "--db", str(db), "--findings", "150", "--seed", "7")[0] == 0
    # Building the demo again over a demo store needs no --force.
    assert _cli(capsys, "demo", "--db", str(db), "--findings", "150")[0] == 0
    built = [e for e in audit.entries(db) if e.action == "demo_build"]
    assert [(e.details["data_version"], e.details["seed"], e.details["source"]) for e in built] == [
        (1, 7, "cli"),
        (2, demo.DEFAULT_SEED, "cli"),
    ]
    assert built[0].user == cli._user() and built[0].details["replaced"] is None
    assert audit.verify(db) == []


def test_a_store_is_a_demo_only_when_the_generator_marked_it(
    demo_reader: Any, tmp_path: Path
) -> None:
    assert demo.is_demo_store(demo_reader) is True
    store = Store(tmp_path / "real")
    store.write(lambda con: None, fresh=True)  # the schema alone: no mark at all
    reader = open_reader(store)
    try:
        assert demo.is_demo_store(reader) is False
    finally:
        reader.close()
    store.write(lambda con: con.execute("INSERT INTO store_meta VALUES ('demo', 'false')"))
    reader = open_reader(store)
    try:
        assert demo.is_demo_store(reader) is False
    finally:
        reader.close()
