"""A bounded loopback load test: the dashboard served on one store, 20 virtual users driving
it over Streamlit's own websocket protocol for a fixed time, one ledger import in the middle.

Why a protocol client and not 20 browsers: on a 2-core machine, 20 headless Chromium pages
would take the CPU the server needs and the test would measure the browsers. A client
speaking `BackMsg`/`ForwardMsg` (what the browser sends and receives) costs almost nothing,
so the figures are the server's: the time from `rerun_script` to `script_finished`.

Each virtual user opens a session with a random filter state in the URL (one of the typical
states, with a 统计截至 date that is the demo's today half of the time and a random past date
otherwise) on a random analysis page, then, in the same session for the whole run, changes
page or changes a sidebar filter. A filter change is what Streamlit 1.67's frontend sends
when a sidebar widget changes: a `rerun_script` on the same websocket with the page's
current query string (as the server last set it, `page_info_changed`) and the widget states,
the changed one included (a new 统计截至 date, or a choice of 轮次类型/行业领域/同类组/
一级类别, taken from the options the sidebar offers). A session that fails is replaced by a
new one. An error is a failed connection, a timeout, an exception element, an incident
message (事件编号), a script that did not finish successfully, or an unknown page. The RSS of
the dashboard processes (and their children) is sampled every 0.2 s (psutil) and its peak,
summed over the processes, reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xuncha.bench.server import serve
from xuncha.bench.timing import percentile

PAGE_PATHS = ["", "distribution", "progress", "repeats", "ecology"]
TIMEOUT_S = 300.0
# The sidebar widgets a virtual user changes, by their key (Streamlit's element id ends in
# "-<key>"): the date and the small multiselects (the unit picker is left to the pages'
# own tests: it may become a searchable picker that loads its options on demand).
FILTER_WIDGETS = ("f_asof", "f_kind", "f_sector", "f_peer", "f_l1")
# The dashboard processes are killed when their summed RSS passes this (XUNCHA_LOAD_ABORT_MB,
# default 8 GB), and the run reports it as an error: on a shared machine a runaway server
# would otherwise be stopped by the kernel's OOM killer, which may pick another process.
ABORT_MB = float(os.environ.get("XUNCHA_LOAD_ABORT_MB", "8192"))
# Chance that an interaction after the first is a filter change rather than a page change.
FILTER_CHANGE_SHARE = 0.5
# Chance that a 统计截至 date (on opening or on a change) is the demo's today.
TODAY_SHARE = 0.5
PAST_DAYS = 400


@dataclass
class LoadResult:
    sessions: int
    seconds: float
    workers: int = 1
    page_ms: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # "open" | "page" | "filter", per run
    errors: list[str] = field(default_factory=list)
    rss_peak_mb: float = 0.0
    rss_start_mb: float = 0.0
    import_s: float | None = None
    import_ok: bool | None = None
    import_output: str = ""
    versions_seen: set[int] = field(default_factory=set)
    server_errors: list[str] = field(default_factory=list)
    sessions_opened: int = 0

    def _p(self, q: float, kind: str | None = None) -> float | None:
        ms = [m for m, k in zip(self.page_ms, self.kinds, strict=True) if kind in (None, k)]
        return round(percentile(ms, q), 1) if ms else None

    def summary(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "workers": self.workers,
            "seconds": round(self.seconds, 1),
            "page_runs": len(self.page_ms),
            "runs_per_s": round(len(self.page_ms) / self.seconds, 2) if self.seconds else None,
            "p50_ms": self._p(50),
            "p95_ms": self._p(95),
            "max_ms": round(max(self.page_ms), 1) if self.page_ms else None,
            "by_kind": {
                kind: {
                    "runs": self.kinds.count(kind),
                    "p50_ms": self._p(50, kind),
                    "p95_ms": self._p(95, kind),
                }
                for kind in ("open", "page", "filter")
            },
            "sessions_opened": self.sessions_opened,
            "errors": len(self.errors),
            "error_examples": self.errors[:5],
            "rss_mb": round(self.rss_peak_mb, 1),
            "rss_start_mb": round(self.rss_start_mb, 1),
            "import_s": None if self.import_s is None else round(self.import_s, 1),
            "import_ok": self.import_ok,
            "versions_seen": sorted(self.versions_seen),
            "server_errors": self.server_errors[:10],
        }


class _Sampler(threading.Thread):
    """The summed RSS of the dashboard processes and their children, peak kept."""

    def __init__(self, pids: Sequence[int]) -> None:
        super().__init__(daemon=True)
        import psutil

        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak = 0
        self.stop = threading.Event()
        self.aborted = False

    def rss(self) -> int:
        total = 0
        for process in self.processes:
            with contextlib.suppress(Exception):
                total += process.memory_info().rss
                for child in process.children(recursive=True):
                    with contextlib.suppress(Exception):
                        total += child.memory_info().rss
        return int(total)

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.rss())
            if self.peak > ABORT_MB * 2**20 and not self.aborted:
                self.aborted = True
                for process in self.processes:
                    with contextlib.suppress(Exception):
                        os.kill(process.pid, signal.SIGKILL)
            self.stop.wait(0.2)


def _random_date(rng: random.Random, today: dt.date) -> dt.date:
    if rng.random() < TODAY_SHARE:
        return today
    return today - dt.timedelta(days=rng.randrange(1, PAST_DAYS))


def _filter_queries(rng: random.Random, states: dict[str, dict[str, str]]) -> str:
    state = dict(rng.choice(list(states.values())))
    if "asof" in state:
        state["asof"] = _random_date(rng, dt.date.fromisoformat(state["asof"])).isoformat()
    return "&".join(f"{k}={v}" for k, v in state.items())


@dataclass
class _Widget:
    id: str
    kind: str  # "date_input" | "multiselect"
    options: list[str]


@dataclass
class _Session:
    """What the browser tab knows: the page's query string, the app's pages, the sidebar's
    widgets and the widget values it has sent."""

    query: str
    today: dt.date
    pages: dict[str, str] = field(default_factory=dict)
    widgets: dict[str, _Widget] = field(default_factory=dict)
    states: dict[str, Any] = field(default_factory=dict)  # widget id -> WidgetState


def _note_element(session: _Session, element: Any) -> None:
    etype = element.WhichOneof("type")
    if etype not in ("date_input", "multiselect"):
        return
    proto = getattr(element, etype)
    key = proto.id.rsplit("-", 1)[-1]
    if key in FILTER_WIDGETS:
        options = list(proto.options) if etype == "multiselect" else []
        session.widgets[key] = _Widget(proto.id, etype, options)


async def _run_page(
    ws: Any, msg: Any, result: LoadResult, where: str, kind: str, session: _Session
) -> bool:
    """Send one rerun; wait for its end, noting what the session learns on the way.
    True when it finished without error."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    started = time.perf_counter()
    await ws.send(msg.SerializeToString())
    failed = None
    while True:
        raw = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        fm = ForwardMsg()
        fm.ParseFromString(raw)
        fkind = fm.WhichOneof("type")
        if fkind == "navigation":
            session.pages = {p.url_pathname: p.page_script_hash for p in fm.navigation.app_pages}
        elif fkind == "page_info_changed":
            session.query = fm.page_info_changed.query_string
        elif fkind == "page_not_found":
            failed = f"{where}: page not found"
        elif fkind == "delta" and fm.delta.WhichOneof("type") == "new_element":
            element = fm.delta.new_element
            etype = element.WhichOneof("type")
            if etype == "exception":
                failed = f"{where}: exception {element.exception.message[:200]}"
            elif etype == "alert" and "事件编号" in element.alert.body:
                failed = f"{where}: {element.alert.body[:200]}"
            elif etype == "markdown" and "数据版本" in element.markdown.body:
                tail = element.markdown.body.rsplit("数据版本", 1)[1].strip().split()[0]
                if tail.isdigit():
                    result.versions_seen.add(int(tail))
            else:
                _note_element(session, element)
        elif fkind == "script_finished":
            if fm.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                continue
            if fm.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                failed = f"{where}: script finished with {fm.script_finished}"
            break
    elapsed = (time.perf_counter() - started) * 1000
    if failed:
        result.errors.append(failed)
        return False
    result.page_ms.append(elapsed)
    result.kinds.append(kind)
    return True


