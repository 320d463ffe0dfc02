"""The audit trail: an append-only, hash-chained record of who did what (DOMAIN.md §7).

It lives beside the versioned data, in `STORE_DIR/audit/audit.jsonl`, so recording a query
never copies the store. Each line is one JSON object:

    {"seq": 7, "time": "2026-11-25T09:12:03.512Z", "user": "张三", "action": "sql_query",
     "details": {...}, "prev_hash": "<hash of line 6>", "hash": "<sha256 of this line without it>"}

`hash` is the SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the other
fields, and `prev_hash` chains each line to the one before (the first to 64 zeros). Appends are
serialised across threads and processes with an fcntl lock, written in one `write` on an
O_APPEND descriptor and fsync'ed. `audit/HEAD` holds the last seq and hash, so deleting lines at
the end is noticed too. `verify` names the first line that was changed, deleted or moved.

What a chain cannot do on its own: someone who can write the store directory can rewrite the
whole file and HEAD consistently. Record the head hash that `xuncha audit verify` prints
somewhere else (a briefing, another machine) to anchor it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

AUDIT_DIR = "audit"
AUDIT_FILE = "audit.jsonl"
HEAD_FILE = "HEAD"
LOCK_FILE = ".lock"
GENESIS = "0" * 64

# Actions written today and the ones later work is expected to write; others are allowed if
# they look like an identifier, so a new caller does not have to edit this module first.
ACTIONS = {
    "sql_query": "数据查询（沙箱）",
    "sql_refused": "数据查询被拒绝",
    "export": "导出",
    "import": "导入台账",
    "rollback": "回滚导入批次",
    "login": "登录",
    "logout": "退出登录",
    "login_failed": "登录失败",
    "page_view": "查看页面",
    "permission_change": "权限变更",
    "logout_timeout": "会话超时退出",
    "login_throttled": "登录受限（失败次数过多）",
    "user_add": "新增用户",
    "user_disable": "停用用户",
    "user_enable": "启用用户",
    "password_change": "修改密码",
    "briefing": "领导简报",
    "config_change": "修改研判配置",
    "restore": "恢复备份",
    "refused": "操作被拒绝（无权限）",
    "error": "页面错误",
    "preview_as": "以他人身份预览",
    "preview_end": "结束预览",
    "cli_query": "命令行查询",
}
_ACTION = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FIELDS = ("seq", "time", "user", "action", "details", "prev_hash", "hash")
_THREAD_LOCK = threading.Lock()


class AuditError(Exception):
    """The audit trail could not be written or read (message in Chinese)."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: str
    user: str
    action: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditProblem:
    """One thing wrong with the trail; `seq` is the record it names (None if unknown)."""

    line: int
    seq: int | None
    message: str

    def __str__(self) -> str:
        return self.message


def audit_path(store_root: str | os.PathLike[str]) -> Path:
    return Path(store_root) / AUDIT_DIR / AUDIT_FILE


def record(
    store_root: str | os.PathLike[str], *, user: str, action: str, **details: Any
) -> AuditEntry:
    """Append one record and return it. Raises AuditError when it cannot be written: callers
    must then not carry on as if it had been (fail closed)."""
    if not isinstance(user, str) or not user.strip():
        raise AuditError("审计记录缺少操作人")
    if not _ACTION.match(action):
        raise AuditError(f"审计记录的动作名称不合规：{action!r}")
    payload = _plain(details)
    folder = Path(store_root) / AUDIT_DIR
    try:
        with _locked(folder):
            last_seq, last_hash = _tail(folder)
            entry = AuditEntry(
                seq=last_seq + 1,
                time=_now(),
                user=user.strip(),
                action=action,
                details=payload,
                prev_hash=last_hash,
                hash="",
            )
            body = {k: getattr(entry, k) for k in _FIELDS if k != "hash"}
            entry = dataclasses.replace(entry, hash=_hash(body))
            line = _canonical({**body, "hash": entry.hash}) + "\n"
            _append(folder / AUDIT_FILE, line.encode("utf-8"))
            _write_head(folder, entry.seq, entry.hash)
    except OSError as exc:
        raise AuditError(f"无法写入审计记录：{exc.strerror or exc}") from exc
    return entry


