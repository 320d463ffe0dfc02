"""Local users: passwords, roles, logins, throttling, sessions, trusted headers and audit."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from tests.builders import StoreBuilder
from xuncha import audit
from xuncha.auth import (
    ALL_PERMISSIONS,
    APPROVE,
    BRIEFING,
    CLUE_DETAILS,
    EDIT_CONFIG,
    EVALUATE,
    EXPORT,
    EXPORT_AUDIT,
    IMPORT,
    MANAGE_USERS,
    REPORT,
    REVIEW,
    ROLES,
    SQL,
    VIEW_AUDIT,
    VIEW_PAGES,
    Access,
    AuthError,
    PermissionDenied,
    SessionEnded,
    UserStore,
    canonical_scope,
    command_access,
    ensure_first_admin,
    generate,
    policy_problem,
    scope_ids,
    trusted_header_name,
)
from xuncha.auth import users as users_module
from xuncha.store import open_reader

PASSWORD = "Correct-Horse-7"
START = 1_800_000_000.0


class CountingHasher(PasswordHasher):
    """A fast Argon2id hasher (tests only) that counts the passwords it checks."""

    def __init__(self, **kwargs: Any) -> None:
        params = {"time_cost": 1, "memory_cost": 8, "parallelism": 1, **kwargs}
        super().__init__(**params)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> None:
        self.now += seconds + minutes * 60 + hours * 3600


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture()
def users(tmp_path: Path, clock: Clock, hasher: CountingHasher) -> UserStore:
    store = UserStore(
        tmp_path,
        clock=clock,
        hasher=hasher,
        idle_timeout=dt.timedelta(minutes=15),
        absolute_limit=dt.timedelta(hours=8),
    )
    store.add_user("admin", "admin", actor="setup", password="Admin-Pass-01")
    store.add_user("zhang", "leader", actor="setup", password=PASSWORD, display_name="张三")
    return store


def _sqlite(root: Path) -> sqlite3.Connection:
    con = sqlite3.connect(root / "auth" / "users.sqlite")
    con.row_factory = sqlite3.Row
    return con


def _audit_actions(root: Path) -> list[str]:
    return [entry.action for entry in audit.entries(root)]


# -- passwords ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Short-1", "至少 10 个字符"),
        ("alllowercaseletters", "至少 3 类"),
        ("lowercase12345", "至少 3 类"),
        ("UPPER-and-lower", None),
        ("Lower1234Upper", None),
        ("密码很长很长-abc123", None),
        ("Zhang-San-2026", "用户名相同"),
    ],
)
def test_the_password_policy_wants_ten_characters_of_three_classes_not_the_name(
    password: str, problem: str | None
) -> None:
    found = policy_problem(password, "zhang-san-2026")
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_generated_passwords_are_sixteen_random_characters_that_meet_the_policy() -> None:
    made = {generate() for _ in range(200)}
    assert len(made) == 200
    for password in made:
        assert len(password) == 16 and policy_problem(password, "admin") is None


def test_passwords_are_stored_as_argon2id_hashes_never_as_text(tmp_path: Path) -> None:
    store = UserStore(tmp_path)  # the real default parameters
    store.add_user("li", "viewer", actor="t", password=PASSWORD)
    with _sqlite(tmp_path) as con:
        stored = con.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PASSWORD.encode() not in (tmp_path / "auth" / "users.sqlite").read_bytes()


def test_a_password_that_breaks_the_policy_is_refused_and_nothing_is_created(
    users: UserStore,
) -> None:
    with pytest.raises(AuthError, match="至少 10 个字符"):
        users.add_user("wang", "viewer", actor="t", password="short")
    assert users.get("wang") is None


def test_adding_without_a_password_returns_a_generated_one_that_logs_in(users: UserStore) -> None:
    password = users.add_user("wang", "viewer", actor="t")
    assert password is not None and policy_problem(password) is None
    assert users.authenticate("wang", password).ok
    assert users.add_user("zhao", "viewer", actor="t", password=PASSWORD + "x") is None


def test_a_hash_made_with_old_parameters_is_replaced_at_the_next_login(
    tmp_path: Path, clock: Clock
) -> None:
    old = UserStore(tmp_path, clock=clock, hasher=CountingHasher(time_cost=1))
    old.add_user("li", "viewer", actor="t", password=PASSWORD)
    new = UserStore(tmp_path, clock=clock, hasher=CountingHasher(time_cost=2))
    assert new.authenticate("li", PASSWORD).ok
    with _sqlite(tmp_path) as con:
        stored = con.execute("SELECT password_hash FROM users").fetchone()[0]
    assert "t=2" in stored.split("$")[3].split(",")
    assert new.authenticate("li", PASSWORD).ok


# -- roles -------------------------------------------------------------------------------

EXPECTED = {
    "admin": {VIEW_PAGES, EXPORT, BRIEFING, SQL, MANAGE_USERS, EDIT_CONFIG, VIEW_AUDIT},
    "leader": {VIEW_PAGES, EXPORT, BRIEFING, SQL},
    "office": {VIEW_PAGES, EXPORT, BRIEFING, SQL, IMPORT, APPROVE, EVALUATE},
    "group": {VIEW_PAGES, EXPORT, BRIEFING, SQL, REVIEW},
    "supervisor": {VIEW_PAGES, EXPORT, BRIEFING, SQL, REVIEW, EVALUATE},
    "liaison": {REPORT},
    "case": {VIEW_PAGES, EXPORT, BRIEFING, SQL, CLUE_DETAILS},
    "viewer": {VIEW_PAGES},
    "auditor": {VIEW_AUDIT},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_can_exactly_what_the_table_says(role: str) -> None:
    access = Access.for_role(
        "u",
        role,
        rounds=["第一轮"] if role == "group" else None,
        units=["市财政局"] if role == "liaison" else None,
    )
    for permission in sorted(ALL_PERMISSIONS - {EXPORT_AUDIT}):
        assert access.can(permission) == (permission in EXPECTED[role]), permission
    # Exporting the audit trail goes with viewing it.
    assert access.can(EXPORT_AUDIT) == access.can(VIEW_AUDIT)


def test_only_the_case_role_sees_clue_details() -> None:
    allowed = [r for r in ROLES if Access.for_role("u", r, units=["x"]).can(CLUE_DETAILS)]
    assert allowed == ["case"]


def test_require_raises_a_chinese_permission_denied() -> None:
    viewer = Access.for_role("u", "viewer")
    viewer.require(VIEW_PAGES)
    with pytest.raises(PermissionDenied, match="没有导出权限"):
        viewer.require(EXPORT)
    with pytest.raises(PermissionDenied, match="没有数据查询权限"):
        viewer.require(SQL)


def test_system_has_everything_and_demo_is_a_leader_marked_as_demo() -> None:
    system = Access.system()
    assert system.permissions == ALL_PERMISSIONS and not system.scoped
    demo = Access.for_demo()
    assert demo.demo and demo.user == "演示用户" and demo.role == "office"
    assert demo.can(EXPORT) and not demo.can(CLUE_DETAILS) and not demo.can(MANAGE_USERS)
    assert demo.can(IMPORT) and not demo.can(VIEW_AUDIT)


def test_describe_names_the_user_role_and_scope() -> None:
    group = Access.for_role(
        "zhang",
        "group",
        display_name="张三",
        rounds=["2026年第一轮"],
        units=["市财政局", "市教育局"],
    )
    assert group.scoped
    assert group.describe() == "张三（巡察组）：2026年第一轮；市财政局、市教育局"
    assert Access.for_role("li", "leader").describe() == "li（领导）：全部轮次；全部单位"


def test_a_group_must_have_a_scope_and_a_leader_cannot(users: UserStore) -> None:
    with pytest.raises(AuthError, match="须限定轮次或单位"):
        users.add_user("g", "group", actor="t", password=PASSWORD)
    with pytest.raises(AuthError, match="不能限定范围"):
        users.add_user("l", "leader", actor="t", password=PASSWORD, units=["市财政局"])
    users.add_user("g", "group", actor="t", password=PASSWORD, units=["市财政局"])
    with pytest.raises(AuthError, match="须限定轮次或单位"):
        users.set_scope("g", None, None, actor="t")
    with pytest.raises(AuthError, match="须限定轮次或单位"):
        users.set_role("zhang", "group", actor="t")
    users.set_role("zhang", "group", actor="t", scope=(["第一轮"], None))
    assert users.access_for("zhang").rounds == ("第一轮",)


def test_the_last_enabled_administrator_cannot_be_disabled_or_demoted(users: UserStore) -> None:
    with pytest.raises(AuthError, match="管理员"):
        users.disable("admin", actor="t")
    with pytest.raises(AuthError, match="管理员"):
        users.set_role("admin", "leader", actor="t")
    users.set_role("zhang", "admin", actor="t")
    assert users.disable("admin", actor="t")


def test_role_and_scope_changes_apply_to_a_live_session_at_its_next_check(
    users: UserStore,
) -> None:
    token = users.start_session(users.authenticate("zhang", PASSWORD).access or Access.system())
    assert users.check_session(token).role == "leader"
    users.set_role("zhang", "group", actor="admin", scope=(["第一轮"], ["市财政局"]))
    access = users.check_session(token)
    assert access.role == "group" and access.rounds == ("第一轮",)
    assert access.units == ("市财政局",)


# -- login -------------------------------------------------------------------------------


def test_a_correct_password_logs_in_with_the_users_access(users: UserStore) -> None:
    result = users.authenticate("zhang", PASSWORD, client="10.0.0.5")
    assert result.ok and result.reason == "" and result.retry_after == 0
    assert result.access is not None
    assert result.access.user == "zhang" and result.access.display_name == "张三"
    assert result.access.role == "leader"
    assert users.authenticate(" ZHANG ", PASSWORD).ok  # names are trimmed, case-folded


def test_wrong_password_unknown_user_and_disabled_user_get_the_same_answer(
    users: UserStore, hasher: CountingHasher
) -> None:
    users.add_user("gone", "viewer", actor="t", password=PASSWORD)
    users.disable("gone", actor="t")
    answers = []
    for name, password in (("zhang", "Wrong-Pass-1"), ("nobody", PASSWORD), ("gone", PASSWORD)):
        before = hasher.verified
        result = users.authenticate(name, password)
        # The same work for each: one Argon2 check (against a dummy hash for unknown names).
        assert hasher.verified == before + 1
        answers.append((result.ok, result.access, result.reason, result.retry_after))
    assert answers == [(False, None, "用户名或密码错误", 0)] * 3


def test_five_failures_lock_a_name_out_even_for_the_right_password(
    users: UserStore, clock: Clock, hasher: CountingHasher
) -> None:
    for _ in range(4):
        assert users.authenticate("zhang", "Wrong-Pass-1").retry_after == 0
    fifth = users.authenticate("zhang", "Wrong-Pass-1")
    assert not fifth.ok and fifth.retry_after == 60 and "1 分钟" in fifth.reason
    checked = hasher.verified
    clock.advance(30)
    locked = users.authenticate("zhang", PASSWORD)
    assert not locked.ok and locked.access is None and locked.retry_after == 30
    assert "失败次数过多" in locked.reason and "30 秒" in locked.reason
    assert hasher.verified == checked  # the password was not even checked
    clock.advance(31)
    assert users.authenticate("zhang", PASSWORD).ok


def test_parallel_guesses_cannot_slip_past_the_limit(
    users: UserStore, hasher: CountingHasher
) -> None:
    """Twenty wrong passwords at once: an attempt counts as failed before its (slow) check,
    so at most five are checked and the rest are refused as throttled."""
    import threading

    hasher.verified = 0
    results: list[bool] = []
    start = threading.Barrier(20)

    def guess(i: int) -> None:
        start.wait()
        results.append(users.authenticate("zhang", f"Wrong-Pass-{i:03d}").retry_after > 0)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert hasher.verified <= 5, hasher.verified
    assert sum(results) >= 15
    assert not users.authenticate("zhang", PASSWORD).ok  # locked out, even when right


def test_each_lockout_in_a_row_lasts_twice_as_long_up_to_an_hour(
    users: UserStore, clock: Clock
) -> None:
    lengths = []
    for _ in range(8):
        for _ in range(4):
            assert users.authenticate("zhang", "Wrong-Pass-1").retry_after == 0
        lengths.append(users.authenticate("zhang", "Wrong-Pass-1").retry_after)
        clock.advance(lengths[-1] + 1)
    assert lengths == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_successful_login_resets_the_doubling(users: UserStore, clock: Clock) -> None:
    for _ in range(5):
        users.authenticate("zhang", "Wrong-Pass-1")
    clock.advance(61)
    assert users.authenticate("zhang", PASSWORD).ok
    for _ in range(5):
        last = users.authenticate("zhang", "Wrong-Pass-1")
    assert last.retry_after == 60


def test_failures_older_than_fifteen_minutes_do_not_count(users: UserStore, clock: Clock) -> None:
    for _ in range(4):
        users.authenticate("zhang", "Wrong-Pass-1")
    clock.advance(minutes=16)
    for _ in range(4):
        assert users.authenticate("zhang", "Wrong-Pass-1").retry_after == 0
    assert users.authenticate("zhang", PASSWORD).ok


def test_unknown_names_are_locked_out_like_known_ones(users: UserStore) -> None:
    results = [users.authenticate("nobody", "Wrong-Pass-1") for _ in range(6)]
    assert [r.retry_after for r in results] == [0, 0, 0, 0, 60, 60]


def test_twenty_failures_from_one_client_lock_that_client_out(
    users: UserStore, clock: Clock
) -> None:
    for i in range(20):
        result = users.authenticate(f"guess{i % 10}", "Wrong-Pass-1", client="10.0.0.9")
    assert result.retry_after == 60
    refused = users.authenticate("zhang", PASSWORD, client="10.0.0.9")
    assert not refused.ok and refused.retry_after > 0
    assert users.authenticate("zhang", PASSWORD, client="10.0.0.10").ok


def test_a_correct_login_is_not_throttled_by_other_names_failures(users: UserStore) -> None:
    for _ in range(5):
        users.authenticate("nobody", "Wrong-Pass-1", client="a")
    assert users.authenticate("zhang", PASSWORD, client="b").ok


# -- sessions ----------------------------------------------------------------------------


def _login(users: UserStore, name: str = "zhang", password: str = PASSWORD) -> str:
    result = users.authenticate(name, password)
    assert result.ok and result.access is not None
    return users.start_session(result.access, client="10.0.0.5")


def test_a_session_ends_after_fifteen_idle_minutes(users: UserStore, clock: Clock) -> None:
    token = _login(users)
    clock.advance(minutes=14)
    assert users.check_session(token).user == "zhang"  # activity moves last_seen
    clock.advance(minutes=14)
    assert users.check_session(token).user == "zhang"
    clock.advance(minutes=15)
    with pytest.raises(SessionEnded) as ended:
        users.check_session(token)
    assert ended.value.reason == "idle" and "15 分钟" in str(ended.value)
    with pytest.raises(SessionEnded) as again:
        users.check_session(token)
    assert again.value.reason == "idle"
    timeouts = [e for e in audit.entries(users.root) if e.action == "logout_timeout"]
    assert len(timeouts) == 1 and timeouts[0].user == "zhang"
    assert timeouts[0].details["reason"] == "idle"


def test_a_session_ends_after_eight_hours_however_active(users: UserStore, clock: Clock) -> None:
    token = _login(users)
    for _ in range(47):
        clock.advance(minutes=10)
        users.check_session(token)
    clock.advance(minutes=10)  # 8 hours after the login
    with pytest.raises(SessionEnded) as ended:
        users.check_session(token)
    assert ended.value.reason == "absolute" and "8 小时" in str(ended.value)
    assert _audit_actions(users.root).count("logout_timeout") == 1


def test_check_session_takes_an_explicit_time(users: UserStore) -> None:
    token = _login(users)
    assert users.check_session(token, now=START + 60).user == "zhang"
    with pytest.raises(SessionEnded, match="未操作") as ended:
        users.check_session(token, now=START + 60 + 15 * 60)
    assert ended.value.reason == "idle"


def test_timeouts_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XUNCHA_IDLE_MINUTES", "5")
    monkeypatch.setenv("XUNCHA_SESSION_HOURS", "1.5")
    store = UserStore(tmp_path)
    assert store.idle_timeout == 300 and store.absolute_limit == 5400
    monkeypatch.setenv("XUNCHA_IDLE_MINUTES", "-1")
    with pytest.raises(AuthError, match="XUNCHA_IDLE_MINUTES"):
        UserStore(tmp_path)


def test_logout_ends_the_session_and_is_audited(users: UserStore) -> None:
    token = _login(users)
    assert users.end_session(token)
    assert not users.end_session(token)
    with pytest.raises(SessionEnded) as ended:
        users.check_session(token)
    assert ended.value.reason == "logout"
    assert "logout" in _audit_actions(users.root)


def test_an_unknown_token_is_refused(users: UserStore) -> None:
    for token in ("", "x" * 43, "x" * 10_000):
        with pytest.raises(SessionEnded) as ended:
            users.check_session(token)
        assert ended.value.reason == "unknown"


def test_disabling_a_user_ends_their_sessions_at_the_next_check(users: UserStore) -> None:
    token = _login(users)
    users.disable("zhang", actor="admin")
    with pytest.raises(SessionEnded) as ended:
        users.check_session(token)
    assert ended.value.reason == "disabled"


def test_a_disabled_flag_is_checked_at_every_request_even_if_set_behind_our_back(
    users: UserStore, tmp_path: Path
) -> None:
    token = _login(users)
    with _sqlite(tmp_path) as con:
        con.execute("UPDATE users SET disabled = 1 WHERE name = 'zhang'")
    with pytest.raises(SessionEnded) as ended:
        users.check_session(token)
    assert ended.value.reason == "disabled"


def test_a_new_password_ends_the_users_other_sessions(users: UserStore) -> None:
    first, second = _login(users), _login(users)
    users.set_password("zhang", "Another-Pass-2", actor="zhang", keep_token=second)
    with pytest.raises(SessionEnded) as ended:
        users.check_session(first)
    assert ended.value.reason == "password"
    assert users.check_session(second).user == "zhang"
    assert not users.authenticate("zhang", PASSWORD).ok
    assert users.authenticate("zhang", "Another-Pass-2").ok


def test_session_tokens_are_stored_only_as_their_sha256(users: UserStore, tmp_path: Path) -> None:
    token = _login(users)
    assert len(token) >= 43
    with _sqlite(tmp_path) as con:
        rows = con.execute("SELECT * FROM sessions").fetchall()
    assert [r["token_hash"] for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    raw = b"".join(p.read_bytes() for p in (tmp_path / "auth").iterdir())
    assert token.encode() not in raw


def test_a_disabled_user_cannot_start_a_session(users: UserStore) -> None:
    access = users.access_for("zhang")
    users.disable("zhang", actor="admin")
    with pytest.raises(PermissionDenied):
        users.start_session(access)
    with pytest.raises(PermissionDenied):
        users.access_for("zhang")


# -- files, first administrator, trusted header ------------------------------------------


def test_the_user_database_is_private_to_its_owner(users: UserStore, tmp_path: Path) -> None:
    folder = tmp_path / "auth"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "users.sqlite").stat().st_mode) == 0o600
    with _sqlite(tmp_path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reading_a_store_without_users_creates_nothing(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "empty")
    assert not store.has_users() and store.list_users() == [] and store.get("admin") is None
    assert not (tmp_path / "empty").exists()


def test_the_first_administrator_gets_a_generated_password_once(tmp_path: Path) -> None:
    hasher = CountingHasher()
    first = ensure_first_admin(tmp_path, hasher=hasher)
    assert first is not None
    name, password = first
    assert name == "admin" and policy_problem(password, name) is None
    assert ensure_first_admin(tmp_path, hasher=hasher) is None
    users = UserStore(tmp_path, hasher=hasher)
    result = users.authenticate("admin", password)
    assert result.ok and result.access is not None and result.access.can(MANAGE_USERS)
    assert password not in audit.audit_path(tmp_path).read_text(encoding="utf-8")


def test_no_header_is_trusted_unless_configured(
    users: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    assert trusted_header_name() is None
    assert users.access_from_header({"X-Xuncha-User": "zhang"}) is None


def test_a_trusted_header_names_an_existing_enabled_user(
    users: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XUNCHA_TRUSTED_USER_HEADER", "X-Xuncha-User")
    assert trusted_header_name() == "X-Xuncha-User"
    access = users.access_from_header({"x-xuncha-user": "zhang"})
    assert access is not None and access.user == "zhang" and access.role == "leader"
    assert users.access_from_header({"Cookie": "a=b"}) is None
    users.add_user("张三", "viewer", actor="t", password=PASSWORD)
    latin1 = "张三".encode().decode("latin-1")  # how a server hands over UTF-8 header bytes
    chinese = users.access_from_header({"X-Xuncha-User": latin1})
    assert chinese is not None and chinese.user == "张三"
    with pytest.raises(PermissionDenied):
        users.access_from_header({"X-Xuncha-User": "nobody"})
    users.disable("zhang", actor="t")
    with pytest.raises(PermissionDenied):
        users.access_from_header({"X-Xuncha-User": "zhang"})
    monkeypatch.setenv("XUNCHA_TRUSTED_USER_HEADER", "Bad Header:")
    with pytest.raises(AuthError):
        trusted_header_name()


# -- audit -------------------------------------------------------------------------------


def test_the_audit_trail_records_logins_and_changes_but_never_a_password(
    users: UserStore,
) -> None:
    users.authenticate("zhang", PASSWORD, client="10.0.0.5")
    users.authenticate("zhang", "Wrong-Pass-Secret-9")
    for _ in range(6):  # the sixth is refused unchecked
        users.authenticate("nobody", "Wrong-Pass-Secret-9")
    users.set_role("zhang", "group", actor="admin", scope=(["第一轮"], None))
    users.set_password("zhang", "Brand-New-Pass-3", actor="admin")
    actions = _audit_actions(users.root)
    for action in (
        "user_add",
        "login",
        "login_failed",
        "login_throttled",
        "permission_change",
        "password_change",
    ):
        assert action in actions, action
    text = audit.audit_path(users.root).read_text(encoding="utf-8")
    for secret in (PASSWORD, "Wrong-Pass-Secret-9", "Brand-New-Pass-3", "Admin-Pass-01"):
        assert secret not in text
    assert "$argon2" not in text
    change = next(e for e in audit.entries(users.root) if e.action == "permission_change")
    assert change.user == "admin" and change.details["role_before"] == "leader"
    assert change.details["role"] == "group" and change.details["rounds"] == ["第一轮"]
    login = next(e for e in audit.entries(users.root) if e.action == "login")
    assert login.user == "zhang" and login.details["client"] == "10.0.0.5"
    assert audit.verify(users.root) == []


def test_a_change_whose_audit_record_fails_is_not_made(
    users: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise audit.AuditError("磁盘已满")

    monkeypatch.setattr(users_module.audit, "record", broken)
    with pytest.raises(audit.AuditError):
        users.add_user("wang", "viewer", actor="t", password=PASSWORD)
    with pytest.raises(audit.AuditError):
        users.disable("zhang", actor="t")
    monkeypatch.undo()
    zhang = users.get("zhang")
    assert users.get("wang") is None and zhang is not None and not zhang.disabled


# -- scope against the data --------------------------------------------------------------


@pytest.fixture()
def small_store(tmp_path: Path) -> Path:
    b = StoreBuilder()
    r1 = b.round("第一轮", seq=1)
    b.round("第二轮", seq=2)
    fin = b.unit("市财政局", short_name="财政局")
    edu = b.unit("市教育局", sector="教育", short_name="教育局")
    b.inspection(r1, fin, feedback=dt.date(2024, 1, 10))
    b.inspection(r1, edu, feedback=dt.date(2024, 1, 12))
    return b.build(tmp_path / "store").root


def test_scope_names_are_checked_and_short_names_become_full_names(small_store: Path) -> None:
    rounds, units, checked = canonical_scope(small_store, ["第一轮"], ["财政局", "市教育局"])
    assert checked and rounds == ("第一轮",) and units == ("市财政局", "市教育局")
    with pytest.raises(AuthError, match=r"未知轮次：第九轮.*第一轮、第二轮"):
        canonical_scope(small_store, ["第九轮"], None)
    with pytest.raises(AuthError, match="未知单位：市公安局"):
        canonical_scope(small_store, None, ["市公安局"])


def test_scope_ids_resolve_names_and_drop_stale_ones(small_store: Path) -> None:
    reader = open_reader(small_store)
    try:
        group = Access.for_role("g", "group", rounds=["第二轮"], units=["财政局", "已撤销单位"])
        assert scope_ids(reader, group) == ((2,), (1,))
        assert scope_ids(reader, Access.for_role("l", "leader")) == (None, None)
        gone = Access.for_role("g", "group", rounds=["已删除的轮次"])
        assert scope_ids(reader, gone) == ((), None)
    finally:
        reader.close()


def test_a_stored_scope_that_does_not_parse_confines_the_user_to_nothing(
    users: UserStore, tmp_path: Path
) -> None:
    users.add_user("g", "group", actor="t", password=PASSWORD, rounds=["第一轮"])
    with _sqlite(tmp_path) as con:
        con.execute("UPDATE users SET rounds = 'not json' WHERE name = 'g'")
    assert users.access_for("g").rounds == ()


def test_user_listing_never_carries_a_hash(users: UserStore) -> None:
    listed = json.dumps([u.as_json() for u in users.list_users()], ensure_ascii=False)
    assert "argon2" not in listed and "password_hash" not in listed
    assert [u.name for u in users.list_users()] == ["admin", "zhang"]
    assert os.path.basename(users.path) == "users.sqlite"


# -- who a command of the command line acts as --------------------------------------------


def test_a_command_acts_as_the_named_user_when_the_store_has_users(tmp_path: Path) -> None:
    b = StoreBuilder()
    b.unit("市财政局")
    root = b.build(tmp_path / "store").root
    known = UserStore(root, hasher=CountingHasher())
    # Without users: the system itself, under --user or else the login.
    assert command_access(root, "li", SQL, login="os") == Access.system("li")
    assert command_access(root, None, SQL, login="os") == Access.system("os")
    known.add_user("li", "viewer", actor="setup", password=PASSWORD)
    known.add_user("wang", "group", actor="setup", password=PASSWORD, units=["市财政局"])
    assert command_access(root, None, SQL, login="os") == Access.system("os")
    who = command_access(root, "wang", SQL, login="os")
    assert (who.user, who.role, who.units) == ("wang", "group", ("市财政局",))
    before = len(audit.entries(root))
    with pytest.raises(PermissionDenied, match="没有数据查询权限"):
        command_access(root, "li", SQL, login="os")
    with pytest.raises(PermissionDenied, match="用户不存在或已停用：nobody"):
        command_access(root, "nobody", VIEW_PAGES, login="os")
    refused = audit.entries(root)[before:]
    assert [(e.action, e.user, e.details["permission"]) for e in refused] == [
        ("refused", "li", SQL),
        ("refused", "nobody", VIEW_PAGES),
    ]


def test_without_data_a_command_acts_as_the_system_even_if_users_exist(
    users: UserStore, tmp_path: Path
) -> None:
    assert users.has_users()  # a user database beside no data versions at all
    assert command_access(tmp_path, "zhang", SQL, login="os") == Access.system("zhang")


def test_a_liaison_has_exactly_one_unit_and_says_so(users: UserStore) -> None:
    with pytest.raises(AuthError, match=r"须限定且只能限定一个单位（未限定单位）"):
        users.add_user("l", "liaison", actor="t", password=PASSWORD)
    with pytest.raises(AuthError, match=r"须限定且只能限定一个单位（未限定单位）"):
        users.add_user("l", "liaison", actor="t", password=PASSWORD, rounds=["第一轮"])
    with pytest.raises(AuthError, match=r"（限定了 2 个单位）"):
        users.add_user("l", "liaison", actor="t", password=PASSWORD, units=["甲", "乙"])
    users.add_user("l", "liaison", actor="t", password=PASSWORD, units=["市财政局"])
    assert users.access_for("l").units == ("市财政局",)
    with pytest.raises(AuthError, match="只能限定一个单位"):
        users.set_scope("l", ["第一轮"], None, actor="t")
    users.set_scope("l", ["第一轮"], ["市财政局"], actor="t")
    # A group of two units turned liaison keeps its scope only when it is one unit.
    users.add_user("g", "group", actor="t", password=PASSWORD, units=["甲", "乙"])
    with pytest.raises(AuthError, match="只能限定一个单位"):
        users.set_role("g", "liaison", actor="t")
    assert users.access_for("g").role == "group"
    users.set_role("g", "liaison", actor="t", scope=(None, ["乙"]))
    assert users.access_for("g").units == ("乙",) and users.access_for("g").rounds is None
    # A supervisor may be scoped or not.
    users.add_user("s", "supervisor", actor="t", password=PASSWORD)
    users.set_scope("s", None, ["甲"], actor="t")


def test_a_liaison_is_described_by_its_unit_and_an_auditor_by_no_data() -> None:
    from xuncha.auth.access import scope_text

    liaison = Access.for_role("l", "liaison", display_name="李四", units=["市财政局"])
    assert liaison.describe() == "李四（被巡察单位联络员）：市财政局；巡察该单位的各轮次"
    dated = Access.for_role("l", "liaison", rounds=["第一轮"], units=["市财政局"])
    assert dated.describe() == "l（被巡察单位联络员）：市财政局；第一轮"
    assert Access.for_role("a", "auditor").describe() == "a（审计）：不可查看业务数据"
    assert scope_text("auditor", None, None) == "不可查看业务数据"
    assert scope_text("supervisor", None, None) == "全部轮次；全部单位"
    assert scope_text("group", ("第一轮",), None) == "第一轮；全部单位"
