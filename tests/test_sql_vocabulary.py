"""The SQL vocabulary (xuncha/store/sql/vocabulary*.sql): one test per macro, each against an
independent computation (Polars over the base and timeline tables, or the rule written out in
Python), the two branches of every table macro equal on and after settled_on for every filter
state, and no named query that writes a rule the vocabulary owns instead of calling it.

A macro added to the vocabulary without a test here fails test_every_macro_has_its_test."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from xuncha.filters import Filters, resolve_scope
from xuncha.store import Reader, Store, sql
from xuncha.store.reader import QUERIES_DIR, load_queries

FILTERS = [
    Filters(),
    Filters(round_from=8, round_to=8),
    Filters(category_l1=("B",)),
    Filters(category_l2=("B03", "C01")),
    Filters(peer_groups=("乡镇街道",)),
]
TESTED: set[str] = set()  # the macros the tests below exercise (filled as they are defined)


def covers(*names: str) -> Any:
    TESTED.update(names)
    return lambda fn: fn


@pytest.fixture(scope="module")
def con(demo_store: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = demo_store.connect()
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def settled(con: duckdb.DuckDBPyConnection) -> dt.date:
    value = con.execute("SELECT value FROM store_meta WHERE key = 'settled_on'").fetchone()
    assert value is not None
    return dt.date.fromisoformat(value[0])


def frame(con: duckdb.DuckDBPyConnection, query: str, params: Any = None) -> pl.DataFrame:
    cursor = con.cursor()
    try:
        return cursor.sql(query, params=params).pl()
    finally:
        cursor.close()


def scalar(con: duckdb.DuckDBPyConnection, query: str, params: Any = None) -> Any:
    return frame(con, query, params).item()


def scope_params(reader: Reader, filters: Filters, as_of: dt.date) -> dict[str, Any]:
    params = resolve_scope(reader, filters.with_(as_of=as_of)).params()
    return {k: params[k] for k in ("inspection_ids", "category_l1", "category_l2", "as_of")}


def in_scope_expr(params: dict[str, Any]) -> pl.Expr:
    """The scope test written out in Polars."""
    expr = pl.lit(True)
    for column, key in (
        ("inspection_id", "inspection_ids"),
        ("category_l1", "category_l1"),
        ("category_l2", "category_l2"),
    ):
        if params[key] is not None:
            expr &= pl.col(column).is_in(params[key])
    return expr


def valid_on_expr(as_of: dt.date) -> pl.Expr:
    return (pl.col("valid_from") <= as_of) & (
        pl.col("valid_to").is_null() | (pl.col("valid_to") > as_of)
    )


def sorted_rows(df: pl.DataFrame) -> list[tuple[Any, ...]]:
    return sorted(df.rows(), key=repr)


# -- the vocabulary and the queries ---------------------------------------------------------


def test_changing_the_store_s_sql_raises_the_layout() -> None:
    """Versions written before a change to xuncha/store/sql/ lack its macros and tables; they
    are read through an upgraded copy only when CURRENT_LAYOUT is raised (Store.readable_file)."""
    from xuncha.store import schema

    assert sql.digest() == schema.LAYOUT_DIGEST, (
        f"xuncha/store/sql/ changed: raise schema.CURRENT_LAYOUT (and the layout named in"
        f" queries/store_settled_on.sql), then set schema.LAYOUT_DIGEST = {sql.digest()!r}"
    )


def test_every_macro_has_its_test() -> None:
    defined = {name for names in sql.macro_names().values() for name in names}
    assert len(defined) >= 15
    assert defined == TESTED, (sorted(defined - TESTED), sorted(TESTED - defined))


def _bodies() -> dict[str, str]:
    """Each named query's SQL without its comments."""
    return {
        name: "\n".join(line.split("--", 1)[0] for line in q.sql.splitlines())
        for name, q in load_queries().items()
    }


