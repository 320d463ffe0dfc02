"""The daily 绿/黄/红 notices (DOMAIN.md §8): which measures are due one on a date, who receives
it, the numbered 预警提醒 / 督办函 documents, their archive, audit, delivery and scope.

Stores are built through the real schema and write path (tests.builders.StoreBuilder, with the
people responsible filled in); the expected notices are computed here, in plain Python, from
the measures' deadlines, statuses and a calendar written out in this file.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from tests.builders import StoreBuilder
from tests.test_mail import Inbox, smtp_server
from xuncha import audit, cli
from xuncha.auth import Access, PermissionDenied
from xuncha.briefing import render
from xuncha.ledger.workdays import UnknownYear
from xuncha.rectify import contacts, mail, notices
from xuncha.store import Store, StoreError, crypto, open_reader
from xuncha.store.reader import load_queries

D = dt.date
SEVERITY = {"绿": 1, "黄": 2, "红": 3}


# -- a store whose measures we know ---------------------------------------------------------


@dataclass
class Plan:
    """A measure as the test knows it: what the expected notices are computed from."""

    measure_id: int
    unit: str
    deadline: dt.date | None
    history: list[tuple[dt.date, str]]
    extensions: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    person: str | None = None
    lead_person: str | None = None


class Builder(StoreBuilder):
    """StoreBuilder with the 责任人 and 责任领导 of each measure, and what the test needs to know."""

    def __init__(self) -> None:
        super().__init__()
        self.plans: list[Plan] = []
        self.unit_names: dict[int, str] = {}

    def unit(self, name: str, *args: Any, **kwargs: Any) -> int:  # type: ignore[override]
        unit_id = super().unit(name, *args, **kwargs)
        self.unit_names[unit_id] = name
        return unit_id

    def planned(
        self,
        finding_id: int,
        *,
        deadline: dt.date | None,
        history: list[tuple[dt.date, str]] | None = None,
        extensions: list[tuple[dt.date, dt.date]] | None = None,
        person: str | None = "张三",
        lead_person: str | None = "李四",
        title: str | None = None,
    ) -> int:
        measure_id = self.measure(
            finding_id, deadline=deadline, history=history, extensions=extensions
        )
        row = list(self.measures[-1])
        row[3], row[4], row[5] = lead_person, "办公室", person
        row[2] = title or f"整改措施{measure_id}：建立健全制度并抓好落实"
        self.measures[-1] = tuple(row)
        unit_id = self.findings[finding_id - 1][3]
        inspection = self._finding_inspection[finding_id]
        feedback = self._feedback[inspection]
        self.plans.append(
            Plan(
                measure_id,
                self.unit_names[unit_id],
                deadline,
                history or [(feedback, "IN_PROGRESS")],
                extensions or [],
                person,
                lead_person,
            )
        )
        return measure_id


def two_units_2026(tmp_path: Path) -> tuple[Store, Builder]:
    """Two units of one round (反馈 2026-01-10) with measures due between March and May 2026."""
    b = Builder()
    r = b.round("十四届市委第一轮巡察", seq=1)
    finance = b.unit("市财政局", short_name="财政局")
    education = b.unit("市教育局", short_name="教育局", sector="教育")
    fi = b.inspection(r, finance, feedback=D(2026, 1, 10))
    ei = b.inspection(r, education, feedback=D(2026, 1, 10))
    f1 = b.finding(fi, "B03", title="公务接待超标准")
    f2 = b.finding(fi, "B05", title="政府采购程序不规范")
    f3 = b.finding(ei, "C05", title="三会一课落实不到位")
    b.planned(f1, deadline=D(2026, 3, 31), person="张三、王五")
    b.planned(f1, deadline=D(2026, 3, 15))
    b.planned(f1, deadline=D(2026, 4, 30), person=None, lead_person=None)
    # Done before its deadline: never a notice after that.
    b.planned(
        f2,
        deadline=D(2026, 3, 20),
        history=[(D(2026, 1, 10), "IN_PROGRESS"), (D(2026, 3, 5), "DONE")],
    )
    b.planned(f2, deadline=None)  # 长期坚持, no date: never a notice
    b.planned(f2, deadline=D(2026, 3, 25), history=[(D(2026, 1, 10), "LONG_TERM")])
    # Extended on 2026-03-12 from 03-10 to 04-20: the colours start again.
    b.planned(f2, deadline=D(2026, 3, 10), extensions=[(D(2026, 3, 12), D(2026, 4, 20))])
    b.planned(f3, deadline=D(2026, 3, 20), person="孙七 周八", lead_person="钱九")
    b.planned(
        f3,
        deadline=D(2026, 5, 10),
        history=[(D(2026, 1, 10), "NOT_DONE"), (D(2026, 4, 1), "PHASED")],
        person="刘一",
    )
    return b.build(tmp_path / "store"), b


# -- the independent computation -------------------------------------------------------------


def status_on(plan: Plan, day: dt.date) -> str | None:
    known = [s for d, s in plan.history if d <= day]
    return known[-1] if known else None


def deadline_on(plan: Plan, day: dt.date) -> dt.date | None:
    moved = [new for effective, new in plan.extensions if effective <= day]
    return moved[-1] if moved else plan.deadline


def expected_runs(
    plans: Iterable[Plan],
    dates: Iterable[dt.date],
    *,
    green: int = 20,
    yellow: int = 10,
    working: Any = None,
) -> dict[dt.date, set[tuple[int, str, int]]]:
    """Per date of a series of daily runs: (measure, colour, days left) of the notices due.
    `working`: a function telling working days, for lead times in working days."""
    issued: dict[tuple[int, dt.date], int] = {}
    out: dict[dt.date, set[tuple[int, str, int]]] = {}
    for day in dates:
        due: set[tuple[int, str, int]] = set()
        for plan in plans:
            status, deadline = status_on(plan, day), deadline_on(plan, day)
            if status in (None, "DONE", "LONG_TERM") or deadline is None:
                continue
            if deadline < day:
                colour, left = "红", (deadline - day).days
            else:
                if working is None:
                    left = (deadline - day).days
                else:
                    left = sum(
                        1
                        for n in range(1, (deadline - day).days + 1)
                        if working(day + dt.timedelta(days=n))
                    )
                if left <= yellow:
                    colour = "黄"
                elif left <= green:
                    colour = "绿"
                else:
                    continue
            if issued.get((plan.measure_id, deadline), 0) >= SEVERITY[colour]:
                continue
            issued[(plan.measure_id, deadline)] = SEVERITY[colour]
            due.add((plan.measure_id, colour, left))
        out[day] = due
    return out


def issued_set(run: notices.NoticeRun) -> set[tuple[int, str, int]]:
    return {(i.measure_id, i.colour, i.days_left) for n in run.issued for i in n.items}


def stored_items(store: Store, day: dt.date) -> set[tuple[int, str, int]]:
    con = store.connect()
    try:
        rows = con.execute(
            "SELECT i.measure_id, i.colour, i.days_left FROM notice_items i"
            " JOIN notices n USING (notice_id) WHERE n.issued_on = ?",
            [day],
        ).fetchall()
    finally:
        con.close()
    return {(int(m), str(c), int(d)) for m, c, d in rows}


DATES_2026 = [D(2026, 2, 1) + dt.timedelta(days=4 * k) for k in range(26)]  # to 2026-05-12


def test_the_notices_of_each_date_equal_an_independent_computation(tmp_path: Path) -> None:
    store, b = two_units_2026(tmp_path)
    expected = expected_runs(b.plans, DATES_2026)
    assert sum(len(v) for v in expected.values()) >= 12  # the series does exercise something
    assert {c for v in expected.values() for _, c, _ in v} == {"绿", "黄", "红"}
    for day in DATES_2026:
        run = notices.issue_notices(store, day, today=day)
        assert issued_set(run) == expected[day], day
        assert stored_items(store, day) == expected[day], day
        # One document per unit and kind: 预警提醒 for 绿/黄, 督办函 for 红.
        units = {p.measure_id: p.unit for p in b.plans}
        kinds = {(units[m], "督办函" if c == "红" else "预警提醒") for m, c, _ in expected[day]}
        assert {(n.unit_name, n.kind) for n in run.issued} == kinds, day
        for notice in run.issued:
            wanted = {"督办函"} if notice.kind == "督办函" else {"预警提醒"}
            assert {i.kind for i in notice.items} == wanted


def test_the_computation_alone_writes_nothing_and_equals_what_a_run_issues(
    tmp_path: Path,
) -> None:
    store, b = two_units_2026(tmp_path)
    day = D(2026, 3, 25)
    reader = open_reader(store)
    try:
        due = notices.compute_notices(reader, day, calendar=None, lead=notices.LeadTimes())
    finally:
        reader.close()
    version = store.version()
    assert store.version() == version
    assert {(d.measure_id, d.colour, d.days_left) for d in due} == expected_runs(b.plans, [day])[
        day
    ]
    run = notices.issue_notices(store, day)
    assert issued_set(run) == {(d.measure_id, d.colour, d.days_left) for d in due}


def test_the_default_colours_are_those_of_the_warning_colour_macro(tmp_path: Path) -> None:
    """In calendar days with the default 20/10, the colour of a date is the vocabulary's."""
    store, _ = two_units_2026(tmp_path)
    on = D(2026, 3, 1)
    con = store.connect()
    try:
        for offset in range(-5, 30):
            deadline = on + dt.timedelta(days=offset)
            sql = con.execute("SELECT warning_colour(?::DATE, ?::DATE)", [deadline, on]).fetchone()
            found = notices.colour_on(on, deadline, notices.LeadTimes())
            assert (found[0] if found else "") == (sql[0] if sql else None), offset
    finally:
        con.close()


