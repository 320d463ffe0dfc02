"""Importing ledgers: exactly what the files hold, one atomic and idempotent batch per file,
progress kept in history, figures as of a past date unchanged, and batches rolled back."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests import ledger_samples as S
from tests.builders import StoreBuilder
from xuncha import figures
from xuncha.filters import Filters, resolve_scope
from xuncha.ledger import RollbackRefused, import_ledgers, list_batches, rollback_batch
from xuncha.store import Store, open_reader

DATA_TABLES = (
    "rounds",
    "units",
    "inspections",
    "findings",
    "measures",
    "measure_status_history",
    "measure_deadline_history",
)


@pytest.fixture(scope="session")
def empty_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = Store(tmp_path_factory.mktemp("template") / "store")
    store.write(lambda con: None, fresh=True)
    return store.root


@pytest.fixture()
def store(tmp_path: Path, empty_template: Path) -> Store:
    """An empty store (migrated schema, no data) of the test's own."""
    shutil.copytree(empty_template, tmp_path / "store")
    return Store(tmp_path / "store")


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "ledgers"
    folder.mkdir()
    return {
        "merged": S.merged_xlsx(folder / S.MERGED.name),
        "progress": S.merged_xlsx(folder / S.PROGRESS.name, progress=True),
        "one_row": S.one_row_xlsx(folder / S.ONE_ROW.name),
        "gbk_csv": S.gbk_csv(folder / S.GBK.name),
    }


def _import(store: Store, sample: S.Sample, *paths: Path, **options: Any) -> Any:
    options.setdefault("feedback_date", sample.feedback)
    return import_ledgers(
        store, list(paths), round_name=sample.round_name, unit_name=sample.unit_name, **options
    )


def _figures(store: Store, as_of: dt.date) -> dict[str, Any]:
    reader = open_reader(store)
    try:
        return figures.rectification(reader, resolve_scope(reader, Filters(as_of=as_of))).row(
            0, named=True
        )
    finally:
        reader.close()


def _data_counts(store: Store) -> dict[str, int]:
    return {k: v for k, v in S.state(store)[1].items() if k in DATA_TABLES}


def _measure_rows(store: Store) -> list[tuple[Any, ...]]:
    return S.rows(store, "SELECT * FROM measures ORDER BY measure_id")


# -- exactly what the ledgers hold --------------------------------------------------------


@pytest.mark.parametrize("kind", ["merged", "one_row", "gbk_csv"])
def test_each_layout_lands_in_the_store_exactly_as_built_into_it(
    store: Store, files: dict[str, Path], kind: str
) -> None:
    sample, path = S.SAMPLES[kind], files[kind]
    outcome = _import(store, sample, path, user="巡察办张三")
    assert outcome.ok, [p.describe() for p in outcome.errors]
    (batch,) = outcome.files
    assert (batch.findings_added, batch.measures_added) == (len(sample.findings), sample.measures)
    assert outcome.version == 2 and store.version() == 2
    found = S.rows(
        store,
        "SELECT f.title, f.category_l1, f.category_l2, f.source_category_text, f.immediate,"
        " f.detail, f.tags, r.name, u.name, i.feedback_date FROM findings f"
        " JOIN rounds r USING (round_id) JOIN units u USING (unit_id)"
        " JOIN inspections i USING (inspection_id) ORDER BY f.finding_id",
    )
    assert found == [
        (
            f.title,
            f.l1,
            f.l2,
            f.source,
            f.immediate,
            f.detail,
            [],
            sample.round_name,
            sample.unit_name,
            sample.feedback,
        )
        for f in sample.findings
    ]
    measures = S.rows(
        store,
        "SELECT text, deadline_kind, deadline_text, deadline_original, deadline_current, long_term,"
        " status, status_text, lead_person, department, person, progress, evidence, completed_on"
        " FROM measures ORDER BY measure_id",
    )
    assert measures == [
        (
            m.text,
            m.kind,
            m.deadline_text,
            m.due,
            m.extension or m.due,
            m.long_term,
            m.status,
            m.status_text,
            m.lead,
            m.department,
            m.person,
            m.progress,
            m.evidence,
            None,  # the samples write no 完成时间: none is invented
        )
        for f in sample.findings
        for m in f.measures
    ]
    history = S.rows(
        store,
        "SELECT status, status_date, batch_id FROM measure_status_history ORDER BY measure_id",
    )
    expected = [
        (m.status, sample.as_of, batch.batch_id) for f in sample.findings for m in f.measures
    ]
    assert history == expected
    deadlines = S.rows(
        store,
        "SELECT deadline, effective_date, reason FROM measure_deadline_history"
        " ORDER BY measure_id, history_id",
    )
    assert deadlines == [
        row
        for f in sample.findings
        for m in f.measures
        for row in [(m.due, sample.feedback, None)]
        + ([(m.extension, sample.as_of, "申请延期")] if m.extension else [])
    ]
    (recorded,) = S.rows(
        store,
        "SELECT kind, file_name, file_sha256, user_name, as_of, rows_read, findings_added,"
        " measures_added, status FROM import_batches WHERE batch_id = ?",
        [batch.batch_id],
    )
    assert recorded == (
        "ledger",
        sample.name,
        hashlib.sha256(path.read_bytes()).hexdigest(),
        "巡察办张三",
        sample.as_of,
        batch.rows_read,
        len(sample.findings),
        sample.measures,
        "applied",
    )