def entries(store_root: str | os.PathLike[str]) -> list[AuditEntry]:
    """Every record that parses, in file order (for listing; use `verify` to trust them)."""
    out: list[AuditEntry] = []
    path = audit_path(store_root)
    if not path.is_file():
        return out
    with open(path, encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            obj = _parse(raw)
            if obj is not None:
                out.append(AuditEntry(**{k: obj[k] for k in _FIELDS}))
    return out


def head(store_root: str | os.PathLike[str]) -> tuple[int, str] | None:
    """(seq, hash) of the last record as HEAD remembers it; None for an empty trail."""
    return _read_head(Path(store_root) / AUDIT_DIR)


def verify(store_root: str | os.PathLike[str]) -> list[AuditProblem]:
    """Check every line of the trail; [] when it is intact. The first problem names the first
    record (by seq) that was changed, deleted or moved."""
    folder = Path(store_root) / AUDIT_DIR
    path = folder / AUDIT_FILE
    remembered = _read_head(folder)
    if not path.is_file():
        if remembered:
            return [AuditProblem(0, remembered[0], "审计记录文件缺失：HEAD 记有记录，文件已被删除")]
        return []
    with open(path, "rb") as handle:
        raw_lines = handle.read().split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    parsed = [_parse(raw.decode("utf-8", errors="replace")) for raw in raw_lines]
    present = {obj["seq"] for obj in parsed if obj is not None}
    problems: list[AuditProblem] = []
    seen: set[int] = set()
    expected_seq: int | None = 1  # None right after an unreadable line: resynchronise
    last_seq = 0
    prev_hash: str | None = GENESIS
    hashes: dict[int, str] = {}
    for number, obj in enumerate(parsed, start=1):
        if obj is None:
            problems.append(AuditProblem(number, None, f"第 {number} 行无法解析：该行被修改或截断"))
            expected_seq, prev_hash = None, None
            continue
        seq = obj["seq"]
        where = f"seq={seq}（第 {number} 行）"
        if _hash({k: obj[k] for k in _FIELDS if k != "hash"}) != obj["hash"]:
            problems.append(AuditProblem(number, seq, f"{where}的内容与其哈希不符：该行被修改"))
        message = None
        if seq in seen:
            message = f"{where}重复出现：记录被复制"
        elif seq <= last_seq:
            message = f"{where}出现在 seq={last_seq} 之后：记录次序被调换"
        elif expected_seq is not None and seq > expected_seq:
            missing = list(range(expected_seq, seq))
            moved = [s for s in missing if s in present]
            if moved:
                message = f"{where}出现在 seq={moved[0]} 之前：记录次序被调换"
            else:
                span = f"{missing[0]}" if len(missing) == 1 else f"{missing[0]}–{missing[-1]}"
                message = f"seq={span} 缺失（{where}之前）：记录被删除"
        elif prev_hash is not None and obj["prev_hash"] != prev_hash:
            message = f"{where}与上一条 seq={seq - 1} 的哈希链接断开：seq={seq - 1} 被修改或替换"
            problems.append(AuditProblem(number, seq - 1, message))
            message = None
        if message:
            problems.append(AuditProblem(number, seq, message))
        seen.add(seq)
        hashes[seq] = obj["hash"]
        last_seq = max(last_seq, seq)
        expected_seq = last_seq + 1
        prev_hash = obj["hash"]
    if remembered:
        head_seq, head_hash = remembered
        last = max(present) if present else 0
        if head_seq < 0:
            problems.append(AuditProblem(0, None, "HEAD 文件已损坏：无法确认末尾记录是否完整"))
        elif head_seq > last:
            problems.append(
                AuditProblem(
                    len(parsed),
                    last + 1,
                    f"末尾记录缺失：HEAD 记到 seq={head_seq}，文件只到 seq={last}：记录被删除",
                )
            )
        elif head_seq in hashes and hashes[head_seq] != head_hash:
            problems.append(
                AuditProblem(0, head_seq, f"seq={head_seq} 与 HEAD 记下的哈希不符：该记录被替换")
            )
    elif parsed:
        problems.append(AuditProblem(0, None, "HEAD 文件缺失：无法确认末尾记录是否完整"))
    return problems


# -- internals ---------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _canonical(obj: Mapping[str, Any]) -> str:
    return json.dumps(
        obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )


def _hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


def _plain(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details as plain JSON values, so the hash computed now is the hash verify recomputes."""

    def default(value: Any) -> Any:
        if isinstance(value, dt.date | dt.datetime | dt.time):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, set | frozenset):
            return sorted(value, key=str)
        if isinstance(value, Path):
            return str(value)
        raise TypeError(f"审计详情中不能记录 {type(value).__name__} 类型的值")

    try:
        text = json.dumps(dict(details), ensure_ascii=False, default=default, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AuditError(f"审计详情无法记录：{exc}") from exc
    plain: dict[str, Any] = json.loads(text)
    return plain


def _parse(raw: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict) or set(obj) != set(_FIELDS):
        return None
    if not isinstance(obj["seq"], int) or not isinstance(obj["hash"], str):
        return None
    return obj


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK, open(folder / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(folder: Path) -> tuple[int, str]:
    """(seq, hash) to chain the next record to: the last line, or HEAD when the last line was
    cut short by a crash (verify reports that line)."""
    path = folder / AUDIT_FILE
    last = _last_line(path)
    if last is None:
        remembered = _read_head(folder)
        if remembered:
            raise AuditError("审计记录文件缺失而 HEAD 仍在：请先核查（xuncha audit verify）")
        return 0, GENESIS
    obj = _parse(last.decode("utf-8", errors="replace"))
    if obj is not None:
        return int(obj["seq"]), str(obj["hash"])
    remembered = _read_head(folder)
    if remembered is None or remembered[0] < 0:
        raise AuditError("审计记录末行无法解析且没有 HEAD：请先核查（xuncha audit verify）")
    _append(path, b"\n")  # close the broken line so the next record starts a line of its own
    return remembered


def _last_line(path: Path) -> bytes | None:
    if not path.is_file():
        return None
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        if end == 0:
            return None
        position = end
        chunk = b""
        while position > 0:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step) + chunk
            body = chunk[:-1] if chunk.endswith(b"\n") else chunk
            cut = body.rfind(b"\n")
            if cut >= 0:
                return body[cut + 1 :]
        return chunk[:-1] if chunk.endswith(b"\n") else chunk


def _append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"只写入了 {written}/{len(data)} 字节")
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_head(folder: Path, seq: int, entry_hash: str) -> None:
    staging = folder / (HEAD_FILE + ".tmp")
    staging.write_text(_canonical({"seq": seq, "hash": entry_hash}) + "\n", encoding="utf-8")
    os.replace(staging, folder / HEAD_FILE)


def _read_head(folder: Path) -> tuple[int, str] | None:
    """HEAD's (seq, hash); None when absent, (-1, "") when unreadable."""
    try:
        obj = json.loads((folder / HEAD_FILE).read_text(encoding="utf-8"))
        return int(obj["seq"]), str(obj["hash"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return -1, ""
