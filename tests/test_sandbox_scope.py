"""A sandbox built for a scope holds that scope and nothing else, whatever SQL is written;
clue details only with permission, otherwise counts with 1–2 shown as '<3'."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl
import pytest

from xuncha.filters import Filters, resolve_scope
from xuncha.sandbox import Sandbox, SandboxError
from xuncha.store import Store, open_reader

USER = "第三巡察组"
ROUND_SEQS = (5, 6)  # the rounds this inspection group may see


@dataclass(frozen=True)
class Allowed:
    inspection_ids: set[int]
    round_ids: set[int]
    unit_ids: set[int]
    finding_ids: set[int]
    measure_ids: set[int]
    other_round_names: list[str]
    other_titles: list[str]


@pytest.fixture(scope="module")
def restricted(demo_store: Store):
    reader = open_reader(demo_store)
    try:
        scope = resolve_scope(reader, Filters(round_from=ROUND_SEQS[0], round_to=ROUND_SEQS[-1]))
        con = reader._con.cursor()
        ids = list(scope.inspection_ids)

        def col(sql: str) -> set[int]:
            return {int(r[0]) for r in con.execute(sql, {"ids": ids}).fetchall()}

        inspections = (
            "SELECT inspection_id FROM inspections WHERE list_contains($ids, inspection_id)"
        )
        allowed = Allowed(
            inspection_ids=set(ids),
            round_ids=col(
                "SELECT round_id FROM inspections WHERE list_contains($ids, inspection_id)"
            ),
            unit_ids=col(
                "SELECT unit_id FROM inspections WHERE list_contains($ids, inspection_id)"
            ),
            finding_ids=col(
                f"SELECT finding_id FROM findings WHERE inspection_id IN ({inspections})"
            ),
            measure_ids=col(
                "SELECT measure_id FROM measures WHERE finding_id IN (SELECT finding_id FROM"
                f" findings WHERE inspection_id IN ({inspections}))"
            ),
            other_round_names=[
                r[0]
                for r in con.execute(
                    "SELECT name FROM rounds WHERE seq NOT IN (5, 6) ORDER BY seq"
                ).fetchall()
            ],
            other_titles=[
                r[0]
                for r in con.execute(
                    "SELECT title FROM findings WHERE NOT list_contains($ids, inspection_id)"
                    " EXCEPT SELECT title FROM findings WHERE list_contains($ids, inspection_id)"
                    " ORDER BY 1 LIMIT 5",
                    {"ids": ids},
                ).fetchall()
            ],
        )
        con.close()
    finally:
        reader.close()
    assert allowed.round_ids and len(allowed.round_ids) == 2 and allowed.other_titles
    return scope, allowed


@pytest.fixture(scope="module")
def box(demo_store: Store, restricted) -> Iterator[Sandbox]:
    scope, _ = restricted
    sandbox = Sandbox.for_scope(demo_store, scope, clue_details=False, cache=False)
    yield sandbox
    sandbox.close()


def q(box: Sandbox, sql: str) -> pl.DataFrame:
    return box.run(sql, user=USER, max_rows=1_000_000).frame


KEY_SETS = {
    "inspection_id": "inspection_ids",
    "round_id": "round_ids",
    "unit_id": "unit_ids",
    "finding_id": "finding_ids",
    "measure_id": "measure_ids",
}


def test_every_id_in_every_table_belongs_to_the_scope(box: Sandbox, restricted) -> None:
    _, allowed = restricted
    columns = q(
        box,
        "SELECT table_name, column_name FROM duckdb_columns()"
        " WHERE database_name = 'xuncha' AND column_name IN"
        " ('inspection_id', 'round_id', 'unit_id', 'finding_id', 'measure_id')",
    ).rows()
    assert len(columns) >= 20
    for table, column in columns:
        values = set(q(box, f"SELECT DISTINCT {column} FROM {table}").to_series().drop_nulls())
        assert values <= getattr(allowed, KEY_SETS[column]), (table, column)


def test_the_scope_is_copied_whole(box: Sandbox, restricted) -> None:
    _, allowed = restricted
    assert (
        set(q(box, "SELECT inspection_id FROM inspections").to_series()) == allowed.inspection_ids
    )
    assert set(q(box, "SELECT round_id FROM rounds").to_series()) == allowed.round_ids
    assert set(q(box, "SELECT unit_id FROM units").to_series()) == allowed.unit_ids
    assert set(q(box, "SELECT finding_id FROM findings").to_series()) == allowed.finding_ids
    assert set(q(box, "SELECT measure_id FROM measures").to_series()) == allowed.measure_ids


def test_queries_written_to_reach_other_rounds_find_nothing(box: Sandbox, restricted) -> None:
    _, allowed = restricted
    assert q(box, "SELECT count(*) FROM rounds WHERE seq NOT IN (5, 6)").item() == 0
    names = ", ".join("'" + n.replace("'", "''") + "'" for n in allowed.other_round_names)
    assert q(box, f"SELECT count(*) FROM rounds WHERE name IN ({names})").item() == 0
    titles = ", ".join("'" + t.replace("'", "''") + "'" for t in allowed.other_titles)
    assert q(box, f"SELECT count(*) FROM findings WHERE title IN ({titles})").item() == 0
    through_units = q(
        box,
        "SELECT count(*) FROM units u JOIN inspections i USING (unit_id)"
        " JOIN rounds r USING (round_id) WHERE r.seq NOT IN (5, 6)",
    )
    assert through_units.item() == 0
    timelines = q(
        box,
        "SELECT (SELECT count(*) FROM measure_timeline m LEFT JOIN findings f USING (finding_id)"
        "        WHERE f.finding_id IS NULL)"
        "     + (SELECT count(*) FROM finding_timeline t LEFT JOIN inspections i"
        "        USING (inspection_id) WHERE i.inspection_id IS NULL)",
    )
    assert timelines.item() == 0
    history = q(
        box,
        "SELECT count(*) FROM measure_status_history h ANTI JOIN measures m USING (measure_id)",
    )
    assert history.item() == 0


def test_repeat_lists_name_no_finding_or_round_outside_the_scope(
    box: Sandbox, demo_store: Store, restricted
) -> None:
    scope, allowed = restricted
    reader = open_reader(demo_store)
    try:
        outside = reader.scalar(
            "SELECT count(*) FROM finding_repeats r, unnest(r.earlier_finding_ids) e(id)"
            " JOIN findings f ON f.finding_id = e.id"
            " WHERE list_contains($ids, (SELECT inspection_id FROM findings x"
            "       WHERE x.finding_id = r.finding_id))"
            "   AND NOT list_contains($ids, f.inspection_id)",
            {"ids": list(scope.inspection_ids)},
        )
    finally:
        reader.close()
    assert outside > 0  # the store does point from the scope to findings outside it
    earlier = q(box, "SELECT unnest(earlier_finding_ids) FROM finding_repeats").to_series()
    assert set(earlier) <= allowed.finding_ids
    rounds = q(box, "SELECT unnest(earlier_round_ids) FROM finding_repeats").to_series()
    assert set(rounds) <= allowed.round_ids
    # The flags stay: they are the 口径 the pages show for findings in scope.
    assert q(box, "SELECT count(*) FILTER (WHERE is_repeat) FROM finding_repeats").item() > 0


def test_the_catalogs_statistics_describe_only_the_scope(box: Sandbox, restricted) -> None:
    _, allowed = restricted
    sizes = dict(q(box, "SELECT table_name, estimated_size FROM duckdb_tables()").rows())
    assert sizes["findings"] == len(allowed.finding_ids)
    stats = q(
        box,
        "SELECT min(stats['min']::INTEGER), max(stats['max']::INTEGER)"
        " FROM pragma_storage_info('findings') WHERE column_name = 'finding_id'",
    ).row(0)
    assert stats == (min(allowed.finding_ids), max(allowed.finding_ids))


def test_without_clue_permission_there_are_counts_only_with_one_and_two_shown_as_under_three(
    box: Sandbox, demo_store: Store, restricted
) -> None:
    scope, _ = restricted
    with pytest.raises(SandboxError):
        q(box, "SELECT * FROM clues")
    counts = dict(q(box, "SELECT inspection_id, clues FROM clue_counts").rows())
    assert set(counts) == set(scope.inspection_ids)
    reader = open_reader(demo_store)
    try:
        truth = dict(
            reader._con.cursor()
            .execute("SELECT inspection_id, count(*) FROM clues GROUP BY ALL")
            .fetchall()
        )
    finally:
        reader.close()
    for inspection, shown in counts.items():
        n = truth.get(inspection, 0)
        assert shown == ("0" if n == 0 else "<3" if n < 3 else str(n)), inspection
    assert "<3" in counts.values()  # the demo has small counts, so the rule is exercised
    assert q(box, "SELECT typeof(clues) FROM clue_counts LIMIT 1").item() == "VARCHAR"


def test_with_clue_permission_the_scopes_clues_are_there_and_no_others(
    demo_store: Store, restricted
) -> None:
    scope, allowed = restricted
    sandbox = Sandbox.for_scope(demo_store, scope, clue_details=True, cache=False)
    try:
        clue_inspections = set(q(sandbox, "SELECT DISTINCT inspection_id FROM clues").to_series())
        assert clue_inspections and clue_inspections <= allowed.inspection_ids
        with pytest.raises(SandboxError):
            q(sandbox, "SELECT * FROM clue_counts")
        comment = q(
            sandbox, "SELECT comment FROM duckdb_tables() WHERE table_name = 'clues'"
        ).item()
        assert comment == "问题线索，每条线索一行"
    finally:
        sandbox.close()


def test_a_scope_of_one_unit_given_as_inspection_ids_holds_only_that_unit(
    demo_store: Store,
) -> None:
    reader = open_reader(demo_store)
    try:
        unit_id, ids = (
            reader._con.cursor()
            .execute(
                "SELECT unit_id, list(inspection_id) FROM inspections GROUP BY ALL ORDER BY 1 LIMIT 1"
            )
            .fetchone()
        )
    finally:
        reader.close()
    sandbox = Sandbox.for_scope(demo_store, ids, clue_details=False, cache=False)
    try:
        assert q(sandbox, "SELECT list(DISTINCT unit_id) FROM findings").item().to_list() == [
            unit_id
        ]
        assert q(sandbox, "SELECT count(*) FROM units").item() == 1
    finally:
        sandbox.close()


def test_category_filters_narrow_findings_and_everything_hanging_from_them(
    demo_store: Store,
) -> None:
    reader = open_reader(demo_store)
    try:
        scope = resolve_scope(reader, Filters(category_l1=("A",)))
    finally:
        reader.close()
    sandbox = Sandbox.for_scope(demo_store, scope, clue_details=False, cache=False)
    try:
        assert q(sandbox, "SELECT list(DISTINCT category_l1) FROM findings").item().to_list() == [
            "A"
        ]
        assert (
            q(sandbox, "SELECT count(*) FROM measures ANTI JOIN findings USING (finding_id)").item()
            == 0
        )
        assert (
            q(sandbox, "SELECT count(*) FROM finding_timeline WHERE category_l1 <> 'A'").item() == 0
        )
    finally:
        sandbox.close()


def test_an_empty_scope_gives_empty_tables_not_everything(demo_store: Store) -> None:
    sandbox = Sandbox.for_scope(demo_store, [], clue_details=False, cache=False)
    try:
        assert q(sandbox, "SELECT count(*) FROM findings").item() == 0
        assert q(sandbox, "SELECT count(*) FROM rounds").item() == 0
        assert q(sandbox, "SELECT count(*) FROM category_l1").item() == 5  # dictionaries stay
    finally:
        sandbox.close()


@pytest.mark.parametrize(
    "filters",
    [Filters(round_from=5, round_to=6), Filters(category_l1=("B",)), Filters(category_l2=("C01",))],
    ids=["rounds", "l1", "l2"],
)
def test_named_queries_on_the_summaries_give_the_dashboards_rows_in_the_sandbox(
    demo_store: Store, filters: Filters
) -> None:
    """The sandbox holds the current-state summaries narrowed to its scope (categories too,
    so rect_current_inspection is summed from its own copy): named queries reading them
    there return exactly what the dashboard's reader returns."""
    from xuncha.store.reader import load_queries

    reader = open_reader(demo_store)
    try:
        scope = resolve_scope(reader, filters)
        assert scope.current
        # With clue details: ecology_unit_counts reads the clues themselves.
        sandbox = Sandbox.for_scope(demo_store, scope, clue_details=True, cache=False)
        try:
            for name, extra in [
                ("findings_by_category", {}),
                ("findings_by_unit_category", {"level": 2}),
                ("ecology_unit_counts", {"by_round": False}),
                ("findings_detail", {"unit_id": None, "category": None, "limit": 300}),
                ("rectification_counts_current", {"by": "unit", "cycle_median": True}),
                ("rectification_counts_current", {"by": "all", "cycle_median": False}),
            ]:
                named = load_queries()[name]
                given = {**scope.params(**extra), "inspection_ids": list(scope.inspection_ids)}
                params = {k: v for k, v in given.items() if k in named.params}
                got = sandbox.run(named.sql, user=USER, params=params, max_rows=100_000).frame
                assert got.height > 0, name
                if "current" in named.params:  # the timelines' answer, in the sandbox too
                    slow = {**params, "current": False}
                    again = sandbox.run(named.sql, user=USER, params=slow, max_rows=100_000)
                    assert got.equals(again.frame), (name, extra)
                if name == "ecology_unit_counts":
                    continue  # counts earlier inspections, which the sandbox does not hold
                expected = reader.query(name, scope.params(**extra))
                assert got.equals(expected), (name, extra)
        finally:
            sandbox.close()
    finally:
        reader.close()


