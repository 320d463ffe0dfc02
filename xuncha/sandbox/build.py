"""Building a sandbox database: only the rows a scope may see, read-only, configuration locked.

Why a file and not `:memory:`:

- DuckDB 2.0 types `WITH x AS (DELETE FROM findings RETURNING *) SELECT …` as SELECT and runs
  it, so no statement check keeps user SQL from writing. A database opened READ_ONLY refuses
  every write whatever the parser said.
- The scoped copy of a 1,000,000-finding store is 2.1 GiB as in-memory tables but about
  230 MB as a compressed file, whose pages the buffer manager can drop and reread: the memory
  limit then bounds queries, not the data.
- The instance that runs user SQL never attaches the store: a separate builder connection copies
  the rows, so the store's path is in no catalog, setting or error the user can reach.

The file is written to a fresh 0700 directory (XUNCHA_SANDBOX_TMP, else the system temp
directory), opened as a plain descriptor by the dashboard, then unlinked at once: nothing is
left on disk once the descriptor closes or the process dies, and nobody can open it by name.
User SQL never runs in the dashboard's process: query processes (pool.py, worker.py) receive
the descriptor, open the file read-only with `lockdown()`'s options, disable the local file
system for the instance and lock the configuration, then read every setting back.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from xuncha.filters import Scope
from xuncha.sandbox.errors import SandboxError
from xuncha.sandbox.statements import MAX_SQL_CHARS
from xuncha.store import Store, crypto
from xuncha.store import sql as store_sql

_LOG = logging.getLogger("xuncha")
CATALOG = "xuncha"  # the sandbox database's name, as the user sees it in duckdb_databases()
_SOURCE = "xuncha_src"
_DIR_PREFIX = "xuncha-sandbox-"
_STALE_SECONDS = 3600
# A directory that does not exist, for settings that otherwise name the server's home folder.
NOWHERE = "/nonexistent/xuncha-sandbox"

DEFAULT_MEMORY_LIMIT = "1GB"
DEFAULT_TIMEOUT = 15.0
DEFAULT_THREADS = 2
BUILD_MEMORY_LIMIT = "2GB"  # the builder copies rows; it never runs user SQL


@dataclass(frozen=True)
class SandboxLimits:
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    timeout: float = DEFAULT_TIMEOUT  # seconds
    threads: int = DEFAULT_THREADS
    max_sql_chars: int = MAX_SQL_CHARS

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError("timeout must be positive")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.max_sql_chars < 1:
            raise ValueError("max_sql_chars must be positive")

    @property
    def backstop_ms(self) -> int:
        """DuckDB's own max_execution_time: a second wall behind the interrupting timer."""
        return int(self.timeout * 1000) + 2000


