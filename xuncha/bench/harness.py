"""The benchmark run: stores built with the demo generator, then per size the page query
sets, the SQLite/pandas comparison (answers checked equal), AppTest renders, the browser
timing and the load test; once per run the memory bandwidth and the 100k-row ledger import.
Budgets of issue 8 (and issue 22's browser budgets) are checked on the largest size and
reported met or not met."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import gc
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xuncha import demo
from xuncha.bench import machine, pages
from xuncha.bench.questions import PAGE_QUESTIONS, QUESTIONS, Ask, Ours, check_equal, ours_answer
from xuncha.bench.timing import timed
from xuncha.sandbox import prepare as prepare_sandbox
from xuncha.store import Store, open_reader

RESULTS_DIR = Path(__file__).resolve().parents[2] / "bench" / "results"
DEFAULT_SIZES = [10_000, 100_000, 1_000_000]
BUDGET_SIZE = 1_000_000

# Issue 8's budgets at 1M findings on this machine.
QUERY_SET_MS = 50.0
SQLITE_RATIO = 10.0
PANDAS_RATIO = 3.0
RENDER_COLD_MS = 150.0
RENDER_WARM_MS = 30.0
TEXT_SEARCH_MS = 30.0
IMPORT_S = 10.0
IMPORT_PEAK_MB = 1024.0
SERVER_RSS_MB = 1536.0
# Issue 22's, per page in headless Chromium at 1M findings.
BROWSER_FIRST_VISIT_MS = 2000.0
BROWSER_FILTER_CHANGE_MS = 500.0
BROWSER_HEADLINE = (
    "page",
    "title",
    "browser_first_visit_ms",
    "browser_filter_change_ms",
    "page_bytes",
    "page_bytes_filter_change",
    "browser_cpu_ms",
    "browser_cpu_ms_filter_change",
    "renderer_cpu_ms",
)


@dataclass
class Options:
    sizes: list[int] = field(default_factory=lambda: list(DEFAULT_SIZES))
    repeats: int = 5  # timed runs per query set and question (after one warm-up)
    render_repeats: int = 5  # fresh AppTest sessions per page
    states: list[str] | None = None  # filter states (None: all)
    keep: Path | None = None  # build (or reuse) stores here instead of a temp dir
    browser: bool = True
    ledger_import: bool = True
    import_rows: int = 100_000
    memory_bytes: int = 1 << 30  # the array copied to measure memory bandwidth
    load: bool = False
    load_seconds: float = 60.0
    load_sessions: int = 20
    # Dashboard processes behind the gate (server.serve_gated), one load test per count;
    # None: one load test on the dashboard served directly (server.serve).
    load_workers: list[int] | None = None
    command: str = ""
    log: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr))

    @classmethod
    def quick(cls, **changes: Any) -> Options:
        """The smoke run: fewer repeats, one filter state, no browser, import or load."""
        base = cls(
            repeats=2,
            render_repeats=1,
            states=["all"],
            browser=False,
            ledger_import=False,
            load=False,
            memory_bytes=1 << 27,
        )
        return dataclasses.replace(base, **changes)


def run(options: Options) -> dict[str, Any]:
    log = options.log
    started = time.perf_counter()
    folder = options.keep or Path(tempfile.mkdtemp(prefix="xuncha-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        out: dict[str, Any] = {
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "command": options.command,
            "machine": machine.machine_info(),
            "options": {
                "sizes": options.sizes,
                "repeats": options.repeats,
                "render_repeats": options.render_repeats,
                "states": options.states,
                "browser": options.browser,
                "import": options.ledger_import,
                "load": options.load,
                "load_seconds": options.load_seconds if options.load else None,
            },
        }
        log(f"内存带宽（numpy 复制 {options.memory_bytes / 2**20:,.0f} MiB，5 次中位数）……")
        out["memory_gbps"] = machine.memory_bandwidth_gbps(options.memory_bytes)
        log(f"  {out['memory_gbps']} GB/s")
        out["import"] = None
        if options.ledger_import:
            from xuncha.bench import importer

            log(f"导入 {options.import_rows:,} 行台账……")
            out["import"] = importer.import_ledger(folder / "import", options.import_rows)
            log(f"  {out['import']['import_100k_s']} s, 峰值 {out['import']['import_peak_mb']} MB")
        sizes = sorted(set(options.sizes))
        out["sizes"] = []
        for n in sizes:
            largest = n == sizes[-1]
            out["sizes"].append(_size(options, folder, n, largest=largest))
        _headline(out)
        out["budgets"] = budgets(out)
        out["all_budgets_met"] = all(b["met"] for b in out["budgets"] if b["met"] is not None)
        out["total_s"] = round(time.perf_counter() - started, 1)
        return out
    finally:
        if options.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def _size(options: Options, folder: Path, n: int, *, largest: bool) -> dict[str, Any]:
    log = options.log
    root = folder / f"store-{n}"
    result: dict[str, Any] = {"findings": n}
    if Store(root).exists():
        log(f"== {n:,} 个问题：沿用已有数据仓 {root}")
        result["build_s"] = None
    else:
        log(f"== {n:,} 个问题：生成演示数据仓……")
        t0 = time.perf_counter()
        Store(root).write(lambda con: demo.build(con, findings=n), fresh=True)
        result["build_s"] = round(time.perf_counter() - t0, 2)
        log(f"  {result['build_s']} s")
    # As `xuncha demo` and every import do after a write (a kept store prepared by older code
    # gets it here): the whole store's 数据查询 sandbox, built once per version.
    t0 = time.perf_counter()
    prepared = prepare_sandbox(Store(root))
    result["sandbox_prepare_s"] = round(time.perf_counter() - t0, 2)
    log(f"  数据查询沙箱预备 {result['sandbox_prepare_s']} s" + ("" if prepared else "（失败）"))
    reader = open_reader(Store(root))
    con = Store(root).connect()
    try:
        for table in ("findings", "measures", "finding_timeline", "measure_timeline", "units"):
            result[f"rows_{table}"] = int(reader.scalar(f"SELECT count(*) FROM {table}"))
        all_states = pages.filter_states(reader)
        names = options.states or list(all_states)
        states = {k: all_states[k] for k in names}
        scopes = {k: pages.scope_for(reader, v) for k, v in states.items()}
        result["filter_states"] = states

        # 1. page query sets: record each page's named queries in AppTest, replay them.
        log("记录并重放各页面的查询……")
        pages.render(root, pages.PAGES[0], states[names[0]])  # imports, first run: not timed
        page_rows: dict[str, dict[str, Any]] = {}
        for page in pages.PAGES:
            row: dict[str, Any] = {"page": page.name, "title": page.title}
            by_state: dict[str, float] = {}
            for state_name, state in states.items():
                done = pages.render(root, page, state, record=True)
                replayed = pages.replay(
                    root, done.queries, done.sandbox, scopes[state_name], options.repeats
                )
                by_state[state_name] = round(replayed.query_ms, 2)
                if state_name == names[0]:
                    row["queries"] = len(done.queries) + len(done.sandbox)
                    row["top_queries"] = sorted(
                        replayed.per_query, key=lambda q: q["ms"], reverse=True
                    )[:4]
                    if replayed.sandbox_build_ms is not None:
                        row["sandbox_build_ms"] = round(replayed.sandbox_build_ms, 1)
            row["query_ms"] = by_state[names[0]]
            worst = max(by_state, key=lambda k: by_state[k])
            row["query_ms_worst"] = by_state[worst]
            row["query_ms_worst_state"] = worst
            row["query_ms_by_state"] = by_state
            page_rows[page.name] = row
            log(f"  {page.name}: {row['query_ms']:.1f} ms（最慢 {worst} {by_state[worst]:.1f} ms）")

        # 2. the same questions in SQLite and pandas, answers checked equal to ours.
        compare = _compare(options, reader, con, scopes)
        result["sqlite_load_s"] = compare["sqlite_load_s"]
        result["pandas_load_s"] = compare["pandas_load_s"]
        result["text_index_load_s"] = compare["text_index_load_s"]
        result["text_index_mb"] = compare["text_index_mb"]
        result["questions"] = compare["questions"]
        result["answers_checked"] = compare["answers_checked"]
        for name, row in page_rows.items():
            row.update(_page_comparison(name, compare["questions"], names))
        search = compare["questions"]["text_search"]
        result["text_search"] = search
        result["text_search_ms"] = search["by_state"][names[0]]["ours_ms"]
        result["text_search_ms_worst"] = max(s["ours_ms"] for s in search["by_state"].values())

        # 3. full page renders (AppTest), cold and warm.
        log(f"页面渲染（AppTest，冷/热各 {options.render_repeats} 次）……")
        for page in pages.PAGES:
            cold, warm = pages.render_times(root, page, states[names[0]], options.render_repeats)
            page_rows[page.name]["render_ms_cold"] = round(cold, 1)
            page_rows[page.name]["render_ms_warm"] = round(warm, 1)
            log(f"  {page.name}: 冷 {cold:.0f} ms，热 {warm:.0f} ms")
        result["pages"] = list(page_rows.values())

        # 4. user SQL in a query process (issue 17) beside in the dashboard's process.
        from xuncha.bench import sql_process

        log("数据查询：查询进程与进程内执行对照……")
        result["sql_process"] = sql_process.measure(
            root, scopes[names[0]], runs=10 * options.repeats, starts=options.repeats
        )
        log("  " + _sql_process_line(result["sql_process"]))

        # 4b. encryption at rest (issue 17): the same store plain and sealed, alternated.
        from xuncha.bench import encryption

        log("静态加密：同一数据仓明文与加密对照……")
        result["encryption"] = encryption.measure(
            root, folder, runs=options.repeats, writes=max(2, options.repeats // 2)
        )
        log("  " + encryption.line(result["encryption"]))

        # 4c. online rectification (issue 19): each step a version, beside an empty write.
        from xuncha.bench import rectify

        log("在线整改：每一步与空写入对照……")
        result["rectify"] = rectify.measure(root, folder, runs=max(2, options.repeats // 2))
        log("  " + rectify.line(result["rectify"]))
    finally:
        con.close()
        reader.close()

    # 5. the browser and the load test, on the largest store only.
    result["browser"] = None
    if options.browser and largest:
        from xuncha.bench import browser

        log(
            f"浏览器（headless Chromium）：各页面首次打开与改一个筛选，"
            f"{options.render_repeats} 次（每次新会话、新日期）……"
        )
        result["browser"] = browser.measure_pages(
            root, pages.AS_OF, runs=options.render_repeats, log=log
        )
    result["load"] = None
    if options.load and largest:
        from xuncha.bench import importer, load

        ledger = folder / "load-ledger.xlsx"
        importer.build_ledger(ledger, 200)
        log(
            f"负载测试：{options.load_sessions} 个会话，{options.load_seconds:.0f} 秒，期间导入一次台账……"
        )
        runs: list[dict[str, Any]] = []
        for workers, serving in _load_servings(options.load_workers, log):
            runs.append(
                load.on_a_copy(
                    root,
                    folder,
                    str(workers),
                    all_states,
                    sessions=options.load_sessions,
                    seconds=options.load_seconds,
                    ledger=ledger,
                    serving=serving,
                    workers=workers,
                )
            )
            log(f"  {runs[-1]}")
        result["load"] = runs[0] if runs else None
        result["load_by_workers"] = runs
    return result


def _compare(options: Options, reader: Any, con: Any, scopes: dict[str, Any]) -> dict[str, Any]:
    from xuncha.bench.pandas_impl import PandasImpl
    from xuncha.bench.sqlite_impl import SqliteImpl

    log = options.log
    log("载入 SQLite 与 pandas（不计时）……")
    sqlite = SqliteImpl(con)
    frames = PandasImpl(con)
    log(f"  SQLite {sqlite.load_s:.1f} s，pandas {frames.load_s:.1f} s")
    ours = Ours(reader, con)
    questions: dict[str, Any] = {}
    checked = 0
    try:
        for key, question in QUESTIONS.items():
            by_state: dict[str, Any] = {}
            for state_name, scope in scopes.items():
                ask = Ask.of(scope)
                ours_ms, frame = timed(
                    functools.partial(ours.call, question.ours, scope), options.repeats
                )
                expected = ours_answer(question, frame)
                entry: dict[str, Any] = {"ours_ms": round(ours_ms, 2), "rows": expected.height}
                for who, impl in (("sqlite", sqlite), ("pandas", frames)):
                    ms, answer = timed(functools.partial(impl.answer, key, ask), options.repeats)
                    check_equal(question, expected, answer, who)  # raises AnswerMismatch
                    checked += 1
                    entry[f"{who}_ms"] = round(ms, 2)
                by_state[state_name] = entry
            first = next(iter(by_state.values()))
            log(
                f"  {key}: ours {first['ours_ms']:.1f} ms, SQLite {first['sqlite_ms']:.1f} ms, "
                f"pandas {first['pandas_ms']:.1f} ms（答案一致）"
            )
            questions[key] = {"label": question.label, "ours": question.ours, "by_state": by_state}
    finally:
        load_s = (round(sqlite.load_s, 2), round(frames.load_s, 2))
        sqlite.close()
        del frames
        gc.collect()
    return {
        "questions": questions,
        "answers_checked": checked,
        "sqlite_load_s": load_s[0],
        "pandas_load_s": load_s[1],
        "text_index_load_s": ours.index_load_s,
        "text_index_mb": (
            round(ours.text_index().frame.estimated_size() / 1e6, 1)
            if ours.index_load_s is not None
            else None
        ),
    }


def _page_comparison(page: str, questions: dict[str, Any], states: list[str]) -> dict[str, Any]:
    """Per state: ours = the distinct calls of ours the page's questions need (a call that
    answers two questions counts once); SQLite and pandas = the sum of their questions."""
    keys = PAGE_QUESTIONS[page]
    per_state: dict[str, dict[str, float | None]] = {}
    for state in states:
        seen: dict[str, float] = {}
        sqlite_ms = pandas_ms = 0.0
        for key in keys:
            entry = questions[key]["by_state"][state]
            seen[questions[key]["ours"]] = entry["ours_ms"]
            sqlite_ms += entry["sqlite_ms"]
            pandas_ms += entry["pandas_ms"]
        ours_ms = sum(seen.values())
        per_state[state] = {
            "ours_ms": round(ours_ms, 2),
            "sqlite_ms": round(sqlite_ms, 2),
            "pandas_ms": round(pandas_ms, 2),
            "sqlite_ratio": round(sqlite_ms / ours_ms, 2) if ours_ms else None,
            "pandas_ratio": round(pandas_ms / ours_ms, 2) if ours_ms else None,
        }
    head = per_state[states[0]]
    sqlite_ratios = [r for s in per_state.values() if (r := s["sqlite_ratio"]) is not None]
    pandas_ratios = [r for s in per_state.values() if (r := s["pandas_ratio"]) is not None]
    return {
        "questions": keys,
        "ours_ms": head["ours_ms"],
        "sqlite_ms": head["sqlite_ms"],
        "pandas_ms": head["pandas_ms"],
        "sqlite_ratio": head["sqlite_ratio"],
        "pandas_ratio": head["pandas_ratio"],
        "sqlite_ratio_min": min(sqlite_ratios, default=None),
        "pandas_ratio_min": min(pandas_ratios, default=None),
        "comparison_by_state": per_state,
    }


def _headline(out: dict[str, Any]) -> None:
    """The fields issue 8 names, at the top level, from the largest size."""
    last = out["sizes"][-1]
    out["findings"] = last["findings"]
    out["pages"] = [
        {
            k: row.get(k)
            for k in (
                "page",
                "query_ms",
                "sqlite_ms",
                "pandas_ms",
                "render_ms_cold",
                "render_ms_warm",
                "ours_ms",
                "sqlite_ratio",
                "pandas_ratio",
                "query_ms_worst",
                "query_ms_worst_state",
            )
        }
        for row in last["pages"]
    ]
    out["text_search_ms"] = last["text_search_ms"]
    out["build_s"] = {str(s["findings"]): s["build_s"] for s in out["sizes"]}
    imported = out.get("import") or {}
    out["import_100k_s"] = imported.get("import_100k_s")
    out["import_peak_mb"] = imported.get("import_peak_mb")
    browser = last.get("browser") or {}
    out["browser_chart_ms"] = browser.get("browser_chart_ms")
    out["browser_pages"] = [
        {k: row.get(k) for k in BROWSER_HEADLINE} for row in browser.get("pages") or []
    ]
    load = last.get("load") or {}
    for key in ("p50_ms", "p95_ms", "errors", "rss_mb", "workers", "runs_per_s"):
        out[key] = load.get(key)
    out["answers_checked"] = sum(s["answers_checked"] for s in out["sizes"])


def _load_servings(
    counts: list[int] | None, log: Callable[[str], None]
) -> list[tuple[int, Callable[..., Any]]]:
    """(workers, serving) for each load test: the dashboard served directly when no counts
    are asked for; else N processes behind the gate for each count, when this build has
    `server.serve_gated` (skipped with a message when it has not)."""
    from xuncha.bench import server

    if not counts:
        return [(1, server.serve)]
    gated = getattr(server, "serve_gated", None)
    if gated is None:
        log("  跳过 --workers：本版本没有 server.serve_gated（多进程与网关），未做负载测试")
        return []
    return [(n, functools.partial(gated, workers=n)) for n in counts]


def _sql_process_line(measured: dict[str, Any]) -> str:
    parts = [
        f"{name} 进程内 {q['in_process_ms']:.2f} ms，查询进程 {q['process_ms']:.2f} ms"
        f"（+{q['overhead_ms']:.2f} ms）"
        for name, q in measured["queries"].items()
    ]
    return (
        "；".join(parts)
        + f"；启动一个查询进程 {measured['start_ms']} ms，在其中打开沙箱 {measured['open_ms']} ms，"
        f"其内存 {measured['process_rss_mb']} MB（查询各 {measured['runs']} 次、"
        f"启动 {measured['starts']} 次的中位数）"
    )


def _budget(name: str, limit: str, value: Any, met: bool | None, where: str = "") -> dict[str, Any]:
    return {"budget": name, "limit": limit, "value": value, "met": met, "where": where}


def budgets(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Every budget of issue 8, checked on the largest size measured (they are set for 1M
    findings: a smaller run says so in `where`)."""
    last = out["sizes"][-1]
    at = f"{last['findings']:,} 个问题" + (
        "" if last["findings"] >= BUDGET_SIZE else f"（预算按 {BUDGET_SIZE:,} 设定）"
    )
    found: list[dict[str, Any]] = []
    for row in last["pages"]:
        page = row["page"]
        found.append(
            _budget(
                f"{page} 查询集 ≤ {QUERY_SET_MS:g} ms（最慢筛选状态）",
                f"{QUERY_SET_MS:g} ms",
                row["query_ms_worst"],
                row["query_ms_worst"] <= QUERY_SET_MS,
                f"{at}，{row['query_ms_worst_state']}",
            )
        )
        for who, limit in (("sqlite", SQLITE_RATIO), ("pandas", PANDAS_RATIO)):
            ratio = row.get(f"{who}_ratio_min")
            found.append(
                _budget(
                    f"{page} 比 {'SQLite' if who == 'sqlite' else 'pandas'} 快 ≥ {limit:g}×",
                    f"{limit:g}×",
                    ratio,
                    None if ratio is None else ratio >= limit,
                    f"{at}，各筛选状态中的最小倍数",
                )
            )
        found.append(
            _budget(
                f"{page} 渲染（冷）≤ {RENDER_COLD_MS:g} ms",
                f"{RENDER_COLD_MS:g} ms",
                row["render_ms_cold"],
                row["render_ms_cold"] <= RENDER_COLD_MS,
                at,
            )
        )
        found.append(
            _budget(
                f"{page} 重跑（热）≤ {RENDER_WARM_MS:g} ms",
                f"{RENDER_WARM_MS:g} ms",
                row["render_ms_warm"],
                row["render_ms_warm"] <= RENDER_WARM_MS,
                at,
            )
        )
    found.append(
        _budget(
            f"文本检索 ≤ {TEXT_SEARCH_MS:g} ms（最慢筛选状态）",
            f"{TEXT_SEARCH_MS:g} ms",
            last["text_search_ms_worst"],
            last["text_search_ms_worst"] <= TEXT_SEARCH_MS,
            at,
        )
    )
    for row in (last.get("browser") or {}).get("pages") or []:
        for key, label, limit in (
            ("browser_first_visit_ms", "首次打开到最后一个图表绘出", BROWSER_FIRST_VISIT_MS),
            ("browser_filter_change_ms", "改一个筛选到重绘完成", BROWSER_FILTER_CHANGE_MS),
        ):
            found.append(
                _budget(
                    f"{row['title']} 浏览器{label} ≤ {limit:g} ms",
                    f"{limit:g} ms",
                    row[key],
                    row[key] is not None and row[key] <= limit,  # None: no visit finished
                    f"{at}，headless Chromium，中位数",
                )
            )
    imported = out.get("import")
    if imported:
        found.append(
            _budget(
                f"10 万行台账校验并导入 ≤ {IMPORT_S:g} s",
                f"{IMPORT_S:g} s",
                imported["import_100k_s"],
                imported["import_100k_s"] <= IMPORT_S,
            )
        )
        found.append(
            _budget(
                f"导入峰值内存 ≤ {IMPORT_PEAK_MB:g} MB",
                f"{IMPORT_PEAK_MB:g} MB",
                imported["import_peak_mb"],
                imported["import_peak_mb"] <= IMPORT_PEAK_MB,
            )
        )
    load = last.get("load")
    if load:
        found.append(
            _budget(
                f"{load['sessions']} 个会话时驾驶舱进程 RSS ≤ {SERVER_RSS_MB:g} MB",
                f"{SERVER_RSS_MB:g} MB",
                load["rss_mb"],
                load["rss_mb"] <= SERVER_RSS_MB,
                at,
            )
        )
        found.append(_budget("负载测试错误数 = 0", "0", load["errors"], load["errors"] == 0, at))
    return found


