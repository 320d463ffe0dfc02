"""导出本页: a page's tables and charts as one PDF or one workbook, with the 说明 and the
viewer's watermark (name, time, export id) on every page and sheet; the id is the one the
export's audit record carries."""

from __future__ import annotations

import ast
import datetime as dt
import io
import math
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import openpyxl
import plotly.graph_objects as go
import polars as pl
import pytest
import streamlit as st
from pdfminer.high_level import extract_pages, extract_text
from pdfminer.layout import LTFigure, LTImage, LTTextContainer

from tests.builders import real_copy, serving
from tests.conftest import AS_OF, ROOT
from xuncha import audit, page_export
from xuncha.briefing import render
from xuncha.page_export import ChartItem, PageMeta, TableItem
from xuncha.store import Store

PASSWORD = "Xuncha-Test-2026"
HYPERLINK = '=HYPERLINK("http://example.invalid","点我")'


def _items() -> list[page_export.Item]:
    rounds = pl.DataFrame(
        {
            "round_name": ["第一轮", "第二轮"],
            "findings": [12, 30],
            "completion_rate": [84.25, None],
            "deadline": [dt.date(2024, 1, 2), None],
        }
    )
    overdue = pl.DataFrame(
        {
            "unit_name": [f"单位{i:02d}" for i in range(45)],
            "title": [HYPERLINK] + [f"问题{i}" for i in range(1, 45)],
        }
    )
    figure = go.Figure(go.Bar(x=["第一轮", "第二轮"], y=[12, 30])).to_dict()
    return [
        TableItem("各轮次整改情况", rounds),
        ChartItem("各轮次问题数", figure),
        TableItem("逾期措施", overdue, total=120),
    ]


def _meta() -> PageMeta:
    now = dt.datetime(2026, 12, 7, 9, 30)
    return PageMeta(
        page="总览",
        scope="第一轮至第二轮",
        as_of=dt.date(2026, 11, 20),
        user="张三",
        export_id=page_export.new_export_id(now),
        exported_at=now,
        data="数据版本 3",
    )


def _no_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(figure: Mapping[str, Any], title: str) -> bytes:
        raise render.ChartRenderError("本机未安装 Chromium 浏览器", fatal=True)

    monkeypatch.setattr(page_export, "chart_picture", refuse)