def _rerun(session: _Session, page: str) -> Any:
    """The `rerun_script` the frontend sends: query string, page and every widget state."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.rerun_script.query_string = session.query
    msg.rerun_script.page_name = page
    msg.rerun_script.page_script_hash = session.pages.get(page, "")
    for state in session.states.values():
        msg.rerun_script.widget_states.widgets.append(state)
    return msg


def _change_filter(rng: random.Random, session: _Session) -> str | None:
    """Set one sidebar widget to a new value in the session's widget states; what changed."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    choices = [k for k, w in session.widgets.items() if w.kind == "date_input" or w.options]
    if not choices:
        return None
    key = rng.choice(choices)
    widget = session.widgets[key]
    state = WidgetState(id=widget.id)
    if widget.kind == "date_input":
        day = _random_date(rng, session.today)
        state.string_array_value.data.append(day.strftime("%Y/%m/%d"))
        what = f"{key}={day}"
    else:
        picked = rng.sample(widget.options, rng.randrange(0, min(2, len(widget.options)) + 1))
        state.string_array_value.data.extend(picked)
        what = f"{key}={'|'.join(picked)}"
    session.states[widget.id] = state
    return what


async def _user(
    url: str,
    seed: int,
    states: dict[str, dict[str, str]],
    deadline: float,
    result: LoadResult,
    headers: dict[str, str] | None = None,
    today: dt.date | None = None,
) -> None:
    """One virtual user: a session opened on a random page and filter state, then page and
    filter changes in it until the deadline (a new session after a failure)."""
    import websockets

    rng = random.Random(seed)
    today = today or dt.date.fromisoformat(
        next((s["asof"] for s in states.values() if "asof" in s), dt.date.today().isoformat())
    )
    while time.monotonic() < deadline:
        session = _Session(query=_filter_queries(rng, states), today=today)
        page = rng.choice(PAGE_PATHS)
        try:
            async with websockets.connect(
                url,
                subprotocols=["streamlit"],  # type: ignore[list-item]
                max_size=None,
                additional_headers=headers,
                # No keepalive pings: a run slower than the client's ping window would count
                # as a dropped connection; TIMEOUT_S bounds a run instead.
                ping_interval=None,
            ) as ws:
                result.sessions_opened += 1
                ok = await _run_page(
                    ws, _rerun(session, page), result, f"/{page}?{session.query}", "open", session
                )
                while ok and session.pages and time.monotonic() < deadline:
                    what = None
                    if rng.random() < FILTER_CHANGE_SHARE:
                        what = _change_filter(rng, session)
                    if what is None:
                        page = rng.choice([p for p in PAGE_PATHS if p != page])
                    where = f"/{page}?{session.query}" + (f" ({what})" if what else "")
                    ok = await _run_page(
                        ws,
                        _rerun(session, page),
                        result,
                        where,
                        "filter" if what else "page",
                        session,
                    )
        except Exception as exc:
            result.errors.append(f"session: {type(exc).__name__}: {str(exc)[:200]}")


