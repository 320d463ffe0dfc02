"""The findings behind a figure: the list of findings (a chart's bar, a table's row, a keyword
search) with, for the one selected, its measures as of the date; the keyword search itself,
audited."""

from __future__ import annotations

from typing import Any

import streamlit as st

from xuncha import labels
from xuncha.filters import Scope
from xuncha.store.reader import Reader
from xuncha.ui.data import params_key
from xuncha.ui.session import record
from xuncha.ui.text import md
from xuncha.ui.widgets import selected_row, table


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
