"""What a leader waits for in a real browser, and what the page costs the browser: Debian's
headless Chromium (never a downloaded browser) opens every analysis page of the dashboard
served on loopback, signed in as the benchmark's user (the trusted identity header and a live
session cookie, as behind the login gate).

Per page and repeat, in a new browser context (a new session) with a new 统计截至 date in the
URL, so no query result is reused:

- first visit: from navigation until the script run has finished and the page is drawn: the
  time of the last DOM change, once the script is not running, Streamlit's status widget is
  gone, every plotly chart has its SVG and nothing has changed for `QUIET_MS` (not a sleep:
  the end is the last change, the quiet window only proves it was the last);
- filter change: on the same page, a category picked in the sidebar's 问题类别（一级）
  multiselect (the real widget, clicked), until the rerun has finished and the page is
  redrawn, by the same rule;
- bytes: what the page received for each, through the Chrome DevTools Protocol: websocket
  frames' payloads (Streamlit's ForwardMsgs, parsed to say which elements they carry) plus
  HTTP responses (encodedDataLength, headers included; the first visit loads the frontend);
- browser CPU: `Performance.getMetrics` (TaskDuration, ScriptDuration, LayoutDuration,
  RecalcStyleDuration) before and after, the difference.

Medians over the repeats; one visit before them, not counted, pays the server's first run.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xuncha.bench.server import serve
from xuncha.bench.timing import median

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
CONTEXT_OPTIONS: dict[str, Any] = {
    "viewport": {"width": 1440, "height": 900},
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}
BROWSER_USER = "bench-browser"
PROXY_HEADER = "X-Xuncha-User"
TRUSTED_HEADER_ENV = "XUNCHA_TRUSTED_USER_HEADER"
FILTER_WIDGET = "问题类别（一级）"
FILTER_OPTION = "B"  # the category code picked on a filter change
QUIET_MS = 500
CPU_METRICS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")


@dataclass(frozen=True)
class BrowserPage:
    name: str
    path: str  # URL path (app.py's PAGES)
    title: str


# Every analysis page of the navigation the benchmark's user sees (app.py's PAGES).
BROWSER_PAGES: list[BrowserPage] = [
    BrowserPage("attention", "/", "关注事项"),
    BrowserPage("overview", "/overview", "总览"),
    BrowserPage("distribution", "/distribution", "问题分布"),
    BrowserPage("progress", "/progress", "整改进度"),
    BrowserPage("repeats", "/repeats", "屡查屡犯"),
    BrowserPage("ecology", "/ecology", "政治生态"),
    BrowserPage("briefing", "/briefing", "领导简报"),
    BrowserPage("sql", "/sql", "数据查询"),
    BrowserPage("compare", "/compare", "对比分析"),
]

# Installed before any page script: records in window.__xb the time (performance.now(), ms
# since navigation) of the last DOM change, of each script state change, of the first drawn
# chart and of the last pointer press (a filter change starts there).
_OBSERVER = """(() => {
    const xb = window.__xb = {last: 0, runs: 0, doneAt: 0, firstChart: 0, pressAt: 0,
                              state: ''};
    const look = () => {
        const now = performance.now();
        xb.last = now;
        const app = document.querySelector('[data-testid="stApp"]');
        const state = app ? app.dataset.testScriptState : '';
        if (state !== xb.state) {
            if (state === 'running') xb.runs += 1;
            if (state === 'notRunning') xb.doneAt = now;
            xb.state = state;
        }
        if (!xb.firstChart && document.querySelector('.js-plotly-plot .main-svg'))
            xb.firstChart = now;
    };
    new MutationObserver(look).observe(document, {
        subtree: true, childList: true, attributes: true, characterData: true});
    document.addEventListener('pointerdown', () => { xb.pressAt = performance.now(); }, true);
})()"""

# Drawn: at least `runs` script runs seen, none running, no status widget, every chart with
# its SVG, no DOM change for the quiet window.
_READY = """([runs, quiet]) => {
    const xb = window.__xb;
    if (!xb || xb.runs < runs || xb.state !== 'notRunning') return false;
    if (document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]'))
        return false;
    const plots = [...document.querySelectorAll('.js-plotly-plot')];
    if (plots.some(p => !p.querySelector('.main-svg'))) return false;
    return performance.now() - xb.last >= quiet;
}"""
_STATE = """() => ({last: window.__xb.last, runs: window.__xb.runs, doneAt: window.__xb.doneAt,
    firstChart: window.__xb.firstChart, pressAt: window.__xb.pressAt,
    charts: document.querySelectorAll('.js-plotly-plot').length,
    elements: document.getElementsByTagName('*').length,
    errors: document.querySelectorAll('[data-testid="stException"]').length})"""


@dataclass
class _Traffic:
    """Bytes received since the last reset: websocket payloads (by element) and HTTP."""

    ws: int = 0
    http: int = 0
    by_element: Counter[str] = field(default_factory=Counter)
    pending: set[str] = field(default_factory=set)  # HTTP requests under way

    def reset(self) -> None:
        self.ws = self.http = 0
        self.by_element = Counter()

    def frame(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        payload = str(response.get("payloadData", ""))
        # A binary frame's payload comes base64-encoded in the protocol.
        raw = base64.b64decode(payload) if response.get("opcode") == 2 else payload.encode()
        self.ws += len(raw)
        self.by_element[_what(raw)] += len(raw)

    def started(self, event: dict[str, Any]) -> None:
        if event.get("type") != "WebSocket":
            self.pending.add(str(event.get("requestId")))

    def finished(self, event: dict[str, Any]) -> None:
        self.pending.discard(str(event.get("requestId")))
        self.http += int(event.get("encodedDataLength") or 0)

    def failed(self, event: dict[str, Any]) -> None:
        self.pending.discard(str(event.get("requestId")))


def _what(raw: bytes) -> str:
    """What a Streamlit ForwardMsg carries: its element type and label, if any."""
    try:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = ForwardMsg()
        msg.ParseFromString(raw)
    except Exception:
        return "other"
    kind = msg.WhichOneof("type") or "other"
    if kind != "delta":
        return kind
    delta = msg.delta
    dtype = delta.WhichOneof("type") or "delta"
    if dtype != "new_element":
        return dtype
    element = delta.new_element
    etype = element.WhichOneof("type") or "element"
    label = getattr(getattr(element, etype), "label", "") if etype else ""
    return f"{etype}:{label}" if isinstance(label, str) and label else etype


@dataclass
class _Visit:
    ms: float
    script_ms: float
    ws_bytes: int
    http_bytes: int
    cpu: dict[str, float]
    renderer_ms: float
    by_element: Counter[str]
    first_chart_ms: float | None
    charts: int
    elements: int


class _Tab:
    """One page in a new context, with a CDP session counting its traffic and CPU."""

    def __init__(
        self, browser: Any, base: str, cookie: tuple[str, str], alive: Callable[[], bool]
    ) -> None:
        self.alive = alive
        self.context = browser.new_context(
            **CONTEXT_OPTIONS, extra_http_headers={PROXY_HEADER: BROWSER_USER}
        )
        self.context.add_cookies([{"name": cookie[0], "value": cookie[1], "url": base}])
        self.context.add_init_script(script=_OBSERVER)
        self.page = self.context.new_page()
        self.cdp = self.context.new_cdp_session(self.page)
        self.traffic = _Traffic()
        self.cdp.on("Network.webSocketFrameReceived", self.traffic.frame)
        self.cdp.on("Network.requestWillBeSent", self.traffic.started)
        self.cdp.on("Network.loadingFinished", self.traffic.finished)
        self.cdp.on("Network.loadingFailed", self.traffic.failed)
        self.cdp.send("Network.enable")
        self.cdp.send("Performance.enable")

    def cpu(self) -> dict[str, float]:
        metrics = self.cdp.send("Performance.getMetrics")["metrics"]
        return {m["name"]: float(m["value"]) for m in metrics if m["name"] in CPU_METRICS}

    def state(self) -> dict[str, Any]:
        return dict(self.page.evaluate(_STATE))

    def wait_drawn(self, runs: int, timeout_ms: float, where: str) -> dict[str, Any]:
        """Drawn, and no HTTP request under way (a chart's code still loading, behind a
        placeholder, changes nothing in the DOM for a while)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            left = max(deadline - time.monotonic(), 0.001) * 1000
            try:  # in slices: a dashboard process that died (out of memory) is said at once
                self.page.wait_for_function(
                    _READY, arg=[runs, QUIET_MS], timeout=min(left, 10_000), polling=50
                )
            except PlaywrightTimeout:
                if not self.alive():
                    raise RuntimeError(f"{where}: the dashboard process has ended") from None
                if time.monotonic() >= deadline:
                    raise
                continue
            if not self.traffic.pending:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{where}: requests still under way {self.traffic.pending}")
            self.page.wait_for_timeout(50)  # let the network events in
        state = self.state()
        if state["errors"]:
            raise RuntimeError(f"{where}: the page shows an exception")
        return state

    def close(self) -> None:
        self.context.close()


