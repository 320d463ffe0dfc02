"""The 预警提醒 page's pieces: the signed-in user's notices (xuncha.rectify.notices.notices_for:
their own, a liaison's unit's, the office's 督办函), each document downloaded through the
scope check, the office's issuing of the day's notices with or without e-mail, the count in
the navigation and the note shown once at sign-in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import streamlit as st

from xuncha import audit
from xuncha.auth import APPROVE, REPORT, REVIEW, VIEW_PAGES, Access, PermissionDenied
from xuncha.ledger.workdays import CalendarError
from xuncha.rectify import mail, notices
from xuncha.store import StoreError
from xuncha.store.reader import Reader
from xuncha.ui import download_buttons
from xuncha.ui.data import clear_caches, prepare_sandbox, store
from xuncha.ui.session import access
from xuncha.ui.text import md

# Who may open the page: anyone a notice can be addressed to.
PERMISSIONS = (REPORT, REVIEW, APPROVE, VIEW_PAGES)
RECENT_DAYS = 7  # the navigation counts the notices of the last week
_OUTCOME = "notices_outcome"
_TOASTED = "notices_toasted"

COLUMNS = {
    "doc_number": "文号",
    "kind": "文书",
    "issued_on": "发文日期",
    "unit_name": "单位",
    "measures": "措施数",
    "colours": "预警",
    "recipients_text": "收件人",
}


def may_open(who: Access) -> bool:
    return any(who.can(p) for p in PERMISSIONS)


def header(rd: Reader) -> Access:
    who = access()
    if not may_open(who):
        st.error("没有查看预警提醒的权限。", icon=":material/block:")
        st.stop()
    st.title("预警提醒")
    st.caption(
        f"{md(who.display_name or who.user)}（{who.role_label}）｜ 发给本人的预警提醒和督办函"
        + ("（含本单位的全部文书）" if who.role == "liaison" else "")
        + ("（含全部督办函）" if who.role == "office" else "")
        + f" ｜ 数据版本 {rd.version}"
    )
    return who


def mine(rd: Reader, who: Access, since: dt.date | None) -> pl.DataFrame:
    """The user's notices, the latest day first, and in a day by kind and number."""
    return notices.notices_for(rd, who, since).sort(
        ["issued_on", "kind", "notice_id"], descending=[True, False, False]
    )


def lead_caption(rd: Reader, today: dt.date) -> str:
    """What the colours mean, in the lead times of STORE/config/notices.toml."""
    return notices.colours_on(rd.store.root, today, [])[1]


def recent_count(rd: Reader, who: Access) -> int:
    """How many notices `who` received in the last RECENT_DAYS days (0 for no such role)."""
    if not may_open(who):
        return 0
    try:
        return mine(rd, who, dt.date.today() - dt.timedelta(days=RECENT_DAYS)).height
    except Exception:  # a store written before notices existed: no count, never a failure
        return 0


def toast_once(count: int) -> None:
    """At sign-in (the first run of a session), say there are notices for this user; never
    later in the session (issuing notices on the page must not bring the note up)."""
    if st.session_state.get(_TOASTED):
        return
    st.session_state[_TOASTED] = True
    if count:
        st.toast(
            f"近 {RECENT_DAYS} 天有 {count} 份发给您的预警提醒或督办函，请在“预警提醒”中查看。",
            icon=":material/notifications_active:",
        )


def show(frame: pl.DataFrame) -> None:
    shown = frame.with_columns(pl.col("issued_on").cast(pl.Date).dt.strftime("%Y-%m-%d"))
    shown = shown.select(list(COLUMNS)).rename(COLUMNS)
    st.dataframe(shown.to_pandas(), hide_index=True, width="stretch")


def download_picker(frame: pl.DataFrame, who: Access) -> None:
    """A document picked from the list, downloaded through notices.notice_docx_bytes (the
    same scope check again, when the button is clicked)."""
    labels = {
        int(r["notice_id"]): f"{r['doc_number']}｜{r['unit_name']}｜{r['issued_on']}"
        for r in frame.iter_rows(named=True)
    }
    picked = st.selectbox("文书", list(labels), format_func=labels.__getitem__, key="notice_pick")
    if picked is None:
        return
    target = store()
    row = frame.filter(pl.col("notice_id") == picked).row(0, named=True)

    def build() -> bytes:
        return notices.notice_docx_bytes(target, who, int(picked))[1]

    download_buttons.scoped_download(
        "下载 Word 文书",
        build,
        f"{row['doc_number']}.docx",
        mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        key=f"notice_download_{picked}",
        icon=":material/description:",
        notice_id=int(picked),
        doc_number=str(row["doc_number"]),
    )


def mail_config() -> Any:
    try:
        return mail.smtp_config(store().root)
    except mail.MailConfigError as exc:
        return exc


def mail_configured() -> bool:
    return isinstance(mail_config(), mail.SmtpConfig)


def mail_line() -> str:
    config = mail_config()
    if isinstance(config, mail.MailConfigError):
        return f"邮件服务器配置有误，不能发送：{config}"
    return mail.describe(config)


def issue(rd: Reader, who: Access, day: dt.date, *, send: bool) -> None:
    """The office issues the notices of `day` (a new data version when any is due)."""
    if not who.can(APPROVE):
        st.error("没有印发预警提醒的权限。", icon=":material/block:")
        return
    try:
        run = notices.issue_notices(store(), day, user=who.user, send=send)
    except (
        notices.NoticeError,
        CalendarError,
        StoreError,
        PermissionDenied,
        audit.AuditError,
    ) as exc:
        st.error(md(exc), icon=":material/error:")
        return
    message = run.summary()
    if run.mail_note:
        message += "；" + run.mail_note
    elif run.issued and not send:
        message += "；未通过邮件发送（文书已存档，收件人登录后可见）"
    st.session_state[_OUTCOME] = message
    if run.version is not None and run.version != rd.version:
        clear_caches()
        prepare_sandbox(store(), run.version)
    st.rerun()


def last_outcome() -> None:
    message = st.session_state.pop(_OUTCOME, None)
    if message:
        st.success(md(message), icon=":material/done_all:")
