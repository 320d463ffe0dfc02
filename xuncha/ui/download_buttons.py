"""Download buttons: every file a page offers (.xlsx and .csv of a table, a query result, a
finalised briefing, the ledger template) is built only when its button is clicked, only for a
session allowed to export, recorded in the audit trail (file, size, SHA-256, rows, columns)
and issued to this session alone (download_guard)."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from xuncha import labels
from xuncha.auth import EXPORT
from xuncha.figures import DEFINITIONS
from xuncha.filters import Scope
from xuncha.ui import page_record
from xuncha.ui.download_guard import current_holder, guard_installed, issue
from xuncha.ui.session import acting_context, can, user_name
from xuncha.ui.widgets import freshness_text


def downloads(
    frame: pl.DataFrame | Callable[[], pl.DataFrame],
    *,
    key: str,
    page: str,
    title: str,
    scope: Scope,
    definitions: Mapping[str, str] | None = None,
    notes: tuple[str, ...] = (),
) -> None:
    """Two download buttons (.xlsx with a 说明 sheet, .csv with BOM); files are built only
    when clicked. The 说明 sheet states the definition (口径) of every rate the table holds,
    derived from its columns, plus any `definitions` given.

    `frame` may be a function returning the table: a long list whose page shows only its
    first rows passes the query of the whole list, run only when a button is clicked."""
    from xuncha import export

    scope_text = st.session_state.get("filters_text") or "全部"
    who = user_name()  # read here: the builders below run in a worker thread on click
    table = _once(frame if callable(frame) else lambda: frame)

    def meta() -> export.ExportMeta:
        columns = table().columns
        stated = {f.label: f.definition for k, f in DEFINITIONS.items() if k in columns}
        return export.ExportMeta(
            title=f"{page}：{title}",
            scope=scope_text,
            as_of=scope.as_of,
            user=who,
            definitions=stated | dict(definitions or {}),
            notes=notes,
        )

    stem = export.file_name(f"{page}_{title}", scope_text, "", scope.as_of).rstrip(".")
    _table_pair(table, meta, key=key, stem=stem, scope_text=scope_text)


def _once(build: Callable[[], pl.DataFrame]) -> Callable[[], pl.DataFrame]:
    """The table, built on the first call (a click) and kept for the .xlsx, .csv and audit;
    without the ids a page keeps only to link names (`labels.LINK_ONLY`): an export holds
    names, never internal ids."""
    built: list[pl.DataFrame] = []

    def table() -> pl.DataFrame:
        if not built:
            built.append(build().drop(labels.LINK_ONLY, strict=False))
        return built[0]

    return table


def _table_pair(
    table: Callable[[], pl.DataFrame],
    meta: Callable[[], Any],
    *,
    key: str,
    stem: str,
    scope_text: str,
) -> None:
    """The .xlsx (with its 说明 sheet from `meta`) and .csv of a table built on click."""
    from xuncha import export

    _download_pair(
        lambda: export.to_xlsx(table(), meta()),
        lambda: export.to_csv(table()),
        key=key,
        stem=stem,
        details=lambda: {"rows": table().height, "columns": table().columns, "scope": scope_text},
    )


def _downloads_served() -> bool:
    """Whether download buttons may be drawn: in a real server only behind DownloadGuard
    (`xuncha serve`); a server started otherwise (`streamlit run app.py`) would hand the
    files to anyone, so it offers none. AppTest has no server and draws them."""
    if guard_installed():
        return True
    from streamlit import runtime

    if runtime.exists() and type(runtime.get_instance()) is not runtime.Runtime:
        return True  # AppTest's stand-in runtime: nothing is served over HTTP
    st.caption("下载未启用：请用 xuncha serve 启动驾驶舱。")
    return False


def briefing_downloads(
    brief_id: str, docx: bytes, pdf: bytes | None, *, title: str, key: str = "brief"
) -> None:
    """The finalised briefing as .docx (and .pdf when one was made)."""
    if not export_allowed() or not _downloads_served():
        return
    stem = re.sub(r"[\\/:*?\"<>|\s]+", "_", title)[:60] or "简报"
    row = st.container(horizontal=True)
    with row:
        st.download_button(
            "下载 Word",
            data=_audited(lambda: docx, f"{stem}_{brief_id}.docx", briefing_id=brief_id),
            file_name=f"{stem}_{brief_id}.docx",
            mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            key=f"{key}_docx",
            icon=":material/description:",
            on_click="ignore",
        )
        if pdf is not None:
            st.download_button(
                "下载 PDF",
                data=_audited(lambda: pdf, f"{stem}_{brief_id}.pdf", briefing_id=brief_id),
                file_name=f"{stem}_{brief_id}.pdf",
                mime="application/pdf",
                key=f"{key}_pdf",
                icon=":material/picture_as_pdf:",
                on_click="ignore",
            )


def _audited(
    build: Callable[[], bytes],
    file_name: str,
    lazy: Callable[[], Mapping[str, Any]] | None = None,
    **details: Any,
) -> Callable[[], bytes]:
    """The file builder, recording the export (file, size, SHA-256, rows, columns) when the
    file is actually built, i.e. when the button is clicked; `lazy` gives details known only
    then (the rows of a list fetched on click). Streamlit runs it in a worker thread with no
    session, so who exports, from where and on which page is read now, in the page's run.
    The file is then issued to this session only (`download_guard.issue`): its URL serves nobody else."""
    context = acting_context()
    holder = current_holder()

    def run() -> bytes:
        data = build()
        context.record(
            "export",
            file=file_name,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            page=context.page,
            **details,
            **(dict(lazy()) if lazy is not None else {}),
        )
        issue(data, file_name, holder)
        return data

    return run


def _ticketed(build: Callable[[], bytes], file_name: str) -> Callable[[], bytes]:
    """A file builder whose file is issued to this session only (a file that is no export,
    such as the blank ledger template, is not audited but bound all the same)."""
    holder = current_holder()

    def run() -> bytes:
        data = build()
        issue(data, file_name, holder)
        return data

    return run


def file_download(
    label: str,
    build: Callable[[], bytes],
    file_name: str,
    *,
    mime: str,
    key: str,
    icon: str | None = None,
    **details: Any,
) -> None:
    """A download of one file built on click, for a session with export rights, recorded in
    the audit trail like every export (file, size, SHA-256, `details`)."""
    if export_allowed(EXPORT):
        _one_file(label, build, file_name, mime=mime, key=key, icon=icon, **details)


def scoped_download(
    label: str,
    build: Callable[[], bytes],
    file_name: str,
    *,
    mime: str,
    key: str,
    icon: str | None = None,
    **details: Any,
) -> None:
    """A download of one file whose builder checks the reader's scope in the data layer
    (an evidence file, a notice, the unit's own measures to fill in): no export right is
    needed, since nothing beyond what the role reports on can be built; recorded in the audit
    trail like every export and issued to this session only."""
    _one_file(label, build, file_name, mime=mime, key=key, icon=icon, **details)


def _one_file(
    label: str,
    build: Callable[[], bytes],
    file_name: str,
    *,
    mime: str,
    key: str,
    icon: str | None,
    **details: Any,
) -> None:
    if not _downloads_served():
        return
    st.download_button(
        label,
        data=_audited(build, file_name, **details),
        file_name=file_name,
        mime=mime,
        key=key,
        icon=icon,
        on_click="ignore",
    )


def export_allowed(permission: str = EXPORT) -> bool:
    """Whether this session may export; a caption says so where it may not."""
    if can(permission):
        return True
    st.caption("当前账号无导出权限。")
    return False


def _download_pair(
    xlsx: Any,
    csv: Any,
    *,
    key: str,
    stem: str,
    verb: str = "导出",
    details: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    permission: str = EXPORT,
) -> None:
    """An .xlsx and a .csv button side by side; the files are built only when clicked, and
    only for sessions allowed to export; every file built is audited."""
    if not export_allowed(permission) or not _downloads_served():
        return
    lazy = details if callable(details) else None
    extra = {} if callable(details) else dict(details or {})
    xlsx = _audited(xlsx, f"{stem}.xlsx", lazy, **extra)
    csv = _audited(csv, f"{stem}.csv", lazy, **extra)
    row = st.container(horizontal=True)
    with row:
        st.download_button(
            f"{verb} Excel",
            data=xlsx,
            file_name=f"{stem}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"{key}_xlsx",
            icon=":material/table_view:",
            on_click="ignore",
        )
        st.download_button(
            f"{verb} CSV",
            data=csv,
            file_name=f"{stem}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            icon=":material/download:",
            on_click="ignore",
        )


def list_downloads(
    build: Callable[[], pl.DataFrame], *, key: str, title: str, scope_text: str, as_of: Any
) -> None:
    """Downloads (.xlsx with its 说明 sheet, .csv) of a list read in the account's own scope
    rather than the sidebar's filters (the work queues of online rectification): built on
    click, audited, for a session with export rights."""
    from xuncha import export

    who = user_name()

    def meta() -> export.ExportMeta:
        return export.ExportMeta(title=title, scope=scope_text, as_of=as_of, user=who)

    stem = export.file_name(title, "", "", as_of).rstrip(".")
    _table_pair(_once(build), meta, key=key, stem=stem, scope_text=scope_text)


def frame_downloads(frame: pl.DataFrame, *, key: str, name: str, permission: str = EXPORT) -> None:
    """Downloads of a table that is not a view of the store (e.g. a validation report)."""
    from xuncha import export

    meta = export.ExportMeta(title=name, scope="—", user=user_name())
    _download_pair(
        lambda: export.to_xlsx(frame, meta),
        lambda: export.to_csv(frame),
        key=key,
        stem=export.file_name(name, "", "").rstrip("."),
        verb="下载",
        permission=permission,
        details={"rows": frame.height, "columns": frame.columns},
    )


def template_download() -> None:
    from xuncha import ledger

    if not _downloads_served():
        return

    def build() -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "template.xlsx"
            ledger.write_template(path)
            return path.read_bytes()

    st.download_button(
        "下载整改台账模板（.xlsx）",
        data=_ticketed(build, "整改台账模板.xlsx"),
        file_name="整改台账模板.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="template_download",
        icon=":material/download:",
        on_click="ignore",
    )


def query_downloads(full: Any, meta: Any, *, key: str, name: str) -> None:
    """Downloads of a query result: the query runs again, up to the export cap, only when a
    button is clicked (and is audited as an export)."""
    from xuncha import export

    _download_pair(
        lambda: export.to_xlsx(full(), meta),
        lambda: export.to_csv(full()),
        key=key,
        stem=export.file_name(name, "", "").rstrip("."),
    )


def page_export_button(page: str, *, reader: Any, scope: Scope) -> None:
    """导出本页: the page as it was drawn in this run (its KPI cards, tables and charts,
    recorded by page_record) as one PDF or one workbook, built on click for a session with
    export rights. Each file carries its own export id in its watermark, and the export's
    audit record carries the same id (`export_id`). Draws nothing for a session without
    export rights or a page that drew no card, table or chart."""
    from xuncha import export, page_export

    shown = page_record.items()
    if not shown or not can(EXPORT) or not _downloads_served():
        return
    scope_text = st.session_state.get("filters_text") or "全部"
    who = user_name()  # read here: the builders below run in a worker thread on click
    data = _data_line(reader, scope)

    def builder(write: Callable[..., bytes]) -> tuple[Callable[[], bytes], Callable[[], Any]]:
        made: list[str] = []

        def build() -> bytes:
            now = labels.local_now()  # the configured zone, as the screen's watermark
            meta = page_export.PageMeta(
                page=page,
                scope=scope_text,
                as_of=scope.as_of,
                user=who,
                export_id=page_export.new_export_id(now),
                exported_at=now,
                data=data,
            )
            made.append(meta.export_id)
            return write(shown, meta)

        def details() -> dict[str, Any]:
            return {
                "export_id": made[-1],
                "kind": "page",
                "tables": sum(isinstance(i, page_export.TableItem) for i in shown),
                "charts": sum(isinstance(i, page_export.ChartItem) for i in shown),
                "scope": scope_text,
            }

        return build, details

    stem = export.file_name(f"{page}_本页", scope_text, "", scope.as_of).rstrip(".")
    pdf, pdf_details = builder(page_export.to_pdf)
    xlsx, xlsx_details = builder(page_export.to_xlsx)
    st.divider()
    row = st.container(horizontal=True, vertical_alignment="center", key="page_export")
    with row:
        st.download_button(
            "导出本页 PDF",
            data=_audited(pdf, f"{stem}.pdf", pdf_details),
            file_name=f"{stem}.pdf",
            mime="application/pdf",
            key="page_export_pdf",
            help="本页所见的表格与图表（含说明）写成一个 PDF 文件，每页带水印",
            icon=":material/picture_as_pdf:",
            on_click="ignore",
        )
        st.download_button(
            "导出本页 Excel",
            data=_audited(xlsx, f"{stem}.xlsx", xlsx_details),
            file_name=f"{stem}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key="page_export_xlsx",
            help="本页的每个表格一个工作表，图表与说明各一个工作表，每个工作表带水印",
            icon=":material/table_view:",
            on_click="ignore",
        )


def _data_line(reader: Any, scope: Scope) -> str:
    """The data's freshness and version, as the page header states them."""
    return f"{freshness_text(reader, scope)} ｜ 数据版本 {int(reader.version)}"