def _fake_png() -> bytes:
    """A real PNG (so the writers can size and embed it), made without a browser."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (200, 100), (200, 60, 60)).save(out, format="PNG")
    return out.getvalue()


def _pdf_pages(data: bytes) -> list[str]:
    pages = []
    for layout in extract_pages(io.BytesIO(data)):
        pages.append("".join(e.get_text() for e in layout if isinstance(e, LTTextContainer)))
    return pages


def _top_line(data: bytes, watermark: str) -> str:
    """The topmost line of the first page, the watermark left aside."""
    page = next(iter(extract_pages(io.BytesIO(data))))
    boxes = [e for e in page if isinstance(e, LTTextContainer) and watermark not in e.get_text()]
    return max(boxes, key=lambda e: e.y1).get_text().strip().splitlines()[0]


def _pdf_images(data: bytes) -> int:
    def count(element: Any) -> int:
        if isinstance(element, LTImage):
            return 1
        if isinstance(element, LTFigure):
            return sum(count(e) for e in element)
        return 0

    return sum(count(e) for layout in extract_pages(io.BytesIO(data)) for e in layout)


def _cells(sheet: Any) -> list[Any]:
    return [c for row in sheet.iter_rows() for c in row]


# -- the files ---------------------------------------------------------------------------------


def test_the_workbook_has_a_sheet_per_table_the_charts_the_notes_and_the_watermark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(page_export, "chart_picture", lambda figure, title: _fake_png())
    meta = _meta()
    book = openpyxl.load_workbook(io.BytesIO(page_export.to_xlsx(_items(), meta)))
    assert book.sheetnames == ["表1 各轮次整改情况", "表2 逾期措施", "图表", "说明"]
    first = book["表1 各轮次整改情况"]
    header = page_export.HEADER_ROW + 1
    assert [c.value for c in first[header]] == ["轮次", "问题数", "整改完成率(%)", "现行时限"]
    assert [c.value for c in first[header + 1]][:2] == ["第一轮", 12]
    assert first.cell(header + 1, 3).value == pytest.approx(0.8425)  # shown as 84.25%
    assert first.cell(header + 1, 4).value == dt.datetime(2024, 1, 2)  # a date, not text
    second = book["表2 逾期措施"]
    assert second.cell(header + 1, 2).value == HYPERLINK
    assert second.cell(header + 1, 2).data_type == "s"
    assert any("共 120 行" in str(c.value) for c in _cells(second))
    assert len(book["图表"]._images) == 1
    notes = {
        r[0].value: r[1].value for r in book["说明"].iter_rows(min_row=header + 1) if r[0].value
    }
    assert notes["页面"] == "总览" and notes["统计截至"] == "2026-11-20"
    assert notes["范围（筛选条件）"] == "第一轮至第二轮" and notes["导出人"] == "张三"
    assert notes["导出编号"] == meta.export_id
    assert notes["口径：整改完成率"].startswith("全部整改措施")
    for sheet in book:
        # Printed: header and footer; on screen: the note row under the title.
        assert sheet.oddHeader.right.text == meta.watermark
        assert meta.watermark in sheet.oddFooter.left.text
        assert meta.watermark in sheet.cell(2, 1).value
        assert meta.export_id in meta.watermark and "张三" in meta.watermark
        assert sheet.page_setup.orientation == "landscape"
        # Nothing in any sheet is a formula.
        assert not [c.coordinate for c in _cells(sheet) if c.data_type == "f"], sheet.title


def test_the_pdf_reads_back_with_the_title_a_value_the_notes_and_the_watermark_on_every_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(page_export, "chart_picture", lambda figure, title: _fake_png())
    meta = _meta()
    data = page_export.to_pdf(_items(), meta)
    text = extract_text(io.BytesIO(data))
    assert _top_line(data, meta.watermark) == "总览"
    assert "统计截至 2026-11-20" in text and "范围：第一轮至第二轮" in text
    assert "各轮次整改情况" in text and "第一轮" in text and "84.25" in text
    assert HYPERLINK in text  # text, printed as it is
    assert f"共 120 行，此处前 {page_export.PDF_ROWS} 行" in text
    assert "单位29" in text and "单位30" not in text  # the first PDF_ROWS rows only
    assert "说明" in text and "导出人" in text and meta.export_id in text
    pages = _pdf_pages(data)
    assert len(pages) > 1
    for page in pages:
        assert meta.watermark in page
    assert _pdf_images(data) == 1


def test_a_chart_that_cannot_be_drawn_says_so_and_the_rest_still_exports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_chromium(monkeypatch)
    meta = _meta()
    pdf = page_export.to_pdf(_items(), meta)
    text = extract_text(io.BytesIO(pdf))
    assert page_export.CHART_MISSING in text and "84.25" in text and "导出人" in text
    assert _pdf_images(pdf) == 0
    book = openpyxl.load_workbook(io.BytesIO(page_export.to_xlsx(_items(), meta)))
    charts = [str(c.value) for c in _cells(book["图表"]) if c.value]
    assert any(v.startswith(page_export.CHART_MISSING) for v in charts)
    assert not book["图表"]._images
    assert "表1 各轮次整改情况" in book.sheetnames


@pytest.mark.skipif(render.find_browser() is None, reason="no Chromium on this machine")
def test_with_chromium_the_chart_is_a_picture_in_both_files() -> None:
    items = _items()
    pdf = page_export.to_pdf(items, _meta())
    assert _pdf_images(pdf) == 1
    assert page_export.CHART_MISSING not in extract_text(io.BytesIO(pdf))
    book = openpyxl.load_workbook(io.BytesIO(page_export.to_xlsx(items, _meta())))
    assert len(book["图表"]._images) == 1


def test_repeated_or_missing_titles_are_told_apart() -> None:
    frame = pl.DataFrame({"a": [1]})
    titled = page_export.titled([TableItem("督办", frame), TableItem("督办", frame)])
    assert [i.title for i in titled] == ["督办", "督办（2）"]
    assert page_export.titled([ChartItem("", {})])[0].title == "图表"


# -- the page ----------------------------------------------------------------------------------


@pytest.fixture()
def real(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:

    store, users = real_copy(demo_store, tmp_path / "store")
    users.add_user("领导甲", "leader", actor="test", password=PASSWORD)
    users.add_user("只读乙", "viewer", actor="test", password=PASSWORD)
    with serving(store, monkeypatch):
        yield store


def _catch_buttons(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The download buttons drawn (real ones), with what each builds on click, by key."""
    found: dict[str, Any] = {}
    real_button = st.download_button

    def button(label: str, *, data: Any, key: str, **kwargs: Any) -> Any:
        found[key] = data
        return real_button(label, data=b"", key=key, **kwargs)

    monkeypatch.setattr(st, "download_button", button)
    return found


def _page_with_export(file: str, title: str, pages: list[tuple[str, str]]) -> None:
    """What app.py does around a data page: sign in, filters, the page's record, the page
    (among the others, for its links to them), then 导出本页. (AppTest runs a page it
    switches to on its own, without the entry point, and its first screen is 关注事项:
    app.py's own lines are tested on that screen below.)"""
    from pathlib import Path

    import streamlit as st

    from xuncha import ui

    reader = ui.reader_or_stop()
    ui.login_gate(reader)
    entries = [
        st.Page(f, title=t, default=True)
        if f == file
        else st.Page(f, title=t, url_path=Path(f).stem.replace("_", "-"))
        for f, t in pages
    ]
    page = st.navigation(entries, position="hidden")
    ui.sidebar_filters(reader)
    ui.record_page_view(title)
    ui.begin_page_record(title)
    page.run()
    ui.page_export_button(title, reader=reader, scope=ui.current_scope(reader))