def ws_url(base: str) -> str:
    """The websocket URL of the dashboard served at `base` (http://host:port[/prefix])."""
    scheme, rest = base.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}/_stcore/stream"


TRUSTED_HEADER_ENV = "XUNCHA_TRUSTED_USER_HEADER"
PROXY_HEADER = "X-Xuncha-User"
LOAD_USER = "bench-load"


def _signed_in(db: Path) -> dict[str, str]:
    """The virtual users come through the login gate as a signed-in office user would: the
    identity header plus a live session cookie (the import during the run turns a demo store
    into real data, which then needs a login)."""
    from xuncha.auth import UserStore
    from xuncha.auth.gate import SESSION_COOKIE

    users = UserStore(db)
    if users.get(LOAD_USER) is None:
        users.add_user(LOAD_USER, "office", actor="xuncha bench")
    token = users.start_session(users.access_for(LOAD_USER), client="bench")
    return {"Cookie": f"{SESSION_COOKIE}={token}", PROXY_HEADER: LOAD_USER}


def on_a_copy(
    db: Path,
    folder: Path,
    label: str,
    states: dict[str, dict[str, str]],
    *,
    sessions: int,
    seconds: float,
    ledger: Path,
    serving: Callable[..., contextlib.AbstractContextManager[Any]] = serve,
    workers: int = 1,
) -> dict[str, Any]:
    """load_test on a real copy of `db` made in `folder` (named by `label`, as is the server's
    log there) and removed after; its summary."""
    import shutil

    served = real_copy(db, folder / f"load-store-{label}")
    try:
        result = load_test(
            served,
            states,
            sessions=sessions,
            seconds=seconds,
            ledger=ledger,
            log_path=folder / f"load-server-{label}.log",
            serving=serving,
            workers=workers,
        )
    finally:
        shutil.rmtree(served, ignore_errors=True)
    return result.summary()


def real_copy(db: Path, target: Path) -> Path:
    """A copy of the benchmark's store marked as real data, for the load test's import: a demo
    store takes no ledger (real ledgers go to a real store). The mark is one write through
    the store's write path, on the copy only, so the benchmark's own store stays a demo."""
    import shutil

    from xuncha.store import Store

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(db, target, ignore=shutil.ignore_patterns("*.wal", ".write.lock"))
    Store(target).write(
        lambda con: con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'")
    )
    return target