@dataclass(frozen=True)
class SandboxScope:
    """What a sandbox holds: inspections, narrowed by categories as the shared filters do."""

    inspection_ids: tuple[int, ...]
    category_l1: tuple[str, ...] = ()
    category_l2: tuple[str, ...] = ()

    @classmethod
    def of(cls, scope: Scope | SandboxScope | Iterable[int]) -> SandboxScope:
        if isinstance(scope, SandboxScope):
            return scope
        if isinstance(scope, Scope):
            return cls(
                tuple(sorted({int(i) for i in scope.inspection_ids})),
                tuple(sorted(set(scope.category_l1 or ()))),
                tuple(sorted(set(scope.category_l2 or ()))),
            )
        if scope is None or isinstance(scope, str | bytes):
            raise TypeError("a sandbox needs a scope: a Scope or a list of inspection_ids")
        return cls(tuple(sorted({int(i) for i in scope})))

    @property
    def digest(self) -> str:
        canonical = json.dumps(
            {
                "inspection_ids": list(self.inspection_ids),
                "category_l1": list(self.category_l1),
                "category_l2": list(self.category_l2),
            },
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# Every setting the sandbox instance runs with, why, and how DuckDB 2.0 shows it once set.
# `stage` "connect": given to duckdb.connect (a Python-client setting such as
# python_enable_replacements only reaches every cursor this way); "global": SET GLOBAL after
# the file is open, in this order (once external access is off, paths can no longer change).
# `shown` is the value duckdb_settings() must report afterwards (None: proved by tests only).
@dataclass(frozen=True)
class Setting:
    name: str
    stage: str
    why: str
    shown: str | None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "access_mode",
        "connect",
        "整个沙箱库只读：任何写入（包括 WITH 中的 DELETE）都被拒绝",
        "read_only",
    ),
    Setting("autoinstall_known_extensions", "connect", "不自动下载扩展", "false"),
    Setting("autoload_known_extensions", "connect", "不自动加载扩展", "false"),
    Setting("allow_community_extensions", "connect", "不允许社区扩展", "false"),
    Setting("allow_unsigned_extensions", "connect", "不允许未签名扩展", "false"),
    Setting("allow_persistent_secrets", "connect", "不读写持久化密钥", "false"),
    Setting(
        "python_enable_replacements", "connect", "SQL 看不到 Python 变量（替换扫描关闭）", "false"
    ),
    Setting("python_scan_all_frames", "connect", "替换扫描不查找调用栈", "false"),
    Setting("enable_external_file_cache", "connect", "不缓存外部文件", "false"),
    Setting("temp_directory", "connect", "没有可写的临时目录：超出内存即报错，不落盘", ""),
    Setting("max_temp_directory_size", "connect", "临时文件上限为 0", "0 bytes"),
    Setting("secret_directory", "connect", "不指向服务器用户的主目录", NOWHERE),
    Setting("extension_directory", "connect", "不指向服务器用户的主目录", None),
    Setting("home_directory", "connect", "主目录为空", ""),
    Setting("memory_limit", "connect", "内存上限（默认 1GB，可配置）", None),
    Setting("threads", "connect", "线程数（默认 2）", None),
    Setting("max_execution_time", "connect", "引擎自身的执行时限：计时中断之外的第二道防线", None),
    Setting(
        "enable_external_access", "global", "不读写文件、不访问网络、不挂载、不装扩展", "false"
    ),
    Setting(
        "disabled_filesystems", "global", "禁用本地文件系统（连沙箱库自身的文件名也读不到）", None
    ),
    Setting(
        "lock_configuration", "global", "锁定全部设置：SET/RESET 及改设置的表函数都失败", "true"
    ),
)


def connect_config(limits: SandboxLimits) -> dict[str, Any]:
    return {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "allow_persistent_secrets": False,
        "python_enable_replacements": False,
        "python_scan_all_frames": False,
        "enable_external_file_cache": False,
        "temp_directory": "",
        "max_temp_directory_size": "0B",
        "secret_directory": NOWHERE,
        "extension_directory": NOWHERE,
        "home_directory": "",
        "memory_limit": limits.memory_limit,
        "threads": limits.threads,
        "max_execution_time": limits.backstop_ms,
    }


_GLOBAL_SETS = (
    "SET GLOBAL enable_external_access = false",
    "SET GLOBAL disabled_filesystems = 'LocalFileSystem'",
    "SET GLOBAL lock_configuration = true",
)


def expected_settings(limits: SandboxLimits) -> dict[str, str]:
    """What duckdb_settings() must show once the sandbox is open (else it fails closed)."""
    expected = {s.name: s.shown for s in SETTINGS if s.shown is not None}
    expected["threads"] = str(limits.threads)
    expected["max_execution_time"] = str(limits.backstop_ms)
    return expected


def lockdown(limits: SandboxLimits) -> dict[str, Any]:
    """How a query process opens a sandbox file (xuncha/sandbox/worker.py): the connect
    options, the SET GLOBAL statements in order, and the settings it must then read back."""
    return {
        "config": connect_config(limits),
        "sets": list(_GLOBAL_SETS),
        "expected": expected_settings(limits),
    }


# -- what the sandbox holds ----------------------------------------------------------------