def test_the_derived_tables_are_rebuilt_so_figures_count_the_imported_ledger(
    store: Store, files: dict[str, Path]
) -> None:
    assert _import(store, S.MERGED, files["merged"]).ok
    measures = [m for f in S.MERGED.findings for m in f.measures]
    got = _figures(store, S.MERGED.as_of)
    assert got["findings"] == len(S.MERGED.findings)
    assert got["measures"] == len(measures)
    assert got["measures_done"] == sum(m.status == "DONE" for m in measures)
    assert got["findings_done"] == sum(
        all(m.status == "DONE" for m in f.measures) for f in S.MERGED.findings
    )
    before_feedback = _figures(store, S.MERGED.feedback - dt.timedelta(days=1))
    assert before_feedback["findings"] == 0


# -- idempotent, atomic ---------------------------------------------------------------------


def test_reimporting_the_same_file_changes_nothing(store: Store, files: dict[str, Path]) -> None:
    first = _import(store, S.MERGED, files["merged"])
    before = S.state(store)
    again = _import(store, S.MERGED, files["merged"])
    assert again.ok and again.version is None
    (file,) = again.files
    assert file.duplicate_of == first.files[0].batch_id and file.batch_id is None
    assert "SHA-256 相同" in file.describe()
    assert S.state(store) == before


def test_a_resaved_copy_with_the_same_content_adds_nothing(
    store: Store, files: dict[str, Path], tmp_path: Path
) -> None:
    _import(store, S.MERGED, files["merged"])
    book = openpyxl.load_workbook(files["merged"])
    sheet = book.active
    assert sheet is not None
    sheet["A2"] = "填报单位：市住建局（重新保存）"
    copy = tmp_path / "另存.xlsx"
    book.save(copy)
    before = S.state(store)
    outcome = _import(store, S.MERGED, copy)
    assert outcome.ok and outcome.version is None
    (file,) = outcome.files
    assert file.no_changes and file.duplicate_of is None
    assert (file.findings_unchanged, file.measures_unchanged) == (
        len(S.MERGED.findings),
        S.MERGED.measures,
    )
    assert S.state(store) == before


def test_several_files_are_one_new_data_version_with_one_batch_each_in_date_order(
    store: Store, files: dict[str, Path]
) -> None:
    outcome = _import(store, S.MERGED, files["progress"], files["merged"])
    assert outcome.ok and outcome.version == 2
    assert [(f.file_name, f.as_of) for f in outcome.files] == [
        (S.MERGED.name, S.MERGED.as_of),
        (S.PROGRESS.name, S.PROGRESS.as_of),
    ]
    assert [b for (b,) in S.rows(store, "SELECT batch_id FROM import_batches ORDER BY 1")] == [
        f.batch_id for f in outcome.files
    ]
    statuses = S.rows(store, "SELECT text, status FROM measures ORDER BY measure_id")
    expected = {m.text: m.status for f in S.PROGRESS.findings for m in f.measures}
    assert dict(statuses) == expected


