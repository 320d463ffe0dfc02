"""The demo city's 整改成效评估 entries (xuncha.evaluation.demo_entries): two people per
confirmed entry, values within their items' ranges, evidence that exists with its hash, nothing
confirmed for a round still in rectification, grades for the finished rounds, and pending
entries in the confirmation queue that the demo's own user can confirm through the real
write path."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import polars as pl
import pytest

from xuncha import demo
from xuncha.auth.access import Access
from xuncha.evaluation import EvaluationConfig, evaluate, grades
from xuncha.evaluation import entries as evaluation_entries
from xuncha.evaluation.config import GRADES, VetoItem
from xuncha.figures.periods import finished_rounds
from xuncha.filters import Filters, resolve_scope
from xuncha.rectify import demo_activity
from xuncha.rectify.evidence import evidence_path
from xuncha.store import Reader, Store, open_reader

from .conftest import AS_OF

ENTRIES_SQL = """
SELECT e.*, i.feedback_date, d.decision, d.reason, d.decided_by, d.decided_role, d.decided_on
FROM evaluation_entries e
JOIN inspections i USING (inspection_id)
LEFT JOIN evaluation_decisions d USING (entry_id)
ORDER BY e.entry_id
"""


def _entries(store: Store) -> pl.DataFrame:
    con = store.connect()
    try:
        cursor = con.execute(ENTRIES_SQL)
        names = [d[0] for d in cursor.description or []]
        return pl.DataFrame(
            [dict(zip(names, r, strict=True)) for r in cursor.fetchall()], infer_schema_length=None
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def rows(demo_store: Store) -> pl.DataFrame:
    return _entries(demo_store)


@pytest.fixture(scope="module")
def finished(demo_store: Store) -> frozenset[int]:
    reader = open_reader(demo_store)
    try:
        return finished_rounds(reader, None, AS_OF)
    finally:
        reader.close()


def _scope(reader: Reader):  # type: ignore[no-untyped-def]
    return resolve_scope(reader, Filters(), AS_OF)


def test_every_decision_is_by_another_account_after_the_entry(rows: pl.DataFrame) -> None:
    decided = rows.filter(pl.col("decision").is_not_null())
    assert decided.height > 100
    for row in decided.iter_rows(named=True):
        assert row["decided_by"] != row["entered_by"], row["entry_id"]
        assert row["decided_on"] >= row["entered_on"]
        assert row["decided_on"] <= AS_OF
    # The 巡察办 enters, the 监督检查室 confirms: roles that hold the EVALUATE permission.
    assert set(rows["entered_role"].unique()) == {"office"}
    assert set(decided["decided_role"].unique()) == {"supervisor"}
    for row in rows.iter_rows(named=True):
        assert row["feedback_date"] <= row["entered_on"] <= AS_OF
        assert row["entered_at"].date() == row["entered_on"]


def test_every_value_lies_within_its_items_range(rows: pl.DataFrame) -> None:
    config = EvaluationConfig.load()
    seen = set()
    for row in rows.iter_rows(named=True):
        item = config.manual_item(row["item"])
        assert item is not None, row["item"]
        seen.add(item.key)
        if isinstance(item, VetoItem):
            assert row["value"] in (0.0, 1.0)
        else:
            assert 0 <= row["value"] <= item.points, (row["item"], row["value"])
        assert row["note"].startswith(item.label), row["note"]
    assert {i.key for i in config.manual} <= seen
    # Values spread within the range, not one value for all.
    for item in config.manual:
        values = rows.filter(pl.col("item") == item.key)["value"]
        assert values.n_unique() > 5
        assert values.max() < item.points or values.min() < item.points * 0.9


def test_the_evidence_rows_name_the_stored_file(demo_store: Store, rows: pl.DataFrame) -> None:
    con = demo_store.connect()
    try:
        evidence = con.execute(
            "SELECT entry_id, sha256, file_name, position FROM evaluation_entry_evidence"
        ).fetchall()
        registered = {r[0] for r in con.execute("SELECT sha256 FROM evidence_files").fetchall()}
    finally:
        con.close()
    by_entry = {r[0]: r for r in evidence}
    assert set(by_entry) == set(rows["entry_id"].to_list())  # every entry has its file
    for _, sha, name, position in evidence:
        assert position == 1
        assert sha in registered
        path = evidence_path(demo_store, sha)
        assert path.is_file()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
        assert name == demo_activity.EVIDENCE_NAME


def test_nothing_is_confirmed_for_a_round_still_in_rectification(
    rows: pl.DataFrame, finished: frozenset[int]
) -> None:
    ongoing = rows.filter(~pl.col("round_id").is_in(list(finished)))
    assert ongoing.height > 0  # the latest round's 集中整改期 checks, awaiting confirmation
    assert ongoing["decision"].is_null().all()
    # and the finished rounds' entries were made after their round's period ended
    reader_rounds = rows.filter(pl.col("round_id").is_in(list(finished)))
    assert reader_rounds.height > ongoing.height


def test_entries_come_after_the_period_ended(demo_store: Store, rows: pl.DataFrame) -> None:
    reader = open_reader(demo_store)
    try:
        from xuncha.figures.periods import round_periods

        periods = round_periods(reader, None, AS_OF)
    finally:
        reader.close()
    ends = dict(zip(periods["round_id"].to_list(), periods["period_end"].to_list(), strict=True))
    confirmed = rows.filter(pl.col("decision") == "confirm")
    for row in confirmed.iter_rows(named=True):
        assert row["entered_on"] > ends[row["round_id"]], row["entry_id"]


def test_the_finished_rounds_get_grades_of_every_kind(
    demo_reader: Reader, finished: frozenset[int]
) -> None:
    table = grades(demo_reader, _scope(demo_reader))
    assert finished
    done = table.filter(pl.col("round_id").is_in(list(finished)))
    for (round_id,), part in done.group_by("round_id"):
        graded = part.filter(pl.col("grade").is_not_null()).height
        assert graded * 4 >= part.height * 3, (round_id, graded, part.height)
        assert not part["provisional"].any()
    assert set(done["grade"].drop_nulls().unique()) == set(GRADES)
    # the 较好 and 一般 grades together are the most common
    counts = done["grade"].drop_nulls().value_counts()
    middle = counts.filter(pl.col("grade").is_in(["较好", "一般"]))["count"].sum()
    assert middle * 2 > counts["count"].sum()
    # no unit of a round in rectification gets a grade other than through a veto
    ongoing = table.filter(~pl.col("round_id").is_in(list(finished)))
    assert ongoing.height > 0
    assert ongoing.filter(pl.col("grade").is_not_null() & ~pl.col("vetoed")).is_empty()


def test_the_exceptions(rows: pl.DataFrame, demo_reader: Reader) -> None:
    config = EvaluationConfig.load()
    veto_keys = [v.key for v in config.veto]
    vetoes = rows.filter(pl.col("item").is_in(veto_keys))
    upheld = vetoes.filter((pl.col("value") == 1) & (pl.col("decision") == "confirm"))
    assert 1 <= upheld.height <= 2
    assert vetoes.filter(pl.col("value") == 0).height >= 1  # one found 不成立
    result = evaluate(demo_reader, _scope(demo_reader))
    units = result.units
    for row in upheld.iter_rows(named=True):
        unit = units.filter(pl.col("inspection_id") == row["inspection_id"]).row(0, named=True)
        assert unit["vetoed"] and unit["grade"] == "差"
    # one entry returned with its reason, entered again later and confirmed
    rejected = rows.filter(pl.col("decision") == "reject")
    assert rejected.height == 1
    back = rejected.row(0, named=True)
    assert back["reason"]
    again = rows.filter(
        (pl.col("inspection_id") == back["inspection_id"])
        & (pl.col("item") == back["item"])
        & (pl.col("entry_id") > back["entry_id"])
    )
    assert again.height == 1
    assert again["decision"][0] == "confirm"
    assert again["entered_on"][0] >= back["decided_on"]
    # at most one open entry per unit and item (entries.enter refuses a second)
    pending = rows.filter(pl.col("decision").is_null())
    assert pending.height >= 3
    assert pending.select("inspection_id", "item").is_unique().all()


def test_pending_entries_are_in_the_confirmation_queue(
    rows: pl.DataFrame, demo_reader: Reader
) -> None:
    """The page's queue is evaluate(...).entries without a decision, per round."""
    result = evaluate(demo_reader, _scope(demo_reader))
    expected = set(rows.filter(pl.col("decision").is_null())["entry_id"].to_list())
    queued = set(result.entries.filter(pl.col("decision").is_null())["entry_id"].to_list())
    assert queued == expected
    # the latest round (the page's default) has some, with names and evidence
    latest = int(result.units.sort("seq")["round_id"][-1])
    ids = result.units.filter(pl.col("round_id") == latest)["inspection_id"].to_list()
    mine = result.entries.filter(pl.col("inspection_id").is_in(ids) & pl.col("decision").is_null())
    assert mine.height > 0
    assert (mine["evidence_names"].list.len() == 1).all()
    # the units with a pending entry show it
    counts = result.units.filter(pl.col("pending_entries") > 0)
    assert counts["pending_entries"].sum() == len(expected)


