"""The login gate: a small HTTP service that nginx asks about every request (`auth_request`).

Streamlit serves its websocket (`/_stcore/stream`), downloads (`/media/…`) and assets without
any login check, so in production nginx listens on the public address and proxies to the
dashboard (127.0.0.1 only) after asking this gate:

* `GET /_gate/check` (internal to nginx): the `xuncha_session` cookie names a live session →
  204 with `X-Xuncha-User: <percent-encoded user name>` (nginx passes it on to the dashboard,
  overwriting whatever the client sent); anything else → 401 with `X-Xuncha-Login: <where to
  log in>` (nginx redirects there).
* `GET/POST /_gate/login`: the login form (double-submit CSRF token, SameSite=Strict cookies).
* `GET/POST /_gate/logout`: a confirmation form; its POST ends the session.

Users, passwords, sessions, throttling and the audit records of logins and logouts are
`UserStore`'s; this module only speaks HTTP. It listens on a loopback address only, uses the
standard library's `http.server`, and never imports streamlit.
"""

from __future__ import annotations

import argparse
import hmac
import html
import ipaddress
import logging
import os
import re
import secrets
import socket
import sys
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from xuncha.auth.access import AuthError
from xuncha.auth.cli import DEFAULT_DB
from xuncha.auth.users import SessionEnded, UserStore

DEFAULT_PORT = 8502
DEFAULT_APP = "127.0.0.1:8501"

CHECK_PATH = "/_gate/check"
LOGIN_PATH = "/_gate/login"
LOGOUT_PATH = "/_gate/logout"

SESSION_COOKIE = "xuncha_session"
CSRF_COOKIE = "xuncha_csrf"
CSRF_FIELD = "csrf"
USER_HEADER = "X-Xuncha-User"
LOGIN_HEADER = "X-Xuncha-Login"  # on a 401 of the check: where nginx sends the browser
SECURE_ENV = "XUNCHA_COOKIE_SECURE"

MAX_BODY = 8 * 1024  # a login form is a few hundred bytes
MAX_TARGET = 4096  # longest request target accepted
MAX_FIELDS = 8
SOCKET_TIMEOUT = 15.0  # seconds a connection may stay silent (only nginx connects)

NGINX_TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "xuncha.conf"

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)

# What the login page says after a session ended (the `ended` query value, a reason code of
# users.SESSION_END_REASONS). Any other value shows nothing: the page never echoes it.
ENDED_MESSAGES: dict[str, str] = {
    "idle": "会话已因长时间无操作结束，请重新登录",
    "absolute": "会话已达到最长时限，请重新登录",
    "logout": "已退出登录",
    "disabled": "该账号已被停用，请联系管理员",
    "password": "密码已修改，请重新登录",
    "unknown": "登录已失效，请重新登录",
}

# Session tokens are secrets.token_urlsafe(32); CSRF tokens the same. Anything else in the
# cookie is refused before the user database is even opened.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,200}$")
_CSRF = re.compile(r"^[A-Za-z0-9_-]{43}$")
# A local path to return to after logging in: absolute path, printable ASCII, not `//host`.
_NEXT = re.compile(r"^/(?![/\\])[!-~]{0,2000}$")
# Requests whose 401 should not bring the browser back there after login (assets, API).
_NO_RETURN = ("/_stcore/", "/static/", "/media/", "/component/", "/_gate/", "/app/static/")
# `[address:]port` for nginx listen and proxy_pass: nothing that could end a directive.
_ADDRESS = re.compile(r"^(?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):)?[0-9]{1,5}$")

_LOG = logging.getLogger("xuncha.gate")


# -- responses ---------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    page: bool = False  # an HTML page of the gate: gets the security headers


def _redirect(location: str, *cookies: str) -> Response:
    headers = [("Location", location)] + [("Set-Cookie", c) for c in cookies]
    return Response(HTTPStatus.SEE_OTHER, headers, page=True)


# -- the gate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What the gate reads of one HTTP request (already size-checked)."""

    method: str
    path: str
    query: str
    headers: dict[str, list[str]]  # lower-case names
    body: bytes = b""
    peer: str = ""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


