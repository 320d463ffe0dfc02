"""The rectification period (整改期) of an inspection and of a round, defined once.

Judgements of rectification — the political-ecology grades, the 整改成效评估 — are final only
for work whose rectification period has ended; before that a grade is provisional (暂评), since
it moves with every measure completed. The period of one inspection runs from its 反馈日期 to
the latest original deadline of its dated measures (the unit's own plan: a measure set for a
year keeps the period open for a year), but never shorter than the 集中整改期 (`min_months`
after 反馈, default 3) and never longer than `max_months` (default 12), so one far-off measure
cannot keep a round provisional for years, and long-term measures (长期坚持, no date) never
lengthen it. Only the measures known by the as-of date count, so a past answer never changes.

A round's period ends when the period of every one of its inspections fed back by the date
has ended: all of them, whatever the page's filters or the account's scope, so the same round
on the same date is 暂评 or final for everyone.

The two bounds live in `STORE/config/periods.toml` (`min_months`, `max_months`), read by
`rule_for_store`; without the file the defaults apply.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from xuncha.store.reader import Reader

CONFIG_FILE = Path("config") / "periods.toml"
PROVISIONAL = "暂评"  # the label of a judgement made before the period ended


class PeriodConfigError(ValueError):
    """STORE/config/periods.toml cannot be read or says something impossible (Chinese)."""


@dataclass(frozen=True)
class PeriodRule:
    """The bounds of a rectification period, in months after the 反馈日期."""

    min_months: int = 3
    max_months: int = 12

    def describe(self) -> str:
        """The definition in the words users read."""
        return (
            f"整改期：自反馈日期起，至该次巡察整改措施中最晚的原定时限（长期坚持措施除外）；"
            f"不少于 {self.min_months} 个月（集中整改期），不超过 {self.max_months} 个月。"
            "一轮巡察的整改期在其每个被巡察单位的整改期都结束后结束。"
        )


def parse_rule(raw: bytes | str, path: str = "periods.toml") -> PeriodRule:
    """A rule from the file's content, each value checked (PeriodConfigError)."""
    where = f"整改期配置文件 {path}"
    text = raw.decode("utf-8", errors="strict") if isinstance(raw, bytes) else raw
    try:
        values: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PeriodConfigError(f"{where} 不是有效的 TOML（{exc}）") from None
    unknown = sorted(set(values) - {"min_months", "max_months"})
    if unknown:
        raise PeriodConfigError(
            f"{where} 中有无法识别的项 {'、'.join(unknown)}（可用：min_months、max_months）"
        )
    default = PeriodRule()
    months = {}
    for key in ("min_months", "max_months"):
        value = values.get(key, getattr(default, key))
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
            raise PeriodConfigError(
                f"{where}：{key} 应为 1 到 60 之间的整数（月），收到：{value!r}"
            )
        months[key] = value
    if months["min_months"] > months["max_months"]:
        raise PeriodConfigError(
            f"{where}：min_months（{months['min_months']}）不能大于 max_months"
            f"（{months['max_months']}）"
        )
    return PeriodRule(**months)


def rule_for_store(store_root: str | os.PathLike[str]) -> PeriodRule:
    """The store's rule (STORE/config/periods.toml), or the defaults when there is none."""
    path = Path(store_root) / CONFIG_FILE
    if not path.is_file():
        return PeriodRule()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PeriodConfigError(f"无法读取整改期配置文件 {path}（{exc.strerror}）") from None
    try:
        return parse_rule(raw, str(path))
    except UnicodeDecodeError:
        raise PeriodConfigError(f"整改期配置文件 {path} 不是 UTF-8 编码的文本") from None


def inspection_periods(
    reader: Reader,
    inspection_ids: list[int] | None,
    as_of: dt.date,
    rule: PeriodRule | None = None,
) -> pl.DataFrame:
    """One row per inspection fed back by `as_of` of every round with an inspection among
    `inspection_ids` (None: all): queries/rectification_periods.sql's columns (in_scope,
    period_end, finished, …)."""
    rule = rule or PeriodRule()
    return reader.query(
        "rectification_periods",
        {
            "inspection_ids": inspection_ids,
            "as_of": as_of,
            "min_months": rule.min_months,
            "max_months": rule.max_months,
        },
    )


def round_periods(
    reader: Reader,
    inspection_ids: list[int] | None,
    as_of: dt.date,
    rule: PeriodRule | None = None,
) -> pl.DataFrame:
    """One row per round with an inspection among `inspection_ids` fed back by `as_of`:
    round_id, inspections (all of the round's fed back by the date), period_end (the latest of
    theirs), finished (every one of them finished by the date) and status_label (PROVISIONAL
    while not finished, else None)."""
    return rounds_of(inspection_periods(reader, inspection_ids, as_of, rule))


def rounds_of(per_inspection: pl.DataFrame) -> pl.DataFrame:
    """round_periods' rows from inspection_periods' (each round over all its inspections)."""
    return (
        per_inspection.group_by("round_id")
        .agg(
            pl.len().alias("inspections"),
            pl.col("period_end").max().alias("period_end"),
            pl.col("finished").all().alias("finished"),
        )
        .with_columns(
            pl.when(pl.col("finished"))
            .then(pl.lit(None, pl.String))
            .otherwise(pl.lit(PROVISIONAL))
            .alias("status_label")
        )
        .sort("round_id")
    )


def finished_rounds(
    reader: Reader,
    inspection_ids: list[int] | None,
    as_of: dt.date,
    rule: PeriodRule | None = None,
) -> frozenset[int]:
    """The ids of the rounds in scope whose rectification period had ended by `as_of`."""
    rounds = round_periods(reader, inspection_ids, as_of, rule)
    return frozenset(int(r) for r in rounds.filter(pl.col("finished"))["round_id"].to_list())
