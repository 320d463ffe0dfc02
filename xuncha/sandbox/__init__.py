"""User SQL in a sandbox: a read-only copy of one scope's rows, locked down, run in a separate
query process that the operating system bounds (address space, CPU time) and that is killed at
the time limit, every query audited. The 数据查询 page and `xuncha sql` both go through here.

    box = Sandbox.for_scope(store, scope, clue_details=False)
    result = box.run("SELECT unit_id, count(*) FROM findings GROUP BY ALL", user="张三")
    result.frame, result.truncated, result.note
    box.schema()  # table, table_comment, column, type, comment, examples

    prepare(store)  # after a write: the whole store's sandbox built once, beside the versions

The names below are imported when first used, not when the package is: the query process
(worker.py) imports xuncha.sandbox.statements and must not pay for polars and the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xuncha.sandbox import build as build
    from xuncha.sandbox import core as core
    from xuncha.sandbox import pool as pool
    from xuncha.sandbox.build import SETTINGS, SandboxLimits, SandboxScope, Setting, prepare
    from xuncha.sandbox.core import (
        DISPLAY_MAX_ROWS,
        EXPORT_MAX_ROWS,
        Sandbox,
        SqlResult,
        clear_cache,
        exportable,
    )
    from xuncha.sandbox.errors import (
        SandboxError,
        SandboxOutOfMemory,
        SandboxProblem,
        SandboxRefused,
        SandboxTimeout,
    )
    from xuncha.sandbox.statements import MAX_SQL_CHARS, check_sql

_WHERE = {
    "SETTINGS": "build",
    "SandboxLimits": "build",
    "SandboxScope": "build",
    "Setting": "build",
    "prepare": "build",
    "DISPLAY_MAX_ROWS": "core",
    "EXPORT_MAX_ROWS": "core",
    "Sandbox": "core",
    "SqlResult": "core",
    "clear_cache": "core",
    "exportable": "core",
    "SandboxError": "errors",
    "SandboxOutOfMemory": "errors",
    "SandboxProblem": "errors",
    "SandboxRefused": "errors",
    "SandboxTimeout": "errors",
    "MAX_SQL_CHARS": "statements",
    "check_sql": "statements",
}
_MODULES = {"build", "core", "errors", "pool", "statements", "wire", "worker"}

__all__ = [
    "DISPLAY_MAX_ROWS",
    "EXPORT_MAX_ROWS",
    "MAX_SQL_CHARS",
    "SETTINGS",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "SandboxOutOfMemory",
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


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _MODULES)
