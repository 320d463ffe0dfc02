"""按期完成率 when a ledger reports an extension and the completion together.

A unit's ledger dated 截至 2024-09-30 that states 延期至2024年9月30日 and 已完成 (完成时间
2024-08-15) records the extension on its own date, after the completion date. The extension
came with the completion in one report, so it is the current deadline of that completion:
the measure is on time against the current deadline and late against the original. An
extension recorded by an earlier ledger and a completion reported by a later one keep the
rule they always had: the deadline in force on the completion date. Real .xlsx ledgers go
through the real import; the counts are compared with ones worked out by hand, with the
independent definition of tests/test_figures_independent.py, and measure by measure.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests import ledger_samples as S
from tests.test_figures_independent import figures_of
from xuncha.ledger import import_ledgers
from xuncha.store import Store

D = dt.date
ROUND = "十四届市委第五轮巡察"
UNIT = "市住建局"
FEEDBACK = D(2024, 1, 10)
HEADER = ["序号", "具体问题", "整改措施", "整改时限", "延期时限", "整改状态", "完成时间"]
DUE = "2024年6月30日"
ORIGINAL = D(2024, 6, 30)

# Problem number → (problem, measure); one measure each.
PROBLEMS = {
    1: ("老旧小区改造项目推进缓慢", "制定老旧小区改造三年行动计划"),
    2: ("物业服务监管不到位", "开展物业服务专项检查"),
    3: ("公务接待管理不规范", "修订公务接待管理办法"),
    4: ("执法检查频次过高", "统筹合并执法检查事项"),
    5: ("工程款拨付审核不严", "建立工程款拨付联审机制"),
    6: ("信访积案化解不力", "逐件制定积案化解方案"),
    7: ("干部教育培训针对性不强", "制定年度干部培训计划"),
}

# Each ledger: 截至时间 and its rows (number, 延期时限, 整改状态, 完成时间).
Row = tuple[int, str | None, str, str | None]
FIRST: tuple[str, list[Row]] = (
    "2024年3月31日",
    [(n, None, "正在整改", None) for n in (1, 2, 3, 4, 5, 7)],
)
SECOND: tuple[str, list[Row]] = (
    "2024年6月30日",
    [
        (1, None, "正在整改", None),
        (2, None, "正在整改", None),
        (3, None, "正在整改", None),
        (4, "2024年8月31日", "正在整改", None),  # extended by this ledger …
        (5, "2024年7月15日", "正在整改", None),
        (7, None, "正在整改", None),
    ],
)
THIRD: tuple[str, list[Row]] = (
    "2024年9月30日",
    [
        # Extension and completion in the same ledger, completed before its 截至时间:
        (1, "2024年9月30日", "已完成", "2024-08-15"),  # by the new deadline
        (2, "2024年7月31日", "已完成", "2024-08-15"),  # after the new deadline too
        (3, None, "已完成", "2024-06-20"),  # by the original deadline
        (4, "2024年8月31日", "已完成", "2024-08-20"),  # … completed by it in this one
        (5, "2024年7月15日", "已完成", "2024-08-20"),  # … completed after it
        # First listed here, already extended and completed:
        (6, "2024年9月30日", "已完成", "2024-09-10"),
        (7, "2024年12月31日", "正在整改", None),  # extended, not completed
    ],
)
AS_OF = D(2024, 9, 30)
# Measure number → (on time against the original deadline, against the current one).
WANT = {
    1: (False, True),
    2: (False, False),
    3: (True, True),
    4: (False, True),
    5: (False, False),
    6: (False, True),
}


def ledger(path: Path, ledger_as_of: str, rows: list[Row]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "整改台账"
    sheet["A1"] = "中共江城市住房和城乡建设局党组关于市委第三巡察组反馈意见整改落实台账"
    sheet.merge_cells("A1:G1")
    sheet["A2"] = f"填报单位：{UNIT}"
    sheet["E2"] = f"截至时间：{ledger_as_of}"
    for col, name in enumerate(HEADER, start=1):
        sheet.cell(row=3, column=col, value=name)
    sheet.cell(row=4, column=1, value=S.G1)
    sheet.merge_cells("A4:G4")
    for r, (number, extension, status, completed) in enumerate(rows, start=5):
        problem, measure = PROBLEMS[number]
        values = [number, problem, measure, DUE, extension, status, completed]
        for col, value in enumerate(values, start=1):
            if value is not None:
                sheet.cell(row=r, column=col, value=value)
    book.save(path)
    return path


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The three ledgers imported one after another, each as its own batch."""
    folder = tmp_path_factory.mktemp("on_time")
    store = Store(folder / "store")
    store.write(lambda con: None, fresh=True)
    for k, (ledger_as_of, rows) in enumerate((FIRST, SECOND, THIRD), start=1):
        path = ledger(folder / f"台账{k}.xlsx", ledger_as_of, rows)
        outcome = import_ledgers(
            store, [path], round_name=ROUND, unit_name=UNIT, feedback_date=FEEDBACK
        )
        assert outcome.ok, [p.reason for p in outcome.errors]
    return store


