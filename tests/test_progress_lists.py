"""整改进度 fetches only the rows it shows: the 督办清单 colours are counted in SQL, the 督办清单,
长期坚持 and 延期 lists return their first rows (and their length), and the exports query the
whole list when clicked. Each is checked here against the whole lists computed in Polars from
measure_timeline and the base tables (the definitions the lists had when they were fetched
whole), for several scopes, on a past date (timeline path) and on or after settled_on (the
current-state summaries); the progress curve against the difference-array SQL written here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests.builders import StoreBuilder
from tests.conftest import AS_OF, show_at_most
from xuncha import ui
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store import Reader, Store, open_reader

APP = str(Path(__file__).resolve().parents[1] / "app.py")
SHOWN = ui.TABLE_MAX_ROWS
COLOURS = {"red": "红", "yellow": "黄", "green": "绿", "normal": ""}

# The demo store settles on AS_OF: AS_OF and later read the summaries, earlier dates the
# timelines (asserted in test_the_dates_cover_both_paths).
DATES = {
    "settled": (AS_OF, True),
    "after": (AS_OF + dt.timedelta(days=300), True),
    "2025-06-30": (dt.date(2025, 6, 30), False),
    "2024-06-30": (dt.date(2024, 6, 30), False),
}
SCOPES = {
    "all": Filters(),
    "one_round": Filters(round_from=5, round_to=5),
    "one_unit": Filters(unit_ids=(1,)),
    "category_l1": Filters(category_l1=("B",)),
    "category_l2": Filters(category_l2=("B03", "C01", "D02")),
    "peers_and_l1": Filters(peer_groups=("乡镇街道",), category_l1=("A", "C")),
}
CASES = [(s, d) for s in SCOPES for d in DATES]


# -- the whole lists, computed in Polars -----------------------------------------------------


@dataclass(frozen=True)
class Tables:
    timeline: pl.DataFrame
    measures: pl.DataFrame
    findings: pl.DataFrame
    units: pl.DataFrame
    rounds: pl.DataFrame
    history: pl.DataFrame


def load_tables(reader: Reader) -> Tables:
    def read(sql: str) -> pl.DataFrame:
        return reader._con.sql(sql).pl()

    return Tables(
        timeline=read("SELECT * FROM measure_timeline"),
        measures=read(
            "SELECT measure_id, text, lead_person, department, deadline_text FROM measures"
        ),
        findings=read("SELECT finding_id, title FROM findings"),
        units=read("SELECT unit_id, short_name AS unit_name FROM units"),
        rounds=read("SELECT round_id, name AS round_name, seq FROM rounds"),
        history=read(
            "SELECT history_id, measure_id, effective_date, reason FROM measure_deadline_history"
        ),
    )


@pytest.fixture(scope="module")
def tables(demo_store: Store) -> Iterator[Tables]:
    reader = open_reader(demo_store)
    try:
        yield load_tables(reader)
    finally:
        reader.close()


def as_of_rows(t: Tables, scope: Scope) -> pl.DataFrame:
    """The timeline rows in scope on the as-of date, with the names."""
    rows = t.timeline.filter(
        pl.col("inspection_id").is_in(list(scope.inspection_ids)),
        pl.col("valid_from") <= scope.as_of,
        pl.col("valid_to").is_null() | (pl.col("valid_to") > scope.as_of),
    )
    if scope.category_l1:
        rows = rows.filter(pl.col("category_l1").is_in(list(scope.category_l1)))
    if scope.category_l2:
        rows = rows.filter(pl.col("category_l2").is_in(list(scope.category_l2)))
    return (
        rows.join(t.measures, on="measure_id")
        .join(t.findings, on="finding_id")
        .join(t.units, on="unit_id")
        .join(t.rounds, on="round_id")
    )


def expected_supervision(t: Tables, scope: Scope) -> pl.DataFrame:
    days = (pl.lit(scope.as_of) - pl.col("deadline")).dt.total_days()
    return (
        as_of_rows(t, scope)
        .filter(pl.col("status") != "DONE", pl.col("deadline").is_not_null())
        .with_columns(days.cast(pl.Int32).alias("days_overdue"))
        .with_columns(
            pl.when(pl.col("days_overdue") > 0)
            .then(pl.lit("红"))
            .when(pl.col("days_overdue") >= -10)
            .then(pl.lit("黄"))
            .when(pl.col("days_overdue") >= -20)
            .then(pl.lit("绿"))
            .otherwise(pl.lit(""))
            .alias("warning")
        )
        .sort(["days_overdue", "measure_id"], descending=[True, False])
        .select(
            "measure_id",
            "finding_id",
            "round_name",
            "unit_name",
            "unit_id",
            "category_l2",
            "title",
            "text",
            "status",
            "deadline",
            "deadline_original",
            "days_overdue",
            "warning",
            "lead_person",
            "department",
        )
    )


def expected_long_term(t: Tables, scope: Scope) -> pl.DataFrame:
    return (
        as_of_rows(t, scope)
        .filter(
            pl.col("status") != "DONE",
            pl.col("deadline").is_null() | (pl.col("status") == "LONG_TERM"),
        )
        .sort(["seq", "unit_name", "measure_id"], descending=[True, False, False])
        .select(
            "measure_id",
            "finding_id",
            "round_name",
            "unit_name",
            "unit_id",
            "category_l2",
            "title",
            "text",
            "deadline_text",
            "deadline",
            "status",
            "lead_person",
            "department",
        )
    )


def expected_extended(t: Tables, scope: Scope) -> pl.DataFrame:
    in_force = (
        t.history.filter(pl.col("effective_date") <= scope.as_of)
        .sort(["measure_id", "effective_date", "history_id"], descending=[False, True, True])
        .group_by("measure_id", maintain_order=True)
        .first()
        .select("measure_id", pl.col("effective_date").alias("changed_on"), "reason")
    )
    return (
        as_of_rows(t, scope)
        .filter(pl.col("deadline").ne_missing(pl.col("deadline_original")))
        .with_columns(
            (pl.col("deadline") - pl.col("deadline_original"))
            .dt.total_days()
            .cast(pl.Int32)
            .alias("extension_days")
        )
        .join(in_force, on="measure_id", how="left")
        .sort(["extension_days", "measure_id"], descending=[True, False], nulls_last=[True, False])
        .select(
            "measure_id",
            "finding_id",
            "round_name",
            "unit_name",
            "unit_id",
            "title",
            "text",
            "deadline_original",
            "deadline",
            "extension_days",
            "changed_on",
            "reason",
            "status",
        )
    )


def colour_counts(frame: pl.DataFrame) -> dict[str, int]:
    return {key: frame.filter(pl.col("warning") == c).height for key, c in COLOURS.items()}


def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


def scope_for(reader: Reader, scope_name: str, date_name: str) -> Scope:
    as_of, current = DATES[date_name]
    scope = resolve_scope(reader, SCOPES[scope_name].with_(as_of=as_of))
    assert scope.current is current, (date_name, scope.settled_on)
    return scope


def counts_of(reader: Reader, scope: Scope) -> dict[str, int]:
    """The colour counts as the page reads them."""
    return reader.query("measures_supervision_counts", scope.params()).row(0, named=True)


# -- the queries -----------------------------------------------------------------------------


def test_the_dates_cover_both_paths(demo_reader: Reader) -> None:
    settled = resolve_scope(demo_reader, Filters(as_of=AS_OF)).settled_on
    assert settled == AS_OF
    for as_of, current in DATES.values():
        assert (as_of >= settled) is current


@pytest.mark.parametrize(("scope_name", "date_name"), CASES)
def test_the_colour_counts_are_those_of_the_whole_list(
    demo_reader: Reader, tables: Tables, scope_name: str, date_name: str
) -> None:
    scope = scope_for(demo_reader, scope_name, date_name)
    want = colour_counts(expected_supervision(tables, scope))
    assert counts_of(demo_reader, scope) == want
    # The timeline query holds on any date; the summaries give the same on the current path.
    timeline = demo_reader.query(
        "measures_supervision_counts", {**scope.params(), "current": False}
    )
    assert timeline.row(0, named=True) == want
    if scope.current:
        summary = demo_reader.query("measures_supervision_counts", scope.params())
        assert summary.row(0, named=True) == want


KINDS: list[list[str] | None] = [
    None,
    ["红", "黄", "绿"],
    ["红"],
    ["黄"],
    ["绿", "黄"],
    [""],
    ["", "红"],
    [],
]


@pytest.mark.parametrize(("scope_name", "date_name"), CASES)
def test_the_supervision_rows_are_the_head_of_the_whole_list_of_the_colours_asked(
    demo_reader: Reader, tables: Tables, scope_name: str, date_name: str
) -> None:
    scope = scope_for(demo_reader, scope_name, date_name)
    whole = expected_supervision(tables, scope)
    for kinds in KINDS:
        want = whole if kinds is None else whole.filter(pl.col("warning").is_in(kinds))
        for limit in (1, 7, SHOWN, None):
            got = demo_reader.query("measures_supervision", scope.params(kinds=kinds, limit=limit))
            head = want if limit is None else want.head(limit)
            assert got.columns == whole.columns
            assert rows(got) == rows(head), (kinds, limit)


@pytest.mark.parametrize(("scope_name", "date_name"), CASES)
def test_the_long_term_and_extended_rows_are_the_head_of_the_whole_list_with_its_length(
    demo_reader: Reader, tables: Tables, scope_name: str, date_name: str
) -> None:
    scope = scope_for(demo_reader, scope_name, date_name)
    for name, expected in (
        ("measures_long_term", expected_long_term),
        ("measures_extended", expected_extended),
    ):
        whole = expected(tables, scope)
        for limit in (1, 7, SHOWN, None):
            got = demo_reader.query(name, scope.params(limit=limit))
            head = whole if limit is None else whole.head(limit)
            assert got.columns == [*whole.columns, "total"], name
            assert rows(got.drop("total")) == rows(head), (name, limit)
            assert set(got["total"].to_list()) == ({whole.height} if head.height else set()), (
                name,
                limit,
            )


@pytest.mark.parametrize("date_name", list(DATES))
def test_the_overview_lists_the_fifteen_most_overdue(
    demo_reader: Reader, tables: Tables, date_name: str
) -> None:
    scope = scope_for(demo_reader, "all", date_name)
    whole = expected_supervision(tables, scope)
    got = demo_reader.query("measures_supervision", scope.params(kinds=["红"], limit=15))
    assert rows(got) == rows(whole.filter(pl.col("warning") == "红").head(15))
    # What the overview showed before: the first 15 of every colour, then the red ones.
    before = demo_reader.query("measures_supervision", scope.params(kinds=None, limit=15))
    assert rows(got) == rows(before.filter(pl.col("warning") == "红"))


def test_the_list_comparisons_are_not_vacuous(demo_reader: Reader, tables: Tables) -> None:
    seen: dict[str, int] = dict.fromkeys(COLOURS, 0)
    longer = {"supervision": 0, "long_term": 0, "extended": 0}
    extension_kinds = set()
    for scope_name, date_name in CASES:
        scope = scope_for(demo_reader, scope_name, date_name)
        supervision = expected_supervision(tables, scope)
        for key, n in colour_counts(supervision).items():
            seen[key] += n
        long_term = expected_long_term(tables, scope)
        extended = expected_extended(tables, scope)
        for key, frame in (
            ("supervision", supervision),
            ("long_term", long_term),
            ("extended", extended),
        ):
            longer[key] += frame.height > 7
        extension_kinds |= {
            None if days is None else days > 0 for days in extended["extension_days"].to_list()
        }
        if scope_name == "one_unit" and date_name == "settled":
            assert supervision.height > 0
    assert all(n > 0 for n in seen.values()), seen
    assert all(n >= 10 for n in longer.values()), longer
    assert True in extension_kinds, extension_kinds


def test_a_small_store_lists_worked_out_by_hand(tmp_path: Path) -> None:
    """Colour boundaries, ties, a LONG_TERM measure with a date, a shortened deadline, an
    extension to no date (last among the extended) and one not yet in force; units sharing a
    short name. Both a past date (timeline) and settled_on (summaries)."""

    def d(month: int, day: int) -> dt.date:
        return dt.date(2024, month, day)

    b = StoreBuilder()
    first, second = b.round("第一轮", seq=1), b.round("第二轮", seq=2)
    jia, yi, jia2 = b.unit("甲局"), b.unit("乙局"), b.unit("甲局（二）", short_name="甲局")
    fb = d(1, 10)
    i11 = b.inspection(first, jia, feedback=fb)
    i12 = b.inspection(first, yi, feedback=fb)
    i21, i22, i23 = (b.inspection(second, u, feedback=d(2, 1)) for u in (jia, yi, jia2))
    ids: dict[str, int] = {}

    def add(name: str, inspection: int = i11, **kwargs: Any) -> None:
        ids[name] = b.measure(b.finding(inspection, title=name), **kwargs)

    for name, deadline in (
        ("s1", d(6, 19)),
        ("s2", d(6, 20)),
        ("s3", d(6, 30)),
        ("s4", d(7, 1)),
        ("s5", d(7, 10)),
        ("s6", d(7, 11)),
    ):
        add(name, deadline=deadline)
    add("s7", deadline=d(12, 31), history=[(fb, "IN_PROGRESS"), (d(3, 1), "LONG_TERM")])
    add("s8", deadline=d(6, 19))
    add("s9", deadline=d(6, 1), history=[(fb, "IN_PROGRESS"), (d(5, 20), "DONE")])
    add("s10", deadline=d(7, 15))
    add("e1", deadline=d(3, 31), extensions=[(d(3, 20), d(6, 30))])
    add("e2", deadline=d(3, 31), extensions=[(d(3, 20), d(6, 30))])
    add("e3", deadline=d(3, 31), extensions=[(d(4, 1), None)])
    add("e4", deadline=d(6, 30), extensions=[(d(4, 1), d(5, 31))])
    add("e5", deadline=d(3, 31), extensions=[(d(7, 1), d(9, 30))])
    # Two records effective on one date: the later-recorded one is in force (its reason too).
    add("e6", deadline=d(3, 31), extensions=[(d(3, 20), d(5, 31)), (d(3, 20), d(6, 15))])
    b.deadline_history[-1] = (*b.deadline_history[-1][:6], "二次延期")
    add("l1", i22, deadline=None)
    add("l2", i21, deadline=None)
    add("l3", i23, deadline=None)
    add("l4", i12, deadline=None)
    reader = open_reader(b.build(tmp_path / "store"))
    name_of = {v: k for k, v in ids.items()}

    def names(frame: pl.DataFrame) -> list[str]:
        return [name_of[m] for m in frame["measure_id"].to_list()]

    # Days overdue and colour as of 06-20 (before settled_on, 07-01, when e5's extension takes
    # effect): e5 (03-31) 81, e4 (05-31) 20, e6 (06-15) 5, s1 and s8 (06-19) 1 红; s2 0,
    # s3, e1, e2 (06-30) −10 黄; s4 −11, s5 −20 绿; s6 −21, s10 −25, s7 (LONG_TERM, 12-31)
    # −194 none. As of 07-01: e4 31, e6 16, s1 12, s8 12, s2 11, s3 1, e1 1, e2 1 红; s4 0,
    # s5 −9, s6 −10 黄; s10 −14 绿; e5 (09-30) −91, s7 −183 none.
    worked = {
        d(6, 20): (
            False,
            ["e5", "e4", "e6", "s1", "s8", "s2", "s3", "e1", "e2", "s4", "s5", "s6", "s10", "s7"],
            {"red": 5, "yellow": 4, "green": 2, "normal": 3},
            ["e1", "e2", "e6", "e4", "e3"],
        ),
        d(7, 1): (
            True,
            ["e4", "e6", "s1", "s8", "s2", "s3", "e1", "e2", "s4", "s5", "s6", "s10", "e5", "s7"],
            {"red": 8, "yellow": 3, "green": 1, "normal": 2},
            ["e5", "e1", "e2", "e6", "e4", "e3"],
        ),
    }
    # 长期坚持: the later round first, then by short name (乙 U+4E59 before 甲 U+7532), then by
    # measure: l1 (第二轮 乙局), l2, l3 (第二轮 two units named 甲局), l4 (第一轮 乙局), s7, e3.
    long_term = ["l1", "l2", "l3", "l4", "s7", "e3"]
    try:
        t = load_tables(reader)
        for as_of, (current, supervision, counts, extended) in worked.items():
            scope = resolve_scope(reader, Filters(as_of=as_of))
            assert scope.current is current
            assert counts_of(reader, scope) == counts
            assert counts_of(reader, scope) == colour_counts(expected_supervision(t, scope))
            whole = reader.query("measures_supervision", scope.params(kinds=None, limit=None))
            assert names(whole) == supervision
            assert rows(whole) == rows(expected_supervision(t, scope))
            colour = dict(zip(whole["measure_id"], whole["warning"], strict=True))
            for kinds in (["黄", "绿"], ["", "红"], ["绿"]):
                want = [n for n in supervision if colour[ids[n]] in kinds]
                for limit in (1, 3, None):
                    got = reader.query(
                        "measures_supervision", scope.params(kinds=kinds, limit=limit)
                    )
                    assert names(got) == want[:limit], (as_of, kinds, limit)
            for name, order, expected in (
                ("measures_long_term", long_term, expected_long_term),
                ("measures_extended", extended, expected_extended),
            ):
                for limit in (1, 3, None):
                    got = reader.query(name, scope.params(limit=limit))
                    assert names(got) == order[:limit], (name, as_of, limit)
                    assert set(got["total"]) == {len(order)}
                assert rows(got.drop("total")) == rows(expected(t, scope))
        june = resolve_scope(reader, Filters(as_of=d(6, 20)))
        ext = reader.query("measures_extended", june.params(limit=None))
        assert [(r["extension_days"], r["changed_on"], r["reason"]) for r in ext.to_dicts()] == [
            (91, d(3, 20), "申请延期"),
            (91, d(3, 20), "申请延期"),
            (76, d(3, 20), "二次延期"),
            (-30, d(4, 1), "申请延期"),
            (None, d(4, 1), "申请延期"),
        ]
    finally:
        reader.close()


# -- the progress curve ----------------------------------------------------------------------

# The curve as it was first written: the findings in scope taken with DISTINCT, every delta
# one row before summing, each round's grid cut at the day its last-fed-back findings have
# reached (the findings observed then are all of them). The product query must give the same
# frame.
CURVE_REFERENCE = """
WITH t AS (
    SELECT t.*
    FROM finding_timeline t
    WHERE ($inspection_ids::INTEGER[] IS NULL
           OR t.inspection_id IN (SELECT unnest($inspection_ids::INTEGER[])))
      AND ($category_l1::VARCHAR[] IS NULL
           OR t.category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))
      AND ($category_l2::VARCHAR[] IS NULL
           OR t.category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))
      AND t.feedback_date <= $as_of::DATE
      AND t.valid_from <= $as_of::DATE
),
findings AS (SELECT DISTINCT finding_id, round_id, feedback_date FROM t),
deltas AS (
    SELECT round_id, 0 AS day, 1 AS d_obs, 0 AS d_done, 0 AS d_basic FROM findings
    UNION ALL
    SELECT round_id, ($as_of::DATE - feedback_date) + 1, -1, 0, 0 FROM findings
    UNION ALL
    SELECT round_id, (valid_from - feedback_date), 0,
           CASE WHEN status = 'DONE' THEN 1 ELSE 0 END,
           CASE WHEN status = 'BASICALLY_DONE' THEN 1 ELSE 0 END
    FROM t WHERE status IN ('DONE', 'BASICALLY_DONE')
    UNION ALL
    SELECT round_id,
           (least(coalesce(valid_to, $as_of::DATE + 1), $as_of::DATE + 1) - feedback_date), 0,
           CASE WHEN status = 'DONE' THEN -1 ELSE 0 END,
           CASE WHEN status = 'BASICALLY_DONE' THEN -1 ELSE 0 END
    FROM t WHERE status IN ('DONE', 'BASICALLY_DONE')
),
per_day AS (
    SELECT round_id, day, sum(d_obs) AS d_obs, sum(d_done) AS d_done, sum(d_basic) AS d_basic
    FROM deltas GROUP BY ALL
),
running AS (
    SELECT round_id, day,
           sum(d_obs) OVER w AS findings,
           sum(d_done) OVER w AS findings_done,
           sum(d_basic) OVER w AS findings_basically_done
    FROM per_day
    WINDOW w AS (PARTITION BY round_id ORDER BY day
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
span AS (
    SELECT round_id, min($as_of::DATE - feedback_date) AS last_day FROM findings GROUP BY ALL
),
grid AS (
    SELECT s.round_id, unnest(generate_series(0, s.last_day, greatest($step, 1))) AS day
    FROM span s
    UNION
    SELECT round_id, last_day FROM span
)
SELECT g.round_id, r.name AS round_name, r.seq, g.day::INTEGER AS day,
       r2.findings::BIGINT AS findings, r2.findings_done::BIGINT AS findings_done,
       r2.findings_basically_done::BIGINT AS findings_basically_done
FROM grid g
ASOF JOIN running r2 ON g.round_id = r2.round_id AND g.day >= r2.day
JOIN rounds r ON r.round_id = g.round_id
ORDER BY r.seq, g.day
"""


@pytest.mark.parametrize("step", [1, 7, 30])
@pytest.mark.parametrize(("scope_name", "date_name"), CASES)
def test_the_progress_curve_equals_the_reference(
    demo_reader: Reader, scope_name: str, date_name: str, step: int
) -> None:
    scope = scope_for(demo_reader, scope_name, date_name)
    params = scope.params(step=step)
    got = demo_reader.query("rectification_curve", params)
    names = ("inspection_ids", "category_l1", "category_l2", "as_of", "step")
    want = demo_reader._con.sql(CURVE_REFERENCE, params={k: params[k] for k in names}).pl()
    assert got.height > 0
    assert got.equals(want)


# -- the page --------------------------------------------------------------------------------


@pytest.fixture()
def exports(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the page hands to ui.downloads, by key (no buttons are drawn)."""
    handed: dict[str, Any] = {}

    def record(frame: Any, *, key: str, **_: Any) -> None:
        handed[key] = frame

    monkeypatch.setattr(ui, "downloads", record)
    return handed


def open_progress(as_of: dt.date, **session: Any) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["asof"] = as_of.isoformat()
    at.run()
    for key, value in session.items():
        at.session_state[key] = value
    at.switch_page("pages/progress.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def table_with(at: AppTest, *columns: str) -> Any:
    for frame in at.dataframe:
        if set(columns) <= set(frame.value.columns):
            return frame.value
    raise AssertionError(f"no table with columns {columns}")


@pytest.mark.parametrize("date_name", ["settled", "2025-06-30"])
def test_the_page_shows_the_counts_and_first_rows_and_exports_whole_lists(
    app_env: Store,
    demo_reader: Reader,
    tables: Tables,
    exports: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    date_name: str,
) -> None:
    # Five rows a table, so every list on the demo store is longer than what is shown.
    show_at_most(monkeypatch, 5)
    scope = scope_for(demo_reader, "all", date_name)
    supervision = expected_supervision(tables, scope)
    long_term = expected_long_term(tables, scope)
    extended = expected_extended(tables, scope)
    n = colour_counts(supervision)
    default = supervision.filter(pl.col("warning").is_in(["红", "黄", "绿"]))
    assert min(default.height, long_term.height, extended.height) > 5

    at = open_progress(scope.as_of)
    shown = captions(at)
    assert (
        f"红 {n['red']:,} 条 ｜ 黄 {n['yellow']:,} 条 ｜ 绿 {n['green']:,} 条"
        f" ｜ 正常 {n['normal']:,} 条；所选预警共 {default.height:,} 条，"
        "按逾期天数排在前 5 条，点击表头只在这些条目内排序。"
    ) in shown
    assert any(c.startswith(f"共 {long_term.height:,} 条；无具体时限") for c in shown)
    assert any(c.startswith(f"共 {extended.height:,} 条；原定时限与现行时限不同") for c in shown)
    for total in (default.height, long_term.height, extended.height):
        assert f"共 {total:,} 行，此处显示前 5 行；完整数据请使用导出。" in shown, total

    listing = at.dataframe(key="progress_supervision").value
    assert list(listing["逾期天数（负数为剩余天数）"]) == default["days_overdue"].head(5).to_list()
    assert list(listing["问题编号"]) == default["finding_id"].head(5).to_list()
    assert list(table_with(at, "时限原文")["具体问题"]) == long_term["title"].head(5).to_list()
    assert list(table_with(at, "延期天数")["具体问题"]) == extended["title"].head(5).to_list()

    # The exports query the whole lists, only when called (a button clicked).
    whole: dict[str, Callable[[], pl.DataFrame]] = {
        key: exports[key] for key in ("dl_supervision", "dl_long_term", "dl_extended")
    }
    assert all(callable(fn) for fn in whole.values())
    assert whole["dl_supervision"]()["finding_id"].to_list() == default["finding_id"].to_list()
    assert whole["dl_supervision"]()["days_overdue"].to_list() == default["days_overdue"].to_list()
    assert whole["dl_long_term"]()["title"].to_list() == long_term["title"].to_list()
    assert (
        whole["dl_extended"]()["extension_days"].to_list() == extended["extension_days"].to_list()
    )
    assert whole["dl_extended"]().height == extended.height

    # Other colours: the caption, the rows and the export follow the selection.
    at.pills(key="progress_colours").set_value(["正常", "黄"]).run()
    assert not at.exception
    picked = supervision.filter(pl.col("warning").is_in(["", "黄"]))
    shown = captions(at)
    assert any(f"所选预警共 {picked.height:,} 条" in c for c in shown)
    listing = at.dataframe(key="progress_supervision").value
    assert list(listing["逾期天数（负数为剩余天数）"]) == picked["days_overdue"].head(5).to_list()
    assert exports["dl_supervision"]()["days_overdue"].to_list() == picked["days_overdue"].to_list()


def test_a_selected_row_of_the_shown_list_opens_its_measures(
    app_env: Store, demo_reader: Reader, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    show_at_most(monkeypatch, 5)
    scope = scope_for(demo_reader, "all", "settled")
    default = expected_supervision(tables, scope).filter(
        pl.col("warning").is_in(["红", "黄", "绿"])
    )
    picked = default.row(3, named=True)
    at = open_progress(
        AS_OF, progress_supervision={"selection": {"rows": [3], "columns": [], "cells": []}}
    )
    heading = f"**{ui.md(picked['unit_name'] + '｜' + picked['title'])}**"
    assert heading in [m.value for m in at.markdown]
