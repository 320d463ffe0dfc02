"""Downloads bound to the session and user that made them (DownloadGuard in front of
Streamlit's /media/, installed by `xuncha serve`).

Here the guard on its own, as an ASGI application around a stand-in server, and the pages'
buttons in AppTest. Served for real: a browser on the built-in login
(tests/test_browser_access.py) and nginx with the gate (tests/test_proxy.py)."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import streamlit as st
from argon2 import PasswordHasher
from streamlit.runtime.media_file_storage import MediaFileKind
from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

from tests.conftest import AS_OF
from xuncha import audit, ui
from xuncha.auth import UserStore
from xuncha.auth.gate import SESSION_COOKIE
from xuncha.store import Store
from xuncha.ui import download_guard

PASSWORD = "Xuncha-Test-2026"
CSV = "\ufeff问题编号,具体问题\n1,公务接待超标准\n".encode()
MEDIA = "0123456789abcdef0123456789abcdef0123456789abcdef01234567.csv"
BROWSER = b"A" * 16  # the token in one browser's XSRF cookie
OTHER_BROWSER = b"B" * 16


@pytest.fixture()
def users(tmp_path: Path) -> UserStore:
    known = UserStore(tmp_path, hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    known.add_user("zhangsan", "office", actor="test", password=PASSWORD)
    known.add_user("王五", "viewer", actor="test", password=PASSWORD)
    return known


@pytest.fixture(autouse=True)
def _no_tickets() -> Iterator[None]:
    with download_guard._TICKETS_LOCK:
        download_guard._TICKETS.clear()
    yield
    with download_guard._TICKETS_LOCK:
        download_guard._TICKETS.clear()


def xsrf(token: bytes) -> str:
    """The cookie Streamlit sets: the token masked afresh on every page load."""
    return generate_xsrf_token_string(token)


class Served:
    """A stand-in for Streamlit's server behind the guard: answers every request with the
    file (and says whether it was reached)."""

    def __init__(self) -> None:
        self.reached: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.reached.append(scope["path"])
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/csv"), (b"cache-control", b"max-age=60")],
            }
        )
        await send({"type": "http.response.body", "body": CSV})


def guard_for(root: Path, files: dict[str, Any]) -> tuple[ui.DownloadGuard, Served]:
    served = Served()
    return ui.DownloadGuard(served, files.get, root=root), served


def fetch(
    guard: ui.DownloadGuard,
    path: str = "/media/" + MEDIA,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> tuple[int, dict[str, str], bytes]:
    sent = [(k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()]
    if cookies:
        sent.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": sent,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8501),
        "scheme": "http",
        "http_version": "1.1",
    }
    out: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            out["body"] += message.get("body", b"")

    asyncio.run(guard(scope, receive, send))
    return out["status"], out["headers"], out["body"]


def download(content: bytes = CSV) -> SimpleNamespace:
    return SimpleNamespace(kind=MediaFileKind.DOWNLOADABLE, content=content)


def built_in(users: UserStore, name: str = "zhangsan") -> str:
    return users.start_session(users.access_for(name), client="10.0.0.5")


def holder(users: UserStore, **bound: Any) -> Any:
    fields: dict[str, Any] = {"user": "zhangsan", "gate_session": None, "token": None}
    fields["browser"] = hashlib.sha256(BROWSER).hexdigest()
    return download_guard.Holder(root=users.root, **{**fields, **bound})


def refusals(root: Path) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(root) if e.action == "download_refused"]


def test_only_the_browser_and_live_session_that_made_a_download_get_it(users: UserStore) -> None:
    token = built_in(users)
    download_guard.issue(CSV, "问题清单.csv", holder(users, token=token))
    guard, served = guard_for(users.root, {MEDIA: download()})

    status, headers, body = fetch(guard, cookies={ui.XSRF_COOKIE: xsrf(BROWSER)})
    assert (status, body) == (200, CSV)
    assert headers["cache-control"] == "no-store"  # never kept by the browser or a proxy
    # The same browser after another page load (the cookie masked afresh), and HEAD.
    assert fetch(guard, cookies={ui.XSRF_COOKIE: xsrf(BROWSER)}, method="HEAD")[0] == 200

    for cookies in ({}, {ui.XSRF_COOKIE: xsrf(OTHER_BROWSER)}, {ui.XSRF_COOKIE: "2|x|y|1"}):
        status, headers, body = fetch(guard, cookies=cookies)
        assert status == 403, cookies
        assert "不属于当前登录的用户或会话" in body.decode()
        assert headers["cache-control"] == "no-store"
    assert len(served.reached) == 2  # the refused requests never reached the server
    refused = refusals(users.root)
    assert len(refused) == 3
    assert {e.details["reason"] for e in refused} == {"not_yours"}
    assert refused[-1].details["files"] == ["问题清单.csv"]
    assert refused[-1].details["client"] == "127.0.0.1"

    # Logged out: the link is dead for the browser that made it too.
    users.end_session(token)
    assert fetch(guard, cookies={ui.XSRF_COOKIE: xsrf(BROWSER)})[0] == 403


def test_a_download_expires(users: UserStore, monkeypatch: pytest.MonkeyPatch) -> None:
    download_guard.issue(CSV, "问题清单.csv", holder(users, token=built_in(users)))
    guard, _ = guard_for(users.root, {MEDIA: download()})
    assert fetch(guard, cookies={ui.XSRF_COOKIE: xsrf(BROWSER)})[0] == 200
    now = download_guard.time.monotonic()
    monkeypatch.setattr(download_guard.time, "monotonic", lambda: now + ui.DOWNLOAD_SECONDS + 1)
    status, _, body = fetch(guard, cookies={ui.XSRF_COOKIE: xsrf(BROWSER)})
    assert status == 403 and "已过期" in body.decode()
    assert refusals(users.root)[-1].details["reason"] == "expired"


def test_behind_the_gate_a_download_is_the_sessions_not_the_signed_in_users(
    users: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind nginx every request carries a live session of someone: the file goes only to
    the session it was made in (its cookie, checked live), not to another signed-in user."""
    monkeypatch.setenv("XUNCHA_TRUSTED_USER_HEADER", "X-Xuncha-User")
    mine = built_in(users)
    theirs = built_in(users, "王五")
    download_guard.issue(
        CSV,
        "问题清单.csv",
        holder(users, gate_session=download_guard._sha256(mine), browser=None, token=None),
    )
    guard, _ = guard_for(users.root, {MEDIA: download()})
    assert (
        fetch(guard, cookies={SESSION_COOKIE: mine}, headers={"X-Xuncha-User": "zhangsan"})[0]
        == 200
    )
    status, _, _ = fetch(
        guard, cookies={SESSION_COOKIE: theirs}, headers={"X-Xuncha-User": "%E7%8E%8B%E4%BA%94"}
    )
    assert status == 403
    refused = refusals(users.root)[-1]
    assert refused.user == "王五" and refused.details["reason"] == "not_yours"
    # Another session of the same user (another browser) does not get it either.
    assert fetch(guard, cookies={SESSION_COOKIE: built_in(users)})[0] == 403
    users.end_session(mine)
    assert fetch(guard, cookies={SESSION_COOKIE: mine})[0] == 403


