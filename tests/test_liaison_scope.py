"""被巡察单位联络员 (liaison) sees nothing of the analysis product (DOMAIN.md §7, §8): on a copy
of the demo data (64 units) with online-rectification rows for every inspection, a liaison of
one unit tries every path there is: every page of app.py (not offered, refused when opened
directly, also while an administrator previews them), the scope layer, the figures, clue
figures, ecology scores, search, downloads, the SQL sandbox, briefings and the command line.
Nothing shows another unit, a clue, a score or a ranking; error messages list no unit.

Also: the SQL sandbox of a scoped 巡察组 user holds only its own rows of the rectification
tables (submissions, steps, evidence, notices), never the contacts or a notice's recipients.
"""

from __future__ import annotations

import ast
import io
import json
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import streamlit as st
from argon2 import PasswordHasher
from google.protobuf import text_format
from streamlit.testing.v1 import AppTest

from tests.conftest import AS_OF
from xuncha import audit, briefing, cli, figures
from xuncha.auth import Access, UserStore
from xuncha.figures import disclosure
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.sandbox import Sandbox
from xuncha.sandbox import build as sandbox_build
from xuncha.store import Store, open_reader

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PASSWORD = "Xuncha-Test-2026"
UNIT = "市财政局"  # the liaison's unit, by its short name (inspected in two rounds)
UNIT_FULL = "江城市财政局党组"
GROUP_ROUND = "十四届市委第六轮巡察"
GROUP_UNITS = ("市统计局", "市应急管理局")


