"""共性问题, repeat chains, the progress curve, the measure lists and similar findings equal
independent computations of DOMAIN.md §5.

The expectations are computed here in plain Python from the BASE tables only (rounds, units,
inspections, findings, measures, measure_status_history, measure_deadline_history), never
from the derived `measure_timeline`, `finding_timeline` or `finding_repeats` tables that the
named queries read. The rules, taken literally from DOMAIN.md §5 and the brief:

- nothing is in scope before its inspection's 反馈日期;
- a measure's status as of t is the last status record dated on or before t (on the same
  date the higher history_id wins); a measure with no record yet is not in scope;
- a measure's deadline as of t is the last deadline record in effect on or before t (same
  rule for ties; NULL means 长期坚持), else its original deadline;
- a finding is DONE when all its in-scope measures are DONE, BASICALLY_DONE when all are
  DONE / PHASED / LONG_TERM, else OPEN (also OPEN with no measure recorded yet);
- 重复: the same unit and L2 found in a round with a smaller seq; 反弹: such an earlier
  finding was DONE as of this finding's 反馈日期. 反弹 is a property of the finding (§5 says
  "a finding … whose L2 category was also found at u in an earlier round"), so the earlier
  finding is looked for among ALL findings, whatever the filters.

Hand-built stores then pin the tricky cases to numbers worked out by hand.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.builders import StoreBuilder
from tests.test_figures_independent import half_up_rate
from xuncha import figures
from xuncha.filters import Filters, Scope, resolve_scope
from xuncha.store import Reader, Store, open_reader

DONE_OR_BASIC = frozenset({"DONE", "PHASED", "LONG_TERM"})
BIG_LIMIT = 1_000_000

# -- the base tables, in plain Python --------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    finding_id: int
    inspection_id: int
    round_id: int
    unit_id: int
    seq: int
    feedback: dt.date
    l1: str
    l2: str | None
    title: str
    detail: str | None


@dataclass(frozen=True)
class Measure:
    measure_id: int
    finding_id: int
    deadline_original: dt.date | None
    # (status_date, history_id, status), sorted
    statuses: tuple[tuple[dt.date, int, str], ...]
    # (effective_date, history_id, deadline, reason), sorted
    deadlines: tuple[tuple[dt.date, int, dt.date | None, str | None], ...]


@dataclass
class Base:
    rounds: dict[int, tuple[str, str | None, int]]  # round_id → (name, term, seq)
    units: dict[int, tuple[str, str, str]]  # unit_id → (name, short_name, peer_group)
    inspections: dict[int, tuple[int, int, dt.date]]  # → (round_id, unit_id, feedback)
    findings: dict[int, Finding]
    measures: dict[int, Measure]
    measures_of: dict[int, list[int]] = field(default_factory=dict)
    _status_cache: dict[tuple[int, dt.date], str] = field(default_factory=dict)
    _same_unit_and_l2: dict[tuple[int, str | None], list[Finding]] = field(
        default_factory=lambda: defaultdict(list)
    )

    # A measure's status as of a day: the last record on or before it; None: not in scope.
    def measure_status(self, measure_id: int, day: dt.date) -> str | None:
        status = None
        for status_date, _, value in self.measures[measure_id].statuses:
            if status_date <= day:
                status = value
        return status

    # The deadline as of a day and the record in force (None: the original deadline holds).
    def measure_deadline(
        self, measure_id: int, day: dt.date
    ) -> tuple[dt.date | None, tuple[dt.date, int, dt.date | None, str | None] | None]:
        measure = self.measures[measure_id]
        in_force = None
        for record in measure.deadlines:
            if record[0] <= day:
                in_force = record
        if in_force is None:
            return measure.deadline_original, None
        return in_force[2], in_force

    def finding_status(self, finding_id: int, day: dt.date) -> str:
        key = (finding_id, day)
        if key not in self._status_cache:
            statuses = [
                s
                for m in self.measures_of.get(finding_id, [])
                if (s := self.measure_status(m, day)) is not None
            ]
            if statuses and all(s == "DONE" for s in statuses):
                status = "DONE"
            elif statuses and all(s in DONE_OR_BASIC for s in statuses):
                status = "BASICALLY_DONE"
            else:
                status = "OPEN"
            self._status_cache[key] = status
        return self._status_cache[key]

    def in_scope(self, scope: Scope, day: dt.date | None = None) -> list[Finding]:
        """Findings passing the filters and fed back on or before the day (default as_of)."""
        day = day or scope.as_of
        inspections = set(scope.inspection_ids)
        return [
            f
            for f in self.findings.values()
            if f.inspection_id in inspections
            and (not scope.category_l1 or f.l1 in scope.category_l1)
            and (not scope.category_l2 or f.l2 in scope.category_l2)
            and f.feedback <= day
        ]

    def is_rebound(self, finding: Finding) -> bool:
        """An earlier-round finding of the same unit and L2 (any, in scope or not) was DONE
        as of this finding's 反馈日期."""
        if not self._same_unit_and_l2:
            for f in self.findings.values():
                self._same_unit_and_l2[(f.unit_id, f.l2)].append(f)
        return any(
            e.seq < finding.seq
            and e.feedback <= finding.feedback
            and self.finding_status(e.finding_id, finding.feedback) == "DONE"
            for e in self._same_unit_and_l2[(finding.unit_id, finding.l2)]
        )


def load_base(con: duckdb.DuckDBPyConnection) -> Base:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return con.execute(sql).fetchall()

    rounds = {
        r: (name, term, seq)
        for r, name, term, seq in rows("SELECT round_id, name, term, seq FROM rounds")
    }
    units = {
        u: (name, short, peer)
        for u, name, short, peer in rows("SELECT unit_id, name, short_name, peer_group FROM units")
    }
    inspections = {
        i: (r, u, fb)
        for i, r, u, fb in rows(
            "SELECT inspection_id, round_id, unit_id, feedback_date FROM inspections"
        )
    }
    findings = {}
    for fid, iid, l1, l2, title, detail in rows(
        "SELECT finding_id, inspection_id, category_l1, category_l2, title, detail FROM findings"
    ):
        round_id, unit_id, feedback = inspections[iid]
        findings[fid] = Finding(
            fid, iid, round_id, unit_id, rounds[round_id][2], feedback, l1, l2, title, detail
        )
    statuses: dict[int, list[tuple[dt.date, int, str]]] = defaultdict(list)
    for mid, hid, status, day in rows(
        "SELECT measure_id, history_id, status, status_date FROM measure_status_history"
    ):
        statuses[mid].append((day, hid, status))
    deadlines: dict[int, list[tuple[dt.date, int, dt.date | None, str | None]]] = defaultdict(list)
    for mid, hid, deadline, day, reason in rows(
        "SELECT measure_id, history_id, deadline, effective_date, reason"
        " FROM measure_deadline_history"
    ):
        deadlines[mid].append((day, hid, deadline, reason))
    measures = {}
    measures_of: dict[int, list[int]] = defaultdict(list)
    for mid, fid, original in rows(
        "SELECT measure_id, finding_id, deadline_original FROM measures"
    ):
        measures[mid] = Measure(
            mid, fid, original, tuple(sorted(statuses[mid])), tuple(sorted(deadlines[mid]))
        )
        measures_of[fid].append(mid)
    return Base(rounds, units, inspections, findings, measures, dict(measures_of))


def rows_by(frame: Any, *keys: str) -> dict[Any, dict[str, Any]]:
    out = {}
    for row in frame.to_dicts():
        key = tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]
        assert key not in out, f"two rows for {key}"
        out[key] = row
    return out


