"""巡察数据驾驶舱: the entry point. Declares the pages, runs the shared sidebar filters, then
the chosen page."""

from pathlib import Path

import streamlit as st

from xuncha import ui

ICON = Path(__file__).resolve().parent / "xuncha" / "assets" / "icon.png"
# A local icon: a :material: page icon would be fetched from an external font server.
st.set_page_config(page_title="巡察数据驾驶舱", page_icon=str(ICON), layout="wide")

PAGES = [
    st.Page(
        "pages/overview.py",
        title="总览",
        icon=":material/dashboard:",
        default=True,
    ),
    st.Page(
        "pages/distribution.py",
        title="问题分布",
        icon=":material/grid_on:",
        url_path="distribution",
    ),
    st.Page("pages/progress.py", title="整改进度", icon=":material/task_alt:", url_path="progress"),
    st.Page("pages/repeats.py", title="屡查屡犯", icon=":material/replay:", url_path="repeats"),
    st.Page("pages/ecology.py", title="政治生态", icon=":material/balance:", url_path="ecology"),
    st.Page("pages/sql_console.py", title="数据查询", icon=":material/terminal:", url_path="sql"),
    st.Page(
        "pages/ledger_import.py", title="数据导入", icon=":material/upload_file:", url_path="import"
    ),
]

page = st.navigation({"巡察数据驾驶舱": PAGES})
reader = ui.reader()
ui.sidebar_filters(reader)
page.run()
