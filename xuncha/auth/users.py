"""Local users, logins and sessions, kept in `STORE_ROOT/auth/users.sqlite`.

The file lives beside the versioned DuckDB files, never inside them, so the SQL sandbox (built
from those files) cannot see it. It is SQLite in WAL mode with a busy timeout because the
dashboard and the command line open it at the same time; every operation opens its own short
connection, so a `UserStore` can be shared between threads. Writes run in `BEGIN IMMEDIATE`
transactions, and a change to users is written to the audit trail before its transaction
commits: when the audit record cannot be written, the change does not happen (fail closed).

Passwords are Argon2id hashes; session tokens are stored only as their SHA-256. Time is read
from an injectable clock (seconds since the epoch) so tests never sleep.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import math
import os
import re
import secrets
import sqlite3
import time
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from xuncha import audit
from xuncha.auth import passwords
from xuncha.auth.access import (
    ROLE_PERMISSIONS,
    SCOPE_ALLOWED,
    Access,
    AuthError,
    PermissionDenied,
    check_role,
    check_scope,
    role_label,
    scope_tuple,
)
from xuncha.store.store import Store

AUTH_DIR = "auth"
DB_FILE = "users.sqlite"
SCHEMA_VERSION = 2  # 2: each session keeps the limits it was started with
BUSY_TIMEOUT = 10.0  # seconds a connection waits for another process's write

# Login throttling: failures counted in a sliding window, per typed name and per client.
NAME_FAILURES = 5
CLIENT_FAILURES = 20
FAILURE_WINDOW = 15 * 60
LOCKOUT_FIRST = 60  # doubles with each lockout in a row: 60 s, 120 s, … up to LOCKOUT_MAX
LOCKOUT_MAX = 60 * 60
LOCKOUT_MEMORY = 24 * 60 * 60  # a lockout older than this no longer doubles the next one
SESSION_KEEP = 30 * 24 * 60 * 60  # ended sessions are kept this long, then pruned

DEFAULT_IDLE_MINUTES = 15.0
DEFAULT_SESSION_HOURS = 8.0
IDLE_ENV = "XUNCHA_IDLE_MINUTES"
SESSION_ENV = "XUNCHA_SESSION_HOURS"
TRUSTED_HEADER_ENV = "XUNCHA_TRUSTED_USER_HEADER"
TRUSTED_CLIENT_ENV = "XUNCHA_TRUSTED_CLIENT_HEADER"
LOOPBACK_CLIENT = "127.0.0.1"  # what a client that reaches the process over loopback is

FIRST_ADMIN = "admin"
GENERIC_FAILURE = "用户名或密码错误"

# Why a session ended: the code SessionEnded carries, and what to tell the user.
SESSION_END_REASONS: dict[str, str] = {
    "idle": "长时间未操作，已自动退出，请重新登录",
    "absolute": "登录时间已到上限，请重新登录",
    "logout": "已退出登录",
    "disabled": "账号已停用",
    "password": "密码已修改，请重新登录",
    "unknown": "登录已失效，请重新登录",
}

_NAME = re.compile(r"^[^\W_][\w.\-]{0,31}$")
_HEADER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{0,63}$")
_MAX_DISPLAY = 64
_MAX_CLIENT = 200
_MAX_TOKEN = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    rounds TEXT,                 -- JSON list of round names, NULL: every round
    units TEXT,                  -- JSON list of unit names, NULL: every unit
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,    -- seconds since the epoch (UTC)
    updated_at REAL NOT NULL,
    password_changed_at REAL NOT NULL,
    last_login_at REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, -- sha256 of the token (the token itself is never stored)
    user TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL,
    ended_at REAL,
    end_reason TEXT,
    client TEXT NOT NULL DEFAULT '',
    idle_limit REAL,             -- seconds without activity that end it (set when it starts)
    absolute_limit REAL          -- seconds it may last in all (NULL: an older session)
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(user, ended_at);
CREATE TABLE IF NOT EXISTS login_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: orders attempts of equal time
    name TEXT NOT NULL,
    client TEXT NOT NULL,
    time REAL NOT NULL,
    ok INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS login_attempts_by_name ON login_attempts(name, time);
CREATE INDEX IF NOT EXISTS login_attempts_by_client ON login_attempts(client, time);
CREATE TABLE IF NOT EXISTS lockouts (
    kind TEXT NOT NULL,          -- 'name' or 'client'
    key TEXT NOT NULL,
    level INTEGER NOT NULL,      -- lockouts in a row, the n-th lasts LOCKOUT_FIRST * 2^(n-1)
    started REAL NOT NULL,
    until REAL NOT NULL,
    after_id INTEGER NOT NULL,   -- the attempt that started it: only later ones count next
    PRIMARY KEY (kind, key)
);
"""


