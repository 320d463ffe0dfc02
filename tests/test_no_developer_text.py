"""No developer text where a user reads (issue 21 item 6): no section sign, no DOMAIN.md, no
hex digest, no "#<digits>" id, no "摘要 …" on any data page as 巡察办 and as 领导, in the Word
briefing, in an export's 说明 sheet; the ecology configuration is named by version and date."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import docx
import openpyxl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.builders import real_copy
from tests.conftest import AS_OF
from xuncha import briefing, export, figures
from xuncha.auth import UserStore
from xuncha.briefing import docx as briefing_docx
from xuncha.figures import ecology_config, ecology_names
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, open_reader

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "Xuncha-Test-2026"
PAGES = (
    "pages/overview.py",
    "pages/distribution.py",
    "pages/progress.py",
    "pages/repeats.py",
    "pages/ecology.py",
    "pages/revisit.py",
    "pages/evaluation.py",
    "pages/briefing.py",
    "pages/sql_console.py",
)
# A hex run of 8 or more with a letter and a digit (a digest), "#123" (an internal id), the
# section sign, DOMAIN(.md), "摘要 " (配置摘要/范围摘要 followed by a value).
HEX = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{8,}(?![0-9A-Za-z])")
BAD = (re.compile(r"§"), re.compile(r"DOMAIN"), re.compile(r"#\d+"), re.compile(r"摘要\s*\S"), HEX)


def developer_text(texts: Iterable[str]) -> list[str]:
    """The texts holding developer text, each with what was found."""
    found = []
    for text in texts:
        for pattern in BAD:
            hit = pattern.search(text)
            if hit:
                found.append(f"{hit.group(0)!r} in {text[:160]!r}")
                break
    return found


def test_the_checker_finds_what_it_looks_for() -> None:
    assert developer_text(["配置摘要 72fba9b35b74"]) and developer_text(["（DOMAIN.md §6）"])
    assert developer_text(["问题 #6692"]) and developer_text(["e1fd0a9c33b2"])
    assert not developer_text(
        ["统计截至 2024-06-30", "问题 3878 个", "研判配置 第3版（2026-11-02 修改）"]
    )
    assert not developer_text(["20261120", "简报编号 20261207-070000-a1b2c3"])


def page_texts(at: AppTest) -> list[str]:
    """Every text a reader sees: titles, headings, paragraphs, notes, messages, metrics,
    expander and tab labels, table headers and text cells."""
    texts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "error",
        "success",
        "exception",
        "code",
    ):
        texts += [str(e.value) for e in at.get(kind)]
    texts += [f"{m.label} {m.value}" for m in at.metric]
    texts += [e.label for e in at.expander] + [t.label for t in at.tabs]
    for frame in at.dataframe:
        value = frame.value
        texts += [str(c) for c in value.columns]
        for column in value.columns:
            if value[column].dtype == object:
                texts += [str(v) for v in value[column].dropna().head(200)]
    return texts


@pytest.fixture()
def real(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A copy of the demo data marked real, an office and a leader account, and a saved
    (numbered) ecology configuration, so the configuration's name is on the pages."""
    store, users = real_copy(demo_store, tmp_path / "store")
    for role in ("office", "leader"):
        users.add_user(f"u_{role}", role, actor="test", password=PASSWORD)
    config = figures.config_for_store(store.root)
    ecology_config.save_edited(
        store.root,
        config,
        weights=dict(config.weights),
        grades={**config.grades, "good": float(config.grades["good"]) + 1},
        caps=dict(config.caps),
        min_findings=int(config.min_findings),
    )
    monkeypatch.setenv("XUNCHA_DB", str(store.root))
    monkeypatch.delenv("XUNCHA_TRUSTED_USER_HEADER", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield store
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.mark.parametrize("role", ["office", "leader"])
def test_no_page_shows_developer_text(real: Store, role: str) -> None:
    users = UserStore(real.root)
    token = users.start_session(users.access_for(f"u_{role}"))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["_token"] = token
    at.run()
    found: dict[str, list[str]] = {}
    seen_name = False
    for page in PAGES:
        try:
            at.switch_page(page)
        except ValueError:  # not a page this role has
            continue
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        texts = page_texts(at)
        seen_name |= any("研判配置 第1版" in t for t in texts)
        bad = developer_text(texts)
        if bad:
            found[page] = bad
    assert found == {}
    assert seen_name  # the 政治生态 page names the configuration by its version


def test_the_configuration_keeps_its_name_and_the_defaults_are_named_so(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    default = figures.config_for_store(root)
    assert ecology_names.config_name(root, default) == ecology_names.DEFAULT_NAME
    first = ecology_config.save_edited(
        root,
        default,
        weights=dict(default.weights),
        grades=dict(default.grades),
        caps=dict(default.caps),
        min_findings=int(default.min_findings) + 1,
    )
    second = ecology_config.save_edited(
        root,
        figures.config_for_store(root),
        weights=dict(default.weights),
        grades=dict(default.grades),
        caps=dict(default.caps),
        min_findings=int(default.min_findings) + 2,
    )
    name1 = ecology_names.config_name(root, first.new_digest)
    name2 = ecology_names.config_name(root, second.new_digest)
    assert name1.startswith("研判配置 第1版（") and name2.startswith("研判配置 第2版（")
    # Back to the first values: the first name again, no third number.
    again = ecology_config.save_edited(
        root,
        figures.config_for_store(root),
        weights=dict(default.weights),
        grades=dict(default.grades),
        caps=dict(default.caps),
        min_findings=int(default.min_findings) + 1,
    )
    assert again.new_digest == first.new_digest
    assert ecology_names.config_name(root, figures.config_for_store(root)) == name1
    assert not developer_text([name1, name2])
    # A digest nobody numbered (an archive older than the register).
    assert ecology_names.config_name(root, "0" * 64) == ecology_names.UNKNOWN_NAME


def test_the_word_briefing_holds_no_developer_text(real: Store) -> None:
    reader = open_reader(real)
    try:
        request = briefing.content.BriefingRequest(
            Filters(as_of=AS_OF), ecology_config=figures.config_for_store(real.root)
        )
        _, draft = briefing.generate(
            real,
            reader,
            request,
            lambda f: resolve_scope(reader, f),
            user="起草人",
            scope_text="全部",
        )
    finally:
        reader.close()
    data = briefing_docx.write_docx(draft, chart_images={}, charts_note=None)
    document = docx.Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        texts += [cell.text for row in table.rows for cell in row.cells]
    for section in document.sections:
        texts += [p.text for p in section.footer.paragraphs]
    props = document.core_properties
    texts += [props.comments or "", props.keywords or "", props.subject or ""]
    assert any("研判配置 第1版" in t for t in texts)
    assert developer_text(texts) == []


def test_an_exports_notes_sheet_holds_no_developer_text(real: Store) -> None:
    from xuncha.sandbox import Sandbox

    reader = open_reader(real)
    try:
        scope = resolve_scope(reader, Filters(as_of=AS_OF))
    finally:
        reader.close()
    box = Sandbox.for_scope(real, scope, clue_details=False, cache=False)
    try:
        result = box.run("SELECT count(*) AS n FROM findings", user="测试")
        meta = box.export_meta(result, "SELECT count(*) AS n FROM findings", user="测试")
    finally:
        box.close()
    book = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(result.frame, meta)))
    notes = [str(c) for row in book["说明"].iter_rows(values_only=True) for c in row if c]
    assert any("当前数据" in n for n in notes)
    assert developer_text(notes) == []
