"""The `xuncha` command line: parse arguments, make one call into the package, print.

Errors a user can cause (missing store, unknown round, bad date) print one line in Chinese on
standard error and exit 1; so does any other failure (full disk, damaged file, a bug), whose
traceback goes to the log file (xuncha.failures); usage errors exit 2 (argparse).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from xuncha import audit, demo, export, failures, figures, ledger, sandbox
from xuncha.auth import (
    BRIEFING,
    CLUE_DETAILS,
    EXPORT,
    IMPORT,
    SQL,
    VIEW_PAGES,
    Access,
    PermissionDenied,
    UserStore,
    command_access,
    trusted_header_name,
)
from xuncha.auth import cli as auth_cli
from xuncha.auth import gate as auth_gate
from xuncha.auth.access import AuthError
from xuncha.bench import cli as bench_cli
from xuncha.figures import disclosure, periods
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.filters_names import (
    FilterInputError,
    describe_in_names,
    filters_from_names,
    parse_date,
)
from xuncha.store import Store, StoreError, crypto, open_reader
from xuncha.store import backup as store_backup
from xuncha.store.permissions import private_umask
from xuncha.store.reader import Reader, table_counts
from xuncha.store.schema import PEER_GROUPS

DEFAULT_DB = os.environ.get("XUNCHA_DB", "data/demo")
APP_FILE = Path(__file__).resolve().parents[1] / "app.py"


USER_HELP = (
    "以该用户的角色和可见范围执行，并记入审计日志（数据仓已有用户时须为其中之一；"
    "不指定时以系统身份执行，记为当前系统用户）"
)


class UserError(Exception):
    """A problem in what the user asked for; printed as one line."""


def main(argv: Sequence[str] | None = None) -> int:
    private_umask()  # everything this command writes is its owner's only (dirs 0700, files 0600)
    parser = _parser()
    args = parser.parse_args(argv)
    db = getattr(args, "db", None)
    failures.log_to_file()
    try:
        if db is not None and args.func is not cmd_restore:
            for line in store_backup.recover(db):  # what a killed restore left
                print(f"xuncha: {line}", file=sys.stderr)
        return int(args.func(args) or 0)
    except (UserError, FilterInputError, StoreError, AuthError, audit.AuditError) as exc:
        print(f"xuncha: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("xuncha: 已中断，操作未完成", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the user, the traceback in the log
        log = failures.record(exc, context=f"xuncha {args.command}")
        print(f"xuncha: {failures.explain(exc, db=db, log=log)}", file=sys.stderr)
        return 1


def _add_filter_args(p: argparse.ArgumentParser) -> None:
    """--db and the filters of a command that reads figures (read by _scoped)."""
    p.add_argument("--db", default=DEFAULT_DB)
    p.add_argument("--round", action="append", default=[], help="轮次名称（可重复）")
    p.add_argument("--unit", action="append", default=[], help="单位名称或简称（可重复）")
    p.add_argument("--category", action="append", default=[], help="类别代码，如 B 或 B03")
    p.add_argument(
        "--as-of", dest="as_of", default=None, help="统计截至日期 YYYY-MM-DD（默认今天）"
    )


def _scoped(args: argparse.Namespace) -> tuple[Access, Reader, Filters, Scope]:
    """Who asks (with --user), the reader, the filters of _add_filter_args, and the scope."""
    who = _access(args.db, args.user, VIEW_PAGES)
    reader = _reader(args.db)
    filters = filters_from_names(
        reader,
        rounds=args.round,
        units=args.unit,
        categories=args.category,
        as_of=args.as_of,
        access=who,
    )
    return who, reader, filters, resolve_scope(reader, filters, access=who)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xuncha", description="巡察数据驾驶舱 命令行")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="生成演示数据仓")
    p.add_argument("--db", default=DEFAULT_DB, help="数据仓目录（默认 data/demo）")
    p.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="随机种子")
    p.add_argument("--findings", type=int, default=None, help="问题总数（用于基准测试扩大规模）")
    p.add_argument(
        "--force",
        action="store_true",
        help="数据仓含真实数据或用户时仍生成：原数据仓整体改名保留为“目录名.before-demo-时间”",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("info", help="各表行数")
    p.add_argument("--db", default=DEFAULT_DB)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("metrics", help="整改指标（各指标口径见统计口径说明）")
    _add_filter_args(p)
    p.add_argument(
        "--by",
        choices=[g for g in figures.GROUPINGS if g not in ("all", "round_unit")],
        default=None,
    )
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--user", default=None, help=USER_HELP)
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser(
        "online",
        help="在线整改指标：各单位待审核、待销号、退回次数、退回率、销号用时（截至统计日）",
    )
    _add_filter_args(p)
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--user", default=None, help=USER_HELP)
    p.set_defaults(func=cmd_online)

    p = sub.add_parser("search", help="关键词检索问题（具体问题、具体表现；多个词须同时包含）")
    p.add_argument("terms", nargs="+", help="检索词（按字面匹配，区分英文大小写）")
    _add_filter_args(p)
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--user", default=None, help=USER_HELP)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("serve", help="启动驾驶舱（数据仓不存在时先生成演示数据）")
    p.add_argument("--db", default=DEFAULT_DB)
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help=(
            "驾驶舱进程数（默认 1）：大于 1 时在 --port 起的连续端口（或 --ports）上各启动一个"
            "进程，共用同一数据仓，退出的进程自动重启；须经 nginx 按登录会话固定到同一进程"
            "（见 deploy/nginx/README.md）"
        ),
    )
    p.add_argument(
        "--ports", default=None, help="与 --workers 同用：各进程的端口，逗号分隔（如 8501,8511）"
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "import",
        help="导入整改台账（.xlsx/.xls/.csv）：先校验，全部无误才写入，一次导入为一个新数据版本",
        description=(
            "导入整改台账。同一轮次同一单位的后续台账按序号（序号变动处按文字）与已有问题配对；"
            "配对有变动时须先试运行（--dry-run）生成配对文件，核对后用 --pairing 导入。"
            "演示数据仓不接受真实台账；--db 指向不存在的目录时新建正式数据仓并创建第一个管理员。"
        ),
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="台账文件（可多个，属同一轮次同一单位）"
    )
    p.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    p.add_argument("--round", dest="round_name", required=True, help="轮次名称（不存在时新建）")
    p.add_argument("--unit", dest="unit_name", required=True, help="单位全称或简称（不存在时新建）")
    p.add_argument(
        "--feedback-date", dest="feedback_date", help="反馈日期 YYYY-MM-DD（新建巡察时必填）"
    )
    p.add_argument(
        "--as-of", dest="as_of", help="台账截至日期 YYYY-MM-DD（文件中没有截至时间时必填）"
    )
    p.add_argument("--dry-run", action="store_true", help="只校验并统计将要发生的变化，不写入")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--user", default=None, help="记录的操作人（默认当前系统用户）")
    p.add_argument("--peer-group", dest="peer_group", choices=PEER_GROUPS, help="新建单位的同类组")
    p.add_argument("--sector", default=None, help="新建单位的行业领域")
    p.add_argument("--short-name", dest="short_name", default=None, help="新建单位的简称")
    p.add_argument("--group", dest="group_name", default=None, help="新建巡察的巡察组名称")
    p.add_argument(
        "--max-mb", dest="max_mb", type=float, default=None, help="文件大小上限（MB，默认 20）"
    )
    p.add_argument(
        "--pairing",
        default=None,
        metavar="FILE",
        help="核对后的配对文件（试运行生成；按其中的“配对编号”导入）",
    )
    p.add_argument(
        "--pairing-out",
        dest="pairing_out",
        default=None,
        metavar="FILE",
        help="试运行写出配对文件的位置（默认：台账旁的“台账名.配对.csv”）",
    )
    p.add_argument(
        "--annotate",
        default=None,
        metavar="DIR",
        help="校验有问题时，把标注了问题的台账副本写入此目录（“台账名_问题标注.xlsx”）",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "repair",
        help="修复版本指针丢失或损坏的数据仓：指向最新的可用数据版本（先列出检查结果）",
    )
    p.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    p.set_defaults(func=cmd_repair)

    p = sub.add_parser("template", help="生成标准整改台账模板（.xlsx）")
    p.add_argument("--out", required=True, help="输出文件 .xlsx")
    p.add_argument("--force", action="store_true", help="覆盖已存在的文件")
    p.set_defaults(func=cmd_template)

    p = sub.add_parser("rollback", help="回滚一个台账导入批次（生成新的数据版本）")
    p.add_argument("batch", type=int, metavar="BATCH", help="批次编号（见 import 的输出）")
    p.add_argument("--db", default=DEFAULT_DB)
    p.add_argument("--user", default=None, help="记录的操作人（默认当前系统用户）")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser(
        "sql",
        help="在查询沙箱中执行一条只读查询（SELECT/WITH/FROM、DESCRIBE、SUMMARIZE），每次都记入审计",
        description=(
            "在查询沙箱中执行一条只读查询。登录与按用户授权（issue 7）之前，命令行使用全部轮次、"
            "全部单位的范围，--user 只是记入审计的名字；线索默认只显示条数（1–2 条为“<3”）。"
        ),
    )
    p.add_argument("query", metavar="QUERY", help="SQL 文本；为 - 时从标准输入读取")
    p.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    p.add_argument("--user", default=None, help=USER_HELP)
    p.add_argument(
        "--timeout",
        type=float,
        default=sandbox.build.DEFAULT_TIMEOUT,
        help="时间上限（秒，默认 15）",
    )
    p.add_argument(
        "--max-rows",
        dest="max_rows",
        type=int,
        default=None,
        help=f"最多返回的行数（默认且最多 {sandbox.EXPORT_MAX_ROWS:,}）",
    )
    p.add_argument("--format", choices=("json", "csv", "xlsx"), default="json")
    p.add_argument(
        "--out", default=None, help="输出文件（xlsx 必须指定；json/csv 默认写到标准输出）"
    )
    p.add_argument("--force", action="store_true", help="覆盖已存在的输出文件")
    p.add_argument(
        "--clue-details",
        dest="clue_details",
        action="store_true",
        help="包含线索详情表 clues（仅限案件相关角色；默认只有 clue_counts）",
    )
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("audit", help="审计记录")
    audit_sub = p.add_subparsers(dest="audit_command", required=True)
    q = audit_sub.add_parser("verify", help="核验审计记录的哈希链，发现被修改、删除或调换的记录")
    q.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    q.set_defaults(func=cmd_audit_verify)

    p = sub.add_parser(
        "key",
        help=f"数据仓加密（静态加密）：生成密钥、加密已有数据、轮换密钥（密钥由 {crypto.ENV_KEY_FILE} 指定）",
    )
    key_sub = p.add_subparsers(dest="key_command", required=True)
    q = key_sub.add_parser("new", help="生成新的随机密钥文件（权限 600；须放在数据仓之外）")
    q.add_argument("file", metavar="FILE", help="新密钥文件的路径（不覆盖已有文件）")
    q.set_defaults(func=cmd_key_new)
    q = key_sub.add_parser("status", help="当前密钥，及各数据文件是否已加密、用哪把密钥")
    q.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    q.set_defaults(func=cmd_key_status)
    q = key_sub.add_parser(
        "seal", help="用当前密钥加密数据仓中尚未加密的数据版本（新写入的版本总是加密的）"
    )
    q.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    q.add_argument("--user", default=None, help="记入审计的操作人（默认当前系统用户）")
    q.set_defaults(func=cmd_key_seal)
    q = key_sub.add_parser(
        "rotate",
        help="轮换密钥：用 --new-key-file 的新密钥重新加密全部数据版本（原密钥照常由环境变量提供）",
    )
    q.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    q.add_argument("--new-key-file", dest="new_key_file", required=True, help="新密钥文件")
    q.add_argument("--user", default=None, help="记入审计的操作人（默认当前系统用户）")
    q.set_defaults(func=cmd_key_rotate)

    p = sub.add_parser(
        "backup",
        help="备份数据仓（当前版本、固定的版本、审计记录、用户库、配置、简报）为一个 .tar.gz；驾驶舱运行时也可备份",
    )
    p.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    p.add_argument("--out", required=True, help="备份文件 .tar.gz（不覆盖已有文件）")
    p.add_argument(
        "--all-versions", dest="all_versions", action="store_true", help="包含保留的全部数据版本"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore",
        help="从备份恢复数据仓：先逐个核对文件的 SHA-256，已有数据仓须加 --force（原数据仓改名保留）",
    )
    p.add_argument("file", metavar="FILE", help="备份文件 .tar.gz")
    p.add_argument("--db", default=DEFAULT_DB, help="恢复到的数据仓目录")
    p.add_argument("--force", action="store_true", help="替换已有的数据仓（原数据仓改名保留）")
    p.add_argument("--user", default=None, help="记入审计的操作人（默认当前系统用户）")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "ecology",
        help="政治生态研判参考：各单位得分、等次、封顶徽标、维度和指标",
    )
    p.add_argument("--db", default=DEFAULT_DB)
    p.add_argument(
        "--round", action="append", default=[], help="轮次名称（可重复，须连续；默认全部轮次）"
    )
    p.add_argument(
        "--as-of", dest="as_of", default=None, help="统计截至日期 YYYY-MM-DD（默认今天）"
    )
    p.add_argument(
        "--config",
        default=None,
        help="指标配置文件 .toml（默认：数据仓中管理员保存的配置，没有时为内置配置）",
    )
    p.add_argument(
        "--distribution",
        action="store_true",
        help="打印各轮等次分布（已结束整改期或暂评）和相邻两次被巡察的等次变化（含原因）",
    )
    p.add_argument(
        "--format",
        choices=("json", "csv", "text"),
        default=None,
        help="输出格式：json（默认）、csv；--distribution 时为 text（默认）或 json",
    )
    p.add_argument("--user", default=None, help=USER_HELP)
    p.set_defaults(func=cmd_ecology)

    p = sub.add_parser(
        "briefing",
        help="生成领导简报（.docx，有 LibreOffice 时另存 .pdf），并存档；或按存档重新生成",
    )
    p.add_argument("--db", default=DEFAULT_DB)
    p.add_argument(
        "--round", action="append", default=[], help="轮次名称（可重复，须连续，即一个期间）"
    )
    p.add_argument("--unit", action="append", default=[], help="单位名称或简称（可重复）")
    p.add_argument(
        "--as-of", dest="as_of", default=None, help="统计截至日期 YYYY-MM-DD（默认今天）"
    )
    p.add_argument("--out", default=None, help="输出 .docx 文件")
    p.add_argument("--pdf", action="store_true", help="同时输出 .pdf（需要 LibreOffice）")
    p.add_argument("--title", default=None, help="标题（默认自动生成）")
    p.add_argument("--issuer", default="市委巡察办", help="落款")
    p.add_argument("--suggestions", default=None, help="下步工作建议的文本文件（UTF-8，空行分段）")
    p.add_argument(
        "--config",
        default=None,
        help="研判指标配置文件 .toml（默认：数据仓中管理员保存的配置，没有时为内置配置）",
    )
    p.add_argument("--regenerate", metavar="ID", default=None, help="按存档参数重新生成并核对")
    p.add_argument("--list", action="store_true", help="列出存档的简报")
    p.add_argument("--user", default=None, help=USER_HELP)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_briefing)
    p = sub.add_parser(
        "notices",
        help="每日任务：按整改时限计算绿/黄/红预警，发出预警提醒和督办函（.docx，编号、存档、审计）",
        description=(
            "计算指定日期应发出的预警提醒（绿色、黄色）和督办函（红色，已逾期），每个单位每类一份，"
            "按年度编号，存档于数据仓 notices/ 目录并记入审计；同一日期重复运行不会重复发文。"
            "时限按自然日还是工作日计算、提前天数和文号前缀见数据仓 config/notices.toml。"
            "可由 cron 或 systemd 定时器每天运行（见 README）。"
        ),
    )
    p.add_argument("--date", default=None, help="发文日期 YYYY-MM-DD（默认今天）")
    p.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    p.add_argument(
        "--send",
        action="store_true",
        help="同时用邮件发送本次发出的文书（须在数据仓 config/mail.toml 中配置邮件服务器）",
    )
    p.add_argument("--json", action="store_true", help="以 JSON 输出")
    p.set_defaults(func=cmd_notices)

    p = sub.add_parser("contacts", help="通讯录：预警提醒和督办函的收件人（导入、查看、模板）")
    contacts_sub = p.add_subparsers(dest="contacts_command", required=True)
    q = contacts_sub.add_parser(
        "import",
        help="导入通讯录（.xlsx/.xls/.csv：单位、身份、姓名、电子邮箱、系统账号），整体替换原通讯录",
    )
    q.add_argument("file", metavar="FILE", help="通讯录文件")
    q.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    q.add_argument("--user", default=None, help=USER_HELP)
    q.set_defaults(func=cmd_contacts_import)
    q = contacts_sub.add_parser("list", help="列出通讯录")
    q.add_argument("--db", default=DEFAULT_DB, help="数据仓目录")
    q.add_argument("--user", default=None, help=USER_HELP)
    q.add_argument("--json", action="store_true", help="以 JSON 输出")
    q.set_defaults(func=cmd_contacts_list)
    q = contacts_sub.add_parser("template", help="生成通讯录模板（.xlsx，含数据仓中的单位列表）")
    q.add_argument("--out", required=True, help="输出文件 .xlsx")
    q.add_argument("--db", default=None, help="数据仓目录（给出时模板附单位列表）")
    q.add_argument("--force", action="store_true", help="覆盖已存在的文件")
    q.set_defaults(func=cmd_contacts_template)

    p = sub.add_parser(
        "revisit",
        help="回头看候选：按排序规则列出建议回头看的单位及理由（可导出下一轮巡察计划草案）",
        description=(
            "每个单位以其整改期已结束的最近一次巡察为依据（只有尚在整改期内巡察的单位不列入），"
            "按成效评估、反弹、逾期、距上次巡察时间和政治生态趋势计分排序；规则见数据仓 "
            "config/revisit.toml（没有时为内置规则），显著反弹线见 config/ecology.toml。"
        ),
    )
    _add_filter_args(p)
    p.add_argument("--top", type=int, default=None, help="只列前 N 个单位")
    p.add_argument(
        "--rule", default=None, help="排序规则文件 .toml（默认：数据仓 config/revisit.toml）"
    )
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--out", default=None, help="另存为 .xlsx（候选名单、下一轮巡察计划草案、说明）")
    p.add_argument("--user", default=None, help=USER_HELP)
    p.set_defaults(func=cmd_revisit)
    auth_cli.register(sub)
    auth_gate.register(sub)
    bench_cli.register(sub)
    _add_evaluation_parser(sub)
    return parser


# -- commands ----------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    if args.findings is not None and args.findings < 1:
        raise UserError("--findings 必须是正整数")
    started = time.perf_counter()
    store = Store(args.db)
    try:
        built = demo.build_store(
            store,
            user=_user(),
            source="cli",
            seed=args.seed,
            findings=args.findings,
            force=args.force,
        )
    except demo.DemoRefused as exc:
        raise UserError(str(exc)) from None
    summary, version = built.summary, built.version
    sandbox.prepare(store, version)
    seconds = time.perf_counter() - started
    out = {
        "db": str(store.root),
        "version": version,
        "seconds": round(seconds, 3),
        "moved_aside": str(built.moved_aside) if built.moved_aside else None,
        **summary.__dict__,
    }
    if args.format == "json":
        print(json.dumps(out, ensure_ascii=False))
    else:
        if built.moved_aside is not None:
            print(
                f"原数据仓（含真实数据、用户、简报存档和审计记录）已整体改名保留为 {built.moved_aside}，"
                f"演示数据仓中没有其中任何内容"
            )
        print(
            f"已生成演示数据仓 {store.root}（版本 {version}）：{summary.rounds} 轮、"
            f"{summary.units} 个单位、{summary.inspections} 次巡察、{summary.findings} 个问题、"
            f"{summary.measures} 条措施、{summary.clues} 条线索，用时 {seconds:.2f} 秒"
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    reader = _reader(args.db)
    counts = table_counts(reader)
    out = {"db": str(reader.store.root), "version": reader.version, "tables": counts}
    if args.format == "json":
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"数据仓 {reader.store.root}，版本 {reader.version}")
        width = max(len(name) for name in counts)
        for name, rows in counts.items():
            print(f"  {name:<{width}}  {rows:>10,}")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    who, reader, filters, scope = _scoped(args)
    by = args.by or "all"
    frame = figures.rectification(reader, scope, by)
    records = figures.metrics_records(frame, by)
    if args.format == "json":
        payload: Any = records if args.by else {"as_of": scope.as_of.isoformat(), **records[0]}
        text = json.dumps(payload, ensure_ascii=False, default=_json_default) + "\n"
        columns = list(payload if isinstance(payload, dict) else records[0] if records else {})
    else:
        buffer = io.StringIO()
        table = pl.DataFrame(records)
        table.write_csv(buffer)
        text, columns = buffer.getvalue(), table.columns
    _print_recorded(
        args.db, who, "metrics", filters, text, columns=columns, rows=len(records), fmt=args.format
    )
    return 0


def cmd_online(args: argparse.Namespace) -> int:
    from xuncha.figures import online

    who, reader, filters, scope = _scoped(args)
    frame = online.online_by_unit(reader, scope).drop("unit_id")
    totals = online.online_totals(frame)
    if args.format == "json":
        payload = {"as_of": scope.as_of.isoformat(), "total": totals, "units": frame.to_dicts()}
        text = json.dumps(payload, ensure_ascii=False, default=_json_default) + "\n"
    else:
        buffer = io.StringIO()
        frame.write_csv(buffer)
        text = buffer.getvalue()
    _print_recorded(
        args.db,
        who,
        "online",
        filters,
        text,
        columns=frame.columns,
        rows=frame.height,
        fmt=args.format,
    )
    return 0


SEARCH_COLUMNS = (
    "finding_id",
    "round_name",
    "unit_name",
    "category_l2",
    "title",
    "detail",
    "status",
    "is_repeat",
)


def cmd_search(args: argparse.Namespace) -> int:
    who, reader, filters, scope = _scoped(args)
    try:
        terms = figures.search_terms(" ".join(args.terms))
    except figures.SearchError as exc:
        raise UserError(str(exc)) from None
    if not terms:
        raise UserError("请给出检索词")
    ids = figures.search_sql(reader, scope, terms)
    found = reader.query("findings_by_ids", scope.params(finding_ids=ids)).select(SEARCH_COLUMNS)
    data: str | bytes
    if args.format == "json":
        payload = {"as_of": scope.as_of.isoformat(), "terms": terms, "findings": found.to_dicts()}
        data = json.dumps(payload, ensure_ascii=False, default=_json_default) + "\n"
    else:
        data = export.to_csv(found)
    _print_recorded(
        args.db,
        who,
        "search",
        filters,
        data,
        columns=found.columns,
        rows=found.height,
        fmt=args.format,
        terms=terms,
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from xuncha import workers

    try:
        ports = workers.worker_ports(args.port, args.workers, args.ports)
    except workers.WorkersError as exc:
        raise UserError(str(exc)) from None
    if trusted_header_name():
        # A trusted identity header is only safe when nobody but the proxy can connect.
        try:
            auth_gate.check_loopback(args.address)
        except AuthError as exc:
            raise UserError(
                f"设置了 XUNCHA_TRUSTED_USER_HEADER 时只能监听本机地址：{exc}"
            ) from None
    store = Store(args.db)
    if not store.exists():
        print(f"首次启动：正在生成演示数据仓 {store.root} …", file=sys.stderr)
        try:
            built = demo.build_store(store, user=_user(), source="serve")
        except demo.DemoRefused as exc:
            raise UserError(str(exc)) from None
        sandbox.prepare(store, built.version)
    reader = open_reader(store)
    try:
        is_demo = demo.is_demo_store(reader)
    finally:
        reader.close()
    if not is_demo:
        # A real store never opens without a login: the first administrator is created
        # here, with a password printed once (never a default one).
        created = UserStore(store.root).ensure_first_admin()
        if created is not None:
            print(
                f"已创建第一个管理员账号 {created[0]}，初始密码（只显示这一次）：{created[1]}\n"
                "请登录后在“用户管理”中为其他人创建账号。",
                file=sys.stderr,
            )
    os.environ["XUNCHA_DB"] = str(store.root.resolve())
    if len(ports) > 1:
        # Each child is this command with one port: the store is ready for it now.
        try:
            return workers.serve_workers(str(store.root.resolve()), args.address, ports)
        except workers.WorkersError as exc:
            raise UserError(str(exc)) from None
    from xuncha import ui  # the Streamlit side, loaded only to serve

    return ui.serve(APP_FILE, port=ports[0], address=args.address)


def cmd_import(args: argparse.Namespace) -> int:
    paths = [Path(f) for f in args.files]
    for path in paths:
        if not path.is_file():
            raise UserError(f"文件不存在：{path}")
    if args.max_mb is not None and args.max_mb <= 0:
        raise UserError("--max-mb 必须是正数")
    if args.annotate is not None and not Path(args.annotate).is_dir():
        raise UserError(f"目录不存在：{args.annotate}")
    limits = ledger.LedgerLimits.from_env()
    if args.max_mb is not None:
        limits = ledger.LedgerLimits(max_file_bytes=int(args.max_mb * 1024 * 1024))
    decisions = None
    if args.pairing is not None:
        try:
            decisions = ledger.read_pairing_file(Path(args.pairing))
        except ledger.PairingFileError as exc:
            raise UserError(str(exc)) from None
    _access(args.db, args.user, IMPORT)
    store = Store(args.db)
    new_store = not store.exists()
    outcome = ledger.import_ledgers(
        store,
        paths,
        round_name=args.round_name,
        unit_name=args.unit_name,
        feedback_date=parse_date(args.feedback_date),
        as_of=parse_date(args.as_of),
        user=args.user or _user(),
        dry_run=args.dry_run,
        unit_short_name=args.short_name,
        unit_sector=args.sector,
        unit_peer_group=args.peer_group,
        group_name=args.group_name,
        limits=limits,
        pairing=decisions,
        source="cli",
    )
    first_admin = None
    if outcome.ok and outcome.version is not None:
        sandbox.prepare(store, outcome.version)
        if new_store:
            # A real store never opens without a login: its first administrator now, with a
            # password shown this once (never a default one).
            first_admin = UserStore(store.root).ensure_first_admin()
    pairing_file = None
    if outcome.pairings and (args.dry_run or outcome.to_confirm):
        pairing_file = Path(args.pairing_out or paths[0].with_suffix(".配对.csv"))
        if args.pairing and pairing_file.resolve() == Path(args.pairing).resolve():
            # Never over the file a person edited: the new proposals go beside it.
            pairing_file = pairing_file.with_name(f"{paths[0].stem}.配对（新）.csv")
        ledger.write_pairing_file(pairing_file, outcome.pairings)
    annotated = _annotate(outcome, paths, args.annotate) if args.annotate else []
    if args.format == "json":
        payload = outcome.as_json()
        payload["pairing_file"] = str(pairing_file) if pairing_file else None
        payload["annotated"] = [str(p) for p in annotated]
        if first_admin is not None:
            payload["first_admin"] = {"name": first_admin[0], "password": first_admin[1]}
        print(json.dumps(payload, ensure_ascii=False, default=_json_default))
    else:
        _print_import(outcome, store, new_store and outcome.version is not None)
        if pairing_file is not None:
            print(
                f"配对文件：{pairing_file}（核对“配对编号”列：填已有编号表示同一条，留空或“新增”表示新增；"
                f"然后加 --pairing {pairing_file} 导入）"
            )
        for path in annotated:
            print(f"标注了问题的台账副本：{path}")
        if first_admin is not None:
            print(
                f"已创建第一个管理员账号 {first_admin[0]}，初始密码（只显示这一次）：{first_admin[1]}\n"
                f"用 xuncha serve --db {store.root} 打开驾驶舱，登录后在“用户管理”中为其他人创建账号。"
            )
    if not outcome.ok:
        print(f"xuncha: {outcome.message()}", file=sys.stderr)
        return 1
    return 0


def _annotate(outcome: ledger.ImportOutcome, paths: list[Path], folder: str) -> list[Path]:
    """Annotated copies of the ledgers that have problems, written into `folder`."""
    written: list[Path] = []
    for path, result in zip(paths, outcome.results, strict=False):
        if not result.problems:
            continue
        target = Path(folder) / f"{path.stem}_问题标注.xlsx"
        target.write_bytes(ledger.annotated_copy(path, result))
        written.append(target)
    return written


def _print_import(outcome: ledger.ImportOutcome, store: Store, created_store: bool) -> None:
    problems = outcome.all_problems
    if not outcome.ok:
        errors = len(outcome.errors)
        print(f"校验报告（{errors} 个错误，{len(problems) - errors} 个提示），按类别：")
        for line in ledger.grouped_lines(problems):
            print(f"  {line}")
        return
    print(outcome.message())
    if created_store:
        print(f"  新建数据仓 {store.root}")
    for line in outcome.created:
        print(f"  {line}")
    for file in outcome.files:
        print(f"  {file.describe()}")
    for result in outcome.results:
        if result.unknown_columns:
            print(f"  {result.file_name} 未导入的列：{'、'.join(result.unknown_columns)}")
    warnings = [p for p in problems if not p.is_error]
    if warnings:
        print(f"提示 {len(warnings)} 条：")
        for problem in warnings:
            print(f"  {problem.describe()}")


def cmd_repair(args: argparse.Namespace) -> int:
    store = Store(args.db)
    why = store.damaged()
    if why is None and not store.exists():
        raise UserError(f"数据仓不存在：{store.root}")
    before = None if why is not None else store.version()
    head = f"数据仓 {store.root}：{why}" if why else f"数据仓 {store.root} 的版本指针完好"
    print(f"{head}。逐个检查数据版本（读取每张表的全部数据）：")
    found, chosen = store.repair()
    for number, state in found:
        print(f"  版本 {number}：{state}")
    if chosen is None:
        raise UserError("没有可用的数据版本，未作更改；请从备份恢复（xuncha restore）")
    if chosen == before:
        print(f"当前数据版本 {chosen} 可用，无需修复")
        return 0
    print(f"已将版本指针指向最新的可用版本 {chosen}（原指针如有，保存为 CURRENT.damaged）")
    # A recovery is never held up by the trail; it is recorded once done.
    try:
        audit.record(
            store.root,
            user=_user(),
            action="repair",
            source="cli",
            damage=why,
            before=before,
            data_version=chosen,
            checked=[{"version": n, "state": state} for n, state in found],
        )
    except audit.AuditError as exc:
        raise UserError(f"已修复，但审计记录写入失败：{exc}") from None
    return 0


def cmd_template(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        raise UserError(f"模板文件名须以 .xlsx 结尾：{out}")
    if out.exists() and not args.force:
        raise UserError(f"文件已存在：{out}（如需覆盖请加 --force）")
    if not out.parent.is_dir():
        raise UserError(f"目录不存在：{out.parent}")
    ledger.write_template(out)
    print(f"已生成整改台账模板 {out}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    _access(args.db, args.user, IMPORT)
    store = Store(args.db)
    try:
        outcome = ledger.rollback_batch(store, args.batch, user=args.user or _user(), source="cli")
    except ledger.RollbackRefused as exc:
        raise UserError(f"无法回滚：{exc}") from None
    sandbox.prepare(store, outcome.version)
    if args.format == "json":
        print(json.dumps(outcome.as_json(), ensure_ascii=False, default=_json_default))
    else:
        print(outcome.message())
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.query == "-" else args.query
    if not args.timeout > 0 or args.timeout > 3600:
        raise UserError("--timeout 须大于 0 且不超过 3600 秒")
    max_rows = sandbox.EXPORT_MAX_ROWS if args.max_rows is None else args.max_rows
    if not 1 <= max_rows <= sandbox.EXPORT_MAX_ROWS:
        raise UserError(f"--max-rows 须在 1 到 {sandbox.EXPORT_MAX_ROWS:,} 之间")
    out = Path(args.out) if args.out else None
    if args.format == "xlsx" and out is None:
        raise UserError("xlsx 格式须用 --out 指定输出文件")
    if out is not None:
        if out.exists() and not args.force:
            raise UserError(f"文件已存在：{out}（如需覆盖请加 --force）")
        if not out.parent.is_dir():
            raise UserError(f"目录不存在：{out.parent}")
    who = _access(args.db, args.user, SQL)
    if args.clue_details and not who.can(CLUE_DETAILS):
        raise UserError(f"{who.user}：没有查看线索明细的权限")
    user = who.user
    store = Store(args.db)
    reader = open_reader(store)
    try:
        scope = resolve_scope(reader, Filters(), access=who)
    finally:
        reader.close()
    # One query: no spare query process started ahead for a next one that never comes.
    os.environ.setdefault("XUNCHA_SQL_SPARE", "0")
    try:
        box = sandbox.Sandbox.for_scope(
            store, scope, clue_details=args.clue_details, timeout=args.timeout, cache=False
        )
    except sandbox.SandboxProblem as exc:
        raise UserError(exc.message) from None
    try:
        result = box.run(
            text,
            user=user,
            max_rows=max_rows,
            purpose="export" if args.format != "json" or out else "display",
            details={"source": "cli", "format": args.format},
        )
        if args.format == "json":
            payload = {
                "columns": result.columns,
                "types": result.types,
                "rows": result.frame.to_dicts(),
                "row_count": result.rows,
                "truncated": result.truncated,
                "elapsed_ms": result.elapsed_ms,
                "data_version": box.version,
            }
            data = (
                json.dumps(payload, ensure_ascii=False, default=_sql_json_default) + "\n"
            ).encode()
        elif args.format == "csv":
            data = export.to_csv(sandbox.exportable(result.frame))
        else:
            meta = box.export_meta(result, text, user=user)
            data = export.to_xlsx(sandbox.exportable(result.frame), meta)
        if args.format != "json" or out is not None:
            audit.record(
                store.root,
                user=user,
                action="export",
                source="cli sql",
                format=args.format,
                rows=result.rows,
                truncated=result.truncated,
                file=str(out.resolve()) if out else "<stdout>",
                sha256=hashlib.sha256(data).hexdigest(),
                bytes=len(data),
                columns=result.columns,
                query_seq=result.audit_seq,
                scope_digest=box.scope.digest,
                data_version=box.version,
            )
    except sandbox.SandboxProblem as exc:
        raise UserError(exc.message) from None
    except audit.AuditError as exc:
        raise UserError(f"审计记录写入失败，未输出结果：{exc}") from None
    finally:
        box.close()
    if out is not None:
        out.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if result.truncated:
        print(f"xuncha: 注意：{result.note}", file=sys.stderr)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    store = Store(args.db)
    if not store.root.is_dir():
        raise UserError(f"数据仓不存在：{store.root}")
    problems = audit.verify(store.root)
    if problems:
        for problem in problems:
            print(f"  {problem}")
        raise UserError(f"审计记录被篡改：{problems[0]}（共 {len(problems)} 处问题）")
    remembered = audit.head(store.root)
    if remembered is None:
        print(f"OK 尚无审计记录（{audit.audit_path(store.root)}）")
    else:
        seq, digest = remembered
        print(f"OK 审计记录完整：共 {seq} 条，末条哈希 {digest}")
    kept = audit.anchors(store.root)
    if kept:
        print("  锚点（与审计记录一致）：" + "；".join(f"{a.source} 序号 {a.seq}" for a in kept))
    return 0


def cmd_key_new(args: argparse.Namespace) -> int:
    target = Path(args.file)
    if target.exists():
        raise UserError(f"文件已存在：{target}（不覆盖已有的密钥文件）")
    if not target.parent.is_dir():
        raise UserError(f"目录不存在：{target.parent}")
    ident = crypto.new_key_file(target)
    print(f"已生成密钥文件 {target}（密钥标识 {ident}，权限 600）")
    print(
        f"请妥善保管并另行备份（丢失即无法读取数据）；使用时设置 "
        f"{crypto.ENV_KEY_FILE}={target.resolve()}"
    )
    return 0


def cmd_key_status(args: argparse.Namespace) -> int:
    store = Store(args.db)
    if not store.root.is_dir():
        raise UserError(f"数据仓不存在：{store.root}")
    key = store.key()
    print(f"当前密钥：{'未设置（数据不加密）' if key is None else crypto.key_id(key)}")
    plain = 0
    for path in store.data_files():
        rel = path.relative_to(store.root)
        if crypto.is_sealed(path):
            used = crypto.read_header(path).key_id
            mark = "" if key is not None and used == crypto.key_id(key) else "（非当前密钥）"
            print(f"  {rel}：已加密，密钥 {used}{mark}")
        else:
            plain += 1
            print(f"  {rel}：未加密")
    if plain and key is not None:
        print(f"有 {plain} 个文件未加密：可运行 xuncha key seal --db {store.root} 加密")
    return 0


def _seal_files(args: argparse.Namespace, new_key: bytes, old_key: bytes | None) -> int:
    store = Store(args.db)
    if not store.exists():
        raise UserError(f"数据仓不存在：{store.root}")
    action = "key_rotate" if old_key is not None else "key_seal"
    audit.check_before_write(store.root, "轮换密钥" if old_key is not None else "加密数据仓")
    from xuncha.briefing import archive

    counts = store.seal_files(new_key, old_key)
    kept = archive.seal_all(store, new_key, old_key)
    counts["briefing_files"] = kept["briefing_files_sealed"] + kept["briefing_files_rotated"]
    from xuncha.rectify import notices

    issued = notices.seal_all(store, new_key, old_key)
    counts["notice_files"] = issued["notice_files_sealed"] + issued["notice_files_rotated"]
    from xuncha.evaluation import archive as evaluations

    judged = evaluations.seal_all(store, new_key, old_key)
    counts["evaluation_files"] = (
        judged["evaluation_files_sealed"] + judged["evaluation_files_rotated"]
    )
    print(
        f"数据仓 {store.root}：新加密 {counts['sealed']} 个文件，重新加密 {counts['rotated']} 个，"
        f"已是该密钥 {counts['already']} 个（其中佐证材料 {counts.get('evidence', 0)} 个）；"
        f"简报存档文件 {counts['briefing_files']} 个；预警提醒和督办函 {counts['notice_files']} 个；"
        f"整改成效评估存档文件 {counts['evaluation_files']} 个；"
        f"删除预备的查询沙箱 {counts['sandboxes']} 个（用时重建）"
    )
    try:
        audit.record(
            store.root,
            user=args.user or _user(),
            action=action,
            source="cli",
            key_id=crypto.key_id(new_key),
            old_key_id=None if old_key is None else crypto.key_id(old_key),
            **counts,
        )
    except audit.AuditError as exc:
        raise UserError(f"已完成，但审计记录写入失败：{exc}") from None
    return 0


def cmd_key_seal(args: argparse.Namespace) -> int:
    key = Store(args.db).key()
    if key is None:
        raise UserError(
            f"未设置数据仓密钥：请先生成密钥文件（xuncha key new FILE）并设置 {crypto.ENV_KEY_FILE}"
        )
    return _seal_files(args, key, None)


def cmd_key_rotate(args: argparse.Namespace) -> int:
    store = Store(args.db)
    old = store.key()
    if old is None:
        raise UserError(
            f"轮换密钥须由 {crypto.ENV_KEY_FILE} 或 {crypto.ENV_KEY} 提供原密钥；"
            f"数据仓尚未加密时请用 xuncha key seal"
        )
    try:
        new = crypto.read_key_file(Path(args.new_key_file), store.root)
    except crypto.CryptoError as exc:
        raise UserError(str(exc)) from None
    if new == old:
        raise UserError("新密钥与原密钥相同，无需轮换")
    _seal_files(args, new, old)
    print(
        f"请停止并以新密钥重新启动驾驶舱与各项任务：{crypto.ENV_KEY_FILE}="
        f"{Path(args.new_key_file).resolve()}；原密钥须保留，直到用它加密的备份都已不再需要"
    )
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    info = store_backup.backup(args.db, args.out, all_versions=args.all_versions)
    # A backup is an export of everything: recorded like one (after it, so the archive holds
    # the trail as it was when it was taken).
    audit.record(
        args.db,
        user=_user(),
        action="backup",
        archive=str(info.path.resolve()),
        archive_sha256=info.sha256,
        data_version=info.data_version,
        versions=info.versions,
        files=info.files,
        bytes=info.bytes,
    )
    if args.format == "json":
        print(json.dumps(info.as_json(), ensure_ascii=False))
        return 0
    versions = "、".join(str(v) for v in info.versions)
    print(
        f"已备份数据仓 {info.store}（当前数据版本 {info.data_version}，含版本 {versions}）"
        f"到 {info.path}：{info.files} 个文件，{info.archive_bytes / 1e6:.1f} MB，"
        f"用时 {info.seconds:.2f} 秒"
    )
    print(f"  SHA-256 {info.sha256}")
    if info.audit_head is None:
        print("  尚无审计记录")
    else:
        print(f"  审计记录 {info.audit_head[0]} 条，末条哈希 {info.audit_head[1]}")
    for name in info.skipped:
        print(f"  未备份（链接或特殊文件）：{name}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    info = store_backup.restore(args.file, args.db, user=args.user or _user(), force=args.force)
    if args.format == "json":
        print(json.dumps(info.as_json(), ensure_ascii=False))
        return 0
    print(
        f"已从 {info.archive} 恢复数据仓 {info.store}（数据版本 {info.data_version}，"
        f"备份于 {info.backup_created}）：{info.files} 个文件均与清单一致，"
        f"用时 {info.seconds:.2f} 秒"
    )
    seq, digest = info.audit_head
    print(f"  审计记录核验通过，已记入本次恢复：共 {seq} 条，末条哈希 {digest}")
    if info.replaced is not None:
        print(f"  原数据仓已改名保留：{info.replaced}")
    return 0


def cmd_ecology(args: argparse.Namespace) -> int:
    try:
        config = (
            figures.EcologyConfig.load(args.config)
            if args.config
            else figures.config_for_store(args.db)
        )
    except figures.EcologyConfigError as exc:
        raise UserError(str(exc)) from None
    who = _access(args.db, args.user, VIEW_PAGES)
    fmt = args.format or ("text" if args.distribution else "json")
    if fmt not in (("text", "json") if args.distribution else ("json", "csv")):
        raise UserError(
            "--distribution 的输出格式为 text 或 json"
            if args.distribution
            else "评分的输出格式为 json 或 csv（text 仅用于 --distribution）"
        )
    reader = _reader(args.db)
    try:
        filters = filters_from_names(reader, rounds=args.round, as_of=args.as_of, access=who)
        scope = resolve_scope(reader, filters, access=who)
        if args.distribution:
            return _print_distribution(args, who, reader, filters, scope, config, fmt)
        cards = figures.scorecards(reader, scope, config)
    finally:
        reader.close()
    if cards.units.is_empty():
        raise UserError(f"截至 {scope.as_of.isoformat()}，所选范围内没有已反馈的巡察")
    if fmt == "json":
        payload = {
            "label": figures.ECOLOGY_LABEL,
            "as_of": scope.as_of.isoformat(),
            "rounds": args.round,  # empty: every round
            "method": figures.ECOLOGY_METHOD,
            "period_rule": periods.rule_for_store(args.db).describe(),
            "config": {
                "digest": config.digest(),
                "source": config.source,
                "values": config.scoring_values(),
            },
            "units": disclosure.mask_clue_indicators(
                cards.records(), clue_details=who.can(CLUE_DETAILS)
            ),
        }
        text = json.dumps(payload, ensure_ascii=False, default=_json_default) + "\n"
        columns = list(payload["units"][0]) if payload["units"] else []
    else:
        # Without clue rights no raw value or n of a clue indicator (disclosure control).
        table = figures.scorecard_table(cards, clue_details=who.can(CLUE_DETAILS))
        table = export.neutralise_text_columns(table)
        buffer = io.StringIO()
        table.write_csv(buffer)
        text, columns = buffer.getvalue(), table.columns
    _print_recorded(
        args.db,
        who,
        "ecology",
        filters,
        text,
        columns=columns,
        rows=cards.units.height,
        fmt=fmt,
        config_digest=config.digest(),
        config_source=config.source,
    )
    return 0


def _print_distribution(
    args: argparse.Namespace,
    who: Access,
    reader: Reader,
    filters: Filters,
    scope: Scope,
    config: figures.EcologyConfig,
    fmt: str,
) -> int:
    """`xuncha ecology --distribution`: grades per round and their stability (研判参考)."""
    from xuncha.figures import ecology_stability

    result = ecology_stability.distribution(
        reader, scope, config, clue_details=who.can(CLUE_DETAILS)
    )
    if not result["rounds"]:
        raise UserError(f"截至 {scope.as_of.isoformat()}，所选范围内没有已反馈的巡察")
    if fmt == "json":
        payload = {
            "label": figures.ECOLOGY_LABEL,
            "method": figures.ECOLOGY_METHOD,
            "period_rule": periods.rule_for_store(args.db).describe(),
            **result,
        }
        text = json.dumps(payload, ensure_ascii=False, default=_json_default) + "\n"
    else:
        text = ecology_stability.distribution_text(result)
    _print_recorded(
        args.db,
        who,
        "ecology_distribution",
        filters,
        text,
        columns=["round", "status", "grades", "moves"],
        rows=len(result["rounds"]),
        fmt=fmt,
        config_digest=config.digest(),
        config_source=config.source,
    )
    return 0


def cmd_briefing(args: argparse.Namespace) -> int:
    from xuncha import briefing

    store = Store(args.db)
    who = _access(args.db, args.user, BRIEFING)
    user = who.user
    if args.list:
        kept = briefing.archive.list_briefings(store, user=briefing.archive_owner(who))
        if args.format == "json":
            print(json.dumps(kept, ensure_ascii=False))
        else:
            for item in kept:
                state = "已定稿" if item["final"] else "草稿"
                print(
                    f"{item['briefing_id']}  {item['title']}  截至 {item['as_of']}  "
                    f"数据版本 {item['data_version']}  {item['user']}  {state}"
                )
        return 0
    if args.regenerate:
        try:
            again, same = briefing.regenerate_as(store, args.regenerate, who)
        except briefing.archive.ArchiveError as exc:
            raise UserError(str(exc)) from None
        result: dict[str, Any] = {"briefing_id": args.regenerate, "identical": same}
        written: dict[str, Any] = {}
        if args.out:
            written = _write_briefing(again, args.out, pdf=args.pdf)
            result |= written
        audit.record(
            store.root,
            user=user,
            action="briefing",
            step="regenerate",
            briefing_id=args.regenerate,
            identical=same,
            out=args.out,
            docx_sha256=_file_sha256(written.get("docx")),
            pdf_sha256=_file_sha256(written.get("pdf")),
            source="cli",
        )
        _print_result(result, args.format, "重新生成的内容与存档一致" if same else "不一致")
        return 0 if same else 1
    if not args.round:
        raise UserError("请用 --round 指定轮次（可重复指定连续的多个轮次）")
    if not args.out:
        raise UserError("请用 --out 指定输出的 .docx 文件")
    try:
        config = (
            figures.EcologyConfig.load(args.config)
            if args.config
            else figures.config_for_store(args.db)
        )
    except figures.EcologyConfigError as exc:
        raise UserError(str(exc)) from None
    suggestions: tuple[str, ...] = ()
    if args.suggestions:
        text = Path(args.suggestions).read_text(encoding="utf-8")
        suggestions = tuple(p.strip() for p in text.split("\n\n") if p.strip())
    reader = _reader(args.db)
    try:
        filters = filters_from_names(
            reader, rounds=args.round, units=args.unit, as_of=args.as_of, access=who
        )
        request = briefing.BriefingRequest(
            filters=filters,
            title=args.title,
            issuer=args.issuer,
            suggestions=suggestions,
            ecology_config=config,
        )
        try:
            brief_id, draft = briefing.generate(
                store,
                reader,
                request,
                _resolver(who)(reader),
                user=user,
                scope_text=describe_in_names(reader, filters),
                access=who,
            )
        except briefing.BriefingError as exc:
            raise UserError(str(exc)) from None
    finally:
        reader.close()
    docx_bytes, pdf_bytes, note = briefing.finalise(store, brief_id, draft, user=user, pdf=args.pdf)
    result = {"briefing_id": brief_id, "data_version": draft.meta.get("data_version")}
    result |= _write_briefing_bytes(docx_bytes, pdf_bytes, args.out)
    if note:
        result["note"] = note
    _print_result(result, args.format, f"简报 {brief_id} 已生成并存档")
    return 0


def cmd_notices(args: argparse.Namespace) -> int:
    from xuncha.ledger.workdays import CalendarError
    from xuncha.rectify import notices

    on = parse_date(args.date) or dt.date.today()
    try:
        run = notices.issue_notices(Store(args.db), on, user=notices.SYSTEM_USER, send=args.send)
    except (notices.NoticeConfigError, CalendarError) as exc:
        # A configuration the administrator must fix: exit 2, so a timer's failure says so.
        print(f"xuncha: {exc}；未发出任何文书", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(run.as_json(), ensure_ascii=False, default=_json_default))
        return 0
    print(run.summary())
    for notice in run.issued:
        colours = "、".join(
            f"{c} {n}"
            for c in notices.NOTICE_COLOURS
            if (n := sum(1 for i in notice.items if i.colour == c))
        )
        print(
            f"  {notice.doc_number}  {notice.kind}  {notice.unit_name}："
            f"措施 {len(notice.items)} 条（{colours}）"
        )
        people = "、".join(r.label() for r in notice.recipients) or "（无具名收件人）"
        print(f"    收件人：{people}")
        print(f"    文件：{notice.path}")
    for delivery in run.deliveries:
        ok = bool(getattr(delivery, "ok", False))
        mark = "已发送" if ok else f"未发送（{getattr(delivery, 'error', None) or '原因不明'}）"
        print(
            f"  {getattr(delivery, 'doc_number', '')} → {getattr(delivery, 'name', '')} "
            f"<{getattr(delivery, 'email', None) or '无邮箱'}>：{mark}"
        )
    if run.mail_note:
        print(run.mail_note)
    return 0


def cmd_contacts_import(args: argparse.Namespace) -> int:
    from xuncha.rectify import contacts

    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"文件不存在：{path}")
    who = _access(args.db, args.user, IMPORT)
    try:
        outcome = contacts.import_contacts(Store(args.db), path, user=who.user, source="cli")
    except contacts.ContactsRefused as exc:
        print(
            f"xuncha: 通讯录 {path.name} 有 {len(exc.problems)} 处问题，未导入：", file=sys.stderr
        )
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(outcome.summary())
    for warning in outcome.warnings:
        print(f"  提示：{warning}")
    return 0


def cmd_contacts_list(args: argparse.Namespace) -> int:
    from xuncha.rectify import contacts

    who = _access(args.db, args.user, IMPORT)
    reader = _reader(args.db)
    try:
        frame = contacts.list_contacts(reader)
    finally:
        reader.close()
    columns = ["unit_name", "position", "name", "email", "account"]
    shown = frame.select(columns)
    if args.json:
        text = json.dumps(shown.to_dicts(), ensure_ascii=False) + "\n"
    else:
        lines = [] if shown.height else ["通讯录为空（可用 xuncha contacts import 导入）"]
        for row in shown.iter_rows(named=True):
            unit = row["unit_name"] or "巡察办"
            email = row["email"] or "（无邮箱）"
            account = f"  账号 {row['account']}" if row["account"] else ""
            lines.append(f"{unit}  {row['position']}  {row['name']}  {email}{account}")
        text = "\n".join(lines) + "\n"
    _print_recorded(
        args.db,
        who,
        "contacts list",
        Filters(),
        text,
        columns=columns,
        rows=shown.height,
        fmt="json" if args.json else "text",
    )
    return 0


def cmd_contacts_template(args: argparse.Namespace) -> int:
    from xuncha.rectify import contacts

    target = Path(args.out)
    if target.exists() and not args.force:
        raise UserError(f"文件已存在：{target}（加 --force 覆盖）")
    units: list[str] = []
    if args.db is not None:
        reader = _reader(args.db)
        try:
            units = [str(n) for n in reader.query("units_list")["name"].to_list()]
        finally:
            reader.close()
    target.write_bytes(contacts.contacts_template_xlsx(units))
    print(f"已生成通讯录模板 {target}" + (f"（附单位 {len(units)} 个）" if units else ""))
    return 0


def cmd_revisit(args: argparse.Namespace) -> int:
    from xuncha import evaluation as effect
    from xuncha.figures import revisit_export
    from xuncha.figures.periods import PeriodConfigError
    from xuncha.figures.revisit import evaluation_note, revisit_candidates
    from xuncha.figures.revisit_rule import RevisitRule, RevisitRuleError

    if args.top is not None and args.top < 1:
        raise UserError("--top 须为正整数")
    if args.out is not None and not args.out.lower().endswith(".xlsx"):
        raise UserError("--out 须为 .xlsx 文件")
    try:
        rule = RevisitRule.for_store(args.db, args.rule)
    except (RevisitRuleError, figures.EcologyConfigError) as exc:
        raise UserError(str(exc)) from None
    who, reader, filters, scope = _scoped(args)
    if args.out is not None and not who.can(EXPORT):
        raise UserError(f"{who.user}：当前账号无导出权限")
    try:
        evaluation = effect.grades(reader, scope)
        candidates = revisit_candidates(reader, scope, rule, evaluation=evaluation)
        scope_text = describe_in_names(reader, filters)
    except PeriodConfigError as exc:
        raise UserError(str(exc)) from None
    finally:
        reader.close()
    if args.top is not None:
        candidates = candidates.head(args.top)
    note = evaluation_note(evaluation)
    notes = (note,) if note else ()
    if args.out is not None:
        data = revisit_export.workbook(
            candidates,
            rule_lines=rule.describe(),
            scope=scope_text,
            as_of=scope.as_of,
            user=who.user,
            notes=notes,
        )
        _export_file(
            args.db,
            who,
            "cli revisit",
            Path(args.out),
            data,
            filters=filters.to_url(),
            rows=candidates.height,
            rule_digest=rule.digest(),
        )
    if args.format == "json":
        payload = {
            "as_of": scope.as_of.isoformat(),
            "scope": scope_text,
            "rule": {"source": rule.source, "digest": rule.digest(), "text": rule.describe()},
            "evaluation": note is None,
            "notes": list(notes),
            "units": candidates.to_dicts(),
        }
        text = json.dumps(payload, ensure_ascii=False, default=_json_default) + "\n"
        columns = list(candidates.columns)
    else:
        table = export.neutralise_text_columns(revisit_export.candidate_table(candidates))
        buffer = io.StringIO()
        table.write_csv(buffer)
        text, columns = buffer.getvalue(), table.columns
    _print_recorded(
        args.db,
        who,
        "revisit",
        filters,
        text,
        columns=columns,
        rows=candidates.height,
        fmt=args.format,
        rule_digest=rule.digest(),
    )
    return 0


def _resolver(who: Access) -> Callable[[Reader], Callable[[Filters], Scope]]:
    """Scope resolution with `who`'s access, for any reader (briefings resolve on the
    pinned data version when they are drafted again)."""

    def on(reader: Reader) -> Callable[[Filters], Scope]:
        def resolve(filters: Filters) -> Scope:
            return resolve_scope(reader, filters, access=who)

        return resolve

    return on


def _export_file(
    db: str, who: Access, source: str, path: Path, data: bytes, **details: Any
) -> None:
    """A command's export to a file: its audit record (who, the file, its SHA-256 and size,
    `details`) first, so no file leaves unrecorded, then the file, its folder made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    audit.record(
        db,
        user=who.user,
        action="export",
        source=source,
        file=str(path.resolve()),
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
        **details,
    )
    path.write_bytes(data)


