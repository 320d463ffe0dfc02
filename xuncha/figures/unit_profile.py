"""单位全景: one unit across rounds, composed from the figures every other page shows.

Nothing here defines a figure: the rectification rates are `rectification(by="round")` on a
scope narrowed to the unit, the findings by category the 问题分布 heatmap's query, the repeats
the 屡查屡犯 chains, the ecology grades rows of `score_trend` (computed, as on 政治生态, on the
whole scope so that each unit is compared with its peer group), the 整改成效评估 grades rows of
`xuncha.evaluation.grades` (passed in: figures never import the evaluation), clue counts
through `disclosure` and the 督办 list the 整改进度 query. The page only lays them out.

Which units a reader may open is `visible_units`: every unit for an unscoped reader, else the
units of its scope that were inspected in its rounds.
"""

from __future__ import annotations

import dataclasses

import polars as pl

from xuncha.auth import Access, scope_ids
from xuncha.figures import disclosure, periods
from xuncha.figures.rectification import rectification
from xuncha.filters import Scope
from xuncha.store.reader import Reader

REFUSED = "无权查看该单位，或该单位不存在。"


def visible_units(reader: Reader, access: Access | None) -> pl.DataFrame:
    """The units `access` may open (None: the system, every unit): units_list's rows, less
    those outside its units and, for a reader confined to rounds, those its rounds did not
    inspect."""
    units = reader.query("units_list")
    if access is None:
        return units
    round_ids, unit_ids = scope_ids(reader, access)
    if unit_ids is not None:
        units = units.filter(pl.col("unit_id").is_in(list(unit_ids)))
    if round_ids is not None:
        inspected = reader.query("inspections_list").filter(
            pl.col("round_id").is_in(list(round_ids))
        )["unit_id"]
        units = units.filter(pl.col("unit_id").is_in(inspected.implode()))
    return units


def inspections(reader: Reader, scope: Scope, rule: periods.PeriodRule) -> pl.DataFrame:
    """The unit's inspections in `scope` (narrowed to the unit) begun by the date, oldest
    first: round, kind, group, 进驻 dates, 反馈日期, and the 整改期 of the inspection and of
    its round (periods: end, ended by the date)."""
    begun = reader.query(
        "revisit_inspections", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of}
    )
    if begun.is_empty():
        return begun.select("inspection_id", "round_id", "round_name", "seq", "kind")
    groups = reader.query("inspections_list").select("inspection_id", "group_name", "entry_end")
    ids = begun["inspection_id"].to_list()
    per_inspection = periods.inspection_periods(reader, ids, scope.as_of, rule)
    rounds = periods.rounds_of(per_inspection).select(
        "round_id",
        pl.col("period_end").alias("round_period_end"),
        pl.col("finished").alias("round_finished"),
    )
    mine = per_inspection.filter(pl.col("in_scope")).select(
        "inspection_id", "period_end", "finished"
    )
    return (
        begun.join(groups, on="inspection_id", how="left")
        .join(mine, on="inspection_id", how="left")
        .join(rounds, on="round_id", how="left")
        .sort("seq")
        .select(
            "inspection_id",
            "round_id",
            "round_name",
            "seq",
            "kind",
            "group_name",
            "entry_start",
            "entry_end",
            "feedback_date",
            "fed_back",
            "period_end",
            "finished",
            "round_period_end",
            "round_finished",
        )
    )


