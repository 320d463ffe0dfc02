"""Later ledgers paired with what the store holds (DOMAIN.md §4): by place, then by words where
the numbering moved, shown before anything is written and confirmed by a person; the demo store
takes no ledger; working-day deadlines; what a clerk sees when a ledger is refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.builders import copy_store, plain_demo
from xuncha import cli
from xuncha.auth import UserStore
from xuncha.ledger import (
    DecisionKey,
    Decisions,
    import_ledgers,
    read_ledger,
    read_pairing_file,
)
from xuncha.ledger.pairing import Item, pair_items
from xuncha.store import Store

ROUND = "十四届市委第七轮巡察"
UNIT = "市审计局"
FEEDBACK = dt.date(2024, 4, 10)
B = "落实全面从严治党战略部署方面"
GENERIC = "工程项目管理不规范"
SAME_MEASURE = "制定整改方案，明确责任分工和完成时限"

# (序号, 具体问题, 具体表现, [(整改措施, 整改时限, 整改状态)])
Problem = tuple[str, str, str, list[tuple[str, str, str]]]

FIRST: list[Problem] = [
    (
        "1",
        GENERIC,
        "城东安置房项目未批先建",
        [(SAME_MEASURE, "2024年6月底前", "正在整改"), (SAME_MEASURE, "2024年9月底前", "正在整改")],
    ),
    (
        "2",
        GENERIC,
        "城西道路项目变更签证不规范",
        [("开展变更签证专项检查", "2024年6月底前", "未完成")],
    ),
    ("3", "财务管理不规范", "存在白条入账", [("清理白条并追责", "2024年6月底前", "正在整改")]),
    ("4", "公务接待管理不规范", "无公函接待3次", [("修订公务接待办法", "2024年6月底前", "已完成")]),
]


def ledger(path: Path, problems: list[Problem], as_of: str) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "整改台账"
    sheet.append(["中共江城市审计局党组关于市委第二巡察组反馈意见整改落实台账"])
    sheet.append([f"填报单位：{UNIT}", None, None, f"截至时间：{as_of}"])
    sheet.append(["序号", "问题类别", "具体问题", "具体表现", "整改措施", "整改时限", "整改状态"])
    for seq, title, detail, measures in problems:
        for k, (text, deadline, status) in enumerate(measures):
            first = k == 0
            sheet.append(
                [
                    seq if first else None,
                    B if first else None,
                    title if first else None,
                    detail if first else None,
                    text,
                    deadline,
                    status,
                ]
            )
    book.save(path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def args(db: Path, *files: Path) -> list[str]:
    return [
        "import",
        *map(str, files),
        "--db",
        str(db),
        "--round",
        ROUND,
        "--unit",
        UNIT,
        "--feedback-date",
        FEEDBACK.isoformat(),
    ]


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    con = store.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def statuses(store: Store) -> dict[str, list[str]]:
    """具体表现 → the statuses of its measures in order (具体表现 tells the problems apart)."""
    out: dict[str, list[str]] = {}
    for detail, status in rows(
        store,
        "SELECT f.detail, m.status FROM findings f JOIN measures m USING (finding_id)"
        " ORDER BY f.finding_id, m.ledger_order",
    ):
        out.setdefault(detail, []).append(status)
    return out


@pytest.fixture()
def held(tmp_path: Path) -> Store:
    """A real store holding the first ledger (four problems, two with the same title, one
    with the same measure wording twice)."""
    store = Store(tmp_path / "store")
    first = ledger(tmp_path / "审计局台账.xlsx", FIRST, "2024年5月31日")
    outcome = import_ledgers(
        store, [first], round_name=ROUND, unit_name=UNIT, feedback_date=FEEDBACK
    )
    assert outcome.ok, [p.describe() for p in outcome.errors]
    return store


def test_the_same_title_twice_and_the_same_measure_wording_twice_are_kept_apart_with_a_hint(
    held: Store,
) -> None:
    assert rows(held, "SELECT count(*) FROM findings") == [(4,)]
    assert rows(held, "SELECT count(*) FROM measures") == [(5,)]
    assert rows(held, f"SELECT count(*) FROM findings WHERE title = '{GENERIC}'") == [(2,)]
    assert rows(
        held,
        "SELECT ledger_position, ledger_seq FROM findings ORDER BY finding_id",
    ) == [("1", "1"), ("2", "2"), ("3", "3"), ("4", "4")]
    result = read_ledger(
        ledger(held.root.parent / "again.xlsx", FIRST, "2024年5月31日"), feedback_date=FEEDBACK
    )
    kinds = {p.kind for p in result.warnings}
    assert "具体问题文字相同（按位置区分）" in kinds
    assert "同一问题下措施文字相同（按顺序区分）" in kinds
    assert result.ok


def test_a_progress_ledger_with_the_same_numbering_pairs_by_place_without_asking(
    held: Store, tmp_path: Path
) -> None:
    later = [list(p) for p in FIRST]
    later[0][3] = [
        (SAME_MEASURE, "2024年6月底前", "已完成"),
        (SAME_MEASURE, "2024年9月底前", "正在整改"),
    ]
    later[1][3] = [("开展变更签证专项检查", "2024年6月底前", "已完成")]
    path = ledger(tmp_path / "第二次.xlsx", [tuple(p) for p in later], "2024年7月31日")  # type: ignore[misc]
    version = held.version()
    outcome = import_ledgers(held, [path], round_name=ROUND, unit_name=UNIT)
    assert outcome.ok and outcome.to_confirm == 0
    assert held.version() == version + 1
    (file,) = outcome.files
    assert file.pairing["问题"] == {"same": 4, "changed": 0, "new": 0, "missing": 0}
    assert file.pairing["措施"] == {"same": 5, "changed": 0, "new": 0, "missing": 0}
    assert rows(held, "SELECT count(*) FROM findings") == [(4,)]
    # The first measure of the first generic problem is done; its twin wording is not.
    assert statuses(held)["城东安置房项目未批先建"] == ["DONE", "IN_PROGRESS"]
    assert statuses(held)["城西道路项目变更签证不规范"] == ["DONE"]


def _moved(tmp_path: Path) -> Path:
    """A later ledger whose numbering moved: a new problem inserted as 序号 1, the others
    shifted down, and the generic twins' statuses moved on."""
    later: list[Problem] = [
        (
            "1",
            "意识形态工作责任制落实不到位",
            "阵地管理薄弱",
            [("修订意识形态工作责任清单", "2024年9月底前", "正在整改")],
        ),
        (
            "2",
            GENERIC,
            "城东安置房项目未批先建",
            [(SAME_MEASURE, "2024年6月底前", "已完成"), (SAME_MEASURE, "2024年9月底前", "已完成")],
        ),
        (
            "3",
            GENERIC,
            "城西道路项目变更签证不规范",
            [("开展变更签证专项检查", "2024年6月底前", "正在整改")],
        ),
        ("4", "财务管理不规范", "存在白条入账", [("清理白条并追责", "2024年6月底前", "已完成")]),
        (
            "5",
            "公务接待管理不规范",
            "无公函接待3次",
            [("修订公务接待办法", "2024年6月底前", "已完成")],
        ),
    ]
    return ledger(tmp_path / "第二次（序号变动）.xlsx", later, "2024年7月31日")


