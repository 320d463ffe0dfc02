"""巡察数据驾驶舱: the entry point. Declares the pages, runs the shared sidebar filters, then
the chosen page."""

import streamlit as st

from xuncha import ui

st.set_page_config(
    page_title="巡察数据驾驶舱", page_icon=":material/account_balance:", layout="wide"
)

PAGES = [
    st.Page(
        "pages/overview.py",
        title="总览",
        icon=":material/dashboard:",
        url_path="overview",
        default=True,
    ),
    st.Page(
        "pages/distribution.py",
        title="问题分布",
        icon=":material/grid_on:",
        url_path="distribution",
    ),
]

page = st.navigation(PAGES)
st.sidebar.markdown("### 巡察数据驾驶舱")
reader = ui.reader()
ui.sidebar_filters(reader)
page.run()
