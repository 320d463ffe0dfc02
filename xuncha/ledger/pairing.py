"""Pairing a later ledger with what the store already holds (DOMAIN.md §4): by place first,
then by text where the numbering moved, never silently.

A problem is paired with a held problem of the same inspection by its 序号 (its position in
the ledger) when the texts agree enough; where the numbering moved, by identical text; then by
similar text. Measures of a paired problem are paired the same way by their order under it.
Every pairing is `same`, `changed`, `new` or `missing`. A pairing that rests on text alone
while both sides have a 序号 (the numbering moved), a 序号 pairing whose texts differ widely,
and a problem with several equally likely partners need a person's confirmation: the import
writes nothing until it has it (a pairing file on the command line, a table on the page).

Pure functions over small records: nothing here reads or writes the store.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from xuncha.ledger.text import match_key

# Text similarity (0–100, rapidfuzz's ratio over the normalised texts).
SAME_PLACE = 50.0  # a 序号 pairing stands without confirmation at or above this
SIMILAR = 60.0  # a text pairing is proposed at or above this
MARGIN = 5.0  # …when its partner is this much better than the next candidate
NEAR = 90.0  # a 序号 pairing this close needs no look at the other candidates
# Comparisons spent looking for a better partner than the one at the same 序号 (each is
# cheap, but a ledger rewritten from end to end would make millions); past it, ask a person.
LOOK_BUDGET = 2_000_000

VERDICTS = {"same": "相同", "changed": "有改动", "new": "新增", "missing": "未列出"}
BASES = {"place": "序号", "text": "文字相同", "similar": "文字相似", "confirmed": "人工确认"}


@dataclass(frozen=True)
class Item:
    """One problem or measure on either side: its place, its words, and its id if held."""

    place: str | None  # 序号 position of a problem, order of a measure; None when unknown
    text: str  # normalised words compared (title + detail; a measure's text)
    id: int | None = None  # held: finding_id / measure_id
    index: int = 0  # parsed: index in the ledger's list


@dataclass
class Pair:
    """One pairing: a parsed item with a held one (or none: new), or a held item left alone
    (missing). `candidates` are held ids equally likely when ambiguous."""

    parsed: Item | None
    held: Item | None
    basis: str  # place | text | similar | confirmed | "" (new, missing)
    score: float = 100.0
    confirm: bool = False  # needs a person's confirmation
    why: str = ""  # why it needs confirmation (Chinese)
    candidates: tuple[int, ...] = ()

    @property
    def verdict(self) -> str:
        if self.parsed is None:
            return "missing"
        if self.held is None:
            return "new"
        return "same" if self.parsed.text == self.held.text else "changed"


def words(*parts: str | None) -> str:
    """The text compared: each part normalised (NFKC, no punctuation, spaces or numbering)."""
    return "\x1f".join(match_key(p) for p in parts if p)


def similarity(a: str, b: str) -> float:
    """0–100. A problem's words are its title and its 具体表现; titles are generic ("工程项目管理
    不规范" over several problems), so where both sides have a 具体表现 it weighs most."""
    if a == b:
        return 100.0
    a_parts, b_parts = a.split("\x1f"), b.split("\x1f")
    if len(a_parts) == 2 and len(b_parts) == 2:
        title = fuzz.ratio(a_parts[0], b_parts[0])
        detail = fuzz.ratio(a_parts[1], b_parts[1])
        return float(0.3 * title + 0.7 * detail)
    return float(fuzz.ratio(a, b))


def _better_elsewhere(
    p: Item,
    h: Item,
    score: float,
    parsed: Sequence[Item],
    pairs: dict[int, Pair],
    free: dict[int | None, Item],
) -> bool:
    """Whether p fits another free held item, or h another unpaired parsed item, clearly
    better than p and h fit each other; True (ask) when looking would cost too much."""
    if len(free) + len(parsed) > LOOK_BUDGET // 100:
        return True
    if any(similarity(p.text, o.text) > score + MARGIN for o in free.values() if o.id != h.id):
        return True
    return any(
        similarity(q.text, h.text) > score + MARGIN
        for q in parsed
        if q.index != p.index and q.index not in pairs
    )


