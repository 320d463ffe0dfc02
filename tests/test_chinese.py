"""Chinese for the frontends' own texts (xuncha/ui/chinese.py), times in the configured zone
(labels.shown_time), the 审计日志 page in Chinese, and `streamlit run app.py`'s adoption being
inert outside a real server."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.builders import real_copy
from tests.conftest import AS_OF
from xuncha import audit, labels
from xuncha.store import Store
from xuncha.ui import chinese, server

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z]{2,}")
# Proper names a Chinese text may keep.
NAMES = {"CSV", "PNG", "JSON", "Plotly", "PDF", "Word", "Excel", "MB", "KB", "GB"}


def english_words(text: str) -> set[str]:
    """English words outside the names allowed; a checksum (校验值, hex) is not a word."""
    return set(WORD.findall(re.sub(r"\b[0-9a-f]{8,}…?", "", text))) - NAMES


# -- the table ---------------------------------------------------------------------------------


@pytest.mark.parametrize("english", sorted(chinese.TEXTS))
def test_every_entry_is_chinese(english: str) -> None:
    zh = chinese.TEXTS[english]
    assert zh.strip() and CJK.search(zh), f"{english!r} → {zh!r} is not Chinese"
    assert not english_words(zh), f"{english!r} → {zh!r} keeps English"


def _python_pattern(replacement: str) -> str:
    return re.sub(r"\$(\d)", r"\\\1", replacement)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Limit 20MB per file", "单个文件不超过 20 MB"),
        ("20MB per file", "单个文件不超过 20 MB"),
        ("Limit 20MB per file • XLSX, XLS, CSV", "单个文件不超过 20 MB • XLSX, XLS, CSV"),
        ("Help for 统计截至日期", "统计截至日期：说明"),
        ("year, 统计截至日期", "年，统计截至日期"),
        ("轮次范围 — start", "轮次范围 — 起"),
        ("science icon", "图标"),
        ("View 3 more", "展开其余 3 项"),
    ],
)
def test_patterns_translate_whole_strings(text: str, expected: str) -> None:
    hits = [
        re.sub(pattern, _python_pattern(to), text)
        for pattern, to in chinese.PATTERNS
        if re.search(pattern, text)
    ]
    assert hits and hits[0] == expected
    for pattern, _ in chinese.PATTERNS:  # anchored: a pattern never rewrites part of a text
        assert pattern.startswith("^") and pattern.endswith("$")


def test_the_script_receives_the_table() -> None:
    script = chinese.script()
    assert "__ZH_TABLE__" not in script
    start = script.rindex("})(") + 3
    data = json.loads(script[start : script.rindex(");")])
    assert data == chinese.table()
    assert data["texts"]["Sort ascending"] == "升序排列"
    assert data["texts"]["Zoom"] == chinese.PLOTLY_TEXTS["Zoom"]
    # Column kinds are words too common to replace anywhere: apart, for the column menu only.
    assert data["kinds"]["text"] == "文本列" and "text" not in data["texts"]
    assert all(re.search(r"[\u4e00-\u9fff]", zh) for zh in data["kinds"].values())
    assert "stDataFrameColumnMenu" in script
    assert "</script" not in script.lower().replace("<\\/", "")


def test_plotly_config_carries_its_locale() -> None:
    config = chinese.PLOTLY_CONFIG
    locale = config["locales"][config["locale"]]
    assert locale["dictionary"] == chinese.PLOTLY_TEXTS
    assert len(locale["format"]["months"]) == 12 and len(locale["format"]["days"]) == 7


# -- times -------------------------------------------------------------------------------------


def test_times_are_shown_in_the_configured_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(labels.TIMEZONE_ENV, raising=False)
    assert labels.shown_time("2026-11-25T09:12:03.512Z") == "2026-11-25 17:12"
    assert labels.shown_time("2026-11-25T20:00:00Z", seconds=True) == "2026-11-26 04:00:00"
    aware = dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.UTC)
    assert labels.shown_time(aware) == "2026-01-01 08:30"
    assert labels.shown_time(None) == "—" and labels.shown_time("") == "—"
    monkeypatch.setenv(labels.TIMEZONE_ENV, "UTC")
    assert labels.shown_time("2026-11-25T09:12:03.512Z") == "2026-11-25 09:12"
    assert labels.shown_time(aware) == "2026-01-01 00:30"
    monkeypatch.setenv(labels.TIMEZONE_ENV, "Europe/Berlin")
    assert labels.shown_time(aware) == "2026-01-01 01:30"


def test_a_naive_time_is_the_servers_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(labels.TIMEZONE_ENV, "Asia/Shanghai")
    naive = dt.datetime(2026, 5, 1, 12, 0)
    expected = naive.astimezone().astimezone(labels.timezone()).strftime("%Y-%m-%d %H:%M")
    assert labels.shown_time(naive) == expected
    now = labels.local_now()
    assert now.tzinfo is None and now.microsecond == 0
    shanghai = dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)
    assert abs((shanghai.replace(tzinfo=None) - now).total_seconds()) < 5


def test_an_unknown_zone_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(labels.TIMEZONE_ENV, "Mars/Olympus")
    with pytest.raises(ValueError, match="XUNCHA_TIMEZONE"):
        labels.shown_time("2026-11-25T09:12:03Z")


# -- the audit log in Chinese ------------------------------------------------------------------


def recorded_detail_keys() -> set[str]:
    """Every keyword the source passes to a `record(...)` call (audit.record, ui.record)."""
    keys: set[str] = set()
    files = [*(ROOT / "xuncha").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "record":
                keys |= {k.arg for k in node.keywords if k.arg}
    return keys


def test_every_recorded_detail_has_a_chinese_name() -> None:
    keys = recorded_detail_keys()
    assert {"client", "page", "filters", "sql"} <= keys | set(chinese.AUDIT_FIELDS)
    missing = sorted(keys - set(chinese.AUDIT_FIELDS))
    assert not missing, f"details recorded without a Chinese name: {missing}"
    for key, name in chinese.AUDIT_FIELDS.items():
        assert CJK.search(name) or name in NAMES, (key, name)


def test_details_read_as_chinese_field_value_text() -> None:
    text = chinese.audit_details(
        {
            "client": "127.0.0.1",
            "filters": {"asof": "2026-11-20", "peer": "市直部门"},
            "truncated": False,
            "sha256": "ab" * 32,
            "units": ["市财政局", "市审计局"],
            "replaced": None,
        }
    )
    assert text == (
        "客户端地址：127.0.0.1；筛选条件：统计截至 2026-11-20，同类组 市直部门；已截断：否；"
        "校验值：abababababab…；单位：市财政局、市审计局；替换：—"
    )
    assert chinese.audit_action("page_view") == audit.ACTIONS["page_view"]
    assert chinese.audit_action("download_refused") == "下载被拒绝"
    assert chinese.audit_action("never_recorded") == "其他操作"


@pytest.fixture()
def audited(
    demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Store, str]]:
    store, users = real_copy(demo_store, tmp_path / "store")
    users.add_user("审计员", "auditor", actor="test", password="Pass-Word-2026!x")
    audit.record(store.root, user="审计员", action="sql_query", sql="SELECT 1", truncated=False)
    monkeypatch.setenv("XUNCHA_DB", str(store.root))
    monkeypatch.delenv(labels.TIMEZONE_ENV, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield store, users.start_session(users.access_for("审计员"))
    st.cache_data.clear()
    st.cache_resource.clear()


def test_the_audit_page_reads_in_chinese(audited: tuple[Store, str]) -> None:
    store, token = audited
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["_token"] = token
    at.run()
    at.switch_page("pages/audit_log.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = at.dataframe[0].value
    assert list(shown.columns) == ["序号", "时间（北京时间）", "用户", "操作", "详情"]
    entries = {e.seq: e for e in audit.entries(store.root)}
    for row in shown.to_dict("records"):
        entry = entries[row["序号"]]
        assert row["时间（北京时间）"] == labels.shown_time(entry.time, seconds=True)
        assert row["操作"] == chinese.audit_action(entry.action)
        # A query's own text is SQL, written by its user: every other field is Chinese.
        fields = [f for f in row["详情"].split("；") if not f.startswith("查询语句：")]
        assert not english_words("；".join(fields)), row["详情"]
    query = next(r for r in shown.to_dict("records") if r["操作"] == audit.ACTIONS["sql_query"])
    assert query["详情"] == "查询语句：SELECT 1；已截断：否"


# -- streamlit run app.py ----------------------------------------------------------------------


def test_adoption_is_inert_outside_a_real_server() -> None:
    """AppTest and plain imports have no real Runtime: nothing is switched or wrapped."""
    from streamlit.runtime.pages_manager import PagesManager

    before = PagesManager.uses_pages_directory
    server.adopt_running_server()
    assert PagesManager.uses_pages_directory == before
