"""A ledger batch under online reports is not rolled back: the steps would name states the
measures no longer have. Before any online step it still is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests import ledger_samples as S
from tests.test_ledger_cli import _import_args
from xuncha import cli
from xuncha.auth.access import Access
from xuncha.ledger.rollback import RollbackRefused, list_batches, rollback_batch
from xuncha.rectify import workflow
from xuncha.store import Store


def _store(tmp_path: Path) -> Store:
    db = tmp_path / "db"
    assert cli.main(_import_args(db, S.merged_xlsx(tmp_path / S.MERGED.name))) == 0
    return Store(db)


def _open_measure(store: Store) -> int:
    con = store.connect()
    try:
        row = con.execute("SELECT min(measure_id) FROM measures WHERE status <> 'DONE'").fetchone()
    finally:
        con.close()
    assert row is not None and row[0] is not None
    return int(row[0])


def test_a_ledger_batch_with_online_steps_after_it_is_not_rolled_back(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert bool(list_batches(store).filter(batch_id=1)["can_roll_back"][0])
    liaison = Access.for_role("lia", "liaison", units=[S.ZJ_UNIT])
    workflow.report(
        store,
        liaison,
        [workflow.Report(_open_measure(store), "PHASED", "已完成阶段性任务")],
        on=dt.date.today(),
    )
    version = store.version()
    with pytest.raises(RollbackRefused, match="在线整改"):
        rollback_batch(store, 1)
    assert store.version() == version
    assert not bool(list_batches(store).filter(batch_id=1)["can_roll_back"][0])


def test_a_ledger_batch_without_online_steps_is_still_rolled_back(tmp_path: Path) -> None:
    store = _store(tmp_path)
    outcome = rollback_batch(store, 1)
    assert outcome.batch_id == 1