def import_target(db: Path) -> tuple[str, str | None]:
    """The round to import the benchmark ledger (填报单位 市住建局, 截至 2024-09-30) into: the
    latest round in which 市住建局 was fed back before its 截至时间 (the inspection exists,
    so no 反馈日期 is given); else 十四届市委第五轮巡察 with a new inspection."""
    from xuncha.store import Store

    con = Store(db).connect()
    try:
        row = con.execute(
            "SELECT r.name FROM inspections i JOIN rounds r USING (round_id)"
            " JOIN units u USING (unit_id) WHERE u.short_name = '市住建局'"
            " AND i.feedback_date <= DATE '2024-06-01' ORDER BY r.seq DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    if row:
        return str(row[0]), None
    return "十四届市委第五轮巡察", "2024-03-15"


def _import_during(
    db: Path, ledger: Path, result: LoadResult, delay: float, done: threading.Event
) -> None:
    round_name, feedback = import_target(db)
    time.sleep(delay)
    started = time.perf_counter()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "xuncha.cli",
            "import",
            str(ledger),
            "--db",
            str(db),
            "--round",
            round_name,
            "--unit",
            "市住建局",
            *([] if feedback is None else ["--feedback-date", feedback]),
            "--user",
            LOAD_USER,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    result.import_s = time.perf_counter() - started
    result.import_ok = run.returncode == 0
    result.import_output = (run.stdout + run.stderr)[-2000:]
    if run.returncode != 0:
        result.errors.append(f"import exited {run.returncode}: {run.stderr[-300:]}")
    done.set()


def load_test(
    db: Path,
    states: dict[str, dict[str, str]],
    *,
    sessions: int = 20,
    seconds: float = 60.0,
    ledger: Path | None = None,
    log_path: Path | None = None,
    serving: Callable[..., contextlib.AbstractContextManager[Any]] = serve,
    workers: int = 1,
    gated: bool | None = None,
) -> LoadResult:
    """Serve `db` with `serving` (`server.serve`'s signature: `(db, *, log_path, env)` and a
    `Served` with `base` and `pid` or `pids`), warm it with one session, then run `sessions`
    virtual users for `seconds` (and until the import, started a third of the way in, has
    finished). `workers` is only recorded. Behind a gate (`gated`; by default any `serving`
    but `serve`) the users send only their session cookie: the proxy sets the user header."""
    result = LoadResult(sessions=sessions, seconds=seconds, workers=workers)
    behind_gate = serving is not serve if gated is None else gated
    signed: dict[int, dict[str, str]] = {}

    def headers_of(user: int) -> dict[str, str]:
        # One session cookie per virtual user, as each browser has its own: behind nginx the
        # cookie picks the dashboard process, so a shared one would send every user to one.
        if user not in signed:
            headers = _signed_in(db)
            if behind_gate:
                headers = {k: v for k, v in headers.items() if k != PROXY_HEADER}
            signed[user] = headers
        return signed[user]

    with serving(db, log_path=log_path, env={TRUSTED_HEADER_ENV: PROXY_HEADER}) as served:
        url = ws_url(served.base)
        sampler = _Sampler(getattr(served, "pids", None) or (served.pid,))
        warm = LoadResult(sessions=1, seconds=0)
        asyncio.run(
            _user(url, 0, {"all": states["all"]}, time.monotonic() + 0.1, warm, headers_of(0))
        )
        if warm.errors:
            raise RuntimeError(f"the dashboard fails before the load test: {warm.errors[0]}")
        result.rss_start_mb = sampler.rss() / 1024 / 1024
        sampler.start()
        imported = threading.Event()
        importer = None
        if ledger is not None:
            importer = threading.Thread(
                target=_import_during,
                args=(db, ledger, result, seconds / 3, imported),
                daemon=True,
            )
            importer.start()
        else:
            imported.set()
        started = time.monotonic()

        async def main() -> None:
            deadline = started + seconds
            users = [
                asyncio.create_task(_user(url, i + 1, states, deadline, result, headers_of(i + 1)))
                for i in range(sessions)
            ]
            await asyncio.gather(*users)
            # An import that outlasts the run: keep the users going until it is done.
            while not imported.is_set():
                extra = time.monotonic() + 5
                await asyncio.gather(
                    *(
                        _user(url, 1000 + i, states, extra, result, headers_of(i + 1))
                        for i in range(sessions)
                    )
                )

        asyncio.run(main())
        result.seconds = time.monotonic() - started
        if importer is not None:
            importer.join()
        sampler.stop.set()
        sampler.join()
        result.rss_peak_mb = max(sampler.peak, sampler.rss()) / 1024 / 1024
        if sampler.aborted:
            result.errors.insert(0, f"dashboard killed: RSS over {ABORT_MB:.0f} MB")
    if log_path is not None and log_path.is_file():
        result.server_errors = _server_errors(log_path.read_text(errors="replace"))
    return result


def _server_errors(log: str) -> list[str]:
    """Each incident in the server log with the exception that caused it (last line of its
    traceback)."""
    found: list[str] = []
    incident = ""
    for line in log.splitlines():
        if line.startswith("incident "):
            incident = line.strip()
        elif incident and line and not line.startswith((" ", "Traceback")):
            found.append(f"{incident}: {line.strip()[:300]}")
            incident = ""
    return found