class Gate:
    """The gate's decisions, independent of the HTTP server (tests call it directly too)."""

    def __init__(self, users: UserStore, *, secure: bool | None = None) -> None:
        self.users = users
        self.secure = os.environ.get(SECURE_ENV, "").strip() == "1" if secure is None else secure

    # -- dispatch ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        routes = {
            CHECK_PATH: {"GET": self.check},
            LOGIN_PATH: {"GET": self.login_page, "POST": self.login},
            LOGOUT_PATH: {"GET": self.logout_page, "POST": self.logout},
        }
        methods = routes.get(request.path)
        if methods is None:
            return _page(HTTPStatus.NOT_FOUND, "页面不存在", "<p>页面不存在。</p>")
        handler = methods.get(request.method)
        if handler is None:
            response = _page(HTTPStatus.METHOD_NOT_ALLOWED, "不支持的请求", "<p>不支持的请求。</p>")
            response.headers.append(("Allow", ", ".join(methods)))
            return response
        return handler(request)

    # -- check ---------------------------------------------------------------------------

    def check(self, request: Request) -> Response:
        """nginx's question: may this request through, and as whom?"""
        token = _cookie(request, SESSION_COOKIE)
        reason = None
        if token is not None:
            if _TOKEN.match(token):
                try:
                    access = self.users.check_session(token)
                except SessionEnded as ended:
                    reason = ended.reason
                else:
                    user = urllib.parse.quote(access.user, safe="")
                    return Response(
                        HTTPStatus.NO_CONTENT, [(USER_HEADER, user), ("Cache-Control", "no-store")]
                    )
            else:
                reason = "unknown"
        query: dict[str, str] = {}
        if reason is not None:
            query["ended"] = reason
        original = request.header("X-Original-URI") or ""
        method = request.header("X-Original-Method") or "GET"
        if method == "GET" and _return_target(original):
            query["next"] = original
        location = LOGIN_PATH + ("?" + urllib.parse.urlencode(query) if query else "")
        return Response(
            HTTPStatus.UNAUTHORIZED, [(LOGIN_HEADER, location), ("Cache-Control", "no-store")]
        )

    # -- login ---------------------------------------------------------------------------

    def login_page(self, request: Request) -> Response:
        params = _query(request.query)
        target = _return_target(params.get("next", "")) or "/"
        if self._live_session(request):
            return _redirect(target)
        notice = ENDED_MESSAGES.get(params.get("ended", ""), "")
        return self._login_form(request, HTTPStatus.OK, notice=notice, target=target)

    def login(self, request: Request) -> Response:
        form = _form(request)
        if form is None:
            return _page(HTTPStatus.BAD_REQUEST, "请求无效", "<p>请求格式不正确。</p>")
        target = _return_target(form.get("next", "")) or "/"
        if not self._csrf_ok(request, form):
            return self._login_form(
                request,
                HTTPStatus.FORBIDDEN,
                error="页面已过期或来源不明，请重新输入用户名和密码后登录",
                name=form.get("username", ""),
                target=target,
                fresh_csrf=True,
            )
        name = form.get("username", "")
        password = form.get("password", "")
        client = _client(request)
        if not name.strip() or not password:
            return self._login_form(
                request,
                HTTPStatus.UNAUTHORIZED,
                error="请输入用户名和密码",
                name=name,
                target=target,
            )
        result = self.users.authenticate(name, password, client=client)
        if not result.ok or result.access is None:
            throttled = result.retry_after > 0
            response = self._login_form(
                request,
                HTTPStatus.TOO_MANY_REQUESTS if throttled else HTTPStatus.UNAUTHORIZED,
                error=result.reason or "用户名或密码错误",
                name=name,
                target=target,
            )
            if throttled:
                response.headers.append(("Retry-After", str(result.retry_after)))
            return response
        token = self.users.start_session(result.access, client=client)
        return _redirect(target, self._cookie(SESSION_COOKIE, token, path="/"))

    # -- logout --------------------------------------------------------------------------

    def logout_page(self, request: Request) -> Response:
        csrf, cookie = self._csrf_for(request)
        body = _LOGOUT_BODY.format(csrf=html.escape(csrf, quote=True), action=LOGOUT_PATH)
        response = _page(HTTPStatus.OK, "退出登录", body)
        if cookie:
            response.headers.append(("Set-Cookie", cookie))
        return response

    def logout(self, request: Request) -> Response:
        form = _form(request)
        if form is None:
            return _page(HTTPStatus.BAD_REQUEST, "请求无效", "<p>请求格式不正确。</p>")
        if not self._csrf_ok(request, form):
            response = self.logout_page(request)
            response.status = HTTPStatus.FORBIDDEN
            return response
        token = _cookie(request, SESSION_COOKIE)
        ended = False
        if token is not None and _TOKEN.match(token):
            ended = self.users.end_session(token, "logout")
        location = LOGIN_PATH + ("?ended=logout" if ended else "")
        return _redirect(location, self._cookie(SESSION_COOKIE, "", path="/", clear=True))

    # -- helpers -------------------------------------------------------------------------

    def _live_session(self, request: Request) -> bool:
        token = _cookie(request, SESSION_COOKIE)
        if token is None or not _TOKEN.match(token):
            return False
        try:
            self.users.check_session(token)
        except SessionEnded:
            return False
        return True

    def _login_form(
        self,
        request: Request,
        status: int,
        *,
        error: str = "",
        notice: str = "",
        name: str = "",
        target: str = "/",
        fresh_csrf: bool = False,
    ) -> Response:
        csrf, cookie = self._csrf_for(request, fresh=fresh_csrf)
        messages = ""
        if notice:
            messages += f'<p class="notice" role="status">{html.escape(notice)}</p>'
        if error:
            messages += f'<p class="error" role="alert">{html.escape(error)}</p>'
        body = _LOGIN_BODY.format(
            messages=messages,
            action=LOGIN_PATH,
            csrf=html.escape(csrf, quote=True),
            next=html.escape(target, quote=True),
            name=html.escape(name[:64], quote=True),
            name_focus="" if name else " autofocus",
            password_focus=" autofocus" if name else "",
        )
        response = _page(status, "登录", body)
        if cookie:
            response.headers.append(("Set-Cookie", cookie))
        return response

    def _csrf_for(self, request: Request, *, fresh: bool = False) -> tuple[str, str | None]:
        """The CSRF token for a form, and the Set-Cookie that goes with it (None when the
        browser already holds a well-formed one: several open tabs share it)."""
        current = _cookie(request, CSRF_COOKIE)
        if not fresh and current is not None and _CSRF.match(current):
            return current, None
        token = secrets.token_urlsafe(32)
        return token, self._cookie(CSRF_COOKIE, token, path="/_gate/")

    def _csrf_ok(self, request: Request, form: dict[str, str]) -> bool:
        cookie = _cookie(request, CSRF_COOKIE) or ""
        sent = form.get(CSRF_FIELD, "")
        if not _CSRF.match(cookie) or not _CSRF.match(sent):
            return False
        return hmac.compare_digest(cookie.encode("ascii"), sent.encode("ascii"))

    def _cookie(self, name: str, value: str, *, path: str, clear: bool = False) -> str:
        parts = [f"{name}={value}", "HttpOnly", "SameSite=Strict", f"Path={path}"]
        if clear:
            parts.append("Max-Age=0")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


