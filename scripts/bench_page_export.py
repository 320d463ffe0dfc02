"""Measure 导出本页 on the demo store: the workbook and the PDF of 总览 as the page draws it (its
by-round table, its 督办 list and its chart), built from the same figures the page uses.

    uv run python scripts/bench_page_export.py [--runs 5]

Cold: the chart drawn (kaleido and Chromium, started once before the first run: not timed).
Warm: the chart's picture kept from an earlier export (what a second click costs). Medians in
milliseconds, measured side by side in one run (these machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from xuncha import charts, demo, figures, labels, page_export
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp()) / "store"
    Store(root).write(lambda con: demo.build(con), fresh=True)
    reader = open_reader(Store(root))
    scope = resolve_scope(reader, Filters(as_of=demo.DEMO_AS_OF))
    by_round = figures.rectification(reader, scope, "round", cycle_median=False)
    overdue = reader.query("measures_supervision", scope.params(kinds=["红"], limit=15))

    def items(title: str) -> list[page_export.Item]:
        figure = charts.findings_and_completion_by_round(by_round)
        figure.update_layout(title_text=title)  # a new figure: its picture is not kept yet
        return [
            page_export.ChartItem("各轮次问题与整改完成率", figure.to_dict()),
            page_export.TableItem("各轮次整改情况", by_round.rename({"group_key": "round_name"})),
            page_export.TableItem(
                "督办：逾期最久的整改措施", labels.status_labels(overdue, finding=False)
            ),
        ]

    meta = page_export.PageMeta(
        page="总览", scope="全部", as_of=scope.as_of, user="bench", export_id="bench"
    )
    page_export.pictures(items("warm-up"))  # Chromium and kaleido started: not timed
    timings: dict[str, list[float]] = {k: [] for k in ("pdf cold", "pdf warm", "xlsx warm")}
    for run in range(args.runs):
        fresh = items(f"run {run}")
        started = time.perf_counter()
        page_export.to_pdf(fresh, meta)
        timings["pdf cold"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        page_export.to_pdf(fresh, meta)
        timings["pdf warm"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        page_export.to_xlsx(fresh, meta)
        timings["xlsx warm"].append((time.perf_counter() - started) * 1000)
    for name, values in timings.items():
        print(f"{name}: median {statistics.median(values):.0f} ms ({args.runs} runs)")
    reader.close()


if __name__ == "__main__":
    main()