def _small_demo(root: Path) -> Store:
    store = Store(root)
    demo_activity.put_demo_evidence(store)
    store.write(lambda con: demo.build(con, findings=300), fresh=True)
    return store


def test_a_pending_entry_is_confirmed_by_the_demo_user(tmp_path: Path) -> None:
    """Through the real write path: the demo's own user (not the one who entered) confirms."""
    store = _small_demo(tmp_path / "store")
    before = _entries(store)
    pending = before.filter(pl.col("decision").is_null()).sort("entry_id")
    assert pending.height > 0
    who = Access.for_demo()
    assert who.user not in set(before["entered_by"].to_list())
    target = int(pending["entry_id"][0])
    evaluation_entries.decide(
        store, who, target, "confirm", on=AS_OF, now=dt.datetime(2026, 11, 20, 17)
    )
    after = _entries(store).filter(pl.col("entry_id") == target).row(0, named=True)
    assert after["decision"] == "confirm" and after["decided_by"] == who.user
    # a new entry after the demo's gets the next id (the demo's ids leave no gap behind)
    con = store.connect()
    try:
        ids = [r[0] for r in con.execute("SELECT entry_id FROM evaluation_entries").fetchall()]
    finally:
        con.close()
    assert sorted(ids) == list(range(1, len(ids) + 1))