# (table, how its rows are chosen, row order). T is the sandbox, S the store; tables are created in this
# order, each filtered through the ones before it, so nothing outside the scope is copied.
# Only small tables are sorted: sorting the large ones costs a third of the build time and most
# of its memory at 1M findings, and SQL promises no order without ORDER BY anyway.
_T = f"{CATALOG}.main"
_S = f"{_SOURCE}.main"
_IN_SCOPE_CATEGORIES = (
    f"inspection_id IN (SELECT inspection_id FROM {_T}.inspections)"
    " AND ($category_l1::VARCHAR[] IS NULL"
    "      OR category_l1 IN (SELECT unnest($category_l1::VARCHAR[])))"
    " AND ($category_l2::VARCHAR[] IS NULL"
    "      OR category_l2 IN (SELECT unnest($category_l2::VARCHAR[])))"
)
_COPIES: tuple[tuple[str, str, str], ...] = (
    ("inspections", "inspection_id IN (SELECT inspection_id FROM scope_ids)", "inspection_id"),
    ("rounds", f"round_id IN (SELECT round_id FROM {_T}.inspections)", "seq"),
    ("units", f"unit_id IN (SELECT unit_id FROM {_T}.inspections)", "unit_id"),
    ("findings", _IN_SCOPE_CATEGORIES, ""),
    ("measures", f"finding_id IN (SELECT finding_id FROM {_T}.findings)", ""),
    ("measure_status_history", f"measure_id IN (SELECT measure_id FROM {_T}.measures)", ""),
    ("measure_deadline_history", f"measure_id IN (SELECT measure_id FROM {_T}.measures)", ""),
    ("outcomes", f"inspection_id IN (SELECT inspection_id FROM {_T}.inspections)", "inspection_id"),
    ("measure_timeline", f"measure_id IN (SELECT measure_id FROM {_T}.measures)", ""),
    ("finding_timeline", f"finding_id IN (SELECT finding_id FROM {_T}.findings)", ""),
    # The current-state summaries, narrowed like the findings: the named queries read them
    # for dates on or after the store's settled_on (for an earlier date, those of the
    # inspections settled by then: inspection_settled, copied as the store has it, since the
    # summaries' rows carry the store's settled_on), here as in the dashboard.
    (
        "inspection_settled",
        "inspection_id IN (SELECT inspection_id FROM scope_ids)",
        "inspection_id",
    ),
    ("rect_current", _IN_SCOPE_CATEGORIES, "inspection_id, category_l2"),
    ("rect_current_dates", _IN_SCOPE_CATEGORIES, ""),
    ("rect_current_done", _IN_SCOPE_CATEGORIES, ""),
    ("rect_current_measures", _IN_SCOPE_CATEGORIES, ""),
    ("category_l1", "true", "code"),
    ("category_l2", "true", "code"),
    ("category_aliases", "true", "alias"),
    ("tag_dictionary", "true", "tag_group, tag"),
)