def test_the_evaluation_items_of_the_scope_are_there_and_no_others(
    box: Sandbox, demo_store: Store, restricted
) -> None:
    """The 整改成效评估's manual entries, their evidence and decisions: exactly those of the
    inspections in scope (the demo city has entries in the rounds of this scope and others)."""
    _, allowed = restricted
    reader = open_reader(demo_store)
    try:
        con = reader._con.cursor()
        every = con.execute("SELECT entry_id, inspection_id FROM evaluation_entries").fetchall()
        decided = {
            r[0] for r in con.execute("SELECT entry_id FROM evaluation_decisions").fetchall()
        }
        attached = con.execute(
            "SELECT count(*), count(DISTINCT entry_id) FROM evaluation_entry_evidence"
        ).fetchone()
    finally:
        reader.close()
    mine = {e for e, i in every if i in allowed.inspection_ids}
    assert mine and len(mine) < len(every) and attached[0] > 0
    assert set(q(box, "SELECT entry_id FROM evaluation_entries").to_series()) == mine
    assert set(q(box, "SELECT entry_id FROM evaluation_decisions").to_series()) == mine & decided
    evidence = set(q(box, "SELECT DISTINCT entry_id FROM evaluation_entry_evidence").to_series())
    assert evidence and evidence <= mine
