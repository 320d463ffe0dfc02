"""The page header's provenance and the watermark (issue 21, items 4, 8 and 9), in AppTest on a
copy of the demo store marked real: 数据更新至 and 最近导入 are the store's own latest dates (they
follow a later write), the data version is a number and never a digest, and every page carries
the viewer's name and the time in its watermark, with the stylesheet that keeps KPI values
whole and prints on A4 landscape. The browser side is tests/test_browser_layout.py."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.builders import real_copy
from tests.conftest import AS_OF
from xuncha.auth import UserStore
from xuncha.store import Store
from xuncha.ui import style

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "Xuncha-Test-2026"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture()
def real(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The demo data marked real (a login is needed), with a leader."""
    store, users = real_copy(demo_store, tmp_path / "store")
    users.add_user("林领导", "leader", actor="test", password=PASSWORD)
    monkeypatch.setenv("XUNCHA_DB", str(store.root))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield store
    st.cache_data.clear()
    st.cache_resource.clear()


def signed_in(store: Store, name: str, page: str | None = None) -> AppTest:
    users = UserStore(store.root)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["_token"] = users.start_session(users.access_for(name))
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def header(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("统计截至"))


def store_own(store: Store) -> tuple[dt.date, str]:
    """The latest status, step or feedback date, and the latest batch's time in Shanghai
    (stored as the server's local wall time), asked of the base tables directly."""
    con = store.connect()
    try:
        dates = [
            con.execute(f"SELECT max({column}) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table, column in [
                ("measure_status_history", "status_date"),
                ("rectify_steps", "step_date"),
                ("inspections", "feedback_date"),
            ]
        ]
        written = con.execute("SELECT max(created_at) FROM import_batches").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    return max(d for d in dates if d is not None), f"{written.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def the_watermark(at: AppTest) -> str:
    bodies = [h.proto.body for h in at.get("html") if "xc-watermark" in h.proto.body]
    assert len(bodies) == 1, "the stylesheet and watermark are sent once per run"
    return bodies[0]


# -- the header --------------------------------------------------------------------------------


def test_the_header_states_the_stores_own_freshness_beside_the_date(real: Store) -> None:
    at = signed_in(real, "林领导")
    through, written = store_own(real)
    text = header(at)
    assert text.startswith(f"统计截至 {AS_OF.isoformat()}（数据更新至 {through.isoformat()}，")
    assert f"最近导入 {written}）" in text


def test_a_scoped_reader_sees_the_freshness_of_its_own_units_only(real: Store) -> None:
    """数据更新至 of a reader confined to one unit is the latest event of that unit's
    inspections, asked of the base tables directly, and earlier than the store's: nothing of
    other units' activity is shown."""
    con = real.connect()
    try:
        unit, short = con.execute(  # type: ignore[misc]
            "SELECT u.unit_id, u.short_name FROM units u JOIN inspections i USING (unit_id)"
            " JOIN findings f USING (inspection_id) JOIN measures m USING (finding_id)"
            " JOIN measure_status_history h USING (measure_id)"
            " GROUP BY ALL ORDER BY max(h.status_date), u.unit_id LIMIT 1"
        ).fetchone()
        own = max(
            d
            for (d,) in con.execute(
                "SELECT max(h.status_date) FROM measure_status_history h"
                " JOIN measures USING (measure_id) JOIN findings f USING (finding_id)"
                " JOIN inspections i USING (inspection_id) WHERE i.unit_id = ?"
                " UNION ALL SELECT max(s.step_date) FROM rectify_steps s"
                " JOIN measures USING (measure_id) JOIN findings f USING (finding_id)"
                " JOIN inspections i USING (inspection_id) WHERE i.unit_id = ?"
                " UNION ALL SELECT max(feedback_date) FROM inspections WHERE unit_id = ?",
                [unit, unit, unit],
            ).fetchall()
            if d is not None
        )
    finally:
        con.close()
    UserStore(real.root).add_user(
        "周检查", "supervisor", actor="test", password=PASSWORD, units=[short]
    )
    through, _ = store_own(real)
    text = header(signed_in(real, "周检查"))
    assert own < through
    assert f"数据更新至 {own.isoformat()}，" in text