def _pages(name: str, *, own: bool = False) -> list[str]:
    """The page files app.py lists under `name` (PAGES, ADMIN_PAGES), read from its source so
    that a page added there is tried here too."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.List)
        ):
            entries = [
                (entry.elts[0].value, ast.unparse(entry.elts[-1]))
                for entry in node.value.elts
                if isinstance(entry, ast.Tuple) and isinstance(entry.elts[0], ast.Constant)
            ]
            assert len(entries) == len(node.value.elts)
            mine = {"REPORT", "notices.PERMISSIONS"}  # 整改填报, and 预警提醒 (any role)
            return [str(f) for f, permission in entries if (permission in mine) == own]
    raise AssertionError(f"app.py has no {name}")


# The pages of every other role, and the liaison's own (整改填报 needs REPORT; 预警提醒 is
# open to any role a notice can be addressed to).
DATA_PAGES = _pages("PAGES")
ADMIN_PAGES = _pages("ADMIN_PAGES")
OWN_PAGES = _pages("PAGES", own=True)


# -- the store -------------------------------------------------------------------------------


def _rectify_rows(con: Any) -> None:
    """Online-rectification rows for every inspection: one submission (the inspection's first
    measure) reported done by the unit's liaison and passed by a reviewer, with a file of its
    own and one file every unit attached (first by the earliest inspection's unit), one
    notice per unit listing its measures of every round, and a contact per unit. The demo's
    own online activity is removed first: these rows are the whole of it."""
    for table in ("submission_evidence", "rectify_steps", "rectify_submissions", "evidence_files"):
        con.execute(f"DELETE FROM {table}")
    con.execute(
        """
        INSERT INTO rectify_submissions (submission_id, measure_id, finding_id, inspection_id,
            round_id, unit_id, kind, status, progress, completed_on, submitted_by,
            submitted_at, submitted_on, source, batch_id)
        SELECT row_number() OVER (ORDER BY f.inspection_id), min(m.measure_id),
               arg_min(f.finding_id, m.measure_id), f.inspection_id, any_value(f.round_id),
               any_value(f.unit_id), 'done', 'DONE', '已整改', DATE '2026-10-01',
               'lx_' || any_value(f.unit_id),
               TIMESTAMP '2026-10-01 09:00:00' + to_minutes(f.inspection_id::BIGINT),
               DATE '2026-10-01', 'online', 1
        FROM findings f JOIN measures m USING (finding_id)
        GROUP BY f.inspection_id
        """
    )
    con.execute(
        """
        INSERT INTO rectify_steps (step_id, submission_id, measure_id, round_id, unit_id, step,
            state, actor, actor_role, acted_at, step_date, evidence, batch_id)
        SELECT submission_id * 10 + k, submission_id, measure_id, round_id, unit_id,
               CASE k WHEN 1 THEN 'submit' ELSE 'pass' END,
               CASE k WHEN 1 THEN 'pending_review' ELSE 'pending_close' END,
               CASE k WHEN 1 THEN submitted_by ELSE 'reviewer' END,
               CASE k WHEN 1 THEN 'liaison' ELSE 'group' END,
               submitted_at + to_hours(k), submitted_on, [sha256('own-' || submission_id)], 1
        FROM rectify_submissions, range(1, 3) r(k)
        """
    )
    con.execute(
        """
        INSERT INTO submission_evidence
        SELECT submission_id, sha256('own-' || submission_id), '佐证' || submission_id || '.pdf', 1
        FROM rectify_submissions
        UNION ALL
        SELECT submission_id, sha256('shared'), '市委文件.pdf', 2 FROM rectify_submissions
        """
    )
    con.execute(
        """
        INSERT INTO evidence_files
        SELECT sha256('own-' || submission_id), 1000 + submission_id, 'application/pdf', 'PDF',
               submitted_at, submitted_by
        FROM rectify_submissions
        UNION ALL
        SELECT sha256('shared'), 5000, 'application/pdf', 'PDF', submitted_at, submitted_by
        FROM rectify_submissions WHERE submission_id = 1
        """
    )
    con.execute(
        """
        INSERT INTO notices
        SELECT unit_id, '督办函', 2026, unit_id, '江巡督〔2026〕' || unit_id || '号',
               DATE '2026-10-10', unit_id,
               '[{"name": "张' || unit_id || '", "position": "主要负责人",'
               || ' "email": "u' || unit_id || '@example.org"}]',
               NULL, 'system', TIMESTAMP '2026-10-10 08:00:00', 1
        FROM (SELECT DISTINCT unit_id FROM rectify_submissions)
        """
    )
    con.execute(
        """
        INSERT INTO notice_items
        SELECT unit_id, measure_id, '红', DATE '2026-09-30', -10 FROM rectify_submissions
        """
    )
    con.execute(
        """
        INSERT INTO contacts
        SELECT unit_id, unit_id, '主要负责人', '张' || unit_id, 'u' || unit_id || '@example.org',
               NULL, 1
        FROM (SELECT DISTINCT unit_id FROM rectify_submissions)
        """
    )


@pytest.fixture(scope="module")
def base(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The demo data as a real store, with rectification rows, a liaison of 市财政局 (every
    round that inspected it), an administrator, the office and a 巡察组 user of two units."""
    target = tmp_path_factory.mktemp("liaison") / "store"
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    store = Store(target)

    def change(con: Any) -> None:
        con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'")
        _rectify_rows(con)

    store.write(change)
    users = UserStore(target, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user("u_liaison", "liaison", actor="test", password=PASSWORD, units=[UNIT_FULL])
    users.add_user("u_admin", "admin", actor="test", password=PASSWORD)
    users.add_user("u_office", "office", actor="test", password=PASSWORD)
    users.add_user(
        "u_group", "group", actor="test", password=PASSWORD,
        rounds=[GROUP_ROUND], units=list(GROUP_UNITS),
    )  # fmt: skip
    return store


@pytest.fixture()
def real(base: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """`base` for the dashboard (XUNCHA_DB), with Streamlit's and the product's caches clear."""
    from xuncha import ui

    monkeypatch.setenv("XUNCHA_DB", str(base.root))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()
    yield base
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()


def liaison(store: Store) -> Access:
    return UserStore(store.root).access_for("u_liaison")


def unit_names(store: Store) -> dict[int, tuple[str, str]]:
    reader = open_reader(store)
    try:
        return {
            int(uid): (name, short)
            for uid, name, short in reader.query("units_list")
            .select("unit_id", "name", "short_name")
            .rows()
        }
    finally:
        reader.close()


def own_unit_id(store: Store) -> int:
    return next(u for u, (name, _) in unit_names(store).items() if name == UNIT_FULL)


def other_unit_words(store: Store) -> list[str]:
    """Every other unit's full and short name, minus those that are part of the liaison's own
    names (none in the demo data, but a short name could be)."""
    own = {UNIT_FULL, UNIT}
    words = {w for name, short in unit_names(store).values() for w in (name, short)} - own
    return sorted(w for w in words if not any(w in o for o in own))


# -- what a page shows -------------------------------------------------------------------------


def shown_text(at: AppTest) -> str:
    """Everything an AppTest run drew, as text: every element's protobuf (labels, options,
    values, markdown, captions, chart specs) and every table's cells."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(text_format.MessageToString(proto, as_utf8=True))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    return "\n".join(parts)


def assert_no_other_unit(text: str, store: Store) -> None:
    leaked = [w for w in other_unit_words(store) if w in text]
    assert not leaked, leaked[:5]


def assert_nothing_of_the_data(at: AppTest) -> None:
    assert not at.metric, [m.label for m in at.metric]
    assert not at.dataframe
    assert not at.get("plotly_chart")
    assert not at.get("download_button")


def session(store: Store, name: str, **state: object) -> AppTest:
    """app.py signed in as `name` (a live session, as the login form leaves it)."""
    users = UserStore(store.root)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["_token"] = users.start_session(users.access_for(name))
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page_alone(store: Store, name: str, page: str) -> AppTest:
    """One page file run on its own (Streamlit's pages directory, `streamlit run` without
    xuncha serve), signed in as `name`."""
    users = UserStore(store.root)
    who = users.access_for(name)
    at = AppTest.from_file(str(ROOT / page), default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["_token"] = users.start_session(who)
    at.session_state["_access"] = who
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def script(store: Store, name: str, body: Callable[[], None]) -> AppTest:
    """A script using the dashboard's own functions (xuncha.ui), signed in as `name`."""
    users = UserStore(store.root)
    who = users.access_for(name)
    at = AppTest.from_function(body, default_timeout=120)
    at.session_state["_token"] = users.start_session(who)
    at.session_state["_access"] = who
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# -- pages ------------------------------------------------------------------------------------


def test_a_liaison_is_offered_only_its_reporting_page_and_sees_only_its_own_unit(
    real: Store,
) -> None:
    assert OWN_PAGES == ["pages/rectify_report.py", "pages/notices.py"]
    at = session(real, "u_liaison")
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["整改填报"]
    assert not at.metric and not at.get("plotly_chart")
    # The user bar names the liaison's unit; nothing else names another unit.
    assert any(UNIT_FULL in c.value for c in at.sidebar.caption)
    assert not at.sidebar.multiselect  # no filters: they would list rounds and units
    assert_no_other_unit(shown_text(at), real)
    for page in (*DATA_PAGES, *ADMIN_PAGES):
        # Only the reporting page is declared: no other can even be asked for.
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    # The office, signed in the same way, is offered them (the test can tell).
    office = session(real, "u_office")
    office.switch_page(DATA_PAGES[0])
    office.run()
    assert office.title and office.metric


@pytest.mark.parametrize("page", [*DATA_PAGES, *ADMIN_PAGES])
def test_every_page_opened_directly_refuses_a_liaison(real: Store, page: str) -> None:
    before = len(audit.entries(real.root))
    at = page_alone(real, "u_liaison", page)
    assert any(re.search(r"没有.+权限", e.value) for e in at.error), [e.value for e in at.error]
    assert not at.title or at.title[0].value == "巡察数据驾驶舱"
    assert_nothing_of_the_data(at)
    assert_no_other_unit(shown_text(at), real)
    refused = [e for e in audit.entries(real.root)[before:] if e.action == "refused"]
    assert refused and refused[-1].user == "u_liaison"


def test_a_data_page_opened_directly_shows_the_office_everything(real: Store) -> None:
    """What the refusal above withholds: the same page run alone shows other units."""
    at = page_alone(real, "u_office", "pages/progress.py")
    assert at.title[0].value == "整改进度" and at.dataframe
    assert any(w in shown_text(at) for w in other_unit_words(real))


def test_an_administrator_previewing_a_liaison_sees_no_data_page(real: Store) -> None:
    at = session(real, "u_admin", _preview_as="u_liaison")
    assert any("正在以" in w.value and UNIT_FULL in w.value for w in at.warning)
    for page in DATA_PAGES:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    # The administrator lands on administration, their own (the users table is theirs).
    assert [t.value for t in at.title] == ["用户管理"]
    assert not at.metric and not at.get("plotly_chart")
    assert not at.sidebar.multiselect
    office = session(real, "u_admin", _preview_as="u_office")
    office.switch_page(DATA_PAGES[0])
    office.run()
    assert office.metric  # previewing a role with data pages shows them


def test_the_preview_button_on_a_liaison_opens_no_data_page(real: Store) -> None:
    at = session(real, "u_admin")
    at.switch_page("pages/admin.py")
    at.run()
    at.selectbox(key="admin_pick").set_value("u_liaison")
    at.run()
    next(b for b in at.button if b.label.startswith("以该用户身份预览")).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["_preview_as"] == "u_liaison"
    # The preview goes to the overview, which refuses the liaison's view.
    assert any("没有查看数据页面权限" in e.value for e in at.error)
    assert_nothing_of_the_data(at)
    assert_no_other_unit(shown_text(at), real)


# -- the scope layer and the figures ------------------------------------------------------------


def test_resolve_scope_gives_a_liaison_no_inspection_whatever_the_filters(real: Store) -> None:
    who = liaison(real)
    reader = open_reader(real)
    try:
        own = own_unit_id(real)
        other = next(u for u in unit_names(real) if u != own)
        for filters in (
            Filters(as_of=AS_OF),
            Filters(unit_ids=(own,), as_of=AS_OF),
            Filters(unit_ids=(other,), as_of=AS_OF),
        ):
            scope = resolve_scope(reader, filters, access=who)
            assert scope.inspection_ids == () and scope.unit_filter == frozenset()
            assert scope.ids_param() == []  # never None ("every inspection")
            assert not scope.clue_details
        # The store does hold the unit's inspections: the role, not the data, empties it.
        system = resolve_scope(reader, Filters(unit_ids=(own,), as_of=AS_OF))
        assert len(system.inspection_ids) == 2
    finally:
        reader.close()


@pytest.fixture()
def scopes(real: Store) -> Iterator[tuple[Any, Scope, Scope]]:
    """A reader, the liaison's scope and the system's (everything)."""
    reader = open_reader(real)
    try:
        yield (
            reader,
            resolve_scope(reader, Filters(as_of=AS_OF), access=liaison(real)),
            resolve_scope(reader, Filters(as_of=AS_OF)),
        )
    finally:
        reader.close()


def test_the_figures_give_a_liaison_nothing(scopes: tuple[Any, Scope, Scope]) -> None:
    reader, mine, everyone = scopes
    kpi, all_kpi = figures.overview(reader, mine), figures.overview(reader, everyone)
    for key in ("rounds", "units_inspected", "inspections", "findings", "measures"):
        assert kpi[key] == 0 and all_kpi[key] > 0, key
    for by in ("unit", "round", "round_unit", "sector", "peer_group"):
        assert figures.rectification(reader, mine, by).filter(pl.col("findings") > 0).is_empty()
        assert figures.rectification(reader, everyone, by).height > 1, by
    assert figures.progress_curve(reader, mine).is_empty()
    assert not figures.progress_curve(reader, everyone).is_empty()
    assert figures.common_problems(reader, mine).is_empty()


def test_a_liaison_gets_no_score_rank_or_clue_count(scopes: tuple[Any, Scope, Scope]) -> None:
    reader, mine, everyone = scopes
    cards = figures.scorecards(reader, mine)
    assert cards.units.is_empty() and figures.peer_ranking(cards).is_empty()
    assert figures.score_trend(reader, mine).is_empty()
    assert not figures.scorecards(reader, everyone).units.is_empty()
    assert disclosure.by_unit(reader, mine) == {}
    totals = disclosure.totals(reader, mine)
    assert all(v.low == v.high == 0 for v in totals.values()), totals
    assert any(v.high > 0 for v in disclosure.totals(reader, everyone).values())


def test_a_liaisons_search_finds_nothing(scopes: tuple[Any, Scope, Scope]) -> None:
    reader, mine, everyone = scopes
    titles = reader.query("findings_text")["title"].to_list()
    word = titles[0][:2]
    assert figures.search_sql(reader, everyone, [word])
    assert figures.search_sql(reader, mine, [word]) == []
    assert figures.TextIndex.load(reader).search(mine, [word]) == []


def test_a_liaisons_briefing_would_name_no_unit(real: Store, tmp_path: Path) -> None:
    """The data layer of a briefing (its scopes resolved with the liaison's access) names no
    unit, whether or not a draft can be made of nothing."""
    who = liaison(real)
    reader = open_reader(real)
    try:
        request = briefing.BriefingRequest(filters=Filters(as_of=AS_OF))
        try:
            _, draft = briefing.generate(
                real, reader, request, lambda f: resolve_scope(reader, f, access=who),
                user=who.user, scope_text="", access=who,
            )  # fmt: skip
        except briefing.BriefingError as exc:
            text = str(exc)
        else:
            text = json.dumps(draft.to_dict(), ensure_ascii=False, default=str)
    finally:
        reader.close()
    assert_no_other_unit(text, real)


# -- downloads, SQL, briefings through the dashboard's own functions ------------------------------


def _downloads_script() -> None:
    import polars as pl

    from xuncha import ui
    from xuncha.filters import Filters, resolve_scope

    reader = ui.reader()
    scope = resolve_scope(reader, Filters(), access=ui.access())
    frame = reader.query("units_list")
    ui.downloads(frame, key="d1", page="测试", title="单位", scope=scope)
    ui.frame_downloads(pl.DataFrame({"a": [1]}), key="d2", name="表")
    ui.file_download("下载", lambda: b"x", "x.txt", mime="text/plain", key="d3")


def test_downloads_are_refused_to_a_liaison(real: Store) -> None:
    at = script(real, "u_liaison", _downloads_script)
    assert not at.get("download_button")
    assert sum("无导出权限" in c.value for c in at.caption) == 3
    office = script(real, "u_office", _downloads_script)
    assert len(office.get("download_button")) == 5


def _sandbox_script() -> None:
    from xuncha import ui
    from xuncha.filters import Filters, resolve_scope

    reader = ui.reader()
    box = ui.sandbox(resolve_scope(reader, Filters(), access=ui.access()))
    import streamlit as st

    st.write(f"sandbox {type(box).__name__}")


def test_the_sql_sandbox_is_refused_to_a_liaison(
    real: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    monkeypatch.setattr(sandbox_build, "build_file", lambda *a, **k: built.append(a))
    before = len(audit.entries(real.root))
    at = script(real, "u_liaison", _sandbox_script)
    assert any("没有数据查询权限" in e.value for e in at.error)
    assert not [m for m in at.markdown if "sandbox" in m.value]
    assert built == []  # refused before anything was copied
    refused = [e for e in audit.entries(real.root)[before:] if e.action == "refused"]
    assert refused and refused[-1].details["permission"] == "sql"


def test_a_sandbox_for_a_liaisons_scope_would_hold_no_row(real: Store) -> None:
    """Behind the refusal, the data layer: the scope a liaison resolves copies nothing."""
    reader = open_reader(real)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF), access=liaison(real))
    finally:
        reader.close()
    box = Sandbox.for_scope(real, scope, clue_details=False, cache=False)
    try:
        tables = box.run("SELECT table_name FROM duckdb_tables()", user="u_liaison").frame
        counts = {
            t: box.run(f'SELECT count(*) AS n FROM "{t}"', user="u_liaison").frame["n"][0]
            for t in tables["table_name"].to_list()
        }
    finally:
        box.close()
    # Only the dictionaries (categories, tags) hold rows: no unit, round, finding, measure,
    # submission, notice or clue count.
    dictionaries = {"category_l1", "category_l2", "category_aliases", "tag_dictionary"}
    assert {t for t, n in counts.items() if n} <= dictionaries, counts
    assert "rectify_submissions" in counts and "contacts" not in counts


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["metrics"],
        ["metrics", "--unit", "市公安局"],
        ["search", "问题"],
        ["ecology"],
        ["sql", "SELECT * FROM units"],
        ["briefing", "--out", "x.docx"],
        ["briefing", "--list"],
        ["rollback", "1"],
        # A file that exists: the role is refused before it is read.
        ["import", APP, "--round", "十四届市委第一轮巡察", "--unit", UNIT],
    ],
)
def test_the_command_line_refuses_a_liaison(real: Store, argv: list[str]) -> None:
    before = len(audit.entries(real.root))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main([*argv, "--db", str(real.root), "--user", "u_liaison"])
    assert code == 1
    assert out.getvalue() == ""
    assert re.search(r"u_liaison：没有.+权限", err.getvalue()), err.getvalue()
    assert_no_other_unit(err.getvalue(), real)
    refused = [e for e in audit.entries(real.root)[before:] if e.action == "refused"]
    assert refused and refused[-1].user == "u_liaison"