# Online rectification (DOMAIN.md §8), scoped like the findings: a submission is copied when
# its inspection (with the round and unit it names) is in scope and its measure was copied (so
# a category filter narrows it too); a step when its submission was copied and it names the
# same measure, round and unit; the evidence of the submissions copied, and the files they
# attach (below); the notices that list a measure in scope, to a unit in scope, with only
# those measures. The contacts (names, e-mail addresses: personal data) are never copied, nor
# a notice's recipients, which hold the same. A version written before these tables existed
# has none of them, and the sandbox then has none either.
# (table, columns, how its rows are chosen, row order)
_RECTIFY_COPIES: tuple[tuple[str, str, str, str], ...] = (
    (
        "rectify_submissions",
        "*",
        "(inspection_id, round_id, unit_id) IN"
        f" (SELECT inspection_id, round_id, unit_id FROM {_T}.inspections)"
        f" AND measure_id IN (SELECT measure_id FROM {_T}.measures)"
        f" AND finding_id IN (SELECT finding_id FROM {_T}.findings)",
        "submission_id",
    ),
    (
        "rectify_steps",
        "*",
        "(submission_id, measure_id, round_id, unit_id) IN"
        f" (SELECT submission_id, measure_id, round_id, unit_id FROM {_T}.rectify_submissions)",
        "step_id",
    ),
    (
        "submission_evidence",
        "*",
        f"submission_id IN (SELECT submission_id FROM {_T}.rectify_submissions)",
        "submission_id, position",
    ),
    (
        "notices",
        "* EXCLUDE (recipients)",
        f"unit_id IN (SELECT unit_id FROM {_T}.units) AND notice_id IN (SELECT notice_id FROM"
        f" {_S}.notice_items WHERE measure_id IN (SELECT measure_id FROM {_T}.measures))",
        "notice_id",
    ),
    (
        "notice_items",
        "*",
        f"notice_id IN (SELECT notice_id FROM {_T}.notices)"
        f" AND measure_id IN (SELECT measure_id FROM {_T}.measures)",
        "notice_id, measure_id",
    ),
    # The 整改成效评估's manual items (xuncha.evaluation): an entry when its inspection, with
    # the round and unit it names, is in scope; its evidence and its decision with it.
    (
        "evaluation_entries",
        "*",
        "(inspection_id, round_id, unit_id) IN"
        f" (SELECT inspection_id, round_id, unit_id FROM {_T}.inspections)",
        "entry_id",
    ),
    (
        "evaluation_entry_evidence",
        "*",
        f"entry_id IN (SELECT entry_id FROM {_T}.evaluation_entries)",
        "entry_id, position",
    ),
    (
        "evaluation_decisions",
        "*",
        f"entry_id IN (SELECT entry_id FROM {_T}.evaluation_entries)",
        "entry_id",
    ),
)
# An evidence file is stored once per content (SHA-256) and its row names who first uploaded
# it, which may be another unit's liaison attaching the same document: in the sandbox the
# first upload is the first submission in scope that attaches it.
_EVIDENCE_FILES_SQL = f"""
CREATE TABLE {_T}.evidence_files AS
WITH attached AS (
    SELECT e.sha256, s.submitted_at, s.submitted_by,
           row_number() OVER (PARTITION BY e.sha256 ORDER BY s.submitted_at, s.submission_id) AS n
    FROM {_T}.submission_evidence e JOIN {_T}.rectify_submissions s USING (submission_id)
)
SELECT f.sha256, f.size, f.media_type, f.file_kind,
       a.submitted_at AS added_at, a.submitted_by AS added_by
FROM {_S}.evidence_files f
JOIN attached a ON a.sha256 = f.sha256 AND a.n = 1
ORDER BY f.sha256
"""
# finding_repeats lists earlier findings of the same unit and category in earlier rounds, which
# may lie outside the scope: their ids and rounds are dropped from the lists, so no id of a
# finding or round outside the scope is visible. The flags is_repeat / is_rebound are kept:
# they are the 口径 of DOMAIN.md §5 that every page shows for findings in scope.
_REPEATS_SQL = f"""
CREATE TABLE {_T}.finding_repeats AS
WITH kept AS (
    SELECT r.finding_id, r.is_repeat, r.is_rebound, r.earlier_finding_ids
    FROM {_S}.finding_repeats r
    WHERE r.finding_id IN (SELECT finding_id FROM {_T}.findings)
),
earlier AS (
    SELECT k.finding_id, e.finding_id AS earlier_id, e.round_id AS earlier_round_id
    FROM (SELECT finding_id, unnest(earlier_finding_ids) AS earlier_id FROM kept) k
    JOIN {_T}.findings e ON e.finding_id = k.earlier_id
),
lists AS (
    SELECT finding_id,
           list(DISTINCT earlier_id ORDER BY earlier_id) AS earlier_finding_ids,
           list(DISTINCT earlier_round_id ORDER BY earlier_round_id) AS earlier_round_ids
    FROM earlier GROUP BY finding_id
)
SELECT k.finding_id, k.is_repeat, k.is_rebound, l.earlier_finding_ids, l.earlier_round_ids
FROM kept k LEFT JOIN lists l USING (finding_id)
ORDER BY k.finding_id
"""