def _print_recorded(
    db: str,
    who: Access,
    command: str,
    filters: Filters,
    data: str | bytes,
    *,
    columns: Sequence[str],
    rows: int,
    fmt: str,
    **details: Any,
) -> None:
    """Record what a command prints, with the SHA-256 of the very bytes and their columns,
    then print them: nothing is printed unless its record was written."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    audit.record(
        db,
        user=who.user,
        action="cli_query",
        command=command,
        filters=filters.to_url(),
        rows=rows,
        format=fmt,
        columns=list(columns),
        sha256=hashlib.sha256(raw).hexdigest(),
        bytes=len(raw),
        **details,
    )
    _write_stdout(raw)


def _write_stdout(raw: bytes) -> None:
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(raw.decode("utf-8"))
    else:
        buffer.write(raw)
        buffer.flush()


def _access(db: str, user: str | None, permission: str) -> Access:
    """Who the command acts as (auth.command_access); a refusal in one line."""
    try:
        return command_access(db, user, permission, login=_user())
    except PermissionDenied as exc:
        raise UserError(f"{user}：{exc}") from None


def _write_briefing(again: Any, out: str, *, pdf: bool) -> dict[str, Any]:
    from xuncha import briefing

    data, pdf_bytes, _ = briefing.render_files(again, pdf=pdf)
    return _write_briefing_bytes(data, pdf_bytes, out)


def _write_briefing_bytes(docx_bytes: bytes, pdf_bytes: bytes | None, out: str) -> dict[str, Any]:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(docx_bytes)
    written: dict[str, Any] = {"docx": str(path)}
    if pdf_bytes is not None:
        path.with_suffix(".pdf").write_bytes(pdf_bytes)
        written["pdf"] = str(path.with_suffix(".pdf"))
    return written


def _file_sha256(path: str | None) -> str | None:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None


def _print_result(result: dict[str, Any], fmt: str, headline: str) -> None:
    if fmt == "json":
        print(json.dumps(result, ensure_ascii=False, default=_json_default))
    else:
        print(headline)
        for key, value in result.items():
            print(f"  {key}: {value}")


# -- helpers -----------------------------------------------------------------------------


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "system"


def _reader(db: str) -> Reader:
    return open_reader(Store(db))


def _sql_json_default(value: Any) -> Any:
    """JSON for any value a query can return: whole decimals (sum() of integers is HUGEINT,
    a DECIMAL(38, 0) in Arrow) as integers, other decimals as exact text."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0:
            return int(value)
        return format(value, "f")
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