# -- request parsing ---------------------------------------------------------------------


def _cookie(request: Request, name: str) -> str | None:
    """The first value of a cookie (the most specific path comes first), or None."""
    for header in request.headers.get("cookie", []):
        for part in header.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key.strip() == name:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                return value
    return None


def _query(query: str) -> dict[str, str]:
    """Query parameters of a GET, the first value of each; bad input gives none."""
    try:
        pairs = urllib.parse.parse_qsl(
            query, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
        )
    except (ValueError, UnicodeError):
        return {}
    found: dict[str, str] = {}
    for key, value in pairs:
        found.setdefault(key, value)
    return found


def _form(request: Request) -> dict[str, str] | None:
    """A url-encoded form, strictly: right content type, UTF-8, each field once; else None."""
    kind = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    try:
        text = request.body.decode("ascii")
        pairs = urllib.parse.parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            max_num_fields=MAX_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except (ValueError, UnicodeError):
        return None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            return None
        form[key] = value
    return form


def _client(request: Request) -> str:
    """The browser's address: X-Real-IP as nginx sets it, else the peer (a local process)."""
    for value in (request.header("X-Real-IP"), request.peer):
        if value:
            try:
                return str(ipaddress.ip_address(value.strip()))
            except ValueError:
                continue
    return ""