def test_only_download_files_are_guarded(users: UserStore) -> None:
    icon = SimpleNamespace(kind=MediaFileKind.MEDIA, content=b"\x89PNG")
    guard, served = guard_for(users.root, {"icon.png": icon, MEDIA: download()})
    assert fetch(guard, "/media/icon.png")[0] == 200  # the page icon: for everybody
    assert fetch(guard, "/media/missing.bin")[0] == 200  # Streamlit answers (404 there)
    assert fetch(guard, "/_stcore/health")[0] == 200
    # A download file nobody was issued (a button outside the product's helpers): refused.
    status, _, body = fetch(guard, cookies={ui.XSRF_COOKIE: xsrf(BROWSER)})
    assert status == 403 and "不存在或已失效" in body.decode()
    assert refusals(users.root)[-1].details["reason"] == "unknown"
    assert served.reached == ["/media/icon.png", "/media/missing.bin", "/_stcore/health"]


def test_serve_puts_the_guard_in_front_of_streamlits_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from streamlit.web.server.starlette import starlette_server

    monkeypatch.setenv("XUNCHA_DB", str(tmp_path))
    monkeypatch.setattr(starlette_server, "create_starlette_app", lambda runtime: "streamlit")
    monkeypatch.setitem(download_guard._GUARD, "installed", False)
    ui.install_download_guard()
    runtime = SimpleNamespace(media_file_mgr=SimpleNamespace(read_file=lambda name: None))
    app = starlette_server.create_starlette_app(runtime)
    assert isinstance(app, ui.DownloadGuard) and app.app == "streamlit"
    assert app.root == tmp_path and app.prefix == "/media/"
    assert download_guard._GUARD["installed"]


def test_the_pages_downloads_are_issued_to_the_session_that_clicked(
    demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The buttons of a page (AppTest): the file built on click is audited and issued to
    the signed-in user's session, never to nobody in particular."""
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP

    target = tmp_path / "store"
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    real = Store(target)
    real.write(lambda con: con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'"))
    users = UserStore(target, hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    users.add_user("u_office", "office", actor="test", password=PASSWORD)
    monkeypatch.setenv("XUNCHA_DB", str(target))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    found: dict[str, Any] = {}

    def button(label: str, *, data: Any, key: str, **kwargs: Any) -> bool:
        found[key] = data
        return False

    monkeypatch.setattr(st, "download_button", button)
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()
    try:
        token = users.start_session(users.access_for("u_office"))
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["asof"] = AS_OF.isoformat()
        at.session_state["_token"] = token
        at.run()
        at.switch_page("pages/overview.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert found, "no download button on the overview"
        build = next(iter(found.values()))
        out: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: out.setdefault("data", build()))
        worker.start()
        worker.join(120)
        digest = hashlib.sha256(out["data"]).hexdigest()
        tickets = download_guard._TICKETS[digest]
        assert [(t.holder.user, t.holder.token) for t in tickets] == [("u_office", token)]
        assert 0 < tickets[0].expires - download_guard.time.monotonic() <= ui.DOWNLOAD_SECONDS
        exports = [e for e in audit.entries(target) if e.action == "export"]
        assert exports and exports[-1].details["sha256"] == digest
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
        ui.clear_caches()
