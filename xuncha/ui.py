"""The only module of the package that imports streamlit: cached readers keyed on the data
version, the shared filters kept in the URL, and the common widgets pages use."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import html
import importlib
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from xuncha import audit, labels
from xuncha.auth import (
    BRIEFING,
    CLUE_DETAILS,
    EXPORT,
    MANAGE_USERS,
    PERMISSIONS,
    SQL,
    VIEW_PAGES,
    Access,
    AuthError,
    PermissionDenied,
    SessionEnded,
    UserStore,
    UserStoreError,
    client_address,
    scope_ids,
    trusted_client_header,
    trusted_header_name,
)
from xuncha.auth.gate import SESSION_COOKIE
from xuncha.figures import DEFINITIONS
from xuncha.figures.rates import format_rate
from xuncha.filters import Filters, Scope, describe_filters, resolve_scope
from xuncha.store import Store, StoreError, open_reader, permissions
from xuncha.store.reader import Reader

# plotly imports pandas lazily while building the first figure; two sessions doing that at
# once race on the half-initialised module ("partially initialized module 'pandas'"), seen
# in the load test. Import it once here, where it is installed.
with contextlib.suppress(ImportError):
    importlib.import_module("pandas")

DEFAULT_STORE = Path(__file__).resolve().parents[1] / "data" / "demo"
# Rows of a table sent to the browser: more cost seconds to serialise and draw at provincial
# scale and nobody reads them on screen; exports hold every row.
TABLE_MAX_ROWS = 2000
# Query results kept per process (shared by all sessions, keyed on the data version).
QUERY_CACHE_ENTRIES = 160
_FILTER_KEYS = ("f_rounds", "f_kind", "f_sector", "f_peer", "f_unit", "f_l1", "f_l2", "f_asof")


def store() -> Store:
    return Store(os.environ.get("XUNCHA_DB") or DEFAULT_STORE)


# The reader open on each version number of a store, while anybody holds it: DuckDB hands a
# second connect() to a path the database it already has open there, so the reader of a
# version that a restore replaced must be closed before the new file of that number is read.
_OPEN_READERS: weakref.WeakValueDictionary[tuple[str, int], Reader] = weakref.WeakValueDictionary()
_OPEN_LOCK = threading.Lock()


@st.cache_resource(max_entries=2, show_spinner=False)
def _reader_for(root: str, version: int, identity: str) -> Reader:
    # Keyed on the version's identity too: a number used again after a restore is another
    # version, never the one this process read before.
    with _OPEN_LOCK:
        stale = _OPEN_READERS.get((root, version))
        if stale is not None and stale.identity != identity:
            stale.close()  # its file no longer exists under this number
        reader = open_reader(Store(root), version)
        _OPEN_READERS[(root, version)] = reader
    return reader


@st.cache_resource(max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def _cached_query(
    root: str, identity: str, version: int, name: str, params_key: str, _params: Mapping[str, Any]
) -> pl.DataFrame:
    # Keyed on a digest of the parameters: Streamlit's own hashing of a list of tens of
    # thousands of inspection ids on every call would cost more than the query.
    # A resource cache, not a data cache: a data cache unpickles a copy on every hit (140 ms
    # for a 200,000-row list at provincial scale) and keeps one pickled copy per entry.
    # Polars frames are immutable, so every session can share the same one.
    return _reader_for(root, version, identity).query(name, _params)


def _params_key(params: Mapping[str, Any]) -> str:
    return hashlib.blake2b(repr(sorted(params.items())).encode(), digest_size=16).hexdigest()


# Figures kept per process: a scorecard of one round at provincial scale holds ~14 MB of
# frames (5,128 units, 66,664 indicator rows) and the trend ~7 MB, so 64 entries could
# hold most of a gigabyte; twelve cover the rounds and dates a few leaders look at.
FIGURE_CACHE_ENTRIES_SHARED = 12


@st.cache_resource(max_entries=FIGURE_CACHE_ENTRIES_SHARED, show_spinner=False)
def _cached_figure(root: str, identity: str, key: str, _call: Callable[[], Any]) -> Any:
    return _call()


def _key_part(value: Any) -> Any:
    digest = getattr(value, "digest", None)
    if callable(digest):  # a configuration: its digest covers what changes a result
        return ("digest", digest())
    if isinstance(value, Scope):
        return (
            "scope",
            value.params(),
            sorted(value.unit_filter) if value.unit_filter is not None else None,
            value.population_ids,
        )
    return value


def figure(fn: Callable[..., Any], rd: Reader, scope: Scope, *args: Any, **kwargs: Any) -> Any:
    """fn(rd, scope, *args, **kwargs) computed once per data version and arguments, shared by
    every session (figures whose Python work over many units costs more than their queries:
    the scorecards and their trend across rounds)."""
    parts = (
        fn.__module__,
        fn.__qualname__,
        _key_part(scope),
        [_key_part(a) for a in args],
        sorted((k, _key_part(v)) for k, v in kwargs.items()),
    )
    key = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return _cached_figure(
        str(rd.store.root), rd.identity, key, lambda: fn(rd, scope, *args, **kwargs)
    )


class CachedReader(Reader):
    """A reader whose named-query results are cached per data version: a new import makes a
    new version, so nothing stale is ever served and nothing needs expiring by time."""

    def __init__(self, inner: Reader) -> None:
        super().__init__(inner.store, inner.version, inner._con, inner.identity)
        self._root = str(inner.store.root)

    def query(self, name: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        if get_script_run_ctx(suppress_warning=True) is None:
            # Outside a script run (a download built on click, in a worker thread): the
            # whole list is read once for the file, not kept in the shared cache.
            return Reader.query(self, name, params)
        given = dict(params or {})
        return _cached_query(
            self._root, self.identity, self.version, name, _params_key(given), given
        )


def reader() -> CachedReader:
    """The reader on the store's current version (re-read at every run, so a new version
    published by an import is picked up on the next interaction)."""
    target = store()
    if not target.exists() and target.root.resolve() == DEFAULT_STORE.resolve():
        _build_demo(target)
    _private_once(target.root)
    number = target.version()
    return CachedReader(_reader_for(str(target.root), number, target.identity(number)))


_PRIVATE_ROOTS: set[str] = set()


def _private_once(root: Path) -> None:
    """Once per process and store: take the group and other bits off what a store made
    before the umask rule still has (xuncha.store.permissions)."""
    key = str(root)
    if key not in _PRIVATE_ROOTS:
        _PRIVATE_ROOTS.add(key)
        changed = permissions.private_tree(root)
        if changed:
            _LOG.warning("store %s: %d entries made private to their owner", root, changed)


def reader_or_stop() -> CachedReader:
    """`reader()`, or, when the store cannot be read (damaged, lost pointer, full disk), one
    line in Chinese saying so and what the administrator does, and the run stops: no page
    runs on a store it cannot read. The details (server paths included) go to the log."""
    try:
        return reader()
    except StoreError as exc:
        _LOG.error("store unavailable: %s", exc)
        st.error(
            "数据仓暂时无法打开（数据文件损坏、版本指针丢失或磁盘已满），驾驶舱未作任何更改。"
            "请管理员在服务器上运行 xuncha repair 查看并修复；详细信息已记入服务器日志。",
            icon=":material/error:",
        )
        st.stop()
        raise  # st.stop() does not return


def _build_demo(target: Store) -> None:
    from xuncha import demo

    with st.spinner("首次启动：正在生成演示数据……"):
        if not target.exists():
            try:  # the one audited way to build a demo store, which refuses a real store
                version = demo.build_store(target, user="system", source="dashboard").version
            except demo.DemoRefused as exc:
                raise StoreError(str(exc)) from exc
            prepare_sandbox(target, version)


def prepare_sandbox(target: Store, version: int) -> None:
    """After a write: the whole store's 数据查询 sandbox, built once for the new version
    (xuncha.sandbox.prepare; a failure only means it is built when first asked for)."""
    from xuncha.sandbox import prepare

    with st.spinner("正在准备数据查询……"):
        prepare(target, version)


# -- access ----------------------------------------------------------------------------

_LOG = logging.getLogger("xuncha")
# Within one script run the session is checked once (app.py); pages that run on their own
# check it again when the last check is older than this.
_RECHECK_SECONDS = 0.5
_ENDED = {
    "idle": "会话因长时间无操作已结束，请重新登录。",
    "absolute": "会话已达到最长时限，请重新登录。",
    "logout": "已退出登录。",
    "disabled": "该账号已被停用。",
    "unknown": "会话已失效，请重新登录。",
}


def users() -> UserStore:
    return UserStore(store().root)


def is_demo_store(rd: Reader) -> bool:
    return rd.scalar("SELECT value FROM store_meta WHERE key = 'demo'") == "true"


def _client() -> str:
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
                _forget()
                st.warning(_ENDED.get(ended.reason, _ENDED["unknown"]), icon=":material/schedule:")
                st.link_button("重新登录", f"/_gate/login?ended={ended.reason}")
                st.stop()
        _remember(found, via_proxy=True)
        return found
    token = st.session_state.get("_token")
    if token:
        try:
            found = known.check_session(str(token))
        except SessionEnded as ended:
            _forget()
            st.session_state["_ended"] = _ENDED.get(ended.reason, _ENDED["unknown"])
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


def _forget() -> None:
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
        result = known.authenticate(name, password, client=_client())
        st.session_state.pop("login_password", None)
        if result.ok and result.access is not None:
            st.session_state["_token"] = known.start_session(result.access, client=_client())
            st.session_state["_access"] = result.access
            st.session_state.pop("_want_login", None)
            st.rerun()
        st.error(result.reason or "用户名或密码错误", icon=":material/error:")


def _session_access() -> Access:
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
            _forget()
            st.session_state["_ended"] = _ENDED.get(ended.reason, _ENDED["unknown"])
            _login_form(users(), demo=False)
            st.stop()
        _remember(found)
        st.session_state["_checked"] = now
    return found


def access() -> Access:
    """The access of this session: the signed-in user, or the user an administrator is
    previewing as. Pages never decide scope themselves; they ask here."""
    found = _session_access()
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
    return _session_access()


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
class _Context:
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


def _context() -> _Context:
    try:
        who = signed_in().user
    except PermissionDenied:
        who = "匿名"
    return _Context(
        root=store().root,
        user=who,
        preview_as=st.session_state.get("_preview_as") or None,
        client=_client() or None,
        page=_page_name(),
    )


def record(action: str, **details: Any) -> None:
    """One audit record for this session (user, preview target, client address)."""
    _context().record(action, **details)


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
                _forget()
                st.rerun()
            return
        st.caption(f"当前用户：{md(me.describe())}")
        if st.session_state.get("_via_proxy"):
            st.link_button("退出登录", "/_gate/logout", icon=":material/logout:")
        elif st.button("退出登录", key="user_logout", icon=":material/logout:"):
            token = st.session_state.get("_token")
            if token:
                users().end_session(str(token), "logout")
            _forget()
            st.session_state["_ended"] = _ENDED["logout"]
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
        _Context(
            root=store().root,
            user=known.user if isinstance(known, Access) else "匿名",
            preview_as=st.session_state.get("_preview_as") or None,
            client=_client() or None,
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


# -- filters ---------------------------------------------------------------------------


def sidebar_filters(rd: Reader) -> Filters:
    """The shared sidebar filters; initial values come from the URL, and the URL is kept in
    step so a copied link reopens the same view."""
    rounds = rd.query("rounds_list")
    units = rd.query("units_list")
    # A scoped user is offered only their rounds and units (the data layer narrows the
    # scope in any case: resolve_scope).
    round_ids, unit_ids = scope_ids(rd, access())
    if round_ids is not None:
        rounds = rounds.filter(pl.col("round_id").is_in(list(round_ids)))
    if unit_ids is not None:
        units = units.filter(pl.col("unit_id").is_in(list(unit_ids)))
    cats = rd.query("categories_list")
    seqs = rounds["seq"].to_list()
    seq_label = {
        s: labels.round_label(n, t) for s, n, t in rounds.select("seq", "name", "term").rows()
    }
    unit_name = dict(units.select("unit_id", "short_name").rows())
    kinds = sorted(
        set(rounds["kind"].to_list()), key=["常规", "专项", "回头看", "机动", "提级", "交叉"].index
    )
    sectors = sorted(set(units["sector"].to_list()))
    peers = [
        p
        for p in ("市直部门", "乡镇街道", "国有企业", "学校医院", "村社区")
        if p in set(units["peer_group"].to_list())
    ]
    l1_names = dict(
        cats.select("category_l1", "l1_name").unique(maintain_order=True).sort("category_l1").rows()
    )
    l2_rows = cats.select("category_l2", "l2_name", "category_l1").rows()

    if not st.session_state.get("_filters_loaded"):
        initial = Filters.from_url(st.query_params.to_dict())
        lo = initial.round_from if initial.round_from in seqs else (seqs[0] if seqs else None)
        hi = initial.round_to if initial.round_to in seqs else (seqs[-1] if seqs else None)
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        # The slider takes its initial range through value=, never through session state:
        # a select_slider created without a range value turns single-valued on rerun.
        st.session_state["_rounds_init"] = (lo, hi)
        st.session_state["f_kind"] = [k for k in initial.kinds if k in kinds]
        st.session_state["f_sector"] = [s for s in initial.sectors if s in sectors]
        st.session_state["f_peer"] = [p for p in initial.peer_groups if p in peers]
        st.session_state["f_unit"] = [u for u in initial.unit_ids if u in unit_name]
        st.session_state["f_l1"] = [c for c in initial.category_l1 if c in l1_names]
        st.session_state["f_l2"] = [c for c, _, _ in l2_rows if c in initial.category_l2]
        # Figures are never asked "as of" the future.
        st.session_state["f_asof"] = min(initial.as_of or dt.date.today(), dt.date.today())
        st.session_state["_filters_loaded"] = True

    # A new data version may have lost or gained options (an import adds a round, a rollback
    # removes it): drop what no longer exists rather than let a widget fail on it.
    rounds_state = st.session_state.get("f_rounds")
    if isinstance(rounds_state, tuple | list) and not set(rounds_state) <= set(seqs):
        st.session_state.pop("f_rounds", None)
        st.session_state["_rounds_init"] = (seqs[0], seqs[-1]) if seqs else (None, None)
    for key, allowed in (
        ("f_kind", set(kinds)),
        ("f_sector", set(sectors)),
        ("f_peer", set(peers)),
        ("f_unit", set(unit_name)),
        ("f_l1", set(l1_names)),
    ):
        current = st.session_state.get(key) or []
        if not set(current) <= allowed:
            st.session_state[key] = [v for v in current if v in allowed]

    with st.sidebar:
        st.markdown("#### 筛选")
        if len(seqs) > 1:
            st.select_slider(
                "轮次范围",
                options=seqs,
                value=st.session_state.get("_rounds_init") or (seqs[0], seqs[-1]),
                format_func=lambda s: seq_label[s],
                key="f_rounds",
            )
        st.multiselect("轮次类型", kinds, key="f_kind", placeholder="全部")
        st.multiselect("行业领域", sectors, key="f_sector", placeholder="全部")
        st.multiselect("同类组", peers, key="f_peer", placeholder="全部")
        st.multiselect(
            "单位",
            list(unit_name),
            format_func=lambda u: unit_name[u],
            key="f_unit",
            placeholder="全部",
        )
        st.multiselect(
            "问题类别（一级）",
            list(l1_names),
            format_func=lambda c: f"{c} {l1_names[c]}",
            key="f_l1",
            placeholder="全部",
        )
        chosen_l1 = set(st.session_state.get("f_l1") or [])
        l2_options = [c for c, _, p in l2_rows if not chosen_l1 or p in chosen_l1]
        l2_name = {c: n for c, n, _ in l2_rows}
        st.session_state["f_l2"] = [c for c in st.session_state.get("f_l2", []) if c in l2_options]
        st.multiselect(
            "问题类别（二级）",
            l2_options,
            format_func=lambda c: f"{c} {l2_name[c]}",
            key="f_l2",
            placeholder="全部",
        )
        st.date_input(
            "统计截至日期",
            key="f_asof",
            min_value=dt.date(2000, 1, 1),
            max_value=dt.date.today(),
            format="YYYY-MM-DD",
            help="所有数字按该日的状态计算（按状态变更记录回溯）。",
        )
        if st.button("清除筛选", icon=":material/filter_alt_off:", use_container_width=True):
            for key in (*_FILTER_KEYS, "_rounds_init"):
                st.session_state.pop(key, None)
            st.session_state["_filters_loaded"] = False
            st.query_params.clear()
            st.rerun()

    chosen_rounds = st.session_state.get("f_rounds")
    if isinstance(chosen_rounds, tuple | list) and len(chosen_rounds) == 2:
        lo, hi = chosen_rounds
    else:  # one round (or none) in the store
        lo = hi = None
    as_of = st.session_state.get("f_asof")
    filters = Filters(
        round_from=lo if seqs and lo != seqs[0] else None,
        round_to=hi if seqs and hi != seqs[-1] else None,
        kinds=tuple(st.session_state.get("f_kind") or ()),
        sectors=tuple(st.session_state.get("f_sector") or ()),
        peer_groups=tuple(st.session_state.get("f_peer") or ()),
        unit_ids=tuple(st.session_state.get("f_unit") or ()),
        category_l1=tuple(st.session_state.get("f_l1") or ()),
        category_l2=tuple(st.session_state.get("f_l2") or ()),
        # Always pinned: a copied link shows the same figures tomorrow.
        as_of=as_of if isinstance(as_of, dt.date) else None,
    )
    wanted = filters.to_url()
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
    st.session_state["filters"] = filters
    st.session_state["filters_text"] = describe_filters(
        filters, round_labels=seq_label, unit_names=unit_name
    )
    return filters


def resolver(rd: Reader) -> Callable[[Filters], Scope]:
    """Filters → scope on `rd` with this session's access rights applied (what briefings use
    to resolve their period and the rounds they compare with)."""
    who = access()

    def resolve(filters: Filters) -> Scope:
        return resolve_scope(rd, filters, access=who)

    return resolve


def clue_details() -> bool:
    """Whether this session may see clue details (case staff); otherwise counts, "<3"."""
    return can(CLUE_DETAILS)


def can_see_all_briefings() -> bool:
    """Whether this session sees every archived briefing (unscoped roles) or only its own."""
    who = access()
    return who.can(BRIEFING) and not who.scoped


def current_scope(rd: Reader) -> Scope:
    """The sidebar's filters resolved with this session's access (the only way pages get a
    scope)."""
    filters: Filters = st.session_state.get("filters") or Filters()
    who = access()
    # Resolved once per data version, filters, access and day (Scope is immutable): a
    # rerun does not rebuild a tuple of every inspection in scope.
    key = (str(rd.store.root), rd.version, filters, who, dt.date.today())
    with _SCOPES_LOCK:
        if key in _SCOPES:
            _SCOPES.move_to_end(key)
            return _SCOPES[key]
    scope = resolve_scope(rd, filters, access=who)
    with _SCOPES_LOCK:
        _SCOPES[key] = scope
        while len(_SCOPES) > SCOPE_CACHE_ENTRIES:
            _SCOPES.popitem(last=False)
    return scope


def clear_caches() -> None:
    """Forget the resolved scopes and built figures (Streamlit's own caches are cleared with
    st.cache_data.clear() / st.cache_resource.clear(); the benchmark clears all of them)."""
    with _SCOPES_LOCK:
        _SCOPES.clear()
    with _FIGURES_LOCK:
        _FIGURES.clear()


SCOPE_CACHE_ENTRIES = 64
_SCOPES: collections.OrderedDict[tuple[Any, ...], Scope] = collections.OrderedDict()
_SCOPES_LOCK = threading.Lock()


# -- common widgets ----------------------------------------------------------------------


def page_header(title: str, rd: Reader, scope: Scope) -> None:
    require(VIEW_PAGES)
    st.title(title)
    text = st.session_state.get("filters_text") or "全部"
    st.caption(f"统计截至 {scope.as_of.isoformat()} ｜ 范围：{md(text)} ｜ 数据版本 {rd.version}")
    meta = rd.scalar("SELECT value FROM store_meta WHERE key = 'demo'")
    if meta == "true":
        st.info(
            "演示数据：虚构的“江城市”，单位、问题与数字均为生成，不代表任何真实情况。",
            icon=":material/science:",
        )


def rate_metric(key: str, counts: Mapping[str, Any], *, label: str | None = None) -> None:
    figure = DEFINITIONS[key]
    num = sum(int(counts.get(k) or 0) for k in figure.numerator)
    den = int(counts.get(figure.denominator) or 0)
    value = figure.compute(dict(counts))
    st.metric(
        label or figure.label,
        format_rate(value),
        delta=f"{num:,} ／ {den:,}",
        delta_color="off",
        delta_arrow="off",
        help=f"口径：{figure.definition}\n\n分子 {num:,} ／ 分母 {den:,}",
        border=True,
    )


def count_metric(label: str, value: Any, help_text: str | None = None, unit: str = "") -> None:
    shown = f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"
    st.metric(label, shown, help=help_text, border=True)


def table(
    frame: pl.DataFrame,
    *,
    key: str,
    height: Any = "auto",
    column_config: dict[str, Any] | None = None,
    selectable: bool = False,
    raw: bool = False,
    total: int | None = None,
) -> Any:
    """A table with Chinese headers (raw: as given, e.g. a user's own SQL result). At most
    TABLE_MAX_ROWS rows are sent to the browser (a note says how many there are); the
    downloads beside a table always hold all of them. `total`: how many rows the whole list
    has when `frame` holds only its first rows (fetched with a limit)."""
    rows = frame.height if total is None else max(total, frame.height)
    if rows > min(frame.height, TABLE_MAX_ROWS):
        st.caption(
            f"共 {rows:,} 行，此处显示前 {min(frame.height, TABLE_MAX_ROWS):,} 行；"
            "完整数据请使用导出。"
        )
        frame = frame.head(TABLE_MAX_ROWS)
    shown = frame if raw else labels.chinese_headers(frame)
    # An empty text cell reads "—", not "None".
    shown = shown.with_columns(
        pl.col(c).fill_null("—") for c, dtype in shown.schema.items() if dtype == pl.String
    )
    config: dict[str, Any] = {
        c: st.column_config.NumberColumn(c, format="%.2f")
        for c, dtype in shown.schema.items()
        if c.endswith("(%)") and dtype.is_numeric()
    }
    config |= {
        c: st.column_config.DateColumn(c, format="YYYY-MM-DD")
        for c, dtype in shown.schema.items()
        if dtype == pl.Date
    }
    # Text is text: never a link column, whatever the cells look like.
    config |= {
        c: st.column_config.TextColumn(c) for c, dtype in shown.schema.items() if dtype == pl.String
    }
    config |= {labels.COLUMNS.get(k, k): v for k, v in (column_config or {}).items()}
    # Arrow, not the Polars frame: Streamlit turns a Polars frame into pandas and back into
    # Arrow on every run (~2 ms per thousand rows); a pyarrow table it sends as it is.
    data = shown.to_arrow()
    if selectable:
        return st.dataframe(
            data,
            hide_index=True,
            key=key,
            height=height,
            column_config=config,
            on_select="rerun",
            selection_mode="single-row",
        )
    return st.dataframe(data, hide_index=True, key=key, height=height, column_config=config)


def selected_row(event: Any) -> int | None:
    try:
        rows = event.selection.rows
    except AttributeError:
        return None
    return int(rows[0]) if rows else None


def selected_points(event: Any) -> list[dict[str, Any]]:
    """The points selected on a chart, with the text as the data hold it (charts are drawn
    with their text escaped: `_inert_figure`)."""
    try:
        points = list(event.selection.points)
    except AttributeError:
        return []
    return [_unescaped(dict(p)) if isinstance(p, Mapping) else p for p in points]


def _unescaped(value: Any) -> Any:
    if isinstance(value, str):
        return html.unescape(value)
    if isinstance(value, list | tuple):
        return [_unescaped(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _unescaped(v) for k, v in value.items()}
    return value


# Trace attributes that are the chart's own markup, not data: kept as they are.
_FIGURE_TEMPLATES = frozenset({"hovertemplate", "texttemplate", "type"})
# Axis attributes holding category names (data), escaped like the traces' x and y.
_AXIS_DATA = frozenset({"categoryarray", "tickvals", "ticktext"})


def _escaped(value: Any) -> Any:
    """Every string in `value` with &, < and > escaped (plotly draws &lt; as "<")."""
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind in ("O", "U"):  # a numpy array of names
        return [_escaped(v) for v in value.tolist()]
    return value


def _inert_figure(spec: dict[str, Any]) -> dict[str, Any]:
    """A figure's dict whose data cannot draw as markup: plotly renders <a href>, <b>,
    <br> and the like inside tick labels, hover text, legends and texts, so a unit or
    round name holding them would become a link on the chart. Every string of the traces
    (but the chart's own templates) and of the axes' categories is escaped; the chart's
    own titles and annotations are kept. `selected_points` gives the text back unescaped."""
    data = [
        {k: v if k in _FIGURE_TEMPLATES else _escaped(v) for k, v in trace.items()}
        for trace in spec.get("data", [])
    ]
    layout = dict(spec.get("layout") or {})
    for name, axis in list(layout.items()):
        if isinstance(axis, dict) and re.match(r"^(x|y)axis\d*$|^polar\d*$", name):
            layout[name] = {k: _escaped(v) if k in _AXIS_DATA else v for k, v in axis.items()}
            for sub in ("angularaxis", "radialaxis"):
                if isinstance(axis.get(sub), dict):
                    layout[name][sub] = {
                        k: _escaped(v) if k in _AXIS_DATA else v for k, v in axis[sub].items()
                    }
    return {**spec, "data": data, "layout": layout}


FIGURE_CACHE_ENTRIES = 64
_FIGURES: collections.OrderedDict[bytes, Any] = collections.OrderedDict()
_FIGURES_LOCK = threading.Lock()


def _digest(*values: Any) -> bytes:
    """A digest of a chart builder's inputs: frames by schema, height and row hashes."""
    h = hashlib.blake2b(digest_size=20)

    def feed(value: Any) -> None:
        if isinstance(value, pl.DataFrame):
            h.update(b"F" + repr(value.schema).encode() + str(value.height).encode())
            if value.height:
                h.update(value.hash_rows(seed=11).to_numpy().tobytes())
        elif isinstance(value, list | tuple):
            h.update(b"[")
            for item in value:
                feed(item)
            h.update(b"]")
        elif isinstance(value, dict):
            h.update(b"{")
            for k in sorted(value, key=repr):
                feed(k)
                feed(value[k])
            h.update(b"}")
        else:
            h.update(type(value).__name__.encode() + b":" + repr(value).encode() + b";")

    for value in values:
        feed(value)
    return h.digest()


def built_figure(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`build(*args, **kwargs)`, kept by a digest of its inputs (any session): a rerun with
    the same data draws the figure it built before instead of building plotly objects again,
    which costs more than the rest of a rerun. Figures hold only what their inputs hold."""
    key = _digest(f"{build.__module__}.{build.__qualname__}", args, kwargs)
    with _FIGURES_LOCK:
        if key in _FIGURES:
            _FIGURES.move_to_end(key)
            return _FIGURES[key]
    fig = build(*args, **kwargs)
    with _FIGURES_LOCK:
        _FIGURES[key] = fig
        while len(_FIGURES) > FIGURE_CACHE_ENTRIES:
            _FIGURES.popitem(last=False)
    return fig


class _Drawn:
    """A kept figure as st.plotly_chart takes it, its dict made once: Streamlit calls
    `to_dict()` on every run, a deep copy of every trace with its arrays encoded again
    (~0.7 ms a chart). Built lazily: plotly is imported only when a chart is drawn."""

    _cls: Any = None

    @classmethod
    def of(cls, fig: Any) -> Any:
        if cls._cls is None:
            from plotly.basedatatypes import BaseFigure

            class Drawn(BaseFigure):
                # No BaseFigure.__init__: only to_dict() is ever called on it.
                def __init__(self, spec: dict[str, Any]) -> None:
                    object.__setattr__(self, "_spec", spec)

                def to_dict(self) -> dict[str, Any]:
                    return self._spec

            cls._cls = Drawn
        spec = getattr(fig, "_xuncha_spec", None)
        if spec is None:
            spec = _inert_figure(fig.to_dict())
            # Kept figures are shared and never changed after they are built.
            fig._xuncha_spec = spec
        return cls._cls(spec)


def chart(fig: Any, *args: Any, key: str, selectable: bool = False, **kwargs: Any) -> Any:
    """A plotly chart. `fig` is a figure, or a builder from xuncha.charts called with the
    other arguments (its figure is then reused while those inputs are unchanged, and so is
    its dict). Text from the data never draws as markup (`_inert_figure`)."""
    fig = _Drawn.of(built_figure(fig, *args, **kwargs) if callable(fig) else fig)
    return st.plotly_chart(
        fig,
        key=key,
        on_select="rerun" if selectable else "ignore",
        selection_mode="points",
        # No image download from the chart toolbar: exports are checked and audited.
        config={"displaylogo": False, "modeBarButtonsToRemove": ["toImage"]},
    )


def downloads(
    frame: pl.DataFrame | Callable[[], pl.DataFrame],
    *,
    key: str,
    page: str,
    title: str,
    scope: Scope,
    definitions: Mapping[str, str] | None = None,
    notes: tuple[str, ...] = (),
) -> None:
    """Two download buttons (.xlsx with a 说明 sheet, .csv with BOM); files are built only
    when clicked. The 说明 sheet states the definition (口径) of every rate the table holds,
    derived from its columns, plus any `definitions` given.

    `frame` may be a function returning the table: a long list whose page shows only its
    first rows passes the query of the whole list, run only when a button is clicked."""
    from xuncha import export

    scope_text = st.session_state.get("filters_text") or "全部"
    who = user_name()  # read here: the builders below run in a worker thread on click
    built: list[pl.DataFrame] = []

    def table() -> pl.DataFrame:
        if not built:
            built.append(frame() if callable(frame) else frame)
        return built[0]

    def meta() -> export.ExportMeta:
        columns = table().columns
        stated = {f.label: f.definition for k, f in DEFINITIONS.items() if k in columns}
        return export.ExportMeta(
            title=f"{page}：{title}",
            scope=scope_text,
            as_of=scope.as_of,
            user=who,
            definitions=stated | dict(definitions or {}),
            notes=notes,
        )

    _download_pair(
        lambda: export.to_xlsx(table(), meta()),
        lambda: export.to_csv(table()),
        key=key,
        stem=export.file_name(f"{page}_{title}", scope_text, "", scope.as_of).rstrip("."),
        details=lambda: {
            "rows": table().height,
            "columns": table().columns,
            "scope": scope_text,
        },
    )


# -- downloads bound to the session that made them -----------------------------------------
#
# Streamlit serves the file of a download button at /media/<id> to whoever asks for it: it
# checks no login, and behind nginx and the gate anyone signed in passes. Every download of
# the product is therefore *issued* when its file is built (the button clicked): recorded with
# the user, the session and the browser that made it, for DOWNLOAD_SECONDS. `DownloadGuard`,
# which `serve` puts in front of Streamlit's server, hands a download file only to a request
# of that session, browser and user within that time, and refuses (and records) any other.

DOWNLOAD_SECONDS = 120.0
XSRF_COOKIE = "_streamlit_xsrf"  # Streamlit's per-browser cookie (double-submit token)
MEDIA_PREFIX = "/media/"
_GUARD = {"installed": False}


@dataclasses.dataclass(frozen=True)
class _Holder:
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
    holder: _Holder
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


def _holder() -> _Holder:
    try:
        who = signed_in().user
    except PermissionDenied:
        who = "匿名"
    cookies = {str(k): str(v) for k, v in dict(st.context.cookies).items()}
    gate = None
    if st.session_state.get("_via_proxy"):
        gate = _sha256(cookies.get(SESSION_COOKIE, ""))
    token = st.session_state.get("_token")
    return _Holder(
        user=who,
        root=store().root,
        gate_session=gate,
        token=str(token) if token else None,
        browser=_browser_key(cookies.get(XSRF_COOKIE)),
    )


def _issue(data: bytes, file_name: str, holder: _Holder) -> None:
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


def _holds(holder: _Holder, cookies: Mapping[str, str]) -> bool:
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


def _downloads_served() -> bool:
    """Whether download buttons may be drawn: in a real server only behind DownloadGuard
    (`xuncha serve`); a server started otherwise (`streamlit run app.py`) would hand the
    files to anyone, so it offers none. AppTest has no server and draws them."""
    if _GUARD["installed"]:
        return True
    from streamlit import runtime

    if runtime.exists() and type(runtime.get_instance()) is not runtime.Runtime:
        return True  # AppTest's stand-in runtime: nothing is served over HTTP
    st.caption("下载未启用：请用 xuncha serve 启动驾驶舱。")
    return False


def briefing_downloads(
    brief_id: str, docx: bytes, pdf: bytes | None, *, title: str, key: str = "brief"
) -> None:
    """The finalised briefing as .docx (and .pdf when one was made)."""
    if not export_allowed() or not _downloads_served():
        return
    stem = re.sub(r"[\\/:*?\"<>|\s]+", "_", title)[:60] or "简报"
    row = st.container(horizontal=True)
    with row:
        st.download_button(
            "下载 Word",
            data=_audited(lambda: docx, f"{stem}_{brief_id}.docx", briefing_id=brief_id),
            file_name=f"{stem}_{brief_id}.docx",
            mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            key=f"{key}_docx",
            icon=":material/description:",
            on_click="ignore",
        )
        if pdf is not None:
            st.download_button(
                "下载 PDF",
                data=_audited(lambda: pdf, f"{stem}_{brief_id}.pdf", briefing_id=brief_id),
                file_name=f"{stem}_{brief_id}.pdf",
                mime="application/pdf",
                key=f"{key}_pdf",
                icon=":material/picture_as_pdf:",
                on_click="ignore",
            )


def _audited(
    build: Callable[[], bytes],
    file_name: str,
    lazy: Callable[[], Mapping[str, Any]] | None = None,
    **details: Any,
) -> Callable[[], bytes]:
    """The file builder, recording the export (file, size, SHA-256, rows, columns) when the
    file is actually built, i.e. when the button is clicked; `lazy` gives details known only
    then (the rows of a list fetched on click). Streamlit runs it in a worker thread with no
    session, so who exports, from where and on which page is read now, in the page's run.
    The file is then issued to this session only (`_issue`): its URL serves nobody else."""
    context = _context()
    holder = _holder()

    def run() -> bytes:
        data = build()
        context.record(
            "export",
            file=file_name,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            page=context.page,
            **details,
            **(dict(lazy()) if lazy is not None else {}),
        )
        _issue(data, file_name, holder)
        return data

    return run


def _ticketed(build: Callable[[], bytes], file_name: str) -> Callable[[], bytes]:
    """A file builder whose file is issued to this session only (a file that is no export,
    such as the blank ledger template, is not audited but bound all the same)."""
    holder = _holder()

    def run() -> bytes:
        data = build()
        _issue(data, file_name, holder)
        return data

    return run


def file_download(
    label: str,
    build: Callable[[], bytes],
    file_name: str,
    *,
    mime: str,
    key: str,
    icon: str | None = None,
    **details: Any,
) -> None:
    """A download of one file built on click, for a session with export rights, recorded in
    the audit trail like every export (file, size, SHA-256, `details`)."""
    if not export_allowed(EXPORT) or not _downloads_served():
        return
    st.download_button(
        label,
        data=_audited(build, file_name, **details),
        file_name=file_name,
        mime=mime,
        key=key,
        icon=icon,
        on_click="ignore",
    )


def export_allowed(permission: str = EXPORT) -> bool:
    """Whether this session may export; a caption says so where it may not."""
    if can(permission):
        return True
    st.caption("当前账号无导出权限。")
    return False


def _download_pair(
    xlsx: Any,
    csv: Any,
    *,
    key: str,
    stem: str,
    verb: str = "导出",
    details: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    permission: str = EXPORT,
) -> None:
    """An .xlsx and a .csv button side by side; the files are built only when clicked, and
    only for sessions allowed to export; every file built is audited."""
    if not export_allowed(permission) or not _downloads_served():
        return
    lazy = details if callable(details) else None
    extra = {} if callable(details) else dict(details or {})
    xlsx = _audited(xlsx, f"{stem}.xlsx", lazy, **extra)
    csv = _audited(csv, f"{stem}.csv", lazy, **extra)
    row = st.container(horizontal=True)
    with row:
        st.download_button(
            f"{verb} Excel",
            data=xlsx,
            file_name=f"{stem}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"{key}_xlsx",
            icon=":material/table_view:",
            on_click="ignore",
        )
        st.download_button(
            f"{verb} CSV",
            data=csv,
            file_name=f"{stem}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            icon=":material/download:",
            on_click="ignore",
        )


# One data version's finding text per process (~270 MB at a million findings): a new version
# replaces it. Loaded on the first search, not at start: most sessions never search.
@st.cache_resource(max_entries=1, show_spinner="正在载入问题文本……")
def _text_index(root: str, identity: str, _rd: Reader) -> Any:
    from xuncha.figures import TextIndex

    # A plain reader: the text must not go into the shared query cache as well.
    return TextIndex.load(Reader(_rd.store, _rd.version, _rd._con))


def search_findings(rd: Reader, scope: Scope, terms: list[str]) -> list[int]:
    """The findings in scope whose text holds every term (figures.search: the same findings
    as queries/findings_search.sql), latest round first. Each new search is audited."""
    found: list[int] = _text_index(str(rd.store.root), rd.identity, rd).search(scope, terms)
    asked = (rd.version, tuple(terms), _params_key(scope.params()))
    if st.session_state.get("_last_search") != asked:
        st.session_state["_last_search"] = asked
        record("search", terms=terms, results=len(found))
    return found


def findings_drilldown(
    rd: Reader, scope: Scope, finding_ids: list[int], *, key: str, total: int | None = None
) -> None:
    """The findings behind a figure and, for the selected one, its measures as of the date.
    `total`: how many findings the whole list has when `finding_ids` holds its first ones."""
    if not finding_ids:
        st.caption("没有对应的问题。")
        return
    detail = rd.query("findings_by_ids", scope.params(finding_ids=list(finding_ids)))
    whole = max(total or 0, detail.height)
    shown_note = f"，此处显示前 {detail.height:,} 个" if whole > detail.height else ""
    st.caption(f"共 {whole:,} 个问题{shown_note}；选中一行查看其整改措施。")
    shown = labels.status_labels(detail, finding=True).select(
        "finding_id",
        "round_name",
        "unit_name",
        "category_l2",
        "l2_name",
        "title",
        "detail",
        "status",
        "measures",
        "measures_done",
        "is_repeat",
        "is_rebound",
    )
    event = table(shown, key=f"{key}_findings", height=300, selectable=True)
    row = selected_row(event)
    if row is not None and row < detail.height:
        finding = detail.row(row, named=True)
        measures_of(
            rd,
            scope,
            int(finding["finding_id"]),
            key=f"{key}_measures",
            heading=f"{finding['unit_name']}｜{finding['title']}",
            detail=finding["detail"],
        )


def measures_of(
    rd: Reader,
    scope: Scope,
    finding_id: int,
    *,
    key: str,
    heading: str = "",
    detail: str | None = None,
) -> None:
    if heading:
        st.markdown(f"**{md(heading)}**")
    if detail:
        st.markdown(md(detail))
    measures = rd.query("measures_of_findings", {"finding_ids": [finding_id], "as_of": scope.as_of})
    table(
        labels.status_labels(measures, finding=False).select(
            "text",
            "lead_person",
            "department",
            "deadline_text",
            "deadline",
            "status",
            "status_text",
            "completed_on",
        ),
        key=key,
    )


def serve(app_file: Path, *, port: int, address: str) -> int:
    """Start the Streamlit server on app_file in this process (what `xuncha serve` runs)."""
    # Streamlit treats an app with a pages/ folder as an old-style multipage app until the
    # entry point has run once, so a shared link opened first on a fresh server would run a
    # page without app.py (no filters, no navigation). app.py declares its pages with
    # st.navigation; say so before the server starts.
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli as streamlit_cli

    PagesManager.uses_pages_directory = False
    install_download_guard()
    argv = ["run", str(app_file), "--server.port", str(port), "--server.address", address]
    return int(streamlit_cli.main(args=argv, prog_name="streamlit", standalone_mode=False) or 0)


def user_name() -> str:
    """Who is acting: the signed-in user (recorded in batches, exports and the audit trail)."""
    try:
        return signed_in().user
    except PermissionDenied:
        return "匿名"


def frame_downloads(frame: pl.DataFrame, *, key: str, name: str, permission: str = EXPORT) -> None:
    """Downloads of a table that is not a view of the store (e.g. a validation report)."""
    from xuncha import export

    meta = export.ExportMeta(title=name, scope="—", user=user_name())
    _download_pair(
        lambda: export.to_xlsx(frame, meta),
        lambda: export.to_csv(frame),
        key=key,
        stem=export.file_name(name, "", "").rstrip("."),
        verb="下载",
        permission=permission,
        details={"rows": frame.height, "columns": frame.columns},
    )


def template_download() -> None:
    from xuncha import ledger

    if not _downloads_served():
        return

    def build() -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "template.xlsx"
            ledger.write_template(path)
            return path.read_bytes()

    st.download_button(
        "下载整改台账模板（.xlsx）",
        data=_ticketed(build, "整改台账模板.xlsx"),
        file_name="整改台账模板.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="template_download",
        icon=":material/download:",
        on_click="ignore",
    )


def sandbox(scope: Scope) -> Any:
    """The SQL sandbox for this scope on the current data version (built once per version
    and scope, then reused: its data are read-only copies and its configuration locked).
    Clue details only for the roles allowed them (none until login arrives: counts only)."""
    from xuncha.sandbox import Sandbox, SandboxProblem

    require(SQL)
    try:  # opened in a query process: the pool may be busy or a process fail to start
        return Sandbox.for_scope(store(), scope, clue_details=clue_details())
    except SandboxProblem as exc:
        st.error(exc.message, icon=":material/error:")
        st.stop()
        raise  # st.stop() does not return


def query_downloads(full: Any, meta: Any, *, key: str, name: str) -> None:
    """Downloads of a query result: the query runs again, up to the export cap, only when a
    button is clicked (and is audited as an export)."""
    from xuncha import export

    _download_pair(
        lambda: export.to_xlsx(full(), meta),
        lambda: export.to_csv(full()),
        key=key,
        stem=export.file_name(name, "", "").rstrip("."),
    )


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=])")
# Where Streamlit's Markdown (GFM) would make a link of plain text, backslashes or not: a
# scheme or www. (autolink literals), an e-mail address.
_AUTOLINK = re.compile(r"(?i)(?=(?:https?|ftp|mailto|xmpp|file)\s*:|www\.)")
# Four spaces or a tab at the start of a line would make a code block.
_LEADING_SPACE = re.compile(r"(?m)^[ \t]+")
WORD_JOINER = "\u2060"  # invisible, no line break: breaks a link where it is inserted


def md(text: object) -> str:
    """Data (names, titles, file names, ledger text) made inert inside Markdown: a ledger's
    text must never become a link, an image that calls out, HTML or formatting. Every
    Markdown-active character is escaped, and an invisible word joiner goes before what GFM
    would link by itself however escaped (http://, www., an e-mail's domain); leading
    spaces become no-break spaces (never a code block)."""
    value = "" if text is None else str(text)
    value = _AUTOLINK.sub(WORD_JOINER, value).replace("@", "@" + WORD_JOINER)
    value = _LEADING_SPACE.sub(lambda m: "\u00a0" * len(m.group(0).expandtabs(4)), value)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", value)
