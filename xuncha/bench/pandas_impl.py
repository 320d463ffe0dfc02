"""The same questions in pandas, on frames held in memory (the competitor an analyst would
write). The frames are loaded from the store through Arrow (dates as datetime64, status and
category codes as pandas categoricals, nullable booleans as 0/1/NaN) — loading is timed and
reported but not counted. pandas is a development dependency: imported here only.
"""

from __future__ import annotations

import time
from typing import Any

import duckdb
import polars as pl

from xuncha.bench.questions import (
    COMPLETION_COUNTS,
    COMPLETION_RATES,
    QUESTIONS,
    RATE_PARTS,
    REPEAT_RATES,
    TREND_RATES,
    Ask,
    normalise,
    rate_values,
)

_FT = (
    "SELECT finding_id, inspection_id, round_id, unit_id, category_l1, category_l2,"
    " valid_from, valid_to, status, earliest_open_deadline, is_repeat, is_rebound"
    " FROM finding_timeline"
)
_MT = (
    "SELECT measure_id, finding_id, inspection_id, round_id, unit_id, category_l1, category_l2,"
    " valid_from, valid_to, status, deadline, on_time_original::TINYINT AS on_time_original,"
    " on_time_current::TINYINT AS on_time_current FROM measure_timeline"
)
_FINDINGS = "SELECT finding_id, title, coalesce(detail, '') AS detail FROM findings"
_CATEGORICAL = ("category_l1", "category_l2", "status")
_GROUP = {"unit": "unit_id", "round": "round_id"}


class PandasImpl:
    def __init__(self, duck: duckdb.DuckDBPyConnection) -> None:
        import pandas as pd

        self.pd = pd
        started = time.perf_counter()
        self.ft = self._frame(duck, _FT)
        self.mt = self._frame(duck, _MT)
        self.findings = self._frame(duck, _FINDINGS).set_index("finding_id")
        self.load_s = time.perf_counter() - started

    def _frame(self, duck: duckdb.DuckDBPyConnection, sql: str) -> Any:
        frame = duck.sql(sql).to_arrow_table().to_pandas(date_as_object=False)
        for column in _CATEGORICAL:
            if column in frame.columns:
                frame[column] = frame[column].astype("category")
        return frame

    # -- scope ---------------------------------------------------------------------------

    def _in_scope(self, frame: Any, ask: Ask) -> Any:
        as_of = self.pd.Timestamp(ask.as_of)
        mask = frame["inspection_id"].isin(ask.inspection_ids)
        if ask.category_l1:
            mask &= frame["category_l1"].isin(ask.category_l1)
        if ask.category_l2:
            mask &= frame["category_l2"].isin(ask.category_l2)
        mask &= frame["valid_from"] <= as_of
        mask &= frame["valid_to"].isna() | (frame["valid_to"] > as_of)
        return frame.loc[mask]

    # -- questions -----------------------------------------------------------------------

    def answer(self, key: str, ask: Ask) -> pl.DataFrame:
        question = QUESTIONS[key]
        if key == "distribution":
            f = self._in_scope(self.ft, ask)
            out = (
                f.groupby(["unit_id", "category_l1"], observed=True)
                .size()
                .rename("findings")
                .reset_index()
                .rename(columns={"category_l1": "category"})
            )
            out["category"] = out["category"].astype(str)
        elif key == "text_search":
            out = self._text_search(ask)
        elif key in {"completion_overall", "completion_by_unit", "completion_by_round"}:
            group = {"completion_overall": "all", "completion_by_unit": "unit"}.get(key, "round")
            out = self._completion(ask, group)
        elif key == "trend_by_round":
            out = self._findings_only(ask, "round", TREND_RATES)
        elif key == "repeats_by_unit":
            out = self._findings_only(ask, "unit", REPEAT_RATES)
        else:
            raise KeyError(key)
        return normalise(question, pl.from_pandas(out))

    def _finding_counts(self, f: Any, ask: Ask, gid: Any) -> Any:
        pd = self.pd
        as_of = pd.Timestamp(ask.as_of)
        status = f["status"]
        counts = pd.DataFrame(
            {
                "gid": gid,
                "findings": 1,
                "findings_done": status.eq("DONE"),
                "findings_basically_done": status.eq("BASICALLY_DONE"),
                "findings_open": status.eq("OPEN"),
                "overdue_findings": f["earliest_open_deadline"].lt(as_of),
                "repeat_findings": f["is_repeat"].astype(bool),
                "rebound_findings": f["is_rebound"].astype(bool),
            }
        )
        agg = counts.groupby("gid", sort=False).sum()
        by = f.groupby(gid, sort=False)
        agg["units"] = by["unit_id"].nunique()
        agg["inspections"] = by["inspection_id"].nunique()
        return agg

    def _gid(self, frame: Any, group: str) -> Any:
        if group == "all":
            return self.pd.Series("all", index=frame.index)
        return frame[_GROUP[group]]

    def _completion(self, ask: Ask, group: str) -> Any:
        pd = self.pd
        as_of = pd.Timestamp(ask.as_of)
        f = self._in_scope(self.ft, ask)
        m = self._in_scope(self.mt, ask)
        fa = self._finding_counts(f, ask, self._gid(f, group))
        status = m["status"]
        open_ = status.ne("DONE")
        done = ~open_
        deadline = m["deadline"]
        mc = pd.DataFrame(
            {
                "gid": self._gid(m, group),
                "measures": 1,
                "measures_done": done,
                "measures_phased": status.eq("PHASED"),
                "measures_in_progress": status.eq("IN_PROGRESS"),
                "measures_not_done": status.eq("NOT_DONE"),
                "measures_long_term": open_ & (deadline.isna() | status.eq("LONG_TERM")),
                "overdue_measures": open_ & deadline.lt(as_of),
                "measures_not_due": open_ & deadline.ge(as_of),
                "completed_with_deadline": done & m["on_time_original"].notna(),
                "on_time_original": m["on_time_original"].eq(1),
                "completed_with_current_deadline": done & m["on_time_current"].notna(),
                "on_time_current": m["on_time_current"].eq(1),
            }
        )
        ma = mc.groupby("gid", sort=False).sum()
        joined = fa.join(ma, how="left").fillna(0)
        joined = joined[COMPLETION_COUNTS].astype("int64")
        self._add_rates(joined, COMPLETION_RATES)
        return self._keyed(joined, group)

    def _findings_only(self, ask: Ask, group: str, rates: list[str]) -> Any:
        f = self._in_scope(self.ft, ask)
        agg = self._finding_counts(f, ask, self._gid(f, group)).astype("int64")
        self._add_rates(agg, rates)
        return self._keyed(agg, group)

    def _add_rates(self, frame: Any, keys: list[str]) -> None:
        for key in keys:
            numerator, denominator = RATE_PARTS[key]
            num = sum(frame[c] for c in numerator)
            den = frame[denominator]
            frame[key] = rate_values(num, den.where(den > 0)).astype("float64")

    def _keyed(self, frame: Any, group: str) -> Any:
        out = frame.reset_index()
        name = "group" if group == "all" else _GROUP[group]
        return out.rename(columns={"gid": name})

    def _text_search(self, ask: Ask) -> Any:
        f = self._in_scope(self.ft, ask)
        texts = self.findings.loc[f["finding_id"]]
        hit = (
            texts["title"].str.contains(ask.text, regex=False).to_numpy()
            | texts["detail"].str.contains(ask.text, regex=False).to_numpy()
        )
        return f.loc[hit, ["finding_id"]].sort_values("finding_id")
