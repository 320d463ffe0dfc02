"""What users read: Chinese names for columns, statuses and groupings, in one place."""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo

import polars as pl

# The zone every time is shown in (an IANA name), whatever the server's own clock zone.
TIMEZONE_ENV = "XUNCHA_TIMEZONE"
DEFAULT_TIMEZONE = "Asia/Shanghai"


def timezone() -> dt.tzinfo:
    """The configured zone (XUNCHA_TIMEZONE, default Asia/Shanghai); an unknown name is an
    error rather than a silent UTC."""
    name = os.environ.get(TIMEZONE_ENV, "").strip() or DEFAULT_TIMEZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"时区设置 {TIMEZONE_ENV}={name} 无法识别（例如 Asia/Shanghai）") from None


def local_now() -> dt.datetime:
    """Now, as a wall-clock time of the configured zone (naive, to the second): what a
    document says it was made at."""
    return dt.datetime.now(timezone()).replace(tzinfo=None, microsecond=0)


def shown_time(value: dt.datetime | str | None, *, seconds: bool = False) -> str:
    """A timestamp as the user reads it: in the configured zone, "2026-11-25 17:12" (with
    seconds if asked). An aware time or an ISO text with an offset or "Z" is converted; a naive
    one is the server's own local time (what datetime.now() gives). None or "" is "—"."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        text = value.strip()
        moment = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    else:
        moment = value
    local = moment.astimezone(timezone())
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


COLUMNS: dict[str, str] = {
    "group_key": "分组",
    # the group column of `xuncha metrics --by …` is named by its grouping
    "round": "轮次",
    "unit": "单位",
    "round_unit": "轮次·单位",
    "round_name": "轮次",
    "unit_name": "单位",
    "peer_group": "同类组",
    "sector": "行业领域",
    "category": "类别",
    "category_name": "类别名称",
    "category_l1": "一级类别",
    "category_l2": "二级类别",
    "l1_name": "一级类别名称",
    "l2_name": "二级类别名称",
    "units": "单位数",
    "inspections": "巡察次数",
    "findings": "问题数",
    "findings_done": "已完成",
    "findings_basically_done": "基本完成",
    "findings_open": "未完成",
    "overdue_findings": "逾期问题",
    "repeat_findings": "重复问题",
    "rebound_findings": "反弹问题",
    "cycle_days_median": "整改周期中位数（天）",
    "measures": "措施数",
    "measures_done": "已完成措施",
    "measures_long_term": "长期坚持措施",
    "measures_not_due": "未到期措施",
    "as_of": "统计截至",
    "measures_phased": "阶段性完成措施",
    "measures_in_progress": "正在整改措施",
    "measures_not_done": "未完成措施",
    "completed_with_deadline": "有原定时限的已完成措施",
    "on_time_original": "按原定时限完成措施",
    "completed_with_current_deadline": "有现行时限的已完成措施",
    "on_time_current": "按现行时限完成措施",
    "small_sample": "样本不足",
    "overdue_measures": "逾期措施",
    "completion_rate": "整改完成率(%)",
    "completion_rate_lenient": "含基本完成的完成率(%)",
    "measure_completion_rate": "措施完成率(%)",
    "on_time_rate": "按期完成率(%)",
    "on_time_rate_current": "按期完成率·现行时限(%)",
    "overdue_rate": "逾期率(%)",
    "repeat_rate": "重复率(%)",
    "rebound_rate": "反弹率(%)",
    "sample_note": "样本",
    "finding_id": "问题编号",
    "measure_id": "措施编号",
    "title": "具体问题",
    "detail": "具体表现",
    "severity": "严重程度",
    "tags": "标签",
    "status": "状态",
    "status_text": "台账状态",
    "measures_total": "措施数",
    "is_repeat": "重复",
    "is_rebound": "反弹",
    "feedback_date": "反馈日期",
    "text": "整改措施",
    "lead_person": "责任领导",
    "department": "责任部门",
    "deadline_text": "时限原文",
    "deadline": "现行时限",
    "deadline_original": "原定时限",
    "days_overdue": "逾期天数（负数为剩余天数）",
    "warning": "预警",
    "completed_on": "完成日期",
    "findings_per_inspection": "平均每次巡察问题数",
    "extension_days": "延期天数",
    "overdue_days": "逾期天数",
    "changed_on": "变更日期",
    "reason": "变更原因",
    "round_count": "发现轮次数",
    "chain": "发现轮次（反弹标注）",
    "rebound_rounds": "反弹轮次数",
    "open_findings": "未完成问题",
    "units_found": "发现单位数",
    "units_inspected": "已反馈单位数",
    "threshold": "阈值 k",
    "unit_share": "单位占比(%)",
    "unit_names": "涉及单位",
    "round_a": "前轮",
    "category_a": "前轮类别",
    "title_a": "前轮问题",
    "round_b": "后轮",
    "category_b": "后轮类别",
    "title_b": "后轮问题",
    "similarity": "相似度",
    "finding_a": "前轮问题编号",
    "finding_b": "后轮问题编号",
    # political ecology (研判参考)
    "unit_id": "单位编号",
    "peer_rank": "同类组排名",
    "peer_rated": "同类组可评价单位数",
    "grade_label": "等次（研判参考）",
    "score": "得分（研判参考）",
    "badges": "封顶徽标",
    "label": "标注",
    "config_digest": "配置摘要",
    "previous_round": "上一轮",
    "previous_grade": "上一轮等次",
    "trend": "较上一轮",
    "dimension_name": "维度",
    "weight": "权重",
    "weight_share": "权重份额",
    "indicator_name": "指标",
    "direction_label": "方向",
    "raw_value": "原始值",
    "normalised": "指标得分",
    "contribution": "对总分的贡献",
    "effect": "作用",
    "evidence": "依据",
}


def round_label(name: str, term: str | None = None) -> str:
    """A short label for a round: 十四届第三轮（专项）."""
    match = re.search(r"(第.+?轮)", name)
    core = match.group(1) if match else name
    suffix = "（专项）" if "专项" in name else "（回头看）" if "回头看" in name else ""
    if term is None:
        found = re.match(r"^(十.*?届)", name)
        term = found.group(1) if found else ""
    return f"{term}{core}{suffix}"


FINDING_STATUS = {"DONE": "已完成", "BASICALLY_DONE": "基本完成", "OPEN": "未完成"}
MEASURE_STATUS = {
    "DONE": "已完成",
    "PHASED": "基本完成",
    "IN_PROGRESS": "正在整改",
    "NOT_DONE": "未完成",
    "LONG_TERM": "长期坚持",
}


def status_labels(frame: pl.DataFrame, column: str = "status", *, finding: bool) -> pl.DataFrame:
    mapping = FINDING_STATUS if finding else MEASURE_STATUS
    if column not in frame.columns:
        return frame
    return frame.with_columns(pl.col(column).replace_strict(mapping, default=pl.col(column)))


def chinese_headers(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.rename({c: COLUMNS[c] for c in frame.columns if c in COLUMNS})


# Columns a page keeps only to link a name (a unit's name to its 单位全景): never shown as a
# column (widgets.table hides it) nor exported (download_buttons drops it).
LINK_ONLY = ("unit_id",)

# The columns of a 督办 list of measures (整改进度's 督办清单; 单位全景 shows them without the
# unit and the finding id), in order.
SUPERVISION_COLUMNS = (
    "warning",
    "unit_name",
    "unit_id",  # the name links to 单位全景 (never exported)
    "round_name",
    "title",
    "text",
    "deadline",
    "days_overdue",
    "status",
    "lead_person",
    "department",
    "finding_id",
)