def _spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round((after.get(k, 0.0) - before.get(k, 0.0)) * 1000, 1) for k in CPU_METRICS}


def _renderer_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each Chromium renderer process this process started.
    TaskDuration is the main thread's busy wall time, which a loaded machine inflates; this
    is the CPU actually spent, the page's worker threads included."""
    import psutil

    found: dict[int, float] = {}
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "--type=renderer" in proc.cmdline():
                times = proc.cpu_times()
                found[proc.pid] = times.user + times.system
    return found


def _renderer_spent(before: dict[int, float], after: dict[int, float]) -> float:
    return round(sum(t - before.get(pid, 0.0) for pid, t in after.items()) * 1000, 1)


def _first_visit(tab: _Tab, url: str, timeout_ms: float) -> _Visit:
    tab.traffic.reset()
    before, renderers = tab.cpu(), _renderer_cpu()
    tab.page.goto(url, wait_until="commit", timeout=timeout_ms)
    state = tab.wait_drawn(1, timeout_ms, url)
    return _Visit(
        ms=state["last"],  # performance.now() counts from the navigation's start
        script_ms=state["doneAt"],
        ws_bytes=tab.traffic.ws,
        http_bytes=tab.traffic.http,
        cpu=_spent(before, tab.cpu()),
        renderer_ms=_renderer_spent(renderers, _renderer_cpu()),
        by_element=tab.traffic.by_element,
        first_chart_ms=state["firstChart"] or None,
        charts=state["charts"],
        elements=state["elements"],
    )