# -- error messages ------------------------------------------------------------------------------


def test_messages_that_list_every_unit_come_only_from_user_management() -> None:
    """`未知单位：…（可用：…）` (canonical_scope) lists every unit of the store: only
    `xuncha user`, run by an administrator on the server, may call it. The filters of the
    pages and the command line say "未知单位" without a list (filters_names)."""
    callers = sorted(
        str(path.relative_to(ROOT))
        for folder in ("xuncha", "pages")
        for path in (ROOT / folder).rglob("*.py")
        if "canonical_scope(" in path.read_text(encoding="utf-8") and path.name not in ("scope.py",)
    )
    callers += ["app.py"] if "canonical_scope(" in (ROOT / "app.py").read_text() else []
    assert callers == ["xuncha/auth/cli.py"]


def test_a_unit_name_outside_a_scope_is_unknown_without_a_list(real: Store) -> None:
    from xuncha.filters_names import FilterInputError, filters_from_names

    reader = open_reader(real)
    try:
        with pytest.raises(FilterInputError) as raised:
            filters_from_names(reader, units=["市公安局"], access=liaison(real))
    finally:
        reader.close()
    assert str(raised.value) == "未知单位：市公安局"


def test_a_liaison_is_described_by_its_own_unit_only(real: Store) -> None:
    who = liaison(real)
    assert who.describe() == f"u_liaison（被巡察单位联络员）：{UNIT_FULL}；巡察该单位的各轮次"
    assert who.permissions == frozenset({"report"})