# What only the vocabulary may write: a query that writes it bypasses a 口径.
OWNED = {
    "a timeline table (use finding_at, measure_at, finding_history, …)": re.compile(
        r"\b(finding_timeline|measure_timeline)\b"
    ),
    "the scope test (use in_scope, in_inspections, in_categories)": re.compile(
        r"unnest\(\$(inspection_ids|category_l1|category_l2)"
    ),
    "the as-of test (use valid_on)": re.compile(
        r"valid_from\s*<=\s*\$as_of|valid_to\s*>\s*\$as_of"
    ),
    "the warning colours (use warning_colour, warning_in)": re.compile(
        r"THEN '(红|黄|绿)'|list_contains\(\$kinds"
    ),
    "the long-term rule (use is_long_term)": re.compile(r"status\s*=\s*'LONG_TERM'"),
    "the lists' state (use listed_measures_at)": re.compile(r"\brect_current_measures\b"),
    "the grouping CASE (use group_key_of, group_id_of)": re.compile(r"CASE \$by WHEN"),
}


@pytest.mark.parametrize("rule", sorted(OWNED))
def test_no_query_writes_a_rule_the_vocabulary_owns(rule: str) -> None:
    pattern = OWNED[rule]
    offenders = sorted(name for name, body in _bodies().items() if pattern.search(body))
    assert offenders == [], f"{rule}: {offenders}"


def test_each_rule_is_written_in_one_place() -> None:
    """grep finds the scope predicate, the lists' state and the warning rule once: in the
    vocabulary, nowhere else in the SQL of queries/ and xuncha/store/sql/."""
    files = [*QUERIES_DIR.glob("*.sql"), *Path(sql.__file__).parent.glob("*.sql")]
    texts = {path.name: path.read_text(encoding="utf-8") for path in files}
    for needle, home in (
        ("IN (SELECT unnest(p_list))", "vocabulary.sql"),
        ("FROM rect_current_measures", "vocabulary_tables.sql"),
        ("THEN '红'", "vocabulary.sql"),
    ):
        found = sorted(name for name, text in texts.items() if needle in text)
        assert found == [home], (needle, found)


def test_the_macros_are_in_every_version_and_sandbox(demo_store: Store) -> None:
    from xuncha.sandbox import Sandbox, build

    expected = {name for names in sql.macro_names().values() for name in names}
    con = demo_store.connect()
    try:
        present = {
            r[0]
            for r in con.execute(
                "SELECT function_name FROM duckdb_functions() WHERE function_type LIKE '%macro%'"
            ).fetchall()
        }
    finally:
        con.close()
    assert expected <= present
    whole = build.whole_store(demo_store, demo_store.version())
    box = Sandbox.for_scope(demo_store, whole, clue_details=False, cache=False)
    try:
        got = box.run(
            "SELECT count(*) AS n FROM finding_at(DATE '2026-11-20', NULL, ['B'], NULL)",
            user="测试",
        ).frame["n"][0]
    finally:
        box.close()
    con = demo_store.connect()
    try:
        assert (
            got
            == con.execute(
                "SELECT count(*) FROM finding_timeline WHERE category_l1 = 'B'"
                " AND valid_from <= DATE '2026-11-20'"
                " AND (valid_to IS NULL OR valid_to > DATE '2026-11-20')"
            ).fetchone()[0]
        )  # type: ignore[index]
    finally:
        con.close()


# -- scalar macros ---------------------------------------------------------------------------


@covers("in_list", "in_inspections", "in_categories", "in_scope")
def test_the_scope_macros_against_polars(
    demo_reader: Reader, con: duckdb.DuckDBPyConnection, settled: dt.date
) -> None:
    timeline = frame(con, "SELECT * FROM finding_timeline")
    for filters in FILTERS:
        params = scope_params(demo_reader, filters, settled)
        got = scalar(
            con,
            "SELECT count(*) FROM finding_timeline t WHERE in_scope(t.inspection_id,"
            " t.category_l1, t.category_l2, $inspection_ids, $category_l1, $category_l2)",
            {k: params[k] for k in ("inspection_ids", "category_l1", "category_l2")},
        )
        assert got == timeline.filter(in_scope_expr(params)).height, filters
    assert scalar(con, "SELECT in_list(3, [1, 2, 3]) AND in_list(3, NULL) AND NOT in_list(4, [1])")
    assert scalar(con, "SELECT in_inspections(7, NULL) AND NOT in_inspections(7, [1, 2])")
    assert scalar(con, "SELECT in_categories('B', 'B03', ['B'], NULL)")
    assert scalar(con, "SELECT NOT in_categories('B', 'B03', NULL, ['C01'])")
    # A NULL category never matches a chosen list, and always passes without one.
    assert scalar(con, "SELECT NOT in_list(NULL, ['B']) AND in_list(NULL, NULL)") is not False


