"""Downloads bound to the session that made them.

Streamlit serves the file of a download button at /media/<id> to whoever asks for it: it
checks no login, and behind nginx and the gate anyone signed in passes. Every download of the
product is therefore *issued* when its file is built (the button clicked): recorded with the
user, the session and the browser that made it, for DOWNLOAD_SECONDS. `DownloadGuard`, which
`serve` puts in front of Streamlit's server, hands a download file only to a request of that
session, browser and user within that time, and refuses (and records) any other."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from xuncha import audit
from xuncha.auth import AuthError, PermissionDenied, UserStore, client_address
from xuncha.auth.gate import SESSION_COOKIE
from xuncha.ui.data import store
from xuncha.ui.session import signed_in

_LOG = logging.getLogger("xuncha")

DOWNLOAD_SECONDS = 120.0
XSRF_COOKIE = "_streamlit_xsrf"  # Streamlit's per-browser cookie (double-submit token)
MEDIA_PREFIX = "/media/"
_GUARD = {"installed": False}


@dataclasses.dataclass(frozen=True)
class Holder:
    """Whom a download is for, read in the session's own run (the file is built later, in a
    worker thread that has no session)."""

    user: str
    root: Path
    gate_session: str | None  # sha256 of the gate's session cookie (behind nginx and the gate)
    token: str | None  # the built-in login's session token (in this process's memory only)
    browser: str | None  # sha256 of the token in the browser's XSRF cookie

    @property
    def bound(self) -> bool:
        return self.gate_session is not None or self.browser is not None


@dataclasses.dataclass(frozen=True)
class _Ticket:
    holder: Holder
    file: str
    expires: float  # time.monotonic()


_TICKETS: dict[str, list[_Ticket]] = {}
_TICKETS_LOCK = threading.Lock()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _browser_key(cookie: str | None) -> str | None:
    """The browser's XSRF token (the cookie's value is masked afresh on every page load, its
    token stays): what binds a download to the browser that asked for it."""
    if not cookie:
        return None
    from streamlit.web.server.starlette.starlette_app_utils import decode_xsrf_token_string

    token, _ = decode_xsrf_token_string(str(cookie))
    return hashlib.sha256(token).hexdigest() if token else None


def current_holder() -> Holder:
    """Whom a download drawn in this run is for: read in the session's own run, because the
    file is built later, on click, in a worker thread that has no session."""
    try:
        who = signed_in().user
    except PermissionDenied:
        who = "匿名"
    cookies = {str(k): str(v) for k, v in dict(st.context.cookies).items()}
    gate = None
    if st.session_state.get("_via_proxy"):
        gate = _sha256(cookies.get(SESSION_COOKIE, ""))
    token = st.session_state.get("_token")
    return Holder(
        user=who,
        root=store().root,
        gate_session=gate,
        token=str(token) if token else None,
        browser=_browser_key(cookies.get(XSRF_COOKIE)),
    )


def issue(data: bytes, file_name: str, holder: Holder) -> None:
    """Record that the file with these bytes is `holder`'s for DOWNLOAD_SECONDS."""
    digest = hashlib.sha256(data).hexdigest()
    now = time.monotonic()
    with _TICKETS_LOCK:
        for key in list(_TICKETS):
            live = [t for t in _TICKETS[key] if t.expires > now]
            if live:
                _TICKETS[key] = live
            else:
                del _TICKETS[key]
        _TICKETS.setdefault(digest, []).append(_Ticket(holder, file_name, now + DOWNLOAD_SECONDS))


def _live_session(root: Path, token: str, user: str) -> bool:
    try:
        return UserStore(root).check_session(token).user == user
    except AuthError:  # SessionEnded included
        return False


def _holds(holder: Holder, cookies: Mapping[str, str]) -> bool:
    """Whether a request with these cookies comes from the session and browser of `holder`
    (and that session is still live)."""
    if not holder.bound:
        return False
    if holder.browser is not None:
        sent = _browser_key(cookies.get(XSRF_COOKIE))
        if sent is None or not hmac.compare_digest(sent, holder.browser):
            return False
    if holder.gate_session is not None:
        cookie = cookies.get(SESSION_COOKIE) or ""
        if not cookie or not hmac.compare_digest(_sha256(cookie), holder.gate_session):
            return False
        if not _live_session(holder.root, cookie, holder.user):
            return False
    return holder.token is None or _live_session(holder.root, holder.token, holder.user)


def download_refusal(digest: str, cookies: Mapping[str, str]) -> tuple[str, list[str]] | None:
    """None when the download file with this SHA-256 may go to the request with `cookies`;
    else why not ("expired": issued to this request's session but too long ago,
    "not_yours": issued to another session or user, "unknown": never issued) and the names
    of the files issued with these bytes."""
    now = time.monotonic()
    with _TICKETS_LOCK:
        tickets = list(_TICKETS.get(digest, ()))
    files = sorted({t.file for t in tickets})
    if not tickets:
        return "unknown", files
    mine = [t for t in tickets if _holds(t.holder, cookies)]
    if any(t.expires > now for t in mine):
        return None
    return ("expired" if mine else "not_yours"), files


