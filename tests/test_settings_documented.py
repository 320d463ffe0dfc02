"""Every XUNCHA_* environment variable the source mentions has one row in the README's settings
table, and every row names a variable the source still mentions.

The source is xuncha/**/*.py, app.py, pages/*.py, scripts/* and deploy/**; a variable counts
as mentioned wherever its name appears there (a read, a constant such as
ENV_KEY = "XUNCHA_STORE_KEY", a docstring). Only the one table of the section
"## Settings (environment variables)" is read: a name elsewhere in the README documents nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SECTION = "## Settings (environment variables)"
HEADER = ["Variable", "Default", "Meaning", "Used in"]
TOKEN = re.compile(r"XUNCHA_[A-Z0-9_]+")
NAME_CELL = re.compile(r"`(XUNCHA_[A-Z0-9_]+)`")


def source_files() -> list[Path]:
    found = [
        *(ROOT / "xuncha").rglob("*.py"),
        ROOT / "app.py",
        *(ROOT / "pages").glob("*.py"),
        *(ROOT / "scripts").glob("*"),
        *(ROOT / "deploy").rglob("*"),
    ]
    return sorted(p for p in found if p.is_file() and "__pycache__" not in p.parts)


def source_variables() -> dict[str, list[str]]:
    """Each variable the source mentions, with the files that mention it."""
    where: dict[str, list[str]] = {}
    for path in source_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for name in sorted(set(TOKEN.findall(text))):
            where.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return where


def _cells(line: str, number: int) -> list[str]:
    if not (line.startswith("|") and line.endswith("|")):
        raise AssertionError(f"README.md:{number}: a table row must start and end with '|'")
    return [cell.strip() for cell in line[1:-1].split("|")]


def table_rows(text: str) -> dict[str, list[str]]:
    """The settings table: variable name -> its row's cells. Strict: the section exists once,
    holds exactly one table, with the expected header, and every row is well formed."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.rstrip() == SECTION]
    assert len(starts) == 1, f"README.md needs exactly one {SECTION!r} section, found {len(starts)}"
    start = starts[0] + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    # Runs of consecutive table lines inside the section.
    tables: list[list[tuple[int, str]]] = []
    previous = False
    for i in range(start, end):
        line = lines[i].strip()
        is_table = line.startswith("|")
        if is_table:
            if not previous:
                tables.append([])
            tables[-1].append((i + 1, line))
        previous = is_table
    assert len(tables) == 1, f"the {SECTION!r} section must hold one table, found {len(tables)}"
    (header_number, header), (rule_number, rule), *body = tables[0]
    assert _cells(header, header_number) == HEADER, (
        f"README.md:{header_number}: the settings table's header must be {HEADER}"
    )
    assert all(re.fullmatch(r":?-{3,}:?", c) for c in _cells(rule, rule_number)), (
        f"README.md:{rule_number}: the header must be followed by a |---| rule"
    )
    assert len(_cells(rule, rule_number)) == len(HEADER)
    rows: dict[str, list[str]] = {}
    for number, line in body:
        cells = _cells(line, number)
        assert len(cells) == len(HEADER), (
            f"README.md:{number}: {len(cells)} cells, the settings table has {len(HEADER)}"
        )
        assert all(cells), f"README.md:{number}: an empty cell in the settings table"
        named = NAME_CELL.fullmatch(cells[0])
        assert named, f"README.md:{number}: the first cell must be one `XUNCHA_…` name"
        name = named.group(1)
        assert name not in rows, f"README.md:{number}: {name} has a second row"
        rows[name] = cells
    assert rows, "the settings table has no rows"
    return rows


@pytest.fixture(scope="module")
def documented() -> dict[str, list[str]]:
    return table_rows(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def mentioned() -> dict[str, list[str]]:
    found = source_variables()
    assert found, "no XUNCHA_* variable found in the source: the scan is broken"
    return found


def test_every_variable_has_a_row(
    documented: dict[str, list[str]], mentioned: dict[str, list[str]]
) -> None:
    missing = {name: files for name, files in mentioned.items() if name not in documented}
    assert not missing, "no row in README.md's settings table for: " + "; ".join(
        f"{name} (in {', '.join(files)})" for name, files in sorted(missing.items())
    )


def test_no_stale_rows(documented: dict[str, list[str]], mentioned: dict[str, list[str]]) -> None:
    stale = sorted(name for name in documented if name not in mentioned)
    assert not stale, "README.md's settings table names variables the code no longer reads: " + (
        ", ".join(stale)
    )


def test_the_parse_is_strict() -> None:
    """A second table, a wrong header, a bad row or no section at all is an error, not an
    empty or partial table that would let the checks above pass."""
    row = "| `XUNCHA_DB` | `data/demo` | The store | `xuncha/cli.py` |"
    good = f"{SECTION}\n\n| Variable | Default | Meaning | Used in |\n|---|---|---|---|\n{row}\n"
    assert list(table_rows(good)) == ["XUNCHA_DB"]
    assert list(table_rows(good + "\n## Tests\n\n| a | b |\n|---|---|\n")) == ["XUNCHA_DB"]
    bad = [
        "## Settings\n\n| Variable | Default | Meaning | Used in |\n|---|---|---|---|\n" + row,
        good + "\nmore text\n\n| Variable | Default | Meaning | Used in |\n|---|---|---|---|\n",
        good.replace("Used in", "Where"),
        good + "| `XUNCHA_LOG_DIR` | unset | The log |\n",
        good + "| XUNCHA_LOG_DIR | unset | The log | `xuncha/failures.py` |\n",
        good + "| `XUNCHA_LOG_DIR` |  | The log | `xuncha/failures.py` |\n",
        good + row + "\n",
        good + good,
    ]
    for text in bad:
        with pytest.raises(AssertionError):
            table_rows(text)