def test_a_ledger_whose_numbering_moved_writes_nothing_until_the_pairings_are_confirmed(
    held: Store, tmp_path: Path
) -> None:
    path = _moved(tmp_path)
    before = (held.version(), statuses(held))
    outcome = import_ledgers(held, [path], round_name=ROUND, unit_name=UNIT)
    assert not outcome.ok and outcome.to_confirm == 4
    assert (held.version(), statuses(held)) == before
    assert {p.kind for p in outcome.errors} == {"配对需要确认（序号或文字有变动）"}
    assert sorted(p.row for p in outcome.errors if p.row) == [5, 7, 8, 9]
    # Every pairing is shown: the four held problems found at their new 序号, one new.
    frame = outcome.pairing_frame().filter(outcome.pairing_frame()["类型"] == "问题")
    assert sorted(zip(frame["台账位置"], frame["判断"], frame["配对编号"], strict=True)) == [
        ("1", "新增", None),
        ("2", "相同", 1),
        ("3", "相同", 2),
        ("4", "相同", 3),
        ("5", "相同", 4),
    ]
    # A dry run says the same and writes nothing either.
    dry = import_ledgers(held, [path], round_name=ROUND, unit_name=UNIT, dry_run=True)
    assert dry.ok and dry.to_confirm == 4 and held.version() == before[0]


