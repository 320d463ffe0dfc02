"""The 数据导入 page in AppTest: upload a real ledger, see it validated, import it, roll it back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests import ledger_samples as S
from xuncha import demo
from xuncha.auth import UserStore
from xuncha.store import Store, open_reader

APP = str(Path(__file__).resolve().parents[1] / "app.py")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture()
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    # Its own store holding the demo city's data as a real office store would (the demo
    # store itself takes no ledger): this test writes.
    store = Store(tmp_path / "store")

    def build(con: Any) -> None:
        demo.build(con)
        con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'")

    store.write(build, fresh=True)
    monkeypatch.setenv("XUNCHA_DB", str(store.root))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield store
    st.cache_data.clear()
    st.cache_resource.clear()


def _findings(store: Store) -> int:
    reader = open_reader(store)
    try:
        return int(reader.scalar("SELECT count(*) FROM findings"))
    finally:
        reader.close()


def _open_import_page() -> AppTest:
    """Signed in as the inspection office: after an import the store holds real data and
    no longer opens without a login."""
    users = UserStore(os.environ["XUNCHA_DB"])
    if users.get("office1") is None:
        users.add_user("office1", "office", actor="test", password="Xuncha-Test-2026")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["_token"] = users.start_session(users.access_for("office1"))
    at.run()  # through app.py, as a browser does
    at.switch_page("pages/ledger_import.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_import_page_renders_with_the_template_and_the_batches(own_store: Store) -> None:
    at = _open_import_page()
    assert at.title[0].value == "数据导入"
    assert any(
        getattr(b, "label", "") == "下载整改台账模板（.xlsx）" for b in at.get("download_button")
    )
    assert at.info and "请选择" in at.info[-1].value


def test_a_ledger_uploaded_on_the_page_is_validated_imported_and_rolled_back(
    own_store: Store, tmp_path: Path
) -> None:
    ledger = S.merged_xlsx(tmp_path / "住建局整改台账.xlsx")
    before = _findings(own_store)
    version = own_store.version()
    at = _open_import_page()
    at.get("file_uploader")[0].upload("住建局整改台账.xlsx", ledger.read_bytes(), XLSX).run()
    assert not at.exception, [e.value for e in at.exception]
    # The unit is preselected from the ledger's 填报单位 line. The demo city inspected it in
    # its 第五轮 after this ledger's 截至时间, which the page refuses; so: a new round.
    assert at.selectbox(key="import_unit").value.startswith("江城市住房")
    at.selectbox(key="import_round").set_value("（新建轮次）").run()
    at.text_input(key="import_new_round").set_value("十四届市委第八轮巡察")
    at.date_input(key="import_feedback").set_value(S.MERGED.feedback).run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="import_check").click().run()
    assert not at.exception
    assert _findings(own_store) == before and own_store.version() == version  # dry run
    at.button(key="import_commit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success, [e.value for e in at.error]
    assert _findings(own_store) == before + len(S.MERGED.findings)
    assert own_store.version() == version + 1
    # The new version's 数据查询 sandbox was prepared with it (and only the new one is kept).
    assert _prepared(own_store) == [version + 1]
    # The store now holds real data: without a login only the login page opens.
    anonymous = AppTest.from_file(APP, default_timeout=120)
    anonymous.run()
    assert [t.value for t in anonymous.title] == ["巡察数据驾驶舱"]
    assert [t.label for t in anonymous.text_input] == ["用户名", "密码"]

    at = _open_import_page()
    assert at.selectbox(key="rollback_batch").value == 2  # the batch just imported
    at.checkbox(key="rollback_sure").check().run()
    at.button(key="rollback_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _findings(own_store) == before
    assert _prepared(own_store) == [own_store.version()] == [version + 2]


def _prepared(store: Store) -> list[int]:
    """The versions whose whole-store sandbox is prepared beside the store."""
    return sorted(int(p.name[:6]) for p in (store.root / "sandboxes").glob("*.duckdb"))


def test_a_bad_ledger_is_refused_on_the_page_and_nothing_is_written(
    own_store: Store, tmp_path: Path
) -> None:
    before = (_findings(own_store), own_store.version())
    at = _open_import_page()
    at.get("file_uploader")[0].upload("假台账.xlsx", b"not a workbook at all", XLSX).run()
    assert not at.exception
    assert at.button(key="import_commit").disabled
    shown = " ".join(e.label for e in at.expander)
    assert "错误" in shown
    assert (_findings(own_store), own_store.version()) == before