def by_measure(store: Store) -> dict[int, tuple[Any, ...]]:
    """Problem number → (completed_on, deadline_original, on_time_original, on_time_current)
    of its measure's interval holding the as-of date, as the product derived them."""
    con = store.connect()
    try:
        rows = con.execute(
            "SELECT f.title, t.completed_on, t.deadline_original, t.on_time_original,"
            " t.on_time_current FROM measure_timeline t JOIN findings f USING (finding_id)"
            " WHERE t.valid_from <= ? AND (t.valid_to IS NULL OR t.valid_to > ?)",
            [AS_OF, AS_OF],
        ).fetchall()
    finally:
        con.close()
    number = {problem: n for n, (problem, _) in PROBLEMS.items()}
    return {number[title]: tuple(rest) for title, *rest in rows}


def test_the_import_records_the_extension_with_the_ledger_date_after_the_completion(
    imported: Store,
) -> None:
    # The premise: the extension of problem 1 takes effect on the third ledger's 截至时间,
    # after the completion date written next to it.
    rows = S.rows(
        imported,
        "SELECT d.deadline, d.effective_date, d.reason FROM measure_deadline_history d"
        " JOIN measures m USING (measure_id) JOIN findings f USING (finding_id)"
        " WHERE f.title = ? ORDER BY d.history_id",
        [PROBLEMS[1][0]],
    )
    assert rows == [(ORIGINAL, FEEDBACK, None), (D(2024, 9, 30), AS_OF, "申请延期")]


def test_an_extension_reported_with_the_completion_is_the_current_deadline_of_it(
    imported: Store,
) -> None:
    got = by_measure(imported)
    completed = {n: D.fromisoformat(c) for n, _, s, c in THIRD[1] if c is not None}
    for n, (on_time_original, on_time_current) in WANT.items():
        assert got[n] == (completed[n], ORIGINAL, on_time_original, on_time_current), n
    # Not completed: no outcome.
    assert got[7] == (None, ORIGINAL, None, None)


def test_the_on_time_counts_equal_the_independent_definition(imported: Store) -> None:
    want = {
        "measures": 7,
        "measures_done": 6,
        "completed_with_deadline": 6,
        "on_time_original": sum(o for o, _ in WANT.values()),
        "on_time_current": sum(c for _, c in WANT.values()),
    }
    assert (want["on_time_original"], want["on_time_current"]) == (1, 4)
    product, independent = figures_of(imported, AS_OF)
    for source, result in (("product", product), ("independent", independent)):
        row = result["全部"]
        assert {k: row[k] for k in want} == want, source
    # Before the third ledger nothing is completed.
    product, independent = figures_of(imported, D(2024, 9, 29))
    for result in (product, independent):
        assert result["全部"]["completed_with_deadline"] == 0


def test_a_measure_reopened_and_completed_again_takes_the_deadline_of_the_last_report(
    tmp_path: Path, imported: Store
) -> None:
    # A fourth ledger reopens problem 3 (正在整改) and a fifth completes it again on
    # 2024-11-20 with 延期至2024年11月30日: against that extension it is on time; the first
    # completion's report recorded no deadline.
    shutil.copytree(imported.root, tmp_path / "store")
    store = Store(tmp_path / "store")
    rows: list[Row] = [(n, e, s, c) for n, e, s, c in THIRD[1] if n != 3]
    for k, (ledger_as_of, third) in enumerate(
        (
            ("2024年10月31日", (3, None, "正在整改", None)),
            ("2024年11月30日", (3, "2024年11月30日", "已完成", "2024-11-20")),
        ),
        start=4,
    ):
        path = ledger(tmp_path / f"台账{k}.xlsx", ledger_as_of, [*rows, third])
        outcome = import_ledgers(
            store, [path], round_name=ROUND, unit_name=UNIT, feedback_date=FEEDBACK
        )
        assert outcome.ok, [p.reason for p in outcome.errors]
    as_of = D(2024, 11, 30)
    product, independent = figures_of(store, as_of)
    for source, result in (("product", product), ("independent", independent)):
        row = result["全部"]
        # Problem 3 leaves the original on-time count and stays in the current one.
        assert (row["on_time_original"], row["on_time_current"]) == (0, 4), source