def test_confirmed_pairings_from_the_pairing_file_are_applied_exactly(
    capsys: Any, held: Store, tmp_path: Path
) -> None:
    path = _moved(tmp_path)
    version = held.version()
    code, out, _ = run(capsys, *args(held.root, path), "--dry-run")
    assert code == 0
    pairing_file = path.with_suffix(".配对.csv")
    assert f"配对文件：{pairing_file}" in out and held.version() == version
    code, out, err = run(capsys, *args(held.root, path))
    assert code == 1 and "配对需要确认" in err and held.version() == version
    code, out, err = run(capsys, *args(held.root, path), "--pairing", str(pairing_file))
    assert code == 0, out + err
    assert held.version() == version + 1
    assert rows(held, "SELECT count(*) FROM findings") == [(5,)]  # one new, none doubled
    assert statuses(held) == {
        "城东安置房项目未批先建": ["DONE", "DONE"],
        "城西道路项目变更签证不规范": ["IN_PROGRESS"],
        "存在白条入账": ["DONE"],
        "无公函接待3次": ["DONE"],
        "阵地管理薄弱": ["IN_PROGRESS"],
    }
    # The held problems now stand at their new 序号: the next ledger pairs by place.
    assert rows(held, "SELECT ledger_position FROM findings WHERE detail = '无公函接待3次'") == [
        ("5",)
    ]


def _edit(pairing_file: Path, change: dict[str, str]) -> None:
    """Change 配对编号 of problem rows by their 台账位置, as a clerk does in a spreadsheet
    program (which writes whole numbers back as "4.0" and may keep the BOM)."""
    table = list(csv.DictReader(io.StringIO(pairing_file.read_bytes().decode("utf-8-sig"))))
    for row in table:
        if row["类型"] == "问题" and row["台账位置"] in change:
            row["配对编号"] = change[row["台账位置"]]
        elif row["问题行"]:
            row["问题行"] = f"{float(row['问题行']):.1f}"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    pairing_file.write_text(buffer.getvalue(), encoding="utf-8-sig")


def test_a_person_can_correct_a_pairing_in_the_file(
    capsys: Any, held: Store, tmp_path: Path
) -> None:
    path = _moved(tmp_path)
    run(capsys, *args(held.root, path), "--dry-run")
    pairing_file = path.with_suffix(".配对.csv")
    # Say the new first row is really held problem 4, and the fifth row is new.
    _edit(pairing_file, {"1": "4.0", "5": "新增"})
    decisions = read_pairing_file(pairing_file)
    sha = next(iter(decisions.files))
    assert decisions.chosen[DecisionKey(sha, "整改台账", 4)] == 4
    assert decisions.chosen[DecisionKey(sha, "整改台账", 9)] is None
    # Its measures were decided against no held problem: they are shown again, not guessed.
    version = held.version()
    code, out, err = run(capsys, *args(held.root, path), "--pairing", str(pairing_file))
    assert code == 1 and "请带上配对文件再次试运行" in out and held.version() == version
    assert pairing_file.exists() and path.with_name(f"{path.stem}.配对（新）.csv").exists()
    # The dry run with the decisions proposes the measures against the new partner.
    renewed = tmp_path / "renewed.csv"
    code, _, _ = run(
        capsys,
        *args(held.root, path),
        "--dry-run",
        "--pairing",
        str(pairing_file),
        "--pairing-out",
        str(renewed),
    )
    assert code == 0
    _edit(renewed, {})
    code, out, err = run(capsys, *args(held.root, path), "--pairing", str(renewed))
    assert code == 0, out + err
    assert rows(held, "SELECT title FROM findings WHERE finding_id = 4") == [
        ("意识形态工作责任制落实不到位",)
    ]
    assert rows(held, "SELECT count(*) FROM findings") == [(5,)]


