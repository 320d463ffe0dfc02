"""Every named query's rows over a grid of filter states, dates and parameters, and every
table's content, on a demo store built by the code at hand: recorded before a change to the SQL
and compared after it (issue 18: "every query returns identical rows before and after").

    uv run python scripts/query_snapshot.py record /tmp/before.pkl
    uv run python scripts/query_snapshot.py compare /tmp/before.pkl

The store is built afresh each time (its derived tables come from the code at hand too), with
the default demo seed, so both runs read the same data. `compare` prints each difference
(query, parameters) and exits 1 when there is any; rows are compared in order for queries whose
result is ordered, as sets otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
from xuncha import demo  # noqa: E402
from xuncha.filters import Filters, resolve_scope  # noqa: E402
from xuncha.store import Store, open_reader  # noqa: E402
from xuncha.store.reader import Reader, load_queries  # noqa: E402

AS_OF = dt.date(2026, 11, 20)
FILTERS = [
    Filters(),
    Filters(round_from=8, round_to=8),
    Filters(round_from=3, round_to=6),
    Filters(category_l1=("B",)),
    Filters(category_l2=("B03", "C01")),
    Filters(peer_groups=("乡镇街道",)),
    Filters(kinds=("常规巡察",)),
]
GROUPINGS = (
    "all",
    "round",
    "unit",
    "round_unit",
    "category_l1",
    "category_l2",
    "sector",
    "peer_group",
)
# Values tried for each parameter beyond the scope's own (each query takes those it declares).
VARIANTS: dict[str, list[Any]] = {
    "by": list(GROUPINGS),
    "level": [1, 2],
    "by_round": [False, True],
    "with_names": [True, False],
    "cycle_median": [True, False],
    "kinds": [None, ["红"], ["红", "黄", "绿"], [""]],
    "limit": [None, 7, 2000],
    "category": [None, "B", "B03"],
    "unit_id": [None],
    "round_from": [None, 3],
    "round_to": [None, 8],
    "sectors": [None],
    "peer_groups": [None],
    "unit_ids": [None],
    "k_min": [3],
    "k_share": [0.3],
    "step": [30],
    "min_similarity": [0.3],
    "terms": [["问题"], ["整改", "不到位"]],
}
MAX_CASES = 48  # per query and scope: the grid's first combinations, then a spread


def build(folder: Path) -> Store:
    store = Store(folder / "store")
    store.write(lambda con: demo.build(con), fresh=True)
    return store


def tables(store: Store) -> dict[str, str]:
    con = store.connect()
    try:
        out = {}
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        for name in sorted(names):
            cols = [
                f'"{c}"'
                for c, kind in con.execute(
                    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?"
                    " ORDER BY column_index",
                    [name],
                ).fetchall()
                if not kind.startswith("TIMESTAMP")
            ]
            where = (
                " WHERE key NOT IN ('audit_head', 'current_layout')" if name == "store_meta" else ""
            )
            rows = con.execute(f'SELECT {", ".join(cols)} FROM "{name}"{where}').fetchall()
            out[name] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
        return out
    finally:
        con.close()


def _cases(reader: Reader, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    declared = load_queries()[name].params
    extra = [p for p in declared if p in VARIANTS and p not in params]
    grid = [
        dict(zip(extra, combo, strict=True))
        for combo in itertools.product(*(VARIANTS[p] for p in extra))
    ]
    if len(grid) > MAX_CASES:
        step = len(grid) / MAX_CASES
        grid = [grid[int(i * step)] for i in range(MAX_CASES)]
    out = []
    for case in grid:
        full = {**params, **case}
        if "finding_ids" in declared:
            listed = reader.query(
                "findings_detail", {**params, "unit_id": None, "category": None, "limit": 40}
            )["finding_id"].to_list()
            full["finding_ids"] = [*listed[::3], -1]
        out.append({k: full[k] for k in declared})
    return out


def snapshot(store: Store) -> dict[str, Any]:
    reader = open_reader(store)
    try:
        settled = reader.query("store_settled_on")["settled_on"][0]
        dates = [
            AS_OF,
            settled,
            settled + dt.timedelta(days=300),
            dt.date(2024, 6, 30),
            dt.date(2025, 6, 30),
        ]
        results: dict[str, Any] = {}
        for filters, as_of in itertools.product(FILTERS, dates):
            scope = resolve_scope(reader, filters.with_(as_of=as_of))
            base = scope.params()
            for name in sorted(load_queries()):
                for params in _cases(reader, name, base):
                    currents = [params.get("current")]
                    if "current" in params and scope.current:
                        currents = [True, False]  # both branches, where both are valid
                    for current in currents:
                        run = dict(params)
                        if "current" in run:
                            run["current"] = current
                        key = (name, repr(sorted(run.items(), key=lambda kv: kv[0])))
                        if key in results:
                            continue
                        results[key] = reader.query(name, run).rows()
        return {"tables": tables(store), "queries": results}
    finally:
        reader.close()


def _ordered(name: str) -> bool:
    body = "\n".join(line.split("--", 1)[0] for line in load_queries()[name].sql.splitlines())
    tail = body.rstrip().rsplit(")", 1)[-1].upper()
    return "ORDER BY" in tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("record", "compare"))
    parser.add_argument("file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xuncha-snapshot-") as folder:
        now = snapshot(build(Path(folder)))
    if args.action == "record":
        Path(args.file).write_bytes(pickle.dumps(now))
        print(f"recorded {len(now['queries'])} query results and {len(now['tables'])} tables")
        return 0
    before = pickle.loads(Path(args.file).read_bytes())
    problems = []
    for table, digest in before["tables"].items():
        if now["tables"].get(table) != digest:
            problems.append(
                f"table {table}: content differs"
                if table in now["tables"]
                else f"table {table}: missing"
            )
    compared = 0
    for (name, params), rows in before["queries"].items():
        key = (name, params)
        if key not in now["queries"]:
            problems.append(f"{name} {params}: not run now")
            continue
        got = now["queries"][key]
        same = (
            got == rows if _ordered(key[0]) else sorted(map(repr, got)) == sorted(map(repr, rows))
        )
        compared += 1
        if not same:
            problems.append(f"{name} {params}: {len(rows)} rows before, {len(got)} now, differ")
    for problem in problems[:50]:
        print(problem)
    print(
        f"compared {compared} query results and {len(before['tables'])} tables: "
        f"{len(problems)} differences"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