# -- the SQL sandbox: rectification tables of a scoped 巡察组 user --------------------------------


def _expected(store: Store, inspection_ids: tuple[int, ...]) -> dict[str, Any]:
    """What the store holds for these inspections, by its own tables (independently of the
    sandbox's SQL)."""
    con = store.connect()
    try:
        ids = list(inspection_ids)
        q: Callable[[str], list[tuple[Any, ...]]] = lambda sql: con.execute(  # noqa: E731
            sql, {"ids": ids}
        ).fetchall()
        subs = {
            r[0]
            for r in q(
                "SELECT submission_id FROM rectify_submissions WHERE list_contains($ids, inspection_id)"
            )
        }
        measures = {
            r[0]
            for r in q(
                "SELECT m.measure_id FROM measures m JOIN findings f USING (finding_id)"
                " WHERE list_contains($ids, f.inspection_id)"
            )
        }
        units = {
            r[0]
            for r in q("SELECT unit_id FROM inspections WHERE list_contains($ids, inspection_id)")
        }
        submitters = {
            r[0]
            for r in q(
                "SELECT submitted_by FROM rectify_submissions WHERE list_contains($ids, inspection_id)"
            )
        }
        total = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("rectify_submissions", "rectify_steps", "notices", "notice_items")
        }
        shared_by = con.execute(
            "SELECT added_by FROM evidence_files WHERE sha256 = sha256('shared')"
        ).fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    return {
        "submissions": subs,
        "measures": measures,
        "units": units,
        "submitters": submitters,
        "total": total,
        "shared_by": shared_by,
    }


