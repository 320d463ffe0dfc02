"""Benchmark: validate and import a 100,000-row ledger (xlsx), reporting time and peak memory.

    .venv/bin/python scripts/bench_import.py [--rows 100000] [--keep DIR]

Builds a realistic merged-cell ledger (title row, 填报单位/截至时间 line, group rows
"一、…方面", 序号/具体问题/具体表现 merged over 1-4 measure rows, mixed deadline forms
including date cells and Excel serial numbers, status words), then measures, each in a fresh
process so the figures are the work's own:

1. validation only: `read_ledger` (safety checks, parsing, normalising, validating);
2. the whole import into an empty store: `import_ledgers` (validation again, planning, one
   `Store.write` with the derived tables rebuilt).

Peak memory is the process's own high-water resident set size (VmHWM in /proc/self/status),
which includes what the Rust reader and DuckDB allocate, unlike tracemalloc. Not ru_maxrss:
Linux carries that across fork and exec, so a child started by a large process (the benchmark
harness holds its stores and frames) would report its parent's peak.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GROUPS = [
    "一、贯彻落实党的理论和路线方针政策、党中央重大决策部署方面",
    "二、落实全面从严治党战略部署方面",
    "三、落实新时代党的组织路线方面",
    "四、落实巡视巡察整改和成果运用方面",
]
TOPICS = [
    ("老旧小区改造", "推进缓慢，部分项目未按期开工"),
    ("公务接待", "管理不规范，存在无公函接待"),
    ("工程招投标", "监管不严，存在化整为零规避招标"),
    ("干部选拔任用", "程序不规范，纪实材料不全"),
    ("三会一课", "落实不严格，组织生活质量不高"),
    ("财务报销", "审核把关不严，存在白条入账"),
    ("专项资金", "使用绩效不高，资金沉淀"),
    ("意识形态工作", "责任制落实不到位，阵地管理薄弱"),
    ("上轮巡察整改", "不彻底，部分问题反弹"),
    ("安全生产", "隐患排查不彻底，整改销号不及时"),
]
PLACES = ["城东", "城西", "城南", "城北", "开发区", "高新区", "滨江", "湖滨", "东湖", "西山"]
MEASURES = [
    "修订完善相关管理制度，明确审批权限和流程",
    "开展专项检查，建立问题清单和整改台账",
    "对相关责任人进行提醒谈话，严肃追责问责",
    "建立月调度机制，定期通报整改进展",
]
STATUS = ["已完成", "正在整改", "基本完成", "未完成", "已整改到位", "持续推进"]
DEADLINES = ["2024年6月底前", "2024年底前", "立行立改", "2个月内", "长期坚持", "2024.9.30"]
LEADERS = ["张副局长", "李书记", "陈副局长", "王副局长"]
DEPARTMENTS = ["办公室", "财务科", "城建科", "组织人事科", "机关党委", "质安站"]


def build(path: Path, rows: int) -> tuple[int, int]:
    """Write a ledger of about `rows` data rows; returns (findings, measures)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("整改台账")
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.merge_range(
        0, 0, 0, 12, "中共江城市住房和城乡建设局党组关于市委第三巡察组反馈意见整改落实台账"
    )
    sheet.merge_range(1, 0, 1, 5, "填报单位：市住建局")
    sheet.merge_range(1, 6, 1, 12, "截至时间：2024年9月30日")
    header = [
        "序号",
        "具体问题",
        "具体表现",
        "整改措施",
        "责任领导",
        "责任部门",
        "责任人",
        "整改时限",
        "整改状态",
        "整改进展",
        "完成时间",
        "佐证材料",
        "备注",
    ]
    for col, name in enumerate(header):
        sheet.write(3, col, name)
    r = 4
    findings = measures = 0
    per_group = max(1, rows // (len(GROUPS) * 2 * 25))
    group = 0
    while r < rows + 4:
        if findings % per_group == 0:
            sheet.merge_range(r, 0, r, 12, GROUPS[group % len(GROUPS)])
            group += 1
            r += 1
        findings += 1
        topic, issue = TOPICS[findings % len(TOPICS)]
        place = PLACES[(findings // len(TOPICS)) % len(PLACES)]
        title = f"{place}{topic}{issue}（涉及第{findings}号事项）"
        detail = f"经查，{place}片区{2020 + findings % 4}年有{findings % 17 + 2}项{topic}存在问题"
        count = 1 + findings % 4
        first = r
        for k in range(count):
            measures += 1
            sheet.write(r, 3, f"{MEASURES[k]}（{place}第{findings}号）")
            sheet.write(r, 4, LEADERS[findings % len(LEADERS)])
            sheet.write(r, 5, DEPARTMENTS[(findings + k) % len(DEPARTMENTS)])
            sheet.write(r, 6, "—" if k % 3 == 2 else f"{'赵钱孙李周吴'[k]}科长")
            form = (findings + k) % 8
            if form == 6:
                sheet.write_datetime(r, 7, dt.datetime(2024, 10, 31), date_format)
            elif form == 7:
                sheet.write_number(r, 7, 45565)  # an Excel serial: 2024-09-30
            else:
                sheet.write(r, 7, DEADLINES[form])
            status = STATUS[(findings * 3 + k) % len(STATUS)]
            if DEADLINES[form % 6] == "长期坚持" and form < 6:
                status = "正在整改"
            sheet.write(r, 8, status)
            sheet.write(r, 9, "/" if k % 2 else f"已完成{k + 1}项工作，形成制度文件")
            sheet.write(r, 11, "会议纪要、制度文件" if status.startswith("已") else "无")
            r += 1
        if count > 1:
            sheet.merge_range(first, 0, r - 1, 0, findings)
            sheet.merge_range(first, 1, r - 1, 1, title)
            sheet.merge_range(first, 2, r - 1, 2, detail)
        else:
            sheet.write(first, 0, findings)
            sheet.write(first, 1, title)
            sheet.write(first, 2, detail)
    sheet.merge_range(
        r + 1, 0, r + 1, 12, "审核人：王某某　　填报人：李某某　　联系电话：0571-88886666"
    )
    book.close()
    return findings, measures


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB: VmHWM, which belongs to the process's own
    address space (new at exec); ru_maxrss where /proc is missing (it may include a parent's)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(mode: str, path: Path, store_dir: Path) -> dict[str, object]:
    from xuncha.ledger import import_ledgers, read_ledger
    from xuncha.store import Store

    started = time.perf_counter()
    if mode == "validate":
        result = read_ledger(path, feedback_date=dt.date(2024, 3, 15))
        ok, findings, measures = result.ok, len(result.findings), result.measure_count
        errors = [p.describe() for p in result.errors][:5]
    else:
        outcome = import_ledgers(
            Store(store_dir),
            [path],
            round_name="十四届市委第五轮巡察",
            unit_name="市住建局",
            feedback_date=dt.date(2024, 3, 15),
        )
        ok = outcome.ok
        findings = outcome.files[0].findings_added if outcome.files else 0
        measures = outcome.files[0].measures_added if outcome.files else 0
        errors = [p.describe() for p in outcome.errors][:5]
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    return {
        "mode": mode,
        "ok": ok,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak, 1),
        "findings": findings,
        "measures": measures,
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, default=None, help="keep the ledger and store here")
    parser.add_argument("--measure", choices=("validate", "import"), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.file, args.store), ensure_ascii=False))
        return 0
    folder = args.keep or Path(tempfile.mkdtemp(prefix="xuncha-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def _run(args: argparse.Namespace, folder: Path) -> int:
    ledger = folder / "bench_ledger.xlsx"
    started = time.perf_counter()
    findings, measures = build(ledger, args.rows)
    print(
        f"ledger: {ledger} — {args.rows:,} data rows, {findings:,} findings, {measures:,} measures, "
        f"{ledger.stat().st_size / 1024 / 1024:.1f} MB, built in {time.perf_counter() - started:.1f} s"
    )
    for mode in ("validate", "import"):
        store = folder / f"store-{mode}"
        run = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                mode,
                "--file",
                str(ledger),
                "--store",
                str(store),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(run.stdout)
        label = (
            "validation only (read_ledger)"
            if mode == "validate"
            else "validation + import (import_ledgers)"
        )
        print(
            f"{label}: {figures['seconds']} s, peak RSS {figures['peak_rss_mb']} MB, "
            f"ok={figures['ok']}, findings={figures['findings']:,}, measures={figures['measures']:,}"
        )
        for error in figures["errors"]:
            print(f"  {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