# Without clue details: counts per inspection, 1–2 shown as '<3' (DOMAIN.md §7).
_CLUE_COUNTS_SQL = f"""
CREATE TABLE {_T}.clue_counts AS
SELECT i.inspection_id, i.round_id, i.unit_id,
       CASE WHEN coalesce(c.n, 0) = 0 THEN '0'
            WHEN c.n < 3 THEN '<3'
            ELSE c.n::VARCHAR END AS clues
FROM {_T}.inspections i
LEFT JOIN (SELECT inspection_id, count(*) AS n FROM {_S}.clues GROUP BY inspection_id) c
  USING (inspection_id)
ORDER BY i.inspection_id
"""
_CLUES_SQL = (
    f"CREATE TABLE {_T}.clues AS SELECT * FROM {_S}.clues"
    f" WHERE inspection_id IN (SELECT inspection_id FROM {_T}.inspections)"
)

_OWN_COMMENTS: dict[str, tuple[str | None, dict[str, str]]] = {
    "evidence_files": (
        None,
        {
            "added_at": "查询范围内首次附上该文件的填报时间",
            "added_by": "查询范围内首次附上该文件的填报账号",
        },
    ),
    "notices": (
        "预警提醒和督办函：每份文书一行（只含列有查询范围内措施的文书；收件人含个人信息，不提供）",
        {},
    ),
    "finding_repeats": (
        "（派生）重复问题：每个问题一行；此前同类问题只列出查询范围内的",
        {
            "earlier_finding_ids": "此前同类问题编号（仅查询范围内的；范围外的不列出）",
            "earlier_round_ids": "此前发现同类问题的轮次编号（仅查询范围内的）",
        },
    ),
    "clue_counts": (
        "问题线索数（每次巡察一行）；无线索详情权限时只显示条数，1–2 条显示为“<3”",
        {
            "inspection_id": "巡察编号",
            "round_id": "轮次编号",
            "unit_id": "被巡察单位编号",
            "clues": "线索条数（文本；1–2 条显示为 <3）",
        },
    ),
}

# What a sandbox built by this code holds; raised when the tables copied change, so that a
# prepared sandbox of an older build is built again (prepared_file).
BUILD_LAYOUT = "2"  # 2: with the 整改成效评估 tables

# The order tables are listed in for users (schema browser).
TABLE_ORDER = (
    "rounds",
    "units",
    "inspections",
    "findings",
    "measures",
    "measure_status_history",
    "measure_deadline_history",
    "outcomes",
    "clues",
    "clue_counts",
    "measure_timeline",
    "finding_timeline",
    "finding_repeats",
    "rectify_submissions",
    "rectify_steps",
    "submission_evidence",
    "evidence_files",
    "notices",
    "notice_items",
    "evaluation_entries",
    "evaluation_entry_evidence",
    "evaluation_decisions",
    "inspection_settled",
    "rect_current",
    "rect_current_inspection",
    "rect_current_dates",
    "rect_current_done",
    "rect_current_measures",
    "rect_current_groups",
    "rect_current_group_dates",
    "category_l1",
    "category_l2",
    "category_aliases",
    "tag_dictionary",
)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build_file(
    store: Store, version: int, scope: SandboxScope, *, clue_details: bool, folder: Path
) -> Path:
    """Write the scoped copy of one store version to `folder/xuncha.duckdb` and return it."""
    target = folder / f"{CATALOG}.duckdb"
    # With the summaries, for older versions too; a sealed version unsealed into memory.
    with store.plain_path(version) as source:
        _build_into(source, target, scope, clue_details=clue_details, folder=folder)
    return target


