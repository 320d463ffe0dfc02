"""Several dashboard processes behind nginx: `xuncha serve --workers N`, the nginx upstream
hashed on the gate's session cookie, and the benchmark's `serve_gated`.

The rendering and argument tests are quick and need nothing. The rest start real processes on
free loopback ports (`serve_gated`: two `xuncha serve` workers under one supervisor, the gate,
and an nginx of the current user with its files in a temporary folder) and are skipped when
Debian's nginx is absent; every process is stopped in the fixtures' teardown. Which worker
answered is read from nginx's access log ($upstream_addr), nothing is added to the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.builders import real_copy
from tests.test_proxy import OpenPage, get, login, texts
from xuncha import workers
from xuncha.auth.gate import SESSION_COOKIE, UPSTREAM, nginx_upstream, render_nginx_conf
from xuncha.bench import server
from xuncha.cli import main
from xuncha.store import Store

# Its module-scoped set-up is costly: one xdist worker builds it once (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("workers")

NGINX = Path("/usr/sbin/nginx")
needs_nginx = pytest.mark.skipif(
    not NGINX.exists(), reason="/usr/sbin/nginx is not installed (scripts/setup.sh --browser)"
)
PASSWORD = "Xuncha-Test-2026"
APPS = ["127.0.0.1:8501", "127.0.0.1:8511", "[::1]:8521"]
GATE = "127.0.0.1:8502"


# -- the nginx configuration -------------------------------------------------------------


def _locations(text: str) -> dict[str, str]:
    blocks = re.findall(r"^    location ([^{\n]+)\{(.*?)\n    \}", text, re.S | re.M)
    return {name.strip(): body for name, body in blocks}


def test_several_dashboards_are_one_upstream_hashed_on_the_session_cookie() -> None:
    text = render_nginx_conf("0.0.0.0:80", APPS, GATE)
    assert "{{" not in text and "}}" not in text
    blocks = re.findall(r"^upstream (\S+) \{\n(.*?)^\}", text, re.S | re.M)
    assert [name for name, _ in blocks] == [UPSTREAM]
    body = blocks[0][1]
    assert re.findall(r"^    server (\S+);$", body, re.M) == APPS
    assert f"    hash $cookie_{SESSION_COOKIE} consistent;" in body.splitlines()
    assert body == nginx_upstream(APPS).split("\n", 1)[1].rsplit("}", 1)[0]
    # Every location that reached the one dashboard reaches the upstream now, checked as before.
    locations = _locations(text)
    proxied = {n: b for n, b in locations.items() if f"proxy_pass http://{UPSTREAM};" in b}
    assert set(proxied) == {"= /_stcore/stream", "/_stcore/", "/media/", "/static/", "/"}
    for name, body in proxied.items():
        assert "auth_request /_gate/check;" in body, name
        assert "proxy_set_header X-Xuncha-User $xuncha_user;" in body, name
    for app in APPS:
        assert f"http://{app}" not in text
    assert text.count(f"proxy_pass http://{GATE};") == 3  # check, login, logout


def test_one_dashboard_renders_the_conf_it_always_did() -> None:
    single = render_nginx_conf("0.0.0.0:80", "127.0.0.1:8501", GATE)
    assert render_nginx_conf("0.0.0.0:80", ["127.0.0.1:8501"], GATE) == single
    directives = "\n".join(ln.split("#", 1)[0] for ln in single.splitlines())
    assert "upstream " not in directives and "$cookie_" not in directives
    assert single.count("proxy_pass http://127.0.0.1:8501;") == 5
    # The template with its placeholders filled, nothing else: no line added or lost.
    template = Path(server.ROOT / "deploy" / "nginx" / "xuncha.conf").read_text(encoding="utf-8")
    assert len(single.splitlines()) == len(template.splitlines()) - 1


@pytest.mark.parametrize(
    "apps",
    [
        [],
        ["127.0.0.1:8501", "127.0.0.1:8501"],
        ["127.0.0.1:8501", "8502"],
        ["127.0.0.1:8501", "127.0.0.1:8502; include /etc/passwd"],
        ["127.0.0.1:8501", "127.0.0.1:85}"],
    ],
)
def test_bad_dashboard_lists_are_refused(apps: list[str]) -> None:
    with pytest.raises(ValueError):
        render_nginx_conf("80", apps, GATE)


def test_print_nginx_conf_takes_every_dashboard(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["gate", "--print-nginx-conf", "--listen", "0.0.0.0:80", "--port", "8502"]
    assert main([*args, "--app", APPS[0], "--app", ",".join(APPS[1:])]) == 0
    assert capsys.readouterr().out == render_nginx_conf("0.0.0.0:80", APPS, GATE)
    assert main([*args, "--app", "127.0.0.1:8501"]) == 0
    assert capsys.readouterr().out == render_nginx_conf("0.0.0.0:80", "127.0.0.1:8501", GATE)
    assert main(args) == 0  # the default dashboard, as before
    assert capsys.readouterr().out == render_nginx_conf("0.0.0.0:80", "127.0.0.1:8501", GATE)
    assert main([*args, "--app", "127.0.0.1:8501,127.0.0.1:8501"]) == 1
    assert "无法生成 nginx 配置" in capsys.readouterr().err


@needs_nginx
@pytest.mark.parametrize("apps", [["127.0.0.1:8501"], APPS[:2]])
def test_the_rendered_conf_passes_nginx_t(tmp_path: Path, apps: list[str]) -> None:
    conf = server.nginx_conf(tmp_path, 8080, apps, GATE)
    done = subprocess.run(
        server.nginx_command(tmp_path, conf, test=True), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


# -- the command -------------------------------------------------------------------------


def test_worker_ports() -> None:
    assert workers.worker_ports(8501, 1) == [8501]
    assert workers.worker_ports(8501, 3) == [8501, 8502, 8503]
    assert workers.worker_ports(8501, 2, "9000,9100") == [9000, 9100]
    for count, ports in ((0, None), (2, "9000"), (2, "9000,9000"), (2, "9000,x"), (1, "70000")):
        with pytest.raises(workers.WorkersError):
            workers.worker_ports(8501, count, ports)


@pytest.fixture(scope="module")
def plain_store(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plain") / "store"
    real_copy(demo_store, root)[1].add_user("zhangsan", "office", actor="test", password=PASSWORD)
    return root


def test_one_worker_serves_in_its_own_process(
    plain_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xuncha import ui

    served: list[dict[str, Any]] = []

    def serve(app: Path, **kw: Any) -> int:
        served.append(kw)
        return 0

    monkeypatch.setattr(ui, "serve", serve)
    monkeypatch.setattr(workers, "serve_workers", lambda *a, **kw: pytest.fail("supervised"))
    assert main(["serve", "--db", str(plain_store), "--port", "8765"]) == 0
    assert main(["serve", "--db", str(plain_store), "--workers", "1", "--ports", "8766"]) == 0
    assert served == [
        {"port": 8765, "address": "127.0.0.1"},
        {"port": 8766, "address": "127.0.0.1"},
    ]


def test_several_workers_are_supervised(
    plain_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from xuncha import ui

    supervised: list[tuple[Any, ...]] = []
    monkeypatch.setattr(ui, "serve", lambda app, **kw: pytest.fail("not supervised"))

    def serve_workers(*args: Any) -> int:
        supervised.append(args)
        return 0

    monkeypatch.setattr(workers, "serve_workers", serve_workers)
    assert main(["serve", "--db", str(plain_store), "--workers", "3", "--port", "9000"]) == 0
    assert supervised == [(str(plain_store.resolve()), "127.0.0.1", [9000, 9001, 9002])]
    assert main(["serve", "--db", str(plain_store), "--workers", "2", "--ports", "9000"]) == 1
    assert "与进程数 2 不一致" in capsys.readouterr().err
    command = workers.serve_command("/srv/x", "127.0.0.1", 9001)
    assert command[1:] == [
        *("-m", "xuncha.cli", "serve", "--db", "/srv/x"),
        *("--port", "9001", "--address", "127.0.0.1"),
    ]


# -- two workers behind nginx ------------------------------------------------------------


@pytest.fixture(scope="module")
def gated_store(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (not demo) copy of the demo store: its pages open only for a known user."""
    root = tmp_path_factory.mktemp("workers") / "store"
    real_copy(demo_store, root)[1].add_user("zhangsan", "office", actor="test", password=PASSWORD)
    return root


