"""Long lists: a page fetches only the rows it shows (at most ui.TABLE_MAX_ROWS) and says
the total; its export fetches the whole list, and only when the button is clicked."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import streamlit as st

from tests.conftest import AS_OF
from tests.test_pages import open_page
from xuncha import ui
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader


@pytest.fixture()
def captured(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, dict[str, Any]]]:
    """The download builders each page registers, by key, instead of buttons."""
    monkeypatch.setenv("XUNCHA_DB", str(demo_store.root))
    monkeypatch.setattr(ui, "TABLE_MAX_ROWS", 40)  # the fixture's lists are longer than this
    found: dict[str, dict[str, Any]] = {}

    def capture(
        xlsx: Callable[[], bytes], csv_: Callable[[], bytes], *, key: str, **kwargs: Any
    ) -> None:
        found[key] = {"xlsx": xlsx, "csv": csv_, **kwargs}

    monkeypatch.setattr(ui, "_download_pair", capture)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield found
    st.cache_data.clear()
    st.cache_resource.clear()


def csv_rows(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_findings_list_shows_its_first_rows_and_exports_them_all(
    captured: dict[str, dict[str, Any]], demo_store: Store
) -> None:
    at = open_page("pages/distribution.py")
    reader = open_reader(demo_store)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
        whole = reader.query(
            "findings_detail", scope.params(unit_id=None, category=None, limit=10**7)
        )
    finally:
        reader.close()
    assert whole.height > 40
    shown = [f for f in at.dataframe if "具体问题" in f.value.columns]
    assert shown and len(shown[0].value) == 40
    notes = " ".join(str(c.value) for c in at.caption)
    assert f"共 {whole.height:,} 个问题" in notes
    assert f"共 {whole.height:,} 行，此处显示前 40 行" in notes
    builders = captured["dl_dist_detail"]
    rows = csv_rows(builders["csv"]())
    assert len(rows) - 1 == whole.height  # header + every finding, not the 40 shown
    ids = [int(r[0]) for r in rows[1:]]
    assert ids == whole["finding_id"].to_list()
    details = builders["details"]()
    assert details["rows"] == whole.height