def _build_into(
    source: Path, target: Path, scope: SandboxScope, *, clue_details: bool, folder: Path
) -> None:
    builder = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "python_enable_replacements": False,
            "threads": DEFAULT_THREADS,
            "memory_limit": BUILD_MEMORY_LIMIT,
            # Spill, if any, stays in the private folder that is removed after the build.
            "temp_directory": str(folder / "spill"),
        },
    )
    try:
        builder.execute(f"ATTACH {_literal(str(source))} AS {_SOURCE} (READ_ONLY)")
        builder.execute(f"ATTACH {_literal(str(target))} AS {CATALOG}")
        builder.execute(
            "CREATE TEMP TABLE scope_ids AS SELECT DISTINCT unnest($ids::INTEGER[]) AS inspection_id",
            {"ids": list(scope.inspection_ids)},
        )
        # Every table, macro and comment of the sandbox in one transaction: each statement
        # committed on its own wrote the catalog again (about half of a small store's build).
        builder.execute("BEGIN")
        for table, where, order in _COPIES:
            sql = f"CREATE TABLE {_T}.{table} AS SELECT * FROM {_S}.{table} WHERE {where}"
            if order:
                sql += f" ORDER BY {order}"
            params: dict[str, Any] = {}
            if "$category_l1" in where:
                params = {
                    "category_l1": list(scope.category_l1) or None,
                    "category_l2": list(scope.category_l2) or None,
                }
            builder.execute(sql, params)
        # Built in the sandbox's own catalog from its scoped copies, by the store's own SQL:
        # rect_current_inspection summed from the scoped rect_current (so a category filter
        # narrows it as well), the groups (the store's are the whole store's, never copied
        # into a scope), and the vocabulary the named and canned queries are written in.
        builder.execute(f"USE {CATALOG}")
        for name in (
            "vocabulary",
            "current_inspection",
            "current_groups",
            "vocabulary_tables",
            "lists",
        ):
            store_sql.run(builder, name)
        builder.execute("USE memory")
        builder.execute(_REPEATS_SQL)
        builder.execute(_CLUES_SQL if clue_details else _CLUE_COUNTS_SQL)
        _copy_rectify(builder)
        _copy_comments(builder)
        builder.execute("COMMIT")
        builder.execute(f"DETACH {_SOURCE}")
        builder.execute(f"DETACH {CATALOG}")
    except duckdb.Error as exc:
        raise SandboxError(
            "无法建立查询沙箱（读取数据仓失败）", reason="build_failed", detail=type(exc).__name__
        ) from exc
    finally:
        builder.close()


# -- prepared at write time ---------------------------------------------------------------

# The sandbox of the whole store without clue details (what a commission-wide reader asks
# for) is built once per data version, when the version is written, and kept beside the
# versions: opening 数据查询 then copies a file (~0.3 s for a million findings) instead of
# copying every row again into a new compressed file (~6 s). Scoped sandboxes, and those
# with clue details, are still built on demand; so is the whole store's when no file was
# prepared (a version written by older code or by a path that does not prepare).
PREPARED = "sandboxes"
_OLD_PREPARED_FILE = re.compile(r"^(\d{6})-([0-9a-f]{16})\.duckdb$")  # before identities
_PREPARED_FILE = re.compile(r"^(\d{6})-([0-9a-f]{12})-([0-9a-f]{16})\.duckdb$")


def whole_store(store: Store, version: int) -> SandboxScope:
    """Every inspection of the version, no category filter: the unrestricted scope."""
    con = store.connect(version)
    try:
        ids = [int(r[0]) for r in con.execute("SELECT inspection_id FROM inspections").fetchall()]
    finally:
        con.close()
    return SandboxScope(tuple(sorted(ids)))


def prepared_file(store: Store, version: int, scope: SandboxScope) -> Path:
    # Named for the version's identity, not only its number: after a restore a number used
    # again never finds the sandbox of the version it replaced.
    # And for what this code copies (BUILD_LAYOUT): a sandbox prepared by older code, without
    # the tables added since, is not used.
    identity = f"{store.identity(version)}|{BUILD_LAYOUT}"
    tag = hashlib.blake2b(identity.encode(), digest_size=6).hexdigest()
    return store.root / PREPARED / f"{version:06d}-{tag}-{scope.digest}.duckdb"