def test_a_dry_run_counts_what_would_change_and_writes_nothing(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    store = Store(tmp_path / "not-yet")
    outcome = _import(store, S.MERGED, files["merged"], dry_run=True)
    assert outcome.ok and outcome.dry_run and outcome.version is None
    (file,) = outcome.files
    assert (file.findings_added, file.measures_added, file.batch_id) == (5, 9, None)
    assert not store.exists()


# -- progress ---------------------------------------------------------------------------


def test_a_progress_ledger_updates_statuses_and_keeps_the_old_ones_in_history(
    store: Store, files: dict[str, Path]
) -> None:
    first = _import(store, S.MERGED, files["merged"]).files[0].batch_id
    outcome = _import(store, S.MERGED, files["progress"])
    assert outcome.ok, [p.describe() for p in outcome.errors]
    (file,) = outcome.files
    old = {m.text: m for f in S.MERGED.findings for m in f.measures}
    new = {m.text: m for f in S.PROGRESS.findings for m in f.measures}
    changed = [t for t in new if t in old and new[t].status != old[t].status]
    assert (file.findings_added, file.measures_added) == (
        len(S.PROGRESS.findings) - len(S.MERGED.findings),
        len(new) - len(old),
    )
    assert file.measures_updated == len(changed) == 3
    assert file.measures_unchanged == len(old) - len(changed)
    assert file.status_changes == len(changed) + len(new) - len(old)
    history: dict[str, list[tuple[Any, ...]]] = {}
    for text, status, day, batch in S.rows(
        store,
        "SELECT m.text, h.status, h.status_date, h.batch_id FROM measure_status_history h"
        " JOIN measures m USING (measure_id) ORDER BY h.history_id",
    ):
        history.setdefault(text, []).append((status, day, batch))
    for text, measure in new.items():
        if text in changed:
            assert history[text] == [
                (old[text].status, S.MERGED.as_of, first),
                (measure.status, S.PROGRESS.as_of, file.batch_id),
            ]
        elif text in old:
            assert history[text] == [(old[text].status, S.MERGED.as_of, first)]
        else:
            assert history[text] == [(measure.status, S.PROGRESS.as_of, file.batch_id)]
    # The granted extension stands: the later ledger restates the original deadline only.
    (extended,) = S.rows(
        store,
        "SELECT deadline_original, deadline_current, status, completed_on FROM measures"
        " WHERE text = ?",
        [S.P3M2],
    )
    assert extended == (dt.date(2024, 6, 30), dt.date(2024, 12, 31), "DONE", None)


def _done(sample: S.Sample) -> tuple[int, int, int, int]:
    ms = [m for f in sample.findings for m in f.measures]
    return (
        len(sample.findings),
        len(ms),
        sum(m.status == "DONE" for m in ms),
        sum(all(m.status == "DONE" for m in f.measures) for f in sample.findings),
    )


def _figure_counts(got: dict[str, Any]) -> tuple[int, int, int, int]:
    return (got["findings"], got["measures"], got["measures_done"], got["findings_done"])


def test_figures_as_of_the_earlier_date_are_unchanged_by_a_progress_ledger(
    store: Store, files: dict[str, Path], tmp_path: Path
) -> None:
    _import(store, S.MERGED, files["merged"])
    earlier = dt.date(2024, 7, 1)
    before = _figures(store, earlier)
    progress = S.merged_xlsx(tmp_path / S.PROGRESS_ONLY.name, progress=True, new_problem=False)
    outcome = _import(store, S.MERGED, progress)
    old = {m.text: m.status for f in S.MERGED.findings for m in f.measures}
    new = {m.text: m.status for f in S.PROGRESS_ONLY.findings for m in f.measures}
    recorded = sum(old.get(text) != status for text, status in new.items())
    assert outcome.ok and outcome.files[0].status_changes == recorded == 4
    assert _figures(store, earlier) == before
    assert _figure_counts(before) == _done(S.MERGED)
    assert _figure_counts(_figures(store, dt.date(2024, 10, 1))) == _done(S.PROGRESS_ONLY)


def test_a_problem_first_listed_in_a_later_ledger_is_added_and_the_report_says_so(
    store: Store, files: dict[str, Path]
) -> None:
    _import(store, S.MERGED, files["merged"])
    outcome = _import(store, S.MERGED, files["progress"])
    notes = [p for p in outcome.all_problems if "此前导入的台账中没有这个问题" in p.reason]
    assert [(p.value, p.severity) for p in notes] == [(S.P6, "warning")]
    assert _figure_counts(_figures(store, dt.date(2024, 10, 1))) == _done(S.PROGRESS)


def test_a_problem_first_listed_in_a_later_ledger_counts_only_from_that_ledger(
    store: Store, files: dict[str, Path]
) -> None:
    _import(store, S.MERGED, files["merged"])
    earlier = dt.date(2024, 7, 1)
    before = _figures(store, earlier)
    outcome = _import(store, S.MERGED, files["progress"])
    assert outcome.ok
    # The new problem is recorded from the progress ledger's 截至时间, so the figures asked
    # as of an earlier date, findings included, give the answer they gave then.
    assert _figures(store, earlier) == before
    (recorded_on,) = S.rows(store, "SELECT recorded_on FROM findings WHERE title = ?", [S.P6])
    assert recorded_on == (S.PROGRESS.as_of,)
    assert _figures(store, S.PROGRESS.as_of)["findings"] == len(S.PROGRESS.findings)


def test_a_ledger_older_than_the_latest_one_imported_is_refused(
    store: Store, files: dict[str, Path]
) -> None:
    latest = _import(store, S.MERGED, files["progress"]).files[0].batch_id
    before = S.state(store)
    outcome = _import(store, S.MERGED, files["merged"])
    assert not outcome.ok
    assert [p.reason for p in outcome.errors] == [
        f"截至时间 2024-06-30 早于已导入的最新台账（批次 #{latest}，截至 2024-09-30）；"
        "请按时间顺序导入，或先回滚较新的批次"
    ]
    assert S.state(store) == before


# -- rollback ---------------------------------------------------------------------------


def test_rolling_back_a_progress_batch_restores_the_previous_counts_rows_and_figures(
    store: Store, files: dict[str, Path]
) -> None:
    _import(store, S.MERGED, files["merged"])
    counts, measures = _data_counts(store), _measure_rows(store)
    dates = [dt.date(2024, 7, 1), dt.date(2024, 10, 1), dt.date(2025, 1, 1)]
    figures_before = [_figures(store, d) for d in dates]
    progress = _import(store, S.MERGED, files["progress"])
    assert _data_counts(store) != counts
    undone = rollback_batch(store, progress.files[0].batch_id, user="巡察办张三")
    assert undone.version == store.version() == progress.version + 1  # type: ignore[operator]
    assert (undone.findings_removed, undone.measures_removed, undone.measures_restored) == (1, 2, 3)
    assert _data_counts(store) == counts
    assert _measure_rows(store) == measures
    assert [_figures(store, d) for d in dates] == figures_before
    assert S.rows(
        store,
        "SELECT status, rolled_back_by FROM import_batches WHERE batch_id = ?",
        [progress.files[0].batch_id],
    ) == [("rolled_back", undone.rollback_batch_id)]
    assert S.rows(
        store,
        "SELECT kind, rollback_of, user_name FROM import_batches WHERE batch_id = ?",
        [undone.rollback_batch_id],
    ) == [("rollback", progress.files[0].batch_id, "巡察办张三")]
    again = _import(store, S.MERGED, files["progress"])  # the undone file can come back
    assert again.ok and again.files[0].duplicate_of is None


def test_rolling_back_the_first_batch_removes_the_round_unit_and_inspection_it_created(
    store: Store, files: dict[str, Path]
) -> None:
    outcome = _import(store, S.MERGED, files["merged"])
    assert len(outcome.created) == 3
    undone = rollback_batch(store, outcome.files[0].batch_id)
    assert _data_counts(store) == dict.fromkeys(DATA_TABLES, 0)
    assert undone.findings_removed == 5 and undone.measures_removed == 9
    assert "删除了该批次新建的轮次" in undone.message()
    again = _import(store, S.MERGED, files["merged"])  # ids are not handed out twice
    assert (again.round_id, again.unit_id, again.inspection_id) == (2, 2, 2)
    assert S.rows(
        store, "SELECT min(f.finding_id), min(m.measure_id) FROM findings f, measures m"
    ) == [(6, 10)]


def test_only_an_applied_ledger_batch_that_is_its_inspections_latest_can_be_rolled_back(
    store: Store, files: dict[str, Path]
) -> None:
    first = _import(store, S.MERGED, files["merged"]).files[0].batch_id
    second = _import(store, S.MERGED, files["progress"]).files[0].batch_id
    listed = list_batches(store)
    assert listed.select("batch_id", "can_roll_back").rows() == [(second, True), (first, False)]
    before = S.state(store)
    with pytest.raises(RollbackRefused, match=f"之后还有批次 #{second}.*请先回滚较新的批次"):
        rollback_batch(store, first)
    with pytest.raises(RollbackRefused, match="批次 #99 不存在"):
        rollback_batch(store, 99)
    assert S.state(store) == before
    undo = rollback_batch(store, second)
    with pytest.raises(RollbackRefused, match=f"批次 #{second} 已经回滚过"):
        rollback_batch(store, second)
    with pytest.raises(RollbackRefused, match="不是台账导入批次"):
        rollback_batch(store, undo.rollback_batch_id)
    rollback_batch(store, first)  # now the latest again


# -- round, unit, inspection ------------------------------------------------------------


def test_round_and_unit_are_matched_by_normalised_name_and_short_name(
    store: Store, files: dict[str, Path]
) -> None:
    _import(store, S.MERGED, files["merged"], unit_short_name="住建局")
    outcome = import_ledgers(
        store,
        [files["progress"]],
        round_name="十四届市委第五轮巡察\u3000",
        unit_name=" 住建局 ",
    )
    assert outcome.ok, [p.describe() for p in outcome.errors]
    assert outcome.created == []
    assert _data_counts(store)["rounds"] == 1 and _data_counts(store)["units"] == 1


def test_a_new_inspection_needs_a_feedback_date_and_an_existing_one_keeps_its_own(
    store: Store, files: dict[str, Path]
) -> None:
    missing = _import(store, S.MERGED, files["merged"], feedback_date=None)
    assert not missing.ok
    assert "需要提供反馈日期（--feedback-date）" in missing.errors[0].reason
    _import(store, S.MERGED, files["merged"])
    other = _import(store, S.MERGED, files["progress"], feedback_date=dt.date(2024, 4, 1))
    assert not other.ok
    assert other.errors[0].reason.startswith("反馈日期 2024-04-01 与已有记录（2024-03-15）不一致")


def test_a_new_unit_needs_a_peer_group_unless_its_name_states_one(
    store: Store, files: dict[str, Path]
) -> None:
    unclear = import_ledgers(
        store,
        [files["gbk_csv"]],
        round_name=S.GBK.round_name,
        unit_name="城南片区",
        feedback_date=S.GBK.feedback,
    )
    assert not unclear.ok
    assert "无法从名称判断其同类组" in unclear.errors[0].reason
    given = import_ledgers(
        store,
        [files["gbk_csv"]],
        round_name=S.GBK.round_name,
        unit_name="城南片区",
        feedback_date=S.GBK.feedback,
        unit_peer_group="乡镇街道",
        unit_sector="基层治理",
    )
    assert given.ok
    assert S.rows(store, "SELECT name, short_name, sector, peer_group FROM units") == [
        ("城南片区", "城南片区", "基层治理", "乡镇街道")
    ]


def test_a_ledger_whose_fill_in_line_names_another_existing_unit_is_refused(
    store: Store, files: dict[str, Path]
) -> None:
    _import(store, S.MERGED, files["merged"])
    _import(store, S.ONE_ROW, files["one_row"])
    before = S.state(store)
    outcome = import_ledgers(
        store,
        [files["merged"]],
        round_name=S.ONE_ROW.round_name,
        unit_name=S.ONE_ROW.unit_name,
    )
    assert not outcome.ok
    assert "台账的填报单位是“市住建局”，与所选单位“市卫健委”不符" in [
        p.reason for p in outcome.errors
    ]
    assert S.state(store) == before


def test_the_as_of_date_comes_from_the_file_or_the_call_and_both_must_agree(
    store: Store, files: dict[str, Path], tmp_path: Path
) -> None:
    clash = _import(store, S.MERGED, files["merged"], as_of=dt.date(2024, 7, 1))
    assert not clash.ok and "与指定的截至日期 2024-07-01 不一致" in clash.errors[0].reason
    undated = tmp_path / "无截至时间.csv"
    undated.write_bytes(
        b"\r\n".join(
            line
            for line in files["gbk_csv"].read_bytes().split(b"\r\n")
            if b"2021\xc4\xea3\xd4\xc231\xc8\xd5" not in line
        )
    )
    missing = _import(store, S.GBK, undated)
    assert not missing.ok
    assert missing.errors[0].reason.startswith("无法确定台账截至时间")
    given = _import(store, S.GBK, undated, as_of=dt.date(2021, 3, 31))
    assert given.ok and given.files[0].as_of == dt.date(2021, 3, 31)


def test_an_existing_inspection_supplies_its_feedback_date_and_the_end_of_entry(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    builder = StoreBuilder()
    inspection = builder.inspection(
        builder.round(S.ZJ_ROUND, seq=1),
        builder.unit("江城市住房和城乡建设局", short_name="市住建局"),
        feedback=S.ZJ_FEEDBACK,
        entry_end=dt.date(2024, 2, 1),
    )
    builder.measure(builder.finding(inspection, "B03", title="早先录入的问题"), deadline=None)
    store = builder.build(tmp_path / "built")
    outcome = import_ledgers(store, [files["merged"]], round_name=S.ZJ_ROUND, unit_name="市住建局")
    assert outcome.ok, [p.describe() for p in outcome.errors]
    assert outcome.created == [] and outcome.files[0].findings_not_listed == 1
    assert S.rows(
        store, "SELECT deadline_original FROM measures WHERE deadline_kind = 'IMMEDIATE'"
    ) == [(dt.date(2024, 2, 1),)]
    assert S.rows(store, "SELECT count(*) FROM findings") == [(6,)]


# -- while the dashboard runs -----------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys
    import duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(con.execute("SELECT count(*) FROM findings").fetchall()[0][0], flush=True)
    sys.stdin.readline()
    print(con.execute("SELECT count(*) FROM findings").fetchall()[0][0], flush=True)
    """
)


@pytest.fixture()
def holder(store: Store, files: dict[str, Path]) -> Iterator[subprocess.Popen[str]]:
    _import(store, S.MERGED, files["merged"])
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store.current_file())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_an_import_works_while_another_process_holds_a_read_only_connection(
    store: Store, files: dict[str, Path], holder: subprocess.Popen[str]
) -> None:
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "5"  # the dashboard's view before
    outcome = _import(store, S.MERGED, files["progress"])
    assert outcome.ok and outcome.version == 3
    new_reader = open_reader(store)  # the dashboard's next run sees the new version
    try:
        assert new_reader.version == 3
        assert new_reader.scalar("SELECT count(*) FROM findings") == 6
    finally:
        new_reader.close()
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "5"  # its open version is untouched
    assert holder.wait(timeout=30) == 0


def test_a_done_measure_without_a_completion_date_is_left_out_of_the_on_time_rate(
    store: Store, files: dict[str, Path]
) -> None:
    # The merged sample writes no 完成时间: its DONE measures count as done, but their
    # on-time outcome is unknown, not dated by the ledger's 截至时间.
    assert _import(store, S.MERGED, files["merged"]).ok
    got = _figures(store, S.MERGED.as_of)
    done = sum(m.status == "DONE" for f in S.MERGED.findings for m in f.measures)
    assert got["measures_done"] == done > 0
    assert got["completed_with_deadline"] == 0 and got["on_time_rate"] is None


def test_a_completion_date_after_the_ledger_date_is_refused(tmp_path: Path, store: Store) -> None:
    import openpyxl

    source = S.merged_xlsx(tmp_path / "完成时间.xlsx")
    book = openpyxl.load_workbook(source)
    sheet = book.active
    header_row = next(r for r in range(1, 10) if any(c.value == "整改时限" for c in sheet[r]))
    columns = [c.value for c in sheet[header_row]]
    sheet.cell(row=header_row, column=len(columns) + 1, value="完成时间")
    sheet.cell(row=header_row + 2, column=len(columns) + 1, value="2030-01-05")
    book.save(source)
    before = S.state(store)
    outcome = _import(store, S.MERGED, source)
    assert not outcome.ok
    assert any("晚于台账截至时间" in p.reason for p in outcome.errors)
    assert S.state(store) == before