def test_running_a_date_again_issues_nothing_and_writes_nothing(tmp_path: Path) -> None:
    store, _ = two_units_2026(tmp_path)
    first = notices.issue_notices(store, D(2026, 3, 25))
    assert first.issued and first.version == store.version()
    version, trail = store.version(), len(audit.entries(store.root))
    files = sorted((store.root / "notices").rglob("*.docx"))
    again = notices.issue_notices(store, D(2026, 3, 25))
    assert again.issued == () and again.version is None
    assert "没有需要发出" in again.summary()
    assert store.version() == version
    assert len(audit.entries(store.root)) == trail
    assert sorted((store.root / "notices").rglob("*.docx")) == files


def test_a_measure_that_goes_straight_to_red_gets_only_red(tmp_path: Path) -> None:
    store, b = two_units_2026(tmp_path)
    run = notices.issue_notices(store, D(2026, 4, 2))  # the first run is after both deadlines
    colours = {i.measure_id: i.colour for n in run.issued for i in n.items}
    overdue = [p.measure_id for p in b.plans if p.deadline in (D(2026, 3, 15), D(2026, 3, 20))]
    for measure_id in overdue:
        if measure_id in colours:
            assert colours[measure_id] == "红"
    con = store.connect()
    try:
        kinds = con.execute(
            "SELECT DISTINCT colour FROM notice_items WHERE measure_id IN (SELECT unnest(?))",
            [overdue],
        ).fetchall()
    finally:
        con.close()
    assert kinds == [("红",)]