def test_a_pairing_file_made_for_another_version_of_the_ledger_is_refused_and_kept(
    capsys: Any, held: Store, tmp_path: Path
) -> None:
    path = _moved(tmp_path)
    run(capsys, *args(held.root, path), "--dry-run")
    pairing_file = path.with_suffix(".配对.csv")
    edited = pairing_file.read_bytes()
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    sheet["G4"] = "已完成"  # the clerk fixes the ledger after the dry run
    book.save(path)
    code, out, _ = run(capsys, *args(held.root, path), "--pairing", str(pairing_file))
    assert code == 1 and "配对文件是为另一版本的台账生成的" in out
    assert pairing_file.read_bytes() == edited  # never overwritten


def test_a_pairing_file_naming_a_problem_not_held_or_twice_is_refused(
    held: Store, tmp_path: Path
) -> None:
    path = _moved(tmp_path)
    dry = import_ledgers(held, [path], round_name=ROUND, unit_name=UNIT, dry_run=True)
    sha = dry.results[0].sha256 or ""
    chosen: dict[DecisionKey, int | None] = {}
    for row in dry.pairings:
        if row["问题行"] is None:
            continue
        key = DecisionKey(sha, row["工作表"], row["问题行"], row["措施序号"])
        chosen[key] = row["配对编号"]
    first = DecisionKey(sha, "整改台账", 4)
    bad = dict(chosen)
    bad[first] = 999
    version = held.version()
    outcome = import_ledgers(
        held, [path], round_name=ROUND, unit_name=UNIT, pairing=Decisions(bad, {sha})
    )
    assert not outcome.ok and "配对编号 999 不是本次巡察已有的问题" in outcome.errors[0].reason
    twice = dict(chosen)
    twice[first] = 4
    outcome = import_ledgers(
        held, [path], round_name=ROUND, unit_name=UNIT, pairing=Decisions(twice, {sha})
    )
    assert not outcome.ok and any("同时配给了多行" in p.reason for p in outcome.errors)
    assert held.version() == version


def test_a_problem_missing_from_a_later_ledger_is_kept_and_listed(
    held: Store, tmp_path: Path
) -> None:
    path = ledger(tmp_path / "少一个.xlsx", FIRST[:3], "2024年7月31日")
    outcome = import_ledgers(held, [path], round_name=ROUND, unit_name=UNIT)
    assert outcome.ok, [p.describe() for p in outcome.errors]
    (file,) = outcome.files
    assert (file.findings_not_listed, file.pairing["问题"]["missing"]) == (1, 1)
    assert rows(held, "SELECT count(*) FROM findings") == [(4,)]
    missing = [r for r in outcome.pairings if r["判断"] == "未列出"]
    assert [(r["类型"], r["已有内容"]) for r in missing] == [("问题", "公务接待管理不规范")]


def test_an_extension_written_over_the_deadline_of_a_later_ledger_keeps_the_original(
    held: Store, tmp_path: Path
) -> None:
    later = [list(p) for p in FIRST]
    later[2][3] = [("清理白条并追责", "2024年12月31日", "申请延期")]
    path = ledger(tmp_path / "延期.xlsx", [tuple(p) for p in later], "2024年7月31日")  # type: ignore[misc]
    outcome = import_ledgers(held, [path], round_name=ROUND, unit_name=UNIT)
    assert outcome.ok, [p.describe() for p in outcome.errors]
    assert rows(
        held,
        "SELECT m.deadline_original, m.deadline_current, m.status FROM measures m"
        " JOIN findings f USING (finding_id) WHERE f.detail = '存在白条入账'",
    ) == [(dt.date(2024, 6, 30), dt.date(2024, 12, 31), "IN_PROGRESS")]
    assert rows(
        held,
        "SELECT h.deadline, h.reason FROM measure_deadline_history h JOIN measures m"
        " USING (measure_id) JOIN findings f USING (finding_id)"
        " WHERE f.detail = '存在白条入账' ORDER BY h.history_id",
    ) == [(dt.date(2024, 6, 30), None), (dt.date(2024, 12, 31), "申请延期")]