def test_the_header_follows_a_later_write(real: Store) -> None:
    """A later batch and a later status change move both figures: they are read from the
    data version, not remembered."""
    later = AS_OF + dt.timedelta(days=9)
    now = dt.datetime.now().replace(second=0, microsecond=0)

    def write(con: object) -> None:
        con.execute(  # type: ignore[attr-defined]
            "INSERT INTO import_batches (batch_id, kind, user_name, created_at, status)"
            " SELECT max(batch_id) + 1, 'ledger', 'test', ?, 'applied' FROM import_batches",
            [now],
        )
        con.execute(  # type: ignore[attr-defined]
            "INSERT INTO measure_status_history (history_id, measure_id, status, status_date,"
            " batch_id) SELECT max(history_id) + 1, min(measure_id), 'DONE', ?, max(batch_id)"
            " FROM measure_status_history",
            [later],
        )

    before = header(signed_in(real, "林领导"))
    real.write(write)
    st.cache_data.clear()
    st.cache_resource.clear()
    after = header(signed_in(real, "林领导"))
    through, written = store_own(real)
    assert through == later and f"数据更新至 {later.isoformat()}" in after
    assert (
        written == f"{now.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" and f"最近导入 {written}" in after
    )
    assert after != before


def test_the_header_names_the_data_version_by_its_number_never_a_digest(real: Store) -> None:
    text = header(signed_in(real, "林领导", "pages/progress.py"))
    assert re.search(r"数据版本 \d+$", text), text
    assert not re.search(r"[0-9a-f]{8,}", text), text


# -- the watermark and the stylesheet ------------------------------------------------------------


def test_the_page_carries_the_viewers_watermark(real: Store) -> None:
    """Sent by app.py before the page runs, so every page has it (AppTest keeps only what a
    switched-to page draws itself: the other pages are checked in tests/test_browser_layout.py)."""
    before = dt.datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    body = the_watermark(signed_in(real, "林领导"))
    after = dt.datetime.now(SHANGHAI)
    stamps = set(re.findall(r"<span>林领导 (\d{4}-\d\d-\d\d \d\d:\d\d)</span>", body))
    assert len(stamps) == 1, "every copy of the watermark says the same"
    shown = dt.datetime.strptime(stamps.pop(), "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
    assert before <= shown <= after
    assert body.count("<span>林领导 ") == style.WATERMARK_COPIES
    assert 'aria-hidden="true"' in body


def test_the_watermark_escapes_the_name() -> None:
    shown = style.watermark_html(style.watermark_text("<b>某</b>&"))
    assert "<b>" not in shown and "&lt;b&gt;某&lt;/b&gt;&amp;" in shown


def test_the_watermark_reads_the_clock_in_shanghai() -> None:
    utc = dt.datetime(2026, 11, 20, 18, 30, tzinfo=dt.UTC)
    assert style.watermark_text("甲", utc) == "甲 2026-11-21 02:30"


def rules(selector_part: str, css: str) -> list[str]:
    """The declaration blocks of the rules whose selector holds `selector_part`."""
    return [
        body
        for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)
        if selector_part in selectors
    ]


def test_the_stylesheet_keeps_values_whole_and_the_watermark_out_of_the_way() -> None:
    css = style.stylesheet()
    value = rules('[data-testid="stMetricValue"]', css)
    assert any("text-overflow: clip !important" in r and "white-space: normal" in r for r in value)
    assert any("clamp(" in r for r in value)
    assert any("pointer-events: none" in r for r in rules(".xc-watermark", css))


def test_the_print_stylesheet_is_a4_landscape_without_navigation_or_controls() -> None:
    css = style.stylesheet()
    assert re.search(r"@page\s*\{\s*size: A4 landscape;", css)
    printed = css[css.index("@media print") :]
    blocks = re.findall(r"([^{}]+)\{\s*display: none !important;\s*\}", printed)
    assert blocks
    for part in ("stSidebar", "stHeader", "stToolbar", "stButton", "stDownloadButton"):
        assert f'[data-testid="{part}"]' in blocks[0], part
    assert "break-inside: avoid" in printed
