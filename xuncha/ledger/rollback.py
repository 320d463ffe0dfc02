"""rollback_batch: undo one ledger batch as a new data version.

What the batch added is removed (its status and deadline records, the measures and findings
it created, and the inspection, unit or round it created when nothing else uses them); what it
changed is restored from the values recorded in `batch_changes`, each measure's status from the
history that remains. The batch is marked rolled_back and a `rollback` batch records the undo.

Only the latest applied ledger batch of an inspection can be undone (undo later ones first):
an earlier batch's changes may have been built upon. DuckDB refuses to delete a referenced row
in the transaction that deleted its references, so the undo runs as a few transactions on the
private copy `Store.write` publishes only when all of them succeeded: readers see the whole
undo or nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from xuncha import audit
from xuncha.ledger.apply import _first
from xuncha.store import Store, StoreError, faults

_DATE_COLUMNS = {"deadline_original", "deadline_current", "completed_on", "closed_on"}


class RollbackRefused(Exception):
    """A batch that cannot be rolled back; the message says why (Chinese)."""


@dataclass
class RollbackOutcome:
    batch_id: int
    rollback_batch_id: int
    version: int
    file_name: str | None = None
    findings_removed: int = 0
    measures_removed: int = 0
    findings_restored: int = 0
    measures_restored: int = 0
    status_rows_removed: int = 0
    deadline_rows_removed: int = 0
    removed: list[str] = field(default_factory=list)

    def message(self) -> str:
        text = (
            f"已回滚批次 #{self.batch_id}（{self.file_name or '—'}），数据版本 {self.version}："
            f"删除问题 {self.findings_removed} 个、措施 {self.measures_removed} 条，"
            f"恢复问题 {self.findings_restored} 个、措施 {self.measures_restored} 条，"
            f"撤销状态记录 {self.status_rows_removed} 条、时限记录 {self.deadline_rows_removed} 条"
        )
        if self.removed:
            text += "；" + "、".join(self.removed)
        return text

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "message": self.message()}


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    row = _first(con, sql, params)
    return int(row[0]) if row and row[0] is not None else 0


def _restore_value(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in _DATE_COLUMNS:
        return dt.date.fromisoformat(value)
    if column == "amount_wan":
        return Decimal(value)
    return value


def rollback_batch(
    store: Store, batch_id: int, *, user: str = "system", source: str | None = None
) -> RollbackOutcome:
    """Undo ledger batch `batch_id` as a new data version. Raises RollbackRefused (with a
    Chinese reason) when the batch does not exist, is not a ledger import, was already rolled
    back, or is not the latest applied batch of its inspection.

    In the audit trail (`source`: who called, e.g. "cli", "page"): the trail is checked before
    anything is written (AuditError, nothing written) and the rollback recorded once its
    version is published, with the batches, the counts and the new data version."""
    if not store.exists():
        store.version()  # raises the usual StoreError
    audit.check_before_write(store.root, "回滚")

    def apply(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        row = _first(
            con,
            "SELECT kind, status, round_id, unit_id, file_name, rolled_back_by FROM import_batches"
            " WHERE batch_id = ?",
            [batch_id],
        )
        if row is None:
            raise RollbackRefused(f"批次 #{batch_id} 不存在")
        kind, status, round_id, unit_id, file_name, rolled_back_by = row
        if kind != "ledger":
            raise RollbackRefused(f"批次 #{batch_id} 不是台账导入批次（类型 {kind}），不能回滚")
        if status != "applied":
            by = f"（回滚批次 #{rolled_back_by}）" if rolled_back_by else ""
            raise RollbackRefused(f"批次 #{batch_id} 已经回滚过{by}")
        later = _first(
            con,
            "SELECT batch_id, file_name FROM import_batches WHERE kind = 'ledger'"
            " AND status = 'applied' AND round_id = ? AND unit_id = ? AND batch_id > ?"
            " ORDER BY batch_id DESC LIMIT 1",
            [round_id, unit_id, batch_id],
        )
        if later is not None:
            raise RollbackRefused(
                f"同一巡察在批次 #{batch_id} 之后还有批次 #{later[0]}（{later[1]}）；请先回滚较新的批次"
            )
        online = _online_after(con, round_id, unit_id, batch_id)
        if online is not None:
            raise RollbackRefused(
                f"批次 #{batch_id} 之后，该巡察已有在线整改填报或审核（批次 #{online}）；"
                "在线整改记录不随台账回滚，请以新的台账更正"
            )
        changes = con.execute(
            "SELECT table_name, row_id, action, before_json FROM batch_changes"
            " WHERE batch_id = ? ORDER BY change_id DESC",
            [batch_id],
        ).fetchall()
        inserted: dict[str, list[int]] = {}
        updated: list[tuple[str, int, dict[str, Any]]] = []
        for table, row_id, action, before in changes:
            if action == "insert":
                inserted.setdefault(str(table), []).append(int(row_id))
            else:
                updated.append((str(table), int(row_id), json.loads(before or "{}")))
        out: dict[str, Any] = {"file_name": file_name, "removed": []}
        # The online claims the batch withdrew (it recorded their measures DONE) wait again.
        with contextlib.suppress(duckdb.CatalogException):
            con.execute("DELETE FROM rectify_steps WHERE batch_id = ?", [batch_id])
        out["status_rows_removed"] = _count(
            con, "SELECT count(*) FROM measure_status_history WHERE batch_id = ?", [batch_id]
        )
        out["deadline_rows_removed"] = _count(
            con, "SELECT count(*) FROM measure_deadline_history WHERE batch_id = ?", [batch_id]
        )
        con.execute("DELETE FROM measure_status_history WHERE batch_id = ?", [batch_id])
        con.execute("DELETE FROM measure_deadline_history WHERE batch_id = ?", [batch_id])
        restored = {"findings": 0, "measures": 0}
        for table, row_id, before in updated:
            if table not in restored or not before:
                continue
            key = "finding_id" if table == "findings" else "measure_id"
            columns = list(before)
            sets = ", ".join(f"{c} = ?" for c in columns)
            con.execute(
                f"UPDATE {table} SET {sets} WHERE {key} = ?",
                [_restore_value(c, before[c]) for c in columns] + [row_id],
            )
            restored[table] += 1
        touched = sorted({row_id for table, row_id, _ in updated if table == "measures"})
        if touched:
            # The status is what the remaining history says last.
            con.execute(
                "UPDATE measures SET status = h.status FROM ("
                " SELECT measure_id, arg_max(status, (status_date, history_id)) AS status"
                " FROM measure_status_history WHERE measure_id IN (SELECT unnest(?::INTEGER[]))"
                " GROUP BY measure_id) h WHERE measures.measure_id = h.measure_id",
                [touched],
            )
        out["findings_restored"] = len({r for t, r, _ in updated if t == "findings"})
        out["measures_restored"] = len(touched)
        # Deleting rows whose references were deleted needs a new transaction (DuckDB).
        for table, key in (("measures", "measure_id"), ("findings", "finding_id")):
            ids = inserted.get(table, [])
            _commit(con)
            if ids:
                con.execute(
                    f"DELETE FROM {table} WHERE {key} IN (SELECT unnest(?::INTEGER[]))", [ids]
                )
        out["measures_removed"] = len(inserted.get("measures", []))
        out["findings_removed"] = len(inserted.get("findings", []))
        for inspection_id in inserted.get("inspections", []):
            if _count(
                con, "SELECT count(*) FROM findings WHERE inspection_id = ?", [inspection_id]
            ):
                continue
            for dependent in ("clues", "outcomes"):
                if _count(
                    con,
                    f"SELECT count(*) FROM {dependent} WHERE inspection_id = ?",
                    [inspection_id],
                ):
                    break
            else:
                _commit(con)
                con.execute("DELETE FROM inspections WHERE inspection_id = ?", [inspection_id])
                out["removed"].append("删除了该批次新建的巡察")
        _commit(con)
        for table, key, label in (("rounds", "round_id", "轮次"), ("units", "unit_id", "单位")):
            for row_id in inserted.get(table, []):
                if _count(con, f"SELECT count(*) FROM inspections WHERE {key} = ?", [row_id]):
                    out["removed"].append(f"该批次新建的{label}仍被其他巡察使用，予以保留")
                    continue
                con.execute(f"DELETE FROM {table} WHERE {key} = ?", [row_id])
                out["removed"].append(f"删除了该批次新建的{label}")
        new_id = _count(con, "SELECT coalesce(max(batch_id), 0) FROM import_batches", []) + 1
        con.execute(
            "UPDATE import_batches SET status = 'rolled_back', rolled_back_by = ? WHERE batch_id = ?",
            [new_id, batch_id],
        )
        note = (
            f"回滚批次 #{batch_id}：删除问题 {out['findings_removed']} 个、措施 {out['measures_removed']} 条，"
            f"恢复问题 {out['findings_restored']} 个、措施 {out['measures_restored']} 条"
        )
        con.execute(
            "INSERT INTO import_batches (batch_id, kind, file_name, user_name, created_at, round_id,"
            " unit_id, status, note, rollback_of) VALUES (?, 'rollback', ?, ?, ?, ?, ?, 'applied', ?, ?)",
            [
                new_id,
                file_name,
                user,
                dt.datetime.now().replace(microsecond=0),
                round_id,
                unit_id,
                note,
                batch_id,
            ],
        )
        out["rollback_batch_id"] = new_id
        return out

    try:
        out, version = store.write(apply)
    except duckdb.Error as exc:
        raise StoreError(f"回滚失败，数据未作任何更改：{exc}") from exc
    outcome = RollbackOutcome(batch_id=batch_id, version=version, **out)
    details = {k: v for k, v in outcome.__dict__.items() if k != "version"}
    try:
        audit.record(
            store.root, user=user, action="rollback", source=source, data_version=version, **details
        )
    except audit.AuditError as exc:
        raise audit.AuditError(
            f"批次 #{batch_id} 已回滚（数据版本 {version}），但审计记录写入失败：{exc}；"
            "请管理员立即核查（xuncha audit verify）"
        ) from exc
    return outcome


def _online_after(
    con: duckdb.DuckDBPyConnection, round_id: int | None, unit_id: int | None, batch_id: int
) -> int | None:
    """The latest online rectification batch on the inspection's measures written after the
    batch (None: none). Undoing a ledger under reports, reviews and closures built on it would
    leave steps that name states the measures no longer have."""
    try:
        row = _first(
            con,
            "SELECT max(batch_id) FROM rectify_submissions WHERE round_id = ? AND unit_id = ?"
            " AND batch_id > ?",
            [round_id, unit_id, batch_id],
        )
        step = _first(
            con,
            "SELECT max(batch_id) FROM rectify_steps WHERE round_id = ? AND unit_id = ?"
            " AND batch_id > ?",
            [round_id, unit_id, batch_id],
        )
    except duckdb.CatalogException:  # a store written before online rectification
        return None
    found = [int(r[0]) for r in (row, step) if r is not None and r[0] is not None]
    return max(found) if found else None


def list_batches(store: Store) -> pl.DataFrame:
    """Every batch of the store, newest first, with the round and unit names and whether it
    can be rolled back now (an applied ledger batch that is its inspection's latest)."""
    con = store.connect()
    try:
        frame = con.sql(
            "SELECT b.*, r.name AS round_name, u.name AS unit_name FROM import_batches b"
            " LEFT JOIN rounds r ON r.round_id = b.round_id"
            " LEFT JOIN units u ON u.unit_id = b.unit_id ORDER BY b.batch_id DESC"
        ).pl()
        try:
            online = con.sql(
                "SELECT round_id, unit_id, max(batch_id) AS online_batch FROM rectify_steps"
                " GROUP BY ALL"
            ).pl()
        except duckdb.CatalogException:  # a store written before online rectification
            online = pl.DataFrame(
                schema={"round_id": pl.Int32, "unit_id": pl.Int32, "online_batch": pl.Int32}
            )
    finally:
        con.close()
    for column in ("rolled_back_by", "rollback_of", "findings_unchanged", "measures_unchanged"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Int32).alias(column))
    applied = pl.col("kind").eq("ledger") & pl.col("status").eq("applied")
    latest = (
        frame.filter(applied)
        .group_by("round_id", "unit_id")
        .agg(pl.col("batch_id").max().alias("latest_batch"))
    )
    return (
        frame.join(latest, on=["round_id", "unit_id"], how="left", nulls_equal=True)
        .join(
            online.with_columns(pl.col("round_id", "unit_id").cast(frame["round_id"].dtype)),
            on=["round_id", "unit_id"],
            how="left",
            nulls_equal=True,
        )
        .with_columns(
            (
                applied
                & pl.col("batch_id").eq(pl.col("latest_batch"))
                & ~pl.col("online_batch").fill_null(0).gt(pl.col("batch_id"))
            )
            .fill_null(False)
            .alias("can_roll_back")
        )
        .drop("latest_batch", "online_batch")
        .sort("batch_id", descending=True)
    )


def _commit(con: duckdb.DuckDBPyConnection) -> None:
    """Commit and go on in a new transaction: DuckDB checks a foreign key against what is
    committed, so rows whose references were deleted are deleted after a commit. These commits
    are inside the write's staging copy, which is published only when the whole rollback is
    done: a rollback killed between them publishes nothing (tests/test_faults.py)."""
    con.execute("COMMIT")
    faults.reached("rollback.commit")
    con.execute("BEGIN TRANSACTION")