def test_an_extension_written_over_the_deadline_of_a_first_ledger_is_refused(
    tmp_path: Path,
) -> None:
    first = [list(p) for p in FIRST]
    first[2][3] = [("清理白条并追责", "2024年12月31日", "申请延期")]
    path = ledger(tmp_path / "首次延期.xlsx", [tuple(p) for p in first], "2024年5月31日")  # type: ignore[misc]
    store = Store(tmp_path / "new")
    outcome = import_ledgers(
        store, [path], round_name=ROUND, unit_name=UNIT, feedback_date=FEEDBACK
    )
    assert not outcome.ok and not store.exists()
    (error,) = outcome.errors
    assert (error.row, error.kind) == (7, "申请延期的新措施缺少原定时限")


def test_a_later_ledger_listing_only_the_open_problems_never_pairs_them_by_number_alone(
    held: Store, tmp_path: Path
) -> None:
    # The finished problems dropped and the rest renumbered from 1, wording tidied: the 序号
    # now points at other problems with the same generic title. Nothing may be written to
    # the wrong problem without a person's confirmation.
    later: list[Problem] = [
        (
            "1",
            GENERIC,
            "城西道路项目变更签证不规范的问题",
            [("开展变更签证专项检查", "2024年6月底前", "已完成")],
        ),
        (
            "2",
            "财务管理不规范",
            "存在白条入账问题",
            [("清理白条并追责", "2024年6月底前", "已完成")],
        ),
    ]
    path = ledger(tmp_path / "只列未完成.xlsx", later, "2024年7月31日")
    before = (held.version(), statuses(held))
    outcome = import_ledgers(held, [path], round_name=ROUND, unit_name=UNIT)
    assert not outcome.ok and outcome.to_confirm >= 2
    assert (held.version(), statuses(held)) == before
    problems = [r for r in outcome.pairings if r["类型"] == "问题" and r["问题行"]]
    # Proposed against the right held problems (by their words), for a person to confirm.
    assert {(r["台账位置"], r["配对编号"], r["需确认"]) for r in problems} == {
        ("1", 2, "是"),
        ("2", 3, "是"),
    }


def test_a_later_ledger_without_a_finished_group_keeps_the_other_groups_places(
    tmp_path: Path,
) -> None:
    def grouped(path: Path, groups: list[tuple[str, list[Problem]]], as_of: str) -> Path:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "整改台账"
        sheet.append([f"填报单位：{UNIT}", None, None, f"截至时间：{as_of}"])
        sheet.append(["序号", "具体问题", "具体表现", "整改措施", "整改时限", "整改状态"])
        for heading, problems in groups:
            sheet.append([heading])
            sheet.merge_cells(
                start_row=sheet.max_row, start_column=1, end_row=sheet.max_row, end_column=6
            )
            for seq, title, detail, measures in problems:
                for text, deadline, status in measures:
                    sheet.append([seq, title, detail, text, deadline, status])
        book.save(path)
        return path

    one = (
        "一、贯彻落实党的理论和路线方针政策、党中央重大决策部署方面",
        [("1", "理论学习不深入", "学习流于形式", [("修订学习制度", "2024年6月底前", "已完成")])],
    )
    two = (
        "二、落实全面从严治党战略部署方面",
        [("1", GENERIC, "城东项目未批先建", [("补办手续", "2024年6月底前", "正在整改")])],
    )
    store = Store(tmp_path / "store")
    first = grouped(tmp_path / "分组.xlsx", [one, two], "2024年5月31日")
    assert import_ledgers(
        store, [first], round_name=ROUND, unit_name=UNIT, feedback_date=FEEDBACK
    ).ok
    two_done = (
        two[0],
        [("1", GENERIC, "城东项目未批先建（已整改）", [("补办手续", "2024年6月底前", "已完成")])],
    )
    later = grouped(tmp_path / "分组（进展）.xlsx", [two_done], "2024年7月31日")
    outcome = import_ledgers(store, [later], round_name=ROUND, unit_name=UNIT)
    # Group 二 is still group 二: its problem pairs by its place, not group 一's.
    assert outcome.ok and outcome.to_confirm == 0, [p.describe() for p in outcome.errors]
    assert statuses(store)["城东项目未批先建（已整改）"] == ["DONE"]
    assert statuses(store)["学习流于形式"] == ["DONE"]