def prepare(store: Store, version: int | None = None) -> Path | None:
    """Build the whole store's sandbox file (no clue details) for `version` (default: the
    current one) unless it exists, and remove those of other versions. Built into a private
    folder and moved into place whole, so a reader never sees half a file.

    Called after a write has been published: a failure here (a full disk) is logged and
    returns None, since the data are written and the sandbox is then built when first asked
    for, as without a prepared file."""
    try:
        return _prepare(store, version)
    except (SandboxError, OSError, duckdb.Error) as exc:
        _LOG.warning("could not prepare the sandbox of %s: %s", store.root, exc)
        return None


def _prepare(store: Store, version: int | None) -> Path:
    number = store.version() if version is None else version
    scope = whole_store(store, number)
    target = prepared_file(store, number, scope)
    folder = target.parent
    folder.mkdir(mode=0o700, exist_ok=True)
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time, across processes
        _sweep(folder)  # staging left by a process that died while preparing
        for stale in folder.glob("*.duckdb.*.tmp"):  # a sealed copy never moved into place
            stale.unlink(missing_ok=True)
        if not target.is_file():
            key = store.key()
            # Under a key, built in memory and sealed beside the versions like them.
            staging = Path(
                tempfile.mkdtemp(
                    prefix=_DIR_PREFIX, dir=folder if key is None else crypto.memory_dir()
                )
            )
            try:
                built = build_file(store, number, scope, clue_details=False, folder=staging)
                if key is not None:
                    sealed = folder / f"{target.name}.{uuid.uuid4().hex[:12]}.tmp"
                    try:
                        crypto.seal(built, sealed, key)
                        os.replace(sealed, target)
                    finally:
                        sealed.unlink(missing_ok=True)
                else:
                    os.replace(built, target)
            finally:
                discard(staging)
        keep = target.name[: len("000000-") + 12]  # this version's number and identity
        for entry in folder.iterdir():
            old = _OLD_PREPARED_FILE.match(entry.name)
            if old or (_PREPARED_FILE.match(entry.name) and not entry.name.startswith(keep)):
                entry.unlink(missing_ok=True)  # another version, or one a restore replaced
    return target


def copy_prepared(store: Store, version: int, scope: SandboxScope, folder: Path) -> Path | None:
    """A private copy of the prepared file for this version and scope (None: none prepared).
    A copy, not the file itself: DuckDB lets only one process open a file, and the copy is
    unlinked as soon as it is open, like a built one."""
    source = prepared_file(store, version, scope)
    target = folder / f"{CATALOG}.duckdb"
    try:
        if not crypto.is_sealed(source):
            shutil.copyfile(source, target)
            return target
        key = store.key()
        if key is None:
            return None  # built from the version, which then says what is missing
        # Unsealed into memory and named in the (memory) folder, removed with it.
        with crypto.unseal_to_memory(source, key) as plain:
            plain.link_to(target)
    except FileNotFoundError:
        return None
    except crypto.CryptoError as exc:  # another key (rotated) or altered: built afresh
        _LOG.warning("prepared sandbox %s not used: %s", source, exc)
        return None
    return target


def _copy_rectify(builder: duckdb.DuckDBPyConnection) -> None:
    """The online-rectification tables the source has, scoped (_RECTIFY_COPIES)."""
    present = {
        row[0]
        for row in builder.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [_SOURCE]
        ).fetchall()
    }
    for table, columns, where, order in _RECTIFY_COPIES:
        if table in present:
            builder.execute(
                f"CREATE TABLE {_T}.{table} AS SELECT {columns} FROM {_S}.{table}"
                f" WHERE {where} ORDER BY {order}"
            )
    if {"evidence_files", "submission_evidence", "rectify_submissions"} <= present:
        builder.execute(_EVIDENCE_FILES_SQL)


