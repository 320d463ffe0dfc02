"""Category text as units write it → L1 (and L2 when the wording names one), never guessed.

L1 comes from the 四个落实 wording or the older 三个聚焦 wording (the aliases the store keeps
in `category_aliases`, seeded from `xuncha.store.categories.ALIASES`), the L1 names and the
usual ledger labels. A text that contains the aliases of exactly one L1 maps to it; a text
naming none, or several, is an error. L2 is set only when a 问题子类 text (or the category
text itself) is exactly an L2 name, one of its parts, or its code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from xuncha.ledger.text import is_punctuation, nfkc, strip_punctuation
from xuncha.store import categories

_MARKER = re.compile(
    r"^(?:[(（]?[一二三四五六七八九十\d]{1,3}[)）]|[一二三四五六七八九十\d]{1,3}[、.．]|第[一二三四五六七八九十\d]{1,3}(?:部分|类|项)?[、:：]?)"
)
_SUFFIXES = (
    "方面存在的突出问题",
    "方面存在的问题",
    "方面的问题",
    "方面问题",
    "方面",
    "存在的问题",
    "的问题",
    "问题",
)


def category_key(text: str) -> str:
    """NFKC, no numbering marker, no punctuation or spaces, no trailing '方面（的问题）'."""
    body = nfkc(text).strip()
    body = _MARKER.sub("", body, count=1)
    body = strip_punctuation(body)
    if body.startswith(("在", "关于")) and len(body) > 4:
        body = body[1:] if body.startswith("在") else body[2:]
    for suffix in _SUFFIXES:
        if body.endswith(suffix) and len(body) > len(suffix):
            body = body[: -len(suffix)]
            break
    return body


@dataclass(frozen=True)
class CategoryReading:
    l1: str | None
    l2: str | None


class CategoryError(ValueError):
    """Category text that cannot be mapped; the message is the reason shown to the user."""


@dataclass
class Classifier:
    """Maps category and sub-category text with one alias list (the store's, or the seed)."""

    aliases: list[tuple[str, str]] = field(default_factory=list)  # (wording, L1)

    def __post_init__(self) -> None:
        if not self.aliases:
            self.aliases = [(alias, l1) for _, alias, l1 in categories.ALIASES]
        table: dict[str, str] = {}
        for alias, l1 in self.aliases:
            table[category_key(alias)] = l1
        for code, name, label in categories.L1:
            table[category_key(name)] = code
            table[category_key(label)] = code
        table.pop(category_key(categories.L1_NAMES["Z"]), None)  # "其他" is handled as L2 Z99
        self._l1_exact = table
        # Containment only for distinctive wordings (not the short "其他").
        self._l1_contained = sorted(
            ((k, v) for k, v in table.items() if len(k) >= 5), key=lambda kv: -len(kv[0])
        )
        l2: dict[str, str] = {}
        for code, _, name in categories.L2:
            l2[code.casefold()] = code
            l2[category_key(name)] = code
            for part in name.split("/"):
                l2[category_key(part)] = code
        self._l2 = l2
        self._cache: dict[tuple[str | None, str | None], CategoryReading | CategoryError] = {}

    @classmethod
    def from_aliases(cls, rows: Iterable[tuple[str, str]]) -> Classifier:
        return cls(aliases=list(rows))

    def l2_of(self, text: str) -> str | None:
        key = category_key(text)
        return self._l2.get(key) or self._l2.get(key.casefold())

    def l1_of(self, text: str) -> str | None:
        """The L1 a category text names; None when it names none; CategoryError when it names
        several."""
        key = category_key(text)
        if not key:
            return None
        if key in self._l1_exact:
            return self._l1_exact[key]
        if len(key) == 1 and key.upper() in categories.L1_NAMES:
            return key.upper()
        found = {l1 for alias, l1 in self._l1_contained if alias in key}
        if len(found) > 1:
            raise CategoryError(
                f"类别表述同时对应多个一级类别（{'、'.join(sorted(found))}），无法确定"
            )
        return found.pop() if found else None

    def read(self, category: str | None, subcategory: str | None) -> CategoryReading:
        """L1 and L2 from a category text and an optional sub-category text."""
        key = (category, subcategory)
        cached = self._cache.get(key)
        if cached is None:
            try:
                cached = self._read(category, subcategory)
            except CategoryError as exc:
                cached = exc
            self._cache[key] = cached
        if isinstance(cached, CategoryError):
            raise cached
        return cached

    def _read(self, category: str | None, subcategory: str | None) -> CategoryReading:
        l1 = l2 = None
        if category:
            l1 = self.l1_of(category)
            if l1 is None:
                l2 = self.l2_of(category)
                if l2 is None:
                    raise CategoryError(
                        f"无法识别的问题类别“{category}”（应为“四个落实”或“三个聚焦”的表述，"
                        "如“落实全面从严治党战略部署方面”“党的建设缺失”，或二级类别名称）"
                    )
                l1 = categories.L2_PARENT[l2]
        if subcategory:
            sub = self.l2_of(subcategory)
            if sub is not None:
                if l1 is not None and categories.L2_PARENT[sub] != l1:
                    raise CategoryError(
                        f"问题子类“{subcategory}”（{sub}）不属于一级类别 {l1}"
                        f"（{categories.L1_NAMES[l1]}）"
                    )
                l2, l1 = sub, categories.L2_PARENT[sub]
        return CategoryReading(l1, l2)


def looks_like_heading(text: str) -> int:
    """0 when not a group heading; 1 for '一、…方面'; 2 for '（一）…' sub-headings."""
    body = nfkc(text).strip()
    if re.match(r"^[一二三四五六七八九十]{1,3}[、.．]", body) or re.match(
        r"^第[一二三四五六七八九十]{1,3}(?:部分|类)", body
    ):
        return 1
    if re.match(r"^[(（][一二三四五六七八九十]{1,3}[)）]", body):
        return 2
    return 0


def is_category_phrase(text: str) -> bool:
    squashed = "".join(ch for ch in nfkc(text) if not is_punctuation(ch))
    return squashed.endswith(_SUFFIXES[:5])
