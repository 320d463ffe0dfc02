"""The demo city: deterministic, and realistic in the ways the pages depend on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import AS_OF
from xuncha import demo, figures
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