def _rows(box: Sandbox, sql: str) -> pl.DataFrame:
    return box.run(sql, user="u_group", max_rows=100_000).frame


def test_a_group_users_sandbox_holds_only_its_units_rectification_rows(real: Store) -> None:
    reader = open_reader(real)
    try:
        who = UserStore(real.root).access_for("u_group")
        scope = resolve_scope(reader, Filters(as_of=AS_OF), access=who)
    finally:
        reader.close()
    want = _expected(real, scope.inspection_ids)
    assert len(want["units"]) == len(GROUP_UNITS) and want["submissions"]
    # The store holds every unit's rows, and the shared file was first uploaded elsewhere.
    assert want["total"]["rectify_submissions"] > len(want["submissions"])
    assert want["shared_by"] not in want["submitters"]
    box = Sandbox.for_scope(real, scope, clue_details=False, cache=False)
    try:
        subs = _rows(box, "SELECT * FROM rectify_submissions")
        assert set(subs["submission_id"]) == want["submissions"]
        assert set(subs["unit_id"]) == want["units"]
        assert set(subs["inspection_id"]) <= set(scope.inspection_ids)
        steps = _rows(box, "SELECT * FROM rectify_steps")
        assert set(steps["submission_id"]) == want["submissions"]
        assert steps.height == 2 * len(want["submissions"])
        assert set(steps["unit_id"]) == want["units"]
        evidence = _rows(box, "SELECT * FROM submission_evidence")
        assert set(evidence["submission_id"]) == want["submissions"]
        files = _rows(box, "SELECT * FROM evidence_files")
        assert set(files["sha256"]) == set(evidence["sha256"])
        assert files.height == len(want["submissions"]) + 1  # its own, and the shared one
        # Who first uploaded the shared file (another unit's liaison) is not shown.
        assert set(files["added_by"]) <= want["submitters"]
        notices = _rows(box, "SELECT * FROM notices")
        assert set(notices["unit_id"]) == want["units"]
        assert "recipients" not in notices.columns
        items = _rows(box, "SELECT * FROM notice_items")
        assert set(items["notice_id"]) == set(notices["notice_id"])
        assert set(items["measure_id"]) <= want["measures"]
        # A notice to a unit in scope lists its measures of every round; those of rounds
        # outside the scope are not copied.
        assert items.height < want["total"]["notice_items"]
        tables = set(_rows(box, "SELECT table_name FROM duckdb_tables()")["table_name"])
        assert "contacts" not in tables
        text = " ".join(
            str(v)
            for t in sorted(tables)
            for row in _rows(box, f'SELECT * FROM "{t}"').rows()
            for v in row
        )
        assert "@example.org" not in text
    finally:
        box.close()


