"""A workbook that keeps its problems and its measures on two sheets (问题清单 and 任务清单,
DOMAIN.md §4) becomes one ledger sheet: each problem's row followed by its measure rows,
joined by the problem's 序号, so the one sheet parser reads it like any other ledger.

The joined sheet remembers where each of its cells came from (`Sheet.origin`), so a problem
found in it is reported at its own sheet and row. A measure row whose 序号 names no problem,
and a problem without a measure, are reported there too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xuncha.ledger import columns as cols
from xuncha.ledger.classify import looks_like_heading
from xuncha.ledger.sources import Sheet
from xuncha.ledger.text import Cell, cell_text, nfkc, seq_key, squash

HEADER_SCAN_ROWS = 40
# A measure numbered under its problem ("1.2", "1-2", "1－2"): the problem's 序号 comes first.
_PARENT = re.compile(r"^(\d+)[.\-－—](\d+)$")
# A task sheet names the problem its measure belongs to in one of these columns (else 序号).
PROBLEM_REF = ("问题序号", "对应问题序号", "所属问题序号", "对应问题编号", "问题编号")


@dataclass
class Origin:
    """Where the joined sheet's cells came from: per joined row, the problem sheet's row
    (columns before `split`) and the task sheet's row (from `split` on)."""

    problem_sheet: str
    task_sheet: str
    split: int
    problem_rows: list[int | None]
    task_rows: list[int | None]

    def locate(self, row: int, col: int | None) -> tuple[str, int | None]:
        """(sheet name, 0-based row) of a joined cell; the task side when col ≥ split."""
        if col is not None and col >= self.split:
            task = self.task_rows[row] if row < len(self.task_rows) else None
            if task is not None:
                return self.task_sheet, task
        problem = self.problem_rows[row] if row < len(self.problem_rows) else None
        if problem is not None:
            return self.problem_sheet, problem
        task = self.task_rows[row] if row < len(self.task_rows) else None
        return self.task_sheet, task


def _filled(sheet: Sheet, limit: int | None = None) -> list[list[Cell]]:
    """The rows (the first `limit` only, when given) with each merged range's value over
    the whole range."""
    rows = [list(r) for r in sheet.rows[:limit]]
    for r1, c1, r2, c2 in sheet.merges:
        if r1 >= len(rows):
            continue
        top = rows[r1][c1] if c1 < len(rows[r1]) else None
        for r in range(r1, min(r2, len(rows) - 1) + 1):
            for c in range(c1, min(c2, len(rows[r]) - 1) + 1):
                rows[r][c] = top
    return rows


def _header(rows: list[list[Cell]]) -> tuple[int, dict[int, str]] | None:
    for r in range(min(len(rows), HEADER_SCAN_ROWS)):
        found: dict[int, str] = {}
        for c, value in enumerate(rows[r]):
            if isinstance(value, str) and value.strip() and len(value) <= 40:
                if squash(value) in {squash(w) for w in PROBLEM_REF}:
                    found[c] = "problem_ref"
                    continue
                name = cols.field_of(value)
                if name is not None:
                    found[c] = name
        if len(set(found.values())) >= 2 and (
            "title" in found.values() or "measure" in found.values()
        ):
            return r, found
    return None


def _seq(value: Cell) -> str:
    return seq_key(cell_text(value))


def _is_group(texts: list[str]) -> bool:
    distinct = list(dict.fromkeys(texts))
    return (1 <= len(distinct) <= 2 and bool(looks_like_heading(nfkc(distinct[0])))) or (
        len(distinct) == 1 and squash(distinct[0]).endswith("方面")
    )


def join_lists(sheets: list[Sheet]) -> list[Sheet]:
    """The sheets, with a 问题清单 (problems, no measures) and a 任务清单 (measures, no
    problems) replaced by one joined sheet; other sheets as they are."""
    heads = {id(s): _header(_filled(s, HEADER_SCAN_ROWS)) for s in sheets}

    def first_with(has: str, lacks: str) -> Sheet | None:
        """The first sheet whose header names `has` and a 序号, and not `lacks`."""
        for sheet in sheets:
            head = heads[id(sheet)]
            names = set(head[1].values()) if head is not None else set()
            if has in names and lacks not in names and names & {"seq", "problem_ref"}:
                return sheet
        return None

    problem = first_with("title", "measure")
    task = first_with("measure", "title")
    if problem is None or task is None:
        return sheets
    joined = _join(problem, task, heads[id(problem)], heads[id(task)])  # type: ignore[arg-type]
    out: list[Sheet] = []
    for sheet in sheets:
        if sheet is problem:
            out.append(joined)
        elif sheet is not task:
            out.append(sheet)
    return out