def test_an_extension_no_later_than_the_deadline_in_force_is_said_and_not_recorded(
    held: Store, tmp_path: Path
) -> None:
    later = [list(p) for p in FIRST]
    later[2][3] = [("清理白条并追责", "2024年3月31日", "申请延期")]
    path = ledger(tmp_path / "延期更早.xlsx", [tuple(p) for p in later], "2024年7月31日")  # type: ignore[misc]
    outcome = import_ledgers(held, [path], round_name=ROUND, unit_name=UNIT)
    assert outcome.ok
    assert any("未记为延期" in p.reason for p in outcome.all_problems if not p.is_error)
    assert rows(
        held,
        "SELECT m.deadline_current FROM measures m JOIN findings f USING (finding_id)"
        " WHERE f.detail = '存在白条入账'",
    ) == [(dt.date(2024, 6, 30),)]


def test_pairing_by_words_asks_when_two_held_items_are_equally_likely() -> None:
    held = [Item("1", "a\x1f工程项目管理不规范", 1), Item("2", "a\x1f工程项目管理不规范", 2)]
    parsed = [Item("#1", "a\x1f工程项目管理不规范", None, 0)]
    (pair, *missing) = pair_items(parsed, held)
    assert pair.held is None and pair.confirm and set(pair.candidates) == {1, 2}
    assert [m.verdict for m in missing] == ["missing", "missing"]


# -- the demo store, a new real store ------------------------------------------------------


def test_the_demo_store_takes_no_ledger_and_stays_as_it_was(
    capsys: Any, tmp_path: Path, store_template: Any
) -> None:
    demo_store = copy_store(store_template("demo", plain_demo), tmp_path / "demo")
    version = demo_store.version()
    path = ledger(tmp_path / "审计局台账.xlsx", FIRST, "2024年5月31日")
    code, _, err = run(capsys, *args(demo_store.root, path))
    assert code == 1 and "是演示数据仓" in err and "--db" in err
    assert demo_store.version() == version
    assert rows(demo_store, "SELECT value FROM store_meta WHERE key = 'demo'") == [("true",)]
    code, _, _ = run(capsys, *args(demo_store.root, path), "--dry-run")  # validating is fine
    assert code == 0 and demo_store.version() == version


def test_an_import_into_a_new_directory_starts_a_real_store_with_its_first_administrator(
    capsys: Any, tmp_path: Path
) -> None:
    db = tmp_path / "store"
    path = ledger(tmp_path / "审计局台账.xlsx", FIRST, "2024年5月31日")
    code, out, _ = run(capsys, *args(db, path), "--format", "json")
    payload = json.loads(out)
    assert code == 0 and payload["first_admin"]["name"] == "admin"
    users = UserStore(db)
    assert users.get("admin") is not None
    assert rows(Store(db), "SELECT value FROM store_meta WHERE key = 'demo'") != [("true",)]
    second = ledger(tmp_path / "再次.xlsx", FIRST, "2024年6月30日")
    _, out, _ = run(capsys, *args(db, second), "--format", "json")
    assert "first_admin" not in json.loads(out)  # shown once


# -- working days ----------------------------------------------------------------------


