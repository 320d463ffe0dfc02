"""整改状态 words → canonical status (DOMAIN.md §4). Only the words of the table (and their
plain variants) are understood; 申请延期 needs the approved new date, found by the caller.

Units also write two words of one status together ("已完成（已销号）", "已整改，已销号"): such a
value is that status. Two words of different statuses ("已完成（正在整改）") are no status.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from xuncha.ledger.text import nfkc

# written → canonical status. DOMAIN.md §4 first, then unmistakable variants of the same words.
STATUS_WORDS: dict[str, str] = {
    **dict.fromkeys(("已完成", "完成整改", "已整改", "已整改到位", "已销号", "已整改销号"), "DONE"),
    **dict.fromkeys(
        ("已完成整改", "整改完成", "已全部完成", "完成", "已办结", "已整改完成", "已完成销号"),
        "DONE",
    ),
    **dict.fromkeys(("整改完毕", "已整改完毕", "完毕", "已完毕", "√", "✓", "✔", "☑"), "DONE"),
    **dict.fromkeys(("基本完成", "阶段性完成", "取得阶段性成效", "已基本完成"), "PHASED"),
    **dict.fromkeys(
        ("正在整改", "正在推进", "整改中", "持续推进", "进行中", "部分整改"), "IN_PROGRESS"
    ),
    **dict.fromkeys(("推进中", "正在进行", "正在落实", "持续整改", "已部分整改"), "IN_PROGRESS"),
    **dict.fromkeys(("未完成", "未启动", "超期未完成"), "NOT_DONE"),
    **dict.fromkeys(("尚未完成", "未整改", "尚未启动", "未开始"), "NOT_DONE"),
    # 超期: not done, and overdue by its deadline (the figures derive "overdue" from the date).
    **dict.fromkeys(("超期", "已超期", "逾期", "逾期未完成", "超期未整改"), "NOT_DONE"),
    **dict.fromkeys(("长期坚持", "常态化", "长期坚持常态推进", "常态化推进"), "LONG_TERM"),
}
EXTENSION_WORDS = ("申请延期", "已申请延期", "延期整改", "已延期", "批准延期", "同意延期")

STATUS_LABELS = {
    "DONE": "已完成",
    "PHASED": "基本完成",
    "IN_PROGRESS": "正在整改",
    "NOT_DONE": "未完成",
    "LONG_TERM": "长期坚持",
}

_TRIM = re.compile(r"[\s。．.!！]+")
# Where a compound value splits into its words: brackets and list punctuation.
_PARTS = re.compile(r"[()（）【】\[\]，,、；;/／]+")
ACCEPTED_HINT = "已完成、已整改到位、已销号、整改完毕、√、基本完成、正在整改、持续推进、未完成、超期、申请延期、长期坚持"
_LEAD = re.compile(r"^[\s]*")


@dataclass(frozen=True)
class StatusReading:
    status: str  # canonical; IN_PROGRESS for an extension
    extension: bool  # 申请延期: the caller must find the approved new date
    extension_text: str | None = None  # what followed the word ("至2024年12月底前")


def _squash(text: str) -> str:
    return _TRIM.sub("", nfkc(text))


_BY_LENGTH = sorted(STATUS_WORDS, key=len, reverse=True)
_EXT_BY_LENGTH = sorted(EXTENSION_WORDS, key=len, reverse=True)


@functools.lru_cache(maxsize=4096)
def read_status(text: str) -> StatusReading | None:
    """The status a 整改状态 cell states; None when it is not a status word."""
    word = _squash(text)
    if word in STATUS_WORDS:
        return StatusReading(STATUS_WORDS[word], False)
    parts = [p for p in _PARTS.split(word) if p]
    if len(parts) > 1 and all(p in STATUS_WORDS for p in parts):
        found = {STATUS_WORDS[p] for p in parts}
        if len(found) == 1:
            return StatusReading(found.pop(), False)
        return None  # two statuses at once: no status
    for ext in _EXT_BY_LENGTH:
        if word.startswith(ext):
            rest = word[len(ext) :].lstrip("，,：:；;")
            return StatusReading("IN_PROGRESS", True, rest or None)
    if word.startswith(("延期至", "延期到")):
        return StatusReading("IN_PROGRESS", True, word[2:])
    return None


@functools.lru_cache(maxsize=65536)
def leading_status(text: str) -> StatusReading | None:
    """The status a progress cell opens with ("已完成。制定了…", "正在整改，…"), when it opens
    with a status word followed by punctuation or nothing; otherwise None."""
    body = nfkc(text).strip()
    for word in _EXT_BY_LENGTH:
        if body.startswith(word):
            rest = body[len(word) :]
            if not rest or rest[0] in "，,。；;：:\n 至到":
                tail = rest.lstrip("，,：:；; \n")
                return StatusReading("IN_PROGRESS", True, tail.split("。")[0] or None)
    for word in _BY_LENGTH:
        if body.startswith(word):
            rest = body[len(word) :]
            if not rest or rest[0] in "，,。；;：:\n ":
                return StatusReading(STATUS_WORDS[word], False)
            if rest[0] in "(（":
                # "已完成（已销号）…": the bracket must name the same status, if one at all.
                close = min((rest.find(c) for c in ")）" if c in rest), default=-1)
                if close < 0:
                    return None
                inner = read_status(rest[1:close])
                if inner is not None and inner.status != STATUS_WORDS[word]:
                    return None
                return StatusReading(STATUS_WORDS[word], False)
    return None
