"""The briefing drafted from the figures: every sentence states numbers, changes and rankings
computed by `xuncha.figures` (the one home of every definition), never by this module.

The order is the one commissions write by hand: 总体情况, 问题分布特点, 整改进展,
屡查屡犯和共性问题, 线索处置, 政治生态研判, and 下步工作建议 (written by the user). A round or
a period (a range of rounds) is briefed within a scope; the scope is resolved by the caller's
`resolve` function, which applies the reader's access rights, so the previous round used for
comparison is seen through the same rights.

Clue figures are counts only, and counts of 1–2 read "<3" — whoever drafts it, since a
briefing is a document that travels (`clue_details=True` exists for internal case use only); when exactly one count of a
breakdown is hidden, the smallest other count is hidden too (as "≥3"), so no hidden count can
be recovered by subtracting the shown ones from the total.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import plotly.graph_objects as go
import polars as pl

from xuncha import charts, figures
from xuncha.briefing.model import Block, Briefing, Chart, Paragraph, Section, Table
from xuncha.figures import disclosure, ecology_names, periods
from xuncha.figures.ecology import GRADES, SMALL_SAMPLE, TRENDS
from xuncha.figures.periods import PROVISIONAL
from xuncha.figures.rates import format_rate
from xuncha.filters import Filters, Scope
from xuncha.store.reader import Reader

ROUTING_ORDER = ("移送纪委监委", "移交组织部", "交办被巡察单位")
DISPOSAL_ORDER = ("谈话函询", "初步核实", "暂存待查", "予以了结")
TOP_CATEGORIES = 5
TOP_UNITS = 10
NAMED_UNITS = 5  # units named in one sentence
SUGGESTIONS_PLACEHOLDER = "（此部分由起草人根据研判情况填写。）"
SECTION_KEYS = (
    "overall",
    "distribution",
    "progress",
    "repeats",
    "clues",
    "ecology",
    "suggestions",
)


class BriefingError(ValueError):
    """The briefing cannot be drafted for what was asked (message in Chinese)."""


@dataclass(frozen=True)
class BriefingRequest:
    """What to brief: the scope filters (their round range is the period), the as-of date
    inside them, and what the user adds."""

    filters: Filters
    title: str | None = None
    issuer: str = "市委巡察办"
    suggestions: tuple[str, ...] = ()
    ecology_config: figures.EcologyConfig | None = None
    # The rectification period rule the 暂评 labels follow (None: the store's, when drafted);
    # archived with the briefing so a regeneration says the same after the rule changes.
    period_rule: periods.PeriodRule | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def per_unit(count: int, units: int) -> str:
    """count ÷ units with two decimals, half up (an average, not a rate)."""
    if not units:
        return "—"
    value = (Decimal(count) / Decimal(units)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value:.2f}"


def change_text(now: int, before: int, unit: str = "个") -> str:
    """增加 12 个（+5.31%） / 减少 3 个（-1.20%） / 持平."""
    diff = now - before
    if diff == 0:
        return "持平"
    pct = figures.rate(abs(diff), before)
    sign = "+" if diff > 0 else "-"
    word = "增加" if diff > 0 else "减少"
    tail = f"（{sign}{pct:.2f}%）" if pct is not None else ""
    return f"{word}{abs(diff)}{unit}{tail}"


def _rate(value: float | None) -> str:
    return format_rate(value)


def _join(parts: Sequence[str]) -> str:
    return "、".join(parts)


class _Drafter:
    def __init__(
        self,
        reader: Reader,
        request: BriefingRequest,
        resolve: Callable[[Filters], Scope],
        clue_details: bool,
    ) -> None:
        self.reader = reader
        self.request = request
        self.resolve = resolve
        self.clue_details = clue_details
        self.config = request.ecology_config or figures.EcologyConfig.load(None)
        self.scope = resolve(request.filters)
        # The brief's five groupings of the counts for its scope in one query.
        figures.prefetch_rectification(
            reader, self.scope, ["all", "round", "category_l1", "category_l2", "unit"]
        )
        self.as_of = self.scope.as_of
        rounds = reader.query("rounds_list")
        self.rounds = {int(r["seq"]): r for r in rounds.iter_rows(named=True)}
        cats = reader.query("categories_list")
        self.l1_names = dict(cats.select("category_l1", "l1_name").unique().rows())
        self.l2_names = dict(cats.select("category_l2", "l2_name").rows())
        self.totals = figures.overview(reader, self.scope)
        # Clue figures exact only when both the request and the reader's scope allow it (a
        # briefing that travels is drafted without, whoever drafts it): disclosure control.
        self.clue = disclosure.totals(reader, self.scope, clue_details=clue_details)
        self.clue_exact = clue_details and self.scope.clue_details
        if not self.totals["findings"] and not self.totals["inspections"]:
            raise BriefingError(
                f"截至{cn_date(self.as_of)}，所选范围内没有已反馈的巡察，无法生成简报"
            )
        self.seqs = self._seqs(self.scope)
        self.tables = 0
        self.charts = 0

    # -- helpers -----------------------------------------------------------------------

    def _seqs(self, scope: Scope) -> list[int]:
        frame = figures.rectification(self.reader, scope, "round", cycle_median=False)
        by_id = {int(r["round_id"]): s for s, r in self.rounds.items()}
        return sorted(by_id[int(g)] for g in frame["group_id"].to_list() if int(g) in by_id)

    def period_name(self) -> str:
        if not self.seqs:
            return "所选范围"
        if len(self.seqs) == 1:
            return str(self.rounds[self.seqs[0]]["name"])
        first = self.rounds[self.seqs[0]]["name"]
        last = self.rounds[self.seqs[-1]]["name"]
        return f"{first}至{last}（共{len(self.seqs)}轮）"

    def previous_scope(self) -> tuple[Scope, str] | None:
        """The round before a single-round briefing, in the same scope and rights."""
        if len(self.seqs) != 1:
            return None
        earlier = [s for s in self.rounds if s < self.seqs[0]]
        if not earlier:
            return None
        seq = max(earlier)
        scope = self.resolve(self.request.filters.with_(round_from=seq, round_to=seq))
        if not scope.inspection_ids:
            return None
        return scope, str(self.rounds[seq]["name"])

    def table(self, title: str, columns: list[str], rows: list[list[Any]], **kw: Any) -> Table:
        self.tables += 1
        return Table(caption=f"表{self.tables} {title}", columns=columns, rows=rows, **kw)

    def chart(self, title: str, fig: go.Figure, height: int = 420) -> Chart:
        self.charts += 1
        fig.update_layout(title=None, height=height, width=900)
        return Chart(
            caption=f"图{self.charts} {title}",
            figure=fig.to_plotly_json(),
            width_px=900,
            height_px=height,
        )

    def l1_name(self, code: str) -> str:
        return str(self.l1_names.get(code) or ("其他" if code == "Z" else code))

    # -- sections ----------------------------------------------------------------------

    def overall(self) -> Section:
        t = self.totals
        clue_text = self.clue["clues"].text
        blocks: list[Block] = [
            Paragraph(
                f"截至{cn_date(self.as_of)}，{self.period_name()}共对{t['units_inspected']}个单位"
                f"（党组织）开展巡察，反馈问题{t['findings']}个，制定整改措施{t['measures']}项，"
                f"移交问题线索{clue_text}件。"
            )
        ]
        by_l1 = figures.rectification(
            self.reader, self.scope, "category_l1", cycle_median=False
        ).sort(["findings", "group_key"], descending=[True, False])
        total = int(t["findings"])
        parts = [
            f"{self.l1_name(r['group_key'])}问题{r['findings']}个，占{_rate(figures.rate(r['findings'], total))}"
            for r in by_l1.iter_rows(named=True)
        ]
        if parts:
            blocks.append(Paragraph("从问题类别看，" + "；".join(parts) + "。"))
        rows = [
            [
                self.l1_name(r["group_key"]),
                int(r["findings"]),
                figures.rate(r["findings"], total),
                int(r["findings_done"]),
                r["completion_rate"],
            ]
            for r in by_l1.iter_rows(named=True)
        ]
        blocks.append(
            self.table(
                "问题按一级类别分布",
                ["问题类别", "问题数", "占比", "已完成整改", "整改完成率"],
                rows,
                total=[
                    "合计",
                    total,
                    figures.rate(total, total),
                    int(t["findings_done"]),
                    t["completion_rate"],
                ],
                formats=["text", "int", "rate", "int", "rate"],
                note="整改完成率：全部整改措施均已完成的问题数 ÷ 问题数；措施仅为基本完成或长期坚持的问题不计为完成。",
            )
        )
        if not by_l1.is_empty():
            fig = charts.count_bars(
                [self.l1_name(k) for k in by_l1["group_key"].to_list()],
                [int(v) for v in by_l1["findings"].to_list()],
            )
            blocks.append(
                self.chart("问题按一级类别分布", fig, height=max(240, 44 * by_l1.height + 80))
            )
        return Section("overall", "总体情况", 1, blocks)

    def distribution(self) -> Section:
        blocks: list[Block] = []
        total = int(self.totals["findings"])
        by_l2 = figures.rectification(
            self.reader, self.scope, "category_l2", cycle_median=False
        ).sort(["findings", "group_key"], descending=[True, False])
        top = by_l2.head(TOP_CATEGORIES)
        if not top.is_empty():
            named = [
                f"{self.l2_names.get(r['group_key'], r['group_key'])}（{r['findings']}个，"
                f"占{_rate(figures.rate(r['findings'], total))}）"
                for r in top.iter_rows(named=True)
            ]
            top_sum = int(top["findings"].sum())
            blocks.append(
                Paragraph(
                    f"问题主要集中在{_join(named)}，前{top.height}类合计{top_sum}个，"
                    f"占问题总数的{_rate(figures.rate(top_sum, total))}。"
                )
            )
        previous = self.previous_scope()
        if previous is not None:
            prev_scope, prev_name = previous
            prev = figures.overview(self.reader, prev_scope)
            prev_l2 = figures.rectification(
                self.reader, prev_scope, "category_l2", cycle_median=False
            )
            now_counts = dict(by_l2.select("group_key", "findings").rows())
            prev_counts = dict(prev_l2.select("group_key", "findings").rows())
            diffs = sorted(
                (
                    (now_counts.get(k, 0) - prev_counts.get(k, 0), k)
                    for k in set(now_counts) | set(prev_counts)
                ),
                key=lambda item: (-item[0], item[1]),
            )
            text = (
                f"与{prev_name}相比，问题总数{change_text(total, int(prev['findings']))}；"
                f"平均每个单位{per_unit(total, int(self.totals['units_inspected']))}个"
                f"（上一轮{per_unit(int(prev['findings']), int(prev['units_inspected']))}个）"
            )
            if diffs and diffs[0][0] > 0:
                k = diffs[0][1]
                text += f"；增加最多的是{self.l2_names.get(k, k)}（增加{diffs[0][0]}个）"
            if diffs and diffs[-1][0] < 0:
                k = diffs[-1][1]
                text += f"；减少最多的是{self.l2_names.get(k, k)}（减少{-diffs[-1][0]}个）"
            blocks.append(Paragraph(text + "。"))
        elif len(self.seqs) > 1:
            by_round = figures.rectification(self.reader, self.scope, "round", cycle_median=False)
            parts = [
                f"{self.rounds[s]['name']}{c}个"
                for s, c in sorted(
                    (
                        next(q for q, r in self.rounds.items() if int(r["round_id"]) == int(g)),
                        int(n),
                    )
                    for g, n in by_round.select("group_id", "findings").rows()
                )
            ]
            blocks.append(Paragraph("分轮次看，" + "，".join(parts) + "。"))
        by_unit = figures.rectification(self.reader, self.scope, "unit", cycle_median=False).sort(
            ["findings", "group_key"], descending=[True, False]
        )
        top_units = by_unit.head(TOP_UNITS)
        if not top_units.is_empty():
            blocks.append(
                Paragraph(
                    "问题数较多的单位是"
                    + _join(
                        [
                            f"{r['group_key']}（{r['findings']}个）"
                            for r in top_units.head(NAMED_UNITS).iter_rows(named=True)
                        ]
                    )
                    + "。"
                )
            )
            blocks.append(
                self.table(
                    f"问题数居前{top_units.height}位的单位",
                    ["序号", "单位", "问题数", "其中重复问题", "重复率"],
                    [
                        [
                            i,
                            r["group_key"],
                            int(r["findings"]),
                            int(r["repeat_findings"]),
                            r["repeat_rate"],
                        ]
                        for i, r in enumerate(top_units.iter_rows(named=True), start=1)
                    ],
                    formats=["int", "text", "int", "int", "rate"],
                )
            )
        return Section("distribution", "问题分布特点", 1, blocks)

    def progress(self) -> Section:
        t = self.totals
        blocks: list[Block] = [
            Paragraph(
                f"截至{cn_date(self.as_of)}，{t['findings']}个问题中已完成整改{t['findings_done']}个，"
                f"整改完成率{_rate(t['completion_rate'])}；基本完成{t['findings_basically_done']}个，"
                f"含基本完成的完成率{_rate(t['completion_rate_lenient'])}；尚未完成{t['findings_open']}个。"
                f"{t['measures']}项整改措施已完成{t['measures_done']}项，措施完成率"
                f"{_rate(t['measure_completion_rate'])}；有明确时限的已完成措施"
                f"{t['completed_with_deadline']}项中，按原定时限完成{t['on_time_original']}项，"
                f"按期完成率{_rate(t['on_time_rate'])}（按延期后的现行时限为"
                f"{_rate(t['on_time_rate_current'])}）。"
            )
        ]
        by_unit = figures.rectification(self.reader, self.scope, "unit", cycle_median=False)
        overdue = by_unit.filter(pl.col("overdue_measures") > 0).sort(
            ["overdue_measures", "group_key"], descending=[True, False]
        )
        if int(t["overdue_measures"]):
            named = _join(
                [
                    f"{r['group_key']}{r['overdue_measures']}项"
                    for r in overdue.head(NAMED_UNITS).iter_rows(named=True)
                ]
            )
            more = "等" if overdue.height > NAMED_UNITS else ""
            blocks.append(
                Paragraph(
                    f"逾期未完成的措施{t['overdue_measures']}项，逾期率{_rate(t['overdue_rate'])}，"
                    f"涉及{overdue.height}个单位，其中{named}{more}。"
                )
            )
        else:
            blocks.append(Paragraph(f"截至{cn_date(self.as_of)}，没有逾期未完成的整改措施。"))
        if int(t["measures_long_term"]):
            blocks.append(
                Paragraph(f"需长期坚持的措施{t['measures_long_term']}项，已纳入日常监督持续跟踪。")
            )
        rated = by_unit.filter(~pl.col("small_sample")).sort(
            ["completion_rate", "group_key"], nulls_last=True
        )
        low = rated.head(3)
        if not low.is_empty():
            blocks.append(
                Paragraph(
                    "整改完成率较低的单位是"
                    + _join(
                        [
                            f"{r['group_key']}（{_rate(r['completion_rate'])}）"
                            for r in low.iter_rows(named=True)
                        ]
                    )
                    + f"（问题少于{figures.MIN_SAMPLE}个的单位不参与比较）。"
                )
            )
        ordered = by_unit.sort(["completion_rate", "group_key"], nulls_last=True)
        blocks.append(
            self.table(
                "各单位整改进展",
                ["单位", "问题数", "已完成", "整改完成率", "措施数", "逾期措施", "逾期率"],
                [
                    [
                        r["group_key"],
                        int(r["findings"]),
                        int(r["findings_done"]),
                        r["completion_rate"],
                        int(r["measures"]),
                        int(r["overdue_measures"]),
                        r["overdue_rate"],
                    ]
                    for r in ordered.iter_rows(named=True)
                ],
                total=[
                    "合计",
                    int(t["findings"]),
                    int(t["findings_done"]),
                    t["completion_rate"],
                    int(t["measures"]),
                    int(t["overdue_measures"]),
                    t["overdue_rate"],
                ],
                formats=["text", "int", "int", "rate", "int", "int", "rate"],
                note="按整改完成率由低到高排列；合计行的比率按全部问题和措施重新计算，不是各单位比率的平均。",
            )
        )
        if not ordered.is_empty():
            shown = charts.lowest(ordered, "completion_rate")
            fig = charts.rate_ranking(shown, "completion_rate", "整改完成率（%）")
            title = "各单位整改完成率"
            if shown.height < ordered.height:
                title = (
                    f"整改完成率最低的{shown.height}个单位（共{ordered.height}个，完整排名见上表）"
                )
            blocks.append(self.chart(title, fig, height=max(360, 22 * shown.height + 80)))
        return Section("progress", "整改进展", 1, blocks)

    def repeats(self) -> Section:
        t = self.totals
        blocks: list[Block] = [
            Paragraph(
                f"{t['findings']}个问题中，同一单位此前轮次已发现过同类问题的重复问题{t['repeat_findings']}个，"
                f"重复率{_rate(t['repeat_rate'])}；其中此前问题在本次反馈时已整改完成、又再次出现的"
                f"（屡改屡犯）{t['rebound_findings']}个，反弹率{_rate(t['rebound_rate'])}。"
            )
        ]
        by_l2 = figures.rectification(self.reader, self.scope, "category_l2", cycle_median=False)
        top = by_l2.filter(pl.col("repeat_findings") > 0).sort(
            ["repeat_findings", "group_key"], descending=[True, False]
        )
        if not top.is_empty():
            blocks.append(
                Paragraph(
                    "重复问题较多的类别是"
                    + _join(
                        [
                            f"{self.l2_names.get(r['group_key'], r['group_key'])}（{r['repeat_findings']}个）"
                            for r in top.head(3).iter_rows(named=True)
                        ]
                    )
                    + "。"
                )
            )
        common = figures.common_problems(self.reader, self.scope).sort(
            ["seq", "units_found", "category_l2"], descending=[False, True, False]
        )
        if common.is_empty():
            blocks.append(
                Paragraph(
                    f"按共性问题口径（同一轮次至少{figures.COMMON_K_MIN}个且不少于被巡察单位"
                    f"{figures.COMMON_K_SHARE * 100:g}%的单位存在同一类问题），未发现共性问题。"
                )
            )
        else:
            multi = common["round_id"].n_unique() > 1
            parts = [
                f"{r['l2_name']}（{r['units_found']}个单位，占{_rate(r['unit_share'])}）"
                for r in common.head(NAMED_UNITS).iter_rows(named=True)
            ]
            blocks.append(
                Paragraph(
                    f"按共性问题口径（同一轮次至少{figures.COMMON_K_MIN}个且不少于被巡察单位"
                    f"{figures.COMMON_K_SHARE * 100:g}%的单位存在同一类问题），共有{common.height}项共性问题，"
                    f"主要是{_join(parts)}，应举一反三、在同类单位中同步整改。"
                )
            )
            columns = ["二级类别", "涉及单位数", "占被巡察单位", "问题数"]
            rows = [
                [r["l2_name"], int(r["units_found"]), r["unit_share"], int(r["findings"])]
                for r in common.iter_rows(named=True)
            ]
            formats = ["text", "int", "rate", "int"]
            if multi:
                columns = ["轮次", *columns]
                rows = [
                    [r["round_name"], *row]
                    for r, row in zip(common.iter_rows(named=True), rows, strict=True)
                ]
                formats = ["text", *formats]
            blocks.append(self.table("共性问题", columns, rows, formats=formats))
        return Section("repeats", "屡查屡犯和共性问题", 1, blocks)

    def clues(self) -> Section:
        total, persons, closed = self.clue["clues"], self.clue["persons"], self.clue["closed"]
        if total.high == 0:
            return Section("clues", "线索处置", 1, [Paragraph("所选范围内巡察未移交问题线索。")])
        head = (
            f"巡察共移交问题线索{total.text}件，涉及{persons.text}人"
            f"，截至{cn_date(self.as_of)}已办结{closed.text}件。"
        )
        if not self.clue_exact:
            # Without clue rights the totals are sums of banded counts; a breakdown by routing
            # or disposal would be another set of cells to take them apart with, so there is
            # none (xuncha.figures.disclosure).
            return Section(
                "clues",
                "线索处置",
                1,
                [
                    Paragraph(head),
                    Paragraph(
                        "注：数量按保密规则显示（每次巡察不足3件的记为“<3”，合计以区间表示）；"
                        "移交去向和处置方式的分布仅向案件办理人员提供。"
                    ),
                ],
            )
        frame = self.reader.query("clue_summary", self.scope.params())
        routing = {
            k: int(frame.filter(pl.col("routing") == k)["clues"].sum()) for k in ROUTING_ORDER
        }
        disposal = {
            k: int(frame.filter(pl.col("disposal") == k)["clues"].sum()) for k in DISPOSAL_ORDER
        }
        parts = [f"{k}{routing[k]}件" for k in ROUTING_ORDER if routing[k]]
        blocks: list[Block] = [Paragraph(head.removesuffix("。") + f"；其中{_join(parts)}。")]
        if routing["移送纪委监委"]:
            blocks.append(
                Paragraph(
                    "移送纪委监委的线索中，"
                    + "，".join(f"{k}{disposal[k]}件" for k in DISPOSAL_ORDER if disposal[k])
                    + "。"
                )
            )
        rows: list[list[Any]] = [[k, str(routing[k])] for k in ROUTING_ORDER]
        blocks.append(
            self.table(
                "问题线索移交情况",
                ["移交去向", "线索数（件）"],
                rows,
                total=["合计", total.text],
                formats=["text", "text"],
                note="仅列数量。",
            )
        )
        return Section("clues", "线索处置", 1, blocks)

    def ecology(self) -> Section:
        label = figures.ECOLOGY_LABEL
        last_seq = self.seqs[-1] if self.seqs else None
        if last_seq is None:
            return Section(
                "ecology", f"政治生态研判（{label}）", 1, [Paragraph("无可研判的巡察。")]
            )
        round_row = self.rounds[last_seq]
        round_scope = self.resolve(
            self.request.filters.with_(round_from=last_seq, round_to=last_seq)
        )
        rule = self.request.period_rule or periods.rule_for_store(self.reader.store.root)
        cards = figures.scorecards(self.reader, round_scope, self.config, rule=rule)
        units = cards.units
        blocks: list[Block] = []
        if units.is_empty():
            return Section(
                "ecology", f"政治生态研判（{label}）", 1, [Paragraph("所选轮次没有可研判的单位。")]
            )
        provisional = bool(units["provisional"].any())
        counts = dict(units.group_by("grade").len().rows())
        grade_parts = [f"{g}{counts.get(g, 0)}个" for g in GRADES]
        small = int(units["small_sample"].sum())
        blocks.append(
            Paragraph(
                f"按政治生态研判指标（{label}，{self.config_name()}），"
                f"{round_row['name']}被巡察的{units.height}个单位中，{'、'.join(grade_parts)}"
                + (
                    f"，问题少于{self.config.min_findings}个、样本不足不评等次的{small}个"
                    if small
                    else ""
                )
                + "。"
                + (
                    f"该轮整改期尚未结束，以上等次均为{PROVISIONAL}，将随整改进展变化。"
                    if provisional
                    else ""
                )
            )
        )
        trend_scope = self.resolve(self.request.filters.with_(round_from=None, round_to=last_seq))
        trend = figures.score_trend(self.reader, trend_scope, self.config, rule=rule)
        movement = figures.grade_movement(trend, int(round_row["round_id"]))
        moved = {k: movement.filter(pl.col("trend") == k) for k in TRENDS}
        better, same, worse = moved[TRENDS[0]], moved[TRENDS[1]], moved[TRENDS[2]]
        if better.height + same.height + worse.height:

            def names(frame: pl.DataFrame) -> str:
                rows = frame.sort("unit_name").iter_rows(named=True)
                listed = [
                    f"{r['unit_name']}（{r['previous_grade']}→{r['grade_label']}）" for r in rows
                ]
                head = listed[:NAMED_UNITS]
                return "：" + _join(head) + ("等" if len(listed) > NAMED_UNITS else "")

            text = (
                f"与各单位上一次被巡察时相比，等次好转的{better.height}个"
                + (names(better) if better.height else "")
                + f"；下降的{worse.height}个"
                + (names(worse) if worse.height else "")
                + f"；持平的{same.height}个。"
            )
            blocks.append(Paragraph(text))
        capped = units.filter(pl.col("capped"))
        if not capped.is_empty():
            blocks.append(
                Paragraph(
                    f"因触发封顶规则而等次受限的单位{capped.height}个，"
                    + _join(
                        [
                            f"{r['unit_name']}（{'、'.join(r['badges'])}）"
                            for r in capped.sort("unit_name")
                            .head(NAMED_UNITS)
                            .iter_rows(named=True)
                        ]
                    )
                    + ("等" if capped.height > NAMED_UNITS else "")
                    + "。"
                )
            )
        ranking = figures.peer_ranking(cards)
        trend_of = dict(movement.select("unit_id", "trend").rows())
        blocks.append(
            self.table(
                f"各单位政治生态研判等次（{label}）",
                ["同类组", "组内排名", "单位", "得分", "等次", "较上一次"],
                [
                    [
                        r["peer_group"],
                        r["peer_rank"],
                        r["unit_name"],
                        r["score"] if r["grade_label"] != SMALL_SAMPLE else None,
                        r["grade_label"],
                        trend_of.get(r["unit_id"], TRENDS[4]),
                    ]
                    for r in ranking.iter_rows(named=True)
                ],
                formats=["text", "int", "text", "number", "text", "text"],
                note="得分和等次仅供研判参考，不代替组织判断，不作为考核结论；各单位在同类组内比较。",
            )
        )
        return Section("ecology", f"政治生态研判（{label}）", 1, blocks)

    def suggestions(self) -> Section:
        written = [s.strip() for s in self.request.suggestions if s.strip()]
        blocks: list[Block] = [Paragraph(text, written=True) for text in written] or [
            Paragraph(SUGGESTIONS_PLACEHOLDER, written=True)
        ]
        return Section("suggestions", "下步工作建议", 1, blocks)

    def config_name(self) -> str:
        """The configuration as readers know it (研判配置 第N版（…修改）), never its digest."""
        return ecology_names.config_name(self.reader.store.root, self.config)

    def briefing(self) -> Briefing:
        sections = [
            self.overall(),
            self.distribution(),
            self.progress(),
            self.repeats(),
            self.clues(),
            self.ecology(),
            self.suggestions(),
        ]
        title = self.request.title or f"关于{self.period_name()}发现问题及整改情况的报告"
        return Briefing(
            title=title,
            subtitle_lines=[f"（数据截至{cn_date(self.as_of)}）", self.request.issuer],
            sections=sections,
            as_of=self.as_of.isoformat(),
            meta={
                **self.request.meta,
                "filters": self.request.filters.to_url(),
                "as_of": self.as_of.isoformat(),
                "config_digest": self.config.digest(),
                "config_name": self.config_name(),
                "config": self.config.to_dict(),
                "inspections": len(self.scope.inspection_ids),
            },
        )


def draft_briefing(
    reader: Reader,
    request: BriefingRequest,
    resolve: Callable[[Filters], Scope],
    *,
    scope_text: str = "",
    clue_details: bool = False,
) -> Briefing:
    """Draft the briefing for `request`. `resolve` turns filters into a scope with the
    reader's rights applied (pages: the session's user; command line: `--user`)."""
    briefing = _Drafter(reader, request, resolve, clue_details).briefing()
    briefing.scope_text = scope_text
    return briefing


def numbers_in(briefing: Briefing) -> list[str]:
    """Every paragraph of generated text (not the user's), for checks and previews."""
    return [
        block.text
        for section in briefing.sections
        for block in section.blocks
        if isinstance(block, Paragraph) and not block.written
    ]