def compare(got: dict[Any, dict[str, Any]], want: dict[Any, dict[str, Any]]) -> list[str]:
    problems = []
    for key in sorted(set(got) | set(want), key=repr):
        if key not in want:
            problems.append(f"{key}: returned by the query, not by the definition")
        elif key not in got:
            problems.append(f"{key}: required by the definition, missing from the query")
        else:
            for column, value in want[key].items():
                if got[key][column] != value:
                    problems.append(f"{key} {column}: query {got[key][column]!r} ≠ {value!r}")
    return problems


def half_up(value: Fraction, places: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
            Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP
        )


# -- the independent definitions ---------------------------------------------------------------


def expected_common(
    base: Base, scope: Scope, k_min: int, k_share: float
) -> dict[tuple[int, str], dict[str, Any]]:
    """共性问题: k = max(k_min, ⌈k_share × units of the round in scope fed back by t⌉), with
    the share taken as the decimal the user wrote (0.3 is 30%, exactly)."""
    inspected: dict[int, set[int]] = defaultdict(set)
    for iid in scope.inspection_ids:
        round_id, unit_id, feedback = base.inspections[iid]
        if feedback <= scope.as_of:
            inspected[round_id].add(unit_id)
    groups: dict[tuple[int, str], list[Finding]] = defaultdict(list)
    for f in base.in_scope(scope):
        if f.l2 is not None:
            groups[(f.round_id, f.l2)].append(f)
    share = Fraction(str(k_share))
    out = {}
    for (round_id, l2), found in groups.items():
        units = {f.unit_id for f in found}
        n = len(inspected[round_id])
        threshold = max(k_min, math.ceil(share * n))
        if len(units) >= threshold:
            out[(round_id, l2)] = {
                "round_name": base.rounds[round_id][0],
                "seq": base.rounds[round_id][2],
                "category_l1": found[0].l1,
                "units_found": len(units),
                "units_inspected": n,
                "threshold": threshold,
                "unit_share": float(half_up(Fraction(100 * len(units), n), 2)),
                "findings": len(found),
                "unit_names": sorted(base.units[u][1] for u in units),
            }
    return out


def product_common(
    reader: Reader, scope: Scope, k_min: int | None, k_share: float | None
) -> dict[tuple[int, str], dict[str, Any]]:
    got = rows_by(figures.common_problems(reader, scope, k_min, k_share), "round_id", "category_l2")
    for row in got.values():
        row["unit_names"] = sorted(row["unit_names"].split("、"))
    return got


def round_label(base: Base, round_id: int) -> str:
    """How a chain names a round: term + the 第X轮 part of its name, else its whole name."""
    name, term, _ = base.rounds[round_id]
    match = re.search("第.+?轮", name)
    return (term or "") + (match.group(0) if match else name)


def expected_chains(base: Base, scope: Scope) -> dict[tuple[int, str], dict[str, Any]]:
    groups: dict[tuple[int, str], list[Finding]] = defaultdict(list)
    for f in base.in_scope(scope):
        if f.l2 is not None:
            groups[(f.unit_id, f.l2)].append(f)
    out = {}
    for (unit_id, l2), found in groups.items():
        seqs = sorted({f.seq for f in found})
        if len(seqs) < 2:
            continue
        ordered = sorted(found, key=lambda f: (f.seq, f.finding_id))
        rebound_seqs = {f.seq for f in found if base.is_rebound(f)}
        by_seq = {f.seq: f.round_id for f in found}
        out[(unit_id, l2)] = {
            "unit_name": base.units[unit_id][1],
            "peer_group": base.units[unit_id][2],
            "round_count": len(seqs),
            "findings": len(found),
            "finding_ids": [f.finding_id for f in ordered],
            "rebound_rounds": len(rebound_seqs),
            "open_findings": sum(
                base.finding_status(f.finding_id, scope.as_of) != "DONE" for f in found
            ),
            "chain": " → ".join(
                round_label(base, by_seq[s]) + ("（反弹）" if s in rebound_seqs else "")
                for s in seqs
            ),
        }
    return out


def product_chains(reader: Reader, scope: Scope) -> dict[tuple[int, str], dict[str, Any]]:
    frame = reader.query("repeat_chains", scope.params(limit=BIG_LIMIT))
    assert frame.height == 0 or frame["total"][0] == frame.height
    return rows_by(frame, "unit_id", "category_l2")


def expected_curve(base: Base, scope: Scope, day: int) -> dict[int, dict[str, int]]:
    """Per round: findings fed back at least `day` days before as_of, and of those the ones
    DONE / BASICALLY_DONE on 反馈日期 + day, brute force."""
    out: dict[int, dict[str, int]] = {}
    for f in base.in_scope(scope):
        row = out.setdefault(
            f.round_id, {"findings": 0, "findings_done": 0, "findings_basically_done": 0}
        )
        on = f.feedback + dt.timedelta(days=day)
        if on > scope.as_of:
            continue
        row["findings"] += 1
        status = base.finding_status(f.finding_id, on)
        row["findings_done"] += status == "DONE"
        row["findings_basically_done"] += status == "BASICALLY_DONE"
    return out


def expected_grid(base: Base, scope: Scope, step: int) -> dict[int, list[int]]:
    """The days of each round's curve: 0, step, … up to the day its last-fed-back findings
    have reached by as_of (the shortest time observed), and that day."""
    shortest: dict[int, int] = {}
    for f in base.in_scope(scope):
        days = (scope.as_of - f.feedback).days
        shortest[f.round_id] = min(shortest.get(f.round_id, days), days)
    return {r: sorted({*range(0, last + 1, step), last}) for r, last in shortest.items()}


def measures_in_scope(
    base: Base, scope: Scope
) -> Iterator[tuple[Finding, Measure, str, dt.date | None, Any]]:
    for f in base.in_scope(scope):
        for mid in base.measures_of.get(f.finding_id, []):
            status = base.measure_status(mid, scope.as_of)
            if status is None:
                continue
            deadline, record = base.measure_deadline(mid, scope.as_of)
            yield f, base.measures[mid], status, deadline, record


def measure_row(base: Base, f: Finding, status: str, deadline: dt.date | None) -> dict[str, Any]:
    return {
        "finding_id": f.finding_id,
        "round_name": base.rounds[f.round_id][0],
        "unit_name": base.units[f.unit_id][1],
        "title": f.title,
        "status": status,
        "deadline": deadline,
    }


def expected_long_term(base: Base, scope: Scope) -> dict[int, dict[str, Any]]:
    return {
        m.measure_id: measure_row(base, f, status, deadline) | {"category_l2": f.l2}
        for f, m, status, deadline, _ in measures_in_scope(base, scope)
        if status != "DONE" and (deadline is None or status == "LONG_TERM")
    }


def expected_extended(base: Base, scope: Scope) -> dict[int, dict[str, Any]]:
    out = {}
    for f, m, status, deadline, record in measures_in_scope(base, scope):
        if deadline == m.deadline_original:
            continue
        out[m.measure_id] = measure_row(base, f, status, deadline) | {
            "deadline_original": m.deadline_original,
            "extension_days": (
                None
                if deadline is None or m.deadline_original is None
                else (deadline - m.deadline_original).days
            ),
            "changed_on": record[0] if record else None,
            "reason": record[3] if record else None,
        }
    return out


def warning(deadline: dt.date, as_of: dt.date) -> str:
    left = (deadline - as_of).days
    return "红" if left < 0 else "黄" if left <= 10 else "绿" if left <= 20 else ""