def _filter_change(tab: _Tab, timeout_ms: float, where: str) -> _Visit:
    """Pick category FILTER_OPTION in the sidebar's L1 multiselect; time from the press on
    the option until the rerun is drawn."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = tab.page
    widget = page.get_by_test_id("stMultiSelect").filter(has_text=FILTER_WIDGET)
    option = page.get_by_role("option").filter(has_text=re.compile(rf"^{FILTER_OPTION}\b"))
    runs = tab.state()["runs"]
    tab.traffic.reset()
    before, renderers = tab.cpu(), _renderer_cpu()
    # On a freshly drawn page the list does not always open at the first click, nor stay
    # open until the option is pressed: open it again (not timed: the time starts at the
    # press on the option; the bytes and CPU of a retry are a list opened, a few KB).
    for attempt in range(8):
        target = "input" if attempt % 2 else 'button[aria-haspopup="listbox"]'
        widget.locator(target).click(timeout=timeout_ms)
        with contextlib.suppress(PlaywrightTimeout):
            option.first.click(timeout=5000)
            break
    else:
        raise RuntimeError(f"{where}: the option {FILTER_OPTION} of {FILTER_WIDGET} not pressed")
    page.keyboard.press("Escape")  # close the list, as a user would
    state = tab.wait_drawn(runs + 1, timeout_ms, where)
    return _Visit(
        ms=state["last"] - state["pressAt"],
        script_ms=state["doneAt"] - state["pressAt"],
        ws_bytes=tab.traffic.ws,
        http_bytes=tab.traffic.http,
        cpu=_spent(before, tab.cpu()),
        renderer_ms=_renderer_spent(renderers, _renderer_cpu()),
        by_element=tab.traffic.by_element,
        first_chart_ms=None,
        charts=state["charts"],
        elements=state["elements"],
    )


def signed_in(db: Path, user: str = BROWSER_USER) -> tuple[str, str]:
    """A live session of the benchmark's browser user (an office account, added if missing):
    the cookie (name, value) the login gate would have set."""
    from xuncha.auth import UserStore
    from xuncha.auth.gate import SESSION_COOKIE

    users = UserStore(db)
    if users.get(user) is None:
        users.add_user(user, "office", actor="xuncha bench")
    return SESSION_COOKIE, users.start_session(users.access_for(user), client="bench")


@contextlib.contextmanager
def _chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing (scripts/setup.sh --browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def measure_pages(
    db: Path,
    as_of: dt.date,
    *,
    pages: list[BrowserPage] | None = None,
    runs: int = 3,
    timeout_s: float = 300,
    log: Callable[[str], None] = lambda text: None,
    browser: Any = None,
) -> dict[str, Any]:
    """Serve `db` (signed in through the trusted header) and measure each page `runs` times,
    each in a new session with 统计截至 one day earlier than the last (from `as_of`); in
    `browser` (a Playwright Chromium launched as CHROMIUM with CHROMIUM_ARGS) if given, else
    in one launched here."""
    chosen = pages or BROWSER_PAGES
    timeout_ms = timeout_s * 1000
    cookie = signed_in(db)
    visits: dict[str, list[tuple[_Visit, _Visit]]] = {p.name: [] for p in chosen}
    failures: dict[str, list[str]] = {p.name: [] for p in chosen}
    env = {TRUSTED_HEADER_ENV: PROXY_HEADER}
    launched = contextlib.nullcontext(browser) if browser is not None else _chromium()
    with serve(db, env=env) as served, launched as browser:

        def alive() -> bool:
            import psutil

            try:
                return psutil.Process(served.pid).status() != psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return False

        # Not counted: the server's first run (imports, the store opened, app.py's first run).
        tab = _Tab(browser, served.base, cookie, alive)
        try:
            _first_visit(tab, f"{served.base}/?asof={as_of.isoformat()}", timeout_ms)
        finally:
            tab.close()
        day = 0
        for _ in range(runs):
            for spec in chosen:
                day += 1
                asof = (as_of - dt.timedelta(days=day)).isoformat()
                url = f"{served.base}{spec.path}?asof={asof}"
                tab = _Tab(browser, served.base, cookie, alive)
                try:
                    first = _first_visit(tab, url, timeout_ms)
                    change = _filter_change(tab, timeout_ms, f"{url} +{FILTER_WIDGET}")
                except Exception as exc:  # a timeout or a page error: said, and the next page
                    failures[spec.name].append(f"{type(exc).__name__}: {str(exc)[:300]}")
                    log(f"  {spec.title}: 失败 {failures[spec.name][-1]}")
                    continue
                finally:
                    tab.close()
                visits[spec.name].append((first, change))
                log(f"  {spec.title}: {_visit_text(first)}；改筛选 {_visit_text(change)}")
    rows = [_summary(spec, visits[spec.name], failures[spec.name]) for spec in chosen]
    overview = next((r for r in rows if r["page"] == "overview"), None)
    return {
        "browser_runs": runs,
        "filter_change": f"{FILTER_WIDGET} = {FILTER_OPTION}",
        "quiet_ms": QUIET_MS,
        # Issue 8's figure, kept comparable: navigation to the first drawn chart on 总览.
        "browser_chart_ms": overview["first_chart_ms"] if overview else None,
        "pages": rows,
    }


def _visit_text(v: _Visit) -> str:
    most = "，".join(f"{w} {_kb(n)}" for w, n in v.by_element.most_common(3))
    return (
        f"{v.ms:,.0f} ms，{_kb(v.ws_bytes + v.http_bytes)}，浏览器 CPU "
        f"{v.cpu['TaskDuration']:,.0f} ms（渲染进程 {v.renderer_ms:,.0f} ms），图表 {v.charts}"
        f"（{most}）"
    )


def _kb(n: int) -> str:
    return f"{n / 1024:,.0f} KB"


def _med(values: list[float]) -> float:
    return round(median(values), 1)


def _summary(
    spec: BrowserPage, pairs: list[tuple[_Visit, _Visit]], failures: list[str]
) -> dict[str, Any]:
    """The medians of a page's visits; a page none of whose visits finished has None for
    every figure, and its failures."""
    if not pairs:
        empty = dict.fromkeys(_FIGURES)
        return {
            "page": spec.name,
            "title": spec.title,
            "path": spec.path,
            **empty,
            "failures": failures,
        }
    firsts = [f for f, _ in pairs]
    changes = [c for _, c in pairs]
    charts = [f.first_chart_ms for f in firsts if f.first_chart_ms is not None]

    def top(visits: list[_Visit]) -> list[dict[str, Any]]:
        total: Counter[str] = Counter()
        for v in visits:
            total.update(v.by_element)
        return [{"what": what, "bytes": round(n / len(visits))} for what, n in total.most_common(6)]

    return {
        "page": spec.name,
        "title": spec.title,
        "path": spec.path,
        "browser_first_visit_ms": _med([v.ms for v in firsts]),
        "browser_filter_change_ms": _med([v.ms for v in changes]),
        "page_bytes": int(median([v.ws_bytes + v.http_bytes for v in firsts])),
        "page_bytes_filter_change": int(median([v.ws_bytes + v.http_bytes for v in changes])),
        "page_bytes_ws": int(median([v.ws_bytes for v in firsts])),
        "page_bytes_http": int(median([v.http_bytes for v in firsts])),
        "browser_cpu_ms": _med([v.cpu["TaskDuration"] for v in firsts]),
        "browser_cpu_ms_filter_change": _med([v.cpu["TaskDuration"] for v in changes]),
        "renderer_cpu_ms": _med([v.renderer_ms for v in firsts]),
        "renderer_cpu_ms_filter_change": _med([v.renderer_ms for v in changes]),
        "browser_cpu": {k: _med([v.cpu[k] for v in firsts]) for k in CPU_METRICS},
        "browser_cpu_filter_change": {k: _med([v.cpu[k] for v in changes]) for k in CPU_METRICS},
        "script_done_ms": _med([v.script_ms for v in firsts]),
        "script_done_ms_filter_change": _med([v.script_ms for v in changes]),
        "first_chart_ms": _med(charts) if charts else None,
        "charts": firsts[-1].charts,
        "elements": firsts[-1].elements,
        "bytes_by_element": top(firsts),
        "bytes_by_element_filter_change": top(changes),
        "samples_first_visit_ms": [round(v.ms, 1) for v in firsts],
        "samples_filter_change_ms": [round(v.ms, 1) for v in changes],
        "failures": failures,
    }


_FIGURES = (
    "browser_first_visit_ms",
    "browser_filter_change_ms",
    "page_bytes",
    "page_bytes_filter_change",
    "page_bytes_ws",
    "page_bytes_http",
    "browser_cpu_ms",
    "browser_cpu_ms_filter_change",
    "renderer_cpu_ms",
    "renderer_cpu_ms_filter_change",
    "script_done_ms",
    "first_chart_ms",
    "charts",
)


# -- output ------------------------------------------------------------------------------


def _what_text(entries: list[dict[str, Any]], n: int = 3) -> str:
    return "，".join(f"{e['what']} {_kb(e['bytes'])}" for e in entries[:n])


def text_lines(measured: dict[str, Any]) -> list[str]:
    """The browser's table for `xuncha bench`'s text report."""
    lines = [
        f"浏览器（headless Chromium，{measured['browser_runs']} 次中位数，每次新会话、新日期；"
        f"改筛选 = 侧栏 {measured['filter_change']}）：",
        f"{'page':<13}{'first_ms':>10}{'change_ms':>11}{'bytes_KB':>10}{'ws_KB':>9}"
        f"{'change_KB':>11}{'cpu_ms':>9}{'chg_cpu':>9}{'proc_ms':>9}{'charts':>8}",
    ]
    for r in measured["pages"]:
        if r["browser_first_visit_ms"] is None:
            lines.append(f"{r['page']:<13}失败：{'；'.join(r['failures'])[:200]}")
            continue
        lines.append(
            f"{r['page']:<13}{r['browser_first_visit_ms']:>10,.0f}"
            f"{r['browser_filter_change_ms']:>11,.0f}{r['page_bytes'] / 1024:>10,.0f}"
            f"{r['page_bytes_ws'] / 1024:>9,.0f}{r['page_bytes_filter_change'] / 1024:>11,.0f}"
            f"{r['browser_cpu_ms']:>9,.0f}{r['browser_cpu_ms_filter_change']:>9,.0f}"
            f"{r['renderer_cpu_ms']:>9,.0f}{r['charts']:>8}"
        )
    lines.append("各页面 websocket 字节最多的元素（首次打开）：")
    for r in measured["pages"]:
        if r.get("bytes_by_element"):
            lines.append(f"  {r['page']}: {_what_text(r['bytes_by_element'])}")
    return lines


def markdown_lines(measured: dict[str, Any]) -> list[str]:
    """The browser's table for the --markdown report (bench/RESULTS.md)."""
    lines = [
        "",
        f"Browser (headless Chromium, signed in through the trusted header; medians of "
        f"{measured['browser_runs']} visits, each a new session with a new 统计截至 date): "
        "first visit = navigation until the script run is over and the last DOM change before "
        f"{measured['quiet_ms']} ms of quiet with every chart drawn; filter change = "
        f"{measured['filter_change']} picked in the sidebar, from the press to the same end. "
        "Bytes = websocket payloads + HTTP responses (the first visit loads the frontend); "
        "CPU = the page's main-thread TaskDuration (CDP Performance.getMetrics; busy wall "
        "time, inflated on a loaded machine) and, in brackets, the CPU time of the renderer "
        "process (psutil).",
        "",
        "| page | first visit ms | filter change ms | bytes (ws) | filter change bytes "
        "| browser CPU ms | filter change CPU ms | charts | most websocket bytes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in measured["pages"]:
        if r["browser_first_visit_ms"] is None:
            lines.append(f"| {r['title']} | failed: {'; '.join(r['failures'])[:200]} |")
            continue
        most = ", ".join(f"{e['what']} {_kb(e['bytes'])}" for e in r["bytes_by_element"][:3])
        lines.append(
            f"| {r['title']} | {r['browser_first_visit_ms']:,.0f} | "
            f"{r['browser_filter_change_ms']:,.0f} | {_kb(r['page_bytes'])} "
            f"({_kb(r['page_bytes_ws'])}) | {_kb(r['page_bytes_filter_change'])} | "
            f"{r['browser_cpu_ms']:,.0f} ({r['renderer_cpu_ms']:,.0f}) | "
            f"{r['browser_cpu_ms_filter_change']:,.0f} "
            f"({r['renderer_cpu_ms_filter_change']:,.0f}) | "
            f"{r['charts']} | {most} |"
        )
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Only the browser part, on an existing store (which it writes: the benchmark user and
    its session, the audit trail of the visits):
    python -m xuncha.bench.browser --db STORE [--runs 3] [--pages overview,sql] [--out F]"""
    import argparse
    import json
    import sys

    from xuncha.bench.pages import AS_OF

    parser = argparse.ArgumentParser(prog="python -m xuncha.bench.browser")
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", default=None, help="comma-separated page names")
    parser.add_argument("--out", default=None, help="write the JSON here")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per wait")
    args = parser.parse_args(argv)
    chosen = BROWSER_PAGES
    if args.pages:
        names = args.pages.split(",")
        chosen = [p for p in BROWSER_PAGES if p.name in names]
    measured = measure_pages(
        Path(args.db),
        AS_OF,
        pages=chosen,
        runs=max(args.runs, 1),
        timeout_s=args.timeout,
        log=lambda text: print(text, file=sys.stderr),
    )
    if args.out:
        Path(args.out).write_text(json.dumps(measured, ensure_ascii=False, indent=2), "utf-8")
    print("\n".join(text_lines(measured)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
