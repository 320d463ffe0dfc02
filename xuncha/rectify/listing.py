"""Online submissions as a table to export: each claim, request or progress report in the
reader's scope with its state, who did what and when, and its evidence files listed by name
and SHA-256 (DOMAIN.md §8: evidence is data of the measure, listed in exports by name and
hash; the files themselves are read only through the scope check)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from xuncha.rectify.evidence import list_evidence
from xuncha.rectify.workflow import STATE_LABELS, STATUS_LABELS
from xuncha.store.reader import Reader

KIND_LABELS = {"progress": "整改进展", "done": "报完成", "extension": "申请延期"}

# Export column (Chinese) ← rectify_queue column.
COLUMNS = {
    "submission_id": "填报编号",
    "measure_id": "措施编号",
    "round_name": "轮次",
    "unit_name": "单位",
    "title": "具体问题",
    "measure_text": "整改措施",
    "kind": "填报类型",
    "status": "填报状态",
    "progress": "整改进展",
    "completed_on": "报告完成日期",
    "proposed_deadline": "申请延至",
    "reason": "延期理由",
    "submitted_by": "填报账号",
    "submitted_on": "填报日期",
    "state": "当前状态",
    "state_on": "状态日期",
    "last_actor": "最后操作账号",
    "last_reason": "意见（退回、审批）",
    "reviewer": "审核通过账号",
    "deadline_original": "原定时限",
    "deadline_current": "现行时限",
    "evidence": "佐证材料（文件名 SHA-256）",
}


def submissions_table(
    reader: Reader, inspection_ids: Sequence[int] | None, states: Sequence[str] | None
) -> pl.DataFrame:
    """The submissions of the given inspections (the caller's scope) in the given states,
    with their evidence, under Chinese headers, oldest first."""
    frame = reader.query(
        "rectify_queue",
        {
            "inspection_ids": None if inspection_ids is None else list(inspection_ids),
            "states": None if states is None else list(states),
            "measure_id": None,
        },
    )
    files = list_evidence(reader, frame["submission_id"].to_list())
    listed = files.group_by("submission_id").agg(
        pl.concat_str([pl.col("file_name"), pl.col("sha256")], separator=" ")
        .sort_by(pl.col("position"))
        .str.join("；")
        .alias("evidence")
    )
    return (
        frame.join(listed, on="submission_id", how="left")
        .with_columns(
            pl.col("kind").replace_strict(KIND_LABELS, default=pl.col("kind")),
            pl.col("state").replace_strict(STATE_LABELS, default=pl.col("state")),
            pl.col("status").replace_strict(STATUS_LABELS, default=pl.col("status")),
            pl.col("evidence").fill_null(""),
        )
        .select(list(COLUMNS))
        .rename(COLUMNS)
    )