@pytest.fixture(scope="module")
def gated_log(gated_store: Path) -> Path:
    return gated_store.parent / "serve.log"


@pytest.fixture(scope="module")
def gated(gated_store: Path, gated_log: Path) -> Iterator[server.Served]:
    if not NGINX.exists():
        pytest.skip("/usr/sbin/nginx is not installed")
    with server.serve_gated(gated_store, workers=2, log_path=gated_log) as served:
        text = gated_log.read_text()
        assert "已启动 2 个驾驶舱进程" in text and f"server {served.apps[1]};" in text
        yield served


def _worker_of(served: server.Served, cookies: dict[str, str], probe: str) -> str:
    """The worker nginx sent a request with these cookies to (from its access log)."""
    uri = f"/_stcore/health?probe={probe}"
    reply = get(served.port, uri, cookies)
    assert (reply.status, reply.body.strip()) == (200, b"ok")
    assert served.access_log is not None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = served.access_log.read_text(encoding="utf-8").splitlines()
        found = [line.split("\t") for line in lines if f"\t{uri}\t" in line]
        if found:
            return found[-1][3]
        time.sleep(0.05)
    raise AssertionError(f"{uri} not in nginx's access log")


def _sessions(store: Path, count: int) -> list[dict[str, str]]:
    from xuncha.auth import UserStore

    users = UserStore(store)
    access = users.access_for("zhangsan")
    return [{SESSION_COOKIE: users.start_session(access, client="test")} for _ in range(count)]


