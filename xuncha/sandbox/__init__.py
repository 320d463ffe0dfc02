"""User SQL in a sandbox: a read-only copy of one scope's rows, locked down, time- and
memory-limited, every query audited. The 数据查询 page and `xuncha sql` both go through here.

    box = Sandbox.for_scope(store, scope, clue_details=False)
    result = box.run("SELECT unit_id, count(*) FROM findings GROUP BY ALL", user="张三")
    result.frame, result.truncated, result.note
    box.schema()  # table, table_comment, column, type, comment, examples

    prepare(store)  # after a write: the whole store's sandbox built once, beside the versions
"""

from xuncha.sandbox.build import SETTINGS, SandboxLimits, SandboxScope, Setting, prepare
from xuncha.sandbox.core import (
    DISPLAY_MAX_ROWS,
    EXPORT_MAX_ROWS,
    Sandbox,
    SqlResult,
    clear_cache,
    exportable,
)
from xuncha.sandbox.errors import SandboxError, SandboxProblem, SandboxRefused, SandboxTimeout
from xuncha.sandbox.statements import MAX_SQL_CHARS, check_sql

__all__ = [
    "DISPLAY_MAX_ROWS",
    "EXPORT_MAX_ROWS",
    "MAX_SQL_CHARS",
    "SETTINGS",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "SandboxProblem",
    "SandboxRefused",
    "SandboxScope",
    "SandboxTimeout",
    "Setting",
    "SqlResult",
    "check_sql",
    "clear_cache",
    "exportable",
    "prepare",
]
