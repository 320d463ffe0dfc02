"""The 领导简报 page in AppTest: draft a round's briefing, edit a paragraph and write the
suggestions, finalise; the archive keeps the draft and the edited final, and the Word document
holds the edits and the generated figures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import AS_OF
from xuncha.briefing import archive
from xuncha.store import Store

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/briefing.py"


@pytest.fixture()
def store(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    target = tmp_path / "store"
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    monkeypatch.setenv("XUNCHA_DB", str(target))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield Store(target)
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page() -> AppTest:
    assert f'"{PAGE}"' in Path(APP).read_text(encoding="utf-8")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    found = [b for b in at.button if b.label == label]
    assert found, [b.label for b in at.button]
    return found[0]


def test_draft_edit_and_finalise(store: Store) -> None:
    at = open_page()
    assert at.title[0].value == "领导简报"
    round_box = at.selectbox(key="brief_round")
    assert round_box.value == 9  # the latest round first
    round_box.set_value(8)
    button(at, "起草简报").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    brief_id = at.session_state["brief_id"]
    headings = [m.value for m in at.markdown if m.value.startswith("#### ")]
    assert headings[0] == "#### 一、总体情况" and headings[-1] == "#### 七、下步工作建议"
    first = at.text_area(key="brief_p_0_0")
    assert first.value.startswith("截至2026年11月20日，十四届市委第六轮巡察共对")
    first.set_value("经修改的总体情况。")
    suggestions = [t for t in at.text_area if t.key.startswith("brief_p_6_")]
    assert suggestions and suggestions[0].value == ""
    suggestions[0].set_value("一是压实整改责任。\n\n二是加强日常监督。")
    at.run()
    button(at, "定稿并生成 Word 文档").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("已定稿并存档" in s.value for s in at.success)

    kept = archive.load(store, brief_id)
    assert kept.final is not None and kept.docx_path is not None
    assert kept.draft.sections[0].blocks[0].text.startswith("截至")  # type: ignore[union-attr]
    assert kept.final.sections[0].blocks[0].text == "经修改的总体情况。"  # type: ignore[union-attr]
    assert [b.text for b in kept.final.sections[-1].blocks] == [  # type: ignore[union-attr]
        "一是压实整改责任。",
        "二是加强日常监督。",
    ]
    text = "\n".join(p.text for p in docx.Document(str(kept.docx_path)).paragraphs)
    assert "经修改的总体情况。" in text and "二是加强日常监督。" in text
    assert "整改完成率" in text  # generated paragraphs of other sections stay


def test_archive_lists_and_regenerates(store: Store) -> None:
    at = open_page()
    at.selectbox(key="brief_round").set_value(8)
    button(at, "起草简报").click()
    at.run()
    brief_id = at.session_state["brief_id"]
    at.selectbox(key="brief_archive_pick").set_value(brief_id)
    at.run()
    assert any("尚未定稿" in c.value for c in at.caption)
    button(at, "按存档参数重新生成并核对").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("完全一致" in s.value for s in at.success)
