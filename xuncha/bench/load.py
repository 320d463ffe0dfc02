"""A bounded loopback load test: the dashboard served on one store, 20 virtual users driving
it over Streamlit's own websocket protocol for a fixed time, one ledger import in the middle.

Why a protocol client and not 20 browsers: on a 2-core machine, 20 headless Chromium pages
would take the CPU the server needs and the test would measure the browsers. A client
speaking `BackMsg`/`ForwardMsg` (what the browser sends and receives) costs almost nothing,
so the figures are the server's: the time from `rerun_script` to `script_finished`.

Each virtual user loops: open a session with a filter state in the URL (a random one of
the typical states with a random 统计截至 date, so most are new filter states for the cache)
on a random analysis page, wait for the run to finish, navigate to another page in the same
session, wait again, close. An error is a failed connection, a timeout, an exception element,
an incident message (事件编号), a script that did not finish successfully, or an unknown page.
The server's RSS is sampled every 0.2 s (psutil) and its peak reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xuncha.bench.server import serve
from xuncha.bench.timing import percentile

PAGE_PATHS = ["", "distribution", "progress", "repeats", "ecology"]
TIMEOUT_S = 300.0


@dataclass
class LoadResult:
    sessions: int
    seconds: float
    page_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rss_peak_mb: float = 0.0
    rss_start_mb: float = 0.0
    import_s: float | None = None
    import_ok: bool | None = None
    import_output: str = ""
    versions_seen: set[int] = field(default_factory=set)
    server_errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "seconds": round(self.seconds, 1),
            "page_runs": len(self.page_ms),
            "p50_ms": round(percentile(self.page_ms, 50), 1) if self.page_ms else None,
            "p95_ms": round(percentile(self.page_ms, 95), 1) if self.page_ms else None,
            "max_ms": round(max(self.page_ms), 1) if self.page_ms else None,
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
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            with contextlib.suppress(Exception):
                total += child.memory_info().rss
        return int(total)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.rss())
            except Exception:
                return
            self.stop.wait(0.2)


def _filter_queries(rng: random.Random, states: dict[str, dict[str, str]]) -> str:
    state = dict(rng.choice(list(states.values())))
    if "asof" in state:
        base = dt.date.fromisoformat(state["asof"])
        state["asof"] = (base - dt.timedelta(days=rng.randrange(0, 400))).isoformat()
    return "&".join(f"{k}={v}" for k, v in state.items())


async def _run_page(ws: Any, msg: Any, result: LoadResult, where: str) -> dict[str, str] | None:
    """Send one rerun; wait for its end. Returns the app's pages (url path → script hash)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    started = time.perf_counter()
    await ws.send(msg.SerializeToString())
    pages: dict[str, str] | None = None
    failed = None
    while True:
        raw = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        fm = ForwardMsg()
        fm.ParseFromString(raw)
        kind = fm.WhichOneof("type")
        if kind == "navigation":
            pages = {p.url_pathname: p.page_script_hash for p in fm.navigation.app_pages}
        elif kind == "page_not_found":
            failed = f"{where}: page not found"
        elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
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
        elif kind == "script_finished":
            if fm.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                continue
            if fm.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                failed = f"{where}: script finished with {fm.script_finished}"
            break
    elapsed = (time.perf_counter() - started) * 1000
    if failed:
        result.errors.append(failed)
    else:
        result.page_ms.append(elapsed)
    return pages


async def _user(
    port: int,
    seed: int,
    states: dict[str, dict[str, str]],
    deadline: float,
    result: LoadResult,
    headers: dict[str, str] | None = None,
) -> None:
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg

    rng = random.Random(seed)
    url = f"ws://127.0.0.1:{port}/_stcore/stream"
    while time.monotonic() < deadline:
        query = _filter_queries(rng, states)
        first, second = rng.sample(PAGE_PATHS, 2)
        try:
            async with websockets.connect(
                url,
                subprotocols=["streamlit"],  # type: ignore[list-item]
                max_size=None,
                additional_headers=headers,
            ) as ws:
                msg = BackMsg()
                msg.rerun_script.query_string = query
                msg.rerun_script.page_name = first
                pages = await _run_page(ws, msg, result, f"/{first}?{query}")
                if time.monotonic() >= deadline or not pages:
                    continue
                msg = BackMsg()
                msg.rerun_script.query_string = query
                msg.rerun_script.page_name = second
                msg.rerun_script.page_script_hash = pages.get(second, "")
                await _run_page(ws, msg, result, f"/{second}?{query}")
        except Exception as exc:
            result.errors.append(f"session: {type(exc).__name__}: {str(exc)[:200]}")


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
) -> LoadResult:
    """Serve `db`, warm it with one session, then run `sessions` virtual users for `seconds`
    (and until the import, started a third of the way in, has finished)."""
    result = LoadResult(sessions=sessions, seconds=seconds)
    headers = _signed_in(db)
    with serve(db, log_path=log_path, env={TRUSTED_HEADER_ENV: PROXY_HEADER}) as served:
        sampler = _Sampler(served.pid)
        warm = LoadResult(sessions=1, seconds=0)
        asyncio.run(
            _user(served.port, 0, {"all": states["all"]}, time.monotonic() + 0.1, warm, headers)
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
                asyncio.create_task(_user(served.port, i + 1, states, deadline, result, headers))
                for i in range(sessions)
            ]
            await asyncio.gather(*users)
            # An import that outlasts the run: keep the users going until it is done.
            while not imported.is_set():
                extra = time.monotonic() + 5
                await asyncio.gather(
                    *(
                        _user(served.port, 1000 + i, states, extra, result, headers)
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