# -- output ------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def text_report(out: dict[str, Any]) -> str:
    m = out["machine"]
    lines = [
        f"xuncha bench — {out['date']}",
        f"机器：{m['cores']} 核，{m['ram_gib']} GiB，{m['cpu_model']}；Python {m['python']}，"
        f"DuckDB {m['duckdb']}，Streamlit {m['streamlit']}，pandas {m['pandas']}，SQLite {m['sqlite']}",
        f"内存带宽（复制）：{out['memory_gbps']} GB/s",
    ]
    if out.get("import"):
        imp = out["import"]
        lines.append(
            f"台账导入：{imp['rows']:,} 行（{imp['findings']:,} 个问题、{imp['measures']:,} 条措施）"
            f" {imp['import_100k_s']} s，峰值 RSS {imp['import_peak_mb']} MB"
        )
    for size in out["sizes"]:
        lines.append("")
        lines.append(
            f"== {size['findings']:,} 个问题 / {size['rows_measures']:,} 条措施"
            f"（{size['rows_units']:,} 个单位；生成 {_fmt(size['build_s'], 1)} s；"
            f"SQLite 载入 {size['sqlite_load_s']} s，pandas 载入 {size['pandas_load_s']} s，不计时）"
        )
        header = (
            f"{'page':<13}{'query_ms':>10}{'worst':>10}{'ours_ms':>10}{'sqlite_ms':>11}"
            f"{'×':>7}{'pandas_ms':>11}{'×':>7}{'cold_ms':>10}{'warm_ms':>10}"
        )
        lines.append(header)
        for row in size["pages"]:
            lines.append(
                f"{row['page']:<13}{_fmt(row['query_ms']):>10}{_fmt(row['query_ms_worst']):>10}"
                f"{_fmt(row['ours_ms']):>10}{_fmt(row['sqlite_ms']):>11}"
                f"{_fmt(row['sqlite_ratio'], 2):>7}{_fmt(row['pandas_ms']):>11}"
                f"{_fmt(row['pandas_ratio'], 2):>7}{_fmt(row['render_ms_cold']):>10}"
                f"{_fmt(row['render_ms_warm']):>10}"
            )
        search = size["text_search"]["by_state"]
        first = next(iter(search.values()))
        lines.append(
            f"{'text_search':<13}{_fmt(first['ours_ms']):>10}"
            f"{_fmt(size['text_search_ms_worst']):>10}{_fmt(first['ours_ms']):>10}"
            f"{_fmt(first['sqlite_ms']):>11}{_fmt(first['sqlite_ms'] / first['ours_ms'], 2):>7}"
            f"{_fmt(first['pandas_ms']):>11}{_fmt(first['pandas_ms'] / first['ours_ms'], 2):>7}"
        )
        lines.append(
            f"答案核对：{size['answers_checked']} 次，SQLite 与 pandas 的答案与本系统完全一致"
            "（计数完全相等，比率保留两位小数相等）"
        )
        lines.append("各页面最耗时的查询（全部筛选状态）：")
        for row in size["pages"]:
            top = "，".join(f"{q['query']} {q['ms']:.1f}" for q in row.get("top_queries", []))
            lines.append(f"  {row['page']}: {top}")
        state_names = list(size["filter_states"])
        if len(state_names) > 1:
            lines.append("各筛选状态的查询集（ms）：" + " / ".join(state_names))
            for row in size["pages"]:
                values = " / ".join(_fmt(row["query_ms_by_state"][s]) for s in state_names)
                lines.append(f"  {row['page']}: {values}")
        if size.get("sql_process"):
            lines.append(
                "数据查询（查询进程对照进程内，中位数）：" + _sql_process_line(size["sql_process"])
            )
        if size.get("encryption"):
            from xuncha.bench import encryption

            lines.append("静态加密（加密对照明文，中位数）：" + encryption.line(size["encryption"]))
        if size.get("rectify"):
            from xuncha.bench import rectify

            lines.append("在线整改（中位数）：" + rectify.line(size["rectify"]))
        if size.get("browser"):
            from xuncha.bench import browser

            lines += browser.text_lines(size["browser"])
        for ld in size.get("load_by_workers") or ([size["load"]] if size.get("load") else []):
            lines.append(
                f"负载测试：{ld['sessions']} 个会话、{ld.get('workers', 1)} 个驾驶舱进程 "
                f"{ld['seconds']} s，{ld['page_runs']} 次页面运行（每秒 {ld.get('runs_per_s')}），"
                f"p50 {ld['p50_ms']} ms，p95 {ld['p95_ms']} ms，错误 {ld['errors']}，"
                f"驾驶舱 RSS 峰值 {ld['rss_mb']} MB；期间导入 {ld['import_s']} s"
                f"（{'成功' if ld['import_ok'] else '失败'}），看到的数据版本 {ld['versions_seen']}"
            )
            for line in ld.get("error_examples", []) + ld.get("server_errors", []):
                lines.append(f"  错误：{line}")
    lines.append("")
    lines.append("预算（issue 8）：")
    for b in out["budgets"]:
        mark = {True: "达到", False: "未达到", None: "未测"}[b["met"]]
        where = f"（{b['where']}）" if b["where"] else ""
        lines.append(f"  [{mark}] {b['budget']}：{_fmt(b['value'], 2)}{where}")
    met = sum(1 for b in out["budgets"] if b["met"])
    lines.append(f"共 {len(out['budgets'])} 项，达到 {met} 项。总用时 {out['total_s']} s。")
    return "\n".join(lines)


