"""What a clerk sees when a ledger is refused: the validation report grouped by kind
("12 行：整改状态无法识别（可用：…）" first, then its rows) for the command line and the page,
and a downloadable copy of the ledger with every offending cell filled and commented, behind a
first sheet 问题汇总 listing the groups.

An .xlsx is copied as it is (formulas replaced by their cached values; formatting, merged
cells, column widths and hidden rows kept); a .csv or .xls is rebuilt from the values the
reader saw. No cell of the copy ever runs as a formula.
"""

from __future__ import annotations

import io
import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter

from xuncha.export import FORMULA_PREFIXES
from xuncha.ledger.model import SEVERITY_LABELS, LedgerLimits, LedgerResult, Problem
from xuncha.ledger.safety import CheckedFile, RefusedFile, check_file
from xuncha.ledger.sources import Sheet, read_source

SUMMARY_SHEET = "问题汇总"
FRAME_COLUMNS = ["级别", "类别", "行数", "工作表", "行", "列", "值", "问题", "可接受的写法"]

_AUTHOR = "巡察数据驾驶舱"
# Fills (ARGB) of a problem's cell and, for a problem about a whole row, of the row's cells.
CELL_FILLS = {"error": "FFFFC7CE", "warning": "FFFFEB9C"}
ROW_FILLS = {"error": "FFFDECEC", "warning": "FFFFF8DC"}
_GROUP_FILL = {"error": "FFF8D7DA", "warning": "FFFFF3CD"}
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")
_COMMENT_CHARS = 30_000  # Excel keeps at most 32,767 characters of a comment


# -- grouping ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemGroup:
    """The problems of one kind in one file, at one severity: what a clerk fixes in one pass."""

    severity: str
    file: str
    kind: str
    hint: str | None
    problems: tuple[Problem, ...]

    @property
    def rows(self) -> int:
        """Distinct rows affected; problems about the file or a whole sheet count none."""
        return len({(p.sheet, p.row) for p in self.problems if p.row is not None})

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def headline(self) -> str:
        """ "12 行：整改状态无法识别（可用：…）", or "文件：…" when no problem has a row."""
        text = f"{self.rows} 行：{self.kind}" if self.rows else f"文件：{self.kind}"
        return f"{text}（可用：{self.hint}）" if self.hint else text


def group_problems(problems: Iterable[Problem]) -> list[ProblemGroup]:
    """Problems grouped by (severity, file, kind): errors first, then the kinds touching more
    rows, then by kind; within a group by sheet and row. Problems from several files keep each
    file's groups together (within a severity, files in the order they come), so a clerk works
    through one file at a time."""
    buckets: dict[tuple[str, str, str], list[Problem]] = defaultdict(list)
    files: dict[str, int] = {}
    for problem in problems:
        files.setdefault(problem.file, len(files))
        buckets[(problem.severity, problem.file, problem.group)].append(problem)
    groups = []
    for (severity, file, kind), members in buckets.items():
        ordered = tuple(sorted(members, key=_position))
        hint = next((p.hint for p in ordered if p.hint), None)
        groups.append(ProblemGroup(severity, file, kind, hint, ordered))
    groups.sort(key=lambda g: (not g.is_error, files[g.file], -g.rows, g.kind))
    return groups


def _position(problem: Problem) -> tuple[str, int, int]:
    column = _column_index(problem.column_letter) or 0
    return (problem.sheet or "", -1 if problem.row is None else problem.row, column)


def _where(problem: Problem) -> str:
    """Problem.describe()'s location and value, without the file, severity or reason."""
    return problem.where()


def _own_reason(problem: Problem, group: ProblemGroup) -> str | None:
    """The problem's reason when it says more than its group's heading."""
    return None if problem.reason == group.kind else problem.reason


def grouped_lines(problems: Iterable[Problem]) -> list[str]:
    """The report for the command line: each group's headline, then one indented line per
    problem (工作表, 第N行, 列, 值; its reason only when it differs from the kind). The file
    name leads each headline when the problems come from several files."""
    groups = group_problems(problems)
    several_files = len({g.file for g in groups}) > 1
    lines: list[str] = []
    for group in groups:
        label = SEVERITY_LABELS.get(group.severity, group.severity)
        prefix = f"{group.file} " if several_files else ""
        lines.append(f"[{label}] {prefix}{group.headline()}")
        for problem in group.problems:
            where = _where(problem)
            reason = _own_reason(problem, group)
            if where and reason:
                lines.append(f"  {where}：{reason}")
            elif where or reason:
                lines.append(f"  {where or reason}")
    return lines