def _one_per_worker(served: server.Served, store: Path) -> dict[str, dict[str, str]]:
    """A session cookie hashed to each worker (new sessions until every worker has one)."""
    found: dict[str, dict[str, str]] = {}
    for n, cookies in enumerate(_sessions(store, 40)):
        found.setdefault(_worker_of(served, cookies, f"pick-{n}"), cookies)
        if len(found) == len(served.apps):
            return found
    raise AssertionError(f"40 sessions all went to {sorted(found)}")


@needs_nginx
def test_one_session_stays_on_one_worker_and_sessions_spread(
    gated: server.Served, gated_store: Path
) -> None:
    assert len(gated.apps) == len(gated.pids) == len(set(gated.pids)) == 2
    seen: dict[str, set[str]] = {}
    for n, cookies in enumerate(_sessions(gated_store, 12)):
        token = cookies[SESSION_COOKIE]
        for k in range(4):
            seen.setdefault(token, set()).add(_worker_of(gated, cookies, f"{n}-{k}"))
    assert all(len(workers_of) == 1 for workers_of in seen.values()), seen
    # Different sessions go to different workers (until both have one: 2 × 2⁻⁴⁰ to fail).
    assert set(_one_per_worker(gated, gated_store)) == set(gated.apps)


@needs_nginx
def test_a_login_through_the_gate_opens_the_websocket_on_a_worker(gated: server.Served) -> None:
    reply, cookies = login(gated.port, "zhangsan", PASSWORD)
    assert reply.status == 303, reply.text
    worker = _worker_of(gated, cookies, "login")
    assert worker in gated.apps

    async def open_page() -> list[str]:
        async with OpenPage.open(gated.port, cookies) as page:
            return texts(await page.run())

    shown = asyncio.run(open_page())
    assert "关注事项" in shown, shown  # a real store's page: drawn for the gate's user only
    lines = [ln.split("\t") for ln in gated.access_log.read_text().splitlines()]  # type: ignore[union-attr]
    stream = [ln for ln in lines if ln[2] == "/_stcore/stream"]
    assert stream and stream[-1][0] == "101" and stream[-1][3] == worker
    assert stream[-1][4] == "zhangsan"  # the X-Xuncha-User nginx set for the dashboard


def _version_shown(drawn: list[str]) -> int:
    found = {int(v) for text in drawn for v in re.findall(r"数据版本 (\d+)", text)}
    assert len(found) == 1, drawn
    return found.pop()