# -- 整改成效评估 ----------------------------------------------------------------------------


def _add_evaluation_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluation",
        help="整改成效评估：各单位各轮次的得分、等次（查看、录入人工评分项、确认、存档）",
    )
    ev_sub = p.add_subparsers(dest="evaluation_command", required=True)
    for name, text in (("show", "查看评估结果"), ("compute", "计算评估结果（同 show）")):
        q = ev_sub.add_parser(name, help=text)
        q.add_argument("--db", default=DEFAULT_DB)
        q.add_argument("--round", action="append", default=[], help="轮次名称（可重复；默认全部）")
        q.add_argument("--as-of", dest="as_of", default=None, help="评估截至日期 YYYY-MM-DD")
        q.add_argument("--config", default=None, help="评估配置文件 .toml（默认：数据仓的配置）")
        q.add_argument("--format", choices=("json", "csv"), default="json")
        q.add_argument("--user", default=None, help=USER_HELP)
        q.set_defaults(func=cmd_evaluation_show)
    q = ev_sub.add_parser("enter", help="录入人工评分项或一票否决项（须附佐证材料，待另一人确认）")
    q.add_argument("--db", default=DEFAULT_DB)
    q.add_argument("--round", required=True, help="轮次名称")
    q.add_argument("--unit", required=True, help="单位名称或简称")
    q.add_argument("--item", required=True, help="评分项的键，如 satisfaction、false_rectification")
    q.add_argument("--value", required=True, type=float, help="分值；一票否决项 1 成立、0 不成立")
    q.add_argument("--note", required=True, help="评分依据")
    q.add_argument("--file", action="append", default=[], help="佐证材料文件（可重复，至少一个）")
    q.add_argument("--user", default=None, help=PROVEN_USER_HELP)
    q.set_defaults(func=cmd_evaluation_enter)
    q = ev_sub.add_parser("confirm", help="确认或退回另一人的录入（不能是录入人本人）")
    q.add_argument("entry_id", type=int, metavar="ENTRY_ID", help="录入编号")
    q.add_argument("--db", default=DEFAULT_DB)
    q.add_argument("--reject", action="store_true", help="退回（须给出 --reason）")
    q.add_argument("--reason", default=None, help="退回理由")
    q.add_argument("--user", default=None, help=PROVEN_USER_HELP)
    q.set_defaults(func=cmd_evaluation_confirm)
    q = ev_sub.add_parser(
        "archive",
        help="存档一轮的评估结果（本账号范围内该轮全部单位；.xlsx 和 JSON，记录数据版本和配置）",
    )
    q.add_argument("--db", default=DEFAULT_DB)
    q.add_argument("--round", required=True, help="轮次名称")
    q.add_argument("--as-of", dest="as_of", default=None, help="评估截至日期 YYYY-MM-DD")
    q.add_argument("--user", default=None, help=USER_HELP)
    q.set_defaults(func=cmd_evaluation_archive)
    q = ev_sub.add_parser("archives", help="列出本账号可查看的评估存档")
    q.add_argument("--db", default=DEFAULT_DB)
    q.add_argument("--format", choices=("json", "csv"), default="json")
    q.add_argument("--user", default=None, help=USER_HELP)
    q.set_defaults(func=cmd_evaluation_archives)
    q = ev_sub.add_parser("archive-get", help="取出一份评估存档的 .xlsx")
    q.add_argument(
        "archive_id", metavar="ARCHIVE_ID", help="存档编号（见 xuncha evaluation archives）"
    )
    q.add_argument("--db", default=DEFAULT_DB)
    q.add_argument("--out", required=True, help="写入的文件 .xlsx")
    q.add_argument("--user", default=None, help=USER_HELP)
    q.set_defaults(func=cmd_evaluation_archive_get)


