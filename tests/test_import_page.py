"""The 数据导入 page in AppTest: upload a real ledger, see it validated, import it, roll it back."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests import ledger_samples as S
from tests.builders import copy_store, plain_demo
from xuncha import audit, demo
from xuncha.auth import UserStore
from xuncha.ledger import import_ledgers
from xuncha.store import Store, open_reader

APP = str(Path(__file__).resolve().parents[1] / "app.py")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _real_demo(con: Any) -> None:
    """The demo city's data with the demo flag off, in one write (store_template "demo_real")."""
    demo.build(con)
    con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'demo'")


def _served(
    target: Path, monkeypatch: pytest.MonkeyPatch, template: Any, *, real: bool
) -> Iterator[Store]:
    """A store of the demo city's data served to AppTest (`real`: with the demo flag off, as
    an office's store holding real data, which needs a login), caches cleared around it: a
    copy of the session's build (store_template), written in one version as before."""
    source = template("demo_real", _real_demo) if real else template("demo", plain_demo)
    store = copy_store(source, target)
    monkeypatch.setenv("XUNCHA_DB", str(store.root))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield store
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture()
def own_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_template: Any
) -> Iterator[Store]:
    # Its own store holding the demo city's data as a real office store would (the demo
    # store itself takes no ledger): this test writes.
    yield from _served(tmp_path / "store", monkeypatch, store_template, real=True)


def _findings(store: Store) -> int:
    reader = open_reader(store)
    try:
        return int(reader.scalar("SELECT count(*) FROM findings"))
    finally:
        reader.close()


def _upload(at: AppTest, name: str, data: bytes) -> None:
    uploader: Any = at.get("file_uploader")[0]
    uploader.upload(name, data, XLSX).run()


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
    _upload(at, "住建局整改台账.xlsx", ledger.read_bytes())
    assert not at.exception, [e.value for e in at.exception]
    # The unit is preselected from the ledger's 填报单位 line. The demo city inspected it in
    # its 第五轮 after this ledger's 截至时间, which the page refuses; so: a new round.
    assert str(at.selectbox(key="import_unit").value).startswith("江城市住房")
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
    # Both writes are in the audit trail, through the same functions as the command line's.
    imported, undone = [e for e in audit.entries(own_store.root) if e.action in WRITES]
    assert (imported.action, imported.user, imported.details["source"]) == (
        "import",
        "office1",
        "page",
    )
    (file,) = imported.details["files"]
    assert file["file"] == "住建局整改台账.xlsx"
    assert file["sha256"] == hashlib.sha256(ledger.read_bytes()).hexdigest()
    assert (file["batch_id"], file["findings_added"], file["measures_added"]) == (2, 5, 9)
    assert imported.details["data_version"] == version + 1
    assert (undone.action, undone.user, undone.details["source"]) == ("rollback", "office1", "page")
    assert (undone.details["batch_id"], undone.details["data_version"]) == (2, version + 2)
    assert audit.verify(own_store.root) == []


WRITES = ("import", "rollback")


def _prepared(store: Store) -> list[int]:
    """The versions whose whole-store sandbox is prepared beside the store."""
    return sorted(int(p.name[:6]) for p in (store.root / "sandboxes").glob("*.duckdb"))


def test_a_bad_ledger_is_refused_on_the_page_and_nothing_is_written(
    own_store: Store, tmp_path: Path
) -> None:
    before = (_findings(own_store), own_store.version())
    at = _open_import_page()
    _upload(at, "假台账.xlsx", b"not a workbook at all")
    assert not at.exception
    assert at.button(key="import_commit").disabled
    shown = " ".join(e.label for e in at.expander)
    assert "错误" in shown
    assert (_findings(own_store), own_store.version()) == before


@pytest.fixture()
def demo_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_template: Any
) -> Iterator[Store]:
    # The demo store as `xuncha demo` builds it (demo = 'true'): opens without a login.
    monkeypatch.delenv("XUNCHA_DEMO_LOGIN", raising=False)
    yield from _served(tmp_path / "demo", monkeypatch, store_template, real=False)


def _choose_new_round(at: AppTest) -> None:
    at.selectbox(key="import_round").set_value("（新建轮次）").run()
    at.text_input(key="import_new_round").set_value(NEW_ROUND)
    at.date_input(key="import_feedback").set_value(S.MERGED.feedback).run()
    assert not at.exception, [e.value for e in at.exception]


NEW_ROUND = "十四届市委第八轮巡察"
ZJ_UNIT = "江城市住房和城乡建设局党组"


