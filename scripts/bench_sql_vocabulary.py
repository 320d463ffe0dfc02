"""Each page's query set, written over the SQL vocabulary (issue 18) beside the same set as the
queries were before it, side by side in one run on one store: the calls each page makes are
recorded in AppTest for every filter state, then replayed alternately with today's SQL and with
the SQL of `--before` (a git revision), medians of --repeats runs of the whole set.

    uv run python scripts/bench_sql_vocabulary.py --db /tmp/benchstores/store-1000000 --before a3e8c78

The query names and parameters are the same before and after; only the SQL differs, except
where `before_call` says what the code before asked instead (issue 22: a past date read
rectification_counts, the timelines). `--before-file` replays the before side on another
version file (the store as the before code wrote it, without the tables the SQL of now added),
opened read-only as the store opens its versions:

    python scripts/bench_sql_vocabulary.py --db /tmp/past/store-1000000 --before ef8724f \
        --before-file /tmp/bench22/store-1000000/versions/000001.duckdb

Where the code of now asks other queries than the code before (issue 22: one
rectification_counts_grouped call where a page asked two or three rectification_counts_current
calls), record the calls of the code before with `--save-calls` run from a checkout of it, and
replay them on the before side with `--before-calls`; the now side replays its own:

    git worktree add /tmp/before 06c8265
    cp scripts/bench_sql_vocabulary.py /tmp/before/scripts/  # it renders with its checkout's code
    python /tmp/before/scripts/bench_sql_vocabulary.py --db STORE --before 06c8265 \
        --repeats 1 --save-calls /tmp/calls-06c8265.pkl
    python scripts/bench_sql_vocabulary.py --db STORE --before 06c8265 \
        --before-calls /tmp/calls-06c8265.pkl
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
from xuncha.bench import pages  # noqa: E402
from xuncha.bench.timing import median  # noqa: E402
from xuncha.store import Store, open_reader  # noqa: E402
from xuncha.store.reader import QUERY_SLOTS, load_queries, parse_query_file, run_query  # noqa: E402


def old_queries(revision: str) -> dict[str, Any]:
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", revision, "queries/"],
        cwd=HERE,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    out = {}
    for path in names:
        text = subprocess.run(
            ["git", "show", f"{revision}:{path}"],
            cwd=HERE,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        folder = Path(tempfile.mkdtemp(prefix="xuncha-old-queries-"))
        tmp = folder / Path(path).name
        tmp.write_text(text, encoding="utf-8")
        out[Path(path).stem] = parse_query_file(tmp)
    return out


def before_call(name: str, params: dict[str, Any], same_calls: bool = False) -> str:
    """The query the code before this branch asked for a call of now: before issue 22 a date
    before settled_on read the counts from the timelines (rectification_counts), and 问题分布's
    heatmap read every unit's cells (findings_by_unit_category) and kept the top units in
    Polars (not counted here)."""
    if same_calls and name != "findings_heatmap":  # --same-calls: the before code asked so
        return name
    if name == "rectification_counts_current" and not params.get("current", True):
        return "rectification_counts"
    if name == "findings_heatmap":  # issue 22: every unit's cells, the top units in Polars
        return "findings_by_unit_category"
    return name


def run_set(
    con: Any,
    queries: dict[str, Any],
    calls: list[tuple[str, dict[str, Any]]],
    relation: bool = False,
) -> float:
    """The calls run as Reader.query runs them (run_query), or with `relation` through the
    relation API as it ran them before (`cursor.sql(text, params=...).pl()`)."""
    started = time.perf_counter()
    for name, params in calls:
        named = queries[name]
        bound = {k: params[k] for k in named.params}
        with QUERY_SLOTS:
            cursor = con.cursor()
            try:
                if relation:
                    cursor.sql(named.sql, params=bound).pl()
                else:
                    run_query(cursor, named.sql, bound)
            finally:
                cursor.close()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--before", required=True, help="git revision of the queries before")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--pages", nargs="*", help="only these pages (default: every page)")
    parser.add_argument(
        "--same-calls",
        action="store_true",
        help="the before side asks what now asks (a revision that already read past dates "
        "through rectification_counts_current), but for the heatmap's query",
    )
    parser.add_argument(
        "--exec-before",
        choices=("query", "relation"),
        default="query",
        help="how the before side runs each query: as Reader.query does now (default) or "
        "through the relation API as it did before (sql().pl())",
    )
    parser.add_argument(
        "--before-file", help="a version file to replay the before side on (default: --db's)"
    )
    parser.add_argument(
        "--save-calls", help="write the calls recorded per page and filter state to this file"
    )
    parser.add_argument(
        "--before-calls",
        help="replay these calls (a --save-calls file of the code before) on the before side "
        "instead of the calls of now",
    )
    args = parser.parse_args()
    root = Path(args.db)
    before = old_queries(args.before)
    now = load_queries()
    reader = open_reader(Store(root))
    try:
        states = pages.filter_states(reader)
    finally:
        reader.close()
    print(f"{root}: pages × filter states, medians of {args.repeats} alternated runs (ms)")
    print(f"{'page':<14}{'state':<12}{'calls':>7}{'before':>9}{'now':>10}{'ratio':>8}")
    rows = []
    saved: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
    recorded_before = None
    if args.before_calls:
        with open(args.before_calls, "rb") as handle:
            recorded_before = pickle.load(handle)
    con = Store(root).connect()
    before_con = con
    if args.before_file:
        from xuncha.store import crypto
        from xuncha.store.store import BASE_CONFIG, reader_limits

        before_con = crypto.connect_read_only(
            Path(args.before_file), None, BASE_CONFIG | reader_limits(), plain_dir=None
        )
    try:
        for page in pages.PAGES:
            if args.pages and page.name not in args.pages:
                continue
            for state_name, state in states.items():
                done = pages.render(root, page, state, record=True)
                calls = list(done.queries)
                saved[(page.name, state_name)] = calls
                if recorded_before is not None:
                    old_calls = list(recorded_before[(page.name, state_name)])
                else:
                    old_calls = [(before_call(n, p, args.same_calls), p) for n, p in calls]
                run_set(con, now, calls)  # warm-up, both
                relation = args.exec_before == "relation"
                run_set(before_con, before, old_calls, relation)
                a: list[float] = []
                b: list[float] = []
                for i in range(args.repeats):
                    order = (
                        (a, before_con, before, old_calls, relation),
                        (b, con, now, calls, False),
                    )
                    for samples, c, queries, these, how in order if i % 2 else order[::-1]:
                        samples.append(run_set(c, queries, these, how))
                old, new = median(a), median(b)
                rows.append((page.name, state_name, len(calls), old, new))
                print(
                    f"{page.name:<14}{state_name:<12}{len(old_calls):>3}/{len(calls):<3}"
                    f"{old:>9.1f}{new:>10.1f}"
                    f"{new / old if old else float('nan'):>8.2f}"
                )
    finally:
        con.close()
        if before_con is not con:
            before_con.close()
    if args.save_calls:
        with open(args.save_calls, "wb") as handle:
            pickle.dump(saved, handle)
    total_old = sum(r[3] for r in rows)
    total_new = sum(r[4] for r in rows)
    print(
        f"sum of medians: before {total_old:.0f} ms, now {total_new:.0f} ms "
        f"(ratio {total_new / total_old:.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
