"""整改审核: a reviewer (巡察组 or 监督检查室) passes or returns the done claims of the units in
scope; returned and passed claims stay listed as history. The rules (who may decide what,
in which state, never one's own) live in xuncha.rectify.workflow."""

import streamlit as st

from xuncha import ui
from xuncha.auth import REVIEW
from xuncha.rectify import workflow
from xuncha.ui import rectify

reader = ui.reader()
who = rectify.header("整改审核", REVIEW, reader)
ids = rectify.visible_ids(reader, who)
st.caption(
    "单位报完成的措施在此审核：审核通过后转巡察办销号，退回须写明理由，由单位整改后重新报完成。"
    "不能审核本人提交的填报。"
)

pending = rectify.queue(reader, ids, ["pending_review"])
# Work oldest first; what was decided, latest first.
returned = rectify.latest_first(rectify.queue(reader, ids, ["returned"]))
passed = rectify.latest_first(rectify.queue(reader, ids, ["pending_close", "closed"]))
tab_pending, tab_returned, tab_passed = rectify.tabs(
    [
        rectify.titled("待审核", pending.height),
        f"已退回（{returned.height}）",
        f"已通过（{passed.height}）",
    ],
    key="review_tabs",
)

with tab_pending:
    if pending.is_empty():
        st.info("没有待审核的完成申请。", icon=":material/inbox:")
    else:
        row = rectify.queue_section(
            reader, who, ids, pending, ["pending_review"], key="review", title="整改审核_待审核"
        )
        if row is not None:
            own = row["submitted_by"] == who.user
            if own:
                st.warning("这是您本人提交的填报，不能由您审核。", icon=":material/person_off:")
            note = st.text_area(
                "审核意见（退回时必填）",
                key=f"review_reason_{rectify.serial()}",
                max_chars=2000,
            )
            left, right = st.columns(2)
            sid = int(row["submission_id"])
            if left.button(
                "审核通过",
                key="review_pass",
                icon=":material/check_circle:",
                disabled=own,
                use_container_width=True,
            ):
                rectify.run_step(
                    lambda: workflow.decide(reader.store, who, sid, "pass", reason=note)
                )
            if right.button(
                "退回",
                key="review_return",
                icon=":material/undo:",
                disabled=own,
                use_container_width=True,
            ):
                if not note.strip():
                    st.error("退回须填写理由。", icon=":material/error:")
                else:
                    rectify.run_step(
                        lambda: workflow.decide(reader.store, who, sid, "return", reason=note)
                    )

with tab_returned:
    if returned.is_empty():
        st.caption("没有被退回的完成申请。")
    else:
        st.caption("被退回的完成申请：单位须整改后重新报完成（新的申请重新进入待审核）。")
        rectify.queue_section(
            reader,
            who,
            ids,
            returned,
            ["returned"],
            key="review_returned",
            title="整改审核_已退回",
            label="查看填报",
        )

with tab_passed:
    if passed.is_empty():
        st.caption("尚无审核通过的完成申请。")
    else:
        st.caption("审核通过的完成申请：待销号的由巡察办销号，已销号的措施计为完成。")
        rectify.queue_section(
            reader,
            who,
            ids,
            passed,
            ["pending_close", "closed"],
            key="review_passed",
            title="整改审核_已通过",
            label="查看填报",
        )
