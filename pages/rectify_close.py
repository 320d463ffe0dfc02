"""整改销号: the inspection office (巡察办) closes (销号) the done claims passed in review or
sends them back, and approves or rejects extension requests. Closing needs a third person:
neither the unit's submitter nor the reviewer (checked in xuncha.rectify.workflow)."""

import streamlit as st

from xuncha import ui
from xuncha.auth import APPROVE
from xuncha.rectify import workflow
from xuncha.ui import rectify

reader = ui.reader()
who = rectify.header("整改销号", APPROVE, reader)
ids = rectify.visible_ids(reader, who)
st.caption(
    "审核通过的完成申请在此销号：销号后措施计为已完成（完成日期为单位填报的日期）；也可退回单位。"
    "延期申请经批准后现行时限改为申请的日期，按期完成率仍按原定时限计算。"
)

to_close = rectify.queue(reader, ids, ["pending_close"])
extensions = rectify.queue(reader, ids, ["extension_pending"])
closed = rectify.latest_first(rectify.queue(reader, ids, ["closed"]))
tab_close, tab_extend, tab_closed = rectify.tabs(
    [
        rectify.titled("待销号", to_close.height),
        rectify.titled("延期待审批", extensions.height),
        f"已销号（{closed.height}）",
    ],
    key="close_tabs",
)


def decision_buttons(row: dict, actions: tuple[tuple[str, str, str, bool], ...], key: str) -> None:
    """The approver's buttons on one submission: (action, label, icon, reason required)."""
    own = rectify.own_submission(row, who)
    if own:
        st.warning("您提交或审核过这条填报，须由其他巡察办人员处理。", icon=":material/person_off:")
    note = st.text_area(
        "意见（退回、不予延期时必填）", key=f"{key}_reason_{rectify.serial()}", max_chars=2000
    )
    sid = int(row["submission_id"])
    columns = st.columns(len(actions))
    for column, (action, label, icon, needs_reason) in zip(columns, actions, strict=True):
        if column.button(
            label, key=f"{key}_{action}", icon=icon, disabled=own, use_container_width=True
        ):
            if needs_reason and not note.strip():
                st.error(f"{label}须填写理由。", icon=":material/error:")
            else:
                rectify.run_step(
                    lambda action=action: workflow.decide(
                        reader.store, who, sid, action, reason=note
                    )
                )


with tab_close:
    if to_close.is_empty():
        st.info("没有待销号的完成申请。", icon=":material/inbox:")
    else:
        row = rectify.queue_section(
            reader, who, ids, to_close, ["pending_close"], key="close", title="整改销号_待销号"
        )
        if row is not None:
            decision_buttons(
                row,
                (
                    ("close", "销号", ":material/verified:", False),
                    ("return", "退回", ":material/undo:", True),
                ),
                "close",
            )

with tab_extend:
    if extensions.is_empty():
        st.info("没有待审批的延期申请。", icon=":material/inbox:")
    else:
        row = rectify.queue_section(
            reader,
            who,
            ids,
            extensions,
            ["extension_pending"],
            key="extension",
            title="整改销号_延期待审批",
            drop=("completed_on", "evidence_files"),
            label="选择延期申请",
        )
        if row is not None:
            decision_buttons(
                row,
                (
                    ("approve", "批准延期", ":material/event_available:", False),
                    ("reject", "不予延期", ":material/event_busy:", True),
                ),
                "extension",
            )

with tab_closed:
    if closed.is_empty():
        st.caption("尚无已销号的措施。")
    else:
        rectify.queue_section(
            reader,
            who,
            ids,
            closed,
            ["closed"],
            key="closed",
            title="整改销号_已销号",
            label="查看填报",
        )
