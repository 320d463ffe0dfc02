"""What a failure nobody foresaw tells the user: one line in Chinese saying what happened and
what to do, never a traceback; the traceback goes to the log file.

The log is `xuncha.log` in `XUNCHA_LOG_DIR`, else `$XDG_STATE_HOME/xuncha`, else
`~/.local/state/xuncha` (rotated at 5 MB, three kept). Not in the store: a store on a full or
read-only disk is exactly when the traceback matters.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

import duckdb

from xuncha.store.store import disk_full

_LOGGER = "xuncha.failures"  # a child of "xuncha", whose handler log_to_file sets


def log_file() -> Path:
    """Where tracebacks are written."""
    folder = os.environ.get("XUNCHA_LOG_DIR")
    if folder:
        return Path(folder) / "xuncha.log"
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "xuncha" / "xuncha.log"


def log_to_file() -> Path | None:
    """Send the package's log records (a write's cleanup, a failure's traceback) to the log
    file and nowhere else: a command's standard error holds only its one line. Idempotent;
    None when the file cannot be opened (the records are then dropped, not printed)."""
    logger = logging.getLogger("xuncha")
    for handler in logger.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler):
            return Path(handler.baseFilename)
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=5 << 20, backupCount=3, encoding="utf-8", delay=True
        )
    except OSError:
        logger.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return path


def record(exc: BaseException, *, context: str) -> Path | None:
    """Write `exc` with its traceback to the log file; the file, or None when it cannot be
    written."""
    path = log_to_file()
    logger = logging.getLogger(_LOGGER)
    logger.error("%s failed", context, exc_info=(type(exc), exc, exc.__traceback__))
    for handler in logging.getLogger("xuncha").handlers:
        handler.flush()
    return path if path is not None and path.is_file() else None


def explain(exc: BaseException, *, db: str | None = None, log: Path | None = None) -> str:
    """One line for the user: what happened, that it was not completed, and what to do."""
    where = f"详情已记入日志 {log}" if log is not None else "详情未能写入日志"
    if disk_full(exc):
        name = getattr(exc, "filename", None)
        at = f"（写入 {name} 时）" if name else ""
        return f"磁盘空间不足{at}，操作未完成；请释放磁盘空间后重试（{where}）"
    if isinstance(exc, PermissionError):
        return (
            f"没有权限读写 {exc.filename or '所需文件'}，操作未完成；请以数据仓所有者的身份运行，"
            f"或检查该文件及其目录的权限（{where}）"
        )
    if isinstance(exc, duckdb.Error) and _damaged(exc):
        fix = f"请运行 xuncha repair --db {db} 检查各版本" if db else "请运行 xuncha repair 检查"
        return f"读取数据时出错：数据文件已损坏或不完整，操作未完成；{fix}（{where}）"
    if isinstance(exc, OSError):
        return f"读写文件出错（{exc.strerror or type(exc).__name__}），操作未完成（{where}）"
    return f"意外错误（{type(exc).__name__}），操作未完成；{where}，请将日志交给技术支持"


def _damaged(exc: duckdb.Error) -> bool:
    text = str(exc)
    return isinstance(exc, duckdb.IOException) or any(
        sign in text for sign in ("Corrupt database file", "checksum", "not a valid DuckDB")
    )
