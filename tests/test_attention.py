"""关注事项 (the first screen): its counts are the figures of the pages it links to, for the same
filters and date; its KPI changes are overview(now) − overview(then); a scoped user sees only
their units; it renders for each role and fits a tablet screen."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from playwright.sync_api import Browser
from streamlit.testing.v1 import AppTest

from tests.builders import real_copy, serving
from tests.conftest import AS_OF
from tests.test_pages import APP, open_page
from xuncha import figures
from xuncha.auth import UserStore
from xuncha.figures import attention
from xuncha.figures.periods import PeriodRule, round_periods
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Reader, Store, open_reader

PASSWORD = "Xuncha-Test-2026"
SUPERVISED = ("市统计局", "市应急管理局")
CASES = {
    "all": Filters(as_of=AS_OF),
    "peer": Filters(peer_groups=("市直部门",), as_of=AS_OF),
    "earlier": Filters(round_to=7, as_of=dt.date(2025, 6, 30)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_cards_are_the_figures_of_the_pages_they_link_to(
    demo_reader: Reader, case: str
) -> None:
    scope = resolve_scope(demo_reader, CASES[case])
    warn = attention.warnings(demo_reader, scope)
    # 整改进度's 督办清单: its colour counts and the first rows of its list.
    counts = demo_reader.query("measures_supervision_counts", scope.params()).row(0, named=True)
    assert (warn.red, warn.yellow) == (counts["red"], counts["yellow"])
    listed = demo_reader.query("measures_supervision", scope.params(kinds=None, limit=None))
    assert warn.red == listed.filter(pl.col("warning") == "红").height
    red = listed.filter(pl.col("warning") == "红").head(attention.TOP)
    assert warn.top_red["measure_id"].to_list() == red["measure_id"].to_list()
    yellow = listed.filter(pl.col("warning") == "黄").head(attention.TOP)
    assert warn.top_yellow["measure_id"].to_list() == yellow["measure_id"].to_list()
    # 屡查屡犯: the 反弹 card and the units with a 反弹 in its unit table.
    rebound = attention.rebounds(demo_reader, scope)
    total = figures.rectification(demo_reader, scope, "all", cycle_median=False)
    assert rebound.rebound_findings == total["rebound_findings"][0]
    by_unit = figures.rectification(demo_reader, scope, "unit", cycle_median=False)
    with_rebound = by_unit.filter(pl.col("rebound_findings") > 0)
    assert sorted(rebound.units["group_key"].to_list()) == sorted(
        with_rebound["group_key"].to_list()
    )
    assert rebound.units["rebound_findings"].sum() == rebound.rebound_findings
    # periods: every round not finished by the date, ending within the horizon.
    rule = PeriodRule()
    periods = round_periods(demo_reader, scope.ids_param(), scope.as_of, rule)
    open_rounds = periods.filter(~pl.col("finished"))
    everything = attention.rounds_ending(demo_reader, scope, rule, None)
    assert sorted(everything["round_id"].to_list()) == sorted(open_rounds["round_id"].to_list())
    for days in (30, 400):
        near = attention.rounds_ending(demo_reader, scope, rule, days)
        expected = open_rounds.filter(pl.col("period_end") <= scope.as_of + dt.timedelta(days=days))
        assert sorted(near["round_id"].to_list()) == sorted(expected["round_id"].to_list())
        assert all(d >= 0 for d in near["days_left"].to_list())


def test_the_comparisons_are_not_vacuous(demo_reader: Reader) -> None:
    """The demo data has red and yellow measures, rebounds and a round in its period."""
    scope = resolve_scope(demo_reader, CASES["all"])
    warn = attention.warnings(demo_reader, scope)
    assert warn.red > 0 and warn.yellow > 0 and warn.top_red.height == attention.TOP
    assert attention.rebounds(demo_reader, scope).unit_count > 1
    assert not attention.rounds_ending(demo_reader, scope, PeriodRule(), 400).is_empty()


def test_new_findings_are_the_growth_of_the_overview_count(demo_reader: Reader) -> None:
    scope = resolve_scope(demo_reader, CASES["all"])
    since = dt.date(2026, 3, 1)
    new = attention.new_findings(demo_reader, scope, since)
    now = figures.overview(demo_reader, scope)["findings"]
    then = figures.overview(demo_reader, dataclasses.replace(scope, as_of=since))["findings"]
    assert (new.now, new.before, new.new) == (now, then, now - then)
    assert new.new > 0
    assert new.by_round["new"].sum() == new.new
    assert new.by_category["new"].sum() == new.new
    assert new.by_category["l1_name"].null_count() == 0


def test_the_since_date_is_the_latest_briefing_before_the_date_else_thirty_days() -> None:
    day = dt.date(2026, 11, 20)
    briefings = [dt.date(2026, 6, 30), dt.date(2026, 9, 30), dt.date(2026, 12, 31)]
    assert attention.default_since(day, briefings) == dt.date(2026, 9, 30)
    assert attention.default_since(day, []) == day - dt.timedelta(days=30)


@pytest.mark.parametrize("earlier", [dt.date(2025, 6, 30), dt.date(2026, 3, 1)])
def test_the_kpi_change_is_the_overview_now_minus_then(
    demo_reader: Reader, earlier: dt.date
) -> None:
    scope = resolve_scope(demo_reader, CASES["all"])
    now = figures.overview(demo_reader, scope)
    then = figures.overview(demo_reader, dataclasses.replace(scope, as_of=earlier))
    changes = attention.kpi_changes(now, then)
    for key in ("rounds", "findings", "measures", "overdue_measures", "regulations"):
        assert changes[key].diff == now[key] - then[key], key
    rate_now = figures.DEFINITIONS["completion_rate"].compute(now)
    rate_then = figures.DEFINITIONS["completion_rate"].compute(then)
    assert rate_now is not None and rate_then is not None
    assert changes["completion_rate"].diff == pytest.approx(rate_now - rate_then, abs=1e-9)
    diff = now["findings"] - then["findings"]
    assert diff > 0
    assert changes["findings"].text == f"▲ {diff:,}（此前 {then['findings']:,}）"
    rate = changes["completion_rate"]
    arrow = "▲" if rate_now > rate_then else "▼"
    assert rate.text == f"{arrow} {abs(rate_now - rate_then):.2f} 百分点（此前 {rate_then:.2f}%）"


# -- the page ----------------------------------------------------------------------------------


def numbers(text: str, pattern: str) -> int:
    found = re.search(pattern, text)
    assert found, (pattern, text)
    return int(found.group(1).replace(",", ""))


def page_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def test_the_page_shows_the_numbers_the_linked_pages_show(
    app_env: Store, whole_tables: None
) -> None:
    at = open_page("pages/attention.py")
    assert at.title[0].value == "关注事项"
    text = page_text(at)
    red = numbers(text, r"红 ([\d,]+) 条")
    yellow = numbers(text, r"黄 ([\d,]+) 条")
    rebound_units = numbers(text, r"反弹单位\*\*　([\d,]+) 个")
    rebound = numbers(text, r"反弹问题 ([\d,]+) 个")
    # Each card opens its page with the same filters in the URL.
    links = {link.proto.page: link.proto.query_string for link in at.get("page_link")}
    assert set(links) == {"progress", "repeats", "evaluation", "distribution"}, links
    assert all(q == f"asof={AS_OF.isoformat()}" for q in links.values()), links

    progress = open_page("pages/progress.py")
    caption = next(c.value for c in progress.caption if "所选预警共" in c.value)
    assert numbers(caption, r"红 ([\d,]+) 条") == red
    assert numbers(caption, r"黄 ([\d,]+) 条") == yellow

    repeats = open_page("pages/repeats.py")
    shown = {m.label: m.value for m in repeats.metric}
    assert int(shown["反弹问题（屡改屡犯）"].replace(",", "")) == rebound
    table = next(f.value for f in repeats.dataframe if "反弹问题" in f.value.columns)
    assert int((table["反弹问题"] > 0).sum()) == rebound_units


def test_the_cards_show_the_change_against_the_date_chosen(
    app_env: Store, demo_store: Store
) -> None:
    earlier = dt.date(2025, 6, 30)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["attn_baseline"] = "date"
    at.session_state["attn_baseline_date"] = earlier
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    reader = open_reader(demo_store)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
        expected = attention.kpi_changes(
            figures.overview(reader, scope),
            figures.overview(reader, dataclasses.replace(scope, as_of=earlier)),
        )
    finally:
        reader.close()
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas["发现问题"] == expected["findings"].text
    assert deltas["整改完成率"] == expected["completion_rate"].text
    assert deltas["逾期措施"] == expected["overdue_measures"].text
    assert "百分点" in deltas["整改完成率"]
    # The same on 总览, where a comparison is chosen the same way.
    at.switch_page("pages/overview.py")
    at.session_state["overview_baseline"] = "date"
    at.session_state["overview_baseline_date"] = earlier
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas["发现问题"] == expected["findings"].text
    assert deltas["巡察轮次"] == expected["rounds"].text
    assert deltas["整改完成率"] == expected["completion_rate"].text


# -- roles and scope ---------------------------------------------------------------------------


@pytest.fixture()
def real(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:

    store, users = real_copy(demo_store, tmp_path / "store")
    for role in ("office", "leader"):
        users.add_user(f"u_{role}", role, actor="test", password=PASSWORD)
    users.add_user(
        "u_supervisor", "supervisor", actor="test", password=PASSWORD, units=list(SUPERVISED)
    )
    with serving(store, monkeypatch):
        yield store


def signed_in(store: Store, name: str) -> AppTest:
    users = UserStore(store.root)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["_token"] = users.start_session(users.access_for(name))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("name", ["u_office", "u_leader", "u_supervisor"])
def test_the_first_screen_after_sign_in_is_attention_for_each_role(real: Store, name: str) -> None:
    at = signed_in(real, name)
    assert [t.value for t in at.title] == ["关注事项"]
    assert len(at.metric) == 4
    assert len(at.get("page_link")) == 4


def test_a_supervisor_sees_only_their_units(real: Store) -> None:
    users = UserStore(real.root)
    who = users.access_for("u_supervisor")
    reader = open_reader(real)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF), access=who)
        everyone = resolve_scope(reader, Filters(as_of=AS_OF))
        units = reader.query("units_list")
        names = set(units["short_name"].to_list())
        mine = {n for n in names if n in SUPERVISED}
        assert len(mine) == len(SUPERVISED)
        warn = attention.warnings(reader, scope)
        rebound = attention.rebounds(reader, scope)
        seen = set(warn.top_red["unit_name"]) | set(warn.top_yellow["unit_name"])
        seen |= set(rebound.units["group_key"])
        assert seen and seen <= mine
        all_warn = attention.warnings(reader, everyone)
        assert warn.red < all_warn.red
        counts = reader.query("measures_supervision_counts", scope.params()).row(0, named=True)
        assert warn.red == counts["red"]
    finally:
        reader.close()
    at = signed_in(real, "u_supervisor")
    text = page_text(at)
    assert numbers(text, r"红 ([\d,]+) 条") == warn.red
    others = names - mine
    assert not [n for n in others if n in text]


# -- one tablet screen -------------------------------------------------------------------------


@pytest.mark.browser
def test_attention_fits_one_tablet_screen(
    browser: Browser, demo_store: Store, tmp_path: Any
) -> None:
    from tests.browser_support import shot

    with shot.serve(demo_store.root) as base:
        context = browser.new_context(
            **{**shot.CONTEXT_OPTIONS, "viewport": {"width": 820, "height": 1180}}
        )
        try:
            page = context.new_page()
            shot.open_page(page, base + f"/?asof={AS_OF.isoformat()}", title="关注事项", charts=0)
            page.get_by_test_id("stMetric").first.wait_for()
            page.get_by_test_id("stPageLink").nth(3).wait_for()
            main = page.evaluate(
                """() => {
                    const main = document.querySelector('[data-testid="stMain"]');
                    const body = document.querySelector('[data-testid="stMainBlockContainer"]');
                    return [main.scrollHeight, body.getBoundingClientRect().height,
                            window.innerHeight];
                }"""
            )
            scroll, content, viewport = main
            assert scroll <= viewport and content <= viewport, main
            page.screenshot(path=str(tmp_path / "attention_820.png"))
        finally:
            context.close()
