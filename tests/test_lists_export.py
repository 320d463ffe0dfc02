"""Long lists: a page fetches only the rows it shows (at most ui.TABLE_MAX_ROWS) and says
the total; its export fetches the whole list, and only when the button is clicked."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st

from tests.conftest import AS_OF, show_at_most
from tests.test_pages import open_page
from xuncha import ui
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader
from xuncha.ui import download_buttons


@pytest.fixture()
def captured(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, dict[str, Any]]]:
    """The download builders each page registers, by key, instead of buttons."""
    monkeypatch.setenv("XUNCHA_DB", str(demo_store.root))
    show_at_most(monkeypatch, 40)  # the fixture's lists are longer than this
    found: dict[str, dict[str, Any]] = {}

    def capture(
        xlsx: Callable[[], bytes], csv_: Callable[[], bytes], *, key: str, **kwargs: Any
    ) -> None:
        found[key] = {"xlsx": xlsx, "csv": csv_, **kwargs}

    monkeypatch.setattr(download_buttons, "_download_pair", capture)
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


def test_an_export_built_on_click_outside_the_session_names_its_user(
    demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamlit builds a download in a worker thread with no script context, where
    st.session_state is not the user's: on a real store with a signed-in user the file is
    still built, and the export is audited under that user, page and rows."""
    import shutil
    import threading

    from argon2 import PasswordHasher
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP
    from xuncha import audit
    from xuncha.auth.users import UserStore

    target = tmp_path / "store"
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    real = Store(target)
    real.write(lambda con: con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'"))
    users = UserStore(target, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user("u_office", "office", actor="test", password="Xuncha-test-2026!")
    monkeypatch.setenv("XUNCHA_DB", str(target))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    show_at_most(monkeypatch, 40)
    found: dict[str, dict[str, Any]] = {}

    def button(label: str, *, data: Any, key: str, **kwargs: Any) -> bool:
        # The real pair of buttons is drawn (with its audited builders); the fake keeps
        # what Streamlit would run on click.
        stem, _, kind = key.rpartition("_")
        found.setdefault(stem, {})[kind] = data
        return False

    monkeypatch.setattr(st, "download_button", button)
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.clear_caches()
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["asof"] = AS_OF.isoformat()
        at.session_state["_token"] = users.start_session(users.access_for("u_office"))
        at.run()
        at.switch_page("pages/distribution.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        builders = found["dl_dist_detail"]
        out: dict[str, Any] = {}

        def click() -> None:
            try:
                out["csv"] = builders["csv"]()
                out["xlsx"] = builders["xlsx"]()
            except BaseException as exc:  # reported below, not lost in the thread
                out["error"] = exc

        worker = threading.Thread(target=click)
        worker.start()
        worker.join(120)
        assert "error" not in out, out.get("error")
        rows = csv_rows(out["csv"])
        assert len(rows) - 1 > 40  # the whole list, not the rows shown
        exports = [e for e in audit.entries(target) if e.action == "export"]
        assert len(exports) == 2
        assert {e.user for e in exports} == {"u_office"}
        # The page the session was on (AppTest's switch_page runs the page without app.py,
        # so the session still names the page app.py last recorded).
        assert {e.details["page"] for e in exports} == {at.session_state["_page_title"]}
        assert {e.details["rows"] for e in exports} == {len(rows) - 1}
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(out["xlsx"]))
        notes = " ".join(
            str(c.value) for sheet in book.worksheets[1:] for row in sheet.iter_rows() for c in row
        )
        assert "u_office" in notes
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
        ui.clear_caches()