def _copy_comments(builder: duckdb.DuckDBPyConnection) -> None:
    """The Chinese comments of the store's tables and columns, so the schema browser shows them."""
    tables = builder.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = ?", [_SOURCE]
    ).fetchall()
    columns = builder.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = ?",
        [_SOURCE],
    ).fetchall()
    present = {
        row[0]
        for row in builder.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [CATALOG]
        ).fetchall()
    }
    present_columns = {
        (t, c)
        for t, c in builder.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ?",
            [CATALOG],
        ).fetchall()
    }
    table_comments = {t: c for t, c in tables if t in present and c}
    column_comments = {(t, col): c for t, col, c in columns if (t, col) in present_columns and c}
    for table, (comment, own_columns) in _OWN_COMMENTS.items():
        if table in present:
            if comment:
                table_comments[table] = comment
            for column, text in own_columns.items():
                column_comments[(table, column)] = text
    for table, comment in table_comments.items():
        builder.execute(f"COMMENT ON TABLE {_T}.{_ident(table)} IS {_literal(comment)}")
    for (table, column), comment in column_comments.items():
        builder.execute(
            f"COMMENT ON COLUMN {_T}.{_ident(table)}.{_ident(column)} IS {_literal(comment)}"
        )


def open_locked(path: Path, limits: SandboxLimits) -> duckdb.DuckDBPyConnection:
    """Open the built file read-only in this process, unlink it, disable files, lock, and
    check the result: as a query process does (worker.py), for the benchmark's in-process
    comparison and the tests; user SQL itself runs only in query processes."""
    try:
        con = duckdb.connect(str(path), read_only=True, config=connect_config(limits))
    except duckdb.Error as exc:
        raise SandboxError(
            "无法打开查询沙箱（内存上限或线程设置无效？）",
            reason="open_failed",
            detail=type(exc).__name__,
        ) from exc
    try:
        discard(path.parent)
        for statement in _GLOBAL_SETS:
            con.execute(statement)
        _check_locked(con, path, limits)
    except BaseException:
        con.close()
        raise
    return con


def _check_locked(con: duckdb.DuckDBPyConnection, path: Path, limits: SandboxLimits) -> None:
    """Fail closed if DuckDB did not take a setting (a renamed option in a later version)."""
    cursor = con.cursor()
    try:
        shown = dict(cursor.execute("SELECT name, value FROM duckdb_settings()").fetchall())
        expected = expected_settings(limits)
        wrong = {k: (shown.get(k), v) for k, v in expected.items() if shown.get(k) != v}
        if wrong:
            raise SandboxError(
                "查询沙箱的安全设置未生效，已停止", reason="settings_not_applied", detail=str(wrong)
            )
        try:
            cursor.execute(f"SELECT count(*) FROM read_blob({_literal(str(path))})").fetchall()
        except duckdb.PermissionException:
            pass
        else:
            raise SandboxError("查询沙箱仍能读取文件，已停止", reason="files_not_disabled")
    finally:
        cursor.close()


def tmp_root() -> Path:
    """Where sandbox files are built (XUNCHA_SANDBOX_TMP, else the system temp directory)."""
    return Path(os.environ.get("XUNCHA_SANDBOX_TMP") or tempfile.gettempdir())


def new_folder(store: Store | None = None) -> Path:
    """A private folder to build a sandbox in: under tmp_root(), or on the memory file system
    when `store` is encrypted (its plaintext never reaches a disk)."""
    root = tmp_root() if store is None or store.key() is None else crypto.memory_dir()
    _sweep(root)
    return Path(tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=root))


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _sweep(root: Path) -> None:
    """Folders left by a process that died while building (the only time a file exists)."""
    cutoff = time.time() - _STALE_SECONDS
    with contextlib.suppress(OSError):
        for entry in root.glob(_DIR_PREFIX + "*"):
            with contextlib.suppress(OSError):
                info = entry.lstat()
                if entry.is_dir() and info.st_uid == os.getuid() and info.st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
