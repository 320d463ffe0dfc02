"""Text helpers shared by the ledger reader: normalising for matching, blank markers, cell text,
column letters and splitting a cell that holds several numbered items.

Normalising is only ever used to *compare* (headers, statuses, categories, matching a problem
or a measure across ledgers); what the unit wrote is stored as written, stripped of outer
whitespace only, so its own words are kept.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata

# Cells that mean "nothing here" in real ledgers.
BLANK_MARKERS = frozenset(
    {"/", "//", "\\", "-", "--", "---", "—", "——", "–", "无", "暂无", "空", "空白", "n/a", "na"}
)

_SPACE = re.compile(r"\s+")
# Leading enumeration markers: 1. 1、 (1) （1） ① 一、 （一） 一是 第一，…
_LEADING_MARKER = re.compile(
    r"^(?:"
    r"[(（]\s*(?:\d{1,3}|[一二三四五六七八九十]{1,3})\s*[)）]\s*[、.．,，]?"
    r"|\d{1,3}\s*(?:[.．、，,)）](?:(?!\d)|(?=\d{4}[年./-])))"
    r"|[①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳]"
    r"|[一二三四五六七八九十]{1,3}\s*[、.．是]"
    r"|第[一二三四五六七八九十\d]{1,3}[、，,.．:：]?"
    r")\s*"
)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def squash(text: str) -> str:
    """NFKC, no whitespace at all, case-folded: the form headers and words are compared in."""
    return _SPACE.sub("", nfkc(text)).casefold()


def is_punctuation(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PSZ" or ch.isspace()


def _punctuation_class() -> re.Pattern[str]:
    """One character class of the punctuation, symbol and space characters of the Basic
    Multilingual Plane, built once (a regex removes them far faster than a loop)."""
    ranges: list[str] = []
    start: int | None = None
    for code in range(0x10001):
        inside = code < 0x10000 and is_punctuation(chr(code))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            last = code - 1
            ranges.append(
                re.escape(chr(start)) + (f"-{re.escape(chr(last))}" if last > start else "")
            )
            start = None
    return re.compile("[" + "".join(ranges) + "]+")


_PUNCTUATION = _punctuation_class()


def strip_punctuation(text: str) -> str:
    """The text without punctuation, symbols or spaces."""
    stripped = _PUNCTUATION.sub("", text)
    if stripped and max(stripped) > "\uffff":
        stripped = "".join(ch for ch in stripped if not is_punctuation(ch))
    return stripped


@functools.lru_cache(maxsize=262144)
def match_key(text: str) -> str:
    """The key a problem or a measure is matched by across ledgers: NFKC, case-folded, without
    whitespace, punctuation or a leading enumeration marker ("1." "（一）" "①")."""
    folded = nfkc(text).strip()
    for _ in range(2):  # "一、（1）…" carries two markers at most
        stripped = _LEADING_MARKER.sub("", folded, count=1)
        if stripped == folded:
            break
        folded = stripped
    return strip_punctuation(folded.casefold())


def seq_key(seq: str | None) -> str:
    """A 序号 as compared: NFKC, no spaces or trailing punctuation ("1." "（1）" "1、" → "1")."""
    return squash(seq).strip(".．、,，)）(（") if seq else ""


def strip_marker(text: str) -> str:
    """The text without its leading enumeration marker, as written otherwise."""
    stripped = _LEADING_MARKER.sub("", text.strip(), count=1).strip()
    return stripped or text.strip()


def clean(text: str) -> str:
    """Outer whitespace (incl. the ideographic space) removed, line endings unified."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip(" \t\n\u3000\xa0")


_MARKER_LENGTH = max(len(m) for m in BLANK_MARKERS) + 2  # "— —" with inner spaces


@functools.lru_cache(maxsize=16384)
def _is_marker(short: str) -> bool:
    s = squash(short)
    return not s or s in BLANK_MARKERS


