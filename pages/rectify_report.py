"""整改填报: a unit's liaison reports progress on its measures (several at once), submits one
as done with evidence files, asks for an extension, and reads each measure's history. Every
rule (scope, states, dates, files) lives in xuncha.rectify; this page only lays it out."""

import datetime as dt

import streamlit as st

from xuncha import ui
from xuncha.auth import REPORT
from xuncha.rectify import workflow
from xuncha.ui import rectify

reader = ui.reader()
who = rectify.header("整改填报", REPORT, reader)
ids = rectify.visible_ids(reader, who)
today = dt.date.today()

st.info(
    "报完成后为“待审核”，不计为已完成：须经巡察组或监督检查室审核通过、巡察办销号后才算完成。"
    "进展填报（正在整改、阶段性完成、未完成）提交后即生效。延期须经巡察办批准后才生效。",
    icon=":material/info:",
)


show_all = st.toggle("显示已完成（已销号）的措施", key="rectify_report_all")
listed = rectify.measures(reader, ids, today, open_only=not show_all)
open_measures = rectify.measures(reader, ids, today, open_only=True)

returned = open_measures.filter(
    open_measures["last_return_reason"].is_not_null()
    & open_measures["done_submission_id"].is_null()
)
if returned.height:
    lines = "\n".join(
        f"- 措施 {r['measure_id']}（{ui.md(r['title'])}）：{ui.md(r['last_return_reason'])}"
        for r in returned.iter_rows(named=True)
    )
    st.warning(
        f"{returned.height} 条措施的完成申请被退回，请按意见整改后重新报完成：\n{lines}",
        icon=":material/undo:",
    )

st.subheader("本单位的整改措施")
if listed.is_empty():
    st.caption("没有整改措施。" if show_all else "没有未完成的整改措施。")
else:
    st.caption(f"共 {listed.height:,} 条。" + rectify.warning_caption(reader, today))
    rectify.show_measures(listed, key="rectify_report_measures")

tab_progress, tab_done, tab_extend, tab_excel, tab_history = rectify.tabs(
    ["填报进展", "报完成", "申请延期", "Excel 填报", "整改历史"],
    key="report_tabs",
)

with tab_progress:
    if open_measures.is_empty():
        st.caption("没有需要填报的措施。")
    else:
        st.caption("在要填报的措施行选择新状态并填写整改进展，可同时填报多条，最后一次提交。")
        edited = st.data_editor(
            rectify.progress_editor_frame(open_measures).to_pandas(
                use_pyarrow_extension_array=True
            ),
            key=f"rectify_progress_{rectify.serial()}",
            hide_index=True,
            num_rows="fixed",
            disabled=["措施编号", "具体问题", "整改措施", "当前状态"],
            column_config={
                "新状态": st.column_config.SelectboxColumn(
                    "新状态",
                    options=[rectify.NOT_REPORTED, *rectify.PROGRESS_CHOICES],
                    required=True,
                ),
                "整改进展": st.column_config.TextColumn("整改进展", max_chars=2000, width="large"),
            },
            height=min(420, 38 + 35 * max(open_measures.height, 1)),
        )
        if st.button("提交进展", key="rectify_progress_submit", icon=":material/send:"):
            reports, problems = rectify.progress_reports(edited.to_dict("records"))
            if problems:
                st.error(ui.md("；".join(problems)), icon=":material/error:")
            elif not reports:
                st.warning("请至少在一条措施上选择新状态并填写整改进展。")
            else:
                rectify.run_step(lambda: workflow.report(reader.store, who, reports))

with tab_done:
    claimable = open_measures.filter(open_measures["done_submission_id"].is_null())
    if claimable.is_empty():
        st.caption("没有可报完成的措施（已报完成的措施待审核或待销号）。")
    else:
        labels = {
            int(r["measure_id"]): f"措施 {r['measure_id']}｜{r['title']}｜{r['measure_text']}"
            for r in claimable.iter_rows(named=True)
        }
        target = st.selectbox(
            "措施", list(labels), format_func=labels.__getitem__, key="rectify_done_measure"
        )
        progress = st.text_area(
            "整改完成情况", key=f"rectify_done_progress_{rectify.serial()}", max_chars=2000
        )
        completed = st.date_input(
            "完成日期",
            value=today,
            max_value=today,
            key=f"rectify_done_date_{rectify.serial()}",
            format="YYYY-MM-DD",
        )
        uploads = st.file_uploader(
            "佐证材料（可多个；PDF、图片、Word、Excel）",
            type=rectify.EVIDENCE_TYPES,
            accept_multiple_files=True,
            key=f"rectify_done_files_{rectify.serial()}",
        )
        if st.button("报完成", key="rectify_done_submit", icon=":material/task_alt:"):
            accepted, refused = rectify.check_uploads((u.name, u.getvalue()) for u in uploads or [])
            if refused:
                st.error(
                    ui.md(
                        "\n".join(f"- {r}" for r in refused) + "\n\n请移除或更换这些文件后再提交。"
                    ),
                    icon=":material/error:",
                )
            else:
                report = workflow.Report(
                    int(target),
                    "DONE",
                    progress,
                    completed if isinstance(completed, dt.date) else None,
                    evidence=tuple(accepted),
                )
                rectify.run_step(lambda: workflow.report(reader.store, who, [report]))