def test_a_row_whose_round_or_unit_disagrees_with_its_inspection_is_not_copied(
    real: Store, tmp_path: Path
) -> None:
    """The round and unit a submission or step names are checked too, not only its measure:
    a row that names a measure in scope and another unit (a writer's mistake) stays out."""
    target = tmp_path / "copy"
    shutil.copytree(real.root, target, ignore=shutil.ignore_patterns("*.lock", "sandboxes"))
    store = Store(target)
    reader = open_reader(store)
    try:
        who = UserStore(store.root).access_for("u_group")
        scope = resolve_scope(reader, Filters(as_of=AS_OF), access=who)
    finally:
        reader.close()
    inside = min(scope.inspection_ids)

    def wrong_rows(con: Any) -> None:
        con.execute(
            """
            INSERT INTO rectify_submissions (submission_id, measure_id, finding_id,
                inspection_id, round_id, unit_id, kind, status, submitted_by, submitted_at,
                submitted_on, batch_id)
            SELECT 90001, s.measure_id, s.finding_id, s.inspection_id, s.round_id, o.unit_id,
                   'progress', 'IN_PROGRESS', 'lx_wrong', TIMESTAMP '2026-10-02 09:00:00',
                   DATE '2026-10-02', 1
            FROM rectify_submissions s, (SELECT min(unit_id) AS unit_id FROM units) o
            WHERE s.inspection_id = $inside
            """,
            {"inside": inside},
        )
        con.execute(
            """
            INSERT INTO rectify_steps (step_id, submission_id, measure_id, round_id, unit_id,
                step, state, actor, actor_role, acted_at, step_date, batch_id)
            SELECT 90001, submission_id, measure_id, round_id, unit_id + 1, 'return',
                   'returned', 'reviewer', 'group', TIMESTAMP '2026-10-03 09:00:00',
                   DATE '2026-10-03', 1
            FROM rectify_submissions WHERE inspection_id = $inside AND submission_id <> 90001
            """,
            {"inside": inside},
        )

    store.write(wrong_rows)
    box = Sandbox.for_scope(store, scope, clue_details=False, cache=False)
    try:
        subs = _rows(box, "SELECT submission_id FROM rectify_submissions")["submission_id"]
        steps = _rows(box, "SELECT step_id FROM rectify_steps")["step_id"]
    finally:
        box.close()
    assert len(subs) > 0 and 90001 not in subs.to_list()
    assert len(steps) > 0 and 90001 not in steps.to_list()


