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

Anchors: the head (seq and hash) is also kept outside the trail, where cutting the trail does
not reach it: in the users database (`auth/users.sqlite`, table `audit_anchor`, moved on
every append when that database exists; while a user change of this very process holds that
database, by the next call into this module) and in every data version (`store_meta` key
`audit_head`, written by `Store.write`). An anchor says "the trail had at least this record";
`verify` reports a trail shorter than an anchor (its last lines cut), a HEAD deleted and
rebuilt or rewound, and a trail whose file and HEAD were both deleted while anchors remain.
`record` refuses to append to a trail whose end does not match HEAD and the anchors (it never
"repairs" a cut trail by writing a new HEAD over it), and `check_before_write` refuses a write
of data (import, rollback, demo build) while the trail does not verify: such writes check
first, publish, then append their record.

What a chain cannot do on its own: someone who can write every file of the store directory can
rewrite the trail, HEAD and every anchor consistently. Record the head hash that `xuncha audit
verify` prints somewhere else (a briefing, another machine) to anchor it.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

AUDIT_DIR = "audit"
AUDIT_FILE = "audit.jsonl"
HEAD_FILE = "HEAD"
LOCK_FILE = ".lock"
GENESIS = "0" * 64
# The anchor kept in the users database (xuncha.auth.users keeps that file; this module adds
# one table of its own to it, never touching the others).
USERS_DB = Path("auth") / "users.sqlite"
ANCHOR_TABLE = "audit_anchor"
# The anchor every data version carries (written by xuncha.store.Store.write), and where the
# versions are: the store's layout, repeated here because the store imports this module.
META_KEY = "audit_head"
_VERSION_FILE = re.compile(r"^(\d{6})\.duckdb$")
_ANCHOR_WAIT = 5.0  # seconds an anchor left pending waits for the users database at exit
log = logging.getLogger(__name__)

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
    "demo_build": "生成演示数据",
    "repair": "修复数据版本指针",
    "rectify_report": "整改填报",
    "rectify_request": "申请延期",
    "rectify_pass": "整改审核通过",
    "rectify_return": "整改退回",
    "rectify_close": "整改销号",
    "rectify_approve": "批准延期",
    "rectify_reject": "不予延期",
    "notice_issue": "印发预警提醒或督办函",
    "notice_mail": "邮件发送预警提醒",
    "contacts_import": "导入通讯录",
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


@dataclass(frozen=True)
class Anchor:
    """A head remembered outside the trail: `source` says where (Chinese, for messages)."""

    source: str
    seq: int
    hash: str


def audit_path(store_root: str | os.PathLike[str]) -> Path:
    return Path(store_root) / AUDIT_DIR / AUDIT_FILE


def record(
    store_root: str | os.PathLike[str], *, user: str, action: str, **details: Any
) -> AuditEntry:
    """Append one record and return it. Raises AuditError when it cannot be written: callers
    must then not carry on as if it had been (fail closed). A trail whose end does not match
    HEAD and the anchors (lines cut, HEAD deleted or rewound, the files deleted) is refused,
    never continued: `xuncha audit verify` says what happened."""
    if not isinstance(user, str) or not user.strip():
        raise AuditError("审计记录缺少操作人")
    if not _ACTION.match(action):
        raise AuditError(f"审计记录的动作名称不合规：{action!r}")
    payload = _plain(details)
    root = Path(store_root)
    folder = root / AUDIT_DIR
    flush_anchors()
    try:
        with _locked(folder):
            last_seq, last_hash = _tail(folder, root)
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
            _anchor_users(root, entry.seq, entry.hash)
    except OSError as exc:
        raise AuditError(f"无法写入审计记录：{exc.strerror or exc}") from exc
    return entry