def pair_items(parsed: Sequence[Item], held: Sequence[Item]) -> list[Pair]:
    """Pair parsed items with held ones; every parsed item appears once (new when unpaired),
    then every held item left over (missing), in their own order."""
    pairs: dict[int, Pair] = {}  # parsed index → pair
    free = {h.id: h for h in held}
    # 1. The same words, once on each side: the same item, wherever it now stands (generic
    #    titles make words alone unsafe only when they repeat, and then they are skipped).
    held_words = Counter(h.text for h in held)
    parsed_words = Counter(p.text for p in parsed)
    by_words = {h.text: h for h in held if held_words[h.text] == 1}
    for p in parsed:
        twin = by_words.get(p.text)
        if twin is None or parsed_words[p.text] != 1:
            continue
        moved = bool(
            p.place
            and twin.place
            and not p.place.startswith("#")
            and not twin.place.startswith("#")
            and p.place != twin.place
        )
        pairs[p.index] = Pair(
            p,
            twin,
            "text" if moved else "place",
            100.0,
            confirm=moved,
            why=f"序号由“{twin.place}”变为“{p.place}”，按文字相同配对" if moved else "",
        )
        del free[twin.id]
    # 2. By place, where the words agree enough.
    by_place: dict[str, list[Item]] = {}
    for h in held:
        if h.place:
            by_place.setdefault(h.place, []).append(h)
    deferred: dict[int, Item] = {}  # same 序号, words far apart: the numbering may have moved
    for p in parsed:
        if p.index in pairs or not p.place or p.place.startswith("#"):
            continue
        same = by_place.get(p.place, [])
        if len(same) != 1 or same[0].id not in free:
            continue
        h = same[0]
        score = similarity(p.text, h.text)
        if score < SAME_PLACE:
            deferred[p.index] = h
            continue
        # Not when another held item fits this one clearly better, or this held item fits
        # another one clearly better (a row left out shifts the numbering of the rest).
        if score < NEAR and _better_elsewhere(p, h, score, parsed, pairs, free):
            deferred[p.index] = h
            continue
        pairs[p.index] = Pair(p, h, "place", score)
        del free[h.id]
    rest = [p for p in parsed if p.index not in pairs]
    # 3. Similar words: the best partner, when clearly better than the next (a person is asked
    #    for every one, as for everything left when there are too many to compare).
    if rest and free and len(rest) * len(free) > LOOK_BUDGET:
        for p in rest:
            pairs[p.index] = Pair(
                p, None, "", 0.0, confirm=True, why="台账改动过多，无法自动配对，请逐条确认"
            )
        rest = []
    if rest and free:
        scored = {
            p.index: sorted(
                ((similarity(p.text, h.text), h) for h in free.values()),
                key=lambda sh: (-sh[0], sh[1].id or 0),
            )
            for p in rest
        }
        for p in rest:
            ranked = [(s, h) for s, h in scored[p.index] if h.id in free]
            if not ranked or ranked[0][0] < SIMILAR:
                continue
            best_score, best = ranked[0]
            close = [h.id for s, h in ranked if s >= best_score - MARGIN and h.id is not None]
            if len(close) > 1:
                pairs[p.index] = Pair(
                    p,
                    None,
                    "",
                    best_score,
                    confirm=True,
                    why="与多个已有条目文字相近，无法确定对应哪一个",
                    candidates=tuple(close),
                )
                continue
            # The held item must not prefer another parsed item either.
            rivals = [
                similarity(q.text, best.text)
                for q in rest
                if q.index != p.index and q.index not in pairs
            ]
            if rivals and max(rivals) >= best_score - MARGIN:
                pairs[p.index] = Pair(
                    p,
                    None,
                    "",
                    best_score,
                    confirm=True,
                    why="多个条目与同一已有条目文字相近，无法确定对应关系",
                    candidates=(best.id,) if best.id is not None else (),
                )
                continue
            pairs[p.index] = Pair(
                p,
                best,
                "similar",
                best_score,
                confirm=True,
                why=f"按文字相似（{best_score:.0f}%）配对"
                + (f"，序号由“{best.place}”变为“{p.place}”" if best.place != p.place else ""),
            )
            del free[best.id]
    # 4. Same 序号 with words far apart and nothing better: propose it, ask a person.
    for index, h in deferred.items():
        if index in pairs or h.id not in free:
            continue
        p = next(q for q in parsed if q.index == index)
        score = similarity(p.text, h.text)
        pairs[index] = Pair(
            p,
            h,
            "place",
            score,
            confirm=True,
            why=f"序号相同但文字差异较大（相似度 {score:.0f}%），请确认是否同一条",
        )
        del free[h.id]
    out = [pairs.get(p.index) or Pair(p, None, "") for p in parsed]
    out.extend(Pair(None, h, "") for h in held if h.id in free)
    return out


def counts(pairs: Iterable[Pair]) -> dict[str, int]:
    """How many pairings of each verdict, and how many need confirmation."""
    found = Counter(p.verdict for p in pairs)
    out = {v: found.get(v, 0) for v in VERDICTS}
    out["confirm"] = sum(p.confirm for p in pairs)
    return out


# -- the pairing file (command line) and its decisions ----------------------------------

