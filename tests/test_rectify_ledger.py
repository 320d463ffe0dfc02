"""Ledgers and online rectification on one measure: a later ledger neither reopens a measure
the commission closed online (its words are kept aside with a warning), nor leaves an online
claim waiting on a measure it records DONE (the claim is withdrawn, no return counted); the
ledger's rollback puts the claim back in the queue."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests import ledger_samples as S
from tests.builders import sample_pdf
from tests.test_ledger_cli import _import_args
from xuncha import cli
from xuncha.auth.access import Access
from xuncha.ledger.rollback import rollback_batch
from xuncha.rectify import workflow
from xuncha.rectify.evidence import check_evidence
from xuncha.store import Store

LIAISON = Access.for_role("lia", "liaison", units=[S.ZJ_UNIT])
REVIEWER = Access.for_role("rev", "group", units=[S.ZJ_UNIT])
OFFICE = Access.for_role("off", "office")
DAY = dt.date(2024, 7, 10)  # after the first ledger (截至 2024-06-30), before the second


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ledger-online")
    db = folder / "db"
    assert cli.main(_import_args(db, S.merged_xlsx(folder / S.MERGED.name))) == 0
    return db


@pytest.fixture()
def store(first: Path, tmp_path: Path) -> Store:
    return Store(shutil.copytree(first, tmp_path / "db"))


def _progress(store: Store, tmp_path: Path, capsys: Any) -> str:
    capsys.readouterr()
    ledger = S.merged_xlsx(tmp_path / S.PROGRESS.name, progress=True)
    assert cli.main(_import_args(store.root, ledger)) == 0
    return str(capsys.readouterr().out)


def _one(store: Store, sql: str, params: list[Any]) -> Any:
    con = store.connect()
    try:
        row = con.execute(sql, params).fetchone()
    finally:
        con.close()
    assert row is not None
    return row


def _state(store: Store, submission_id: int) -> str:
    return str(
        _one(
            store,
            "SELECT arg_max(state, step_id) FROM rectify_steps WHERE submission_id = ?",
            [submission_id],
        )[0]
    )


def _measure(store: Store, status: str, deadline: dt.date | None) -> int:
    """The first ledger's measure with this status and deadline (which the second ledger
    restates as not done, for PHASED; records DONE, for IN_PROGRESS due 2024-09-30)."""
    return int(
        _one(
            store,
            "SELECT min(measure_id) FROM measures WHERE status = ?"
            " AND deadline_current IS NOT DISTINCT FROM ?",
            [status, deadline],
        )[0]
    )


def _claim(store: Store, measure_id: int) -> int:
    proof = check_evidence("整改报告.pdf", sample_pdf(str(measure_id)))
    report = workflow.Report(measure_id, "DONE", "已整改", DAY, (proof,))
    return workflow.report(store, LIAISON, [report], on=DAY).submission_ids[0]


def test_a_later_ledger_does_not_reopen_a_measure_closed_online(
    store: Store, tmp_path: Path, capsys: Any
) -> None:
    measure = _measure(store, "PHASED", dt.date(2024, 6, 30))
    claim = _claim(store, measure)
    workflow.decide(store, REVIEWER, claim, "pass", on=DAY + dt.timedelta(days=2))
    closed_on = DAY + dt.timedelta(days=5)
    workflow.decide(store, OFFICE, claim, "close", on=closed_on)
    printed = _progress(store, tmp_path, capsys)
    assert f"已于 {closed_on} 在线销号" in printed
    status, completed, closed = _one(
        store,
        "SELECT status, completed_on, closed_on FROM measures WHERE measure_id = ?",
        [measure],
    )
    assert (status, completed, closed) == ("DONE", DAY, closed_on)
    # As of after the second ledger, the timeline still has it DONE from its 销号 day.
    latest = _one(
        store,
        "SELECT status, valid_from FROM measure_timeline WHERE measure_id = ? AND valid_to IS NULL",
        [measure],
    )
    assert latest == ("DONE", closed_on)


def test_a_ledger_recording_done_withdraws_the_waiting_claim_and_its_rollback_restores_it(
    store: Store, tmp_path: Path, capsys: Any
) -> None:
    measure = _measure(store, "IN_PROGRESS", dt.date(2024, 9, 30))
    claim = _claim(store, measure)
    assert _state(store, claim) == "pending_review"
    _progress(store, tmp_path, capsys)
    assert _one(store, "SELECT status FROM measures WHERE measure_id = ?", [measure]) == ("DONE",)
    assert _state(store, claim) == "superseded"
    step = _one(
        store,
        "SELECT step, actor_role, step_date, batch_id FROM rectify_steps"
        " WHERE submission_id = ? ORDER BY step_id DESC LIMIT 1",
        [claim],
    )
    (ledger_batch,) = _one(
        store, "SELECT max(batch_id) FROM import_batches WHERE kind = 'ledger'", []
    )
    assert step == ("withdraw", "system", S.PROGRESS_AS_OF, ledger_batch)
    # Nothing can be decided on it any more, and no return is counted.
    with pytest.raises(workflow.WorkflowError):
        workflow.decide(store, REVIEWER, claim, "pass")
    returns = _one(store, "SELECT count(*) FROM rectify_steps WHERE step = 'return'", [])
    assert returns == (0,)
    rollback_batch(store, ledger_batch)
    assert _state(store, claim) == "pending_review"


def test_a_later_ledger_does_not_move_a_deadline_extended_online(
    store: Store, tmp_path: Path, capsys: Any
) -> None:
    import openpyxl

    measure = _measure(store, "PHASED", dt.date(2024, 6, 30))
    (text,) = _one(store, "SELECT text FROM measures WHERE measure_id = ?", [measure])
    asked = workflow.request_extension(
        store, LIAISON, measure, dt.date(2024, 12, 31), "需跨部门协调", on=DAY
    ).submission_ids[0]
    workflow.decide(store, OFFICE, asked, "approve", on=DAY + dt.timedelta(days=1))
    # The unit's next ledger writes yet another date for that measure, without 申请延期.
    ledger = S.merged_xlsx(tmp_path / S.PROGRESS.name, progress=True)
    book = openpyxl.load_workbook(ledger)
    sheet = book.active
    header = next(r for r in sheet.iter_rows(max_row=10) if r[0].value == "序 号")
    columns = {cell.value: cell.column for cell in header}
    row = next(
        r[0].row
        for r in sheet.iter_rows(min_row=header[0].row + 1)
        if r[columns["整改措施"] - 1].value == text
    )
    sheet.cell(row, columns["整改时限"]).value = "2025年3月31日"
    book.save(ledger)
    capsys.readouterr()
    assert cli.main(_import_args(store.root, ledger)) == 0
    printed = capsys.readouterr().out
    assert "已在线批准延期至 2024-12-31" in printed and "2025-03-31 未采用" in printed
    assert _one(store, "SELECT deadline_current FROM measures WHERE measure_id = ?", [measure]) == (
        dt.date(2024, 12, 31),
    )
