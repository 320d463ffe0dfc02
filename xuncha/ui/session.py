"""What the signed-in session may do, and what it does on the record: its access (an
administrator previewing as another user sees what that user sees), permission checks that
refuse on the record, the audit records of this session, the user bar, and incidents (an
unexpected error shows only an id)."""

from __future__ import annotations

import dataclasses
import logging
import secrets
from pathlib import Path
from typing import Any

import streamlit as st

from xuncha import audit
from xuncha.auth import (
    BRIEFING,
    CLUE_DETAILS,
    MANAGE_USERS,
    PERMISSIONS,
    Access,
    AuthError,
    PermissionDenied,
    UserStoreError,
)
from xuncha.filters import Filters
from xuncha.ui.data import store, users
from xuncha.ui.login import ENDED_MESSAGES, browser_address, checked_access, forget_session
from xuncha.ui.text import md

_LOG = logging.getLogger("xuncha")


def access() -> Access:
    """The access of this session: the signed-in user, or the user an administrator is
    previewing as. Pages never decide scope themselves; they ask here."""
    found = checked_access()
    preview = st.session_state.get("_preview_as")
    if preview and found.can(MANAGE_USERS):
        try:
            shown = users().access_for(str(preview))
        except PermissionDenied:
            st.session_state.pop("_preview_as", None)
        else:
            # The previewed user's scope, with only the rights both have: previewing a case
            # officer shows no clue details, previewing the office grants no imports.
            return dataclasses.replace(shown, permissions=shown.permissions & found.permissions)
    return found


def signed_in() -> Access:
    """The signed-in user themself (never the previewed one): who is recorded as acting."""
    return checked_access()


def can(permission: str) -> bool:
    try:
        return access().can(permission)
    except PermissionDenied:
        return False


def require(permission: str, *, own: bool = False) -> None:
    """Stop the page with a refusal (audited) unless this session may `permission` (`own`:
    the signed-in user themself, not the user being previewed — administration pages)."""
    if own:
        try:
            if signed_in().can(permission):
                return
        except PermissionDenied:
            pass
    elif can(permission):
        return
    label = PERMISSIONS.get(permission, permission)
    record("refused", permission=permission, page=_page_name())
    st.error(f"没有{label}权限。如需使用，请联系管理员。", icon=":material/block:")
    st.stop()


@dataclasses.dataclass(frozen=True)
class ActingContext:
    """Who acts, from where, on which store: read in the session's own script thread, so a
    record can be written later from a thread that has no session (a download built on
    click runs in a worker thread where st.session_state is not this user's)."""

    root: Path
    user: str
    preview_as: str | None
    client: str | None
    page: str

    def record(self, action: str, **details: Any) -> None:
        if self.preview_as:
            details["preview_as"] = self.preview_as
        if self.client:
            details["client"] = self.client
        audit.record(self.root, user=self.user, action=action, **details)


def acting_context() -> ActingContext:
    try:
        who = signed_in().user
    except PermissionDenied:
        who = "匿名"
    return ActingContext(
        root=store().root,
        user=who,
        preview_as=st.session_state.get("_preview_as") or None,
        client=browser_address() or None,
        page=_page_name(),
    )


def record(action: str, **details: Any) -> None:
    """One audit record for this session (user, preview target, client address)."""
    acting_context().record(action, **details)


def _page_name() -> str:
    return str(st.session_state.get("_page_title") or "")


def record_page_view(title: str) -> None:
    """A page view with its filters, once per page and filter state (not on every rerun)."""
    st.session_state["_page_title"] = title
    filters: Filters = st.session_state.get("filters") or Filters()
    key = (title, tuple(sorted(filters.to_url().items())), st.session_state.get("_preview_as"))
    if st.session_state.get("_viewed") == key:
        return
    st.session_state["_viewed"] = key
    record("page_view", page=title, filters=filters.to_url())


def start_preview(name: str) -> None:
    """An administrator previews the product as `name` (audited) until they end it."""
    require(MANAGE_USERS, own=True)
    users().access_for(name)  # PermissionDenied for an unknown or disabled user
    st.session_state["_preview_as"] = name
    record("preview_as", target=name)
    st.switch_page("pages/overview.py")


def user_bar() -> None:
    """Sidebar: who is signed in, their scope, logout; the preview banner."""
    me = signed_in()
    with st.sidebar:
        if me.demo:
            st.caption(":material/science: 演示数据｜未登录（演示用户）")
            if users().has_users() and st.button("登录", key="user_login", icon=":material/login:"):
                st.session_state["_want_login"] = True
                forget_session()
                st.rerun()
            return
        st.caption(f"当前用户：{md(me.describe())}")
        if st.session_state.get("_via_proxy"):
            st.link_button("退出登录", "/_gate/logout", icon=":material/logout:")
        elif st.button("退出登录", key="user_logout", icon=":material/logout:"):
            token = st.session_state.get("_token")
            if token:
                users().end_session(str(token), "logout")
            forget_session()
            st.session_state["_ended"] = ENDED_MESSAGES["logout"]
            st.rerun()
    preview = st.session_state.get("_preview_as")
    if preview and me.can(MANAGE_USERS):
        shown = access()
        cols = st.columns([5, 1])
        cols[0].warning(
            f"正在以 {md(shown.describe())} 的身份预览：看到的就是该用户能看到的全部内容。",
            icon=":material/visibility:",
        )
        if cols[1].button("结束预览", key="preview_end"):
            record("preview_end", target=preview)
            st.session_state.pop("_preview_as", None)
            st.rerun()


def incident(exc: BaseException) -> None:
    """An unexpected error: the details go to the server log and the audit trail under an
    incident id; the user sees only the id."""
    code = secrets.token_hex(4).upper()
    _LOG.exception("incident %s on page %s", code, _page_name(), exc_info=exc)
    try:
        # Who, from the session as it stands: checking it again could itself fail or ask
        # for the password (st.stop), and the user would never see the id.
        known = st.session_state.get("_access")
        ActingContext(
            root=store().root,
            user=known.user if isinstance(known, Access) else "匿名",
            preview_as=st.session_state.get("_preview_as") or None,
            client=browser_address() or None,
            page=_page_name(),
        ).record("error", incident=code, page=_page_name(), error=type(exc).__name__)
    except Exception:
        _LOG.exception("incident %s could not be audited", code)
    st.error(
        f"页面出现错误，事件编号 {code}。请将编号告知管理员，详细信息已记入服务器日志。",
        icon=":material/error:",
    )


def show_error(exc: AuthError) -> None:
    """A refusal of the user store to the page (a name taken, a role without a scope, a weak
    password): its message, inert. A failure of the user database itself is an incident
    (its message names server paths)."""
    if isinstance(exc, UserStoreError):
        incident(exc)
    else:
        st.error(md(str(exc)), icon=":material/error:")


def user_name() -> str:
    """Who is acting: the signed-in user (recorded in batches, exports and the audit trail)."""
    try:
        return signed_in().user
    except PermissionDenied:
        return "匿名"


def clue_details() -> bool:
    """Whether this session may see clue details (case staff); otherwise counts, "<3"."""
    return can(CLUE_DETAILS)


def can_see_all_briefings() -> bool:
    """Whether this session sees every archived briefing (unscoped roles) or only its own."""
    who = access()
    return who.can(BRIEFING) and not who.scoped
