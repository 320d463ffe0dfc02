"""One idle and one absolute limit for a session, whichever process checks it.

Behind nginx the gate starts sessions (with the limits of its own environment) and the
dashboard checks them again on every interaction of an open page (with the limits of its
environment, the defaults unless set there too). A session keeps the limits it was started
with and its last activity is one row of the user database, so the dashboard's check ends a
session the gate would end, and never extends it. The whole arrangement (nginx, gate,
dashboard, an open page's websocket) is in tests/test_proxy.py."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from xuncha import audit
from xuncha.auth import SessionEnded, UserStore

PASSWORD = "Correct-Horse-7"
START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, *, minutes: float = 0, hours: float = 0) -> None:
        self.now += minutes * 60 + hours * 3600


FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def store(root: Path, clock: Clock, *, idle_minutes: float, hours: float) -> UserStore:
    return UserStore(
        root,
        clock=clock,
        hasher=FAST,
        idle_timeout=dt.timedelta(minutes=idle_minutes),
        absolute_limit=dt.timedelta(hours=hours),
    )


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def gate(tmp_path: Path, clock: Clock) -> UserStore:
    """The gate's view of the store: XUNCHA_IDLE_MINUTES=2, XUNCHA_SESSION_HOURS=1."""
    users = store(tmp_path, clock, idle_minutes=2, hours=1)
    users.add_user("zhang", "leader", actor="setup", password=PASSWORD)
    return users


@pytest.fixture()
def dashboard(tmp_path: Path, clock: Clock, gate: UserStore) -> UserStore:
    """The dashboard's view of the same store, left at the defaults (15 minutes, 8 hours)."""
    return store(tmp_path, clock, idle_minutes=15, hours=8)


def login(users: UserStore) -> str:
    result = users.authenticate("zhang", PASSWORD, client="10.0.0.5")
    assert result.ok and result.access is not None
    return users.start_session(result.access, client="10.0.0.5")


def row(root: Path, token: str) -> sqlite3.Row:
    import hashlib

    con = sqlite3.connect(root / "auth" / "users.sqlite")
    con.row_factory = sqlite3.Row
    try:
        found: sqlite3.Row = con.execute(
            "SELECT * FROM sessions WHERE token_hash = ?",
            (hashlib.sha256(token.encode()).hexdigest(),),
        ).fetchone()
    finally:
        con.close()
    return found


def test_the_dashboard_ends_a_session_the_gate_would_end_as_idle(
    gate: UserStore, dashboard: UserStore, clock: Clock
) -> None:
    token = login(gate)
    # One last activity: the open page's interactions (the dashboard's checks) and the
    # gate's (a reload, a download) keep the session alive for both.
    for checker in (dashboard, gate, dashboard):
        clock.advance(minutes=1.5)
        assert checker.check_session(token).user == "zhang"
    clock.advance(minutes=3)  # idle 3 minutes: over the gate's 2, under the dashboard's 15
    with pytest.raises(SessionEnded) as ended:
        dashboard.check_session(token)
    assert ended.value.reason == "idle" and "2 分钟" in str(ended.value)
    # Not extended: the row still holds the last real activity, and the gate refuses too.
    assert row(gate.root, token)["last_seen"] == START + 3 * 90
    with pytest.raises(SessionEnded) as again:
        gate.check_session(token)
    assert again.value.reason == "idle"
    timeouts = [e for e in audit.entries(gate.root) if e.action == "logout_timeout"]
    assert len(timeouts) == 1 and timeouts[0].details["idle_minutes"] == 2


def test_the_dashboard_ends_a_session_at_the_gates_absolute_limit(
    gate: UserStore, dashboard: UserStore, clock: Clock
) -> None:
    token = login(gate)
    for _ in range(39):
        clock.advance(minutes=1.5)
        dashboard.check_session(token)
    clock.advance(minutes=1.5)  # an hour after the login, active all along
    with pytest.raises(SessionEnded) as ended:
        dashboard.check_session(token)
    assert ended.value.reason == "absolute" and "60 分钟" in str(ended.value)
    with pytest.raises(SessionEnded):
        gate.check_session(token)


def test_a_session_started_by_the_dashboard_keeps_the_dashboards_limits(
    gate: UserStore, dashboard: UserStore, clock: Clock
) -> None:
    """The built-in login form starts sessions too: those keep the dashboard's limits, and a
    gate with shorter ones does not cut them."""
    token = login(dashboard)
    clock.advance(minutes=10)
    assert gate.check_session(token).user == "zhang"
    stored = row(dashboard.root, token)
    assert (stored["idle_limit"], stored["absolute_limit"]) == (15 * 60, 8 * 3600)


def test_a_user_database_of_the_first_layout_gains_the_columns_and_keeps_its_sessions(
    tmp_path: Path, clock: Clock
) -> None:
    """Sessions opened before the upgrade have no limits of their own: they are checked
    against the limits of whoever checks them, as before."""
    old = store(tmp_path, clock, idle_minutes=15, hours=8)
    old.add_user("zhang", "leader", actor="setup", password=PASSWORD)
    token = login(old)
    con = sqlite3.connect(tmp_path / "auth" / "users.sqlite")
    con.executescript(
        """
        CREATE TABLE sessions_v1 AS SELECT token_hash, user, created_at, last_seen, ended_at,
            end_reason, client FROM sessions;
        DROP TABLE sessions;
        ALTER TABLE sessions_v1 RENAME TO sessions;
        PRAGMA user_version = 1;
        """
    )
    con.close()
    checker = store(tmp_path, clock, idle_minutes=2, hours=1)
    clock.advance(minutes=1)
    assert checker.check_session(token).user == "zhang"
    con = sqlite3.connect(tmp_path / "auth" / "users.sqlite")
    columns = {r[1] for r in con.execute("PRAGMA table_info(sessions)")}
    assert {"idle_limit", "absolute_limit"} <= columns
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    con.close()
    clock.advance(minutes=3)
    with pytest.raises(SessionEnded) as ended:
        checker.check_session(token)
    assert ended.value.reason == "idle"