class UserStoreError(AuthError):
    """The user database cannot be opened, read or written (not a refusal): the command line
    says so with the path; the dashboard shows an incident id only."""


class SessionEnded(AuthError):
    """The session is over; `reason` is a key of SESSION_END_REASONS, str(exc) the message."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason if reason in SESSION_END_REASONS else "unknown"
        super().__init__(message or SESSION_END_REASONS[self.reason])


@dataclass(frozen=True)
class User:
    """One row of `users`, without its password hash."""

    name: str
    display_name: str
    role: str
    rounds: tuple[str, ...] | None
    units: tuple[str, ...] | None
    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    password_changed_at: dt.datetime
    last_login_at: dt.datetime | None

    @property
    def role_label(self) -> str:
        return role_label(self.role)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "role": self.role,
            "role_label": self.role_label,
            "rounds": list(self.rounds) if self.rounds is not None else None,
            "units": list(self.units) if self.units is not None else None,
            "disabled": self.disabled,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "password_changed_at": _iso(self.password_changed_at),
            "last_login_at": _iso(self.last_login_at) if self.last_login_at else None,
        }


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    access: Access | None = None
    reason: str = ""  # Chinese, for the login form; "" on success
    retry_after: int = 0  # seconds to wait before the next attempt is even checked


def canonical_name(name: str) -> str:
    """The stored form of a user name (NFKC, trimmed, lower case); AuthError if unusable."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    if not _NAME.match(text):
        raise AuthError(
            f"用户名不合规：{name!r}（1–32 个字符：汉字、字母、数字、点、下划线或连字符，"
            "以汉字、字母或数字开头）"
        )
    return text


def trusted_header_name() -> str | None:
    """The HTTP header a trusted reverse proxy sets to the signed-in user's name, from
    XUNCHA_TRUSTED_USER_HEADER; None (the default) means no header is trusted. Set it only when
    the dashboard listens on 127.0.0.1 behind a proxy that always overwrites that header."""
    value = os.environ.get(TRUSTED_HEADER_ENV, "").strip()
    if not value:
        return None
    if not _HEADER.match(value):
        raise AuthError(f"环境变量 {TRUSTED_HEADER_ENV} 不是合法的 HTTP 头名称：{value!r}")
    return value


def trusted_client_header() -> str | None:
    """The HTTP header in which a reverse proxy in front of the dashboard names the client's
    address (nginx: `X-Real-IP`), from XUNCHA_TRUSTED_CLIENT_HEADER; None (the default) means
    none is trusted. Read only for connections that come from the loopback address, i.e.
    from the proxy itself: a client connecting directly is never believed."""
    value = os.environ.get(TRUSTED_CLIENT_ENV, "").strip()
    if not value:
        return None
    if not _HEADER.match(value):
        raise AuthError(f"环境变量 {TRUSTED_CLIENT_ENV} 不是合法的 HTTP 头名称：{value!r}")
    return value


def client_address(peer: str | None, headers: Mapping[str, str] | None = None) -> str:
    """The address a login attempt, a session and an audit record are counted under.

    `peer` is the connection's address, None when it is the loopback address (what
    Streamlit's st.context.ip_address gives). A loopback connection is a client on this
    machine or a reverse proxy: with XUNCHA_TRUSTED_CLIENT_HEADER set, the address the proxy
    names there (when it is an IP address); otherwise 127.0.0.1, so that attempts through
    the proxy are still counted and locked out per address (all of them as one address)."""
    if peer:
        with contextlib.suppress(ValueError):
            parsed = ipaddress.ip_address(str(peer).strip())
            if not parsed.is_loopback:
                return str(parsed)
    header = trusted_client_header() if headers else None
    if header is not None and headers:
        wanted = header.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
        if value is not None:
            # X-Forwarded-For style lists: the proxy appends the address it saw last.
            last = str(value).split(",")[-1].strip()
            with contextlib.suppress(ValueError):
                return str(ipaddress.ip_address(last))
    return LOOPBACK_CLIENT


def ensure_first_admin(
    store_root: str | os.PathLike[str], *, hasher: PasswordHasher | None = None
) -> tuple[str, str] | None:
    """When the store has no users yet, create `admin` with a generated password and return
    (name, password) for the server to print once; otherwise None. Never a default password."""
    return UserStore(store_root, hasher=hasher).ensure_first_admin()