PROVEN_USER_HELP = "以哪个账号办理（数据仓有用户时必填）；密码在终端提示输入，或由标准输入给出一行"


def _proven_access(db: str, user: str | None, permission: str) -> Access:
    """The account a write command acts as, proven by its password when the store has users
    (a name alone would let one person act as two): --user is required, its password read
    with getpass on a terminal or as one line of standard input, and checked by
    UserStore.authenticate (the login's own check, lockout and audit record included).
    Without users the command acts as the system, as every command does."""
    store = Store(db)
    known = UserStore(db)
    if not (store.exists() and known.has_users()):
        return _access(db, user, permission)
    if not user:
        raise UserError("数据仓已设用户：请用 --user 指明办理人的账号，并输入其密码")
    password = _command_password()
    result = known.authenticate(user, password, client="命令行")
    if not result.ok:
        raise UserError(f"{user}：{result.reason}；未做任何更改")
    return _access(db, user, permission)


def _command_password() -> str:
    stream = sys.stdin
    if stream is not None and not stream.closed and stream.isatty():
        password = getpass.getpass("密码：")
    else:
        try:
            password = auth_cli.read_password() or ""
        except AuthError as exc:
            raise UserError(str(exc)) from None
    if not password:
        raise UserError("请输入密码（终端提示输入，或由标准输入给出一行）；未做任何更改")
    return password