def test_the_entries_are_deterministic(tmp_path: Path) -> None:
    first = _entries(_small_demo(tmp_path / "a"))
    second = _entries(_small_demo(tmp_path / "b"))
    assert first.height > 0
    assert first.drop("feedback_date").equals(second.drop("feedback_date"))


def test_without_online_activity_there_are_no_entries(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    store.write(lambda con: demo.build(con, findings=300, online=False), fresh=True)
    assert _entries(store).is_empty()


def test_a_round_finishing_just_before_the_date_gets_entries_no_later_than_it(
    tmp_path: Path,
) -> None:
    """With an as-of date days after a round's period ended, the entries stay on or before it
    (none in the future) and after the period's end."""
    store = Store(tmp_path / "store")
    demo_activity.put_demo_evidence(store)
    as_of = dt.date(2026, 1, 5)  # 十四届第六轮's period ends on 2025-12-31 in the demo
    store.write(lambda con: demo.build(con, findings=300, as_of=as_of), fresh=True)
    found = _entries(store)
    assert found["entered_on"].max() <= as_of
    decided = found.filter(pl.col("decision").is_not_null())
    assert decided["decided_on"].max() <= as_of
    reader = open_reader(store)
    try:
        done = finished_rounds(reader, None, as_of)
    finally:
        reader.close()
    assert decided.filter(~pl.col("round_id").is_in(list(done))).is_empty()


def test_the_generator_reads_the_items_from_the_configuration(tmp_path: Path) -> None:
    """A configuration with other manual items and points: the demo's values follow it."""
    from xuncha.evaluation import demo_entries

    text = (Path(__file__).resolve().parents[1] / "xuncha" / "evaluation_default.toml").read_text(
        encoding="utf-8"
    )
    old = '[manual.satisfaction]\nlabel = "满意度测评"\npoints = 10.0'
    assert old in text
    text = text.replace(old, '[manual.survey]\nlabel = "问卷调查"\npoints = 6.0')
    old = 'method = "target"\npoints = 10.0'  # the 4 points taken from the survey go here
    assert old in text
    text = text.replace(old, 'method = "target"\npoints = 14.0')
    config = EvaluationConfig.from_toml(text)
    assert [i.key for i in config.manual] == ["survey", "site_check", "public_review"]
    store = Store(tmp_path / "store")
    demo_activity.put_demo_evidence(store)

    def build(con: duckdb.DuckDBPyConnection) -> int:
        demo.build(con, findings=300, online=False)
        demo_activity.add(con, as_of=demo.DEMO_AS_OF)
        return demo_entries.add(con, as_of=demo.DEMO_AS_OF, config=config)

    written, _ = store.write(build, fresh=True)
    found = _entries(store)
    assert found.height == written
    survey = found.filter(pl.col("item") == "survey")
    assert survey.height > 0
    assert survey["value"].max() <= 6.0
    assert survey["note"].str.starts_with("问卷调查").all()
    assert found.filter(pl.col("item") == "satisfaction").is_empty()