def is_blank_text(text: str) -> bool:
    stripped = text.strip()
    if not stripped:
        return True
    if len(stripped) > _MARKER_LENGTH:  # fast path: no blank marker is this long
        return False
    return _is_marker(stripped)


Cell = str | int | float | bool | dt.date | dt.datetime | dt.time | dt.timedelta | None


def is_blank(value: Cell) -> bool:
    if value is None:
        return True
    if type(value) is str:
        return is_blank_text(value)
    return False


def cell_text(value: Cell) -> str | None:
    """A cell as the text a user sees; None when blank or a blank marker."""
    if type(value) is str:
        text = value
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = text.strip(" \t\n\u3000\xa0")
        if not text or (len(text) <= _MARKER_LENGTH and _is_marker(text)):
            return None
        return text
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return cell_text(str(value))


def column_letter(index: int) -> str:
    """0-based column index → Excel letters (0 → A, 26 → AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}


def cn_number(text: str) -> int | None:
    """'3', '三', '十二', '二十' → int; None when not a number."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in CN_DIGITS and ch != "十" for ch in text):
        return None
    if "十" not in text:
        return CN_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    value = (CN_DIGITS[tens] if tens else 1) * 10
    return value + (CN_DIGITS[ones] if ones else 0)


# -- several numbered items in one cell ---------------------------------------------------

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_CN = "一二三四五六七八九十"

# Each style: (regex finding a candidate marker with its number, its name).
_STYLES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[(（]\s*(\d{1,2})\s*[)）]"), "paren_digit"),
    # "2.5万元" is not a marker, "1.2024年6月底前" is.
    (re.compile(r"(\d{1,2})\s*[.．、](?:(?!\d)|(?=\d{4}[年./-]))"), "digit"),
    (re.compile(r"(\d{1,2})\s*[)）]"), "digit_paren"),
    (re.compile(f"([{_CIRCLED}])"), "circled"),
    (re.compile(f"[(（]([{_CN}]{{1,2}})[)）]"), "paren_cn"),
    (re.compile(f"([{_CN}]{{1,2}})是"), "cn_shi"),
    (re.compile(f"([{_CN}]{{1,2}})、"), "cn_comma"),
]
# A marker after the first must start a line or follow the end of a clause.
_BOUNDARY = set("\n。；;！!？?")
# Bracketed and circled markers are distinctive enough to split anywhere.
_ANYWHERE = {"paren_digit", "paren_cn", "circled"}


def _marker_number(style: str, raw: str) -> int | None:
    if style == "circled":
        return _CIRCLED.index(raw) + 1
    if style in ("paren_cn", "cn_shi", "cn_comma"):
        return cn_number(raw)
    return int(raw)


def split_numbered(text: str) -> list[str]:
    """Split '1.…\\n2.…' or '（1）…（2）…' or '①…②…' or '一是…二是…' into items.

    Only when the text starts with marker 1 and markers 2, 3 … follow in order (digit and
    '一是' markers at the start of a line or after the end of a clause, so '2.5万元' or
    '第1、2项' never split). Returns [text] when the cell is not a numbered list; markers and
    the separators after an item are removed from the items.
    """
    body = text.strip()
    for pattern, style in _STYLES:
        first = pattern.match(body)
        if not first or _marker_number(style, first.group(1)) != 1:
            continue
        cuts = [(0, first.end())]
        expected = 2
        for found in pattern.finditer(body, first.end()):
            if _marker_number(style, found.group(1)) != expected:
                continue
            before = body[: found.start()].rstrip(" \t\u3000")
            if not before:
                continue
            if style not in _ANYWHERE and before[-1] not in _BOUNDARY:
                continue
            cuts.append((found.start(), found.end()))
            expected += 1
        if len(cuts) < 2:
            continue
        items = []
        for k, (_, content_start) in enumerate(cuts):
            end = cuts[k + 1][0] if k + 1 < len(cuts) else len(body)
            items.append(clean(body[content_start:end]).rstrip("；;，,、 \u3000"))
        if all(items):
            return items
    return [body]