def _os_context() -> dict[str, Any]:
    """Who ran a write command, as the operating system knows them (for the audit record)."""
    return {"os_user": _user(), "source": "cli"}


def _evaluation_config(db: str, path: str | None) -> Any:
    from xuncha import evaluation

    try:
        return evaluation.EvaluationConfig.load(path) if path else evaluation.config_for_store(db)
    except evaluation.EvaluationConfigError as exc:
        raise UserError(str(exc)) from None


def cmd_evaluation_show(args: argparse.Namespace) -> int:
    from xuncha import evaluation
    from xuncha.evaluation.tables import results_table

    config = _evaluation_config(args.db, args.config)
    who = _access(args.db, args.user, VIEW_PAGES)
    reader = _reader(args.db)
    try:
        filters = filters_from_names(reader, rounds=args.round, as_of=args.as_of, access=who)
        scope = resolve_scope(reader, filters, access=who)
        result = evaluation.evaluate(reader, scope, config)
    finally:
        reader.close()
    if result.units.is_empty():
        raise UserError(f"截至 {scope.as_of.isoformat()}，所选范围内没有已反馈的巡察")
    if args.format == "json":
        payload = {
            "label": evaluation.LABEL,
            "as_of": scope.as_of.isoformat(),
            "data_version": result.data_version,
            "config": {"digest": config.digest(), "source": config.source},
            "units": result.units.to_dicts(),
            "items": result.items.to_dicts(),
        }
        text: str | bytes = json.dumps(payload, ensure_ascii=False, default=_json_default) + "\n"
        columns = list(result.units.columns)
    else:
        table = results_table(result)
        text, columns = export.to_csv(table), table.columns
    _print_recorded(
        args.db,
        who,
        "evaluation",
        filters,
        text,
        columns=columns,
        rows=result.units.height,
        fmt=args.format,
        config_digest=config.digest(),
    )
    return 0


