"""巡察数据驾驶舱: the entry point. Establishes who is signed in (or shows the login page),
declares the pages that user's role allows, runs the shared sidebar filters, then the chosen
page, recording the view. Unexpected errors show an incident id, never a traceback."""

from pathlib import Path

from xuncha.store.permissions import private_umask

# First: whatever the dashboard writes under the store (audit trail, sessions, sandboxes,
# briefings, configuration, a demo built on first start) is readable by its owner only.
private_umask()

import streamlit as st  # noqa: E402

from xuncha import ui  # noqa: E402
from xuncha.auth import (  # noqa: E402
    BRIEFING,
    EDIT_CONFIG,
    IMPORT,
    MANAGE_USERS,
    SQL,
    VIEW_AUDIT,
    VIEW_PAGES,
)

ICON = Path(__file__).resolve().parent / "xuncha" / "assets" / "icon.png"
# A local icon: a :material: page icon would be fetched from an external font server.
st.set_page_config(page_title="巡察数据驾驶舱", page_icon=str(ICON), layout="wide")

# (file, title, icon, url path, permission needed)
PAGES = [
    ("pages/overview.py", "总览", ":material/dashboard:", None, VIEW_PAGES),
    ("pages/distribution.py", "问题分布", ":material/grid_on:", "distribution", VIEW_PAGES),
    ("pages/progress.py", "整改进度", ":material/task_alt:", "progress", VIEW_PAGES),
    ("pages/repeats.py", "屡查屡犯", ":material/replay:", "repeats", VIEW_PAGES),
    ("pages/ecology.py", "政治生态", ":material/balance:", "ecology", VIEW_PAGES),
    ("pages/ecology_config.py", "研判配置", ":material/tune:", "ecology-config", EDIT_CONFIG),
    ("pages/briefing.py", "领导简报", ":material/article:", "briefing", BRIEFING),
    ("pages/sql_console.py", "数据查询", ":material/terminal:", "sql", SQL),
    ("pages/ledger_import.py", "数据导入", ":material/upload_file:", "import", IMPORT),
]
ADMIN_PAGES = [
    ("pages/admin.py", "用户管理", ":material/manage_accounts:", "admin", MANAGE_USERS),
    ("pages/audit_log.py", "审计日志", ":material/policy:", "audit", VIEW_AUDIT),
]


def pages_for(entries: list[tuple[str, str, str, str | None, str]]) -> list[st.Page]:
    out = []
    for file, title, icon, url, permission in entries:
        if not ui.can(permission):
            continue
        if url is None:
            out.append(st.Page(file, title=title, icon=icon, default=True))
        else:
            out.append(st.Page(file, title=title, icon=icon, url_path=url))
    return out


def main() -> None:
    reader = ui.reader_or_stop()
    me = ui.login_gate(reader)
    shown = ui.access()  # the previewed user's access while an administrator previews
    sections = {"巡察数据驾驶舱": pages_for(PAGES)}
    # Administration belongs to the signed-in administrator, not to the previewed user.
    admin = [
        st.Page(f, title=t, icon=i, url_path=u) for f, t, i, u, perm in ADMIN_PAGES if me.can(perm)
    ]
    if admin:
        sections["系统管理"] = admin
    if not sections["巡察数据驾驶舱"]:
        del sections["巡察数据驾驶舱"]
    if not sections:
        st.error("当前账号没有可访问的页面。", icon=":material/block:")
        ui.user_bar()
        st.stop()

    page = st.navigation(sections)
    ui.user_bar()
    # The shared filters belong to the data pages, not to administration.
    if shown.can(VIEW_PAGES) and page.title not in {title for _, title, *_ in ADMIN_PAGES}:
        ui.sidebar_filters(reader)
    ui.record_page_view(page.title)
    page.run()


# st.stop(), st.rerun() and st.switch_page() are not Exceptions: they pass through. Any error,
# before a page (the user database, the audit trail) or in it, shows an incident id only.
try:
    main()
except Exception as exc:
    ui.incident(exc)