def _return_target(target: str) -> str | None:
    """A local page to return to after logging in, or None (assets, API, anything odd)."""
    if not target or not _NEXT.match(target):
        return None
    path = target.split("?", 1)[0]
    if path == "/" and "?" not in target:
        return None
    if any(path.startswith(prefix) for prefix in _NO_RETURN):
        return None
    return target


# -- pages -------------------------------------------------------------------------------

_STYLE = """
*{box-sizing:border-box}
html,body{margin:0;height:100%}
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",
"Hiragino Sans GB",sans-serif;background:#f4f1ee;color:#262730;display:flex;
align-items:center;justify-content:center;padding:24px}
main{background:#fff;width:100%;max-width:380px;border-radius:10px;padding:32px 32px 24px;
box-shadow:0 2px 14px rgba(0,0,0,.08);border-top:5px solid #b71c1c}
h1{font-size:22px;margin:0 0 4px;letter-spacing:.08em}
h2{font-size:15px;font-weight:normal;color:#555;margin:0 0 18px}
.secret{display:inline-block;font-size:13px;color:#b71c1c;border:1px solid #b71c1c;
border-radius:4px;padding:2px 8px;margin:0 0 18px;letter-spacing:.1em}
label{display:block;font-size:14px;margin:12px 0 6px}
input[type=text],input[type=password]{width:100%;padding:9px 10px;font-size:15px;
border:1px solid #c9c9cf;border-radius:6px}
input:focus{outline:2px solid #b71c1c;outline-offset:0;border-color:#b71c1c}
button{margin-top:20px;width:100%;padding:10px;font-size:16px;color:#fff;background:#b71c1c;
border:0;border-radius:6px;cursor:pointer;letter-spacing:.3em}
button:hover{background:#8e1515}
.error,.notice{font-size:14px;border-radius:6px;padding:9px 12px;margin:0 0 12px}
.error{background:#fdecea;color:#8e1515;border:1px solid #f5c2bd}
.notice{background:#eef4fb;color:#1c4f82;border:1px solid #c5dbf1}
footer{margin-top:20px;font-size:12px;color:#888;line-height:1.6}
a{color:#b71c1c}
"""

_PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>{title} · 巡察数据驾驶舱</title>
<style>{style}</style>
</head>
<body>
<main>
<h1>巡察数据驾驶舱</h1>
{body}
</main>
</body>
</html>
"""

_LOGIN_BODY = """<h2>登录</h2>
<p class="secret">内部资料 注意保密</p>
{messages}<form method="post" action="{action}" autocomplete="on">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label for="username">用户名</label>
<input type="text" id="username" name="username" value="{name}" maxlength="64"
 autocomplete="username" autocapitalize="none" spellcheck="false" required{name_focus}>
<label for="password">密码</label>
<input type="password" id="password" name="password" maxlength="256"
 autocomplete="current-password" required{password_focus}>
