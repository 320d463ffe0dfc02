"""Signing in: who this browser tab is, from a trusted reverse proxy's header, this tab's
session token (its idle and absolute limits checked on every run), the demo store opened
without a login, or the login form. A page never runs on a session that has ended."""

from __future__ import annotations

import logging
import os
import time

import streamlit as st

from xuncha.auth import (
    Access,
    AuthError,
    SessionEnded,
    UserStore,
    UserStoreError,
    client_address,
    trusted_client_header,
    trusted_header_name,
)
from xuncha.auth.gate import SESSION_COOKIE
from xuncha.store.reader import Reader
from xuncha.ui.data import is_demo_store, reader, users

_LOG = logging.getLogger("xuncha")
# Within one script run the session is checked once (app.py); pages that run on their own
# check it again when the last check is older than this.
_RECHECK_SECONDS = 0.5
ENDED_MESSAGES = {
    "idle": "会话因长时间无操作已结束，请重新登录。",
    "absolute": "会话已达到最长时限，请重新登录。",
    "logout": "已退出登录。",
    "disabled": "该账号已被停用。",
    "unknown": "会话已失效，请重新登录。",
}


def browser_address() -> str:
    """The browser's address, read once per session (a session is one websocket, so it
    never changes; st.context reads it from the request on every call). A connection from
    the loopback address (st.context gives None for it) is a local client or a reverse
    proxy: the address the proxy names in XUNCHA_TRUSTED_CLIENT_HEADER when that is set,
    else 127.0.0.1 — never nothing, so login failures are counted and locked out per
    address and recorded with it."""
    known = st.session_state.get("_client_address")
    if known is None:
        peer = getattr(st.context, "ip_address", None)
        try:
            headers = dict(st.context.headers) if trusted_client_header() else None
            known = client_address(peer, headers)
        except (AuthError, TypeError, ValueError):
            _LOG.exception("the client's address from XUNCHA_TRUSTED_CLIENT_HEADER: not used")
            known = client_address(peer)
        st.session_state["_client_address"] = known
    return str(known)


def login_gate(rd: Reader) -> Access:
    """Who this session is, or the login page and st.stop().

    In order: a user named by a trusted reverse proxy's header (only when configured); a
    live session of this browser tab (idle and absolute limits checked on every run); the
    demo store opened without a login (banner 演示数据, unless XUNCHA_DEMO_LOGIN=1); else
    the login form. A real store never opens without a login."""
    known = users()
    header = trusted_header_name()
    if header:
        try:
            found = known.access_from_header(dict(st.context.headers))
        except UserStoreError:
            raise  # an incident, not a refusal
        except AuthError:
            found = None
        if found is None:
            st.error("反向代理未提供有效的登录用户，请通过登录页面重新登录。")
            st.stop()
        # The proxy checked the session when the page connected; an open page is checked
        # again on every run (idle and absolute limits, logout elsewhere, a disabled user).
        cookie = dict(st.context.cookies).get(SESSION_COOKIE)
        if not cookie:
            # The gate always sets it: a header without it did not come through the gate.
            st.error("未通过登录网关访问，请通过登录页面重新登录。")
            st.stop()
        if cookie:
            try:
                again = known.check_session(str(cookie))
                if again.user != found.user:
                    raise SessionEnded("unknown")
            except SessionEnded as ended:
                forget_session()
                st.warning(
                    ENDED_MESSAGES.get(ended.reason, ENDED_MESSAGES["unknown"]),
                    icon=":material/schedule:",
                )
                st.link_button("重新登录", f"/_gate/login?ended={ended.reason}")
                st.stop()
        _remember(found, via_proxy=True)
        return found
    token = st.session_state.get("_token")
    if token:
        try:
            found = known.check_session(str(token))
        except SessionEnded as ended:
            forget_session()
            st.session_state["_ended"] = ENDED_MESSAGES.get(ended.reason, ENDED_MESSAGES["unknown"])
        else:
            _remember(found)
            st.session_state["_checked"] = time.monotonic()
            return found
    if (
        is_demo_store(rd)
        and os.environ.get("XUNCHA_DEMO_LOGIN") != "1"
        and not st.session_state.get("_want_login")
    ):
        demo_access = Access.for_demo()
        _remember(demo_access)
        return demo_access
    demo = is_demo_store(rd)
    # The login form is the only page there is: no other page is even registered.
    st.navigation(
        [st.Page(lambda: _login_form(known, demo=demo), title="登录", url_path="login")],
        position="hidden",
    ).run()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def _remember(found: Access, *, via_proxy: bool = False) -> None:
    if st.session_state.get("_access") != found:
        st.session_state["_access"] = found
    st.session_state["_via_proxy"] = via_proxy


def forget_session() -> None:
    """End this tab's sign-in and drop everything it held (drafts, query results, files), so
    the next person to sign in on the same tab inherits nothing."""
    st.session_state.clear()


def _login_form(known: UserStore, *, demo: bool) -> None:
    st.title("巡察数据驾驶舱")
    st.caption("内部资料 注意保密｜请使用本人账号登录，所有访问均记入审计日志。")
    ended = st.session_state.pop("_ended", None)
    if ended:
        st.info(ended, icon=":material/schedule:")
    if not known.has_users():
        st.warning(
            "尚未创建任何用户。请管理员在服务器上运行 "
            "`xuncha user add 用户名 --role admin` 创建第一个管理员。",
            icon=":material/person_add:",
        )
    with st.form("login", clear_on_submit=False):
        name = st.text_input("用户名", key="login_name", max_chars=64)
        password = st.text_input("密码", type="password", key="login_password", max_chars=256)
        submitted = st.form_submit_button("登录", type="primary", icon=":material/login:")
    if demo and st.button("返回演示（不登录）", key="login_back"):
        st.session_state.pop("_want_login", None)
        st.rerun()
    if submitted:
        result = known.authenticate(name, password, client=browser_address())
        st.session_state.pop("login_password", None)
        if result.ok and result.access is not None:
            st.session_state["_token"] = known.start_session(
                result.access, client=browser_address()
            )
            st.session_state["_access"] = result.access
            st.session_state.pop("_want_login", None)
            st.rerun()
        st.error(result.reason or "用户名或密码错误", icon=":material/error:")


def checked_access() -> Access:
    """The signed-in user, with the session checked again (idle and absolute limits, a
    disabled account). app.py checks it first on every run; this repeats the check for a
    page that runs on its own (Streamlit's pages directory: `streamlit run` without
    `xuncha serve`, AppTest reruns), so no page ever runs on a session that has ended."""
    found = st.session_state.get("_access")
    if not isinstance(found, Access):
        rd = reader()
        if is_demo_store(rd) and os.environ.get("XUNCHA_DEMO_LOGIN") != "1":
            found = Access.for_demo()
            _remember(found)
            return found
        _login_form(users(), demo=False)
        st.stop()
    if found.demo or st.session_state.get("_via_proxy"):
        return found
    now = time.monotonic()
    if now - float(st.session_state.get("_checked", 0.0)) > _RECHECK_SECONDS:
        token = st.session_state.get("_token")
        try:
            if not token:
                raise SessionEnded("unknown")
            found = users().check_session(str(token))
        except SessionEnded as ended:
            forget_session()
            st.session_state["_ended"] = ENDED_MESSAGES.get(ended.reason, ENDED_MESSAGES["unknown"])
            _login_form(users(), demo=False)
            st.stop()
        _remember(found)
        st.session_state["_checked"] = now
    return found