@needs_nginx
def test_a_new_version_is_seen_by_every_worker(gated: server.Served, gated_store: Path) -> None:
    """Each worker's open page shows the version written while they serve at its next run."""
    per_worker = _one_per_worker(gated, gated_store)

    async def before_and_after() -> list[tuple[int, int]]:
        async with contextlib.AsyncExitStack() as stack:
            pages = [
                await stack.enter_async_context(OpenPage.open(gated.port, cookies))
                for cookies in per_worker.values()
            ]
            before = [_version_shown(texts(await page.run())) for page in pages]
            Store(gated_store).write(
                lambda con: con.execute("UPDATE store_meta SET value = value WHERE key = 'demo'")
            )
            after = [_version_shown(texts(await page.run())) for page in pages]
            return list(zip(before, after, strict=True))

    current = Store(gated_store).version()
    assert asyncio.run(before_and_after()) == [(current, current + 1)] * 2
    for worker, cookies in per_worker.items():  # the pages were on both workers
        assert _worker_of(gated, cookies, f"after-{worker}") == worker


# -- supervision -------------------------------------------------------------------------


def _healthy(port: int) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with contextlib.suppress(OSError), opener.open(f"http://127.0.0.1:{port}/_stcore/health") as r:
        return bool(r.read().strip() == b"ok")
    return False


@needs_nginx
def test_a_killed_worker_is_restarted(
    gated: server.Served, gated_log: Path, gated_store: Path
) -> None:
    """A `xuncha serve` child killed outright is started again on its port; the other one
    is left alone. Runs last in this module: it waits until the stack is whole again."""
    import psutil

    supervisor = psutil.Process(gated.pids[0]).ppid()
    ports = [int(app.rsplit(":", 1)[1]) for app in gated.apps]
    first = server._pids_by_port(supervisor, ports, time.monotonic())
    os.kill(first[1], signal.SIGKILL)
    deadline = time.monotonic() + 120
    while True:
        assert time.monotonic() < deadline, gated_log.read_text()[-3000:]
        with contextlib.suppress(KeyError):
            again = server._pids_by_port(supervisor, ports, time.monotonic())
            if again[1] != first[1] and _healthy(ports[1]):
                break
        time.sleep(0.2)
    assert again[0] == first[0]
    text = gated_log.read_text()
    assert f"驾驶舱进程 2（{gated.apps[1]}）已退出（被信号 SIGKILL 终止）" in text
    assert f"已重新启动驾驶舱进程 2（{gated.apps[1]}）" in text
    # Through nginx, sessions reach both workers again.
    assert set(_one_per_worker(gated, gated_store)) == set(gated.apps)


_SUPERVISED = """
import sys
from xuncha.workers import Supervisor

child = [sys.executable, "-c", "import time; time.sleep(600)"]
sys.exit(Supervisor([("a:1", child), ("a:2", child)], out=sys.stdout).run())
"""


def test_the_supervisor_restarts_a_child_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    """The supervision itself, with children that only wait (quick)."""
    import psutil

    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SUPERVISED], cwd=server.ROOT, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60

        def living(child: psutil.Process) -> bool:
            # A child killed between listing and asking is gone, not a failure.
            try:
                return child.status() != psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return False

        def children() -> list[int]:
            while True:
                found = sorted(c.pid for c in parent.children() if living(c))
                assert time.monotonic() < deadline, log.read_text()
                if len(found) == 2:
                    return found
                time.sleep(0.05)

        first = children()
        os.kill(first[0], signal.SIGKILL)
        while first[0] in (again := children()):
            time.sleep(0.05)
        assert set(first) & set(again) == {first[1]}
        # The supervisor logs the restart just after starting the child: wait for the line.
        while "已重新启动驾驶舱进程 1（a:1）" not in (text := log.read_text()):
            assert time.monotonic() < deadline, text
            time.sleep(0.05)
        assert "驾驶舱进程 1（a:1）已退出（被信号 SIGKILL 终止），1 秒后重新启动" in text, text

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
        for pid in again:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        assert "已停止全部 2 个驾驶舱进程" in log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
