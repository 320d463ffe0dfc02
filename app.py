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
    APPROVE,
    BRIEFING,
    EDIT_CONFIG,
    IMPORT,
    MANAGE_USERS,
    REPORT,
    REVIEW,
    SQL,
    VIEW_AUDIT,
    VIEW_PAGES,
    Access,
)
from xuncha.ui import chinese, notices, rectify  # noqa: E402

ICON = Path(__file__).resolve().parent / "xuncha" / "assets" / "icon.png"
# A local icon: a :material: page icon would be fetched from an external font server.
st.set_page_config(page_title="巡察数据驾驶舱", page_icon=str(ICON), layout="wide")

# (file, title, icon, url path, permission needed)
PAGES = [
    # The first screen after sign-in (served at "/", where links to the old 总览 land).
    ("pages/attention.py", "关注事项", ":material/priority_high:", None, VIEW_PAGES),
    ("pages/overview.py", "总览", ":material/dashboard:", "overview", VIEW_PAGES),
    ("pages/distribution.py", "问题分布", ":material/grid_on:", "distribution", VIEW_PAGES),
    ("pages/progress.py", "整改进度", ":material/task_alt:", "progress", VIEW_PAGES),
    ("pages/repeats.py", "屡查屡犯", ":material/replay:", "repeats", VIEW_PAGES),
    ("pages/ecology.py", "政治生态", ":material/balance:", "ecology", VIEW_PAGES),
    ("pages/revisit.py", "回头看候选", ":material/history:", "revisit", VIEW_PAGES),
    ("pages/unit.py", "单位全景", ":material/domain:", "unit", VIEW_PAGES),
    ("pages/ecology_config.py", "研判配置", ":material/tune:", "ecology-config", EDIT_CONFIG),
    ("pages/evaluation.py", "整改成效评估", ":material/grading:", "evaluation", VIEW_PAGES),
    ("pages/compare.py", "对比分析", ":material/compare_arrows:", "compare", VIEW_PAGES),
    ("pages/briefing.py", "领导简报", ":material/article:", "briefing", BRIEFING),
    ("pages/sql_console.py", "数据查询", ":material/terminal:", "sql", SQL),
    ("pages/ledger_import.py", "数据导入", ":material/upload_file:", "import", IMPORT),
    ("pages/rectify_report.py", "整改填报", ":material/edit_note:", "rectify-report", REPORT),
    ("pages/rectify_review.py", "整改审核", ":material/fact_check:", "rectify-review", REVIEW),
    ("pages/rectify_close.py", "整改销号", ":material/verified:", "rectify-close", APPROVE),
    # Anyone a notice can be addressed to (notices.PERMISSIONS: any of them).
    ("pages/notices.py", "预警提醒", ":material/notifications:", "notices", notices.PERMISSIONS),
]
# The work pages of online rectification: their own scope (the account's), not the filters.
RECTIFY_PAGES = {"整改填报", "整改审核", "整改销号", "预警提醒"}
ADMIN_PAGES = [
    ("pages/admin.py", "用户管理", ":material/manage_accounts:", "admin", MANAGE_USERS),
    ("pages/audit_log.py", "审计日志", ":material/policy:", "audit", VIEW_AUDIT),
]


def pages_for(
    entries: list[tuple[str, str, str, str | None, str | tuple[str, ...]]],
    counts: dict[str, int] | None = None,
) -> list[st.Page]:
    """The pages this session may open (a tuple of permissions: any of them); a title shows
    its pending count, if any."""
    out = []
    for file, base, icon, url, permission in entries:
        needed = permission if isinstance(permission, tuple) else (permission,)
        if not any(ui.can(p) for p in needed):
            continue
        title = rectify.titled(base, (counts or {}).get(base, 0))
        if url is None:
            out.append(st.Page(file, title=title, icon=icon, default=True))
        else:
            out.append(st.Page(file, title=title, icon=icon, url_path=url))
    return out


BASE_TITLES = {url: title for _, title, _, url, _ in PAGES if url}


def nav_counts(reader: ui.CachedReader, shown: Access) -> dict[str, int]:
    """The pending work of this account's scope, by page: 待审核 for reviewers, 待销号 and
    延期待审批 for the office, returned claims awaiting a new report for a unit."""
    recent = notices.recent_count(reader, shown)
    if not any(shown.can(p) for p in (REPORT, REVIEW, APPROVE)):
        return {"预警提醒": recent}
    counts = rectify.queue_counts(reader, shown)
    return {
        "整改填报": counts.returned_open if shown.can(REPORT) else 0,
        "整改审核": counts.pending_review if shown.can(REVIEW) else 0,
        "整改销号": counts.to_close if shown.can(APPROVE) else 0,
        "预警提醒": recent,
    }


def main() -> None:
    chinese.translate()  # Streamlit's and plotly's own texts in Chinese, the login page too
    reader = ui.reader_or_stop()
    me = ui.login_gate(reader)
    shown = ui.access()  # the previewed user's access while an administrator previews
    counts = nav_counts(reader, shown)
    sections = {"巡察数据驾驶舱": pages_for(PAGES, counts)}
    notices.toast_once(counts.get("预警提醒", 0))  # each person's own notices, at sign-in
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

    # Every page listed (Streamlit folds a long menu after ten items behind "show more").
    page = st.navigation(sections, expanded=True)
    ui.page_style()  # layouts that hold, the print stylesheet, the watermark
    ui.user_bar()
    title = BASE_TITLES.get(page.url_path, page.title)
    # The page, its filters and its export in one of the process's page-run slots: the
    # menu and the header above are drawn while a run waits for one.
    with ui.page_run_slot():
        # The shared filters belong to the data pages, not to administration nor to the work
        # pages of rectification.
        if shown.can(VIEW_PAGES) and title not in {t for _, t, *_ in ADMIN_PAGES} | RECTIFY_PAGES:
            ui.sidebar_filters(reader)
        ui.record_page_view(title)
        ui.begin_page_record(title)
        page.run()
        # 导出本页 under every data page (those shown to whoever may view the data pages).
        if title in {t for _, t, _, _, p in PAGES if p == VIEW_PAGES}:
            ui.page_export_button(title, reader=reader, scope=ui.current_scope(reader))


# st.stop(), st.rerun() and st.switch_page() are not Exceptions: they pass through. Any error,
# before a page (the user database, the audit trail) or in it, shows an incident id only.
try:
    main()
except Exception as exc:
    ui.incident(exc)