def test_an_extension_starts_the_colours_again(tmp_path: Path) -> None:
    store, b = two_units_2026(tmp_path)
    extended = next(p for p in b.plans if p.extensions)
    seen: list[tuple[dt.date, str, dt.date]] = []
    for day in (D(2026, 3, 1), D(2026, 3, 9), D(2026, 3, 11), D(2026, 4, 1), D(2026, 4, 15)):
        for notice in notices.issue_notices(store, day).issued:
            for item in notice.items:
                if item.measure_id == extended.measure_id:
                    seen.append((day, item.colour, item.deadline))
    # 绿 and 黄 at the first deadline, 红 the day after it, then 绿 and 黄 again at the new one.
    assert seen == [
        (D(2026, 3, 1), "黄", D(2026, 3, 10)),
        (D(2026, 3, 11), "红", D(2026, 3, 10)),
        (D(2026, 4, 1), "绿", D(2026, 4, 20)),
        (D(2026, 4, 15), "黄", D(2026, 4, 20)),
    ]


def test_numbers_continue_across_runs_per_kind_and_restart_in_a_new_year(
    tmp_path: Path,
) -> None:
    b = Builder()
    r = b.round("第一轮", seq=1)
    units = [b.unit(f"市第{n}局", short_name=f"第{n}局") for n in (1, 2, 3)]
    for n, unit in enumerate(units):
        i = b.inspection(r, unit, feedback=D(2026, 10, 1))
        f = b.finding(i)
        b.planned(f, deadline=D(2026, 12, 20) + dt.timedelta(days=n))
        b.planned(f, deadline=D(2027, 1, 20) + dt.timedelta(days=n))
    store = b.build(tmp_path / "store")
    numbers: list[str] = []
    for day in (D(2026, 12, 5), D(2026, 12, 15), D(2026, 12, 28), D(2027, 1, 5), D(2027, 1, 12)):
        numbers += [n.doc_number for n in notices.issue_notices(store, day, today=day).issued]
    warnings_2026 = [x for x in numbers if x.startswith("巡察预警〔2026〕")]
    supervision_2026 = [x for x in numbers if x.startswith("巡察督办〔2026〕")]
    warnings_2027 = [x for x in numbers if x.startswith("巡察预警〔2027〕")]
    supervision_2027 = [x for x in numbers if x.startswith("巡察督办〔2027〕")]
    # Three units a day, numbered one after another per kind and year.
    assert warnings_2026 == [f"巡察预警〔2026〕{k}号" for k in range(1, len(warnings_2026) + 1)]
    assert supervision_2026 == [f"巡察督办〔2026〕{k}号" for k in range(1, 4)]
    assert warnings_2027 == [f"巡察预警〔2027〕{k}号" for k in range(1, len(warnings_2027) + 1)]
    assert len(warnings_2026) == 6 and len(warnings_2027) == 6
    assert supervision_2027 == []
    con = store.connect()
    try:
        rows = con.execute("SELECT kind, year, number, doc_number FROM notices").fetchall()
    finally:
        con.close()
    assert sorted(r[3] for r in rows) == sorted(numbers)
    assert len({(k, y, n) for k, y, n, _ in rows}) == len(rows)


# -- working days -------------------------------------------------------------------------------

# A year written by the administrator (STORE/config/workdays.toml): holidays and 调休 weekends.
HOLIDAYS_2027 = [
    D(2027, 1, 1),
    *(D(2027, 2, 6) + dt.timedelta(days=n) for n in range(7)),  # 春节 02-06..02-12
    D(2027, 4, 5),  # 清明
    *(D(2027, 5, 1) + dt.timedelta(days=n) for n in range(5)),  # 劳动节 05-01..05-05
]
WORKDAYS_2027 = [D(2027, 2, 13), D(2027, 4, 25), D(2027, 5, 8)]  # 调休: Sat, Sun, Sat
WORKDAYS_TOML = f"""
[2027]
holidays = [{", ".join(f'"{d.isoformat()}"' for d in HOLIDAYS_2027)}]
workdays = [{", ".join(f'"{d.isoformat()}"' for d in WORKDAYS_2027)}]
"""


def working_2027(day: dt.date, *, with_tiaoxiu: bool = True) -> bool:
    assert day.year == 2027
    if with_tiaoxiu and day in WORKDAYS_2027:
        return True
    return day.weekday() < 5 and day not in HOLIDAYS_2027


def store_2027(tmp_path: Path, *, lead_unit: str = "工作日") -> tuple[Store, Builder]:
    b = Builder()
    r = b.round("第二轮", seq=2)
    unit = b.unit("市住建局", short_name="住建局", sector="住建")
    i = b.inspection(r, unit, feedback=D(2027, 1, 15))
    f = b.finding(i, "B05")
    for deadline in (D(2027, 2, 26), D(2027, 3, 1), D(2027, 4, 16), D(2027, 5, 14), D(2027, 6, 1)):
        b.planned(f, deadline=deadline)
    store = b.build(tmp_path / "store")
    (store.root / "config").mkdir(exist_ok=True)
    (store.root / "config" / "workdays.toml").write_text(WORKDAYS_TOML, encoding="utf-8")
    (store.root / "config" / "notices.toml").write_text(
        f'lead_unit = "{lead_unit}"\ngreen = 20\nyellow = 10\n', encoding="utf-8"
    )
    return store, b


DATES_2027 = [D(2027, 1, 18) + dt.timedelta(days=4 * k) for k in range(34)]  # to 2027-05-30


