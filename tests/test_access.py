"""Who may see what, through the real pages (AppTest), the SQL sandbox, briefings and the
command line, on a real (non-demo) store: without a login only the login page; each role sees
its pages and nothing else; a 巡察组 user sees only its rounds and units everywhere, including
when it tries SQL on other rounds; sessions end when idle; every refusal is audited."""

from __future__ import annotations

import io
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.builders import real_copy, unit_names
from tests.conftest import AS_OF
from xuncha import audit, cli
from xuncha.auth import Access, UserStore
from xuncha.filters import Filters, resolve_scope
from xuncha.sandbox import Sandbox
from xuncha.store import Store, open_reader

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "Xuncha-Test-2026"
ROUND = "十四届市委第六轮巡察"
GROUP_UNITS = ("市统计局", "市应急管理局")
OTHER_UNIT = "市公安局"  # inspected in the same round, outside the group's scope
ROLES = ("admin", "leader", "office", "group", "case", "viewer", "auditor")
DATA_PAGES = {
    "pages/attention.py": "关注事项",
    "pages/overview.py": "总览",
    "pages/compare.py": "对比分析",
    "pages/distribution.py": "问题分布",
    "pages/progress.py": "整改进度",
    "pages/repeats.py": "屡查屡犯",
    "pages/ecology.py": "政治生态研判",
}
# Which titled pages each role reaches (besides the data pages, which all roles but the
# auditor see).
EXTRA = {
    "pages/briefing.py": ("领导简报", {"admin", "leader", "office", "group", "case"}),
    "pages/sql_console.py": ("数据查询", {"admin", "leader", "office", "group", "case"}),
    "pages/ledger_import.py": ("数据导入", {"office"}),
    "pages/ecology_config.py": ("研判配置", {"admin"}),
    "pages/admin.py": ("用户管理", {"admin"}),
    "pages/audit_log.py": ("审计日志", {"admin", "auditor"}),
}


