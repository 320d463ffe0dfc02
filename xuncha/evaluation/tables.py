"""The 整改成效评估 as tables people read: Chinese headers, one place for the page, the
command line's CSV and the archive's workbook, so all three show the same columns."""

from __future__ import annotations

import polars as pl

from xuncha.evaluation.config import EvaluationConfig
from xuncha.evaluation.scoring import Evaluation

RESULT_COLUMNS = {
    "round_name": "轮次",
    "unit_name": "单位",
    "score": "得分",
    "grade": "等次",
    "vetoed": "一票否决",
    "provisional": "暂评",
    "small_sample": "样本不足（等次仅供参考）",
    "complete": "人工评分项已全部确认",
    "pending_entries": "待确认录入数",
    "auto_points": "自动项得分",
    "manual_points": "人工项得分",
    "deductions": "扣分合计",
    "findings": "问题数",
    "measures": "措施数",
    "completion_rate": "整改完成率（%）",
    "self_reported_rate": "自报完成率（%）",
    "measure_completion_rate": "措施完成率（%）",
    "completion_gap": "自报与实际之差（百分点）",
    "period_end": "整改期结束",
    "note": "说明",
}
ITEM_COLUMNS = {
    "unit_name": "单位",
    "label": "评分项",
    "kind": "类型",
    "rule": "评分规则",
    "basis": "依据",
    "max_points": "满分",
    "points": "得分",
    "status": "状态",
    "entry_id": "录入编号",
}
DECISION_LABELS = {"confirm": "已确认", "reject": "已退回"}
# The archive list (archive.list_archives) as people read it: the page and the command line.
ARCHIVE_COLUMNS = {
    "archive_id": "存档编号",
    "round_name": "轮次",
    "as_of": "评估截至",
    "data_version": "数据版本",
    "user": "存档人",
    "scope": "存档人范围",
    "created": "存档时间",
    "units": "单位数",
}


def results_table(evaluation: Evaluation) -> pl.DataFrame:
    """One row per unit: the result columns, then each item's points under its label."""
    units = evaluation.units
    config = evaluation.config
    per_item = {f"{i.key}_points": f"{i.label}（{i.points:g}分）" for i in config.scored_items()}
    present = {k: v for k, v in per_item.items() if k in units.columns}
    return units.select(
        *(pl.col(k).alias(v) for k, v in RESULT_COLUMNS.items()),
        *(pl.col(k).alias(v) for k, v in present.items()),
    )


def items_table(items: pl.DataFrame) -> pl.DataFrame:
    return items.select(*(pl.col(k).alias(v) for k, v in ITEM_COLUMNS.items()))


def entries_table(entries: pl.DataFrame, config: EvaluationConfig) -> pl.DataFrame:
    """The manual entries with their state: 待确认, 已确认 or 已退回."""
    labels = {i.key: i.label for i in config.entered_items()}
    return entries.select(
        pl.col("entry_id").cast(pl.Int64).alias("录入编号"),
        pl.col("unit_name").alias("单位"),
        pl.col("item").replace_strict(labels, default=pl.col("item")).alias("评分项"),
        pl.col("value").alias("分值"),
        pl.col("note").alias("依据"),
        pl.col("entered_by").alias("录入人"),
        pl.col("entered_on").alias("录入日期"),
        pl.col("decision").replace_strict(DECISION_LABELS, default="待确认").alias("状态"),
        pl.col("decided_by").alias("确认人"),
        pl.col("decided_on").alias("确认日期"),
        pl.col("reason").alias("退回理由"),
        pl.col("evidence_names").list.join("、").alias("佐证材料"),
        pl.col("evidence_sha256").list.join("、").alias("佐证材料 SHA-256"),
    )