def test_in_working_days_the_lead_times_follow_the_calendar_and_its_tiaoxiu(
    tmp_path: Path,
) -> None:
    assert all(d.weekday() >= 5 for d in WORKDAYS_2027)
    store, b = store_2027(tmp_path)
    expected = expected_runs(b.plans, DATES_2027, working=working_2027)
    # The series is one where 调休 and working days change the answer.
    without = expected_runs(
        b.plans, DATES_2027, working=lambda d: working_2027(d, with_tiaoxiu=False)
    )
    in_calendar_days = expected_runs(b.plans, DATES_2027)
    assert expected != without and expected != in_calendar_days
    for day in DATES_2027:
        run = notices.issue_notices(store, day, today=day)
        assert issued_set(run) == expected[day], day
        for notice in run.issued:
            for item in notice.items:
                assert item.lead_unit == ("自然日" if item.colour == "红" else "工作日")


def test_the_document_counts_working_days_in_working_day_mode(tmp_path: Path) -> None:
    store, _ = store_2027(tmp_path)
    run = notices.issue_notices(store, D(2027, 4, 9), today=D(2027, 4, 9))
    assert run.issued
    text = "\n".join(p.text for p in Document(io.BytesIO(run.issued[0].docx)).paragraphs)
    for item in run.issued[0].items:
        if item.days_left > 0:
            assert f"剩余 {item.days_left} 个工作日" in text


def test_a_year_the_calendar_lacks_is_an_error_naming_it_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b = Builder()
    r = b.round("第三轮", seq=3)
    unit = b.unit("市卫健委", short_name="卫健委", sector="卫健")
    i = b.inspection(r, unit, feedback=D(2027, 10, 1))
    f = b.finding(i)
    b.planned(f, deadline=D(2027, 12, 30))
    b.planned(f, deadline=D(2028, 1, 10))
    store = b.build(tmp_path / "store")
    (store.root / "config").mkdir()
    (store.root / "config" / "workdays.toml").write_text(WORKDAYS_TOML, encoding="utf-8")
    (store.root / "config" / "notices.toml").write_text('lead_unit = "工作日"\n', encoding="utf-8")
    version = store.version()
    with pytest.raises(UnknownYear) as caught:
        notices.issue_notices(store, D(2027, 12, 24), today=D(2027, 12, 24))
    assert caught.value.year == 2028 and "2028" in str(caught.value)
    assert store.version() == version
    assert not (store.root / "notices").exists()
    code = cli.main(["notices", "--db", str(store.root), "--date", "2027-12-24"])
    err = capsys.readouterr().err
    assert code == 2 and "2028 年" in err and "未发出任何文书" in err
    # A deadline that needs no day of 2028 is answered: the year is needed only when it is.
    only_2027 = Builder()
    r = only_2027.round("第三轮", seq=3)
    unit = only_2027.unit("市卫健委")
    i = only_2027.inspection(r, unit, feedback=D(2027, 10, 1))
    only_2027.planned(only_2027.finding(i), deadline=D(2027, 12, 30))
    other = only_2027.build(tmp_path / "other")
    (other.root / "config").mkdir()
    (other.root / "config" / "workdays.toml").write_text(WORKDAYS_TOML, encoding="utf-8")
    (other.root / "config" / "notices.toml").write_text('lead_unit = "工作日"\n', encoding="utf-8")
    run = notices.issue_notices(other, D(2027, 12, 24), today=D(2027, 12, 24))
    assert issued_set(run) == {(1, "黄", 4)}  # 27, 28, 29, 30 December