def _page(store: Store, user: str, file: str, title: str) -> Any:
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP
    from xuncha.auth import UserStore

    users = UserStore(store.root)
    root = Path(APP).parent
    pages = [(str(root / f), t) for f, t in _data_pages()]
    at = AppTest.from_function(
        _page_with_export, args=(str(root / file), title, pages), default_timeout=120
    )
    at.query_params["asof"] = AS_OF.isoformat()
    at.session_state["_token"] = users.start_session(users.access_for(user))
    at.run()
    assert not at.exception, (title, [e.value for e in at.exception])
    return at


def _overview(
    store: Store, user: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, dict[str, Any]]:
    """The overview as `user`; the download buttons drawn, with what each builds on click."""
    found = _catch_buttons(monkeypatch)
    at = _page(store, user, "pages/overview.py", "总览")
    assert [t.value for t in at.title] == ["总览"]
    return at, found


def _click(build: Any) -> bytes:
    """Run a button's builder as Streamlit does on click: in a worker thread."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["data"] = build()
        except BaseException as exc:
            out["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(180)
    if "error" in out:
        raise out["error"]
    data: bytes = out["data"]
    return data


def _plain(value: Any) -> Any:
    """A cell as a comparable value: blanks and "—" are None, dates their ISO text."""
    if value is None or value == "—":
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    if isinstance(value, int | float):
        return round(float(value), 6)
    text = str(value)
    link = re.match(r"^unit\?.*&name=(.*)$", text)
    # A unit name drawn as a link to its page shows the name the address ends with.
    return unquote(link.group(1)) if link else text


def _sheet_rows(sheet: Any, columns: Sequence[str]) -> list[list[Any]]:
    rates = [c.endswith("(%)") or c.endswith("率") for c in columns]
    out = []
    for row in sheet.iter_rows(min_row=page_export.HEADER_ROW + 2, values_only=True):
        if row[0] is None or str(row[0]).startswith("共 "):
            continue
        cells = list(row[: len(columns)])
        out.append(
            [
                _plain(v * 100 if rate and isinstance(v, float) else v)
                for v, rate in zip(cells, rates, strict=True)
            ]
        )
    return out


def test_the_overview_exports_what_it_shows_with_the_watermark_of_its_audit_record(
    real: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_chromium(monkeypatch)  # the chart's picture is tested above; here the page's tables
    at, found = _overview(real, "领导甲", monkeypatch)
    assert {"page_export_pdf", "page_export_xlsx"} <= set(found)
    labels = [b.label for b in at.get("download_button")]
    assert "导出本页 PDF" in labels and "导出本页 Excel" in labels

    book = openpyxl.load_workbook(io.BytesIO(_click(found["page_export_xlsx"])))
    record = [e for e in audit.entries(real.root) if e.action == "export"][-1]
    assert record.user == "领导甲" and record.details["page"] == "总览"
    assert record.details["file"].endswith(".xlsx")
    export_id = record.details["export_id"]
    tables = [s for s in book.sheetnames if s.startswith("表")]
    # First the KPI cards, as the page shows them: label, value, and what is under the value.
    assert tables[0] == "表1 主要指标"
    cards = book[tables[0]]
    header = [c.value for c in cards[page_export.HEADER_ROW + 1]][:3]
    assert header == ["指标", "数值", "说明"]
    kept = [r[:2] for r in cards.iter_rows(min_row=page_export.HEADER_ROW + 2, values_only=True)]
    assert kept == [(m.label, m.value) for m in at.metric] and len(kept) == 10
    tables = tables[1:]
    assert tables[0] == "表2 各轮次问题与整改完成率"  # titled by the section heading
    # Each sheet holds the table the page drew, cell for cell.
    shown = [d.value for d in at.dataframe]
    assert len(tables) == len(shown) >= 2
    for name, frame in zip(tables, shown, strict=True):
        sheet = book[name]
        header = [c.value for c in sheet[page_export.HEADER_ROW + 1]][: len(frame.columns)]
        assert header == list(frame.columns)
        expected = [[_plain(v) for v in row] for row in frame.itertuples(index=False)]
        assert _sheet_rows(sheet, header) == expected, name
    for sheet in book:
        assert sheet.oddHeader.right.text.split()[-1] == export_id
        assert export_id in sheet.cell(2, 1).value and "领导甲" in sheet.cell(2, 1).value

    pdf = _click(found["page_export_pdf"])
    record = [e for e in audit.entries(real.root) if e.action == "export"][-1]
    assert record.details["file"].endswith(".pdf") and record.details["export_id"] != export_id
    pages = _pdf_pages(pdf)
    assert all("领导甲 " in p and record.details["export_id"] in p for p in pages)
    assert "各轮次问题与整改完成率" in "".join(pages)
    assert audit.verify(real.root) == []


def test_a_role_without_the_export_right_sees_no_page_export(
    real: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    at, found = _overview(real, "只读乙", monkeypatch)
    assert at.dataframe  # the page shows its tables
    assert not found
    assert not [b for b in at.get("download_button") if "导出本页" in b.label]


def _data_pages() -> list[tuple[str, str]]:
    """(file, title) of app.py's PAGES needing VIEW_PAGES, read from its source (importing
    app.py would run the app)."""
    from tests.test_pages import APP

    tree = ast.parse(Path(APP).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PAGES":
            assert isinstance(node.value, ast.List)
            entries = [e for e in node.value.elts if isinstance(e, ast.Tuple)]
            return [
                (ast.literal_eval(e.elts[0]), ast.literal_eval(e.elts[1]))
                for e in entries
                if getattr(e.elts[4], "id", None) == "VIEW_PAGES"
            ]
    raise AssertionError("no PAGES in app.py")


def test_every_data_page_exports_both_files(real: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each data page's own tables (lists, dates, rates, long texts) and charts make a PDF
    and a workbook with one sheet per table the page drew; a page that drew neither offers
    no export."""
    _no_chromium(monkeypatch)
    monkeypatch.chdir(ROOT)
    found = _catch_buttons(monkeypatch)
    data_pages = _data_pages()
    assert len(data_pages) >= 7
    exported = []
    for file, title in data_pages:
        if file == "pages/attention.py":  # the first screen: app.py's test below
            continue
        found.clear()
        at = _page(real, "领导甲", file, title)
        assert at.title, title  # the page drew itself
        if not at.dataframe and not at.get("plotly_chart"):
            assert "page_export_pdf" not in found, title
            continue
        assert {"page_export_pdf", "page_export_xlsx"} <= set(found), title
        book = openpyxl.load_workbook(io.BytesIO(_click(found["page_export_xlsx"])))
        assert book.sheetnames[-1] == "说明", title
        assert [s for s in book.sheetnames if s.startswith("表")], title
        pdf = _click(found["page_export_pdf"])
        record = [e for e in audit.entries(real.root) if e.action == "export"][-1]
        assert _top_line(pdf, record.details["export_id"]) == title
        assert "导出编号" in extract_text(io.BytesIO(pdf)), title
        exported.append(title)
    assert {"总览", "问题分布", "整改进度", "屡查屡犯", "政治生态"} <= set(exported)