def _join(
    problem: Sheet,
    task: Sheet,
    problem_head: tuple[int, dict[int, str]],
    task_head: tuple[int, dict[int, str]],
) -> Sheet:
    p_rows, t_rows = _filled(problem), _filled(task)
    p_header, p_fields = problem_head
    t_header, t_fields = task_head
    p_width = max((len(r) for r in p_rows), default=0)
    t_ref = next((c for c, f in t_fields.items() if f == "problem_ref"), None)
    if t_ref is None:
        t_ref = next(c for c, f in t_fields.items() if f == "seq")
    t_cols = [c for c in range(max((len(r) for r in t_rows), default=0)) if c != t_ref]
    p_seq = next((c for c, f in p_fields.items() if f in ("seq", "problem_ref")), None)
    assert p_seq is not None

    def task_part(r: int | None) -> list[Cell]:
        if r is None:
            return ["" for _ in t_cols]
        row = t_rows[r]
        return [row[c] if c < len(row) else "" for c in t_cols]

    def pad(row: list[Cell]) -> list[Cell]:
        return list(row) + [""] * (p_width - len(row))

    # The task sheet's measure rows by the problem they name (group ordinal where the task
    # sheet has group rows, 序号).
    by_ref: dict[tuple[int, str], list[int]] = {}
    group = 0
    task_groups = False
    last_ref = ""
    problem_seqs = {
        _seq(row[p_seq]) for row in p_rows[p_header + 1 :] if p_seq < len(row) and row[p_seq]
    }
    for r in range(t_header + 1, len(t_rows)):
        texts = [t for t in (cell_text(v) for v in t_rows[r]) if t]
        if not texts:
            continue
        measure_cells = [c for c, f in t_fields.items() if f == "measure"]
        if _is_group(texts) and all(not cell_text(t_rows[r][c]) for c in measure_cells[:1]):
            group += 1
            task_groups = True
            continue
        ref = _seq(t_rows[r][t_ref] if t_ref < len(t_rows[r]) else None)
        if not ref:  # a blank 序号 under a problem's first measure: the same problem
            ref = last_ref
        elif ref not in problem_seqs and (parent := _PARENT.match(ref)):
            ref = parent.group(1) if parent.group(1) in problem_seqs else ref  # "1.2" → 1
        last_ref = ref
        by_ref.setdefault((group, ref), []).append(r)
    rows: list[list[Cell]] = []
    p_origin: list[int | None] = []
    t_origin: list[int | None] = []
    for r in range(p_header):
        rows.append(pad(p_rows[r]) + ["" for _ in t_cols])
        p_origin.append(r)
        t_origin.append(None)
    rows.append(pad(p_rows[p_header]) + task_part(t_header))
    p_origin.append(p_header)
    t_origin.append(t_header)
    used: set[tuple[int, str]] = set()
    group = 0
    for r in range(p_header + 1, len(p_rows)):
        row = p_rows[r]
        texts = [t for t in (cell_text(v) for v in row) if t]
        title_col = next(c for c, f in p_fields.items() if f == "title")
        title = cell_text(row[title_col] if title_col < len(row) else None)
        if texts and _is_group(texts) and (not title or title == texts[-1]):
            group += 1
        seq = _seq(row[p_seq] if p_seq < len(row) else None)
        key = (group if task_groups else 0, seq)
        measures = by_ref.get(key, []) if seq else []
        if seq:
            used.add(key)
        rows.append(pad(row) + task_part(measures[0] if measures else None))
        p_origin.append(r)
        t_origin.append(measures[0] if measures else None)
        for m in measures[1:]:
            rows.append(list(pad([])) + task_part(m))
            p_origin.append(None)
            t_origin.append(m)
    orphans = [
        (m, key[1]) for key, measure_rows in by_ref.items() if key not in used for m in measure_rows
    ]
    return Sheet(
        f"{problem.name}+{task.name}",
        rows,
        [],
        origin=Origin(problem.name, task.name, p_width, p_origin, t_origin),
        orphans=sorted(orphans),
    )