def test_the_demo_store_checks_a_ledger_but_refuses_to_import_it(
    demo_only: Store, tmp_path: Path
) -> None:
    ledger = S.merged_xlsx(tmp_path / "住建局整改台账.xlsx")
    before = (_findings(demo_only), demo_only.version())
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()  # no login: the demo opens as 演示用户
    at.switch_page("pages/ledger_import.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    _upload(at, "住建局整改台账.xlsx", ledger.read_bytes())
    _choose_new_round(at)
    infos = [i.value.replace("\\", "") for i in at.info]
    # Where real ledgers go, in the words of its users: never a server path.
    assert any("不能导入，演示数据保持不变" in i and "正式数据仓" in i for i in infos), infos
    assert not any(str(demo_only.root.parent) in i for i in infos), infos
    assert at.button(key="import_commit").disabled
    at.button(key="import_check").click().run()  # the 预检 still validates
    assert not at.exception, [e.value for e in at.exception]
    assert any("试运行" in i.value for i in at.info), [i.value for i in at.info]
    assert at.button(key="import_commit").disabled
    assert (_findings(demo_only), demo_only.version()) == before


def test_a_ledger_with_unreadable_statuses_shows_the_grouped_headline_and_an_annotated_copy(
    own_store: Store, tmp_path: Path
) -> None:
    path = S.merged_xlsx(tmp_path / "住建局整改台账.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    sheet["H6"], sheet["H7"] = "看情况", "差不多吧"  # two measures' 整改状态
    book.save(path)
    before = (_findings(own_store), own_store.version())
    at = _open_import_page()
    _upload(at, "住建局整改台账.xlsx", path.read_bytes())
    assert not at.exception, [e.value for e in at.exception]
    headlines = " ".join(e.value for e in at.error)
    assert "2 行：整改状态无法识别（可用：" in headlines, headlines
    labels = [getattr(b, "label", "") for b in at.get("download_button")]
    assert "下载标注问题的台账副本" in labels, labels
    assert at.button(key="import_commit").disabled
    assert (_findings(own_store), own_store.version()) == before


def _renumbered(tmp_path: Path) -> Path:
    """The unit's later ledger (截至 2024-09-30) with problems 1 and 2 numbered the other way."""
    path = S.merged_xlsx(tmp_path / "住建局整改台账_三季度.xlsx", progress=True, new_problem=False)
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    sheet["A6"], sheet["A9"] = 2, 1
    book.save(path)
    return path


def _held(store: Store) -> dict[str, Any]:
    """The finding count and what the store holds of problem 1 of the first ledger."""
    reader = open_reader(store)
    try:
        return {
            "findings": int(reader.scalar("SELECT count(*) FROM findings")),
            "p1": reader.scalar("SELECT count(*) FROM findings WHERE title = $t", {"t": S.P1}),
            "p1_seq": reader.scalar(
                "SELECT min(ledger_seq) FROM findings WHERE title = $t", {"t": S.P1}
            ),
        }
    finally:
        reader.close()


def _with_first_ledger(store: Store, tmp_path: Path) -> None:
    first = S.merged_xlsx(tmp_path / "住建局整改台账.xlsx")
    done = import_ledgers(
        store,
        [first],
        round_name=NEW_ROUND,
        unit_name=ZJ_UNIT,
        feedback_date=S.MERGED.feedback,
        user="test",
    )
    assert done.ok, done.message()
    st.cache_data.clear()
    st.cache_resource.clear()


def _upload_later_ledger(tmp_path: Path) -> AppTest:
    later = _renumbered(tmp_path)
    at = _open_import_page()
    _upload(at, later.name, later.read_bytes())
    at.selectbox(key="import_round").set_value(NEW_ROUND).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="import_unit").value == ZJ_UNIT
    return at


def test_a_renumbered_later_ledger_is_imported_only_after_its_pairings_are_confirmed(
    own_store: Store, tmp_path: Path
) -> None:
    _with_first_ledger(own_store, tmp_path)
    before, version = _held(own_store), own_store.version()
    at = _upload_later_ledger(tmp_path)
    at.button(key="import_check").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [editor] = at.data_editor
    table = editor.value
    marked = table["需确认"].tolist()
    assert marked[:2] == ["是", "是"] and "是" not in marked[2:]  # needing confirmation first
    assert set(table.loc[table["需确认"] == "是", "类型"]) == {"问题"}
    assert at.checkbox(key="import_pairing_ok").value is False
    assert at.button(key="import_commit").disabled  # not before the pairings are checked
    assert (_held(own_store), own_store.version()) == (before, version)

    at.checkbox(key="import_pairing_ok").check().run()
    assert not at.button(key="import_commit").disabled
    at.button(key="import_commit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success, [e.value for e in at.error]
    assert own_store.version() == version + 1
    # The held problems were updated (problem 1 now stands at 序号 2), none added twice.
    assert _held(own_store) == {**before, "p1_seq": "2"}


def test_a_later_ledger_imported_without_a_check_is_paused_with_its_pairing_table(
    own_store: Store, tmp_path: Path
) -> None:
    _with_first_ledger(own_store, tmp_path)
    before, version = _held(own_store), own_store.version()
    at = _upload_later_ledger(tmp_path)
    at.button(key="import_commit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("配对需要确认" in e.value for e in at.error), [e.value for e in at.error]
    assert (_held(own_store), own_store.version()) == (before, version)
    [editor] = at.data_editor
    assert (editor.value["需确认"] == "是").sum() == 2
    assert at.button(key="import_commit").disabled

    at.checkbox(key="import_pairing_ok").check().run()
    at.button(key="import_commit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert own_store.version() == version + 1
    assert _held(own_store)["findings"] == before["findings"]


def test_a_pairing_corrected_in_the_table_is_what_gets_imported(
    own_store: Store, tmp_path: Path
) -> None:
    _with_first_ledger(own_store, tmp_path)
    before, version = _held(own_store), own_store.version()
    at = _upload_later_ledger(tmp_path)
    at.button(key="import_check").click().run()
    [editor] = at.data_editor
    assert editor.value["台账内容"][0] == S.P1 and editor.key
    # The person decides problem 1 is a new problem: its 配对编号 cleared.
    at.session_state[editor.key] = {
        "edited_rows": {0: {"配对编号": None}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.checkbox(key="import_pairing_ok").check().run()
    at.run()  # a rerun keeps the decision
    at.button(key="import_commit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success, [e.value for e in at.error]
    assert own_store.version() == version + 1
    assert _held(own_store) == {**before, "findings": before["findings"] + 1, "p1": 2}
