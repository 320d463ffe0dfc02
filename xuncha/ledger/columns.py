"""Ledger header texts → the fields they hold (DOMAIN.md §4 synonyms and a few more seen in
real ledgers), compared after NFKC, without spaces, '*' marks or bracketed notes."""

from __future__ import annotations

import re

from xuncha.ledger.text import nfkc

# field → (label shown to users, synonyms). Order of synonyms does not matter.
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "seq": ("序号", ("序号", "编号", "问题序号", "问题编号", "序")),
    "category": (
        "问题类别",
        (
            "问题类别",
            "问题分类",
            "方面",
            "问题类型",
            "类别",
            "问题方面",
            "所属方面",
            "反馈问题类别",
            "问题大类",
            "一级类别",
        ),
    ),
    "subcategory": (
        "问题子类",
        ("问题子类", "问题小类", "二级类别", "子类", "问题细类", "问题子类别", "具体类别"),
    ),
    "title": (
        "具体问题",
        (
            "具体问题",
            "问题内容",
            "问题表现",
            "存在问题",
            "反馈问题",
            "巡察反馈问题",
            "问题描述",
            "问题",
            "存在的问题",
            "问题清单",
            "巡察发现问题",
            "反馈问题内容",
        ),
    ),
    "detail": ("具体表现", ("具体表现", "问题具体表现", "主要表现", "表现形式", "问题详情")),
    "measure": (
        "整改措施",
        (
            "整改措施",
            "整改任务",
            "措施",
            "整改举措",
            "具体整改措施",
            "任务清单",
            "整改措施任务",
            "整改目标和措施",
        ),
    ),
    "lead_person": (
        "责任领导",
        ("责任领导", "分管领导", "牵头领导", "责任单位领导", "领导责任人", "牵头负责领导"),
    ),
    "department": (
        "责任部门",
        (
            "责任部门",
            "责任科室",
            "牵头股室",
            "责任单位",
            "牵头部门",
            "责任股室",
            "牵头单位",
            "责任处室",
            "牵头科室",
            "责任单位部门",
        ),
    ),
    "person": ("责任人", ("责任人", "具体经办人", "经办人", "具体责任人", "直接责任人")),
    "deadline": (
        "整改时限",
        ("整改时限", "完成时限", "整改期限", "时限", "时限要求", "完成时间要求", "整改完成时限"),
    ),
    "progress": (
        "整改进展",
        (
            "整改进展",
            "完成情况",
            "推进情况",
            "整改情况",
            "进展情况",
            "整改落实情况",
            "整改完成情况",
            "整改进展情况",
            "落实情况",
        ),
    ),
    "status": ("整改状态", ("整改状态", "完成状态", "状态", "整改结果", "办理状态")),
    "evidence": ("佐证材料", ("佐证材料", "佐证材料清单", "证明材料", "整改佐证", "佐证")),
    "extension": (
        "延期时限",
        ("延期时限", "延期后时限", "调整后时限", "延期至", "延期后完成时限", "批准延期时限"),
    ),
    "completed_on": ("完成时间", ("完成时间", "完成日期", "实际完成时间", "实际完成日期")),
    "closed_on": ("销号时间", ("销号时间", "销号日期")),
    "immediate": ("是否立行立改", ("是否立行立改", "立行立改")),
    "severity": ("严重程度", ("严重程度", "问题严重程度")),
    "person_level": ("涉及人员层级", ("涉及人员层级", "涉及人员", "人员层级")),
    "amount_wan": ("涉及金额（万元）", ()),  # recognised only when the header says 万元
    "tags": ("问题标签", ("问题标签", "标签")),
    "remark": ("备注", ("备注", "备注说明", "备考")),
}

FIELD_LABELS = {name: label for name, (label, _) in FIELDS.items()}

# Columns the ledger must have (category may come from group rows instead).
REQUIRED = ("title", "measure", "deadline")
# Measure-level fields: several numbered items in one cell may be distributed over measures.
MEASURE_FIELDS = (
    "lead_person",
    "department",
    "person",
    "deadline",
    "progress",
    "status",
    "evidence",
    "extension",
    "completed_on",
    "closed_on",
    "remark",
)
PROBLEM_FIELDS = (
    "category",
    "subcategory",
    "title",
    "detail",
    "immediate",
    "severity",
    "person_level",
    "amount_wan",
    "tags",
)

_BRACKETS = re.compile(r"[(（【\[<《][^)）】\]>》]*[)）】\]>》]")
_NOISE = re.compile(r"[\s*＊:：、.．]")


def header_key(text: str) -> str:
    body = nfkc(text)
    body = _BRACKETS.sub("", body)
    return _NOISE.sub("", body).casefold()


_LOOKUP: dict[str, str] = {}
for _field, (_label, _synonyms) in FIELDS.items():
    for _word in _synonyms:
        _LOOKUP[header_key(_word)] = _field


def field_of(header: str) -> str | None:
    """The field a header names; None when unknown."""
    squashed = nfkc(header)
    if "金额" in squashed and "万元" in squashed:
        return "amount_wan"
    return _LOOKUP.get(header_key(header))