@covers("valid_on")
def test_valid_on_is_the_half_open_interval(con: duckdb.DuckDBPyConnection) -> None:
    day = dt.date(2026, 3, 1)
    for start, end, expected in (
        (day, None, True),
        (day, day, False),  # valid_to is exclusive
        (day - dt.timedelta(days=1), day, False),
        (day - dt.timedelta(days=1), day + dt.timedelta(days=1), True),
        (day + dt.timedelta(days=1), None, False),
    ):
        got = scalar(
            con, "SELECT valid_on($a::DATE, $b::DATE, $d)", {"a": start, "b": end, "d": day}
        )
        assert got is expected, (start, end)


@covers("is_overdue", "is_long_term")
def test_overdue_and_long_term(con: duckdb.DuckDBPyConnection) -> None:
    day = dt.date(2026, 3, 1)
    cases = [
        ("IN_PROGRESS", day - dt.timedelta(days=1), True, False),
        ("IN_PROGRESS", day, False, False),
        ("DONE", day - dt.timedelta(days=9), False, False),
        ("LONG_TERM", day - dt.timedelta(days=9), True, True),
        ("PHASED", None, None, True),
        ("DONE", None, False, False),
    ]
    for status, deadline, overdue, long_term in cases:
        row = frame(
            con,
            "SELECT is_overdue($s, $d::DATE, $a) AS o, is_long_term($s, $d::DATE) AS l",
            {"s": status, "d": deadline, "a": day},
        ).row(0)
        assert row == (overdue, long_term), (status, deadline)


@covers("chain_text")
def test_a_chain_names_its_rounds_in_order_and_marks_rebounds(
    con: duckdb.DuckDBPyConnection,
) -> None:
    rows = [  # term, round name, rebound, seq: given out of order
        ("十四届", "市委第三轮巡察", True, 3),
        (None, "专项巡察", False, 2),
        ("十三届", "市委第十二轮巡察", False, 1),
    ]
    got = scalar(
        con,
        "SELECT chain_text(term, name, rebound, seq) FROM (VALUES "
        + ", ".join(f"($t{i}::VARCHAR, $n{i}, $r{i}, $s{i})" for i in range(len(rows)))
        + ") v(term, name, rebound, seq)",
        {f"{k}{i}": v for i, row in enumerate(rows) for k, v in zip("tnrs", row, strict=True)},
    )
    assert got == "十三届第十二轮 → 专项巡察 → 十四届第三轮（反弹）"


@covers("warning_colour", "warning_in")
def test_the_warning_colour_and_its_filter_agree_day_by_day(con: duckdb.DuckDBPyConnection) -> None:
    day = dt.date(2026, 3, 1)

    def colour(days_left: int) -> str:  # DOMAIN.md: 红 overdue, 黄 ≤ 10 days, 绿 ≤ 20 days
        return (
            "红" if days_left < 0 else "黄" if days_left <= 10 else "绿" if days_left <= 20 else ""
        )

    for days_left in range(-3, 25):
        deadline = day + dt.timedelta(days=days_left)
        got = scalar(con, "SELECT warning_colour($d::DATE, $a)", {"d": deadline, "a": day})
        assert got == colour(days_left), days_left
        for kinds in (["红"], ["黄"], ["绿"], [""], ["红", "绿"], None):
            inside = scalar(
                con,
                "SELECT warning_in($d::DATE, $a, $k::VARCHAR[])",
                {"d": deadline, "a": day, "k": kinds},
            )
            assert inside is (kinds is None or colour(days_left) in kinds), (days_left, kinds)