def test_the_whole_stores_sandbox_holds_every_rectification_row_but_no_contact(
    real: Store,
) -> None:
    reader = open_reader(real)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
    finally:
        reader.close()
    want = _expected(real, scope.inspection_ids)
    box = Sandbox.for_scope(real, scope, clue_details=True, cache=False)
    try:
        for table in ("rectify_submissions", "rectify_steps", "notices", "notice_items"):
            n = _rows(box, f"SELECT count(*) AS n FROM {table}")["n"][0]
            assert n == want["total"][table], table
        shared = _rows(box, "SELECT added_by FROM evidence_files WHERE sha256 = sha256('shared')")
        assert shared["added_by"].to_list() == [want["shared_by"]]
        tables = set(_rows(box, "SELECT table_name FROM duckdb_tables()")["table_name"])
        assert "contacts" not in tables and "clues" in tables
        comment = _rows(
            box, "SELECT comment FROM duckdb_columns() WHERE table_name = 'evidence_files'"
            " AND column_name = 'added_by'"
        )["comment"][0]  # fmt: skip
        assert "查询范围内" in comment
    finally:
        box.close()


def test_a_category_filter_narrows_the_rectification_rows_like_the_findings(real: Store) -> None:
    reader = open_reader(real)
    try:
        scope = resolve_scope(reader, Filters(category_l1=("A",), as_of=AS_OF))
    finally:
        reader.close()
    box = Sandbox.for_scope(real, scope, clue_details=False, cache=False)
    try:
        measures = set(_rows(box, "SELECT measure_id FROM measures")["measure_id"])
        subs = _rows(box, "SELECT measure_id FROM rectify_submissions")
        items = _rows(box, "SELECT measure_id FROM notice_items")
    finally:
        box.close()
    assert subs.height > 0
    assert set(subs["measure_id"]) <= measures and set(items["measure_id"]) <= measures
    assert subs.height < _expected(real, scope.inspection_ids)["total"]["rectify_submissions"]


