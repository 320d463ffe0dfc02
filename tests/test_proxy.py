"""nginx and the login gate in front of the dashboard: nothing of Streamlit without a session.

Runs the production arrangement on free loopback ports: `xuncha serve` (trusting
X-Xuncha-User), `xuncha gate`, and nginx with deploy/nginx/xuncha.conf rendered by
`render_nginx_conf`, run in the foreground as the current user with its pid, logs and temp
files in the test's tmp dir (the system nginx service is not used). Requests are sent with
http.client (no redirects followed, no proxies) and the websocket handshake with a raw
socket. Every process started here is stopped in the fixtures' teardown.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from xuncha import audit
from xuncha.auth.gate import MAX_BODY, Gate, Request, render_nginx_conf
from xuncha.auth.users import UserStore
from xuncha.bench.server import nginx_command, nginx_conf
from xuncha.cli import main
from xuncha.store import Store

ROOT = Path(__file__).resolve().parents[1]
NGINX = Path("/usr/sbin/nginx")
PASSWORD = "Xuncha-Test-2026"
WANGWU = "王五"
WANGWU_PASSWORD = "Wangwu-Test-2026"
STREAMLIT_HTML = b"<title>Streamlit</title>"

NO_NGINX = "/usr/sbin/nginx is not installed (scripts/setup.sh --browser installs Debian's nginx)"


# -- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, size: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def stop(self) -> None:
        # start_new_session=True: the group id is this process's pid and holds only its own.
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def start(name: str, command: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, proc, log)


def wait_until(proc: Proc, port: int, path: str, *, timeout: float = 60.0) -> None:
    """Poll until `path` answers 200 on the port (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}:\n{proc.tail()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if get(port, path).status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(
        f"{proc.name} not ready on {port}{path} after {timeout:.0f} s:\n{proc.tail()}"
    )


@dataclass
class Nginx:
    port: int
    folder: Path
    proc: Proc

    @property
    def access_log(self) -> Path:
        return self.folder / "access.log"

    def log_lines(self) -> list[dict[str, str]]:
        lines = self.access_log.read_text(encoding="utf-8", errors="replace").splitlines()
        keys = ("status", "method", "uri", "upstream", "user")
        return [dict(zip(keys, line.split("\t"), strict=True)) for line in lines if line]

    def logged(self, uri: str) -> dict[str, str]:
        """The last access-log line of a request target (nginx writes it when it is done)."""
        deadline = time.monotonic() + 3
        while True:
            found = [line for line in self.log_lines() if line["uri"] == uri]
            if found or time.monotonic() > deadline:
                assert found, f"{uri} not in nginx's access log"
                return found[-1]
            time.sleep(0.05)


def start_nginx(folder: Path, *, app: str, gate: str) -> Nginx:
    """nginx on a free port in front of app and gate, everything under folder."""
    if not NGINX.exists():
        pytest.skip(NO_NGINX)
    folder.mkdir(parents=True)
    port = free_port()
    conf = nginx_conf(folder, port, app, gate)
    command = nginx_command(folder, conf)
    proc = start("nginx", command, folder / "nginx.out")
    return Nginx(port, folder, proc)


def wait_listening(proc: Proc, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}:\n{proc.tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{proc.name} not listening on {port}:\n{proc.tail()}")


def start_gate(
    store_dir: Path, folder: Path, env: dict[str, str] | None = None
) -> tuple[Proc, int]:
    port = free_port()
    command = [sys.executable, "-m", "xuncha.cli", "gate", "--db", str(store_dir)]
    command += ["--port", str(port), "--address", "127.0.0.1"]
    return start("gate", command, folder / f"gate-{port}.log", env), port


# -- HTTP --------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def cookies(self) -> dict[str, str]:
        """Set-Cookie headers by cookie name (the whole header value)."""
        found = {}
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                found[value.split("=", 1)[0].strip()] = value
        return found

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Reply:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        con.request(method, path, body=body, headers=headers or {})
        response = con.getresponse()
        return Reply(response.status, response.getheaders(), response.read())
    finally:
        con.close()


def get(port: int, path: str, cookies: dict[str, str] | None = None, **headers: str) -> Reply:
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return request(port, "GET", path, sent)


def post_form(
    port: int, path: str, fields: dict[str, str], cookies: dict[str, str] | None = None
) -> Reply:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return request(port, "POST", path, headers, urllib.parse.urlencode(fields).encode())


def cookie_value(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def csrf_of(reply: Reply, cookies: dict[str, str]) -> str:
    """The form's hidden CSRF token; the CSRF cookie (new or kept) goes into `cookies`."""
    match = re.search(r'name="csrf" value="([^"]+)"', reply.text)
    assert match, reply.text
    new = reply.cookies().get("xuncha_csrf")
    if new:
        cookies["xuncha_csrf"] = cookie_value(new)
    return match.group(1)


def login(port: int, name: str, password: str) -> tuple[Reply, dict[str, str]]:
    """Log in through the form as a browser would; the reply and the cookies it holds."""
    cookies: dict[str, str] = {}
    page = get(port, "/_gate/login")
    assert page.status == 200, page.text
    token = csrf_of(page, cookies)
    fields = {"csrf": token, "next": "/", "username": name, "password": password}
    reply = post_form(port, "/_gate/login", fields, cookies)
    session = reply.cookies().get("xuncha_session")
    if session:
        cookies["xuncha_session"] = cookie_value(session)
    return reply, cookies


def websocket_status(port: int, cookies: dict[str, str] | None = None, **headers: str) -> int:
    """The status of a websocket handshake on /_stcore/stream (101 when upgraded)."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /_stcore/stream HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Origin: http://127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if cookies:
        lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    assert status_line.startswith("HTTP/1.1 "), status_line
    return int(status_line.split()[1])


def assert_to_login(reply: Reply) -> str:
    """A redirect to the login page, not a page of the app; returns the Location."""
    assert reply.status == 302, (reply.status, reply.text[:300])
    location = reply.header("Location") or ""
    assert location.startswith("/_gate/login"), location
    assert STREAMLIT_HTML not in reply.body
    return location


class OpenPage:
    """An open page of the dashboard through nginx: Streamlit's websocket spoken as the
    browser speaks it (BackMsg out, ForwardMsg in), with the browser's cookies. Only the
    handshake passes nginx and the gate; every later interaction goes to the dashboard."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pages: dict[str, str] = {}
        self.session_id = ""

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, port: int, cookies: dict[str, str]) -> Any:
        import websockets

        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            subprotocols=["streamlit"],  # type: ignore[list-item]
            max_size=None,
            additional_headers=headers,
            origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
        ) as ws:
            yield cls(ws)

    async def _next(self) -> Any:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        message = ForwardMsg()
        message.ParseFromString(await asyncio.wait_for(self.ws.recv(), 120))
        return message

    async def run(self, page: str = "") -> dict[str, list[Any]]:
        """Rerun the script (an interaction) on a page; the elements drawn, by type."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_name = page
        msg.rerun_script.page_script_hash = self.pages.get(page, "")
        await self.ws.send(msg.SerializeToString())
        drawn: dict[str, list[Any]] = {}
        while True:
            fm = await self._next()
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fm.new_session.initialize.session_id
            elif kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in fm.navigation.app_pages}
            elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                element = fm.delta.new_element
                etype = element.WhichOneof("type")
                drawn.setdefault(etype, []).append(getattr(element, etype))
            elif (
                kind == "script_finished"
                and fm.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
            ):
                return drawn

    async def click_download(self, button: Any) -> str:
        """What the browser does on a click of a download button: asks for the file to be
        built; returns the URL it then fetches."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        msg.backend_operation_request.request_id = "download-1"
        msg.backend_operation_request.session_id = self.session_id
        msg.backend_operation_request.deferred_file.file_id = button.deferred_file_id
        await self.ws.send(msg.SerializeToString())
        while True:
            fm = await self._next()
            if fm.WhichOneof("type") == "backend_operation_response":
                response = fm.backend_operation_response
                assert not response.error_msg, response.error_msg
                return str(response.deferred_file.url)


def texts(drawn: dict[str, list[Any]]) -> list[str]:
    return [e.body for kind in ("alert", "markdown", "heading") for e in drawn.get(kind, [])]


def session_row(store_dir: Path, token: str) -> sqlite3.Row:
    con = sqlite3.connect(store_dir / "auth" / "users.sqlite")
    con.row_factory = sqlite3.Row
    try:
        row: sqlite3.Row = con.execute(
            "SELECT * FROM sessions WHERE token_hash = ?",
            (hashlib.sha256(token.encode()).hexdigest(),),
        ).fetchone()
    finally:
        con.close()
    return row


def backdate(store_dir: Path, token: str, seconds: float) -> None:
    """The session's last activity moved into the past: as if the user had been away."""
    con = sqlite3.connect(store_dir / "auth" / "users.sqlite")
    try:
        con.execute(
            "UPDATE sessions SET last_seen = last_seen - ? WHERE token_hash = ?",
            (seconds, hashlib.sha256(token.encode()).hexdigest()),
        )
        con.commit()
    finally:
        con.close()


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxy")


@pytest.fixture(scope="module")
def store_dir(demo_store: Store, stack_dir: Path) -> Path:
    """A copy of the demo store with two users (the demo store is shared by other tests)."""
    root = stack_dir / "store"
    shutil.copytree(demo_store.root, root)
    users = UserStore(root)
    users.add_user("zhangsan", "office", actor="test", password=PASSWORD)
    users.add_user(WANGWU, "viewer", actor="test", password=WANGWU_PASSWORD)
    return root


@dataclass
class Stack:
    app: str  # address:port of the dashboard
    gate: str
    gate_port: int
    gate_log: Path
    nginx: Nginx
    procs: list[Proc] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.nginx.port


@pytest.fixture(scope="module")
def stack(store_dir: Path, stack_dir: Path) -> Iterator[Stack]:
    """Dashboard, gate and nginx, started together and stopped whatever happens."""
    if not NGINX.exists():
        pytest.skip(NO_NGINX)
    procs: list[Proc] = []
    try:
        app_port = free_port()
        command = [sys.executable, "-m", "xuncha.cli", "serve", "--db", str(store_dir)]
        command += ["--port", str(app_port), "--address", "127.0.0.1"]
        app = start(
            "xuncha serve",
            command,
            stack_dir / "app.log",
            {
                "XUNCHA_TRUSTED_USER_HEADER": "X-Xuncha-User",
                "XUNCHA_TRUSTED_CLIENT_HEADER": "X-Real-IP",
                "XUNCHA_DB": str(store_dir),
            },
        )
        procs.append(app)
        gate, gate_port = start_gate(store_dir, stack_dir)
        procs.append(gate)
        nginx = start_nginx(
            stack_dir / "nginx", app=f"127.0.0.1:{app_port}", gate=f"127.0.0.1:{gate_port}"
        )
        procs.append(nginx.proc)
        wait_until(gate, gate_port, "/_gate/login", timeout=20)
        wait_listening(nginx.proc, nginx.port)
        wait_until(app, app_port, "/_stcore/health", timeout=60)
        yield Stack(
            f"127.0.0.1:{app_port}", f"127.0.0.1:{gate_port}", gate_port, gate.log, nginx, procs
        )
    finally:
        for proc in reversed(procs):
            proc.stop()


class _Echo(BaseHTTPRequestHandler):
    """A stand-in dashboard that records the headers of every request reaching it."""

    seen: list[tuple[str, list[tuple[str, str]]]]

    def do_GET(self) -> None:
        self.seen.append((self.path, list(self.headers.items())))
        body = b"echo"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def echo() -> Iterator[tuple[str, list[tuple[str, list[tuple[str, str]]]]]]:
    seen: list[tuple[str, list[tuple[str, str]]]] = []
    handler = type("Echo", (_Echo,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


# -- without a session -------------------------------------------------------------------


def test_without_a_session_nothing_reaches_the_dashboard(stack: Stack) -> None:
    port = stack.port
    before = len(stack.nginx.log_lines())  # other tests may have run first (pytest -n)
    assert assert_to_login(get(port, "/")) == "/_gate/login"
    # A deep link comes back after logging in; the page to return to is encoded.
    location = assert_to_login(get(port, "/distribution?rounds=3-7&peer=x"))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert query == {"next": ["/distribution?rounds=3-7&peer=x"]}

    media = get(port, "/media/0123456789abcdef.bin")
    assert media.status in (302, 401)
    assert_to_login(media)
    health = get(port, "/_stcore/health")
    assert_to_login(health)
    assert health.body.strip() != b"ok"
    assert_to_login(get(port, "/static/js/index.js"))
    assert_to_login(get(port, "/_stcore/host-config"))
    assert websocket_status(port) != 101

    # A client naming itself a user is not believed: only the session cookie counts.
    assert_to_login(get(port, "/", X_Xuncha_User="zhangsan"))
    assert_to_login(get(port, "/_stcore/health", X_Xuncha_User="zhangsan"))
    assert websocket_status(port, X_Xuncha_User="zhangsan") != 101
    # A made-up or malformed cookie is refused (and the login page says the login is over).
    fake = {"xuncha_session": "A" * 43}
    assert assert_to_login(get(port, "/", fake)) == "/_gate/login?ended=unknown"
    assert_to_login(get(port, "/", {"xuncha_session": "a;b%00<script>"}))
    assert websocket_status(port, fake) != 101
    # The check is internal to nginx; other /_gate/ paths do not exist.
    assert get(port, "/_gate/check", fake).status == 404
    assert get(port, "/_gate/anything").status == 404

    # None of these reached the dashboard: nginx answered after asking only the gate.
    media_line = stack.nginx.logged("/media/0123456789abcdef.bin")
    assert media_line["status"] in ("302", "401")
    lines = stack.nginx.log_lines()[before:]
    assert len([line for line in lines if line["status"] == "302"]) >= 12
    for line in lines:
        assert stack.app not in line["upstream"], line


def test_the_login_page(stack: Stack) -> None:
    page = get(stack.port, "/_gate/login")
    assert page.status == 200
    for text in ("巡察数据驾驶舱", "登录", "用户名", "密码", "内部资料 注意保密"):
        assert text in page.text
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    csp = page.header("Content-Security-Policy") or ""
    assert "default-src 'none'" in csp and "form-action 'self'" in csp
    assert page.header("X-Frame-Options") == "DENY"
    assert page.header("Cache-Control") == "no-store"
    assert page.header("Server") == "nginx"  # server_tokens off: no version
    # Self-contained: nothing loaded from anywhere.
    assert not re.search(r"(src|href)=|url\(|@import|<script", page.text, re.I)
    csrf = page.cookies()["xuncha_csrf"]
    assert "HttpOnly" in csrf and "SameSite=Strict" in csrf

    idle = get(stack.port, "/_gate/login?ended=idle")
    assert "会话已因长时间无操作结束，请重新登录" in idle.text
    assert "已退出登录" in get(stack.port, "/_gate/login?ended=logout").text
    # Unknown reasons and markup are never echoed.
    odd = get(stack.port, "/_gate/login?ended=%3Cb%3Ehi&next=//evil.example/")
    assert odd.status == 200 and "<b>hi" not in odd.text and "evil.example" not in odd.text


# -- logging in --------------------------------------------------------------------------


def test_a_wrong_password_or_a_missing_csrf_token_sets_no_cookie(stack: Stack) -> None:
    port = stack.port
    wrong, cookies = login(port, "zhangsan", "Not-The-Password-1")
    assert wrong.status == 401
    assert "用户名或密码错误" in wrong.text
    assert "xuncha_session" not in wrong.cookies() and "xuncha_session" not in cookies
    assert 'value="zhangsan"' in wrong.text  # the name is kept, the password never echoed
    assert "Not-The-Password-1" not in wrong.text

    # The right password without a valid CSRF token does not log in.
    page = get(port, "/_gate/login")
    jar: dict[str, str] = {}
    token = csrf_of(page, jar)
    fields = {"username": "zhangsan", "password": PASSWORD, "next": "/"}
    for sent_cookies, sent_fields in (
        (jar, fields),  # no hidden field
        ({}, {**fields, "csrf": token}),  # no cookie
        (jar, {**fields, "csrf": token[:-1] + ("A" if token[-1] != "A" else "B")}),
        ({"xuncha_csrf": "x" * 43}, {**fields, "csrf": token}),
    ):
        refused = post_form(port, "/_gate/login", sent_fields, sent_cookies)
        assert refused.status == 403, refused.text
        assert "xuncha_session" not in refused.cookies()
        assert "用户名" in refused.text  # the form again, with a fresh token

    # Strict parsing: not a form, a repeated field, a body over the limit.
    headers = {"Content-Type": "application/json", "Cookie": f"xuncha_csrf={jar['xuncha_csrf']}"}
    body = json.dumps({**fields, "csrf": token}).encode()
    assert request(port, "POST", "/_gate/login", headers, body).status == 400
    twice = urllib.parse.urlencode([*fields.items(), ("csrf", token), ("csrf", token)])
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert request(port, "POST", "/_gate/login", headers, twice.encode()).status == 400
    big = urllib.parse.urlencode({**fields, "csrf": token, "pad": "x" * MAX_BODY})
    assert request(port, "POST", "/_gate/login", headers, big.encode()).status == 413


def test_login_opens_the_dashboard_and_logout_closes_it(stack: Stack) -> None:
    port = stack.port
    reply, cookies = login(port, "zhangsan", PASSWORD)
    assert reply.status == 303, reply.text
    assert reply.header("Location") == "/"
    session = reply.cookies()["xuncha_session"]
    attributes = {part.strip() for part in session.split(";")[1:]}
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= attributes
    assert "Secure" not in attributes  # only with XUNCHA_COOKIE_SECURE=1

    home = get(port, "/", cookies)
    assert home.status == 200 and STREAMLIT_HTML in home.body
    health = get(port, "/_stcore/health", cookies)
    assert (health.status, health.body.strip()) == (200, b"ok")
    assert websocket_status(port, cookies) == 101
    # Protected, not blocked: a download URL reaches Streamlit, which knows no such file.
    missing = get(port, "/media/nonexistent.bin", cookies)
    assert missing.status == 404
    line = stack.nginx.logged("/media/nonexistent.bin")
    assert (line["status"], line["upstream"], line["user"]) == ("404", stack.app, "zhangsan")
    # A forged header with a real session: the dashboard is told the session's user.
    assert get(port, "/_stcore/health", cookies, X_Xuncha_User="admin").status == 200
    assert stack.nginx.logged("/_stcore/health")["user"] == "zhangsan"
    # Signed in, the login page sends one to the dashboard.
    assert get(port, "/_gate/login", cookies).header("Location") == "/"

    # Logout is a form with a CSRF token; without the token nothing happens.
    confirm = get(port, "/_gate/logout", cookies)
    assert confirm.status == 200 and "退出登录" in confirm.text
    token = csrf_of(confirm, cookies)
    no_token = {k: v for k, v in cookies.items() if k != "xuncha_csrf"}
    assert post_form(port, "/_gate/logout", {"csrf": token}, no_token).status == 403
    assert get(port, "/", cookies).status == 200
    out = post_form(port, "/_gate/logout", {"csrf": token}, cookies)
    assert out.status == 303
    assert out.header("Location") == "/_gate/login?ended=logout"
    cleared = out.cookies()["xuncha_session"]
    assert cleared.startswith("xuncha_session=;") and "Max-Age=0" in cleared

    # The old cookie is worthless now, everywhere.
    assert assert_to_login(get(port, "/", cookies)) == "/_gate/login?ended=logout"
    assert_to_login(get(port, "/_stcore/health", cookies))
    assert_to_login(get(port, "/media/nonexistent.bin", cookies))
    assert websocket_status(port, cookies) != 101
    assert "已退出登录" in get(port, "/_gate/login?ended=logout", cookies).text


def test_a_deep_link_comes_back_after_login(stack: Stack) -> None:
    port = stack.port
    location = assert_to_login(get(port, "/progress?rounds=2-5"))
    cookies: dict[str, str] = {}
    page = get(port, location)
    token = csrf_of(page, cookies)
    assert 'name="next" value="/progress?rounds=2-5"' in page.text
    fields = {"csrf": token, "next": "/progress?rounds=2-5", "username": "zhangsan"}
    reply = post_form(port, "/_gate/login", {**fields, "password": PASSWORD}, cookies)
    assert (reply.status, reply.header("Location")) == (303, "/progress?rounds=2-5")
    # Never to another site.
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/_gate/check"):
        reply = post_form(
            port, "/_gate/login", {**fields, "next": target, "password": PASSWORD}, cookies
        )
        assert (reply.status, reply.header("Location")) == (303, "/"), target


def test_the_dashboard_is_told_only_the_gates_user(
    stack: Stack, stack_dir: Path, echo: tuple[str, list[tuple[str, list[tuple[str, str]]]]]
) -> None:
    """nginx in front of a stand-in dashboard that records what reaches it."""
    address, seen = echo
    nginx = start_nginx(stack_dir / "nginx-echo", app=address, gate=stack.gate)
    try:
        wait_listening(nginx.proc, nginx.port)
        forged = {"X_Xuncha_User": "admin", "X_Real_IP": "10.9.9.9"}
        assert_to_login(get(nginx.port, "/page", **forged))
        assert seen == []  # refused requests never reach the dashboard

        reply, cookies = login(nginx.port, WANGWU, WANGWU_PASSWORD)
        assert reply.status == 303, reply.text
        con = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
        con.putrequest("GET", "/page")
        con.putheader("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
        con.putheader("X-Xuncha-User", "admin")
        con.putheader("X-Xuncha-User", "zhangsan")
        con.putheader("X-Xuncha_User", "admin")
        con.putheader("X-Real-IP", "10.9.9.9")
        con.endheaders()
        response = con.getresponse()
        assert (response.status, response.read()) == (200, b"echo")
        con.close()
    finally:
        nginx.proc.stop()
    assert len(seen) == 1
    path, headers = seen[0]
    assert path == "/page"
    users = [v for k, v in headers if k.lower().replace("_", "-") == "x-xuncha-user"]
    assert users == [urllib.parse.quote(WANGWU)]
    assert [v for k, v in headers if k.lower() == "x-real-ip"] == ["127.0.0.1"]
    # The dashboard's own reading of the header (UserStore.access_from_header) names 王五.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XUNCHA_TRUSTED_USER_HEADER", "X-Xuncha-User")
        access = UserStore(stack_dir / "store").access_from_header(dict(headers))
    assert access is not None and access.user == WANGWU


# -- time and throttling -----------------------------------------------------------------


def test_an_idle_session_ends_the_open_page_and_the_next_request(
    stack: Stack, store_dir: Path, stack_dir: Path
) -> None:
    """A gate whose idle limit is one minute (XUNCHA_IDLE_MINUTES=1, set for the gate only),
    in front of the same dashboard (left at 15 minutes). A page opened before the user went
    away asks the dashboard, not the gate, at its next interaction: the session ends there
    with the idle message, and is not revived for the gate either."""
    gate, gate_port = start_gate(store_dir, stack_dir, {"XUNCHA_IDLE_MINUTES": "1"})
    nginx: Nginx | None = None
    try:
        nginx = start_nginx(stack_dir / "nginx-idle", app=stack.app, gate=f"127.0.0.1:{gate_port}")
        wait_until(gate, gate_port, "/_gate/login", timeout=20)
        wait_listening(nginx.proc, nginx.port)
        port = nginx.port
        reply, cookies = login(port, "zhangsan", PASSWORD)
        assert reply.status == 303, reply.text
        token = cookies["xuncha_session"]

        async def open_page_then_away() -> tuple[list[str], list[str]]:
            async with OpenPage.open(port, cookies) as page:
                before = texts(await page.run())
                backdate(store_dir, token, 5 * 60)  # away for five minutes
                after = texts(await page.run())
                return before, after

        before, after = asyncio.run(open_page_then_away())
        assert "关注事项" in before, before
        assert "会话因长时间无操作已结束，请重新登录。" in after, after
        assert "关注事项" not in after
        row = session_row(store_dir, token)
        assert row["end_reason"] == "idle" and row["ended_at"] is not None
        assert row["ended_at"] - row["last_seen"] >= 5 * 60  # the away time was not renewed
        location = assert_to_login(get(port, "/", cookies))
        assert location == "/_gate/login?ended=idle"
        assert websocket_status(port, cookies) != 101
        page = get(port, location, cookies)
        assert "会话已因长时间无操作结束，请重新登录" in page.text
    finally:
        if nginx is not None:
            nginx.proc.stop()
        gate.stop()
    audit_lines = (store_dir / "audit" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    timeouts = [json.loads(line) for line in audit_lines if '"logout_timeout"' in line]
    assert timeouts and timeouts[-1]["user"] == "zhangsan"
    assert timeouts[-1]["details"]["reason"] == "idle"
    assert timeouts[-1]["details"]["idle_minutes"] == 1


def test_a_download_goes_only_to_the_session_that_made_it(stack: Stack, store_dir: Path) -> None:
    """zhangsan (office) exports the list on 问题分布; the file's URL, fetched through nginx
    with 王五's session (a signed-in viewer without export rights), is refused, and so is
    every request without zhangsan's session. zhangsan's own browser gets the file."""
    port = stack.port
    reply, mine = login(port, "zhangsan", PASSWORD)
    assert reply.status == 303, reply.text
    reply, theirs = login(port, WANGWU, WANGWU_PASSWORD)
    assert reply.status == 303, reply.text

    async def export() -> str:
        async with OpenPage.open(port, mine) as page:
            await page.run()
            drawn = await page.run("distribution")
            buttons = [b for b in drawn.get("download_button", []) if b.label == "导出 CSV"]
            assert buttons, texts(drawn)
            return await page.click_download(buttons[0])

    url = asyncio.run(export())
    assert url.startswith("/media/") and url.endswith(".csv"), url
    before = len(audit.entries(store_dir))
    got = get(port, url, mine)
    assert got.status == 200 and got.body.startswith("\ufeff".encode()), got.status
    assert "no-store" in (got.header("Cache-Control") or "")

    refused = get(port, url, theirs)
    assert refused.status == 403, refused.status
    assert "不属于当前登录的用户或会话" in refused.text
    assert assert_to_login(get(port, url))  # no session at all: the gate's login
    # Another session of the same user is another browser: refused too.
    assert get(port, url, login(port, "zhangsan", PASSWORD)[1]).status == 403
    entries = audit.entries(store_dir)[before:]
    denied = [e for e in entries if e.action == "download_refused"]
    assert [e.user for e in denied] == [WANGWU, "zhangsan"]
    assert {e.details["reason"] for e in denied} == {"not_yours"}
    assert denied[0].details["client"] == "127.0.0.1"
    exports = [e for e in audit.entries(store_dir) if e.action == "export"]
    assert exports and exports[-1].user == "zhangsan"
    assert exports[-1].details["sha256"] == hashlib.sha256(got.body).hexdigest()


def test_repeated_failures_are_throttled(stack: Stack) -> None:
    port = stack.port
    statuses = []
    for _ in range(6):
        reply, cookies = login(port, "lisi", "Wrong-Password-99")
        statuses.append(reply.status)
        assert "xuncha_session" not in cookies
    assert statuses[:4] == [401] * 4
    assert statuses[4:] == [429, 429]
    assert int(reply.header("Retry-After") or 0) > 0
    assert "登录失败次数过多" in reply.text


# -- the gate on its own -----------------------------------------------------------------


def test_the_gate_never_fails_on_bad_input(stack: Stack) -> None:
    port = stack.gate_port
    check = "/_gate/check"
    for cookie in (
        "",
        "xuncha_session",
        "xuncha_session=",
        'xuncha_session=""',
        "=;=;;",
        "xuncha_session=" + "A" * 5000,
        "xuncha_session=%ff%00",
        "a=b; xuncha_session=é",
    ):
        reply = request(port, "GET", check, {"Cookie": cookie})
        assert reply.status == 401, (cookie, reply.status)
        assert (reply.header("X-Xuncha-Login") or "").startswith("/_gate/login")
    for target in ("//evil.example/x", "/_stcore/health", "/\\evil", "/" + "a" * 5000):
        headers = {"X-Original-URI": target, "X-Original-Method": "GET"}
        reply = request(port, "GET", check, headers)
        assert (reply.status, reply.header("X-Xuncha-Login")) == (401, "/_gate/login"), target
    assert request(port, "HEAD", check).status == 405
    assert request(port, "GET", "/elsewhere").status == 404
    assert request(port, "DELETE", "/_gate/login").status in (405, 501)
    chunked = {"Transfer-Encoding": "chunked", "Content-Type": "application/x-www-form-urlencoded"}
    assert request(port, "POST", "/_gate/login", chunked, iter([b"a=b"])).status == 411
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for body in (b"\xff\xfe", b"username=%ff", b"a" * 20, b"&&=&"):
        assert request(port, "POST", "/_gate/login", form, body).status == 400, body
    for garbage in (b"\x16\x03\x01garbage\r\n\r\n", b"GET /_gate/check HTTP/1.1\r\nX: \xff\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        assert b" 500 " not in answer and b" 503 " not in answer
    assert request(port, "GET", "/_gate/login").status == 200  # still serving
    assert "Traceback" not in stack.gate_log.read_text(errors="replace")


def test_render_nginx_conf() -> None:
    text = render_nginx_conf("0.0.0.0:80", "127.0.0.1:8501", "127.0.0.1:8502")
    assert "{{" not in text and "}}" not in text
    assert "listen 0.0.0.0:80;" in text and "server_tokens off;" in text
    assert "client_max_body_size 20m;" in text
    # Every location that proxies to the dashboard asks the gate and sets the user header.
    blocks = re.findall(r"^    location ([^{\n]+)\{(.*?)\n    \}", text, re.S | re.M)
    proxied = {name.strip(): body for name, body in blocks if "http://127.0.0.1:8501" in body}
    assert set(proxied) == {"= /_stcore/stream", "/_stcore/", "/media/", "/static/", "/"}
    for name, body in proxied.items():
        assert "auth_request /_gate/check;" in body, name
        assert "auth_request_set $xuncha_user $upstream_http_x_xuncha_user;" in body, name
        assert "proxy_set_header X-Xuncha-User $xuncha_user;" in body, name
    assert "proxy_set_header Upgrade $http_upgrade;" in proxied["= /_stcore/stream"]
    # Downloads are checked by the dashboard against the session cookie.
    assert "proxy_set_header Cookie $http_cookie;" in proxied["/media/"]
    check = dict((n.strip(), b) for n, b in blocks)["= /_gate/check"]
    assert "internal;" in check and "proxy_pass_request_body off;" in check
    for bad in ("80; include /etc/passwd", "127.0.0.1:80 ssl", "", "a b:1", "127.0.0.1:8501}"):
        with pytest.raises(ValueError):
            render_nginx_conf(bad, "127.0.0.1:8501", "127.0.0.1:8502")
        with pytest.raises(ValueError):
            render_nginx_conf("80", "127.0.0.1:8501", bad)


def test_the_gate_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["gate", "--db", str(tmp_path), "--address", "0.0.0.0"]) == 1
    assert "只能监听本机地址" in capsys.readouterr().err
    assert main(["gate", "--db", str(tmp_path / "missing"), "--port", "1"]) == 1
    assert "数据仓目录不存在" in capsys.readouterr().err
    argv = ["gate", "--print-nginx-conf", "--listen", "0.0.0.0:8080", "--port", "9502"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed == render_nginx_conf("0.0.0.0:8080", "127.0.0.1:8501", "127.0.0.1:9502")
    assert main([*argv[:-2], "--listen", "80;"]) == 1


def test_secure_cookies_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """XUNCHA_COOKIE_SECURE=1 (behind TLS): both cookies only travel over HTTPS."""
    monkeypatch.setenv("XUNCHA_COOKIE_SECURE", "1")
    users = UserStore(tmp_path)
    users.add_user("zhangsan", "office", actor="test", password=PASSWORD)
    gate = Gate(users)
    page = gate.handle(Request("GET", "/_gate/login", "", {}))
    csrf = dict(page.headers)["Set-Cookie"]
    assert csrf.endswith("; Secure")
    token = cookie_value(csrf)
    body = urllib.parse.urlencode({"csrf": token, "username": "zhangsan", "password": PASSWORD})
    headers = {
        "content-type": ["application/x-www-form-urlencoded"],
        "cookie": [f"xuncha_csrf={token}"],
    }
    reply = gate.handle(Request("POST", "/_gate/login", "", headers, body.encode()))
    assert reply.status == 303
    session = dict(reply.headers)["Set-Cookie"]
    assert session.startswith("xuncha_session=") and session.endswith("; Secure")