_REFUSALS = {
    "expired": f"下载链接已过期（生成后 {int(DOWNLOAD_SECONDS // 60)} 分钟内有效）。"
    "请回到页面重新点击下载按钮。",
    "not_yours": "该下载文件不属于当前登录的用户或会话，不能下载。",
    "unknown": "下载文件不存在或已失效。请回到页面重新点击下载按钮。",
    "unavailable": "下载服务暂时不可用，请稍后再试。",
}


class DownloadGuard:
    """ASGI middleware in front of Streamlit's server: a download file at /media/… goes only
    to the session, browser and user it was issued to, within DOWNLOAD_SECONDS; a refusal is
    a short page in Chinese and an audit record (`download_refused`). Everything else (the
    page icon under /media/, the pages, the websocket) passes untouched."""

    def __init__(
        self,
        app: Any,
        files: Callable[[str], Any],
        *,
        root: Path,
        prefix: str = MEDIA_PREFIX,
    ) -> None:
        self.app = app
        self.files = files  # name under /media/ → Streamlit's stored file, or None
        self.root = root
        self.prefix = prefix

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = str(scope.get("path") or "")
        if (
            scope.get("type") != "http"
            or scope.get("method") not in ("GET", "HEAD")
            or not path.startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        import asyncio

        from starlette.requests import Request

        request = Request(scope)
        cookies = dict(request.cookies)
        headers = dict(request.headers)
        peer = request.client.host if request.client else None
        name = path[len(self.prefix) :]
        refused = await asyncio.to_thread(self._refusal, name, cookies, headers, peer)
        if refused is not None:
            body = _REFUSALS[refused].encode("utf-8")
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"cache-control", b"no-store"),
                        (b"x-content-type-options", b"nosniff"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def private(message: Any) -> None:
            if message.get("type") == "http.response.start":
                kept = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                ]
                message = {**message, "headers": [*kept, (b"cache-control", b"no-store")]}
            await send(message)

        await self.app(scope, receive, private)

    def _refusal(
        self, name: str, cookies: Mapping[str, str], headers: Mapping[str, str], peer: str | None
    ) -> str | None:
        from streamlit.runtime.media_file_storage import MediaFileKind

        files: list[str] = []
        try:
            found = self.files(name)
        except Exception:
            _LOG.exception("download %s: the stored file could not be read", name)
            reason = "unavailable"
        else:
            if found is None or getattr(found, "kind", None) != MediaFileKind.DOWNLOADABLE:
                return None  # not a download: Streamlit answers (a page icon, or 404)
            digest = hashlib.sha256(found.content).hexdigest()
            verdict = download_refusal(digest, cookies)
            if verdict is None:
                return None
            reason, files = verdict
        self._record(name, reason, files, headers, peer)
        return reason

    def _record(
        self,
        name: str,
        reason: str,
        files: list[str],
        headers: Mapping[str, str],
        peer: str | None,
    ) -> None:
        who = "匿名"
        with contextlib.suppress(AuthError):
            asking = UserStore(self.root).access_from_header(headers)
            if asking is not None:
                who = asking.user
        try:
            client = client_address(peer, headers)
        except AuthError:
            client = client_address(peer)
        try:
            audit.record(
                self.root,
                user=who,
                action="download_refused",
                reason=reason,
                media=name[:200],
                files=files,
                client=client,
            )
        except Exception:
            _LOG.exception("download %s refused (%s) but not audited", name, reason)


def guard_installed() -> bool:
    """Whether DownloadGuard is in front of this process's server (`install_download_guard`)."""
    return bool(_GUARD["installed"])


def install_download_guard() -> None:
    """Put DownloadGuard in front of the Streamlit server this process is about to start
    (`serve`). Streamlit has no hook for it: its server builds its ASGI application with
    `starlette_server.create_starlette_app(runtime)`, which is wrapped here. Fails, and so
    the dashboard does not start, when that function is gone (another Streamlit)."""
    from streamlit.web.server.starlette import starlette_server

    original = starlette_server.create_starlette_app
    if getattr(original, "_xuncha_guarded", False):
        _GUARD["installed"] = True
        return
    root = store().root

    def guarded(runtime: Any) -> Any:
        from streamlit import config as streamlit_config

        base = str(streamlit_config.get_option("server.baseUrlPath") or "").strip("/")
        prefix = f"/{base}{MEDIA_PREFIX}" if base else MEDIA_PREFIX
        manager = runtime.media_file_mgr
        return DownloadGuard(original(runtime), manager.read_file, root=root, prefix=prefix)

    guarded._xuncha_guarded = True  # type: ignore[attr-defined]
    setattr(starlette_server, "create_starlette_app", guarded)  # noqa: B010
    _GUARD["installed"] = True