def test_the_configuration_is_checked_and_a_bad_one_stops_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = two_units_2026(tmp_path)
    (store.root / "config").mkdir()
    path = store.root / "config" / "notices.toml"
    for text, words in (
        ('lead_unit = "周"\n', "lead_unit"),
        ("green = 5\nyellow = 10\n", "应小于"),
        ("green = -1\n", "green"),
        ('colour = "red"\n', "无法识别"),
        ('warning_prefix = "巡察督办"\n', "不能相同"),
        ('warning_prefix = "预警〔2026〕"\n', "warning_prefix"),
        ("green = [\n", "TOML"),
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(notices.NoticeConfigError, match=words):
            notices.load_notice_config(store.root)
        code = cli.main(["notices", "--db", str(store.root), "--date", "2026-03-25"])
        assert code == 2 and words in capsys.readouterr().err
    assert not (store.root / "notices").exists()
    path.write_text(
        'lead_unit = "自然日"\ngreen = 15\nyellow = 5\nwarning_prefix = "江巡预"\n'
        'supervision_prefix = "江巡督"\nissuer = "中共江城市委巡察办"\n',
        encoding="utf-8",
    )
    config = notices.load_notice_config(store.root)
    assert config.lead == notices.LeadTimes("自然日", 15, 5)
    run = notices.issue_notices(store, D(2026, 3, 25))
    assert {n.doc_number for n in run.issued} >= {"江巡预〔2026〕1号", "江巡督〔2026〕1号"}
    assert all(i.days_left <= 15 for n in run.issued for i in n.items)


# -- recipients ---------------------------------------------------------------------------------

DIRECTORY = """单位,身份,姓名,电子邮箱,系统账号
市财政局,主要负责人,王强,wangqiang@czj.example.cn,wangqiang
市财政局,责任领导,李四,lisi@czj.example.cn,lisi
财政局,责任人,张三,zhangsan@czj.example.cn,ZhangSan
市教育局,主要负责人,吴十,wushi@jyj.example.cn,
市教育局,联络员,郑一,zhengyi@jyj.example.cn,zhengyi
,巡察办,赵六,zhaoliu@xcb.example.cn,zhaoliu
巡察办,巡察办,冯二,,
"""


def with_directory(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "通讯录.csv"
    path.write_text(DIRECTORY, encoding="utf-8")
    contacts.import_contacts(store, path, user="tester")


def test_recipients_per_colour_come_from_the_measure_and_the_directory(tmp_path: Path) -> None:
    store, b = two_units_2026(tmp_path)
    with_directory(store, tmp_path)
    plan = b.plans[0]  # 市财政局, 张三、王五 / 李四, due 2026-03-31
    people: dict[str, tuple[notices.Recipient, ...]] = {}
    for day in (D(2026, 3, 12), D(2026, 3, 22), D(2026, 4, 1)):
        for notice in notices.issue_notices(store, day).issued:
            for item in notice.items:
                if item.measure_id == plan.measure_id:
                    people[item.colour] = item.recipients
    zhang = notices.Recipient("张三", "责任人", "zhangsan@czj.example.cn", "zhangsan")
    wang = notices.Recipient("王五", "责任人", None, None)  # not in the directory: no address
    li = notices.Recipient("李四", "责任领导", "lisi@czj.example.cn", "lisi")
    head = notices.Recipient("王强", "主要负责人", "wangqiang@czj.example.cn", "wangqiang")
    office = [
        notices.Recipient("赵六", "巡察办", "zhaoliu@xcb.example.cn", "zhaoliu"),
        notices.Recipient("冯二", "巡察办", None, None),
    ]
    assert set(people["绿"]) == {zhang, wang}
    assert set(people["黄"]) == {zhang, wang, li}
    assert set(people["红"]) == {zhang, wang, li, head, *office}
    # Another unit's 主要负责人 never receives this unit's 督办函.
    assert not any(r.name == "吴十" for r in people["红"])


def test_a_document_lists_each_person_once_with_every_position(tmp_path: Path) -> None:
    b = Builder()
    r = b.round("第一轮", seq=1)
    unit = b.unit("市财政局", short_name="财政局")
    b.unit("市教育局", short_name="教育局")  # named in the directory
    f = b.finding(b.inspection(r, unit, feedback=D(2026, 1, 10)))
    b.planned(f, deadline=D(2026, 3, 20), person="李四", lead_person="李四")
    b.planned(f, deadline=D(2026, 3, 21), person="张 三/无", lead_person="—")
    store = b.build(tmp_path / "store")
    with_directory(store, tmp_path)
    (notice,) = notices.issue_notices(store, D(2026, 3, 15)).issued
    assert [r.label() for r in notice.recipients] == ["李四（责任领导、责任人）", "张三（责任人）"]
    stored = json.loads(_one(store, "SELECT recipients FROM notices"))
    assert [p["name"] for p in stored] == ["李四", "张三"]
    assert stored[1] == {
        "name": "张三",
        "position": "责任人",
        "email": "zhangsan@czj.example.cn",
        "account": "zhangsan",
    }


def test_names_in_one_cell_are_split_on_the_usual_separators() -> None:
    assert notices.split_names("张三、李四,王五，赵六/钱七 孙八") == [
        "张三",
        "李四",
        "王五",
        "赵六",
        "钱七",
        "孙八",
    ]
    assert notices.split_names("张  三") == ["张三"]
    assert notices.split_names(" / ") == [] and notices.split_names(None) == []
    assert notices.split_names("李四、李四") == ["李四"]
    # Positions only are one person's posts, as ledgers write 责任领导 (not four people).
    assert notices.split_names("党组书记、局长") == ["党组书记、局长"]
    assert notices.split_names("党组成员、副局长") == ["党组成员、副局长"]
    assert notices.split_names("张三、局长") == ["张三", "局长"]


def _one(store: Store, sql: str) -> Any:
    con = store.connect()
    try:
        row = con.execute(sql).fetchone()
    finally:
        con.close()
    return row[0] if row else None


# -- the documents ------------------------------------------------------------------------------


def _texts(data: bytes) -> list[str]:
    return [p.text for p in Document(io.BytesIO(data)).paragraphs]


def test_the_documents_reopen_with_their_number_recipients_and_measures(tmp_path: Path) -> None:
    store, _ = two_units_2026(tmp_path)
    with_directory(store, tmp_path)
    run = notices.issue_notices(store, D(2026, 3, 25))
    supervision = next(n for n in run.issued if n.kind == "督办函" and n.unit_name == "市财政局")
    document = Document(io.BytesIO(supervision.path.read_bytes()))
    texts = [p.text for p in document.paragraphs]
    body = "\n".join(texts)
    assert supervision.doc_number in texts
    assert any("督办函" in t for t in texts[:6])  # the title names the kind
    sent_to = next(t for t in texts if t.startswith("主送："))
    for person in supervision.recipients:
        where = body if person.position == "巡察办" else sent_to
        assert person.label() in where
    assert any(t.startswith("抄送：") and "赵六（巡察办）" in t for t in texts)
    con = store.connect()
    try:
        for item in supervision.items:
            title, text = con.execute(
                "SELECT f.title, m.text FROM measures m JOIN findings f USING (finding_id)"
                " WHERE m.measure_id = ?",
                [item.measure_id],
            ).fetchone()
            assert title in body and text in body
            assert f"已逾期 {-item.days_left} 天" in body
            current = item.deadline
            assert f"现行时限：{current.year}年{current.month}月{current.day}日" in body
    finally:
        con.close()
    assert texts[-1].endswith("印发") and "2026年3月25日" in texts[-1]
    section = document.sections[0]
    assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297
    assert document.core_properties.title.startswith(supervision.doc_number)
    # The archived bytes are those recorded.
    digest = hashlib.sha256(supervision.path.read_bytes()).hexdigest()
    assert (
        digest
        == supervision.file_sha256
        == _one(store, f"SELECT file_sha256 FROM notices WHERE notice_id = {supervision.notice_id}")
    )


def test_libreoffice_opens_the_supervision_letter_with_its_number_and_recipients(
    tmp_path: Path,
) -> None:
    if not Path("/usr/bin/soffice").exists():
        pytest.skip("/usr/bin/soffice is absent: LibreOffice is not installed")
    store, _ = two_units_2026(tmp_path)
    with_directory(store, tmp_path)
    run = notices.issue_notices(store, D(2026, 3, 25))
    supervision = next(n for n in run.issued if n.kind == "督办函")
    pdf = render.docx_to_pdf(supervision.path, tmp_path / "pdf")
    assert pdf is not None and pdf.read_bytes().startswith(b"%PDF")
    text = _pdf_text(pdf)
    flat = "".join(text.split())
    assert supervision.doc_number in flat
    for person in supervision.recipients:
        assert person.name in flat


def _pdf_text(pdf: Path) -> str:
    try:
        from pypdf import PdfReader  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        if shutil.which("pdftotext") is None:
            pytest.skip("neither pypdf nor pdftotext is installed: the PDF's text is not read")
        return subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
    return "\n".join(page.extract_text() or "" for page in PdfReader(str(pdf)).pages)


def test_a_failed_run_leaves_no_document_and_no_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = two_units_2026(tmp_path)
    version = store.version()
    real = notices.notice_docx.write_notice_docx
    calls = []

    def failing(document: Any) -> bytes:
        calls.append(document.doc_number)
        if len(calls) == 2:
            raise OSError("磁盘错误（测试）")
        return real(document)

    monkeypatch.setattr(notices.notice_docx, "write_notice_docx", failing)
    with pytest.raises(OSError):
        notices.issue_notices(store, D(2026, 3, 25))
    assert len(calls) == 2
    assert store.version() == version
    assert list((store.root / "notices").rglob("*")) in ([], [store.root / "notices" / "2026"])
    monkeypatch.setattr(notices.notice_docx, "write_notice_docx", real)
    run = notices.issue_notices(store, D(2026, 3, 25))
    assert run.issued[0].number == 1  # nothing was taken by the failed run


# -- archive, audit, delivery ------------------------------------------------------------------


def test_each_document_is_audited_with_its_number_people_measures_and_hash(
    tmp_path: Path,
) -> None:
    store, _ = two_units_2026(tmp_path)
    with_directory(store, tmp_path)
    run = notices.issue_notices(store, D(2026, 3, 25))
    records = [e for e in audit.entries(store.root) if e.action == "notice_issue"]
    assert len(records) == len(run.issued) >= 2
    assert audit.verify(store.root) == []
    by_number = {e.details["doc_number"]: e for e in records}
    for notice in run.issued:
        entry = by_number[notice.doc_number]
        assert entry.user == "system"
        assert entry.details["unit"] == notice.unit_name
        assert entry.details["recipients"] == [r.label() for r in notice.recipients]
        assert entry.details["measure_ids"] == [i.measure_id for i in notice.items]
        assert entry.details["sha256"] == hashlib.sha256(notice.path.read_bytes()).hexdigest()
        assert entry.details["issued_on"] == "2026-03-25"
    batch = _one(store, "SELECT count(*) FROM import_batches WHERE kind = 'notices'")
    assert batch == 1


def test_with_a_store_key_the_archive_is_sealed_and_reads_back_only_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = two_units_2026(tmp_path)
    key = bytes(range(32))
    monkeypatch.setenv(crypto.ENV_KEY, base64.b64encode(key).decode())
    run = notices.issue_notices(store, D(2026, 3, 25))
    notice = run.issued[0]
    raw = notice.path.read_bytes()
    assert crypto.is_sealed(notice.path) and not raw.startswith(b"PK")
    assert notice.doc_number.encode() not in raw
    name, data = notices.notice_docx_bytes(store, Access.system(), notice.notice_id)
    assert hashlib.sha256(data).hexdigest() == notice.file_sha256
    assert data == notice.docx and name.endswith(".docx")
    assert notice.doc_number in _texts(data)
    monkeypatch.setenv(crypto.ENV_KEY, base64.b64encode(bytes(32)).decode())
    with pytest.raises(StoreError):
        notices.notice_docx_bytes(store, Access.system(), notice.notice_id)


def test_a_key_rotation_reseals_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = two_units_2026(tmp_path)
    run = notices.issue_notices(store, D(2026, 3, 25))
    old, new = bytes(range(32)), bytes(range(1, 33))
    assert notices.seal_all(store, old)["notice_files_sealed"] == len(run.issued)
    counts = notices.seal_all(store, new, old)
    assert counts["notice_files_rotated"] == len(run.issued)
    monkeypatch.setenv(crypto.ENV_KEY, base64.b64encode(new).decode())
    _, data = notices.notice_docx_bytes(store, Access.system(), run.issued[0].notice_id)
    assert hashlib.sha256(data).hexdigest() == run.issued[0].file_sha256


def test_xuncha_key_seal_includes_the_archived_notices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = two_units_2026(tmp_path)
    run = notices.issue_notices(store, D(2026, 3, 25))
    key_file = tmp_path / "store.key"
    assert cli.main(["key", "new", str(key_file)]) == 0
    monkeypatch.setenv(crypto.ENV_KEY_FILE, str(key_file))
    assert cli.main(["key", "seal", "--db", str(store.root)]) == 0
    assert f"预警提醒和督办函 {len(run.issued)} 个" in capsys.readouterr().out
    assert all(crypto.is_sealed(n.path) for n in run.issued)
    _, data = notices.notice_docx_bytes(store, Access.system(), run.issued[0].notice_id)
    assert hashlib.sha256(data).hexdigest() == run.issued[0].file_sha256


def test_a_backup_carries_the_archived_notices(tmp_path: Path) -> None:
    store, _ = two_units_2026(tmp_path)
    run = notices.issue_notices(store, D(2026, 3, 25))
    archive = tmp_path / "backup.tar.gz"
    assert cli.main(["backup", "--db", str(store.root), "--out", str(archive)]) == 0
    target = tmp_path / "restored"
    assert cli.main(["restore", str(archive), "--db", str(target), "--user", "巡察办"]) == 0
    restored = Store(target)
    for notice in run.issued:
        _, data = notices.notice_docx_bytes(restored, Access.system(), notice.notice_id)
        assert hashlib.sha256(data).hexdigest() == notice.file_sha256


def test_an_archived_file_that_was_changed_is_refused(tmp_path: Path) -> None:
    store, _ = two_units_2026(tmp_path)
    notice = notices.issue_notices(store, D(2026, 3, 25)).issued[0]
    notice.path.write_bytes(notice.path.read_bytes() + b"\0")
    with pytest.raises(StoreError, match="不符"):
        notices.notice_docx_bytes(store, Access.system(), notice.notice_id)


def test_sending_without_a_mail_server_sends_nothing_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(mail.ENV_HOST, raising=False)
    monkeypatch.delenv(mail.ENV_PORT, raising=False)
    store, _ = two_units_2026(tmp_path)
    run = notices.issue_notices(store, D(2026, 3, 25), send=True)
    assert run.issued and run.deliveries == ()
    assert run.mail_note is not None and "未发送" in run.mail_note and "mail.toml" in run.mail_note
    assert not [e for e in audit.entries(store.root) if e.action == "notice_mail"]


def test_sending_delivers_each_document_to_its_recipients_through_a_loopback_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole run with the real mail module: a local SMTP server on 127.0.0.1 receives one
    message per recipient who has an address, with the archived document attached."""
    store, _ = two_units_2026(tmp_path)
    with_directory(store, tmp_path)
    inbox = Inbox()
    with smtp_server(inbox) as port:
        monkeypatch.setenv(mail.ENV_HOST, "127.0.0.1")
        monkeypatch.setenv(mail.ENV_PORT, str(port))
        run = notices.issue_notices(store, D(2026, 3, 25), send=True)
    assert run.issued
    expected = [(n.doc_number, r.name, r.email) for n in run.issued for r in n.recipients]
    assert [(d.doc_number, d.name, d.email) for d in run.deliveries] == expected
    addressed = [email for _, _, email in expected if email]
    assert addressed and [d.ok for d in run.deliveries] == [e is not None for *_, e in expected]
    assert [r.rcpt_tos for r in inbox.received] == [[a] for a in addressed]
    by_number = {n.doc_number: n for n in run.issued}
    for received in inbox.received:
        message = email.message_from_bytes(received.content, policy=email.policy.default)
        number = next(k for k in by_number if k in str(message["Subject"]))
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content() == by_number[number].path.read_bytes()
    records = [e for e in audit.entries(store.root) if e.action == "notice_mail"]
    assert sorted(r.details["doc_number"] for r in records) == sorted(by_number)
    ok = sum(1 for d in run.deliveries if d.ok)
    assert run.mail_note == f"邮件发送 {ok} 封成功，{len(run.deliveries) - ok} 封失败"


# -- who sees what ----------------------------------------------------------------------------


def test_each_signed_in_user_sees_their_own_notices_and_a_liaison_only_its_units(
    tmp_path: Path,
) -> None:
    store, _ = two_units_2026(tmp_path)
    with_directory(store, tmp_path)
    for day in (D(2026, 3, 12), D(2026, 3, 25), D(2026, 4, 2)):
        notices.issue_notices(store, day)
    reader = open_reader(store)
    try:
        everything = notices.notices_for(reader, Access.system(), None)
        units = dict(zip(everything["notice_id"], everything["unit_name"], strict=True))
        kinds = dict(zip(everything["notice_id"], everything["kind"], strict=True))
        assert set(units.values()) == {"市财政局", "市教育局"}

        def seen(access: Access, since: dt.date | None = None) -> set[int]:
            return set(notices.notices_for(reader, access, since)["notice_id"].to_list())

        finance = Access.for_role("lx1", "liaison", units=["市财政局"])
        education = Access.for_role("zhengyi", "liaison", units=["市教育局"])
        assert seen(finance) == {n for n, u in units.items() if u == "市财政局"}
        # 郑一 is the education bureau's liaison: its own unit's notices, never another's.
        assert seen(education) == {n for n, u in units.items() if u == "市教育局"}
        # 张三 (责任人 of the finance bureau) sees the notices addressed to his account.
        zhang = Access.for_role("zhangsan", "viewer")
        mine = {
            int(row["notice_id"])
            for row in everything.iter_rows(named=True)
            if "张三（" in row["recipients_text"] and row["unit_name"] == "市财政局"
        }
        assert mine and seen(zhang) == mine
        # 王强 (主要负责人) receives only 督办函; the office sees every 督办函.
        head = Access.for_role("wangqiang", "leader")
        assert seen(head) and all(
            kinds[n] == "督办函" and units[n] == "市财政局" for n in seen(head)
        )
        office = Access.for_role("office1", "office")
        assert seen(office) == {n for n, k in kinds.items() if k == "督办函"}
        assert seen(Access.for_role("nobody", "viewer")) == set()
        # 赵六 (巡察办 in the directory) signs in with a 巡察组 account scoped to the education
        # bureau: named on every 督办函, shown only those of the units in its scope.
        zhao = Access.for_role("zhaoliu", "group", units=["市教育局"])
        addressed = {
            n
            for n, row in zip(
                everything["notice_id"], everything.iter_rows(named=True), strict=True
            )
            if "赵六（" in row["recipients_text"]
        }
        assert {units[n] for n in addressed} == {"市财政局", "市教育局"}
        assert seen(zhao) == {n for n in addressed if units[n] == "市教育局"}
        issued_on = dict(zip(everything["notice_id"], everything["issued_on"], strict=True))
        later = seen(finance, D(2026, 3, 25))
        assert later == {n for n in seen(finance) if issued_on[n] >= D(2026, 3, 25)}
    finally:
        reader.close()
    other = next(n for n, u in units.items() if u == "市教育局")
    with pytest.raises(PermissionDenied) as refused:
        notices.notice_docx_bytes(store, finance, other)
    message = str(refused.value)
    assert "市教育局" not in message and "巡察" not in message and str(other) not in message
    with pytest.raises(PermissionDenied) as missing:
        notices.notice_docx_bytes(store, finance, 9999)
    assert str(missing.value) == message  # an unknown notice is refused in the same words
    own = next(n for n, u in units.items() if u == "市财政局")
    name, data = notices.notice_docx_bytes(store, finance, own)
    assert "财政局" in name and data.startswith(b"PK")


def test_the_notice_and_contact_queries_honour_their_headers_on_a_store_that_has_some(
    tmp_path: Path,
) -> None:
    store, _ = two_units_2026(tmp_path)
    with_directory(store, tmp_path)
    notices.issue_notices(store, D(2026, 3, 25))
    con = store.connect()
    try:
        for name, params in (
            ("notice_list", {"unit_ids": None, "since": None}),
            ("contacts_list", {}),
        ):
            query = load_queries()[name]
            relation = con.sql(query.sql, params=params)
            types_ = dict(zip(relation.columns, (str(t) for t in relation.types), strict=True))
            assert types_ == {c: t.split()[0] for c, t in query.columns.items()}, name
            frame = relation.pl()
            assert frame.height > 0, name
            keys = query.grain_keys
            assert keys and frame.select(keys).is_duplicated().sum() == 0, name
    finally:
        con.close()


# -- the command line ---------------------------------------------------------------------------


def test_the_command_prints_what_it_issued_and_exits_0_even_when_nothing_is_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, b = two_units_2026(tmp_path)
    with_directory(store, tmp_path)
    db = str(store.root)
    code = cli.main(["notices", "--db", db, "--date", "2026-03-25", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["date"] == "2026-03-25"
    expected = expected_runs(b.plans, [D(2026, 3, 25)])[D(2026, 3, 25)]
    got = {
        (m["measure_id"], m["colour"], m["days_left"])
        for n in payload["issued"]
        for m in n["measures"]
    }
    assert got == expected
    for notice in payload["issued"]:
        assert Path(notice["file"]).is_file()
    code = cli.main(["notices", "--db", db, "--date", "2026-03-25"])
    out = capsys.readouterr().out
    assert code == 0 and "没有需要发出的预警提醒或督办函" in out
    code = cli.main(["notices", "--db", db, "--date", "2026-04-02", "--send"])
    out = capsys.readouterr().out
    assert code == 0 and "督办函" in out and "巡察督办〔2026〕" in out
    assert "收件人：" in out and "未发送任何邮件" in out


def test_the_command_refuses_a_bad_date_and_a_missing_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["notices", "--db", str(tmp_path / "none"), "--date", "2026-03-25"]) == 1
    assert "数据仓不存在" in capsys.readouterr().err
    store, _ = two_units_2026(tmp_path)
    assert cli.main(["notices", "--db", str(store.root), "--date", "2026-13-01"]) == 1
    assert capsys.readouterr().err.startswith("xuncha: ")


def test_deploy_files_schedule_the_daily_command() -> None:
    root = Path(__file__).resolve().parents[1]
    service = (root / "deploy" / "systemd" / "xuncha-notices.service").read_text(encoding="utf-8")
    timer = (root / "deploy" / "systemd" / "xuncha-notices.timer").read_text(encoding="utf-8")
    assert "xuncha notices" in service and "Type=oneshot" in service
    assert "OnCalendar=" in timer and "Persistent=true" in timer
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "预警提醒与督办函（每日任务）" in readme and "xuncha notices" in readme


def test_a_date_after_today_or_before_the_latest_notice_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    store, _ = two_units_2026(tmp_path)
    issued = notices.issue_notices(store, D(2026, 3, 25))
    assert issued.issued
    version = store.version()
    with pytest.raises(notices.NoticeError, match="晚于今天"):
        notices.issue_notices(store, D(2026, 4, 2), today=D(2026, 4, 1))
    with pytest.raises(notices.NoticeError, match="早于已发出文书的最晚日期 2026-03-25"):
        notices.issue_notices(store, D(2026, 3, 12))
    assert store.version() == version
    # The day itself and later days go on.
    assert notices.issue_notices(store, D(2026, 4, 2)).version is not None


def test_the_units_page_colours_follow_the_lead_times_the_notices_use(tmp_path: Path) -> None:
    store, _ = two_units_2026(tmp_path)
    on = D(2026, 3, 1)
    deadlines = [D(2026, 2, 27), D(2026, 3, 9), D(2026, 3, 18), D(2026, 3, 29), None]

    def expected(green: int, yellow: int) -> list[str]:
        out = []
        for d in deadlines:
            if d is None:
                out.append("")
            elif d < on:
                out.append("红")
            elif (d - on).days <= yellow:
                out.append("黄")
            elif (d - on).days <= green:
                out.append("绿")
            else:
                out.append("")
        return out

    colours, caption = notices.colours_on(store.root, on, deadlines)
    assert colours == expected(20, 10) and "20 天" in caption
    (store.root / "config").mkdir()
    (store.root / "config" / "notices.toml").write_text("green = 30\nyellow = 15\n")
    colours, caption = notices.colours_on(store.root, on, deadlines)
    assert colours == expected(30, 15) and colours != expected(20, 10)
    assert "30 天" in caption and "15 天" in caption
