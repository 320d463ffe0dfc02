"""The findings behind a figure: the list of findings (a chart's bar, cell or tile, a table's
row, a keyword search) with, for the one selected, its measures as of the date; the keyword
search itself, audited."""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl
import streamlit as st

from xuncha import charts, labels
from xuncha.filters import Scope
from xuncha.store.reader import Reader
from xuncha.ui.data import params_key
from xuncha.ui.plotly_charts import clicked_points
from xuncha.ui.session import record
from xuncha.ui.text import md
from xuncha.ui.widgets import TABLE_MAX_ROWS, selected_row, table

# st.dataframe's row and header height (px): a table sized to its rows shows all of them.
_ROW_PX = 35


def fit_height(rows: int, most: int = 20) -> int:
    """The height of a table showing `rows` rows without scrolling, up to `most` rows (the
    "auto" height of st.dataframe stops at ten rows and hides the rest behind a scroll)."""
    return _ROW_PX * (max(1, min(rows, most)) + 1) + 3


def narrowed(
    rd: Reader,
    scope: Scope,
    *,
    round_seq: int | None = None,
    peer_group: str | None = None,
    sector: str | None = None,
) -> Scope:
    """`scope` narrowed to the inspections of one round, peer group or sector (what a click
    on its bar stands for): the inspections of `scope` (already narrowed to what the reader
    may see) that the same query as the filters' (queries/scope_inspections.sql) selects."""
    frame = rd.query(
        "scope_inspections",
        {
            "round_from": round_seq,
            "round_to": round_seq,
            "kinds": None,
            "sectors": None if sector is None else [sector],
            "peer_groups": None if peer_group is None else [peer_group],
            "unit_ids": None,
        },
    )
    keep = set(frame["inspection_id"].to_list())
    ids = tuple(i for i in scope.inspection_ids if i in keep)
    return dataclasses.replace(scope, inspection_ids=ids)


# What a point's trace stands for (charts.clicked_status) → the findings it keeps, its name.
_KEPT: dict[str, tuple[pl.Expr, str]] = {
    **{code: (pl.col("status") == code, name) for code, name in labels.FINDING_STATUS.items()},
    "repeat": (pl.col("is_repeat"), "重复问题"),
    "rebound": (pl.col("is_rebound"), "反弹问题"),
}


def round_findings(
    rd: Reader, scope: Scope, by_round: pl.DataFrame, event: Any, *, key: str
) -> list[int] | None:
    """Under a chart of rounds (figures.rectification by round: group_id the round, group_order
    its seq), the findings of the round clicked, and of them those the clicked trace stands
    for (a status, 重复, 反弹; its legend entry); None when nothing is clicked."""
    points = clicked_points(event, key)
    picked = charts.clicked_group(points[0]) if points else None
    if picked is None:
        return None
    row = by_round.filter(pl.col("group_id").cast(pl.String) == picked)
    if row.is_empty():
        return None
    status = charts.clicked_status(points[0])
    keep, what = _KEPT.get(status or "", (None, "问题"))
    return chart_findings(
        rd,
        narrowed(rd, scope, round_seq=int(row["group_order"][0])),
        key=f"{key}_drill",
        heading=f"{labels.round_label(row['group_key'][0])}｜{what}",
        keep=keep,
    )


def chart_findings(
    rd: Reader,
    scope: Scope,
    *,
    key: str,
    heading: str,
    unit_id: int | None = None,
    category: str | None = None,
    keep: pl.Expr | None = None,
) -> list[int]:
    """The findings behind a clicked bar, point, cell or tile, listed where it is called
    (directly under the chart): the findings in `scope` (narrowed by the page to the round,
    peer group … clicked) of `unit_id` and `category` (queries/findings_detail.sql), and of
    them those `keep` holds (a status, 重复, 反弹: columns of findings_detail). Returns their
    ids, latest round first."""
    limit = None if keep is not None else TABLE_MAX_ROWS
    frame = rd.query(
        "findings_detail", scope.params(unit_id=unit_id, category=category, limit=limit)
    )
    total = int(frame["total"][0]) if frame.height else 0
    if keep is not None:
        frame = frame.filter(keep)
        total = frame.height
    ids = [int(i) for i in frame["finding_id"].to_list()]
    st.markdown(f"##### {md(heading)}")
    findings_drilldown(rd, scope, ids[:TABLE_MAX_ROWS], key=key, total=total)
    return ids


# One data version's finding text per process (~270 MB at a million findings): a new version
# replaces it. Loaded on the first search, not at start: most sessions never search.
@st.cache_resource(max_entries=1, show_spinner="正在载入问题文本……")
def _text_index(root: str, identity: str, _rd: Reader) -> Any:
    from xuncha.figures import TextIndex

    # A plain reader: the text must not go into the shared query cache as well.
    return TextIndex.load(Reader(_rd.store, _rd.version, _rd._con))


def search_findings(rd: Reader, scope: Scope, terms: list[str]) -> list[int]:
    """The findings in scope whose text holds every term (figures.search: the same findings
    as queries/findings_search.sql), latest round first. Each new search is audited."""
    found: list[int] = _text_index(str(rd.store.root), rd.identity, rd).search(scope, terms)
    asked = (rd.version, tuple(terms), params_key(scope.params()))
    if st.session_state.get("_last_search") != asked:
        st.session_state["_last_search"] = asked
        record("search", terms=terms, results=len(found))
    return found


def findings_drilldown(
    rd: Reader, scope: Scope, finding_ids: list[int], *, key: str, total: int | None = None
) -> None:
    """The findings behind a figure and, for the selected one, its measures as of the date.
    `total`: how many findings the whole list has when `finding_ids` holds its first ones."""
    if not finding_ids:
        st.caption("没有对应的问题。")
        return
    detail = rd.query("findings_by_ids", scope.params(finding_ids=list(finding_ids)))
    whole = max(total or 0, detail.height)
    shown_note = f"，此处显示前 {detail.height:,} 个" if whole > detail.height else ""
    st.caption(f"共 {whole:,} 个问题{shown_note}；选中一行查看其整改措施。")
    shown = labels.status_labels(detail, finding=True).select(
        "finding_id",
        "round_name",
        "unit_name",
        "unit_id",  # the name links to 单位全景
        "category_l2",
        "l2_name",
        "title",
        "detail",
        "status",
        "measures",
        "measures_done",
        "is_repeat",
        "is_rebound",
    )
    event = table(shown, key=f"{key}_findings", height=300, selectable=True)
    row = selected_row(event)
    if row is not None and row < detail.height:
        finding = detail.row(row, named=True)
        measures_of(
            rd,
            scope,
            int(finding["finding_id"]),
            key=f"{key}_measures",
            heading=f"{finding['unit_name']}｜{finding['title']}",
            detail=finding["detail"],
        )


def measures_of(
    rd: Reader,
    scope: Scope,
    finding_id: int,
    *,
    key: str,
    heading: str = "",
    detail: str | None = None,
) -> None:
    if heading:
        st.markdown(f"**{md(heading)}**")
    if detail:
        st.markdown(md(detail))
    measures = rd.query("measures_of_findings", {"finding_ids": [finding_id], "as_of": scope.as_of})
    table(
        labels.status_labels(measures, finding=False).select(
            "text",
            "lead_person",
            "department",
            "deadline_text",
            "deadline",
            "status",
            "status_text",
            "completed_on",
        ),
        key=key,
    )