def _evaluation_target(db: str, who: Access, round_name: str, unit: str | None) -> dict[str, Any]:
    """The inspection of that round (and unit) in `who`'s scope, named in Chinese."""
    reader = _reader(db)
    try:
        filters = filters_from_names(
            reader, rounds=[round_name], units=[unit] if unit else [], access=who
        )
        scope = resolve_scope(reader, filters, access=who)
        rows = reader.query(
            "evaluation_inspections", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
        )
    finally:
        reader.close()
    if rows.is_empty():
        raise UserError(f"{round_name}{'的' + unit if unit else ''}不在范围内或尚未反馈")
    return rows.row(0, named=True)


def cmd_evaluation_enter(args: argparse.Namespace) -> int:
    from xuncha.auth.access import EVALUATE
    from xuncha.evaluation import entries
    from xuncha.rectify import evidence, workflow

    who = _proven_access(args.db, args.user, EVALUATE)
    config = _evaluation_config(args.db, None)
    target = _evaluation_target(args.db, who, args.round, args.unit)
    files = []
    for path in args.file:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise UserError(f"无法读取佐证材料 {path}（{exc.strerror}）") from None
        try:
            files.append(evidence.check_evidence(Path(path).name, data))
        except evidence.RefusedEvidence as exc:
            raise UserError(str(exc)) from None
    try:
        outcome = entries.enter(
            Store(args.db),
            who,
            int(target["inspection_id"]),
            args.item,
            args.value,
            args.note,
            files,
            config=config,
            context=_os_context(),
        )
    except workflow.WorkflowError as exc:
        raise UserError(str(exc)) from None
    return _print_entry_step(outcome.step_ids[0], outcome)