@covers("group_key_of", "group_id_of", "group_order_of", "row_group")
def test_the_groupings(con: duckdb.DuckDBPyConnection) -> None:
    args = "$by, '第8轮', '甲局', 'B', 'B03', '党政机关', '市直部门'"
    expected = {
        "all": ("全部", "all", None),
        "round": ("第8轮", "8", 3),
        "unit": ("甲局", "42", None),
        "round_unit": ("甲局", "8/42", 3),
        "category_l1": ("B", "B", None),
        "category_l2": ("B03", "B03", None),
        "sector": ("党政机关", "党政机关", None),
        "peer_group": ("市直部门", "市直部门", None),
    }
    for by, want in expected.items():
        got = frame(
            con,
            f"SELECT group_key_of({args}) AS k,"
            " group_id_of($by, 8, 42, 'B', 'B03', '党政机关', '市直部门') AS i,"
            " group_order_of($by, 3) AS o",
            {"by": by},
        ).row(0)
        assert got == want, by
        row = scalar(con, "SELECT row_group($by, 'B', 'B03', 'per-inspection')", {"by": by})
        assert row == {"category_l1": "B", "category_l2": "B03"}.get(by, "per-inspection"), by


@covers("measure_tallies")
def test_the_measure_tallies_against_polars(con: duckdb.DuckDBPyConnection) -> None:
    got = frame(
        con,
        "SELECT inspection_id, unnest(measure_tallies(status, deadline, on_time_original,"
        " on_time_current)) FROM measure_timeline WHERE valid_to IS NULL GROUP BY inspection_id",
    )
    rows = frame(con, "SELECT * FROM measure_timeline WHERE valid_to IS NULL")
    done = pl.col("status") == "DONE"
    want = rows.group_by("inspection_id").agg(
        pl.len().alias("measures"),
        done.sum().alias("measures_done"),
        (pl.col("status") == "PHASED").sum().alias("measures_phased"),
        (pl.col("status") == "IN_PROGRESS").sum().alias("measures_in_progress"),
        (pl.col("status") == "NOT_DONE").sum().alias("measures_not_done"),
        (~done & (pl.col("deadline").is_null() | (pl.col("status") == "LONG_TERM")))
        .sum()
        .alias("measures_long_term"),
        (done & pl.col("on_time_original").is_not_null()).sum().alias("completed_with_deadline"),
        pl.col("on_time_original").fill_null(False).sum().alias("on_time_original"),
        (done & pl.col("on_time_current").is_not_null())
        .sum()
        .alias("completed_with_current_deadline"),
        pl.col("on_time_current").fill_null(False).sum().alias("on_time_current"),
    )
    assert got.columns == want.columns
    assert got.height > 100
    assert sorted_rows(got.cast({c: pl.Int64 for c in got.columns})) == sorted_rows(
        want.cast({c: pl.Int64 for c in want.columns})
    )


# -- table macros ----------------------------------------------------------------------------


@covers("finding_at", "measure_at", "finding_history")
def test_the_rows_as_of_a_date_against_polars(
    demo_reader: Reader, con: duckdb.DuckDBPyConnection, settled: dt.date
) -> None:
    for table, macro in (("finding_timeline", "finding_at"), ("measure_timeline", "measure_at")):
        timeline = frame(con, f"SELECT * FROM {table}")
        seen = 0
        for filters in FILTERS:
            for as_of in (dt.date(2024, 6, 30), settled):
                params = scope_params(demo_reader, filters, as_of)
                got = frame(
                    con,
                    f"SELECT * FROM {macro}($as_of, $inspection_ids, $category_l1, $category_l2)",
                    params,
                )
                want = timeline.filter(in_scope_expr(params) & valid_on_expr(as_of))
                assert sorted_rows(got) == sorted_rows(want), (macro, filters, as_of)
                seen += got.height
        assert seen > 1000, macro
    timeline = frame(con, "SELECT * FROM finding_timeline")
    params = scope_params(demo_reader, Filters(category_l1=("B",)), dt.date(2025, 6, 30))
    got = frame(
        con,
        "SELECT * FROM finding_history($as_of, $inspection_ids, $category_l1, $category_l2)",
        params,
    )
    want = timeline.filter(in_scope_expr(params) & (pl.col("valid_from") <= params["as_of"]))
    assert got.height > 0 and sorted_rows(got) == sorted_rows(want)