def test_app_offers_the_page_export_under_a_data_page_to_who_may_export(
    real: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """app.py's own lines, on the first screen (关注事项, a data page): the control comes
    after the page once the page has drawn a table, and only with the export right."""
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP
    from xuncha.auth import UserStore
    from xuncha.ui import page_record

    drawn = [TableItem("测试表", pl.DataFrame({"findings": [3]}))]
    monkeypatch.setattr(page_record, "items", lambda: drawn)
    users = UserStore(real.root)
    found = _catch_buttons(monkeypatch)
    builders = {}
    for user, offered in (("领导甲", True), ("只读乙", False)):
        found.clear()
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["asof"] = AS_OF.isoformat()
        at.session_state["_token"] = users.start_session(users.access_for(user))
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert [t.value for t in at.title] == ["关注事项"]
        assert ("page_export_xlsx" in found) == offered, user
        builders |= found
    book = openpyxl.load_workbook(io.BytesIO(_click(builders["page_export_xlsx"])))
    assert book.sheetnames == ["表1 测试表", "说明"]
    record = [e for e in audit.entries(real.root) if e.action == "export"][-1]
    assert record.user == "领导甲" and record.details["page"] == "关注事项"
    assert book["说明"].oddHeader.right.text.split()[-1] == record.details["export_id"]


def test_a_table_wider_than_the_page_is_printed_in_parts_each_with_its_first_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_chromium(monkeypatch)
    wide = pl.DataFrame(
        {"unit_name": ["市财政局", "市教育局"]} | {f"指标{i:02d}": [i, i * 2] for i in range(25)}
    )
    text = extract_text(io.BytesIO(page_export.to_pdf([TableItem("评分", wide)], _meta())))
    parts = math.ceil(25 / (page_export.PDF_COLUMNS - 1))
    assert f"分 {parts} 段显示" in text
    assert all(f"指标{i:02d}" in text for i in range(25))
    assert text.count("市财政局") >= parts  # the first column repeated in every part