with tab_extend:
    extendable = open_measures.filter(
        open_measures["deadline_current"].is_not_null()
        & open_measures["extension_submission_id"].is_null()
    )
    if extendable.is_empty():
        st.caption("没有可申请延期的措施（无具体时限或已有待审批的延期申请）。")
    else:
        labels = {
            int(r["measure_id"]): f"措施 {r['measure_id']}｜{r['title']}｜现行时限 "
            f"{r['deadline_current'].isoformat()}"
            for r in extendable.iter_rows(named=True)
        }
        target = st.selectbox(
            "措施", list(labels), format_func=labels.__getitem__, key="rectify_extend_measure"
        )
        proposed = st.date_input(
            "申请延至",
            value=None,
            key=f"rectify_extend_date_{rectify.serial()}",
            format="YYYY-MM-DD",
        )
        reason = st.text_area(
            "延期理由", key=f"rectify_extend_reason_{rectify.serial()}", max_chars=2000
        )
        st.caption("延期经巡察办批准后生效；按期完成率仍按原定时限计算。")
        if st.button("提交延期申请", key="rectify_extend_submit", icon=":material/schedule:"):
            if not isinstance(proposed, dt.date):
                st.error("请选择申请延至的日期。", icon=":material/error:")
            else:
                rectify.run_step(
                    lambda: workflow.request_extension(
                        reader.store, who, int(target), proposed, reason
                    )
                )

with tab_excel:
    st.caption(
        "下载本单位未完成措施的填报表，在“本次填报状态”“整改进展”“完成日期”“佐证材料文件名”列填写后上传，"
        "连同佐证材料一并提交。报“已完成”的措施同样须经审核和销号，不会直接计为完成。"
    )
    rectify.round_trip_download(reader, who, today)
    upload = st.file_uploader(
        "填好的填报表（.xlsx、.xls 或 .csv）",
        type=["xlsx", "xls", "csv"],
        key=f"rectify_round_trip_file_{rectify.serial()}",
    )
    proofs = st.file_uploader(
        "表中列出的佐证材料（可多个）",
        type=rectify.EVIDENCE_TYPES,
        accept_multiple_files=True,
        key=f"rectify_round_trip_files_{rectify.serial()}",
    )
    if upload is not None and st.button(
        "检查填报表", key="rectify_round_trip_check", icon=":material/rule:"
    ):
        rectify.round_trip_check(reader, who, upload, proofs or [], today)
    checked = rectify.round_trip_checked()
    if checked is not None and upload is not None and checked[1] == upload.name:
        result = checked[0]
        if result.problems:
            rectify.round_trip_problems(result)
        else:
            st.success(f"填报表可以提交：{len(result.reports)} 条。", icon=":material/check:")
            rectify.round_trip_preview(result)
            if st.button(
                f"确认提交 {len(result.reports)} 条填报",
                key="rectify_round_trip_submit",
                icon=":material/send:",
            ):
                rectify.round_trip_submit(who)

with tab_history:
    everything = rectify.active_first(
        reader, ids, rectify.measures(reader, ids, today, open_only=False)
    )
    if everything.is_empty():
        st.caption("没有整改措施。")
    else:
        labels = {
            int(r["measure_id"]): f"措施 {r['measure_id']}｜{r['title']}｜{r['measure_text']}"
            for r in everything.iter_rows(named=True)
        }
        target = st.selectbox(
            "措施", list(labels), format_func=labels.__getitem__, key="rectify_history_measure"
        )
        history = rectify.steps(reader, ids, int(target))
        if history.is_empty():
            st.caption("该措施尚无在线填报记录。")
        else:
            files = rectify.evidence_files(reader, history["submission_id"].unique().to_list())
            rectify.show_table(
                rectify.steps_table(history, files), key="rectify_history_steps", height=300
            )
            if files.height:
                st.markdown("**佐证材料**")
                rectify.evidence_downloads(files, key="rectify_history_files")
