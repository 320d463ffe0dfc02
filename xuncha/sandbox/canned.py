"""The 常用查询 of 数据查询: which named queries (queries/*.sql) are offered, under which Chinese
name and description, with which fields in which words.

Why a register here and not the queries' headers: the headers describe each query for its
developers (English, column by column, read by tests and the reader); what a leader or an
analyst of the 巡察办 reads is a question ("某单位逾期措施"), a sentence saying what the answer
holds and which page shows the same figure, and fields named in their words. Only the queries
listed here are offered: the others are building blocks of the pages (drill-downs by id, the
store's own bookkeeping) that answer no question by themselves.

The scope (inspections, categories) is never a field: the sandbox holds only the rows of the
sidebar's filters, and the page binds the lists to them. The date (统计截至) is a field whose
default is the sidebar's, so a canned query answers as of the page's date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xuncha.figures.rates import COMMON_K_MIN, COMMON_K_SHARE

# Parameters the page binds itself, never shown as fields.
SCOPE_PARAMS = frozenset({"inspection_ids", "category_l1", "category_l2", "current"})
DATE_LABEL = "统计截至"


@dataclass(frozen=True)
class Field:
    """One field of a canned query: its label, the kind of widget, a default.

    kinds: "date", "int", "share" (0–1), "unit" (a unit of the scope or all), "round" (one
    round of the scope: binds round_from and round_to), "colours" (红/黄/绿), "choice"
    (`choices`: value → label), "terms" (words, comma-separated), "fixed" (not shown)."""

    label: str
    kind: str
    default: Any = None
    choices: Mapping[Any, str] = field(default_factory=dict)
    help: str = ""


@dataclass(frozen=True)
class Canned:
    """A question and the named query that answers it."""

    name: str  # the file in queries/
    title: str
    description: str
    fields: Mapping[str, Field]

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The query's parameters from the fields' values (a round: its seq for both ends)."""
        out: dict[str, Any] = {}
        for param, spec in self.fields.items():
            value = values.get(param, spec.default)
            if spec.kind == "round":
                out["round_from"] = value
                out["round_to"] = value
            else:
                out[param] = value
        return out


_AS_OF = Field(DATE_LABEL, "date", help="按该日的状态和时限回溯计算；默认为侧栏的统计截至日期")
_LIMIT = Field("最多显示行数", "int", 200)

CANNED: tuple[Canned, ...] = (
    Canned(
        "unit_overdue_measures",
        "某单位逾期措施",
        "截至所选日期，某个单位（或全部单位）尚未完成、且已超过现行整改时限的整改措施，逾期最久的在前。"
        "条数与“整改进度”“总览”页同一日期的逾期措施数一致；长期坚持、没有具体时限的措施不算逾期。",
        {"as_of": _AS_OF, "unit_id": Field("单位", "unit", None)},
    ),
    Canned(
        "common_problems",
        "本轮共性问题",
        "所选轮次中，在多个被巡察单位都发现的同一类（二级类别）问题，并列出涉及的单位，供举一反三。"
        "共性问题须在不少于 k 个单位发现，k 取“最少单位数”与“比例 × 该轮已反馈单位数”（向上取整）中较大者；"
        "与“屡查屡犯”页的共性问题一致。",
        {
            "as_of": _AS_OF,
            "round": Field("轮次", "round", None),
            "k_min": Field("最少单位数", "int", COMMON_K_MIN),
            "k_share": Field("最少占该轮单位的比例（0–1）", "share", COMMON_K_SHARE),
            "with_names": Field("列出单位", "fixed", True),
        },
    ),
    Canned(
        "rebound_units",
        "反弹单位名单",
        "截至所选日期，有“反弹”问题的单位：同一单位同一类问题此前已整改完成、本次巡察又被发现。"
        "列出各单位的问题数、重复问题数、反弹问题数和反弹率，反弹最多的在前；与“屡查屡犯”页按单位的反弹数一致。",
        {"as_of": _AS_OF},
    ),
    Canned(
        "measures_supervision",
        "督办清单（红黄绿预警）",
        "截至所选日期尚未完成、有具体时限的措施：红为已逾期，黄为 10 天内到期，绿为 20 天内到期；逾期最久的在前。",
        {
            "as_of": _AS_OF,
            "kinds": Field("预警颜色", "colours", None, help="不选为全部措施"),
            "limit": _LIMIT,
        },
    ),
    Canned(
        "measures_extended",
        "延期措施",
        "截至所选日期整改时限有过变动（申请延期等）的措施，列出原定时限与现行时限。",
        {"as_of": _AS_OF, "limit": _LIMIT},
    ),
    Canned(
        "measures_long_term",
        "长期坚持措施",
        "截至所选日期尚未完成的长期坚持措施（没有具体时限或标为长期坚持），与逾期措施分开统计。",
        {"as_of": _AS_OF, "limit": _LIMIT},
    ),
    Canned(
        "repeat_chains",
        "屡查屡犯链条",
        "同一单位同一类问题在两轮及以上巡察中被发现的情况：依次列出各轮，标出反弹。",
        {"as_of": _AS_OF, "limit": _LIMIT},
    ),
    Canned(
        "rectification_counts",
        "整改情况统计",
        "截至所选日期的问题数、措施数、完成、逾期、重复和反弹等各项计数，可按轮次、单位、类别等分组；"
        "各项口径与“整改进度”页相同。",
        {
            "as_of": _AS_OF,
            "by": Field(
                "分组",
                "choice",
                "round",
                {
                    "all": "全部合计",
                    "round": "按轮次",
                    "unit": "按单位",
                    "round_unit": "按轮次和单位",
                    "category_l1": "按一级类别",
                    "category_l2": "按二级类别",
                    "sector": "按领域",
                    "peer_group": "按同类组",
                },
            ),
            "cycle_median": Field("计算整改用时中位数", "fixed", True),
        },
    ),
    Canned(
        "findings_by_unit_category",
        "各单位各类问题数",
        "截至所选日期，每个单位每一类问题的数量（问题分布热力图的数据）。",
        {
            "as_of": _AS_OF,
            "level": Field("类别层级", "choice", 1, {1: "一级类别", 2: "二级类别"}),
        },
    ),
    Canned(
        "findings_by_category",
        "各类问题数",
        "截至所选日期，每个二级类别（含所属一级类别）的问题数。",
        {"as_of": _AS_OF},
    ),
    Canned(
        "findings_search",
        "按关键词查找问题",
        "具体问题或具体表现中同时含有全部关键词的问题（按字面查找）。",
        {"as_of": _AS_OF, "terms": Field("关键词", "terms", None, help="多个关键词用逗号分隔")},
    ),
    Canned(
        "kpi_overview",
        "总体情况",
        "截至所选日期已反馈的轮次数、被巡察单位数、巡察次数，以及建章立制、追缴资金、问责人数。",
        {"as_of": _AS_OF},
    ),
)

BY_NAME: dict[str, Canned] = {c.name: c for c in CANNED}


def default_values(canned: Canned, as_of: dt.date) -> dict[str, Any]:
    """The fields' defaults, the date being the page's 统计截至."""
    return {p: (as_of if f.kind == "date" else f.default) for p, f in canned.fields.items()}