@covers("active_on", "settled_by", "finding_active_at", "measure_active_at")
def test_the_active_inspections_rows_and_the_settled_summaries_against_polars(
    con: duckdb.DuckDBPyConnection, settled: dt.date
) -> None:
    """Before settled_on a date reads the timeline rows of the inspections still changing on
    it (started on or before it, settling after it) and the summaries of those settled by it;
    on or after it (p_current) no timeline row at all."""
    spans = frame(con, "SELECT * FROM inspection_settled")
    kinds_seen = set()
    for as_of in (dt.date(2024, 6, 30), dt.date(2025, 8, 1), settled - dt.timedelta(days=1)):
        active = spans.filter((pl.col("started_on") <= as_of) & (pl.col("settled_on") > as_of))[
            "inspection_id"
        ]
        kinds_seen.add(active.len() > 0)
        for table, macro in (
            ("finding_timeline", "finding_active_at"),
            ("measure_timeline", "measure_active_at"),
        ):
            got = frame(con, f"SELECT * FROM {macro}($as_of, false)", {"as_of": as_of})
            want = frame(con, f"SELECT * FROM {table}").filter(
                valid_on_expr(as_of) & pl.col("inspection_id").is_in(active.implode())
            )
            assert sorted_rows(got) == sorted_rows(want), (macro, as_of)
            none = frame(con, f"SELECT count(*) AS n FROM {macro}($as_of, true)", {"as_of": as_of})
            assert none["n"][0] == 0
        held = frame(
            con,
            "SELECT inspection_id FROM rect_current_inspection"
            " WHERE settled_by(settled_on, $as_of, false)",
            {"as_of": as_of},
        )["inspection_id"].sort()
        summarised = set(
            frame(con, "SELECT inspection_id FROM rect_current_inspection")[
                "inspection_id"
            ].to_list()
        )
        settled_by_then = set(spans.filter(pl.col("settled_on") <= as_of)["inspection_id"])
        assert 0 < len(held) < len(summarised)
        assert set(held.to_list()) == summarised & settled_by_then
        everyone = frame(
            con,
            "SELECT count(*) AS n FROM rect_current_inspection"
            " WHERE settled_by(settled_on, $as_of, true)",
            {"as_of": as_of},
        )["n"][0]
        assert everyone == frame(con, "SELECT count(*) AS n FROM rect_current_inspection")["n"][0]
    assert kinds_seen == {True}


TWO_BRANCHES = {
    "listed_measures_at": "*",
    "finding_counts_at": "*",
    "open_deadlines_at": "deadline, sum(n) AS n GROUP BY deadline",
}


@covers(*TWO_BRANCHES)
@pytest.mark.parametrize("days_after", [0, 45, 800])
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.to_url()) or "all")
def test_each_table_macro_s_two_branches_agree_on_and_after_settled_on(
    demo_reader: Reader,
    con: duckdb.DuckDBPyConnection,
    settled: dt.date,
    filters: Filters,
    days_after: int,
) -> None:
    params = scope_params(demo_reader, filters, settled + dt.timedelta(days=days_after))
    for macro, select in TWO_BRANCHES.items():
        columns, _, group = select.partition(" GROUP BY ")
        answers = []
        for current in (True, False):
            query = (
                f"SELECT {columns} FROM {macro}($as_of, $current, $inspection_ids,"
                f" $category_l1, $category_l2)" + (f" GROUP BY {group}" if group else "")
            )
            got = frame(con, query, {**params, "current": current})
            if macro == "finding_counts_at":  # summary rows are sums: sum the timeline's too
                got = got.group_by("inspection_id", "unit_id", "category_l1", "category_l2").agg(
                    pl.col("findings").sum().cast(pl.Int64),
                    pl.col("findings_done").sum().cast(pl.Int64),
                )
            answers.append(sorted_rows(got))
        assert answers[0] and answers[0] == answers[1], (macro, filters)


def test_the_lists_state_holds_the_open_and_the_moved_measures(
    demo_reader: Reader, con: duckdb.DuckDBPyConnection, settled: dt.date
) -> None:
    params = scope_params(demo_reader, Filters(), dt.date(2025, 6, 30))
    got = frame(
        con,
        "SELECT measure_id FROM listed_measures_at($as_of, false, $inspection_ids, $category_l1,"
        " $category_l2)",
        params,
    )
    timeline = frame(con, "SELECT * FROM measure_timeline").filter(valid_on_expr(params["as_of"]))
    want = timeline.filter(
        (pl.col("status") != "DONE") | pl.col("deadline").ne_missing(pl.col("deadline_original"))
    )
    assert got.height > 0 and sorted(got["measure_id"]) == sorted(want["measure_id"])