def expected_supervision(base: Base, scope: Scope) -> dict[int, dict[str, Any]]:
    return {
        m.measure_id: measure_row(base, f, status, deadline)
        | {
            "category_l2": f.l2,
            "deadline_original": m.deadline_original,
            "days_overdue": (scope.as_of - deadline).days,
            "warning": warning(deadline, scope.as_of),
        }
        for f, m, status, deadline, _ in measures_in_scope(base, scope)
        if status != "DONE" and deadline is not None
    }


def measure_list(reader: Reader, name: str, scope: Scope, **extra: Any) -> Any:
    return reader.query(name, scope.params(**extra))


def colour_counts(rows: dict[int, dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(("红", "黄", "绿", ""), 0)
    for row in rows.values():
        counts[row["warning"]] += 1
    return counts


def normalise(text: str) -> str:
    """具体问题 + 具体表现 without whitespace, punctuation, symbols and digits."""
    return "".join(
        ch
        for ch in text
        if not (
            ch.isspace() or unicodedata.category(ch)[0] in "PSZ" or unicodedata.category(ch) == "Nd"
        )
    )


def bigrams(finding: Finding) -> frozenset[str]:
    text = normalise(finding.title + (finding.detail or ""))
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> Fraction:
    union = len(a | b)
    return Fraction(len(a & b), union) if union else Fraction(0)


def expected_similar(
    base: Base, scope: Scope, min_similarity: float, unit_id: int | None = None
) -> dict[tuple[int, int], dict[str, Any]]:
    """Every pair of one unit, different rounds (earlier first), different L2, at least
    min_similarity, with the similarity rounded to three decimals."""
    by_unit: dict[int, list[Finding]] = defaultdict(list)
    for f in base.in_scope(replace(scope, category_l1=None, category_l2=None)):
        if unit_id is None or f.unit_id == unit_id:
            by_unit[f.unit_id].append(f)
    least = Fraction(str(min_similarity))
    out = {}
    for unit, found in by_unit.items():
        grams = {f.finding_id: bigrams(f) for f in found}
        for a in found:
            for b in found:
                if a.seq >= b.seq or a.l2 == b.l2:
                    continue
                similarity = jaccard(grams[a.finding_id], grams[b.finding_id])
                if similarity >= least:
                    out[(a.finding_id, b.finding_id)] = {
                        "unit_id": unit,
                        "round_a": base.rounds[a.round_id][0],
                        "round_b": base.rounds[b.round_id][0],
                        "category_a": a.l2,
                        "category_b": b.l2,
                        "similarity": float(half_up(similarity, 3)),
                    }
    return out


def product_similar(
    reader: Reader, scope: Scope, min_similarity: float, unit_id: int | None = None
) -> dict[tuple[int, int], dict[str, Any]]:
    frame = reader.query(
        "similar_findings",
        scope.params(unit_id=unit_id, min_similarity=min_similarity, limit=BIG_LIMIT),
    )
    return rows_by(frame, "finding_a", "finding_b")


# -- the demo city: several scopes, several dates ---------------------------------------------

FILTERS = {
    "all": Filters(),
    "peer_group": Filters(peer_groups=("乡镇街道",)),
    "category_l1": Filters(category_l1=("B",)),
    "round_range": Filters(round_from=3, round_to=7),
    "category_l2": Filters(category_l2=("B03", "C03", "C05")),
}
AS_OF_DATES = (
    dt.date(2021, 6, 30),
    dt.date(2023, 12, 31),
    dt.date(2025, 6, 30),
    dt.date(2026, 11, 20),
)
# Mid-way through the feedback of round 7 (2024-06-23 … 07-28): some of its units are not
# yet inspected as of this date.
PARTIAL_ROUND_DATE = dt.date(2024, 7, 10)
# (k_min, k_share); None, None: the defaults of DOMAIN.md §5, max(3, 30%).
K_RULES = ((None, None), (2, 0.15), (4, 0.5))
CURVE_DAYS = (0, 1, 30, 90, 180, 365, 400)


@pytest.fixture(scope="module")
def demo(demo_store: Store) -> Iterator[tuple[Reader, Base]]:
    reader = open_reader(demo_store)
    con = demo_store.connect()
    try:
        base = load_base(con)
    finally:
        con.close()
    yield reader, base
    reader.close()


def demo_scope(reader: Reader, filter_name: str, as_of: dt.date) -> Scope:
    return resolve_scope(reader, FILTERS[filter_name].with_(as_of=as_of))


@pytest.mark.parametrize("k", K_RULES, ids=lambda k: f"k={k[0]},{k[1]}")
@pytest.mark.parametrize("as_of", [*AS_OF_DATES, PARTIAL_ROUND_DATE], ids=str)
@pytest.mark.parametrize("filter_name", ["all", "peer_group", "category_l1", "round_range"])
def test_common_problems_of_the_demo_are_the_categories_found_in_at_least_k_units_of_a_round(
    demo: tuple[Reader, Base], filter_name: str, as_of: dt.date, k: tuple[Any, Any]
) -> None:
    reader, base = demo
    scope = demo_scope(reader, filter_name, as_of)
    k_min, k_share = k
    want = expected_common(
        base,
        scope,
        figures.COMMON_K_MIN if k_min is None else k_min,
        figures.COMMON_K_SHARE if k_share is None else k_share,
    )
    problems = compare(product_common(reader, scope, k_min, k_share), want)
    assert not problems, "\n".join(problems)


def test_the_default_k_rule_is_max_3_and_30_percent_as_domain_says() -> None:
    assert (figures.COMMON_K_MIN, figures.COMMON_K_SHARE) == (3, 0.3)


def test_the_demo_common_problem_comparison_is_not_vacuous(demo: tuple[Reader, Base]) -> None:
    reader, base = demo
    scope = demo_scope(reader, "all", dt.date(2026, 11, 20))
    common = expected_common(base, scope, 3, 0.3)
    assert len({r for r, _ in common}) >= 5, "common problems in most rounds"
    # Some category sits exactly on its threshold, so `>=` against `>` is exercised …
    assert any(row["units_found"] == row["threshold"] for row in common.values())
    # … and some category misses it by one unit, so a threshold one too low is caught.
    every = expected_common(base, scope, 1, 0.0)
    assert any(
        row["units_found"] == max(3, math.ceil(Fraction(3, 10) * row["units_inspected"])) - 1
        for row in every.values()
    )
    # With a category filter, units inspected still count units without such findings.
    narrow = expected_common(base, demo_scope(reader, "category_l1", scope.as_of), 1, 0.0)
    assert any(row["units_inspected"] > row["units_found"] for row in narrow.values())


@pytest.mark.parametrize("as_of", [*AS_OF_DATES, PARTIAL_ROUND_DATE], ids=str)
@pytest.mark.parametrize("filter_name", FILTERS)
def test_repeat_chains_of_the_demo_equal_the_units_and_categories_found_in_two_or_more_rounds(
    demo: tuple[Reader, Base], filter_name: str, as_of: dt.date
) -> None:
    reader, base = demo
    scope = demo_scope(reader, filter_name, as_of)
    problems = compare(product_chains(reader, scope), expected_chains(base, scope))
    assert not problems, "\n".join(problems[:30])


def test_the_demo_repeat_chain_comparison_is_not_vacuous(demo: tuple[Reader, Base]) -> None:
    reader, base = demo
    scope = demo_scope(reader, "all", dt.date(2026, 11, 20))
    chains = expected_chains(base, scope)
    assert len(chains) > 20
    assert any(row["rebound_rounds"] > 0 for row in chains.values())
    assert any(row["rebound_rounds"] == 0 for row in chains.values())
    assert any(0 < row["open_findings"] < row["findings"] for row in chains.values())
    assert any(row["findings"] > row["round_count"] for row in chains.values())
    # With rounds 3–7 only, some chain's first round is a 反弹 of a round outside the range.
    narrow = demo_scope(reader, "round_range", scope.as_of)
    first_marked = [
        row
        for row in expected_chains(base, narrow).values()
        if row["chain"].split(" → ")[0].endswith("（反弹）")
    ]
    assert first_marked


@pytest.mark.parametrize("step", [1, 10])
@pytest.mark.parametrize("as_of", AS_OF_DATES[1:], ids=str)
@pytest.mark.parametrize("filter_name", ["all", "peer_group", "category_l1", "round_range"])
def test_the_progress_curve_counts_findings_done_on_each_day_after_feedback_as_brute_force_does(
    demo: tuple[Reader, Base], filter_name: str, as_of: dt.date, step: int
) -> None:
    reader, base = demo
    scope = demo_scope(reader, filter_name, as_of)
    curve = figures.progress_curve(reader, scope, step=step)
    got = rows_by(curve, "round_id", "day")
    problems = []
    grid = expected_grid(base, scope, step)
    days_of: dict[int, list[int]] = defaultdict(list)
    for round_id, day in got:
        days_of[round_id].append(day)
    if {r: sorted(d) for r, d in days_of.items()} != grid:
        problems.append(f"days of the curve: {dict(days_of)} ≠ {grid}")
    cohort = Counter(f.round_id for f in base.in_scope(scope))
    last_days = {days[-1] for days in grid.values()}
    for day in sorted({*CURVE_DAYS, *last_days}):
        for round_id, want in expected_curve(base, scope, day).items():
            row = got.get((round_id, day))
            if day not in grid[round_id]:
                if row is not None:
                    problems.append(f"round {round_id} day {day}: a point off the grid")
                continue
            if row is None:
                problems.append(f"round {round_id} day {day}: missing")
                continue
            # Every point of the curve counts the round's whole cohort.
            if want["findings"] != cohort[round_id]:
                problems.append(f"round {round_id} day {day}: {want['findings']} observed")
            want = want | {
                "completion_rate": half_up_rate(want["findings_done"], want["findings"]),
                "completion_rate_lenient": half_up_rate(
                    want["findings_done"] + want["findings_basically_done"], want["findings"]
                ),
            }
            for column, value in want.items():
                value = float(value) if isinstance(value, Decimal) else value
                if row[column] != value:
                    problems.append(f"round {round_id} day {day} {column}: {row[column]} ≠ {value}")
    assert not problems, "\n".join(problems[:30])


def test_the_demo_progress_curve_comparison_is_not_vacuous(demo: tuple[Reader, Base]) -> None:
    reader, base = demo
    scope = demo_scope(reader, "all", dt.date(2025, 6, 30))
    at_90 = expected_curve(base, scope, 90)
    at_400 = expected_curve(base, scope, 400)
    assert any(0 < row["findings_done"] < row["findings"] for row in at_90.values())
    assert any(row["findings_basically_done"] > 0 for row in at_400.values())
    # Some round has findings fed back too recently to be counted on day 400.
    assert any(at_400[r]["findings"] < at_90[r]["findings"] for r in at_90)
    # The rounds' inspections were fed back on different days, so stopping each curve at the
    # day its last-fed-back findings have reached cuts some tail off.
    feedback: dict[int, set[dt.date]] = defaultdict(set)
    for f in base.in_scope(scope):
        feedback[f.round_id].add(f.feedback)
    assert all(len(days) > 1 for days in feedback.values())


MEASURE_DATES = (*AS_OF_DATES, dt.date(2024, 6, 10), dt.date(2024, 6, 20))


@pytest.mark.parametrize("as_of", MEASURE_DATES, ids=str)
@pytest.mark.parametrize("filter_name", ["all", "peer_group", "category_l1"])
def test_long_term_measures_are_the_open_ones_without_a_dated_deadline_or_with_status_long_term(
    demo: tuple[Reader, Base], filter_name: str, as_of: dt.date
) -> None:
    reader, base = demo
    scope = demo_scope(reader, filter_name, as_of)
    got = rows_by(measure_list(reader, "measures_long_term", scope, limit=None), "measure_id")
    problems = compare(got, expected_long_term(base, scope))
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("as_of", MEASURE_DATES, ids=str)
@pytest.mark.parametrize("filter_name", ["all", "peer_group", "category_l1"])
def test_extended_measures_are_those_whose_deadline_in_force_differs_from_the_original(
    demo: tuple[Reader, Base], filter_name: str, as_of: dt.date
) -> None:
    reader, base = demo
    scope = demo_scope(reader, filter_name, as_of)
    got = rows_by(measure_list(reader, "measures_extended", scope, limit=None), "measure_id")
    problems = compare(got, expected_extended(base, scope))
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("as_of", MEASURE_DATES, ids=str)
@pytest.mark.parametrize("filter_name", ["all", "peer_group", "category_l1"])
def test_the_supervision_list_has_every_open_dated_measure_with_its_days_and_colour(
    demo: tuple[Reader, Base], filter_name: str, as_of: dt.date
) -> None:
    reader, base = demo
    scope = demo_scope(reader, filter_name, as_of)
    frame = measure_list(reader, "measures_supervision", scope, kinds=None, limit=BIG_LIMIT)
    got = rows_by(frame, "measure_id")
    want = expected_supervision(base, scope)
    assert colour_counts(got) == colour_counts(want)
    problems = compare(got, want)
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("limit", [1, 7, 40])
def test_the_supervision_list_is_the_most_overdue_first_and_stops_at_the_limit(
    demo: tuple[Reader, Base], limit: int
) -> None:
    reader, base = demo
    scope = demo_scope(reader, "all", dt.date(2025, 6, 30))
    want = expected_supervision(base, scope)
    order = sorted(want, key=lambda m: (-want[m]["days_overdue"], m))[:limit]
    frame = measure_list(reader, "measures_supervision", scope, kinds=None, limit=limit)
    assert frame["measure_id"].to_list() == order


def test_the_demo_measure_list_comparisons_are_not_vacuous(demo: tuple[Reader, Base]) -> None:
    reader, base = demo
    colours: dict[str, int] = defaultdict(int)
    extended_kinds = set()
    for as_of in MEASURE_DATES:
        scope = demo_scope(reader, "all", as_of)
        for colour, n in colour_counts(expected_supervision(base, scope)).items():
            colours[colour] += n
        for row in expected_extended(base, scope).values():
            extended_kinds.add(
                "none" if row["extension_days"] is None else row["extension_days"] > 0
            )
    assert all(colours[c] > 0 for c in ("红", "黄", "绿", "")), colours
    assert True in extended_kinds
    scope = demo_scope(reader, "all", dt.date(2025, 6, 30))
    long_term = expected_long_term(base, scope)
    assert any(row["deadline"] is None for row in long_term.values())
    assert any(row["status"] == "LONG_TERM" for row in long_term.values())


SIMILAR_SCOPES = {
    "all": (Filters(), None),
    "peer_group": (Filters(peer_groups=("国有企业",)), None),
    "one_unit": (Filters(), 3),
}


@pytest.mark.parametrize("min_similarity", [0.25, 0.4])
@pytest.mark.parametrize("as_of", [dt.date(2023, 12, 31), dt.date(2026, 11, 20)], ids=str)
@pytest.mark.parametrize("scope_name", SIMILAR_SCOPES)
def test_similar_findings_of_the_demo_are_the_pairs_of_close_text_in_one_unit_across_rounds(
    demo: tuple[Reader, Base], scope_name: str, as_of: dt.date, min_similarity: float
) -> None:
    reader, base = demo
    filters, unit_id = SIMILAR_SCOPES[scope_name]
    scope = resolve_scope(reader, filters.with_(as_of=as_of))
    got = product_similar(reader, scope, min_similarity, unit_id)
    # Every returned pair follows the rules on its own …
    for (a, b), row in got.items():
        fa, fb = base.findings[a], base.findings[b]
        assert fa.unit_id == fb.unit_id == row["unit_id"], (a, b)
        assert fa.seq < fb.seq, (a, b)
        assert fa.l2 != fb.l2, (a, b)
        assert max(fa.feedback, fb.feedback) <= as_of, (a, b)
        assert row["similarity"] == float(half_up(jaccard(bigrams(fa), bigrams(fb)), 3)), (a, b)
    # … and the pairs are exactly those of the definition.
    problems = compare(got, expected_similar(base, scope, min_similarity, unit_id))
    assert not problems, "\n".join(problems[:30])


def test_the_demo_similar_findings_comparison_is_not_vacuous(demo: tuple[Reader, Base]) -> None:
    reader, base = demo
    scope = resolve_scope(reader, Filters(as_of=dt.date(2026, 11, 20)))
    pairs = expected_similar(base, scope, 0.25)
    assert len(pairs) >= 10
    # Same-category pairs of similar text exist, so their exclusion is exercised.
    found = [f for f in base.in_scope(scope) if f.unit_id == 3]
    assert any(
        a.seq < b.seq and a.l2 == b.l2 and jaccard(bigrams(a), bigrams(b)) >= Fraction(1, 4)
        for a in found
        for b in found
    )


# -- hand-built stores, numbers worked out by hand ---------------------------------------------


@dataclass
class Opened:
    reader: Reader
    base: Base

    def scope(self, filters: Filters | None = None, *, as_of: dt.date) -> Scope:
        return resolve_scope(self.reader, (filters or Filters()).with_(as_of=as_of))


@pytest.fixture()
def opened() -> Iterator[Any]:
    readers: list[Reader] = []

    def open_(store: Store) -> Opened:
        con = store.connect()
        try:
            base = load_base(con)
        finally:
            con.close()
        readers.append(open_reader(store))
        return Opened(readers[-1], base)

    yield open_
    for reader in readers:
        reader.close()


def test_a_category_found_in_exactly_k_units_is_common_and_in_one_fewer_is_not(
    tmp_path: Path, opened: Any
) -> None:
    # One round, ten units. Units 1–9 fed back on 2024-01-10, unit 10 on 2024-03-01.
    # B03 at units 1, 2, 3 (two findings at unit 1) and at unit 10; C03 at units 1 and 2.
    b = StoreBuilder()
    r = b.round("第一轮", seq=1)
    inspections = []
    for n in range(1, 11):
        feedback = dt.date(2024, 1, 10) if n < 10 else dt.date(2024, 3, 1)
        inspections.append(b.inspection(r, b.unit(f"单位{n:02d}"), feedback=feedback))
    for i in (inspections[0], inspections[0], inspections[1], inspections[2], inspections[9]):
        b.measure(b.finding(i, "B03"), deadline=dt.date(2024, 6, 30))
    for i in inspections[:2]:
        b.measure(b.finding(i, "C03"), deadline=dt.date(2024, 6, 30))
    store = b.build(tmp_path / "store")
    o = opened(store)

    def check(as_of: dt.date, k_min: int | None, k_share: float | None, want: dict) -> None:
        scope = o.scope(as_of=as_of)
        got = product_common(o.reader, scope, k_min, k_share)
        defined = expected_common(o.base, scope, k_min or 3, 0.3 if k_share is None else k_share)
        for source, result in (("product", got), ("definition", defined)):
            assert {
                key: {c: row[c] for c in want.get(key, {})} for key, row in result.items()
            } == want, source

    # 2024-02-01, default k: 9 units fed back, k = max(3, ⌈2.7⌉) = 3. B03 in 3 units → common
    # (3 units, 4 findings, share 33.33%); C03 in 2 units → not. Unit 10 is not yet counted.
    b03 = {
        "units_found": 3,
        "units_inspected": 9,
        "threshold": 3,
        "findings": 4,
        "unit_share": 33.33,
        "unit_names": ["单位01", "单位02", "单位03"],
    }
    check(dt.date(2024, 2, 1), None, None, {(r, "B03"): b03})
    # k = (2, 0.2): max(2, ⌈1.8⌉) = 2, so C03 (2 units, 2 findings, 22.22%) is common too.
    check(
        dt.date(2024, 2, 1),
        2,
        0.2,
        {
            (r, "B03"): b03 | {"threshold": 2},
            (r, "C03"): {"units_found": 2, "threshold": 2, "findings": 2, "unit_share": 22.22},
        },
    )
    # 2024-03-01: 10 units, k = max(3, ⌈3.0⌉) = 3; B03 now in 4 units, 5 findings, 40.00%.
    check(
        dt.date(2024, 3, 1),
        None,
        None,
        {
            (r, "B03"): {
                "units_found": 4,
                "units_inspected": 10,
                "threshold": 3,
                "findings": 5,
                "unit_share": 40.0,
            }
        },
    )
    # k = (1, 0.5) on 2024-03-01: max(1, ⌈5.0⌉) = 5 > 4 units: nothing is common.
    check(dt.date(2024, 3, 1), 1, 0.5, {})


def test_a_category_found_in_exactly_28_percent_of_25_units_meets_a_28_percent_share(
    tmp_path: Path, opened: Any
) -> None:
    # 25 units, A02 found in 7 of them: 7 ÷ 25 = 28% exactly, so with k = (1, 0.28) the
    # threshold is max(1, ⌈0.28 × 25⌉) = max(1, 7) = 7 and A02 is common. (In binary floating
    # point 0.28 × 25 = 7.000000000000001, whose ceiling is 8.)
    b = StoreBuilder()
    r = b.round("第一轮", seq=1)
    for n in range(25):
        i = b.inspection(r, b.unit(f"单位{n:02d}"), feedback=dt.date(2024, 1, 10))
        if n < 7:
            b.measure(b.finding(i, "A02"), deadline=dt.date(2024, 6, 30))
    o = opened(b.build(tmp_path / "store"))
    scope = o.scope(as_of=dt.date(2024, 2, 1))
    defined = expected_common(o.base, scope, 1, 0.28)
    assert defined[(r, "A02")]["threshold"] == 7
    got = product_common(o.reader, scope, 1, 0.28)
    assert (r, "A02") in got, "A02 in 7 of 25 units (28%) is not listed as common at 28%"
    assert got[(r, "A02")]["threshold"] == 7


def _chain_store(tmp_path: Path) -> tuple[Store, dict[str, int]]:
    """Three rounds whose round ids run against their seq, three units.

    甲 B05: round 1 (feedback 2023-01-10) a1 DONE 2023-06-01; round 2 (2024-01-10) a2 never done
            and a2b DONE 2024-05-01; round 3 (2025-01-10) a3 never done.
            a2 and a3 are 反弹 (a1 was DONE on their 反馈日期).
    乙 C03: round 1 b1 DONE 2024-03-01; round 2 b2 DONE 2024-06-01. b2 is a repeat, not a
            反弹: b1 was done only after round 2's 反馈日期.
    丙 A02: round 1 c1 DONE 2023-03-01, reopened 2023-09-01; round 2 c2 never done. c2 is
            not a 反弹: on its 反馈日期 c1 was no longer DONE.
    甲 also has C01 twice in round 1 (one round: no chain) and C03 in round 3 only.
    """
    b = StoreBuilder()
    r3, r1, r2 = b.round("第三轮", seq=3), b.round("第一轮", seq=1), b.round("第二轮", seq=2)
    jia, yi, bing = b.unit("市住建局"), b.unit("市卫健委"), b.unit("市人防办")
    feedback = {r1: dt.date(2023, 1, 10), r2: dt.date(2024, 1, 10), r3: dt.date(2025, 1, 10)}
    i = {
        (r, u): b.inspection(r, u, feedback=feedback[r]) for r in feedback for u in (jia, yi, bing)
    }
    ids: dict[str, int] = {}

    def add(name: str, r: int, u: int, l2: str, history: list[tuple[dt.date, str]] | None) -> None:
        ids[name] = b.finding(i[(r, u)], l2)
        b.measure(
            ids[name],
            deadline=dt.date(2026, 12, 31),
            history=[(feedback[r], "IN_PROGRESS"), *(history or [])],
        )

    add("a3", r3, jia, "B05", None)  # created first: the smallest finding id
    add("a1", r1, jia, "B05", [(dt.date(2023, 6, 1), "DONE")])
    add("a2", r2, jia, "B05", None)
    add("a2b", r2, jia, "B05", [(dt.date(2024, 5, 1), "DONE")])
    add("b1", r1, yi, "C03", [(dt.date(2024, 3, 1), "DONE")])
    add("b2", r2, yi, "C03", [(dt.date(2024, 6, 1), "DONE")])
    add(
        "c1", r1, bing, "A02", [(dt.date(2023, 3, 1), "DONE"), (dt.date(2023, 9, 1), "IN_PROGRESS")]
    )
    add("c2", r2, bing, "A02", None)
    add("x1", r1, jia, "C01", None)
    add("x2", r1, jia, "C01", None)
    add("x3", r3, jia, "C03", None)
    ids.update(jia=jia, yi=yi, bing=bing, r1=r1, r2=r2, r3=r3)
    return b.build(tmp_path / "store"), ids


def _check_chains(o: Opened, scope: Scope, want: dict[tuple[int, str], dict[str, Any]]) -> None:
    got = product_chains(o.reader, scope)
    defined = expected_chains(o.base, scope)
    for source, result in (("product", got), ("definition", defined)):
        seen = {key: {c: row[c] for c in want.get(key, {})} for key, row in result.items()}
        assert seen == want, source


def test_a_repeat_chain_counts_rounds_rebounds_and_open_findings_as_worked_out_by_hand(
    tmp_path: Path, opened: Any
) -> None:
    store, x = _chain_store(tmp_path)
    o = opened(store)
    # As of 2025-06-30, everything fed back.
    _check_chains(
        o,
        o.scope(as_of=dt.date(2025, 6, 30)),
        {
            (x["jia"], "B05"): {
                "round_count": 3,
                "findings": 4,
                "finding_ids": [x["a1"], x["a2"], x["a2b"], x["a3"]],
                "rebound_rounds": 2,  # rounds 2 and 3
                "open_findings": 2,  # a2, a3
                "chain": "十四届第一轮 → 十四届第二轮（反弹） → 十四届第三轮（反弹）",
            },
            (x["yi"], "C03"): {
                "round_count": 2,
                "findings": 2,
                "rebound_rounds": 0,
                "open_findings": 0,
            },
            (x["bing"], "A02"): {
                "round_count": 2,
                "findings": 2,
                "rebound_rounds": 0,
                "open_findings": 2,
            },
        },
    )
    # As of 2024-04-30: round 3 not fed back; a2b and b2 not yet done, b1 done (2024-03-01).
    _check_chains(
        o,
        o.scope(as_of=dt.date(2024, 4, 30)),
        {
            (x["jia"], "B05"): {
                "round_count": 2,
                "findings": 3,
                "rebound_rounds": 1,
                "open_findings": 2,
            },
            (x["yi"], "C03"): {"rebound_rounds": 0, "open_findings": 1},
            (x["bing"], "A02"): {"rebound_rounds": 0, "open_findings": 2},
        },
    )
    # As of 2023-12-31 only round 1 is fed back: no unit has a category in two rounds.
    _check_chains(o, o.scope(as_of=dt.date(2023, 12, 31)), {})


def test_a_rebound_against_a_round_outside_the_filter_still_marks_the_round(
    tmp_path: Path, opened: Any
) -> None:
    # Rounds 2–3 only: 甲 B05 is the chain round 2 → round 3 (a2, a2b, a3); both rounds are
    # 反弹 because a1 of round 1 was DONE on their 反馈日期, even though round 1 is filtered
    # out. 乙 and 丙 have one round left in range: no chain.
    store, x = _chain_store(tmp_path)
    o = opened(store)
    scope = o.scope(Filters(round_from=2, round_to=3), as_of=dt.date(2025, 6, 30))
    _check_chains(
        o,
        scope,
        {
            (x["jia"], "B05"): {
                "round_count": 2,
                "findings": 3,
                "rebound_rounds": 2,
                "open_findings": 2,
                "chain": "十四届第二轮（反弹） → 十四届第三轮（反弹）",
            }
        },
    )


def test_a_round_named_without_a_round_number_appears_in_the_chain_by_its_name(
    tmp_path: Path, opened: Any
) -> None:
    # 市委机动巡察 has no "第…轮" in its name: the chain shows the round's whole name.
    b = StoreBuilder()
    first, snap = b.round("第一轮", seq=1), b.round("市委机动巡察", seq=2, kind="机动")
    u = b.unit("市住建局")
    for r, feedback in ((first, dt.date(2023, 1, 10)), (snap, dt.date(2024, 1, 10))):
        b.measure(b.finding(b.inspection(r, u, feedback=feedback), "B05"), deadline=None)
    o = opened(b.build(tmp_path / "store"))
    scope = o.scope(as_of=dt.date(2024, 6, 30))
    assert (
        expected_chains(o.base, scope)[(u, "B05")]["chain"] == "十四届第一轮 → 十四届市委机动巡察"
    )
    got = product_chains(o.reader, scope)[(u, "B05")]["chain"]
    assert got == "十四届第一轮 → 十四届市委机动巡察"


def test_the_progress_curve_of_a_small_round_matches_the_counts_worked_out_by_hand(
    tmp_path: Path, opened: Any
) -> None:
    # One round. As of 2024-03-10 (day 60 for feedback 2024-01-10, day 30 for 2024-02-09):
    # f1 (unit 1, fb 01-10): DONE on 02-09, day 30.
    # f2 (unit 1, fb 01-10): one measure DONE and one PHASED on 01-15 (BASICALLY_DONE from
    #     day 5), the PHASED one DONE on 04-19 (day 100, after as_of).
    # f3 (unit 2, fb 02-09): DONE on 02-20, day 11.
    # The cohort is complete up to day 30 (f3, fed back last, has reached day 30 by as_of).
    # Step 30: days 0, 30.
    #   day 0:  3 findings, 0 done, 0 basically done
    #   day 30: 3 findings (f3 on 03-10 = as_of counts), done f1 + f3 = 2, basically f2 = 1
    # Day 60 is not drawn: only f1 and f2 would be observed (done f1 = 1, basically f2 = 1),
    # and the rate would fall from 66.67% to 50% without any finding leaving DONE.
    b = StoreBuilder()
    r = b.round("第一轮", seq=1)
    i1 = b.inspection(r, b.unit("单位一"), feedback=dt.date(2024, 1, 10))
    i2 = b.inspection(r, b.unit("单位二"), feedback=dt.date(2024, 2, 9))
    fb1, fb2 = dt.date(2024, 1, 10), dt.date(2024, 2, 9)
    deadline = dt.date(2024, 12, 31)
    b.measure(
        b.finding(i1),
        deadline=deadline,
        history=[(fb1, "IN_PROGRESS"), (dt.date(2024, 2, 9), "DONE")],
    )
    f2 = b.finding(i1)
    b.measure(f2, deadline=deadline, history=[(fb1, "IN_PROGRESS"), (dt.date(2024, 1, 15), "DONE")])
    b.measure(
        f2,
        deadline=deadline,
        history=[
            (fb1, "IN_PROGRESS"),
            (dt.date(2024, 1, 15), "PHASED"),
            (dt.date(2024, 4, 19), "DONE"),
        ],
    )
    b.measure(
        b.finding(i2),
        deadline=deadline,
        history=[(fb2, "IN_PROGRESS"), (dt.date(2024, 2, 20), "DONE")],
    )
    o = opened(b.build(tmp_path / "store"))
    scope = o.scope(as_of=dt.date(2024, 3, 10))
    want = {0: (3, 0, 0), 30: (3, 2, 1)}
    columns = ("findings", "findings_done", "findings_basically_done")
    for day, counts in (*want.items(), (60, (2, 1, 1))):
        assert tuple(expected_curve(o.base, scope, day)[r][c] for c in columns) == counts, day
    got = {
        row["day"]: tuple(row[c] for c in columns)
        for row in figures.progress_curve(o.reader, scope, step=30).to_dicts()
    }
    assert got == want
    rates = figures.progress_curve(o.reader, scope, step=30)["completion_rate"].to_list()
    assert rates == [0.0, 66.67]


def _measure_store(tmp_path: Path) -> tuple[Store, dict[str, int]]:
    """One inspection fed back 2024-01-10, one finding per measure (title = the measure's
    name); default history IN_PROGRESS from the 反馈日期."""
    b = StoreBuilder()
    i = b.inspection(b.round("第一轮", seq=1), b.unit("市财政局"), feedback=dt.date(2024, 1, 10))
    fb = dt.date(2024, 1, 10)
    ids: dict[str, int] = {}

    def add(name: str, **kwargs: Any) -> None:
        ids[name] = b.measure(b.finding(i, "B05", title=name), **kwargs)

    add("m1", deadline=dt.date(2024, 6, 19))
    add("m2", deadline=dt.date(2024, 6, 20))
    add("m3", deadline=dt.date(2024, 6, 30))
    add("m4", deadline=dt.date(2024, 7, 1))
    add("m5", deadline=dt.date(2024, 7, 10))
    add("m6", deadline=dt.date(2024, 7, 11))
    add(
        "m7",
        deadline=dt.date(2024, 6, 1),
        history=[(fb, "IN_PROGRESS"), (dt.date(2024, 5, 20), "DONE")],
    )
    add("m8", deadline=None)
    add(
        "m9",
        deadline=dt.date(2024, 12, 31),
        history=[(fb, "IN_PROGRESS"), (dt.date(2024, 3, 1), "LONG_TERM")],
    )
    add(
        "m10",
        deadline=dt.date(2024, 3, 31),
        extensions=[(dt.date(2024, 3, 20), dt.date(2024, 6, 30))],
    )
    add("m11", deadline=dt.date(2024, 3, 31), extensions=[(dt.date(2024, 4, 1), None)])
    add(
        "m13",
        deadline=dt.date(2024, 6, 30),
        extensions=[(dt.date(2024, 7, 1), dt.date(2024, 8, 31))],
    )
    add("m14", deadline=dt.date(2024, 6, 1), history=[(dt.date(2024, 7, 1), "IN_PROGRESS")])
    add(
        "m15",
        deadline=dt.date(2024, 3, 31),
        extensions=[
            (dt.date(2024, 3, 20), dt.date(2024, 6, 30)),
            (dt.date(2024, 7, 1), dt.date(2024, 9, 30)),
        ],
    )
    return b.build(tmp_path / "store"), ids


def test_the_measure_lists_of_a_small_store_match_the_lists_worked_out_by_hand(
    tmp_path: Path, opened: Any
) -> None:
    store, x = _measure_store(tmp_path)
    o = opened(store)
    scope = o.scope(as_of=dt.date(2024, 6, 20))
    # 督办清单 as of 2024-06-20: days_overdue = 06-20 − deadline.
    #   m1 06-19 → 1 红; m2 06-20 → 0 黄; m3 06-30 → −10 黄; m4 07-01 → −11 绿;
    #   m5 07-10 → −20 绿; m6 07-11 → −21 none; m9 (LONG_TERM, 12-31) → −194 none;
    #   m10 (extended to 06-30) → −10 黄; m13 (extension only from 07-01) 06-30 → −10 黄;
    #   m15 (extended to 06-30 on 03-20, to 09-30 only from 07-01) → −10 黄.
    #   m7 DONE, m8 and m11 have no date, m14 has no status yet: not listed.
    supervision = {
        "m1": (1, "红"),
        "m2": (0, "黄"),
        "m3": (-10, "黄"),
        "m4": (-11, "绿"),
        "m5": (-20, "绿"),
        "m6": (-21, ""),
        "m9": (-194, ""),
        "m10": (-10, "黄"),
        "m13": (-10, "黄"),
        "m15": (-10, "黄"),
    }
    want = {x[k]: {"days_overdue": d, "warning": w} for k, (d, w) in supervision.items()}
    got = rows_by(
        measure_list(o.reader, "measures_supervision", scope, kinds=None, limit=100), "measure_id"
    )
    for source, result in (("product", got), ("definition", expected_supervision(o.base, scope))):
        assert {
            m: {c: row[c] for c in ("days_overdue", "warning")} for m, row in result.items()
        } == want, source
    # 长期坚持: m8 (no date), m9 (status LONG_TERM), m11 (deadline changed to none on 04-01).
    want_lt = {x["m8"], x["m9"], x["m11"]}
    assert (
        set(rows_by(measure_list(o.reader, "measures_long_term", scope, limit=None), "measure_id"))
        == want_lt
    )
    assert set(expected_long_term(o.base, scope)) == want_lt
    # 延期: m10 03-31 → 06-30 (+91 days, 03-20); m11 03-31 → none (04-01); m15 as m10 (its
    # second extension is not in force yet). m13 not yet.
    want_ext = {
        x["m10"]: (dt.date(2024, 6, 30), 91, dt.date(2024, 3, 20), "申请延期"),
        x["m15"]: (dt.date(2024, 6, 30), 91, dt.date(2024, 3, 20), "申请延期"),
        x["m11"]: (None, None, dt.date(2024, 4, 1), "申请延期"),
    }
    ext_columns = ("deadline", "extension_days", "changed_on", "reason")
    got_ext = rows_by(measure_list(o.reader, "measures_extended", scope, limit=None), "measure_id")
    for source, result in (("product", got_ext), ("definition", expected_extended(o.base, scope))):
        assert {m: tuple(row[c] for c in ext_columns) for m, row in result.items()} == want_ext, (
            source
        )
    # As of 2024-07-02 m13 is extended too: 06-30 → 08-31, +62 days, from 07-01.
    later = o.scope(as_of=dt.date(2024, 7, 2))
    later_rows = rows_by(
        measure_list(o.reader, "measures_extended", later, limit=None), "measure_id"
    )
    row = later_rows[x["m13"]]
    assert (row["deadline"], row["extension_days"], row["changed_on"]) == (
        dt.date(2024, 8, 31),
        62,
        dt.date(2024, 7, 1),
    )


def test_changed_on_is_the_date_of_the_deadline_record_in_force_even_if_an_older_ledger_was_imported_later(
    tmp_path: Path, opened: Any
) -> None:
    # Deadline 2024-03-31. The ledger of 05-01 (extension to 09-30) is imported first, the
    # older ledger of 03-20 (extension to 06-30) later, so it gets the higher history_id.
    # As of 06-20 the record in force is the latest by effective date: 05-01, 09-30,
    # +183 days (03-31 → 09-30), changed on 05-01.
    b = StoreBuilder()
    i = b.inspection(b.round("第一轮", seq=1), b.unit("市财政局"), feedback=dt.date(2024, 1, 10))
    m = b.measure(
        b.finding(i),
        deadline=dt.date(2024, 3, 31),
        extensions=[
            (dt.date(2024, 5, 1), dt.date(2024, 9, 30)),
            (dt.date(2024, 3, 20), dt.date(2024, 6, 30)),
        ],
    )
    o = opened(b.build(tmp_path / "store"))
    scope = o.scope(as_of=dt.date(2024, 6, 20))
    want = (dt.date(2024, 9, 30), 183, dt.date(2024, 5, 1))
    columns = ("deadline", "extension_days", "changed_on")
    assert tuple(expected_extended(o.base, scope)[m][c] for c in columns) == want
    got = rows_by(measure_list(o.reader, "measures_extended", scope, limit=None), "measure_id")[m]
    assert tuple(got[c] for c in columns) == want


class TextBuilder(StoreBuilder):
    """StoreBuilder whose findings can carry a 具体表现 (detail)."""

    def text_finding(self, inspection_id: int, l2: str, title: str, detail: str | None) -> int:
        finding_id = self.finding(inspection_id, l2, title=title)
        row = list(self.findings[finding_id - 1])
        row[8] = detail
        self.findings[finding_id - 1] = tuple(row)
        return finding_id


def _similar_store(tmp_path: Path) -> tuple[Store, dict[str, int]]:
    """Unit 甲 in rounds 1–3 (round ids against seq), unit 乙 in rounds 1–2.

    normalised text (whitespace, punctuation, symbols, digits removed) and bigrams:
      a1 r1 B03 "公车私用"                      {公车 车私 私用}
      a2 r2 B04 "公车私用问题"                  {公车 车私 私用 用问 问题}
      a3 r2 B03 "公车私用问题"                  same as a2
      a4 r3 C03 "公车，私用！" + "2024"         → "公车私用"  {公车 车私 私用}
      a5 r3 A02 "公车　私用"（U+3000） + "３次"（full-width digit）
                                                → "公车私用次" {公车 车私 私用 用次}
      a6 r3 C05 "会议记录不全" + "  。"         {会议 议记 记录 录不 不全}
      b1 r1 B03 "公车私用", b2 r2 B04 "公车私用"  (unit 乙)
    """
    b = TextBuilder()
    r3, r1, r2 = b.round("第三轮", seq=3), b.round("第一轮", seq=1), b.round("第二轮", seq=2)
    jia, yi = b.unit("市交通局"), b.unit("市水务局")
    fb = {r1: dt.date(2023, 1, 10), r2: dt.date(2024, 1, 10), r3: dt.date(2025, 1, 10)}
    i = {(r, u): b.inspection(r, u, feedback=fb[r]) for r in fb for u in (jia, yi)}
    ids = {
        # Later rounds created first: the later finding has the smaller id.
        "a4": b.text_finding(i[(r3, jia)], "C03", "公车，私用！", "2024"),
        "a5": b.text_finding(i[(r3, jia)], "A02", "公车\u3000私用", "３次"),
        "a6": b.text_finding(i[(r3, jia)], "C05", "会议记录不全", "  。"),
        "a2": b.text_finding(i[(r2, jia)], "B04", "公车私用问题", ""),
        "a3": b.text_finding(i[(r2, jia)], "B03", "公车私用问题", None),
        "a1": b.text_finding(i[(r1, jia)], "B03", "公车私用", None),
        "b2": b.text_finding(i[(r2, yi)], "B04", "公车私用", None),
        "b1": b.text_finding(i[(r1, yi)], "B03", "公车私用", None),
    }
    for f in ids.values():
        b.measure(f, deadline=dt.date(2025, 12, 31))
    return b.build(tmp_path / "store"), ids


# Pairs (earlier, later) and their Jaccard similarity, by hand:
#   a1–a2 3/5 = 0.6; a1–a4 3/3 = 1.0; a1–a5 3/4 = 0.75; a2–a4 3/5 = 0.6; a3–a4 3/5 = 0.6;
#   a2–a5 3/6 = 0.5; a3–a5 3/6 = 0.5; b1–b2 1.0.
#   Excluded: a1–a3 (both B03), a2–a3 and a4–a5 (same round), any 甲–乙 pair (two units),
#   pairs with a6 (nothing shared).
SIMILAR_BY_HAND = {
    ("a1", "a2"): 0.6,
    ("a1", "a4"): 1.0,
    ("a1", "a5"): 0.75,
    ("a2", "a4"): 0.6,
    ("a3", "a4"): 0.6,
    ("a2", "a5"): 0.5,
    ("a3", "a5"): 0.5,
    ("b1", "b2"): 1.0,
}


def test_similar_findings_pair_texts_of_one_unit_across_rounds_and_categories_as_worked_out_by_hand(
    tmp_path: Path, opened: Any
) -> None:
    store, x = _similar_store(tmp_path)
    o = opened(store)
    scope = o.scope(as_of=dt.date(2025, 6, 30))
    want = {(x[a], x[b]): s for (a, b), s in SIMILAR_BY_HAND.items()}
    defined = expected_similar(o.base, scope, 0.01)
    assert {k: row["similarity"] for k, row in defined.items()} == want
    got = product_similar(o.reader, scope, 0.01)
    assert {k: row["similarity"] for k, row in got.items()} == want


def test_similar_findings_ignore_punctuation_and_ascii_digits_and_keep_the_rules(
    tmp_path: Path, opened: Any
) -> None:
    # The pairs whose texts hold only ASCII punctuation and digits (no full-width space or
    # digit): a1–a2, a1–a4, a2–a4, a3–a4, b1–b2, as above; same-category, same-round and
    # cross-unit pairs never appear; 0.55 drops the 0.5 pairs; as of 2024-06-30 round 3
    # (a4, a5, a6) is not yet fed back.
    store, x = _similar_store(tmp_path)
    o = opened(store)
    scope = o.scope(as_of=dt.date(2025, 6, 30))
    got = product_similar(o.reader, scope, 0.55)
    plain = {
        ("a1", "a2"): 0.6,
        ("a1", "a4"): 1.0,
        ("a2", "a4"): 0.6,
        ("a3", "a4"): 0.6,
        ("b1", "b2"): 1.0,
    }
    for (a, b), similarity in plain.items():
        assert got[(x[a], x[b])]["similarity"] == similarity, (a, b)
    never = [("a1", "a3"), ("a3", "a1"), ("a2", "a3"), ("a3", "a2"), ("a4", "a5"), ("a5", "a4")]
    never += [(a, b) for a in ("a1", "a2", "a4") for b in ("b1", "b2")]
    never += [(b, a) for a in ("a1", "a2", "a4") for b in ("b1", "b2")]
    assert not {(x[a], x[b]) for a, b in never} & set(got)
    assert all(o.base.findings[a].seq < o.base.findings[b].seq for a, b in got)
    assert (x["a2"], x["a5"]) not in got and (x["a3"], x["a5"]) not in got
    early = product_similar(o.reader, o.scope(as_of=dt.date(2024, 6, 30)), 0.01)
    assert set(early) == {(x["a1"], x["a2"]), (x["b1"], x["b2"])}
    only_yi = product_similar(o.reader, scope, 0.01, unit_id=o.base.findings[x["b1"]].unit_id)
    assert set(only_yi) == {(x["b1"], x["b2"])}
