"""`xuncha bench`: the benchmark of issue 8 (see bench/RESULTS.md)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench",
        help="性能基准：各页面查询、与 SQLite/pandas 对照（核对答案）、页面渲染、导入、负载测试",
        description=(
            "生成 1 万、10 万、100 万个问题的演示数据仓（或 --findings 指定），测量各页面的查询集、"
            "同一问题在 SQLite 与 pandas 中的用时（答案须与本系统一致）、AppTest 渲染（冷/热）、"
            "浏览器中各页面首次打开与改筛选到图表绘出的时间、收到的字节与浏览器 CPU、10 万行台账导入、内存带宽；--load 另做 20 个会话的负载测试。"
            "结果打印为表格（或 JSON），并写入 bench/results/<日期>-<问题数>.json。"
        ),
    )
    p.add_argument(
        "--findings",
        type=int,
        action="append",
        default=None,
        metavar="N",
        help="问题数（可重复；默认 10000、100000、1000000）",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--out", default=None, help="另将 JSON 结果写入该文件")
    p.add_argument("--markdown", default=None, help="另将结果表格写成 Markdown 文件")
    p.add_argument("--no-save", dest="save", action="store_false", help="不写 bench/results/")
    p.add_argument("--keep", default=None, help="在该目录生成（或沿用）数据仓，结束后保留")
    p.add_argument(
        "--repeats", type=int, default=None, help="每项计时的次数（默认 5，--quick 为 2）"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="冒烟运行：更少次数、一个筛选状态、不含浏览器、导入和负载测试",
    )
    p.add_argument("--no-browser", dest="browser", action="store_false", help="不做浏览器计时")
    p.add_argument("--no-import", dest="ledger_import", action="store_false", help="不做台账导入")
    p.add_argument("--load", action="store_true", help="负载测试：20 个会话并发切换筛选与页面")
    p.add_argument("--load-seconds", dest="load_seconds", type=float, default=60.0)
    p.add_argument("--load-sessions", dest="load_sessions", type=int, default=20)
    p.add_argument(
        "--workers",
        dest="load_workers",
        default=None,
        metavar="N[,N…]",
        help="负载测试经网关（nginx）连到 N 个驾驶舱进程，逐个数目各测一次，如 1,2（含 --load）",
    )
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from xuncha.bench import harness
    from xuncha.bench.questions import AnswerMismatch

    try:
        import pandas  # noqa: F401
        import psutil  # noqa: F401
    except ImportError as exc:
        print(f"xuncha: 基准测试需要开发依赖（uv sync）：{exc}", file=sys.stderr)
        return 1
    command = "xuncha bench " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    changes: dict[str, Any] = {
        "command": command.strip(),
        "keep": Path(args.keep) if args.keep else None,
        "load": args.load,
        "load_seconds": args.load_seconds,
        "load_sessions": args.load_sessions,
    }
    if args.load_workers:
        try:
            counts = [int(part) for part in args.load_workers.split(",") if part.strip()]
        except ValueError:
            counts = []
        if not counts or any(n < 1 for n in counts):
            print("xuncha: --workers 须是逗号分隔的正整数，如 1,2", file=sys.stderr)
            return 1
        changes["load"] = True
        changes["load_workers"] = counts
    if args.findings:
        if any(n < 1 for n in args.findings):
            print("xuncha: --findings 必须是正整数", file=sys.stderr)
            return 1
        changes["sizes"] = args.findings
    if args.repeats is not None:
        changes["repeats"] = max(args.repeats, 1)
        changes["render_repeats"] = max(args.repeats, 1)
    if args.quick:
        options = harness.Options.quick(**changes)
    else:
        options = harness.Options(**changes)
        options.browser = args.browser
        options.ledger_import = args.ledger_import
    try:
        out = harness.run(options)
    except AnswerMismatch as exc:
        print(f"xuncha: SQLite/pandas 的答案与本系统不一致，对照无效：{exc}", file=sys.stderr)
        return 1
    if args.save:
        saved = harness.save(out)
        print(f"结果已写入 {saved}", file=sys.stderr)
    if args.out:
        harness.save(out, Path(args.out))
    if args.markdown:
        Path(args.markdown).write_text(harness.markdown_report(out) + "\n", encoding="utf-8")
    if args.format == "json":
        print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    else:
        print(harness.text_report(out))
    return 0
