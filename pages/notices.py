"""预警提醒: the 预警提醒 and 督办函 addressed to the signed-in user (a unit's liaison sees every
one of its unit's; the inspection office every 督办函), each document downloadable through the
scope check; the inspection office can also issue the day's notices from here (the daily job
`xuncha notices` does the same) and sees whether they are e-mailed. Who sees what, the
colours, the recipients and the numbering live in xuncha.rectify.notices."""

import datetime as dt

import streamlit as st

from xuncha import ui
from xuncha.auth import APPROVE
from xuncha.ui import notices as view

reader = ui.reader()
who = view.header(reader)
today = dt.date.today()

if who.can(APPROVE):
    with st.expander("印发预警提醒和督办函", icon=":material/campaign:"):
        st.caption(
            "按预警口径计算当日的绿、黄、红预警，向责任人、责任领导、主要负责人和巡察办发出编号文书；"
            "同一措施同一颜色只发一次，延期后重新计算。通常由每日定时任务自动完成，此处用于补发当日文书。"
        )
        st.caption(view.mail_line())
        day = st.date_input("发文日期", value=today, max_value=today, format="YYYY-MM-DD")
        send = st.checkbox("同时通过邮件发送", value=False, disabled=not view.mail_configured())
        if st.button("生成并印发", icon=":material/send:", key="notices_issue"):
            view.issue(reader, who, day if isinstance(day, dt.date) else today, send=send)
    view.last_outcome()

since = st.date_input(
    "显示此日期以来的文书",
    value=today - dt.timedelta(days=30),
    max_value=today,
    format="YYYY-MM-DD",
    key="notices_since",
)
listed = view.mine(reader, who, since if isinstance(since, dt.date) else None)
if listed.is_empty():
    st.info("该期间没有发给您的预警提醒或督办函。", icon=":material/notifications_off:")
else:
    st.caption(
        f"共 {listed.height} 份。"
        + view.lead_caption(reader, today)
        + "绿告知责任人，黄并告知责任领导，红（督办函）并告知主要负责人和巡察办。"
    )
    view.show(listed)
    view.download_picker(listed, who)
