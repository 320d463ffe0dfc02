"""预警提醒 through the real app (AppTest) on a copy of the demo data marked real: a unit's
liaison sees its own unit's notices and no other's (and is told at sign-in), the inspection
office issues the day's notices from the page and is told that nothing is e-mailed without a
mail server, and each document is offered through the scope check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.builders import real_copy
from tests.test_rectify_pages import nav_titles, rows, signed_in
from xuncha.rectify import mail, notices
from xuncha.store import Store
from xuncha.ui import rectify

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "Xuncha-Test-2026"
UNIT = "市住建局"
PAGE = "pages/notices.py"


@pytest.fixture()
def real(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    target = tmp_path / "store"
    store, users = real_copy(demo_store, target)
    users.add_user("u_liaison", "liaison", actor="test", password=PASSWORD, units=[UNIT])
    users.add_user("u_office", "office", actor="test", password=PASSWORD)
    users.add_user("u_leader", "leader", actor="test", password=PASSWORD)
    monkeypatch.setenv("XUNCHA_DB", str(target))
    monkeypatch.delenv(mail.ENV_HOST, raising=False)
    monkeypatch.delenv(mail.ENV_PORT, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    rectify.forget_visible()
    yield store
    st.cache_data.clear()
    st.cache_resource.clear()
    rectify.forget_visible()


def listed(at: AppTest) -> set[str]:
    frames = [d.value for d in at.dataframe if "文号" in d.value.columns]
    return set(frames[0]["文号"].tolist()) if frames else set()


def test_a_liaison_sees_its_units_notices_only_and_is_told_at_sign_in(real: Store) -> None:
    run = notices.issue_notices(real, dt.date.today())
    assert run.issued
    own = {
        str(n)
        for (n,) in rows(
            real,
            "SELECT n.doc_number FROM notices n JOIN units u USING (unit_id)"
            " WHERE u.short_name = ? OR u.name = ?",
            [UNIT, UNIT],
        )
    }
    others = {n.doc_number for n in run.issued} - own
    assert own and others
    at = signed_in(real, "u_liaison")
    assert f"预警提醒（{len(own)}）" in nav_titles(at)
    assert any(str(len(own)) in t.value and "预警提醒" in t.value for t in at.toast)
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert listed(at) == own
    assert at.get("download_button"), "the picked document is offered"
    # A second run of the same session says nothing more.
    at.run()
    assert not at.toast


def test_the_office_issues_the_days_notices_and_is_told_nothing_is_mailed(real: Store) -> None:
    at = signed_in(real, "u_office", PAGE)
    assert any("未配置邮件服务器" in c.value for c in at.caption)
    at.button(key="notices_issue").click().run()
    assert not at.exception, [e.value for e in at.exception]
    issued = rows(real, "SELECT kind, count(*) FROM notices GROUP BY ALL")
    assert issued, "the day's notices were issued"
    counts = dict(issued)
    message = next(s.value for s in at.success)
    assert f"督办函 {counts.get('督办函', 0)} 份" in message and "未通过邮件发送" in message
    # The office's list: every 督办函 (and what it is addressed to).
    supervision = {
        str(n) for (n,) in rows(real, "SELECT doc_number FROM notices WHERE kind = '督办函'")
    }
    assert supervision <= listed(at)
    # Issuing the same day again issues nothing new.
    at.button(key="notices_issue").click().run()
    assert rows(real, "SELECT count(*) FROM notices") == [(sum(counts.values()),)]


def test_a_leader_addressed_by_no_notice_sees_none(real: Store) -> None:
    notices.issue_notices(real, dt.date.today())
    at = signed_in(real, "u_leader", PAGE)
    assert not at.exception
    assert listed(at) == set()
    assert any("没有发给您的" in i.value for i in at.info)