def grouped_frame(problems: Iterable[Problem]) -> pl.DataFrame:
    """The grouped report for the page: one row per problem in group order, with the group's
    kind, row count and what would be accepted."""
    records = [
        {
            "级别": SEVERITY_LABELS.get(group.severity, group.severity),
            "类别": group.kind,
            "行数": group.rows,
            "工作表": problem.sheet,
            "行": problem.row,
            "列": problem.column,
            "值": problem.value,
            "问题": problem.reason,
            "可接受的写法": problem.hint or group.hint,
        }
        for group in group_problems(problems)
        for problem in group.problems
    ]
    schema = {name: pl.String for name in FRAME_COLUMNS} | {"行数": pl.Int64, "行": pl.Int64}
    return pl.DataFrame(records, schema=schema)


# -- the annotated copy --------------------------------------------------------------------------


def annotated_copy(path: Path, result: LedgerResult) -> bytes:
    """The ledger as an .xlsx with each problem's cell filled (errors light red, warnings light
    yellow) and commented ("【错误】reason\\n可用：hint"), a row-level problem marking the row's
    first used cell and tinting the row, and a first sheet 问题汇总 listing the groups.

    The file is checked again as the reader checks it; a refused file gets the summary alone.
    """
    book: Any = None
    titles: dict[str | None, str] = {}
    if not result.refused:
        book, titles = _workbook_of(Path(path), result.file_name)
    if book is None:
        book = openpyxl.Workbook()
        book.remove(book.active)
    _mark(book, titles, result.problems)
    _summary_sheet(book, group_problems(result.problems))
    _make_inert(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _workbook_of(path: Path, file_name: str) -> tuple[Any, dict[str | None, str]]:
    """The original workbook (an .xlsx), else one rebuilt from what the reader saw (None when
    the file cannot be read again), with the sheet title each Problem.sheet names."""
    limits = LedgerLimits.from_env()
    started = time.monotonic()
    try:
        checked = check_file(path, file_name, limits, started)
    except RefusedFile:
        return None, {}
    if checked.kind == "xlsx":
        kept = _load_xlsx(checked)
        if kept is not None:
            return kept, {title: title for title in kept.sheetnames}
    try:
        source = read_source(checked, limits, started)
    except RefusedFile:
        return None, {}
    return _rebuild(source.sheets, file_name)


def _load_xlsx(checked: CheckedFile) -> Any:
    try:
        # data_only: a formula becomes its cached value, so nothing in the copy computes;
        # keep_links=False drops links to other workbooks for the same reason.
        return openpyxl.load_workbook(
            io.BytesIO(checked.data), data_only=True, keep_links=False, rich_text=False
        )
    except Exception:  # openpyxl raises many types for parts calamine tolerates
        return None


def _rebuild(sheets: list[Sheet], file_name: str) -> tuple[Any, dict[str | None, str]]:
    book = openpyxl.Workbook()
    book.remove(book.active)
    titles: dict[str | None, str] = {}
    for sheet in sheets:
        title = sheet.name
        if sheet.from_csv:
            title = Path(file_name).stem or "台账"
        ws = book.create_sheet(_sheet_title(title, book.sheetnames))
        # A CSV's problems name no sheet; an .xls sheet's title may have had to change.
        titles[None if sheet.from_csv else sheet.name] = ws.title
        widths: dict[int, int] = {}
        for r, values in enumerate(sheet.rows, start=1):
            for c, value in enumerate(values, start=1):
                if value is None or value == "":
                    continue
                cell = ws.cell(row=r, column=c)
                _put(cell, value)
                text = str(value)
                if len(text) > 40 or "\n" in text:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
                if r <= 500:
                    longest = max(_width(line) for line in text.split("\n"))
                    widths[c] = max(widths.get(c, 0), longest)
        for r1, c1, r2, c2 in sheet.merges:
            if (r1, c1) != (r2, c2):
                ws.merge_cells(
                    start_row=r1 + 1, start_column=c1 + 1, end_row=r2 + 1, end_column=c2 + 1
                )
        for c, width in widths.items():
            ws.column_dimensions[get_column_letter(c)].width = min(max(width + 2, 8), 50)
    return book, titles


def _sheet_title(name: str, taken: list[str]) -> str:
    base = _BAD_TITLE.sub("_", name).strip("'")[:31] or "台账"
    title, n = base, 1
    while title in taken:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]}_{n}"
    return title


def _mark(book: Any, titles: dict[str | None, str], problems: list[Problem]) -> None:
    by_name = {name: book[title] for name, title in titles.items()}
    # A problem naming no sheet belongs to the only one there is (a CSV's, always).
    only = book.worksheets[0] if len(book.worksheets) == 1 else None
    cells: dict[tuple[str, int, int], list[Problem]] = defaultdict(list)
    rows: dict[tuple[str, int], str] = {}
    for problem in problems:
        if problem.row is None:
            continue  # the summary alone says it
        ws = by_name.get(problem.sheet) or (only if problem.sheet is None else None)
        if ws is None:
            continue
        column = _column_index(problem.column_letter)
        if column is None:
            column = _first_used_column(ws, problem.row)
            if rows.get((ws.title, problem.row)) != "error":
                rows[(ws.title, problem.row)] = problem.severity
        row, column = _anchor(ws, problem.row, column)
        cells[(ws.title, row, column)].append(problem)
    for (title, row), severity in rows.items():
        ws = book[title]
        fill = _fill(ROW_FILLS[severity])
        for column in range(1, max(ws.max_column, 1) + 1):
            ws.cell(row=row, column=column).fill = fill
    for (title, row, column), marked in cells.items():
        cell = book[title].cell(row=row, column=column)
        severity = "error" if any(p.is_error for p in marked) else "warning"
        cell.fill = _fill(CELL_FILLS[severity])
        cell.comment = _comment(marked, cell.comment)