@contextlib.contextmanager
def locked(store_root: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the trail's lock (no record is appended meanwhile), e.g. to move the store.
    Not re-entrant: do not call `record` inside it."""
    with _locked(Path(store_root) / AUDIT_DIR):
        yield


def check_before_write(store_root: str | os.PathLike[str], what: str) -> None:
    """AuditError, before anything is written, unless the record of the write `what` (e.g.
    "导入") can be appended afterwards: the trail verifies (anchors included) and its folder
    and file can be written. Writes of data check here, publish, then `record`."""
    root = Path(store_root)
    problems = verify(root)  # pending anchors written there
    if problems:
        raise AuditError(
            f"审计记录未通过核验（{problems[0]}），{what}未执行，未作任何更改；"
            f"请先运行 xuncha audit verify --db {root} 核查"
        )
    folder = root / AUDIT_DIR
    path = folder / AUDIT_FILE
    why = None
    if path.exists() and (not path.is_file() or not os.access(path, os.W_OK)):
        why = f"{path} 不是可写入的文件"
    elif folder.exists() and (not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK)):
        why = f"{folder} 不是可写入的目录"
    elif not folder.exists():
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            why = f"{existing} 不可写入"
    if why is not None:
        raise AuditError(f"无法写入审计记录（{why}），{what}未执行，未作任何更改")


def anchors(store_root: str | os.PathLike[str]) -> list[Anchor]:
    """Every head remembered outside the trail: the users database's, then each data
    version's (oldest first). Anchors that cannot be read are left out (see `verify`)."""
    flush_anchors()
    root = Path(store_root)
    users, _ = _users_anchor(root)
    return ([users] if users else []) + _version_anchors(root)


def flush_anchors(timeout: float = 0.0) -> None:
    """Write the anchors left pending because the users database was busy (see
    `_anchor_users`), waiting up to `timeout` seconds for it. Runs at the start of every
    `record`, `verify`, `anchors` and `check_before_write`, and when the process exits."""
    with _PENDING_LOCK:
        items = list(_PENDING.items())
    for path, (seq, digest) in items:
        if path.is_file() and not _try_anchor(path, seq, digest, timeout=timeout):
            continue
        with _PENDING_LOCK:
            if _PENDING.get(path) == (seq, digest):
                del _PENDING[path]


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
    """Check every line of the trail, HEAD and the anchors; [] when all is intact. The first
    problem names the first record (by seq) that was changed, deleted or moved."""
    flush_anchors()
    root = Path(store_root)
    folder = root / AUDIT_DIR
    path = folder / AUDIT_FILE
    remembered = _read_head(folder)
    users, unreadable = _users_anchor(root)
    found = ([users] if users else []) + _version_anchors(root)
    problems: list[AuditProblem] = []
    if unreadable:
        problems.append(AuditProblem(0, None, unreadable))
    if not path.is_file():
        if remembered:
            problems.insert(
                0, AuditProblem(0, remembered[0], "审计记录文件缺失：链头记有记录，文件已被删除")
            )
        elif found:
            top = max(found, key=lambda a: a.seq)
            problems.insert(
                0,
                AuditProblem(
                    0,
                    top.seq,
                    f"审计记录文件和链头均已删除：{top.source}记到序号 {top.seq}，"
                    "现在一条记录也没有",
                ),
            )
        return problems
    with open(path, "rb") as handle:
        raw_lines = handle.read().split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    parsed = [_parse(raw.decode("utf-8", errors="replace")) for raw in raw_lines]
    present = {obj["seq"] for obj in parsed if obj is not None}
    seen: set[int] = set()
    expected_seq: int | None = 1  # None right after an unreadable line: resynchronise
    last_seq = 0
    prev_hash: str | None = GENESIS
    hashes: dict[int, str] = {}
    links: dict[int, str] = {}
    for number, obj in enumerate(parsed, start=1):
        if obj is None:
            problems.append(AuditProblem(number, None, f"第 {number} 行无法解析：该行被修改或截断"))
            expected_seq, prev_hash = None, None
            continue
        seq = obj["seq"]
        where = f"序号 {seq}（第 {number} 行）"
        if _hash({k: obj[k] for k in _FIELDS if k != "hash"}) != obj["hash"]:
            problems.append(AuditProblem(number, seq, f"{where}的内容与其哈希不符：该行被修改"))
        message = None
        if seq in seen:
            message = f"{where}重复出现：记录被复制"
        elif seq <= last_seq:
            message = f"{where}出现在序号 {last_seq} 之后：记录次序被调换"
        elif expected_seq is not None and seq > expected_seq:
            missing = list(range(expected_seq, seq))
            moved = [s for s in missing if s in present]
            if moved:
                message = f"{where}出现在序号 {moved[0]} 之前：记录次序被调换"
            else:
                span = f"{missing[0]}" if len(missing) == 1 else f"{missing[0]}–{missing[-1]}"
                message = f"序号 {span} 缺失（{where}之前）：记录被删除"
        elif prev_hash is not None and obj["prev_hash"] != prev_hash:
            message = f"{where}与上一条序号 {seq - 1} 的哈希链接断开：序号 {seq - 1} 被修改或替换"
            problems.append(AuditProblem(number, seq - 1, message))
            message = None
        if message:
            problems.append(AuditProblem(number, seq, message))
        seen.add(seq)
        hashes[seq] = obj["hash"]
        links[seq] = str(obj["prev_hash"])
        last_seq = max(last_seq, seq)
        expected_seq = last_seq + 1
        prev_hash = obj["hash"]
    last = max(present) if present else 0
    if remembered:
        head_seq, head_hash = remembered
        if head_seq < 0:
            problems.append(AuditProblem(0, None, "链头文件已损坏：无法确认末尾记录是否完整"))
        elif head_seq > last:
            problems.append(
                AuditProblem(
                    len(parsed),
                    last + 1,
                    f"末尾记录缺失：链头记到序号 {head_seq}，文件只到序号 {last}：记录被删除",
                )
            )
        elif head_seq in hashes and hashes[head_seq] != head_hash:
            problems.append(
                AuditProblem(0, head_seq, f"序号 {head_seq} 与链头记下的哈希不符：该记录被替换")
            )
        elif head_seq < last and not (head_seq == last - 1 and links.get(last) == head_hash):
            # One record behind is a write cut between its line and HEAD; more is a rewind.
            problems.append(
                AuditProblem(
                    0,
                    head_seq,
                    f"链头被回退：链头记到序号 {head_seq}，文件已到序号 {last}",
                )
            )
    elif parsed:
        problems.append(AuditProblem(0, None, "链头文件缺失：无法确认末尾记录是否完整"))
    problems += _anchor_problems(found, hashes, last, remembered, len(parsed))
    return problems


def _anchor_problems(
    found: list[Anchor],
    hashes: dict[int, str],
    last: int,
    remembered: tuple[int, str] | None,
    lines: int,
) -> list[AuditProblem]:
    """What the anchors say about a trail whose last record is `last`: one line per kind."""
    problems: list[AuditProblem] = []
    ahead = [a for a in found if a.seq > last]
    if ahead:
        top = max(ahead, key=lambda a: a.seq)
        problems.append(
            AuditProblem(
                lines,
                last + 1,
                f"审计记录末尾被截去：{top.source}记到序号 {top.seq}，文件只到序号 {last}",
            )
        )
    named: set[int] = set()
    for anchor in found:
        known = hashes.get(anchor.seq)
        if known is not None and known != anchor.hash and anchor.seq not in named:
            named.add(anchor.seq)
            problems.append(
                AuditProblem(
                    0,
                    anchor.seq,
                    f"序号 {anchor.seq} 与{anchor.source}记下的哈希不符：审计记录被改写",
                )
            )
    if remembered and remembered[0] >= 0:
        beyond = [a for a in found if a.seq > remembered[0]]
        if beyond:
            top = max(beyond, key=lambda a: a.seq)
            problems.append(
                AuditProblem(
                    0,
                    remembered[0],
                    f"链头被删除后重建或被回退：链头记到序号 {remembered[0]}，"
                    f"{top.source}记到序号 {top.seq}",
                )
            )
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


def _tail(folder: Path, root: Path) -> tuple[int, str]:
    """(seq, hash) to chain the next record to: the last line, or HEAD when the last line was
    cut short by a crash (verify reports that line). AuditError when the end of the trail
    does not match HEAD and the users database's anchor: an append must never make a cut or
    deleted trail look whole again."""
    path = folder / AUDIT_FILE
    last = _last_line(path)
    remembered = _read_head(folder)
    users, _ = _users_anchor(root)
    check = "请先核查（xuncha audit verify）"
    if last is None:
        if remembered:
            raise AuditError(f"审计记录文件缺失而链头仍在：{check}")
        found = ([users] if users else []) + _version_anchors(root)
        if found:
            top = max(found, key=lambda a: a.seq)
            raise AuditError(
                f"审计记录文件和链头均已删除，而{top.source}记到序号 {top.seq}："
                f"拒绝从头重新记录，{check}"
            )
        return 0, GENESIS
    obj = _parse(last.decode("utf-8", errors="replace"))
    if obj is None:
        if remembered is None or remembered[0] < 0:
            raise AuditError(f"审计记录末行无法解析且没有链头：{check}")
        _check_anchor(users, remembered[0], remembered[1], None, check)
        _append(path, b"\n")  # close the broken line so the next record starts a line of its own
        return remembered
    seq, digest, link = int(obj["seq"]), str(obj["hash"]), str(obj["prev_hash"])
    if remembered is None:
        raise AuditError(f"链头文件缺失，无法确认审计记录末尾完整：拒绝追加，{check}")
    if remembered != (seq, digest) and remembered != (seq - 1, link):
        # (seq - 1, link): the last append was cut between its line and HEAD.
        shown = f"序号 {remembered[0]}" if remembered[0] >= 0 else "无法读取"
        raise AuditError(
            f"链头（{shown}）与审计记录末条（序号 {seq}）不符：记录可能被截去或链头被改动，"
            f"拒绝追加，{check}"
        )
    _check_anchor(users, seq, digest, link, check)
    return seq, digest


def _check_anchor(
    anchor: Anchor | None, seq: int, digest: str, link: str | None, check: str
) -> None:
    """AuditError when `anchor` is beyond the last record (`seq`, `digest`, chained to `link`)
    or names one of those two with another hash; older anchors are left to `verify`."""
    if anchor is None:
        return
    if anchor.seq > seq:
        raise AuditError(
            f"审计记录末尾被截去：{anchor.source}记到序号 {anchor.seq}，文件只到序号 {seq}："
            f"拒绝追加，{check}"
        )
    if (anchor.seq == seq and anchor.hash != digest) or (
        link is not None and anchor.seq == seq - 1 and anchor.hash != link
    ):
        raise AuditError(
            f"序号 {anchor.seq} 与{anchor.source}记下的哈希不符：审计记录被改写，拒绝追加，{check}"
        )


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


# -- anchors -----------------------------------------------------------------------------

# Anchors not yet written to a users database (its path → the highest seq and hash).
_PENDING: dict[Path, tuple[int, str]] = {}
_PENDING_LOCK = threading.Lock()
_ANCHOR_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {ANCHOR_TABLE} ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"  # one row: the latest head
    " seq INTEGER NOT NULL, hash TEXT NOT NULL, time TEXT NOT NULL)"
)
_USERS_LABEL = "用户库中的锚点"