<button type="submit">登录</button>
</form>
<footer>请使用本人账号登录；登录、退出及数据访问均记入审计日志。<br>
长时间无操作或登录时间过长将自动退出。</footer>
"""

_LOGOUT_BODY = """<h2>退出登录</h2>
<p class="secret">内部资料 注意保密</p>
<p>确定要退出登录吗？</p>
<form method="post" action="{action}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit">退出登录</button>
</form>
<footer><a href="/">返回驾驶舱</a></footer>
"""


def _page(status: int, title: str, body: str) -> Response:
    text = _PAGE.format(title=html.escape(title), style=_STYLE, body=body)
    headers = [("Content-Type", "text/html; charset=utf-8")]
    return Response(status, headers, text.encode("utf-8"), page=True)


# -- HTTP server -------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server_version = "xuncha-gate"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT
    gate: Gate  # set on the subclass made by make_server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_HEAD(self) -> None:
        self._send(Response(HTTPStatus.METHOD_NOT_ALLOWED, [("Allow", "GET, POST")]))

    def _serve(self, method: str) -> None:
        if len(self.path) > MAX_TARGET:
            self._refuse(HTTPStatus.REQUEST_URI_TOO_LONG)
            return
        parts = urllib.parse.urlsplit(self.path)
        if self.path.startswith("//") or parts.scheme or parts.netloc:
            self._refuse(HTTPStatus.BAD_REQUEST)
            return
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        body = b""
        if method == "POST":
            read = self._read_body(headers)
            if read is None:
                return
            body = read
        elif "transfer-encoding" in headers or headers.get("content-length", ["0"]) != ["0"]:
            self._refuse(HTTPStatus.BAD_REQUEST)
            return
        request = Request(method, parts.path, parts.query, headers, body, self.client_address[0])
        try:
            response = self.gate.handle(request)
        except Exception:
            _LOG.exception("gate: %s %s failed", method, parts.path)
            response = _page(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "暂时无法登录",
                "<p>登录服务暂时不可用，请稍后再试或联系管理员。</p>",
            )
        self._send(response)

    def _read_body(self, headers: dict[str, list[str]]) -> bytes | None:
        if "transfer-encoding" in headers:
            self._refuse(HTTPStatus.LENGTH_REQUIRED)
            return None
        lengths = headers.get("content-length")
        if not lengths or len(lengths) != 1 or not re.fullmatch(r"[0-9]{1,9}", lengths[0]):
            self._refuse(HTTPStatus.LENGTH_REQUIRED)
            return None
        length = int(lengths[0])
        if length > MAX_BODY:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return None
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            return None
        return body

    def _refuse(self, status: HTTPStatus) -> None:
        self.close_connection = True
        response = _page(status, "请求无效", "<p>请求无效。</p>")
        response.headers.append(("Connection", "close"))
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        headers = list(response.headers)
        if response.page:
            names = {name.lower() for name, _ in headers}
            headers += [(n, v) for n, v in SECURITY_HEADERS if n.lower() not in names]
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests (http.server's own checks): a short page, connection closed."""
        self.close_connection = True
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        response = _page(status, "请求无效", "<p>请求无效。</p>")
        response.headers.append(("Connection", "close"))
        self._send(response)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Every page, asset and websocket of the dashboard passes the check: nginx's access
        # log has them all. Log only the gate's own pages and refusals here.
        target = getattr(self, "path", None)  # unset when the request line did not parse
        path = target.split("?", 1)[0] if isinstance(target, str) else ""
        if path == CHECK_PATH and str(code) in ("204", "401"):
            return
        super().log_request(code, size)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def make_server(users: UserStore, address: str, port: int) -> ThreadingHTTPServer:
    """A gate server bound to a loopback address (AuthError for any other address)."""
    check_loopback(address)
    gate = Gate(users)
    handler = type("GateHandler", (_Handler,), {"gate": gate})
    server_class = _Server6 if ":" in address else _Server
    return server_class((address, port), handler)


def check_loopback(address: str) -> None:
    if address == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise AuthError(f"登录网关只能监听本机地址（如 127.0.0.1），不能监听 {address}")


# -- nginx configuration -----------------------------------------------------------------


UPSTREAM = "xuncha_dashboard"  # the upstream of several dashboard processes (one group)


def nginx_upstream(apps: Sequence[str]) -> str:
    """The `upstream` block of several dashboard processes: nginx's own consistent hashing
    on the gate's session cookie keeps one signed-in browser on one process (its websocket
    and its downloads live there); another browser may land on another process."""
    servers = "".join(f"    server {app};\n" for app in _addresses("app", apps))
    return f"upstream {UPSTREAM} {{\n    hash $cookie_{SESSION_COOKIE} consistent;\n{servers}}}\n"


def _addresses(key: str, values: str | Sequence[str]) -> list[str]:
    """Each `address:port` checked (ValueError for anything that could end a directive)."""
    listed = [values] if isinstance(values, str) else list(values)
    if not listed:
        raise ValueError(f"{key} needs at least one address:port")
    for value in listed:
        if not isinstance(value, str) or not _ADDRESS.match(value) or ":" not in value:
            raise ValueError(f"{key} must be address:port, not {value!r}")
    if len(set(listed)) != len(listed):
        raise ValueError(f"{key} names an address twice: {listed!r}")
    return listed