def command_access(
    store_root: str | os.PathLike[str], user: str | None, permission: str, *, login: str
) -> Access:
    """Who a command of the command line acts as. With `user` (--user), on a store that has
    data and users: that user's role and scope; PermissionDenied, recorded in the audit trail
    as refused, when the user is unknown or disabled or the role lacks `permission`. Otherwise
    the system itself (whoever can run the command can read the store's files), recorded
    under `user` or else `login` (the operating-system user)."""
    known = UserStore(store_root)
    if user and Store(store_root).exists() and known.has_users():
        try:
            who = known.access_for(user)
            who.require(permission)
        except PermissionDenied:
            audit.record(
                store_root, user=user, action="refused", permission=permission, source="cli"
            )
            raise
        return who
    return Access.system(user or login)


class UserStore:
    """Users, logins and sessions of one store directory."""

    def __init__(
        self,
        store_root: str | os.PathLike[str],
        *,
        idle_timeout: dt.timedelta | None = None,
        absolute_limit: dt.timedelta | None = None,
        clock: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.root = Path(store_root)
        self.path = self.root / AUTH_DIR / DB_FILE
        self.idle_timeout = (
            idle_timeout.total_seconds()
            if idle_timeout is not None
            else _env_positive(IDLE_ENV, DEFAULT_IDLE_MINUTES) * 60
        )
        self.absolute_limit = (
            absolute_limit.total_seconds()
            if absolute_limit is not None
            else _env_positive(SESSION_ENV, DEFAULT_SESSION_HOURS) * 3600
        )
        if self.idle_timeout <= 0 or self.absolute_limit <= 0:
            raise AuthError("会话超时时间必须为正数")
        self._clock = clock
        self._hasher = hasher or passwords.default_hasher()
        self._dummy_hash: str | None = None
        self._ready = False

    def __repr__(self) -> str:
        return f"UserStore({str(self.root)!r})"

    # -- reading -------------------------------------------------------------------------

    def has_users(self) -> bool:
        with self._read() as con:
            if con is None:
                return False
            return con.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def list_users(self) -> list[User]:
        with self._read() as con:
            if con is None:
                return []
            rows = con.execute("SELECT * FROM users ORDER BY name").fetchall()
        return [_user(row) for row in rows]

    def get(self, name: str) -> User | None:
        try:
            key = canonical_name(name)
        except AuthError:
            return None
        with self._read() as con:
            row = None if con is None else _user_row(con, key)
        return _user(row) if row is not None else None

    def access_for(self, name: str) -> Access:
        """The access of an enabled user; PermissionDenied when unknown or disabled."""
        user = self.get(name)
        if user is None or user.disabled:
            raise PermissionDenied(f"用户不存在或已停用：{name}")
        return _access(user)

    def access_from_header(self, headers: Mapping[str, str]) -> Access | None:
        """The user a trusted proxy names in its header. None when no header is trusted or
        the request carries none; PermissionDenied when it names an unknown or disabled user."""
        header = trusted_header_name()
        if header is None:
            return None
        wanted = header.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
        if value is None or not str(value).strip():
            return None
        return self.access_for(_header_value(str(value)))

    # -- users ---------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        role: str,
        *,
        actor: str,
        rounds: Iterable[str] | None = None,
        units: Iterable[str] | None = None,
        password: str | None = None,
        display_name: str | None = None,
    ) -> str | None:
        """Create a user. Returns the generated password when none was given (show it once),
        else None."""
        key = canonical_name(name)
        check_role(role)
        scope = scope_tuple(rounds), scope_tuple(units)
        check_scope(role, *scope)
        display = _display_name(display_name, key)
        generated = None
        if password is None:
            password = generated = passwords.generate()
        passwords.check_policy(password, key)
        digest = self._hasher.hash(password)
        now = self._clock()
        with self._write() as con:
            if _user_row(con, key) is not None:
                raise AuthError(f"用户已存在：{key}")
            con.execute(
                "INSERT INTO users (name, display_name, role, rounds, units, password_hash,"
                " disabled, created_at, updated_at, password_changed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (key, display, role, _json(scope[0]), _json(scope[1]), digest, now, now, now),
            )
            audit.record(
                self.root,
                user=actor,
                action="user_add",
                name=key,
                display_name=display,
                role=role,
                rounds=_listed(scope[0]),
                units=_listed(scope[1]),
                password="generated" if generated else "given",
            )
        return generated

    def ensure_first_admin(self) -> tuple[str, str] | None:
        password = passwords.generate()
        digest = self._hasher.hash(password)
        now = self._clock()
        with self._write() as con:
            if con.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None:
                return None
            con.execute(
                "INSERT INTO users (name, display_name, role, rounds, units, password_hash,"
                " disabled, created_at, updated_at, password_changed_at)"
                " VALUES (?, ?, 'admin', NULL, NULL, ?, 0, ?, ?, ?)",
                (FIRST_ADMIN, "管理员", digest, now, now, now),
            )
            audit.record(
                self.root,
                user="system",
                action="user_add",
                name=FIRST_ADMIN,
                role="admin",
                rounds=None,
                units=None,
                password="generated",
                first_admin=True,
            )
        return FIRST_ADMIN, password

    def disable(self, name: str, *, actor: str) -> bool:
        """Disable a user and end their sessions; False when already disabled."""
        key = canonical_name(name)
        now = self._clock()
        with self._write() as con:
            row = _require_user(con, key)
            if row["disabled"]:
                return False
            if row["role"] == "admin":
                _ensure_other_admin(con, key)
            con.execute("UPDATE users SET disabled = 1, updated_at = ? WHERE name = ?", (now, key))
            ended = _end_sessions(con, key, "disabled", now)
            audit.record(
                self.root, user=actor, action="user_disable", name=key, sessions_ended=ended
            )
        return True

    def enable(self, name: str, *, actor: str) -> bool:
        """Enable a disabled user; False when already enabled."""
        key = canonical_name(name)
        now = self._clock()
        with self._write() as con:
            row = _require_user(con, key)
            if not row["disabled"]:
                return False
            con.execute("UPDATE users SET disabled = 0, updated_at = ? WHERE name = ?", (now, key))
            audit.record(self.root, user=actor, action="user_enable", name=key)
        return True

    def set_password(
        self, name: str, password: str | None = None, *, actor: str, keep_token: str | None = None
    ) -> str | None:
        """Set a new password (generated when None: returned to show once) and end the user's
        sessions except `keep_token` (the one changing its own password)."""
        key = canonical_name(name)
        generated = None
        if password is None:
            password = generated = passwords.generate()
        passwords.check_policy(password, key)
        digest = self._hasher.hash(password)
        now = self._clock()
        keep = _token_hash(keep_token) if keep_token else None
        with self._write() as con:
            _require_user(con, key)
            con.execute(
                "UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ?"
                " WHERE name = ?",
                (digest, now, now, key),
            )
            ended = _end_sessions(con, key, "password", now, keep=keep)
            audit.record(
                self.root,
                user=actor,
                action="password_change",
                name=key,
                password="generated" if generated else "given",
                sessions_ended=ended,
            )
        return generated

    def set_scope(
        self,
        name: str,
        rounds: Iterable[str] | None,
        units: Iterable[str] | None,
        *,
        actor: str,
    ) -> None:
        """Confine a user to rounds and/or units (None: every one)."""
        key = canonical_name(name)
        scope = scope_tuple(rounds), scope_tuple(units)
        now = self._clock()
        with self._write() as con:
            row = _require_user(con, key)
            check_scope(row["role"], *scope)
            before = _scope(row["rounds"]), _scope(row["units"])
            con.execute(
                "UPDATE users SET rounds = ?, units = ?, updated_at = ? WHERE name = ?",
                (_json(scope[0]), _json(scope[1]), now, key),
            )
            audit.record(
                self.root,
                user=actor,
                action="permission_change",
                name=key,
                change="scope",
                rounds_before=_listed(before[0]),
                units_before=_listed(before[1]),
                rounds=_listed(scope[0]),
                units=_listed(scope[1]),
            )

    def set_role(
        self,
        name: str,
        role: str,
        *,
        actor: str,
        scope: tuple[Iterable[str] | None, Iterable[str] | None] | None = None,
    ) -> None:
        """Change a user's role. `scope` (rounds, units) replaces the scope; without it the
        scope is kept when the new role may have one and cleared when it may not."""
        key = canonical_name(name)
        check_role(role)
        now = self._clock()
        with self._write() as con:
            row = _require_user(con, key)
            before = _scope(row["rounds"]), _scope(row["units"])
            if scope is not None:
                after = scope_tuple(scope[0]), scope_tuple(scope[1])
            elif role in SCOPE_ALLOWED:
                after = before
            else:
                after = None, None
            check_scope(role, *after)
            if row["role"] == "admin" and role != "admin" and not row["disabled"]:
                _ensure_other_admin(con, key)
            con.execute(
                "UPDATE users SET role = ?, rounds = ?, units = ?, updated_at = ? WHERE name = ?",
                (role, _json(after[0]), _json(after[1]), now, key),
            )
            audit.record(
                self.root,
                user=actor,
                action="permission_change",
                name=key,
                change="role",
                role_before=row["role"],
                role=role,
                rounds_before=_listed(before[0]),
                units_before=_listed(before[1]),
                rounds=_listed(after[0]),
                units=_listed(after[1]),
            )

    # -- login ---------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, *, client: str = "") -> LoginResult:
        """Check a name and password. Unknown names, wrong passwords and disabled users get
        the same answer after the same work; while a name or client is locked out the
        password is not even checked."""
        now = self._clock()
        key = _attempt_name(name)
        client = _clean(client, _MAX_CLIENT)
        attempt_id = 0
        with self._write() as con:
            _prune(con, now)
            wait = _locked_for(con, key, client, now)
            if not wait:
                # The attempt is recorded as failed before the (slow) password check and
                # corrected on success, so parallel guesses count at once: no burst of
                # requests can slip past the limit while the first ones are being checked.
                attempt_id = (
                    con.execute(
                        "INSERT INTO login_attempts (name, client, time, ok) VALUES (?, ?, ?, 0)",
                        (key, client, now),
                    ).lastrowid
                    or 0
                )
                if _pending_over_limit(con, key, now):
                    con.execute("DELETE FROM login_attempts WHERE id = ?", (attempt_id,))
                    wait = _lock_if_needed(con, key, client, now) or LOCKOUT_FIRST
        if wait:
            audit.record(
                self.root,
                user=key or "-",
                action="login_throttled",
                name=key,
                client=client,
                retry_after=wait,
            )
            return LoginResult(False, reason=_wait_message(wait), retry_after=wait)

        row = None
        with contextlib.suppress(AuthError), self._read() as con:
            row = None if con is None else _user_row(con, canonical_name(name))
        if row is not None and len(password) <= passwords.MAX_LENGTH:
            matched = passwords.verify(self._hasher, row["password_hash"], password)
        else:  # same work as a real check, so timing does not tell which names exist
            passwords.verify(self._hasher, self._dummy(), password[: passwords.MAX_LENGTH])
            matched = False
        ok = row is not None and matched and not row["disabled"]
        new_hash = None
        if ok and row is not None and self._hasher.check_needs_rehash(row["password_hash"]):
            new_hash = self._hasher.hash(password)

        user: User | None = None
        locked = 0
        with self._write() as con:
            con.execute("UPDATE login_attempts SET ok = ? WHERE id = ?", (int(ok), attempt_id))
            if ok and row is not None:
                con.execute("DELETE FROM lockouts WHERE kind = 'name' AND key = ?", (key,))
                con.execute("UPDATE users SET last_login_at = ? WHERE name = ?", (now, row["name"]))
                if new_hash:
                    con.execute(
                        "UPDATE users SET password_hash = ? WHERE name = ?", (new_hash, row["name"])
                    )
                audit.record(
                    self.root,
                    user=row["name"],
                    action="login",
                    client=client,
                    role=row["role"],
                    rehashed=new_hash is not None,
                )
                fresh = _user_row(con, row["name"])
                user = _user(fresh) if fresh is not None else None
            else:
                locked = _lock_if_needed(con, key, client, now)
                cause = (
                    "unknown_user"
                    if row is None
                    else "disabled"
                    if matched and row["disabled"]
                    else "wrong_password"
                )
                audit.record(
                    self.root,
                    user=key or "-",
                    action="login_failed",
                    name=key,
                    client=client,
                    cause=cause,
                    locked_for=locked,
                )
        if user is None:
            if locked:
                reason = f"{GENERIC_FAILURE}；{_wait_message(locked)}"
                return LoginResult(False, reason=reason, retry_after=locked)
            return LoginResult(False, reason=GENERIC_FAILURE)
        return LoginResult(True, access=_access(user))

    # -- sessions ------------------------------------------------------------------------

    def start_session(self, access: Access, *, client: str = "") -> str:
        """A new session for a signed-in user; returns the token (keep it secret: only its
        hash is stored). The session keeps this store's idle and absolute limits: whichever
        process checks it later (the gate, the dashboard) applies these, not its own."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._write() as con:
            row = _user_row(con, access.user)
            if row is None or row["disabled"]:
                raise PermissionDenied(f"用户不存在或已停用：{access.user}")
            con.execute(
                "INSERT INTO sessions (token_hash, user, created_at, last_seen, client,"
                " idle_limit, absolute_limit) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    _token_hash(token),
                    row["name"],
                    now,
                    now,
                    _clean(client, _MAX_CLIENT),
                    self.idle_timeout,
                    self.absolute_limit,
                ),
            )
        return token

    def check_session(self, token: str, *, now: float | None = None) -> Access:
        """The current access of a live session, marking it active; SessionEnded otherwise.
        The user's role, scope and status are read again every time.

        The limits are those the session was started with (one source of truth for the
        gate and the dashboard, whatever each was configured with), and its last activity
        is the one row both update: a session the gate would end as idle is ended by the
        dashboard's check too, never extended by it."""
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
            raise SessionEnded("unknown")
        at = self._clock() if now is None else now
        digest = _token_hash(token)
        ended: SessionEnded | None = None
        with self._write() as con:
            row = con.execute("SELECT * FROM sessions WHERE token_hash = ?", (digest,)).fetchone()
            if row is None:
                raise SessionEnded("unknown")
            if row["ended_at"] is not None:
                raise SessionEnded(row["end_reason"] or "logout")
            user_row = _user_row(con, row["user"])
            idle_limit, absolute_limit = self._limits_of(row)
            reason = None
            user: User | None = None
            if user_row is None or user_row["disabled"]:
                reason = "disabled"
            elif at - row["created_at"] >= absolute_limit:
                reason = "absolute"
            elif at - row["last_seen"] >= idle_limit:
                reason = "idle"
            if reason is not None:
                changed = con.execute(
                    "UPDATE sessions SET ended_at = ?, end_reason = ?"
                    " WHERE token_hash = ? AND ended_at IS NULL",
                    (at, reason, digest),
                ).rowcount
                if changed and reason in ("idle", "absolute"):
                    audit.record(
                        self.root,
                        user=row["user"],
                        action="logout_timeout",
                        reason=reason,
                        idle_minutes=round(idle_limit / 60, 2),
                        session_hours=round(absolute_limit / 3600, 2),
                        started=_iso(_time(row["created_at"])),
                        last_seen=_iso(_time(row["last_seen"])),
                        client=row["client"],
                    )
                ended = SessionEnded(reason, _end_message(reason, idle_limit, absolute_limit))
            elif user_row is not None:
                con.execute(
                    "UPDATE sessions SET last_seen = max(last_seen, ?) WHERE token_hash = ?",
                    (at, digest),
                )
                user = _user(user_row)
        if ended is not None or user is None:
            raise ended or SessionEnded("unknown")
        return _access(user)

    def end_session(self, token: str, reason: str = "logout") -> bool:
        """End a session (logout); False when it had already ended or is unknown."""
        if reason not in SESSION_END_REASONS:
            raise ValueError(f"unknown session end reason {reason!r}")
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
            return False
        digest = _token_hash(token)
        now = self._clock()
        with self._write() as con:
            row = con.execute(
                "SELECT user, client FROM sessions WHERE token_hash = ? AND ended_at IS NULL",
                (digest,),
            ).fetchone()
            if row is None:
                return False
            con.execute(
                "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE token_hash = ?",
                (now, reason, digest),
            )
            if reason == "logout":
                audit.record(self.root, user=row["user"], action="logout", client=row["client"])
        return True

    def end_user_sessions(self, name: str, reason: str = "logout") -> int:
        """End every open session of a user; the number ended."""
        if reason not in SESSION_END_REASONS:
            raise ValueError(f"unknown session end reason {reason!r}")
        key = canonical_name(name)
        now = self._clock()
        with self._write() as con:
            return _end_sessions(con, key, reason, now)

    def _limits_of(self, row: sqlite3.Row) -> tuple[float, float]:
        """(idle, absolute) seconds of a session: those it was started with; this store's
        own for a session started before sessions kept them."""
        idle = row["idle_limit"]
        absolute = row["absolute_limit"]
        return (
            float(idle) if idle is not None and idle > 0 else self.idle_timeout,
            float(absolute) if absolute is not None and absolute > 0 else self.absolute_limit,
        )

    # -- connections ---------------------------------------------------------------------

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise UserStoreError(f"无法打开用户库 {self.path}：{exc}") from exc
        try:
            con.row_factory = sqlite3.Row
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            if not self._ready:
                con.execute("PRAGMA journal_mode = WAL")
                con.execute("BEGIN IMMEDIATE")
                _create_schema(con)
                con.execute("COMMIT")
                self._ready = True
        except sqlite3.Error as exc:
            con.close()
            raise UserStoreError(f"无法打开用户库 {self.path}：{exc}") from exc
        return con

    def _create_files(self) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
        fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        """A connection for reading; None when there is no user database yet."""
        if not self.path.is_file():
            yield None
            return
        con = self._connect()
        try:
            yield con
        except sqlite3.Error as exc:
            raise UserStoreError(f"用户库出错：{exc}") from exc
        finally:
            con.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection in a write transaction, committed when the block ends normally and
        rolled back on any exception (an audit record that failed included)."""
        if not self._ready:
            self._create_files()
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            raise UserStoreError(f"用户库出错：{exc}") from exc
        finally:
            con.close()


# -- helpers -----------------------------------------------------------------------------


def _create_schema(con: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";\n"):
        if statement.strip():
            con.execute(statement)
    # Version 1 → 2: sessions keep the limits they were started with (NULL for the sessions
    # already open: they are checked against the limits of whoever checks them).
    columns = {r[1] for r in con.execute("PRAGMA table_info(sessions)").fetchall()}
    for column in ("idle_limit", "absolute_limit"):
        if column not in columns:
            con.execute(f"ALTER TABLE sessions ADD COLUMN {column} REAL")
    if con.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _end_message(reason: str, idle_limit: float, absolute_limit: float) -> str:
    if reason == "idle":
        return f"超过 {_minutes(idle_limit)}未操作，已自动退出，请重新登录"
    if reason == "absolute":
        return f"本次登录已超过 {_minutes(absolute_limit)}，请重新登录"
    return SESSION_END_REASONS[reason]


def _user_row(con: sqlite3.Connection, key: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = con.execute("SELECT * FROM users WHERE name = ?", (key,)).fetchone()
    return row


def _require_user(con: sqlite3.Connection, key: str) -> sqlite3.Row:
    row = _user_row(con, key)
    if row is None:
        raise AuthError(f"用户不存在：{key}")
    return row


def _ensure_other_admin(con: sqlite3.Connection, key: str) -> None:
    others = con.execute(
        "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name <> ?", (key,)
    ).fetchone()[0]
    if not others:
        raise AuthError("至少须保留一个可用的管理员账号")


def _end_sessions(
    con: sqlite3.Connection, key: str, reason: str, now: float, *, keep: str | None = None
) -> int:
    cursor = con.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ?"
        " WHERE user = ? AND ended_at IS NULL AND token_hash IS NOT ?",
        (now, reason, key, keep),
    )
    return int(cursor.rowcount)


def _locked_for(con: sqlite3.Connection, key: str, client: str, now: float) -> int:
    """Seconds until the name and client are both free to try again (0: free now)."""
    row = con.execute(
        "SELECT max(until) FROM lockouts WHERE until > ?"
        " AND ((kind = 'name' AND key = ?) OR (kind = 'client' AND key = ? AND key <> ''))",
        (now, key, client),
    ).fetchone()
    return math.ceil(row[0] - now) if row and row[0] is not None else 0


def _pending_over_limit(con: sqlite3.Connection, key: str, now: float) -> bool:
    """More unsuccessful attempts for the name (those being checked included) in the window
    than the limit allows, counted as `_lock_if_needed` counts them."""
    previous = con.execute(
        "SELECT after_id FROM lockouts WHERE kind = 'name' AND key = ?", (key,)
    ).fetchone()
    after = previous["after_id"] if previous is not None else 0
    last_ok = con.execute(
        "SELECT max(id) FROM login_attempts WHERE name = ? AND ok = 1", (key,)
    ).fetchone()[0]
    after = max(after or 0, last_ok or 0)
    failures = con.execute(
        "SELECT count(*) FROM login_attempts WHERE name = ? AND ok = 0 AND id > ? AND time > ?",
        (key, after, now - FAILURE_WINDOW),
    ).fetchone()[0]
    return int(failures) > NAME_FAILURES


def _lock_if_needed(con: sqlite3.Connection, key: str, client: str, now: float) -> int:
    """After a failure: lock the name and/or client out when they reached their limit in the
    window, counting only failures after their last lockout began and, for a name, after its
    last successful login. Returns the seconds of the lockout started, 0 for none."""
    longest = 0
    for kind, value, limit in (("name", key, NAME_FAILURES), ("client", client, CLIENT_FAILURES)):
        if not value:
            continue
        previous = con.execute(
            "SELECT level, until, after_id FROM lockouts WHERE kind = ? AND key = ?",
            (kind, value),
        ).fetchone()
        after = previous["after_id"] if previous is not None else 0
        if kind == "name":
            last_ok = con.execute(
                "SELECT max(id) FROM login_attempts WHERE name = ? AND ok = 1", (value,)
            ).fetchone()[0]
            after = max(after, last_ok or 0)
        # `kind` is one of two fixed column names, never user input.
        failures, last_id = con.execute(
            f"SELECT count(*), max(id) FROM login_attempts"
            f" WHERE {kind} = ? AND ok = 0 AND id > ? AND time > ?",
            (value, after, now - FAILURE_WINDOW),
        ).fetchone()
        if failures < limit:
            continue
        level = 1
        if previous is not None and previous["until"] > now - LOCKOUT_MEMORY:
            level = previous["level"] + 1
        seconds = min(LOCKOUT_FIRST * 2 ** min(level - 1, 16), LOCKOUT_MAX)
        con.execute(
            "INSERT INTO lockouts (kind, key, level, started, until, after_id)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET"
            " level = excluded.level, started = excluded.started, until = excluded.until,"
            " after_id = excluded.after_id",
            (kind, value, level, now, now + seconds, last_id),
        )
        longest = max(longest, seconds)
    return longest


def _prune(con: sqlite3.Connection, now: float) -> None:
    con.execute("DELETE FROM login_attempts WHERE time < ?", (now - LOCKOUT_MEMORY,))
    con.execute("DELETE FROM lockouts WHERE until < ?", (now - LOCKOUT_MEMORY,))
    con.execute("DELETE FROM sessions WHERE ended_at < ?", (now - SESSION_KEEP,))


def _user(row: sqlite3.Row) -> User:
    return User(
        name=row["name"],
        display_name=row["display_name"],
        role=row["role"],
        rounds=_scope(row["rounds"]),
        units=_scope(row["units"]),
        disabled=bool(row["disabled"]),
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
        password_changed_at=_time(row["password_changed_at"]),
        last_login_at=_time(row["last_login_at"]) if row["last_login_at"] is not None else None,
    )


def _access(user: User) -> Access:
    return Access(
        user=user.name,
        display_name=user.display_name,
        role=user.role,
        rounds=user.rounds,
        units=user.units,
        permissions=ROLE_PERMISSIONS.get(user.role, frozenset()),
    )


def _scope(text: str | None) -> tuple[str, ...] | None:
    """A stored scope; one that does not parse confines the user to nothing (fail closed)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value)


