"""The Streamlit side of the dashboard: the only package of xuncha that imports streamlit.

One module per concern:

- `data`: the store, readers and caches keyed on the data version, `clear_caches`
- `login`: signing in (proxy header, session token, demo store, the login form)
- `session`: access and permissions, audit records, the user bar, incidents
- `sidebar`: the shared filters kept in the URL, `current_scope`
- `widgets`: page header, metrics, tables
- `unit_picker`: unit pickers that send a few searched options, not every unit
- `plotly_charts`: charts drawn inert, kept figures, selected points
- `drilldown`: the findings and measures behind a figure, keyword search
- `download_buttons`: audited downloads built on click
- `download_guard`: each download served only to the session that made it
- `page_record`: the tables and charts a page drew in this run, for 导出本页
- `sql`: the 数据查询 sandbox of this session
- `server`: `xuncha serve`'s Streamlit server
- `text`: data made inert in Markdown
- `style`: the stylesheet (layouts, print), the page script and the watermark

Pages use the names re-exported here (`from xuncha import ui; ui.table(...)`). A test that
replaces a function or constant patches it where the code reads it: in its module when
another function of the package calls it (e.g. `download_buttons._download_pair`).
"""

from xuncha.ui.data import (
    DEFAULT_STORE,
    FIGURE_CACHE_ENTRIES,
    CachedReader,
    built_figure,
    clear_caches,
    figure,
    is_demo_store,
    page_run_slot,
    prepare_sandbox,
    reader,
    reader_or_stop,
    store,
    users,
)
from xuncha.ui.download_buttons import (
    briefing_downloads,
    downloads,
    export_allowed,
    file_download,
    frame_downloads,
    page_export_button,
    query_downloads,
    template_download,
)
from xuncha.ui.download_guard import (
    DOWNLOAD_SECONDS,
    XSRF_COOKIE,
    DownloadGuard,
    download_refusal,
    install_download_guard,
)
from xuncha.ui.drilldown import findings_drilldown, measures_of, search_findings
from xuncha.ui.login import login_gate
from xuncha.ui.page_record import begin as begin_page_record
from xuncha.ui.plotly_charts import chart, selected_points
from xuncha.ui.server import serve
from xuncha.ui.session import (
    access,
    can,
    can_see_all_briefings,
    clue_details,
    incident,
    record,
    record_page_view,
    require,
    show_error,
    signed_in,
    start_preview,
    user_bar,
    user_name,
)
from xuncha.ui.sidebar import current_scope, resolver, sidebar_filters
from xuncha.ui.sql import sandbox
from xuncha.ui.style import page_style
from xuncha.ui.text import WORD_JOINER, md
from xuncha.ui.unit_picker import PICKER_CAP, PICKER_LIST_ALL, unit_multiselect, unit_selectbox
from xuncha.ui.widgets import (
    TABLE_MAX_ROWS,
    TABLE_PAGE_ROWS,
    count_metric,
    no_nulls,
    page_header,
    rate_metric,
    selected_row,
    table,
)

__all__ = [
    "DEFAULT_STORE",
    "DOWNLOAD_SECONDS",
    "FIGURE_CACHE_ENTRIES",
    "PICKER_CAP",
    "PICKER_LIST_ALL",
    "TABLE_MAX_ROWS",
    "TABLE_PAGE_ROWS",
    "WORD_JOINER",
    "XSRF_COOKIE",
    "CachedReader",
    "DownloadGuard",
    "access",
    "begin_page_record",
    "briefing_downloads",
    "built_figure",
    "can",
    "can_see_all_briefings",
    "chart",
    "clear_caches",
    "clue_details",
    "count_metric",
    "current_scope",
    "download_refusal",
    "downloads",
    "export_allowed",
    "figure",
    "file_download",
    "findings_drilldown",
    "frame_downloads",
    "incident",
    "install_download_guard",
    "is_demo_store",
    "login_gate",
    "md",
    "measures_of",
    "no_nulls",
    "page_export_button",
    "page_header",
    "page_run_slot",
    "page_style",
    "prepare_sandbox",
    "query_downloads",
    "rate_metric",
    "reader",
    "reader_or_stop",
    "record",
    "record_page_view",
    "require",
    "resolver",
    "sandbox",
    "search_findings",
    "selected_points",
    "selected_row",
    "serve",
    "show_error",
    "sidebar_filters",
    "signed_in",
    "start_preview",
    "store",
    "table",
    "template_download",
    "unit_multiselect",
    "unit_selectbox",
    "user_bar",
    "user_name",
    "users",
]
