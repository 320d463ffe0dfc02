"""The cost of one online rectification step (issue 19), side by side in one run with the
write path's own cost: each step is a new data version (copy, apply, refresh the derived
tables, checkpoint, publish), so what a unit, a reviewer or an approver waits for is mostly
the write of a version, and the step's own checks and rows should add little to it.

Interleaved, on a copy of the store's current version, medians in ms:

- empty: a write that changes nothing (the write path alone);
- report: a progress report on one measure (its status history and measure row);
- submit: a done claim with one evidence file (the file stored, the claim and its step);
- pass / close: a reviewer's pass and the approver's 销号 of that claim (close also writes
  the DONE status and the measure's dates);
- queue: the approver's queue (rectify_queue, every pending claim) and a unit's measures
  (rectify_measures), read on the published version.

Run alone: `python -m xuncha.bench.rectify --db STORE [--runs N]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from xuncha.auth.access import Access
from xuncha.bench.encryption import copy_current
from xuncha.bench.timing import median
from xuncha.rectify import workflow
from xuncha.rectify.demo_activity import _png
from xuncha.rectify.evidence import check_evidence
from xuncha.store import Store, open_reader


def _open_measures(store: Store, count: int) -> list[tuple[int, str]]:
    con = store.connect()
    try:
        rows = con.execute(
            "SELECT m.measure_id, u.name FROM measures m JOIN findings f USING (finding_id)"
            " JOIN units u ON u.unit_id = f.unit_id"
            " WHERE m.status NOT IN ('DONE', 'PHASED') AND m.measure_id NOT IN"
            "   (SELECT measure_id FROM rectify_submissions)"
            " ORDER BY m.measure_id LIMIT ?",
            [count],
        ).fetchall()
    finally:
        con.close()
    return [(int(m), str(u)) for m, u in rows]


def _nothing(con: Any) -> None:
    """A write that changes nothing: the write path's own cost."""


def measure(root: Path, folder: Path, runs: int) -> dict[str, Any]:
    """Medians in ms of each step over `runs` rounds, interleaved with empty writes."""
    runs = max(runs, 1)
    store = copy_current(Store(root), folder / "rectify-bench")
    try:
        targets = _open_measures(store, runs + 1)
        if len(targets) < runs + 1:
            raise ValueError("数据仓中未填报的未完成措施不足，无法测量")
        office = Access.for_role("bench-office", "office")
        reviewer = Access.for_role("bench-review", "supervisor")
        evidence = check_evidence("佐证.png", _png(400, 300))
        samples: dict[str, list[float]] = {
            k: [] for k in ("empty", "report", "submit", "pass", "close", "queue", "unit")
        }

        def timed(name: str, keep: bool, action: Any, *args: Any, **kwargs: Any) -> Any:
            begun = time.perf_counter()
            out = action(*args, **kwargs)
            if keep:
                samples[name].append((time.perf_counter() - begun) * 1000)
            return out

        pending = {
            "inspection_ids": None,
            "states": ["pending_review", "pending_close"],
            "measure_id": None,
        }
        for i, (measure_id, unit) in enumerate(targets):
            keep = i > 0  # the first round warms caches
            liaison = Access.for_role(f"bench-liaison-{i}", "liaison", units=[unit])
            progress = [workflow.Report(measure_id, "PHASED", "阶段性完成")]
            done = [workflow.Report(measure_id, "DONE", "已完成", dt.date.today(), (evidence,))]
            timed("empty", keep, store.write, _nothing)
            timed("report", keep, workflow.report, store, liaison, progress)
            claim = timed("submit", keep, workflow.report, store, liaison, done)
            sid = claim.submission_ids[0]
            timed("pass", keep, workflow.decide, store, reviewer, sid, "pass")
            timed("close", keep, workflow.decide, store, office, sid, "close")
            reader = open_reader(store)
            try:
                timed("queue", keep, reader.query, "rectify_queue", pending)
                unit_params = {"inspection_ids": None, "as_of": dt.date.today(), "open_only": True}
                timed("unit", keep, reader.query, "rectify_measures", unit_params)
            finally:
                reader.close()
        out: dict[str, Any] = {
            "runs": runs,
            "version_mb": round(store.current_file().stat().st_size / (1 << 20), 1),
        }
        for name, values in samples.items():
            out[f"{name}_ms"] = round(median(values), 1)
        empty = out["empty_ms"]
        for name in ("report", "submit", "pass", "close"):
            out[f"{name}_ratio"] = round(out[f"{name}_ms"] / empty, 2) if empty else None
        return out
    finally:
        shutil.rmtree(store.root, ignore_errors=True)


def line(measured: dict[str, Any]) -> str:
    """One Chinese line for the log and the text report."""
    steps = "，".join(
        f"{label} {measured[f'{k}_ms']:.0f} ms（×{measured[f'{k}_ratio']}）"
        for k, label in (
            ("report", "报进展"),
            ("submit", "报完成含佐证"),
            ("pass", "审核通过"),
            ("close", "销号"),
        )
    )
    return (
        f"在线整改每步写一个版本（{measured['version_mb']} MB）：空写入 {measured['empty_ms']:.0f} ms；"
        f"{steps}；待办队列 {measured['queue_ms']:.1f} ms，单位措施 {measured['unit_ms']:.1f} ms"
        f"（中位数，{measured['runs']} 轮交替）"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="在线整改每一步的耗时（与空写入对照）")
    parser.add_argument("--db", required=True, help="数据仓目录（只读取其当前版本的副本）")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xuncha-rectify-bench-") as folder:
        measured = measure(Path(args.db), Path(folder), args.runs)
    print(line(measured))
    for key, value in measured.items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