def _json(names: tuple[str, ...] | None) -> str | None:
    return None if names is None else json.dumps(list(names), ensure_ascii=False)


def _listed(names: tuple[str, ...] | None) -> list[str] | None:
    return None if names is None else list(names)


def _display_name(text: str | None, default: str) -> str:
    value = _clean(text or "", _MAX_DISPLAY + 1)
    if len(value) > _MAX_DISPLAY:
        raise AuthError(f"显示名称不能超过 {_MAX_DISPLAY} 个字符")
    return value or default


def _clean(text: str, limit: int) -> str:
    """Trimmed, without control characters, at most `limit` characters."""
    kept = "".join(c for c in str(text) if unicodedata.category(c) not in ("Cc", "Cf"))
    return kept.strip()[:limit]


def _attempt_name(name: str) -> str:
    """The name an attempt is counted under: as canonical as an arbitrary input can be."""
    return _clean(unicodedata.normalize("NFKC", str(name)), 64).lower()


def _header_value(value: str) -> str:
    """A user name from a header: percent-decoded, and UTF-8 bytes that arrived as Latin-1
    (how HTTP servers hand over non-ASCII header bytes) read as UTF-8."""
    with contextlib.suppress(UnicodeError):
        value = value.encode("latin-1").decode("utf-8")
    return urllib.parse.unquote(value.strip())


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _env_positive(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise AuthError(f"环境变量 {name} 应为正数：{raw!r}")
    return value


def _wait_message(seconds: int) -> str:
    return f"登录失败次数过多，请 {_minutes(seconds)}后再试"


def _minutes(seconds: float) -> str:
    if seconds < 60:
        return f"{math.ceil(seconds)} 秒"
    if seconds < 2 * 3600:
        return f"{math.ceil(seconds / 60)} 分钟"
    hours = seconds / 3600
    return f"{hours:g} 小时" if hours == int(hours) else f"{hours:.1f} 小时"


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