@pytest.fixture()
def real(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A copy of the demo data marked as a real store, with one user per role."""
    target = tmp_path / "store"
    store, users = real_copy(demo_store, target)
    for role in ROLES:
        scope = {"rounds": [ROUND], "units": list(GROUP_UNITS)} if role == "group" else {}
        users.add_user(f"u_{role}", role, actor="test", password=PASSWORD, **scope)
    monkeypatch.setenv("XUNCHA_DB", str(target))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield store
    st.cache_data.clear()
    st.cache_resource.clear()


def signed_in(store: Store, role: str, page: str | None = None, **state: object) -> AppTest:
    users = UserStore(store.root)
    token = users.start_session(users.access_for(f"u_{role}"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["_token"] = token
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def reach(at: AppTest, page: str) -> list[str]:
    """Open `page`; the titles shown, or [] when the page is not registered for this user."""
    try:
        at.switch_page(page)
    except ValueError as exc:
        assert "Could not find a navigation page" in str(exc)
        return []
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return titles(at)


def test_a_real_store_without_login_shows_only_the_login_page(real: Store) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert titles(at) == ["巡察数据驾驶舱"]
    assert [t.label for t in at.text_input] == ["用户名", "密码"]
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")
    for page in (*DATA_PAGES, *EXTRA):
        # No page is even registered before a login.
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)


def test_the_login_form_refuses_a_wrong_password_and_admits_the_right_one(real: Store) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input(key="login_name").set_value("u_office")
    at.text_input(key="login_password").set_value("wrong-password-1")
    at.button[0].click()
    at.run()
    assert any("用户名或密码错误" in e.value for e in at.error)
    assert titles(at) == ["巡察数据驾驶舱"]
    at.text_input(key="login_name").set_value("u_office")
    at.text_input(key="login_password").set_value(PASSWORD)
    at.button[0].click()
    at.run()
    assert not at.exception
    assert titles(at) == ["关注事项"]
    actions = [(e.user, e.action) for e in audit.entries(real.root)]
    assert ("u_office", "login_failed") in actions or ("u_office", "login_failed") in [
        (e.details.get("name"), e.action) for e in audit.entries(real.root)
    ]
    assert ("u_office", "login") in actions
    assert ("u_office", "page_view") in actions
    assert "Xuncha-Test-2026" not in audit.audit_path(real.root).read_text(encoding="utf-8")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_its_pages_and_no_others(real: Store, role: str) -> None:
    at = signed_in(real, role)
    for page, title in DATA_PAGES.items():
        shown = reach(at, page)
        if role == "auditor":
            assert title not in shown, (role, page)
        else:
            assert shown[:1] == [title], (role, page)
    for page, (title, allowed) in EXTRA.items():
        shown = reach(at, page)
        assert (shown[:1] == [title]) == (role in allowed), (role, page, shown)


def test_a_viewer_gets_no_export_buttons(real: Store) -> None:
    at = signed_in(real, "viewer", "pages/progress.py")
    assert titles(at)[0] == "整改进度"
    assert any("无导出权限" in c.value for c in at.caption)
    assert not at.get("download_button")
    office = signed_in(real, "office", "pages/progress.py")
    assert office.get("download_button")


def metrics_json(store: Store, *args: str) -> dict[str, object]:
    out = io.StringIO()
    with redirect_stdout(out):
        assert (
            cli.main(["metrics", "--db", str(store.root), "--as-of", AS_OF.isoformat(), *args]) == 0
        )
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


def test_a_group_user_sees_only_its_rounds_and_units_on_the_pages(real: Store) -> None:
    at = signed_in(real, "group")  # the first screen; app.py draws the sidebar
    assert len(at.sidebar.multiselect(key="f_unit").options) == len(GROUP_UNITS)
    expected = metrics_json(
        real, "--round", ROUND, *[a for u in GROUP_UNITS for a in ("--unit", u)]
    )
    shown = {m.label: m.value for m in at.metric}
    assert shown["发现问题"] == f"{expected['findings']:,}"
    assert shown["整改完成率"] == f"{expected['completion_rate']:.2f}%"
    # The same numbers through the command line as that user.
    assert metrics_json(real, "--user", "u_group") == expected


def test_a_group_users_sql_reaches_no_other_round_or_unit(
    real: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = open_reader(real)
    try:
        who = UserStore(real.root).access_for("u_group")
        scope = resolve_scope(reader, Filters(as_of=AS_OF), access=who)
        everything = resolve_scope(reader, Filters(as_of=AS_OF), access=Access.system())
        units = reader.query("units_list")
        other = int(units.filter(units["short_name"] == OTHER_UNIT)["unit_id"][0])
    finally:
        reader.close()
    assert 0 < len(scope.inspection_ids) == len(GROUP_UNITS) < len(everything.inspection_ids)
    box = Sandbox.for_scope(real, scope, clue_details=False, cache=False)
    seen = box.run("SELECT count(DISTINCT unit_id) AS n FROM findings", user="u_group")
    assert seen.frame["n"][0] == len(GROUP_UNITS)
    attempt = box.run(f"SELECT count(*) AS n FROM findings WHERE unit_id = {other}", user="u_group")
    assert attempt.frame["n"][0] == 0
    attempt = box.run("SELECT count(DISTINCT round_id) AS n FROM inspections", user="u_group")
    assert attempt.frame["n"][0] == 1
    # And through the command line as that user.
    capsys.readouterr()
    code = cli.main(
        ["sql", "SELECT count(DISTINCT unit_id) AS n FROM findings", "--db", str(real.root),
         "--user", "u_group", "--format", "json"]
    )  # fmt: skip
    assert code == 0 and json.loads(capsys.readouterr().out)["rows"] == [{"n": len(GROUP_UNITS)}]


def test_a_group_users_keyword_search_finds_only_its_own_findings(real: Store) -> None:
    con = real.connect()
    try:
        titles = [t for (t,) in con.execute("SELECT title FROM findings").fetchall()]
    finally:
        con.close()
    word = Counter(t[i : i + 2] for t in titles for i in range(len(t) - 1)).most_common(1)[0][0]
    at = signed_in(real, "group", "pages/distribution.py")
    at.text_input(key="dist_search").set_value(word).run()
    assert not at.exception, [e.value for e in at.exception]
    found = [d.value for d in at.dataframe if "具体问题" in d.value.columns][-1]
    assert len(found) > 0 and set(unit_names(found["单位"])) <= set(GROUP_UNITS)
    assert set(found["轮次"]) == {ROUND}
    # Everyone else's findings hold the word too: the scope, not the data, narrowed it.
    admin = signed_in(real, "admin", "pages/distribution.py")
    admin.text_input(key="dist_search").set_value(word).run()
    everyone = [d.value for d in admin.dataframe if "具体问题" in d.value.columns][-1]
    assert not set(unit_names(everyone["单位"])) <= set(GROUP_UNITS)


def test_a_group_users_ecology_scores_are_everyones(real: Store) -> None:
    """Scores are computed on the whole peer population and shown for the user's units."""

    def ecology(*extra: str) -> dict[str, dict[str, object]]:
        out = io.StringIO()
        with redirect_stdout(out):
            assert cli.main(
                ["ecology", "--db", str(real.root), "--round", ROUND, "--as-of",
                 AS_OF.isoformat(), *extra]
            ) == 0  # fmt: skip
        return {u["unit"]: u for u in json.loads(out.getvalue())["units"]}

    everyone = ecology()
    mine = ecology("--user", "u_group")
    assert set(mine) == set(GROUP_UNITS)
    for unit in GROUP_UNITS:
        assert mine[unit]["score"] == everyone[unit]["score"]
        assert mine[unit]["peer_rank"] == everyone[unit]["peer_rank"]


def test_a_group_users_briefing_names_only_its_units(real: Store, tmp_path: Path) -> None:
    out = tmp_path / "group.docx"
    code = cli.main(
        ["briefing", "--db", str(real.root), "--round", ROUND, "--as-of", AS_OF.isoformat(),
         "--out", str(out), "--user", "u_group"]
    )  # fmt: skip
    assert code == 0
    import docx

    document = docx.Document(str(out))
    text = "\n".join(p.text for p in document.paragraphs) + "\n".join(
        c.text for t in document.tables for r in t.rows for c in r.cells
    )
    assert f"共对{len(GROUP_UNITS)}个单位" in text
    assert OTHER_UNIT not in text
    assert all(u in text for u in GROUP_UNITS)


@pytest.mark.parametrize(
    ("user", "argv"),
    [
        ("u_viewer", ["sql", "SELECT 1"]),
        ("u_viewer", ["briefing", "--round", ROUND, "--out", "x.docx"]),
        ("u_auditor", ["metrics"]),
        ("u_leader", ["rollback", "1"]),
        ("u_group", ["sql", "SELECT 1", "--clue-details"]),
    ],
)
def test_the_command_line_refuses_what_the_role_may_not_do(
    real: Store, user: str, argv: list[str]
) -> None:
    before = len(audit.entries(real.root))
    assert cli.main([*argv, "--db", str(real.root), "--user", user]) == 1
    assert len(audit.entries(real.root)) > before or "--clue-details" in argv


def test_only_case_staff_see_clue_details_in_sql(real: Store) -> None:
    case = signed_in(real, "case", "pages/sql_console.py")
    office = signed_in(real, "office", "pages/sql_console.py")

    def schema_text(at: AppTest) -> str:
        return " ".join(e.value for e in (*at.markdown, *at.caption) if isinstance(e.value, str))

    assert "clue_counts" not in schema_text(case) or "clues" in schema_text(case)
    assert any("线索只提供条数" in c.value for c in (*office.caption, *office.markdown))
    assert not any("线索只提供条数" in c.value for c in (*case.caption, *case.markdown))


def test_an_administrator_previews_a_group_users_scope(real: Store) -> None:
    at = signed_in(real, "admin", _preview_as="u_group")
    assert any("正在以" in w.value and "巡察组" in w.value for w in at.warning)
    assert len(at.sidebar.multiselect(key="f_unit").options) == len(GROUP_UNITS)
    entries = [e for e in audit.entries(real.root) if e.action == "page_view"]
    assert entries[-1].user == "u_admin" and entries[-1].details["preview_as"] == "u_group"


def test_an_idle_session_ends_and_asks_for_login_again(
    real: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XUNCHA_IDLE_MINUTES", "1")
    at = signed_in(real, "office")
    assert titles(at) == ["关注事项"]
    # Away for five minutes: the session's last activity moved back, not a sleep.
    con = sqlite3.connect(real.root / "auth" / "users.sqlite")
    try:
        with con:
            con.execute("UPDATE sessions SET last_seen = last_seen - 300 WHERE ended_at IS NULL")
    finally:
        con.close()
    at.session_state["_checked"] = 0.0  # the re-check is due (it runs at most every 0.5 s)
    at.run()
    assert titles(at) == ["巡察数据驾驶舱"]
    assert any("长时间无操作" in i.value for i in at.info)
    assert "logout_timeout" in [e.action for e in audit.entries(real.root)]


def test_the_auditor_sees_the_verified_trail(real: Store) -> None:
    at = signed_in(real, "auditor", "pages/audit_log.py")
    assert titles(at) == ["审计日志"]
    assert any("哈希链校验通过" in s.value for s in at.success)
    assert at.dataframe and at.dataframe[0].value.shape[0] > 0


def test_ecology_on_the_command_line_hides_clue_counts_without_clue_rights(
    real: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    def clue_items(user: str) -> list[dict[str, object]]:
        capsys.readouterr()
        argv = ["ecology", "--db", str(real.root), "--round", ROUND, "--user", user]
        assert cli.main(argv) == 0
        units = json.loads(capsys.readouterr().out)["units"]
        return [i for u in units for i in u["indicators"] if i["key"] == "clue_density"]

    hidden = clue_items("u_leader")
    assert hidden and all(i["numerator"] is None and i["raw_value"] is None for i in hidden)
    shown = clue_items("u_case")
    assert any(i["numerator"] is not None for i in shown)
    assert audit.entries(real.root)[-1].action == "cli_query"