FILE_COLUMNS = (
    "文件",
    "文件SHA256",
    "类型",
    "工作表",
    "问题行",
    "措施序号",
    "所属问题编号",
    "行",
    "台账位置",
    "台账内容",
    "判断",
    "依据",
    "相似度",
    "需确认",
    "说明",
    "配对编号",
    "已有内容",
    "候选编号",
)
NEW_WORDS = {"", "新增", "new", "无", "-", "—"}


@dataclass(frozen=True)
class DecisionKey:
    """Which parsed item a decision is for: the file, the sheet and first row of its problem
    (numbers a spreadsheet program leaves as they are), and the measure's order under it for
    a measure."""

    sha256: str
    sheet: str
    row: int
    measure: int | None = None


@dataclass
class Decisions:
    """A person's pairings: for each parsed item, the held id it is, or None (new)."""

    chosen: dict[DecisionKey, int | None] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)  # the ledgers' SHA-256 the file was made for
    source: str = ""
    # A measure's decision holds only for the held problem it was made against (a person who
    # re-pairs the problem must look at its measures again): measure key → that problem's id.
    parents: dict[DecisionKey, int | None] = field(default_factory=dict)
    _decided: set[tuple[str, str, int, int | None]] = field(default_factory=set, repr=False)
    _built_for: int = field(default=-1, repr=False)

    def measures_decided(self, sha: str, sheet: str, row: int, parent: int | None) -> bool:
        """Whether the measures of this problem were decided against `parent`."""
        if self._built_for != len(self.parents):
            self._decided = {(k.sha256, k.sheet, k.row, p) for k, p in self.parents.items()}
            self._built_for = len(self.parents)
        return (sha, sheet, row, parent) in self._decided

    def get(self, key: DecisionKey) -> tuple[bool, int | None]:
        """(decided, held id or None)."""
        if key in self.chosen:
            return True, self.chosen[key]
        return False, None


class PairingFileError(ValueError):
    """A pairing file that cannot be used; the message says where and why (Chinese)."""


def write_pairing_file(path: Path, rows: list[dict[str, object]]) -> None:
    """The pairings as CSV with a BOM (opens in Excel); formula-like text neutralised."""

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FILE_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in FILE_COLUMNS])
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))


def _cell(value: object) -> str:
    from xuncha import export

    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.0f}"
    return export.neutralise(str(value))


def _whole(text: object) -> int | None:
    """A whole number as a spreadsheet program may have rewritten it ("4", "4.0"); None for
    anything else (blank, "4.5", "inf", words)."""
    raw = str(text or "").strip().lstrip("'")
    if not raw:
        return None
    try:
        number = float(raw)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")) or not number.is_integer():
        return None
    return int(number)


def read_pairing_file(path: Path) -> Decisions:
    """The decisions of an edited pairing file (columns as written by `write_pairing_file`;
    only 配对编号 is meant to be edited)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PairingFileError(f"无法读取配对文件 {path}：{exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise PairingFileError(f"配对文件 {path} 的编码无法识别（应为 UTF-8）") from None
    reader = csv.DictReader(io.StringIO(text))
    needed = ("文件SHA256", "类型", "工作表", "问题行", "措施序号", "配对编号")
    missing = [c for c in needed if c not in (reader.fieldnames or [])]
    if missing:
        raise PairingFileError(
            f"配对文件 {path} 缺少列：{'、'.join(missing)}（请使用试运行生成的文件）"
        )
    decisions = Decisions(source=str(path))
    for number, row in enumerate(reader, start=2):
        kind = (row.get("类型") or "").strip()
        if kind not in ("问题", "措施"):
            raise PairingFileError(f"配对文件第 {number} 行：类型应为“问题”或“措施”")
        sha = (row.get("文件SHA256") or "").strip()
        problem_row = _whole(row.get("问题行"))
        if problem_row is None:  # a held item the ledger does not list: nothing to decide
            continue
        measure: int | None = None
        if kind == "措施":
            measure = _whole(row.get("措施序号"))
            if measure is None:
                raise PairingFileError(f"配对文件第 {number} 行：措施序号应为数字")
        chosen = (row.get("配对编号") or "").strip().lstrip("#'")
        value: int | None
        if chosen in NEW_WORDS:
            value = None
        else:
            value = _whole(chosen)
            if value is None:
                raise PairingFileError(
                    f"配对文件第 {number} 行：配对编号“{chosen}”应为已有{kind}的编号，或留空/“新增”"
                )
        sheet = (row.get("工作表") or "").strip().lstrip("'")
        key = DecisionKey(sha, sheet, problem_row, measure)
        decisions.chosen[key] = value
        decisions.files.add(sha)
        if measure is not None:
            decisions.parents[key] = _whole(row.get("所属问题编号"))
    return decisions