def render_nginx_conf(
    listen: str,
    app: str | Sequence[str],
    gate: str,
    *,
    template: str | os.PathLike[str] | None = None,
) -> str:
    """deploy/nginx/xuncha.conf with its placeholders filled: `listen` the address nginx
    listens on (`[address:]port`), `app` the dashboard's `address:port` (or a list of them,
    one per dashboard process) and `gate` this gate's `address:port`. ValueError for anything
    else (it would end up inside nginx directives).

    One dashboard address gives the file it always gave (proxy_pass to that address); several
    give an `upstream` of them hashed on the session cookie (nginx_upstream) that every
    proxied location passes to."""
    if not isinstance(listen, str) or not _ADDRESS.match(listen):
        raise ValueError(f"listen must be [address:]port, not {listen!r}")
    apps = _addresses("app", app)
    (gate_address,) = _addresses("gate", gate)
    values = {
        "LISTEN": listen,
        "APP": apps[0] if len(apps) == 1 else UPSTREAM,
        "GATE": gate_address,
    }
    text = Path(template or NGINX_TEMPLATE).read_text(encoding="utf-8")
    text = text.replace("{{UPSTREAM}}\n", "" if len(apps) == 1 else nginx_upstream(apps) + "\n")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text or "}}" in text:
        raise ValueError("nginx template has an unknown placeholder")
    return text


# -- command line ------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add the `gate` command to the `xuncha` parser's sub-commands."""
    p = subparsers.add_parser(
        "gate",
        help="登录网关：供 nginx auth_request 调用的登录服务，只监听本机地址（见 deploy/nginx）",
    )
    p.add_argument("--db", default=DEFAULT_DB, help="数据仓目录（用户库在其中的 auth/）")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"端口（默认 {DEFAULT_PORT}）")
    p.add_argument("--address", default="127.0.0.1", help="监听地址（只能是本机地址）")
    p.add_argument(
        "--print-nginx-conf",
        dest="print_nginx_conf",
        action="store_true",
        help="不启动网关，只打印填好地址的 nginx 配置（deploy/nginx/xuncha.conf）",
    )
    p.add_argument(
        "--listen", default="80", help="与 --print-nginx-conf 同用：nginx 监听的 [地址:]端口"
    )
    p.add_argument(
        "--app",
        action="append",
        default=None,
        help=(
            f"与 --print-nginx-conf 同用：驾驶舱地址（默认 {DEFAULT_APP}）；有多个驾驶舱进程"
            "（xuncha serve --workers）时重复此项或用逗号分隔，按登录会话固定到同一进程"
        ),
    )
    p.set_defaults(func=cmd_gate)


def cmd_gate(args: argparse.Namespace) -> int:
    check_loopback(args.address)
    if not 0 < args.port < 65536:
        raise AuthError(f"端口不正确：{args.port}")
    if args.print_nginx_conf:
        host = f"[{args.address}]" if ":" in args.address else args.address
        try:
            apps = [a.strip() for v in (args.app or [DEFAULT_APP]) for a in v.split(",")]
            text = render_nginx_conf(args.listen, apps, f"{host}:{args.port}")
        except (ValueError, OSError) as exc:
            raise AuthError(f"无法生成 nginx 配置：{exc}") from exc
        sys.stdout.write(text)
        return 0
    root = Path(args.db)
    if not root.is_dir():
        raise AuthError(f"数据仓目录不存在：{root}")
    users = UserStore(root)
    if not users.has_users():
        print(
            "xuncha gate: 尚未创建任何用户，请先运行 xuncha user add 用户名 --role admin",
            file=sys.stderr,
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = make_server(users, args.address, args.port)
    port = server.server_address[1]
    print(
        f"登录网关已启动：http://{args.address}:{port}（仅供 nginx 调用）；"
        f"新会话空闲 {users.idle_timeout / 60:g} 分钟或满 {users.absolute_limit / 3600:g} 小时"
        "结束（时限随会话记录，驾驶舱按同一时限核对）",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


__all__ = [
    "CHECK_PATH",
    "CSRF_COOKIE",
    "LOGIN_PATH",
    "LOGOUT_PATH",
    "SESSION_COOKIE",
    "UPSTREAM",
    "USER_HEADER",
    "Gate",
    "Request",
    "Response",
    "make_server",
    "nginx_upstream",
    "register",
    "render_nginx_conf",
]
