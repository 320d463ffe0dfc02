"""The Excel round trip of online rectification: a liaison downloads its unit's open measures,
fills the sheet, uploads it with the evidence files; the rows become submissions through the
real write path (workflow.report), 已完成 rows wait for review, and a bad sheet writes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.builders import sample_pdf
from xuncha import demo
from xuncha.auth.access import Access
from xuncha.rectify import roundtrip
from xuncha.rectify.evidence import CheckedEvidence, check_evidence
from xuncha.rectify.workflow import WorkflowError
from xuncha.store import Store, open_reader

TODAY = dt.date.today()
PDF = sample_pdf("整改报告")


@dataclass(frozen=True)
class Units:
    a: str  # the liaison's unit (full name)
    b: str  # another unit with open measures


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("roundtrip") / "store")
    store.write(lambda con: demo.build(con, findings=300), fresh=True)
    return store


@pytest.fixture()
def store(small_store: Store, tmp_path: Path) -> Store:
    """A copy per test: tests write."""
    target = tmp_path / "store"
    shutil.copytree(small_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    return Store(target)


@pytest.fixture()
def units(store: Store) -> Units:
    # A: the unit with the most measures to report on (at least 5); B: the next one.
    rows = one(
        store,
        "SELECT u.name, count(*) FROM measures m JOIN findings f USING (finding_id)"
        " JOIN units u ON u.unit_id = f.unit_id WHERE m.status NOT IN ('DONE', 'LONG_TERM')"
        " GROUP BY u.name ORDER BY count(*) DESC, u.name LIMIT 2",
    )
    assert len(rows) == 2 and rows[0][1] >= 5
    return Units(rows[0][0], rows[1][0])


def liaison(unit: str) -> Access:
    return Access.for_role("lian_a", "liaison", display_name="联络员甲", units=[unit])


def open_ids(store: Store, unit: str) -> list[int]:
    """The unit's open measures, by plain SQL over the base tables."""
    con = store.connect()
    try:
        rows = con.execute(
            "SELECT m.measure_id FROM measures m JOIN findings f USING (finding_id)"
            " JOIN units u ON u.unit_id = f.unit_id"
            " WHERE u.name = ? AND m.status <> 'DONE' ORDER BY m.measure_id",
            [unit],
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def one(store: Store, sql: str, params: list[Any] | None = None) -> Any:
    con = store.connect()
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def download(store: Store, access: Access) -> tuple[str, bytes]:
    reader = open_reader(store)
    try:
        return roundtrip.open_measures_workbook(store, reader, access, today=TODAY)
    finally:
        reader.close()


def read(
    store: Store,
    access: Access,
    data: bytes,
    evidence: dict[str, CheckedEvidence] | None = None,
    name: str = "填报.xlsx",
) -> roundtrip.RoundTrip:
    reader = open_reader(store)
    try:
        return roundtrip.read_report_workbook(
            store, reader, access, name, data, evidence=evidence or {}, today=TODAY
        )
    finally:
        reader.close()


class Filled:
    """The downloaded workbook opened for filling in, as a user would in Excel."""

    def __init__(self, data: bytes) -> None:
        self.book = openpyxl.load_workbook(io.BytesIO(data))
        self.sheet = self.book[roundtrip.SHEET]
        header = roundtrip.HEADER_ROW + 1
        self.col = {
            self.sheet.cell(header, c).value: c for c in range(1, self.sheet.max_column + 1)
        }
        self.row_of = {
            self.sheet.cell(r, 1).value: r
            for r in range(header + 1, self.sheet.max_row + 1)
            if self.sheet.cell(r, 1).value is not None
        }

    def ids(self) -> list[int]:
        return sorted(int(i) for i in self.row_of)

    def set(self, row: int, **values: Any) -> None:
        names = {
            "key": roundtrip.KEY,
            "status": roundtrip.STATUS,
            "progress": roundtrip.PROGRESS,
            "completed": roundtrip.COMPLETED,
            "files": roundtrip.EVIDENCE,
            "title": "具体问题",
        }
        for key, value in values.items():
            self.sheet.cell(row, self.col[names[key]]).value = value

    def report(self, measure_id: int, **values: Any) -> int:
        row = self.row_of[measure_id]
        self.set(row, **values)
        return row

    def save(self) -> bytes:
        out = io.BytesIO()
        self.book.save(out)
        return out.getvalue()


def feedback_date(store: Store, measure_id: int) -> dt.date:
    return one(
        store,
        "SELECT i.feedback_date FROM measures m JOIN findings f USING (finding_id)"
        " JOIN inspections i ON i.inspection_id = f.inspection_id WHERE m.measure_id = ?",
        [measure_id],
    )[0][0]


def reportable(store: Store, unit: str) -> list[int]:
    """Open measures of the unit that are not 长期坚持 (any may be reported; these read best)."""
    return [
        r[0]
        for r in one(
            store,
            "SELECT m.measure_id FROM measures m JOIN findings f USING (finding_id)"
            " JOIN units u ON u.unit_id = f.unit_id"
            " WHERE u.name = ? AND m.status NOT IN ('DONE', 'LONG_TERM') ORDER BY m.measure_id",
            [unit],
        )
    ]


# -- the download --------------------------------------------------------------------------


def test_the_download_lists_only_the_liaisons_open_measures(store: Store, units: Units) -> None:
    name, data = download(store, liaison(units.a))
    assert name.endswith(".xlsx") and "整改填报表" in name
    filled = Filled(data)
    assert filled.ids() == open_ids(store, units.a)
    assert not set(filled.ids()) & set(open_ids(store, units.b))
    assert list(filled.col) == roundtrip.COLUMNS
    # Every unit cell names unit A only (short name as the query gives it).
    short = one(store, "SELECT short_name FROM units WHERE name = ?", [units.a])[0][0]
    unit_col = filled.col["单位"]
    assert {filled.sheet.cell(r, unit_col).value for r in filled.row_of.values()} == {short}
    # Shown columns locked under a sheet protection without a password; fill columns open.
    sheet = filled.sheet
    assert sheet.protection.sheet and not sheet.protection.password
    row = next(iter(filled.row_of.values()))
    assert sheet.cell(row, filled.col[roundtrip.KEY]).protection.locked
    assert not sheet.cell(row, filled.col[roundtrip.STATUS]).protection.locked
    assert not sheet.cell(row, filled.col[roundtrip.PROGRESS]).protection.locked
    # The status drop-down offers the four choices.
    lists = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert len(lists) == 1
    assert lists[0].formula1 == '"正在整改,阶段性完成,未完成,已完成"'
    letter = openpyxl.utils.get_column_letter(filled.col[roundtrip.STATUS])
    assert str(lists[0].sqref).startswith(f"{letter}{roundtrip.HEADER_ROW + 2}")
    # The 说明 sheet: who exported, which scope, the key and what 已完成 means.
    notes = " ".join(
        str(c.value) for r in filled.book["说明"].iter_rows() for c in r if c.value is not None
    )
    assert "联络员甲" in notes and "lian_a" in notes and units.a in notes
    assert "请勿修改" in notes and "措施编号" in notes
    assert "待审核" in notes and "销号" in notes
    assert f"{len(filled.ids())}" in notes


def test_text_beginning_with_an_equals_sign_is_written_as_text(store: Store, units: Units) -> None:
    target = open_ids(store, units.a)[0]
    hostile = '=HYPERLINK("http://example.invalid/x","点这里")'
    store.write(
        lambda con: con.execute(
            "UPDATE measures SET text = ? WHERE measure_id = ?", [hostile, target]
        )
    )
    _, data = download(store, liaison(units.a))
    filled = Filled(data)
    cell = filled.sheet.cell(filled.row_of[target], filled.col["整改措施"])
    assert cell.value == hostile and cell.data_type == "s"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and not any(b"<f>" in archive.read(n) for n in sheets)
    # And the unchanged row reads back: the key text equals the store's, formula-like or not.
    filled.report(target, status="正在整改", progress="已修订制度")
    result = read(store, liaison(units.a), filled.save())
    assert not result.problems and [r.measure_id for r in result.reports] == [target]


# -- the upload ----------------------------------------------------------------------------


def test_a_filled_sheet_becomes_submissions_and_the_done_row_waits_for_review(
    store: Store, units: Units
) -> None:
    access = liaison(units.a)
    _, data = download(store, access)
    filled = Filled(data)
    first, second, third = reportable(store, units.a)[:3]
    done_on = feedback_date(store, third) + dt.timedelta(days=1)
    rows = {
        first: filled.report(first, status="正在整改", progress="已起草管理办法，待党组会审议"),
        # A word offices write, read as ledger imports read it.
        second: filled.report(second, status="基本完成", progress="制度已印发，正在组织学习"),
        third: filled.report(
            third,
            status="已完成",
            progress="已完成全面清查并整改到位",
            completed=done_on,
            files="整改报告.pdf",
        ),
    }
    upload = filled.save()
    evidence = {"整改报告.pdf": check_evidence("整改报告.pdf", PDF)}
    result = read(store, access, upload, evidence)
    assert result.problems == [] and result.warnings == []
    assert {r.measure_id: r.source_row for r in result.reports} == rows
    statuses = {r.measure_id: r.status for r in result.reports}
    assert statuses == {first: "IN_PROGRESS", second: "PHASED", third: "DONE"}

    before = store.version()
    outcome = roundtrip.submit_round_trip(store, access, result, "填报.xlsx", upload)
    assert outcome.version == store.version() == before + 1
    digest = hashlib.sha256(upload).hexdigest()
    submitted = one(
        store,
        "SELECT measure_id, kind, source, source_file, source_sha256, source_row, submitted_by"
        " FROM rectify_submissions WHERE batch_id = ? ORDER BY measure_id",
        [outcome.batch_id],
    )
    assert sorted(submitted) == sorted(
        (m, "done" if m == third else "progress", "excel", "填报.xlsx", digest, rows[m], "lian_a")
        for m in rows
    )
    batch = one(
        store,
        "SELECT kind, file_name, file_sha256, rows_read FROM import_batches WHERE batch_id = ?",
        [outcome.batch_id],
    )
    assert batch == [("online", "填报.xlsx", digest, 3)]
    # The done claim is 待审核, with its evidence; the measure is not done.
    states = dict(
        one(
            store,
            "SELECT s.measure_id, arg_max(st.state, st.step_id) FROM rectify_submissions s"
            " JOIN rectify_steps st USING (submission_id) WHERE s.batch_id = ? GROUP BY ALL",
            [outcome.batch_id],
        )
    )
    assert states == {first: "recorded", second: "recorded", third: "pending_review"}
    measure_status = dict(
        one(
            store,
            "SELECT measure_id, status FROM measures WHERE measure_id IN (?, ?, ?)",
            [first, second, third],
        )
    )
    assert measure_status[third] != "DONE"
    assert measure_status[first] == "IN_PROGRESS" and measure_status[second] == "PHASED"
    names = one(
        store,
        "SELECT e.file_name, e.sha256 FROM submission_evidence e"
        " JOIN rectify_submissions s USING (submission_id) WHERE s.measure_id = ?",
        [third],
    )
    assert names == [("整改报告.pdf", hashlib.sha256(PDF).hexdigest())]

    # A second upload of 已完成 for the same measure is refused by row while it waits.
    _, again = download(store, access)
    refilled = Filled(again)
    row = refilled.report(
        third, status="已完成", progress="再次报完成", completed=done_on, files="整改报告.pdf"
    )
    second_try = read(store, access, refilled.save(), evidence)
    assert [(p.row, p.column) for p in second_try.problems] == [(row, roundtrip.STATUS)]
    assert "待审核" in second_try.problems[0].reason


def test_a_measure_of_another_unit_is_a_problem_and_nothing_is_written(
    store: Store, units: Units
) -> None:
    access = liaison(units.a)
    _, data = download(store, access)
    filled = Filled(data)
    mine = reportable(store, units.a)[0]
    theirs = reportable(store, units.b)[0]
    missing = 1 + one(store, "SELECT max(measure_id) FROM measures")[0][0]
    filled.report(mine, status="正在整改", progress="推进中")
    last = filled.sheet.max_row
    filled.set(last + 1, key=theirs, status="正在整改", progress="冒填他单位")
    filled.set(last + 2, key=missing, status="正在整改", progress="不存在的措施")
    upload = filled.save()
    result = read(store, access, upload)
    assert [(p.row, p.column) for p in result.problems] == [
        (last + 1, roundtrip.KEY),
        (last + 2, roundtrip.KEY),
    ]
    other, absent = result.problems
    # The same words as a missing measure: nothing about the other unit.
    assert other.reason == absent.reason.replace(str(missing), str(theirs))
    short_b = one(store, "SELECT short_name FROM units WHERE name = ?", [units.b])[0][0]
    assert units.b not in other.text() and short_b not in other.text()
    assert other.letter == "A" and "第" in other.text()

    before = store.version()
    with pytest.raises(WorkflowError, match="未提交任何填报"):
        roundtrip.submit_round_trip(store, access, result, "填报.xlsx", upload)
    assert store.version() == before
    assert one(store, "SELECT count(*) FROM rectify_submissions WHERE source = 'excel'") == [(0,)]


def test_every_bad_row_is_named_with_its_row_column_and_reason(store: Store, units: Units) -> None:
    access = liaison(units.a)
    _, data = download(store, access)
    filled = Filled(data)
    ids = reportable(store, units.a)
    assert len(ids) >= 5
    done_id = one(
        store,
        "SELECT m.measure_id FROM measures m JOIN findings f USING (finding_id)"
        " JOIN units u ON u.unit_id = f.unit_id WHERE u.name = ? AND m.status = 'DONE'"
        " ORDER BY 1 LIMIT 1",
        [units.a],
    )[0][0]
    fed = feedback_date(store, ids[3])
    bad = {
        (filled.report(ids[0], status="差不多了", progress="x"), roundtrip.STATUS),
        (filled.report(ids[1], status="已完成", progress="完成了"), roundtrip.COMPLETED),
        (filled.row_of[ids[1]], roundtrip.EVIDENCE),
        (
            filled.report(
                ids[2], status="完成", progress="y", completed="2024年13月40日", files="照片.jpg"
            ),
            roundtrip.COMPLETED,
        ),
        (filled.row_of[ids[2]], roundtrip.EVIDENCE),
    }
    last = filled.sheet.max_row
    # Progress missing, a key moved onto altered text, a duplicate, a measure already done,
    # a completion date before the 反馈日期, and progress written without a status.
    filled.set(last + 1, key=ids[0], status="正在整改")  # duplicate of row ids[0], no progress
    bad |= {(last + 1, roundtrip.KEY), (last + 1, roundtrip.PROGRESS)}
    filled.set(last + 2, key=done_id, status="正在整改", progress="z")
    bad.add((last + 2, roundtrip.KEY))
    filled.set(last + 3, key=ids[4], status="正在整改", progress="w")
    filled.set(last + 3, title="另一个问题的标题")
    bad.add((last + 3, "具体问题"))
    filled.report(
        ids[3], status="已完成", progress="v", completed=fed - dt.timedelta(days=1), files="a.pdf"
    )
    bad.add((filled.row_of[ids[3]], roundtrip.COMPLETED))
    filled.set(last + 4, progress="只写了进展")
    bad.add((last + 4, roundtrip.STATUS))
    result = read(store, access, filled.save(), {"a.pdf": check_evidence("a.pdf", PDF)})
    assert {(p.row, p.column) for p in result.problems} == bad
    assert all(p.reason and p.text().startswith(f"第 {p.row} 行") for p in result.problems)
    assert not result.reports or all(
        r.source_row not in {b[0] for b in bad} for r in result.reports
    )
    texts = {(p.row, p.column): p.reason for p in result.problems}
    assert "差不多了" in texts[(filled.row_of[ids[0]], roundtrip.STATUS)]
    assert "照片.jpg" in texts[(filled.row_of[ids[2]], roundtrip.EVIDENCE)]
    assert "已销号" in texts[(last + 2, roundtrip.KEY)]
    assert "不一致" in texts[(last + 3, "具体问题")]


def test_an_unfilled_sheet_is_a_problem_not_an_empty_submission(store: Store, units: Units) -> None:
    _, data = download(store, liaison(units.a))
    result = read(store, liaison(units.a), data)
    assert result.reports == [] and len(result.problems) == 1


def test_a_changed_file_is_not_submitted_on_the_strength_of_an_earlier_check(
    store: Store, units: Units
) -> None:
    access = liaison(units.a)
    _, data = download(store, access)
    filled = Filled(data)
    filled.report(reportable(store, units.a)[0], status="正在整改", progress="推进中")
    upload = filled.save()
    result = read(store, access, upload)
    assert result.ok
    before = store.version()
    with pytest.raises(WorkflowError, match="不同"):
        roundtrip.submit_round_trip(store, access, result, "填报.xlsx", upload + b"\0")
    assert store.version() == before


def _with_macro(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0" + b"\0" * 512)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "kind"),
    [("填报.xlsx", "not a workbook"), ("填报.xlsx", "macro"), ("填报.xlsm", "macro name")],
)
def test_a_malformed_upload_is_refused_by_the_safety_check(
    store: Store, units: Units, name: str, kind: str
) -> None:
    access = liaison(units.a)
    _, data = download(store, access)
    upload = {
        "not a workbook": b"%PDF-1.4 this is not a workbook",
        "macro": _with_macro(data),
        "macro name": data,
    }[kind]
    result = read(store, access, upload, name=name)
    assert result.refused and result.reports == []
    assert [(p.row, p.column) for p in result.problems] == [(None, None)]
    assert result.problems[0].reason.startswith("文件被拒绝：")
    before = store.version()
    with pytest.raises(WorkflowError):
        roundtrip.submit_round_trip(store, access, result, name, upload)
    assert store.version() == before


def test_only_a_reporting_role_downloads_or_uploads(store: Store, units: Units) -> None:
    from xuncha.auth.access import PermissionDenied

    reviewer = Access.for_role("grp", "group", units=[units.a])
    with pytest.raises(PermissionDenied):
        download(store, reviewer)