def findings_by_l1(reader: Reader, scope: Scope, inspected: pl.DataFrame) -> pl.DataFrame:
    """Findings per round and level-1 category: the 问题分布 heatmap's query
    (findings_by_unit_category, level 1) on each of the unit's inspections. Long form: round_id,
    round_name, seq, category, category_name, findings."""
    frames = []
    for row in inspected.iter_rows(named=True):
        one = dataclasses.replace(scope, inspection_ids=(int(row["inspection_id"]),))
        cells = reader.query("findings_by_unit_category", one.params(level=1))
        frames.append(
            cells.select(
                pl.lit(row["round_id"], pl.Int64).alias("round_id"),
                pl.lit(row["round_name"]).alias("round_name"),
                pl.lit(row["seq"], pl.Int64).alias("seq"),
                "category",
                "category_name",
                pl.col("findings").cast(pl.Int64),
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={
                "round_id": pl.Int64,
                "round_name": pl.String,
                "seq": pl.Int64,
                "category": pl.String,
                "category_name": pl.String,
                "findings": pl.Int64,
            }
        )
    return pl.concat(frames).sort("seq", "category")


def findings_table(by_l1: pl.DataFrame) -> pl.DataFrame:
    """findings_by_l1 as a table: one row per round (round_name), a column per category
    (its name), 合计 last; zeros where a round had none of a category."""
    if by_l1.is_empty():
        return pl.DataFrame(schema={"round_name": pl.String, "合计": pl.Int64})
    names = by_l1.select("category", "category_name").unique().sort("category")
    wide = by_l1.pivot(
        on="category_name", index=["seq", "round_name"], values="findings", aggregate_function="sum"
    ).sort("seq")
    columns = [n for n in names["category_name"].to_list() if n in wide.columns]
    return wide.select(
        "round_name",
        *(pl.col(c).fill_null(0) for c in columns),
        pl.sum_horizontal(*(pl.col(c).fill_null(0) for c in columns)).alias("合计"),
    )


def rectification_by_round(reader: Reader, scope: Scope) -> pl.DataFrame:
    """`rectification(by="round")` on the unit's scope: the rates as every page defines them."""
    return rectification(reader, scope, "round", cycle_median=False)


def repeat_chains(reader: Reader, scope: Scope) -> pl.DataFrame:
    """The 屡查屡犯 chains of the unit (each level-2 category found in two or more rounds, 反弹
    marked), all of them, in the 屡查屡犯 page's order."""
    return reader.query("repeat_chains", scope.params(limit=None))


def ecology_rows(trend: pl.DataFrame, unit_id: int) -> pl.DataFrame:
    """The unit's rows of `score_trend` (each round scored within its peer group), oldest
    first."""
    return trend.filter(pl.col("unit_id") == unit_id).sort("seq")


def peer_rows(trend: pl.DataFrame, round_id: int, peer_group: str) -> pl.DataFrame:
    """The units of a peer group in one round of `score_trend`, by rank (样本不足 last): the
    unit's neighbours, each a link to its own page."""
    return trend.filter(
        (pl.col("round_id") == round_id) & (pl.col("peer_group") == peer_group)
    ).sort("peer_rank", "unit_name", nulls_last=True)


def evaluation_rows(grades: pl.DataFrame, unit_id: int) -> pl.DataFrame:
    """The unit's rows of the 整改成效评估 `grades` (one per round it was evaluated in)."""
    return grades.filter(pl.col("unit_id") == unit_id).sort("round_id")


def clues_by_round(reader: Reader, scope: Scope) -> pl.DataFrame:
    """The unit's clue counts per round as this scope's reader may see them: exact with clue
    rights, else the bands of disclosure control. round_id, clues, persons (text)."""
    cells = disclosure.cells(reader, scope)
    rows = []
    for part in cells.partition_by("round_id", maintain_order=True):
        shown = {
            f: disclosure.shown(part[f].to_list(), f, clue_details=scope.clue_details)
            for f in disclosure.FIXED
        }
        rows.append(
            {
                "round_id": int(part["round_id"][0]),
                "clues": shown["clues"].text,
                "persons": shown["persons"].text,
            }
        )
    return pl.DataFrame(
        rows, schema={"round_id": pl.Int64, "clues": pl.String, "persons": pl.String}
    )


def supervision(reader: Reader, scope: Scope, limit: int | None) -> pl.DataFrame:
    """The unit's 督办 list as of the date (open measures with a dated deadline, most overdue
    first): the 整改进度 督办清单's query."""
    return reader.query("measures_supervision", scope.params(kinds=None, limit=limit))
