"""Keyword search: the in-memory index (what the dashboard answers from) gives exactly the
findings of queries/findings_search.sql, and both those of a plain Python reading of the
base tables, for many scopes, dates and terms; the page lists them, exports them and audits
each new search once."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from xuncha import audit, cli, figures
from xuncha.filters import Filters, resolve_scope
from xuncha.filters_names import filters_from_names
from xuncha.store import Reader, Store, open_reader

APP = str(Path(__file__).resolve().parents[1] / "app.py")
AS_OF = dt.date(2026, 11, 20)

SCOPES = {
    "all": Filters(as_of=AS_OF),
    "one_round": Filters(round_from=5, round_to=5, as_of=AS_OF),
    "category": Filters(category_l1=("B",), as_of=AS_OF),
    "category_l2": Filters(category_l2=("B03",), as_of=AS_OF),
    "unit": Filters(unit_ids=(26,), as_of=AS_OF),
    "past": Filters(as_of=dt.date(2023, 12, 31)),
    "before_any": Filters(as_of=dt.date(2015, 1, 1)),
}


@pytest.fixture(scope="module")
def words(demo_con: tuple[Reader, duckdb.DuckDBPyConnection]) -> list[list[str]]:
    """Terms drawn from the demo's own text: a common word, a rare one, two words, words
    that never occur, and characters that mean something to LIKE and regular expressions."""
    _, con = demo_con
    titles = [
        t for (t,) in con.execute("SELECT title FROM findings ORDER BY finding_id").fetchall()
    ]
    grams = Counter(t[i : i + 2] for t in titles for i in range(len(t) - 1))
    common = grams.most_common(1)[0][0]  # found in every category and round
    rare = titles[len(titles) // 2][2:8]
    return [
        [common],
        [titles[0][:2]],
        [rare],
        [common, titles[0][-2:]],
        ["不存在的检索词甲乙"],
        ["%"],
        ["_"],
        [".*"],
        ["("],
    ]


def by_hand(con: duckdb.DuckDBPyConnection, scope, terms: list[str]) -> list[int]:
    """The definition read literally over the base tables, in Python."""
    rows = con.execute(
        "SELECT f.finding_id, f.inspection_id, f.category_l1, f.category_l2, f.title,"
        " f.detail, i.feedback_date, r.seq, f.unit_id"
        " FROM findings f JOIN inspections i USING (inspection_id)"
        " JOIN rounds r ON r.round_id = f.round_id"
    ).fetchall()
    ids = set(scope.inspection_ids)
    kept = [
        (seq, unit, fid)
        for fid, insp, l1, l2, title, detail, fed, seq, unit in rows
        if insp in ids
        and fed <= scope.as_of
        and (not scope.category_l1 or l1 in scope.category_l1)
        and (not scope.category_l2 or l2 in scope.category_l2)
        and all(t in title or t in (detail or "") for t in terms)
    ]
    return [fid for _, _, fid in sorted(kept, key=lambda k: (-k[0], k[1], k[2]))]


@pytest.mark.parametrize("scope_name", SCOPES)
def test_the_index_the_query_and_a_reading_by_hand_find_the_same_findings(
    demo_con: tuple[Reader, duckdb.DuckDBPyConnection], words: list[list[str]], scope_name: str
) -> None:
    reader, con = demo_con
    index = figures.TextIndex.load(reader)
    scope = resolve_scope(reader, SCOPES[scope_name])
    hits = 0
    for terms in words:
        want = by_hand(con, scope, terms)
        assert index.search(scope, terms) == want, (scope_name, terms)
        assert figures.search_sql(reader, scope, terms) == want, (scope_name, terms)
        hits += len(want)
    if scope_name != "before_any":
        assert hits > 0  # not vacuous
    assert index.search(scope, []) == figures.search_sql(reader, scope, []) == []


def test_the_index_holds_one_version_and_every_finding(
    demo_con: tuple[Reader, duckdb.DuckDBPyConnection],
) -> None:
    reader, con = demo_con
    index = figures.TextIndex.load(reader)
    assert index.version == reader.version
    row = con.execute("SELECT count(*) FROM findings").fetchone()
    assert row is not None and index.rows == row[0]


def test_what_is_typed_becomes_terms() -> None:
    assert figures.search_terms("  公务接待  超标准 ") == ["公务接待", "超标准"]
    assert figures.search_terms("公务接待\u3000超标准\u3000公务接待") == ["公务接待", "超标准"]
    assert figures.search_terms("   ") == []
    with pytest.raises(figures.SearchError, match="最多 8 个"):
        figures.search_terms(" ".join(f"词{i}" for i in range(9)))
    with pytest.raises(figures.SearchError, match="最多 50 个字"):
        figures.search_terms("长" * 51)


def _search_table(at: AppTest):
    tables = [d for d in at.dataframe if "具体问题" in d.value.columns]
    return tables[-1].value  # the search's listing is the last findings table of the page


def test_the_page_lists_the_findings_exports_them_and_audits_each_new_search(
    app_env: Store, words: list[list[str]]
) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    at.run()
    at.switch_page("pages/distribution.py")
    at.run()
    before = [e for e in audit.entries(app_env.root) if e.action == "search"]
    terms = words[0]
    at.text_input(key="dist_search").set_value(" ".join(terms)).run()
    assert not at.exception, [e.value for e in at.exception]
    reader = open_reader(app_env)
    try:
        want = figures.search_sql(reader, resolve_scope(reader, Filters(as_of=AS_OF)), terms)
    finally:
        reader.close()
    assert len(want) > 0
    shown = _search_table(at)
    assert shown["问题编号"].tolist() == want[: len(shown)]
    assert any(f"共 {len(want):,} 个问题" in c.value for c in at.caption)
    keys = {getattr(b, "key", None) for b in at.get("download_button")}
    assert {"dl_dist_search_xlsx", "dl_dist_search_csv"} <= keys
    at.run()  # a rerun with the same search is not a new search
    after = [e for e in audit.entries(app_env.root) if e.action == "search"]
    assert len(after) == len(before) + 1
    assert after[-1].details["terms"] == terms and after[-1].details["results"] == len(want)
    at.text_input(key="dist_search").set_value("不存在的检索词甲乙").run()
    assert any("没有对应的问题" in c.value for c in at.caption)
    assert len([e for e in audit.entries(app_env.root) if e.action == "search"]) == len(after) + 1
    at.text_input(key="dist_search").set_value(" ".join(f"词{i}" for i in range(9))).run()
    assert any("最多 8 个" in w.value for w in at.warning)


def test_the_command_line_searches_the_same_findings_in_the_same_scope(
    demo_store: Store, words: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    terms = words[0]
    args = ["search", *terms, "--db", str(demo_store.root), "--as-of", "2023-12-31"]
    assert cli.main([*args, "--round", "十四届市委第三轮巡察"]) == 0
    printed = json.loads(capsys.readouterr().out)
    reader = open_reader(demo_store)
    try:
        filters = filters_from_names(
            reader, rounds=["十四届市委第三轮巡察"], units=[], categories=[], as_of="2023-12-31"
        )
        want = figures.search_sql(reader, resolve_scope(reader, filters), terms)
    finally:
        reader.close()
    assert printed["terms"] == terms and len(want) > 0
    assert [f["finding_id"] for f in printed["findings"]] == want
    assert {f["round_name"] for f in printed["findings"]} == {"十四届市委第三轮巡察"}
    assert cli.main([*args, "--format", "csv"]) == 0
    csv = capsys.readouterr().out
    assert csv.startswith("\ufeff问题编号,") and csv.count("\n") > len(want)
    assert cli.main(["search", " ", "--db", str(demo_store.root)]) == 1
    assert "请给出检索词" in capsys.readouterr().err