def _print_entry_step(entry_id: int, outcome: Any) -> int:
    """One line of JSON for an evaluation entry's step: its id, the new data version and what
    was done."""
    step = {"entry_id": entry_id, "data_version": outcome.version, "message": outcome.message}
    print(json.dumps(step, ensure_ascii=False))
    return 0


def cmd_evaluation_confirm(args: argparse.Namespace) -> int:
    from xuncha.auth.access import EVALUATE
    from xuncha.evaluation import entries
    from xuncha.rectify import workflow

    who = _proven_access(args.db, args.user, EVALUATE)
    try:
        outcome = entries.decide(
            Store(args.db),
            who,
            args.entry_id,
            "reject" if args.reject else "confirm",
            reason=args.reason,
            context=_os_context(),
        )
    except workflow.WorkflowError as exc:
        raise UserError(str(exc)) from None
    return _print_entry_step(args.entry_id, outcome)


def cmd_evaluation_archive(args: argparse.Namespace) -> int:
    from xuncha.auth.access import EVALUATE
    from xuncha.evaluation import archive

    who = _access(args.db, args.user, EVALUATE)
    config = _evaluation_config(args.db, None)
    store = Store(args.db)
    reader = _reader(args.db)
    try:
        filters = filters_from_names(reader, rounds=[args.round], as_of=args.as_of, access=who)
        round_id = filters.round_from
        rounds = reader.query("rounds_list").filter(pl.col("seq") == round_id)["round_id"]
        if rounds.is_empty():
            raise UserError(f"没有这个轮次：{args.round}")
        # The whole round within the account's own scope (archive.evaluate_round).
        archive_id, record = archive.save(
            store,
            reader,
            int(rounds[0]),
            who,
            as_of=filters.effective_as_of(),
            config=config,
        )
    except archive.ArchiveError as exc:
        raise UserError(str(exc)) from None
    finally:
        reader.close()
    print(
        json.dumps(
            {
                "archive_id": archive_id,
                "round": record["round_name"],
                "data_version": record["data_version"],
                "covers": record["covers"]["text"],
                "config": record["config"]["source"],
                "folder": str(Path(store.root) / archive.FOLDER / archive_id),
            },
            ensure_ascii=False,
        )
    )
    return 0