def _column_index(letter: str | None) -> int | None:
    if not letter:
        return None
    try:
        return int(column_index_from_string(letter))
    except ValueError:
        return None


def _first_used_column(ws: Any, row: int) -> int:
    for cells in ws.iter_rows(min_row=row, max_row=row):
        for cell in cells:
            if cell.value is not None and str(cell.value).strip():
                return int(cell.column)
    return 1


def _anchor(ws: Any, row: int, column: int) -> tuple[int, int]:
    """A cell inside a merged range is marked on the range's top-left cell (the only one that
    holds a value and can carry a comment)."""
    if not isinstance(ws.cell(row=row, column=column), MergedCell):
        return row, column
    for merged in ws.merged_cells.ranges:
        if merged.min_row <= row <= merged.max_row and merged.min_col <= column <= merged.max_col:
            return merged.min_row, merged.min_col
    return row, column


def _fill(color: str) -> PatternFill:
    return PatternFill(fill_type="solid", start_color=color, end_color=color)


def _comment(problems: list[Problem], existing: Any) -> Comment:
    lines: list[str] = []
    for problem in problems:
        label = SEVERITY_LABELS.get(problem.severity, problem.severity)
        lines.append(f"【{label}】{problem.reason}")
        if problem.hint and problem.hint not in problem.reason:  # said once, not twice
            lines.append(f"可用：{problem.hint}")
    if existing is not None and existing.text:
        lines += ["——原批注——", existing.text]
    text = "\n".join(dict.fromkeys(lines))[:_COMMENT_CHARS]
    comment = Comment(text, _AUTHOR)
    # Sized to the text (Excel's default 144 × 79 px box shows a few short lines): about 7 px
    # a half-width character of the 9 pt comment font, 16 px a line, wrapped at the width.
    units = [_width(line) for line in text.split("\n")]
    width = min(max(max(units, default=0) * 7 + 20, 180), 480)
    per_line = max((width - 20) // 7, 1)
    shown_lines = sum(max(math.ceil(u / per_line), 1) for u in units)
    comment.width = width
    comment.height = min(shown_lines * 16 + 24, 640)
    return comment


def _summary_sheet(book: Any, groups: list[ProblemGroup]) -> None:
    ws = book.create_sheet(SUMMARY_SHEET, 0)
    header = ["级别", "问题类别", "工作表", "行", "列", "值", "说明"]
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for c, name in enumerate(header, start=1):
        cell = ws.cell(row=1, column=c)
        _put(cell, name)
        cell.font = bold
        cell.fill = _fill("FFF2F2F2")
    r = 1
    for group in groups:
        r += 1
        fill = _fill(_GROUP_FILL.get(group.severity, "FFF2F2F2"))
        _put(ws.cell(row=r, column=1), SEVERITY_LABELS.get(group.severity, group.severity))
        _put(ws.cell(row=r, column=2), group.headline())
        for c in range(1, len(header) + 1):
            cell = ws.cell(row=r, column=c)
            cell.fill = fill
            cell.font = bold
            cell.alignment = wrap
        for problem in group.problems:
            r += 1
            values = [
                None,
                None,
                problem.sheet,
                problem.row,
                problem.column,
                problem.value,
                _own_reason(problem, group),
            ]
            for c, value in enumerate(values, start=1):
                cell = ws.cell(row=r, column=c)
                if value is not None:
                    _put(cell, value)
                cell.alignment = wrap
    if not groups:
        _put(ws.cell(row=2, column=2), "未发现问题")
    for letter, width in zip("ABCDEFG", (8, 56, 16, 8, 22, 30, 50), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    for other in book.worksheets:
        other.sheet_view.tabSelected = False
    ws.sheet_view.tabSelected = True
    book.active = 0


def _put(cell: Any, value: Any) -> None:
    """Assign a value; text is kept as text even when it reads like a formula."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.value = value
        cell.data_type = "s"
    else:
        cell.value = value


def _make_inert(book: Any) -> None:
    """The product's rule for anything exported: no cell runs as a formula. Kept cells whose
    text starts with = + - @ become plain text, as does anything still typed as a formula."""
    for ws in book.worksheets:
        # ws._cells holds only the cells that exist; iter_rows would create every empty one.
        for cell in ws._cells.values():
            value = cell.value
            if cell.data_type == "f":
                cell.value = "" if value is None else str(value)
                cell.data_type = "s"
            elif isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
                cell.data_type = "s"


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
