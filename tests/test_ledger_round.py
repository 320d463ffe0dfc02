"""A realistic round of forty unit ledgers (tests/ledger_round.py): each ledger reads into
exactly what was written into it, and the round imported through the command line reproduces
its published notice (697 problems, 688 done, 4 基本完成, 5 open: 98.71%)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests import ledger_round as R
from xuncha import cli
from xuncha.ledger import LedgerResult, read_ledger

# Its module-scoped set-up is costly: one xdist worker builds it once (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("ledger_round")

PLAN = R.plan_round()
PROGRESS_NAMES = [u.name for u in PLAN.progress]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> R.Round:
    return R.write_round(tmp_path_factory.mktemp("round") / "台账")


def _unit(round_: R.Round, name: str, *, progress: bool = False) -> R.Unit:
    units = round_.progress if progress else round_.units
    return next(u for u in units if u.name == name)


def _read(unit: R.Unit, *, feedback: bool = True) -> LedgerResult:
    assert unit.path is not None
    return read_ledger(
        unit.path,
        feedback_date=unit.feedback if feedback else None,
        round_name=R.ROUND_NAME,
        unit_name=unit.name,
    )


def _found(result: LedgerResult) -> list[tuple[Any, ...]]:
    return [
        (
            f.title,
            f.detail,
            f.category_l1,
            f.category_l2,
            tuple(
                (m.text, m.status, m.deadline_kind, m.deadline_date, m.long_term, m.completed_on)
                for m in f.measures
            ),
        )
        for f in result.findings
    ]


def _assert_reads_as_written(unit: R.Unit) -> None:
    result = _read(unit)
    assert [p.describe() for p in result.errors] == []
    assert result.as_of == unit.as_of
    found, expected = _found(result), unit.expected()
    assert len(found) == len(expected)
    for position, (got, want) in enumerate(zip(found, expected, strict=True), start=1):
        assert got == want, f"第 {position} 个问题"


# -- 1. every ledger read on its own ------------------------------------------------------


@pytest.mark.parametrize(
    "name", [u.name for u in PLAN.units], ids=[f"{u.form}-{u.name}" for u in PLAN.units]
)
def test_each_unit_ledger_reads_without_errors_into_exactly_the_problems_written_into_it(
    written: R.Round, name: str
) -> None:
    _assert_reads_as_written(_unit(written, name))


@pytest.mark.parametrize("name", PROGRESS_NAMES)
def test_each_progress_ledger_reads_into_the_same_problems_with_the_new_statuses(
    written: R.Round, name: str
) -> None:
    later = _unit(written, name, progress=True)
    _assert_reads_as_written(later)
    earlier = _unit(written, name)
    assert [f[:4] for f in later.expected()] == [f[:4] for f in earlier.expected()]


def test_the_two_legacy_ledgers_are_real_xls_files(written: R.Round) -> None:
    legacy = [u for u in written.units if u.form == "h"]
    assert len(legacy) == 2
    assert written.xls_converted, written.xls_message
    for unit in legacy:
        assert unit.path is not None and unit.path.suffix == ".xls"
        assert unit.path.read_bytes()[:8] == bytes.fromhex("d0cf11e0a1b11ae1")  # OLE2


@pytest.mark.parametrize("name", [u.name for u in PLAN.units if u.form == "e"])
def test_a_ledger_without_any_category_is_read_as_z99_with_a_hint_that_counts_them(
    written: R.Round, name: str
) -> None:
    unit = _unit(written, name)
    result = _read(unit)
    assert result.errors == []
    assert {(f.category_l1, f.category_l2) for f in result.findings} == {("Z", "Z99")}
    count = str(len(unit.problems))
    assert any("未分类" in w.reason and count in w.reason for w in result.warnings), [
        w.describe() for w in result.warnings
    ]


def test_the_round_as_planned_holds_the_numbers_of_the_notice() -> None:
    done, basic, opened = (sum(c) for c in zip(*(u.counts() for u in PLAN.units), strict=True))
    assert (done + basic + opened, done, basic, opened) == (697, 688, 4, 5)
    not_done_units = {
        u.name
        for u in PLAN.units
        if any(len({m.status for m in p.measures} - {"DONE"}) for p in u.problems)
    }
    assert 4 <= len(not_done_units) <= 8
    assert {u.form for u in PLAN.units} == {"a", "b", "c", "d", "e", "f1", "f2", "g", "h"}


# -- 2-4. the whole round through the command line ----------------------------------------


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _import(db: Path, unit: R.Unit) -> tuple[int, dict[str, Any] | None, str]:
    code, out, err = _run(
        "import",
        str(unit.path),
        "--db",
        str(db),
        "--round",
        R.ROUND_NAME,
        "--unit",
        unit.name,
        "--feedback-date",
        unit.feedback.isoformat(),
        "--peer-group",
        unit.peer_group,
        "--format",
        "json",
    )
    try:
        payload = json.loads(out)
    except json.JSONDecodeError:
        payload = None
    return code, payload, err


def _metrics(db: Path, as_of: dt.date) -> dict[str, Any]:
    code, out, err = _run(
        "metrics", "--db", str(db), "--round", R.ROUND_NAME, "--as-of", as_of.isoformat()
    )
    assert code == 0, err
    return json.loads(out)


def _version(db: Path) -> int | None:
    code, out, _ = _run("info", "--db", str(db), "--format", "json")
    return json.loads(out)["version"] if code == 0 else None


def _first_error(payload: dict[str, Any] | None, err: str) -> str:
    if payload:
        for problem in payload.get("problems", []):
            if problem["severity"] == "error":
                where = f"第{problem['row']}行 {problem['column'] or ''}".strip()
                return f"{where} 值“{problem['value']}”：{problem['reason']}"
    return err.strip()


@dataclass
class Imported:
    db: Path
    imports: dict[str, tuple[int, dict[str, Any] | None, str]] = field(default_factory=dict)
    progress: dict[str, tuple[int, dict[str, Any] | None, str]] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)  # as of 2024-12-31, before progress
    after_2024: dict[str, Any] = field(default_factory=dict)  # as of 2024-12-31, after it
    after_2025: dict[str, Any] = field(default_factory=dict)  # as of 2025-03-31


@pytest.fixture(scope="module")
def imported(written: R.Round, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    """The round imported unit by unit into a fresh store, figures taken, then the progress
    set imported and the figures taken again (each import runs once for the module)."""
    state = Imported(db=tmp_path_factory.mktemp("store") / "db")
    for unit in written.units:
        state.imports[unit.name] = _import(state.db, unit)
    state.before = _metrics(state.db, R.AS_OF)
    for unit in written.progress:
        state.progress[unit.name] = _import(state.db, unit)
    state.after_2024 = _metrics(state.db, R.AS_OF)
    state.after_2025 = _metrics(state.db, R.PROGRESS_AS_OF)
    return state


def _refused(runs: dict[str, tuple[int, dict[str, Any] | None, str]]) -> dict[str, str]:
    return {
        name: f"exit {code}: {_first_error(payload, err)}"
        for name, (code, payload, err) in runs.items()
        if code != 0
    }


def _figures(payload: dict[str, Any]) -> tuple[Any, ...]:
    return (
        payload["findings"],
        payload["findings_done"],
        payload["findings_basically_done"],
        payload["findings_open"],
        Decimal(str(payload["completion_rate"])),
    )


def test_every_ledger_of_the_round_imports_through_the_command_line(imported: Imported) -> None:
    assert _refused(imported.imports) == {}


def test_the_round_reproduces_the_figures_of_its_published_notice(imported: Imported) -> None:
    assert imported.before["as_of"] == "2024-12-31"
    assert imported.before["units"] == 40
    assert _figures(imported.before) == (
        R.TOTAL_FINDINGS,
        R.DONE_FINDINGS,
        R.BASICALLY_DONE_FINDINGS,
        R.OPEN_FINDINGS,
        Decimal(R.COMPLETION_RATE),
    )
    assert _figures(imported.before) == (697, 688, 4, 5, Decimal("98.71"))


def _representatives() -> list[str]:
    """One unit of each form, outside the progress set."""
    chosen: dict[str, str] = {}
    for unit in PLAN.units:
        if unit.name not in PROGRESS_NAMES:
            chosen.setdefault(unit.form, unit.name)
    return list(chosen.values())


@pytest.mark.parametrize("name", _representatives())
def test_importing_a_ledger_again_adds_nothing(
    imported: Imported, written: R.Round, name: str
) -> None:
    code, payload, err = imported.imports[name]
    assert code == 0, f"the first import was refused: {_first_error(payload, err)}"
    version = _version(imported.db)
    code, payload, err = _import(imported.db, _unit(written, name))
    assert code == 0, _first_error(payload, err)
    assert payload is not None and payload["version"] is None
    assert _version(imported.db) == version


def test_the_progress_ledgers_import_through_the_command_line(imported: Imported) -> None:
    assert _refused(imported.progress) == {}


def test_the_progress_ledgers_move_the_figures_as_of_their_date(imported: Imported) -> None:
    assert imported.after_2025["as_of"] == "2025-03-31"
    assert _figures(imported.after_2025) == (697, 691, 3, 3, Decimal("99.14"))
    assert _figures(imported.after_2025) == (
        R.TOTAL_FINDINGS,
        R.PROGRESS_DONE_FINDINGS,
        R.PROGRESS_BASICALLY_DONE_FINDINGS,
        R.PROGRESS_OPEN_FINDINGS,
        Decimal(R.PROGRESS_COMPLETION_RATE),
    )


def test_the_progress_ledgers_leave_the_figures_as_of_the_end_of_2024_unchanged(
    imported: Imported,
) -> None:
    assert _figures(imported.after_2024) == (697, 688, 4, 5, Decimal("98.71"))
    assert imported.after_2024 == imported.before


# -- 5. truly ambiguous values are still refused --------------------------------------------


@pytest.mark.parametrize("case", list(R.AMBIGUOUS))
def test_a_truly_ambiguous_value_is_refused_with_its_row_and_column(
    tmp_path: Path, case: str
) -> None:
    unit, path, row, letter, header = R.ambiguous_ledger(tmp_path, case)
    _, value, with_feedback = R.AMBIGUOUS[case]
    result = read_ledger(
        path,
        feedback_date=unit.feedback if with_feedback else None,
        round_name=R.ROUND_NAME,
        unit_name=unit.name,
    )
    assert not result.ok
    hits = [p for p in result.errors if p.row == row and p.column_letter == letter]
    assert hits, [p.describe() for p in result.errors]
    assert hits[0].column_header == header
    assert hits[0].value == value


def test_a_month_and_day_without_a_year_fall_due_on_the_first_such_day_after_the_feedback(
    tmp_path: Path,
) -> None:
    unit, path, row, _, _ = R.ambiguous_ledger(tmp_path, "6月30日前")
    for feedback, due in (
        (dt.date(2024, 4, 1), dt.date(2024, 6, 30)),
        (dt.date(2024, 7, 15), dt.date(2025, 6, 30)),
    ):
        result = read_ledger(path, feedback_date=feedback, unit_name=unit.name)
        assert result.errors == []
        (measure,) = [m for f in result.findings for m in f.measures if m.row == row]
        assert (measure.deadline_kind, measure.deadline_date) == ("DATE", due)