def cmd_evaluation_archives(args: argparse.Namespace) -> int:
    from xuncha.evaluation import archive, tables

    who = _access(args.db, args.user, VIEW_PAGES)
    try:
        listed = archive.list_archives(Store(args.db), who)
    except archive.ArchiveError as exc:
        raise UserError(str(exc)) from None
    if args.format == "json":
        text: str | bytes = json.dumps(listed, ensure_ascii=False) + "\n"
        columns = list(tables.ARCHIVE_COLUMNS)
    else:
        schema = dict.fromkeys(tables.ARCHIVE_COLUMNS, pl.String) | {
            "data_version": pl.Int64,
            "units": pl.Int64,
        }
        table = pl.DataFrame(listed, schema=schema).select(
            *(pl.col(k).alias(v) for k, v in tables.ARCHIVE_COLUMNS.items())
        )
        text, columns = export.to_csv(table), table.columns
    _print_recorded(
        args.db,
        who,
        "evaluation archives",
        Filters(),
        text,
        columns=columns,
        rows=len(listed),
        fmt=args.format,
    )
    return 0


def cmd_evaluation_archive_get(args: argparse.Namespace) -> int:
    from xuncha.evaluation import archive

    who = _access(args.db, args.user, VIEW_PAGES)
    try:
        record, xlsx = archive.load(Store(args.db), args.archive_id, who)
    except archive.ArchiveError as exc:
        raise UserError(str(exc)) from None
    path = Path(args.out)
    _export_file(
        args.db,
        who,
        "cli evaluation archive-get",
        path,
        xlsx,
        archive_id=args.archive_id,
        round_id=record["round_id"],
        data_version=record["data_version"],
    )
    print(
        json.dumps(
            {"archive_id": args.archive_id, "round": record["round_name"], "out": str(path)},
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