def test_a_version_without_the_rectification_tables_still_gives_a_sandbox(
    demo_store: Store, tmp_path: Path
) -> None:
    """A version written before migration 5 (the tables dropped here, as older code wrote
    it) is read as it is: its sandbox has no rectification tables and no error."""
    target = tmp_path / "old"
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    store = Store(target)
    path = store.file_for(store.version())
    import duckdb

    con = duckdb.connect(str(path))
    try:
        for table in ("notice_items", "notices", "contacts", "submission_evidence",
                      "evidence_files", "rectify_steps", "rectify_submissions"):  # fmt: skip
            con.execute(f"DROP TABLE {table}")
    finally:
        con.close()
    reader = open_reader(store)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
    finally:
        reader.close()
    box = Sandbox.for_scope(store, scope, clue_details=False, cache=False)
    try:
        tables = set(_rows(box, "SELECT table_name FROM duckdb_tables()")["table_name"])
    finally:
        box.close()
    assert "findings" in tables and not tables & {"rectify_submissions", "notices"}


def test_the_sandbox_never_lists_a_table_it_does_not_copy() -> None:
    assert "contacts" not in sandbox_build.TABLE_ORDER
    for table, *_ in sandbox_build._RECTIFY_COPIES:
        assert table in sandbox_build.TABLE_ORDER
