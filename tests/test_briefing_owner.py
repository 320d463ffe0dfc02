"""Whose archived briefings a user may list and draft again, and the files a briefing is
written as (xuncha.briefing, without drafting one from the figures)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import docx
import pytest

from tests.builders import StoreBuilder
from xuncha import briefing
from xuncha.auth import Access
from xuncha.briefing import archive
from xuncha.briefing.model import Briefing, Paragraph, Section
from xuncha.store import Store


def _briefing() -> Briefing:
    return Briefing(
        title="关于测试的报告",
        subtitle_lines=["（截至2026年11月20日）"],
        sections=[Section(key="overall", heading="总体情况", blocks=[Paragraph("一段文字。")])],
        scope_text="第一轮",
        as_of="2026-11-20",
    )


@pytest.fixture()
def kept(tmp_path: Path) -> tuple[Store, str]:
    """A store with one archived draft, by 起草人."""
    b = StoreBuilder()
    b.unit("市财政局")
    store = b.build(tmp_path / "store")
    brief_id = archive.save_draft(store, _briefing(), {"data_version": 1}, user="起草人")
    return store, brief_id


def test_unscoped_roles_see_every_briefing_and_scoped_ones_only_their_own() -> None:
    assert briefing.archive_owner(Access.system("任何人")) is None
    assert briefing.archive_owner(Access.for_role("领导", "leader")) is None
    assert briefing.archive_owner(Access.for_role("办", "office")) is None
    group = Access.for_role("组员", "group", units=["市财政局"])
    assert briefing.archive_owner(group) == "组员"
    case = Access.for_role("案管", "case", rounds=["第一轮"])
    assert briefing.archive_owner(case) == "案管"
    # A role that may not draft briefings at all sees no one's but its own either.
    assert briefing.archive_owner(Access.for_role("只读", "viewer")) == "只读"


def test_a_scoped_user_may_not_draft_another_users_briefing_again(
    kept: tuple[Store, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, brief_id = kept
    other = Access.for_role("组员", "group", units=["市财政局"])
    with pytest.raises(archive.ArchiveError) as caught:
        briefing.regenerate_as(store, brief_id, other)
    assert str(caught.value) == "组员：只能重新生成本人起草的简报"
    asked: list[str] = []

    def regenerate(store: Store, briefing_id: str) -> Any:
        asked.append(briefing_id)
        return _briefing(), True

    monkeypatch.setattr(briefing, "regenerate", regenerate)
    author = Access.for_role("起草人", "group", units=["市财政局"])
    assert briefing.regenerate_as(store, brief_id, author)[1] is True
    assert briefing.regenerate_as(store, brief_id, Access.for_role("办", "office"))[1] is True
    assert asked == [brief_id, brief_id]
    with pytest.raises(archive.ArchiveError):  # an unknown id stays the archive's error
        briefing.regenerate_as(store, "20260101-000000-abcdef", author)


def test_a_briefing_without_charts_is_written_as_docx_only_when_no_pdf_is_asked() -> None:
    data, pdf, note = briefing.render_files(_briefing(), pdf=False)
    assert pdf is None and note is None
    document = docx.Document(io.BytesIO(data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "关于测试的报告" in text and "一段文字。" in text