def test_working_day_deadlines_count_on_the_official_calendar_and_the_calendar_is_recorded(
    tmp_path: Path,
) -> None:
    # 2024-04-10 + 15 working days: 4-11,12,15,16,17,18,19,22,23,24,25,26, 4-28 (Sunday, a
    # 调休 working day), 4-29, 4-30 → 2024-04-30 (5-1..5-5 rest; notice of 2023-10-25).
    problems: list[Problem] = [
        ("1", "财务管理不规范", "白条", [("清理白条", "反馈后15个工作日内", "正在整改")])
    ]
    path = ledger(tmp_path / "工作日.xlsx", problems, "2024年5月31日")
    store = Store(tmp_path / "store")
    outcome = import_ledgers(
        store, [path], round_name=ROUND, unit_name=UNIT, feedback_date=FEEDBACK
    )
    assert outcome.ok, [p.describe() for p in outcome.errors]
    assert rows(store, "SELECT deadline_original, deadline_kind FROM measures") == [
        (dt.date(2024, 4, 30), "RELATIVE")
    ]
    ((recorded,),) = rows(store, "SELECT value FROM store_meta WHERE key = 'workday_calendar'")
    assert json.loads(recorded)["library"]["name"] == "chinesecalendar"


def test_a_working_day_deadline_in_a_year_nobody_knows_is_refused_naming_the_year_until_added(
    tmp_path: Path,
) -> None:
    problems: list[Problem] = [
        ("1", "财务管理不规范", "白条", [("清理白条", "10个工作日内", "正在整改")])
    ]
    path = ledger(tmp_path / "跨年.xlsx", problems, "2027年1月5日")
    store = Store(tmp_path / "store")
    feedback = dt.date(2026, 12, 28)
    kwargs: dict[str, Any] = {"round_name": ROUND, "unit_name": UNIT, "feedback_date": feedback}
    outcome = import_ledgers(store, [path], **kwargs)
    assert not outcome.ok and not store.exists()
    (error,) = outcome.errors
    assert "2027" in error.reason and error.row == 4
    # The administrator adds 2027 (元旦: 1-1 rest): 12-29, 30, 31, 1-4, 5, 6, 7, 8, 11, 12.
    (store.root / "config").mkdir(parents=True)
    (store.root / "config" / "workdays.toml").write_text(
        '[2027]\nholidays = ["2027-01-01"]\n', encoding="utf-8"
    )
    outcome = import_ledgers(store, [path], **kwargs)
    assert outcome.ok, [p.describe() for p in outcome.errors]
    assert rows(store, "SELECT deadline_original FROM measures") == [(dt.date(2027, 1, 12),)]


# -- what a clerk sees ---------------------------------------------------------------------


def test_a_refused_ledger_is_reported_by_kind_and_its_annotated_copy_is_written(
    capsys: Any, tmp_path: Path
) -> None:
    problems: list[Problem] = [
        ("1", "财务管理不规范", "白条", [("清理白条", "2024年6月底前", "差不多了")]),
        ("2", "公务接待不规范", "无公函", [("修订办法", "2024年6月底前", "快好了")]),
        ("3", "资产管理不规范", "账实不符", [("盘点资产", "尽快", "正在整改")]),
    ]
    path = ledger(tmp_path / "坏台账.xlsx", problems, "2024年5月31日")
    out_dir = tmp_path / "标注"
    out_dir.mkdir()
    code, out, _ = run(capsys, *args(tmp_path / "store", path), "--annotate", str(out_dir))
    assert code == 1
    lines = out.splitlines()
    assert lines[1].startswith("  [错误] 2 行：整改状态无法识别（可用：")
    assert lines[2].startswith("    工作表“整改台账” 第4行 整改状态（G列） 值“差不多了”")
    assert any(line.startswith("  [错误] 1 行：整改时限无法识别") for line in lines)
    copy = out_dir / "坏台账_问题标注.xlsx"
    assert f"标注了问题的台账副本：{copy}" in out
    book = openpyxl.load_workbook(copy)
    assert book.sheetnames[0] == "问题汇总"
    comment = book["整改台账"]["G4"].comment
    assert comment is not None and "无法识别的整改状态" in comment.text