def save(out: dict[str, Any], path: Path | None = None) -> Path:
    target = path or RESULTS_DIR / f"{out['date'][:10]}-{out['findings']}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return target


def markdown_report(out: dict[str, Any]) -> str:
    """The measured tables as Markdown (for bench/RESULTS.md)."""
    m = out["machine"]
    lines = [
        f"Measured {out['date']} with `{out['command'] or 'xuncha bench'}` on {m['cores']} cores, "
        f"{m['ram_gib']} GiB, {m['cpu_model']} (load average at start "
        f"{', '.join(f'{x:.1f}' for x in m.get('load_average') or [])}); Python {m['python']}, "
        f"DuckDB {m['duckdb']}, Streamlit {m['streamlit']}, pandas {m['pandas']}, "
        f"SQLite {m['sqlite']}. Memory bandwidth (numpy copy, read + write): "
        f"**{out['memory_gbps']} GB/s**.",
        "",
    ]
    for size in out["sizes"]:
        lines += [
            f"### {size['findings']:,} findings / {size['rows_measures']:,} measures "
            f"({size['rows_units']:,} units; finding_timeline {size['rows_finding_timeline']:,}, "
            f"measure_timeline {size['rows_measure_timeline']:,} rows)",
            "",
            f"Demo build {_fmt(size['build_s'], 1)} s, then the whole store's 数据查询 sandbox "
            f"prepared in {_fmt(size.get('sandbox_prepare_s'), 1)} s (as after every write); "
            f"SQLite load {size['sqlite_load_s']} s, "
            f"pandas load {size['pandas_load_s']} s (not counted); our text index loaded in "
            f"{_fmt(size.get('text_index_load_s'), 2)} s, {_fmt(size.get('text_index_mb'), 0)} MB "
            "in memory (once per data version, on the first search). Medians in ms; filter state "
            f"`{next(iter(size['filter_states']))}` unless said; `worst` is the slowest filter "
            "state's query set; × = competitor ÷ ours on the page's questions.",
            "",
            "| page | query_ms | worst (state) | ours_ms | sqlite_ms | × | pandas_ms | × "
            "| render_ms_cold | render_ms_warm |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in size["pages"]:
            lines.append(
                f"| {row['page']} | {_fmt(row['query_ms'])} | {_fmt(row['query_ms_worst'])} "
                f"({row['query_ms_worst_state']}) | {_fmt(row['ours_ms'])} | "
                f"{_fmt(row['sqlite_ms'])} | {_fmt(row['sqlite_ratio'], 2)} | "
                f"{_fmt(row['pandas_ms'])} | {_fmt(row['pandas_ratio'], 2)} | "
                f"{_fmt(row['render_ms_cold'])} | {_fmt(row['render_ms_warm'])} |"
            )
        search = size["text_search"]["by_state"]
        first = next(iter(search.values()))
        lines.append(
            f"| text search | {_fmt(first['ours_ms'])} | {_fmt(size['text_search_ms_worst'])} | "
            f"{_fmt(first['ours_ms'])} | {_fmt(first['sqlite_ms'])} | "
            f"{_fmt(first['sqlite_ms'] / first['ours_ms'], 2)} | {_fmt(first['pandas_ms'])} | "
            f"{_fmt(first['pandas_ms'] / first['ours_ms'], 2)} | | |"
        )
        lines += ["", "Per question (ours / SQLite / pandas, ms, per filter state):", ""]
        states = list(size["filter_states"])
        lines.append("| question | " + " | ".join(states) + " |")
        lines.append("|---|" + "---:|" * len(states))
        for key, entry in size["questions"].items():
            cells = [
                f"{_fmt(e['ours_ms'])} / {_fmt(e['sqlite_ms'])} / {_fmt(e['pandas_ms'])}"
                for e in (entry["by_state"][s] for s in states)
            ]
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"Query set per filter state (ms) and the slowest queries (state `{states[0]}`):",
            "",
        ]
        lines.append("| page | " + " | ".join(states) + " | slowest queries |")
        lines.append("|---|" + "---:|" * len(states) + "---|")
        for row in size["pages"]:
            top = ", ".join(f"{q['query']} {q['ms']:.0f}" for q in row.get("top_queries", []))
            values = " | ".join(_fmt(row["query_ms_by_state"][s]) for s in states)
            lines.append(f"| {row['page']} | {values} | {top} |")
        lines.append("")
        lines.append(
            f"Answers checked: {size['answers_checked']} comparisons, every SQLite and pandas "
            "answer equal to ours."
        )
        if size.get("sql_process"):
            sp = size["sql_process"]
            lines += [
                "",
                f"User SQL in a query process (issue 17) beside in the dashboard's process, "
                f"median of {sp['runs']} runs each, alternated: a query process starts in "
                f"**{sp['start_ms']} ms**, opens the sandbox in **{sp['open_ms']} ms** and then "
                f"holds {sp['process_rss_mb']} MB (medians of {sp['starts']} starts).",
                "",
                "| query | in process (ms) | query process (ms) | overhead (ms) |",
                "|---|---:|---:|---:|",
            ]
            for name, q in sp["queries"].items():
                lines.append(
                    f"| {name} | {q['in_process_ms']:.2f} | {q['process_ms']:.2f} | "
                    f"{q['overhead_ms']:.2f} |"
                )
            lines.append("")
        if size.get("rectify"):
            rc = size["rectify"]
            lines += [
                "",
                f"Online rectification (issue 19): each step writes a data version "
                f"({rc['version_mb']} MB), interleaved with an empty write, medians of "
                f"{rc['runs']} rounds.",
                "",
                "| step | ms | × empty write |",
                "|---|---:|---:|",
                f"| empty write | {rc['empty_ms']:.0f} | 1 |",
            ]
            for key, label in (
                ("report", "progress report"),
                ("submit", "done claim with evidence"),
                ("pass", "review pass"),
                ("close", "销号"),
            ):
                lines.append(f"| {label} | {rc[key + '_ms']:.0f} | {rc[key + '_ratio']} |")
            lines += [
                f"| queue read (rectify_queue) | {rc['queue_ms']:.1f} | |",
                f"| a unit's measures (rectify_measures) | {rc['unit_ms']:.1f} | |",
                "",
            ]
        if size.get("encryption"):
            en = size["encryption"]
            lines += [
                "",
                f"Encryption at rest (issue 17): the same store plain and sealed under a key, "
                f"alternated, medians of {en['runs']} runs ({en['writes']} for the write). "
                f"Sealing the existing {en['version_mb']} MB version took {en['seal_ms']:.0f} ms; "
                f"each open reader of the sealed store holds {en['reader_plaintext_mb']} MB of "
                f"plaintext on the memory file system.",
                "",
                "| step | plain (ms) | sealed (ms) | extra (ms) | ratio |",
                "|---|---:|---:|---:|---:|",
            ]
            for key, label in (
                ("open", "open the version + a query"),
                ("sandbox", "build the 数据查询 sandbox (clue details)"),
                ("write", "write a version"),
            ):
                row = en[key]
                lines.append(
                    f"| {label} | {row['plain_ms']:.0f} | {row['sealed_ms']:.0f} | "
                    f"{row['extra_ms']:.0f} | {row['ratio']} |"
                )
            lines.append("")
        if size.get("browser"):
            from xuncha.bench import browser

            lines += browser.markdown_lines(size["browser"])
        for ld in size.get("load_by_workers") or ([size["load"]] if size.get("load") else []):
            lines.append(
                f"Load test: {ld['sessions']} sessions, {ld.get('workers', 1)} dashboard "
                f"process(es), {ld['seconds']} s, {ld['page_runs']} page runs "
                f"({ld.get('runs_per_s')}/s): p50 **{ld['p50_ms']} ms**, p95 **{ld['p95_ms']} ms**, max {ld['max_ms']} ms, "
                f"errors **{ld['errors']}**, server RSS peak **{ld['rss_mb']} MB** (at start "
                f"{ld['rss_start_mb']} MB); one ledger import during the run "
                f"{ld['import_s']} s ({'ok' if ld['import_ok'] else 'FAILED'}), data versions seen "
                f"{ld['versions_seen']}."
            )
            for line in ld.get("error_examples", []) + ld.get("server_errors", []):
                lines.append(f"- error: {line}")
        lines.append("")
    if out.get("import"):
        imp = out["import"]
        lines.append(
            f"Ledger import: {imp['rows']:,} rows ({imp['findings']:,} findings, "
            f"{imp['measures']:,} measures) validated and imported in **{imp['import_100k_s']} s**, "
            f"peak RSS **{imp['import_peak_mb']} MB**."
        )
        lines.append("")
    lines += ["| budget (issue 8) | value | met |", "|---|---:|---|"]
    for b in out["budgets"]:
        mark = {True: "met", False: "**NOT met**", None: "not measured"}[b["met"]]
        lines.append(f"| {b['budget']} | {_fmt(b['value'], 2)} | {mark} |")
    met = sum(1 for b in out["budgets"] if b["met"])
    lines.append("")
    lines.append(f"{met} of {len(out['budgets'])} budgets met. Total run {out['total_s']} s.")
    return "\n".join(lines)