def _users_anchor(root: Path) -> tuple[Anchor | None, str | None]:
    """The users database's anchor (None without the database or the table), and why it could
    not be read (None when it could)."""
    path = root / USERS_DB
    if not path.is_file():
        return None, None
    try:
        con = sqlite3.connect(path, timeout=5.0)
        try:
            row = con.execute(f"SELECT seq, hash FROM {ANCHOR_TABLE} WHERE id = 1").fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None, None
        log.warning("audit anchor in %s unreadable: %s", path, exc)
        return None, f"用户库中的审计锚点无法读取：{exc}"
    except sqlite3.Error as exc:
        log.warning("audit anchor in %s unreadable: %s", path, exc)
        return None, f"用户库中的审计锚点无法读取：{exc}"
    if row is None:
        return None, None
    return Anchor(_USERS_LABEL, int(row[0]), str(row[1])), None


def _anchor_users(root: Path, seq: int, digest: str) -> None:
    """Move the users database's anchor to (seq, digest), when that database exists. Its
    writer may be this very process, inside a user change that is appending this record
    (xuncha.auth.users records before it commits): waiting would never end, so the anchor is
    left pending, written by the next call into this module (or at exit) once that
    transaction is over; it lags meanwhile, never leads. An anchor that cannot be written
    for another reason is logged, not fatal: the record and HEAD are written."""
    path = root / USERS_DB
    if not path.is_file():
        return
    if not _try_anchor(path, seq, digest, timeout=0.0):
        with _PENDING_LOCK:
            known = _PENDING.get(path)
            if known is None or known[0] < seq:
                _PENDING[path] = (seq, digest)


