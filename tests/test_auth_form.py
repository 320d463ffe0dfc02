"""The built-in login form counts failures per client address too, and records each with the
address and the name typed: also when the client reaches the dashboard through the loopback
address (a reverse proxy, or the machine itself), where Streamlit gives no address at all. The
address a proxy names is believed only when XUNCHA_TRUSTED_CLIENT_HEADER says which header it
is, and only from a loopback connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from tests.builders import real_copy
from xuncha import audit
from xuncha.auth import AuthError, UserStore, client_address
from xuncha.auth.users import CLIENT_FAILURES
from xuncha.store import Store

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "Xuncha-Test-2026"
WRONG = "Wrong-Password-99"


@pytest.fixture()
def real(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    target = tmp_path / "store"
    store, users = real_copy(demo_store, target)
    users.add_user("u_office", "office", actor="test", password=PASSWORD)
    monkeypatch.setenv("XUNCHA_DB", str(target))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    monkeypatch.delenv("XUNCHA_TRUSTED_CLIENT_HEADER", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield store
    st.cache_data.clear()
    st.cache_resource.clear()


def submit(at: AppTest, name: str, password: str) -> None:
    at.text_input(key="login_name").set_value(name)
    at.text_input(key="login_password").set_value(password)
    at.button[0].click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_failures_through_the_loopback_lock_that_address_out_on_the_form(real: Store) -> None:
    """Twenty failures under twenty names (no name reaches its own limit) from 127.0.0.1:
    the address is locked out, the right password included, and every failure is in the
    audit trail with its address and the name typed."""
    users = UserStore(real.root, hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    for i in range(CLIENT_FAILURES - 1):
        assert not users.authenticate(f"guess{i}", WRONG, client="127.0.0.1").ok
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    submit(at, "guess-last", WRONG)
    assert any("登录失败次数过多" in e.value for e in at.error)
    submit(at, "u_office", PASSWORD)
    assert any("登录失败次数过多" in e.value for e in at.error)
    assert [t.value for t in at.title] == ["巡察数据驾驶舱"]  # still the login page

    entries = audit.entries(real.root)
    failed = [e for e in entries if e.action == "login_failed" and e.user == "guess-last"]
    assert len(failed) == 1
    assert failed[0].details["client"] == "127.0.0.1"
    assert failed[0].details["name"] == "guess-last"
    assert failed[0].details["locked_for"] > 0
    throttled = [e for e in entries if e.action == "login_throttled"]
    assert throttled and throttled[-1].details == {
        "name": "u_office",
        "client": "127.0.0.1",
        "retry_after": throttled[-1].details["retry_after"],
    }
    assert not [e for e in entries if e.action == "login" and e.user == "u_office"]


def test_a_failure_on_the_form_is_recorded_with_its_address_and_name(real: Store) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    submit(at, "U_Office", WRONG)
    assert any("用户名或密码错误" in e.value for e in at.error)
    failed = [e for e in audit.entries(real.root) if e.action == "login_failed"]
    assert [(e.user, e.details["name"], e.details["client"]) for e in failed] == [
        ("u_office", "u_office", "127.0.0.1")
    ]
    assert failed[0].details["cause"] == "wrong_password"


def test_the_client_address_comes_from_a_proxys_header_only_when_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forwarded = {"X-Real-IP": "10.1.2.3", "X-Forwarded-For": "198.51.100.7, 10.9.9.9"}
    monkeypatch.delenv("XUNCHA_TRUSTED_CLIENT_HEADER", raising=False)
    assert client_address("10.0.0.5", forwarded) == "10.0.0.5"
    assert client_address(None, forwarded) == "127.0.0.1"  # a header nobody trusts
    assert client_address("::1") == "127.0.0.1"

    monkeypatch.setenv("XUNCHA_TRUSTED_CLIENT_HEADER", "X-Real-IP")
    assert client_address(None, forwarded) == "10.1.2.3"
    assert client_address(None, {"x-real-ip": "fe80::1"}) == "fe80::1"
    # A client that connects directly is never believed, whatever it sends.
    assert client_address("203.0.113.9", forwarded) == "203.0.113.9"
    # Not an address: the connection's own.
    for bad in ("", "unknown", "10.1.2.3; rm -rf /", "<script>"):
        assert client_address(None, {"X-Real-IP": bad}) == "127.0.0.1", bad

    monkeypatch.setenv("XUNCHA_TRUSTED_CLIENT_HEADER", "X-Forwarded-For")
    assert client_address(None, forwarded) == "10.9.9.9"  # the address the proxy appended
    monkeypatch.setenv("XUNCHA_TRUSTED_CLIENT_HEADER", "X Real IP")
    with pytest.raises(AuthError, match="XUNCHA_TRUSTED_CLIENT_HEADER"):
        client_address(None, forwarded)