def _try_anchor(path: Path, seq: int, digest: str, *, timeout: float) -> bool:
    """False when the users database is busy (try again later), True otherwise."""
    try:
        _write_users_anchor(path, seq, digest, timeout=timeout)
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return False
        log.warning("audit anchor not written to %s: %s", path, exc)
    except sqlite3.Error as exc:
        log.warning("audit anchor not written to %s: %s", path, exc)
    return True


atexit.register(flush_anchors, _ANCHOR_WAIT)


def _write_users_anchor(path: Path, seq: int, digest: str, *, timeout: float) -> None:
    """Only ever forward: a deferred anchor arriving late never moves it back."""
    con = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(_ANCHOR_SCHEMA)
            con.execute(
                f"INSERT INTO {ANCHOR_TABLE} (id, seq, hash, time) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
                f" time = excluded.time WHERE excluded.seq > {ANCHOR_TABLE}.seq",
                (seq, digest, _now()),
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.close()


@contextlib.contextmanager
def _attachable(path: Path, root: Path) -> Iterator[Path | None]:
    """A name to ATTACH a version file by: itself, or for a sealed one (encryption at rest)
    its plaintext unsealed into memory while the block runs; None when it cannot be
    unsealed here (no key, another key, altered): its anchor is then not read."""
    from xuncha.store import crypto  # the store imports this module: imported when used

    if not crypto.is_sealed(path):
        yield path
        return
    try:
        key = crypto.load_key(root)
        plain = None if key is None else crypto.unseal_to_memory(path, key)
    except crypto.CryptoError as exc:
        log.warning("anchor of %s not read: %s", path, exc)
        plain = None
    if plain is None:
        yield None
        return
    with plain, plain.named() as name:
        yield name


def _version_anchors(root: Path) -> list[Anchor]:
    """The head each data version's store_meta remembers, oldest version first. Read through
    an in-memory database of its own that attaches each file read-only, so it never meets
    the connections (and their settings) the store's readers hold on the same files; a
    version that does not open is left out (`xuncha repair` deals with it)."""
    folder = root / "versions"
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if _VERSION_FILE.match(p.name))
    if not files:
        return []
    out: list[Anchor] = []
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        for path in files:
            with _attachable(path, root) as name:
                if name is None:
                    continue
                quoted = str(name).replace("'", "''")
                try:
                    con.execute(f"ATTACH '{quoted}' AS version_file (READ_ONLY)")
                except duckdb.Error:
                    continue
                try:
                    rows = con.execute(
                        "SELECT value FROM version_file.store_meta WHERE key = ?", [META_KEY]
                    ).fetchall()
                except duckdb.Error:
                    rows = []
                finally:
                    con.execute("DETACH version_file")
            if not rows:
                continue
            try:
                obj = json.loads(rows[0][0])
                anchor = Anchor(
                    f"数据版本 {int(path.name[:6])} 的锚点", int(obj["seq"]), str(obj["hash"])
                )
            except (ValueError, KeyError, TypeError):
                continue
            out.append(anchor)
    finally:
        con.close()
    return out
