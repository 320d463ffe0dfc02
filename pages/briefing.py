"""领导简报: draft a briefing on a round or a period within the sidebar's scope, edit its text,
finalise it as an official Word document (and PDF when LibreOffice is installed); every draft
and final is archived with its data version and configuration and can be drafted again."""

import polars as pl
import streamlit as st

from xuncha import briefing, figures, labels, ui
from xuncha.auth import BRIEFING
from xuncha.briefing.model import Briefing, Chart, Paragraph, Table
from xuncha.figures import ecology_names

ui.require(BRIEFING)
reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("领导简报", reader, scope)
st.caption(
    "按惯用顺序起草：总体情况、问题分布特点、整改进展、屡查屡犯和共性问题、线索处置、"
    "政治生态研判（研判参考），最后由起草人填写下步工作建议。每句话的数字都由统计口径直接计算；"
    "线索只列数量：无线索详情权限时，每次巡察不足3件的记为“<3”，合计以区间表示。"
)

rounds = reader.query("ecology_rounds", {"inspection_ids": scope.ids_param(), "as_of": scope.as_of})
if rounds.is_empty():
    st.info("当前筛选范围内没有截至统计日已反馈的巡察，无法起草简报。")
    st.stop()

seqs = rounds["seq"].cast(pl.Int64).to_list()
names = dict(zip(seqs, rounds["round_name"].to_list(), strict=True))
store = ui.store()


def config_name(digest: object) -> str:
    """The 研判配置 a briefing used, by its version and date (the digest stays in the archive)."""
    return ecology_names.config_name(store.root, str(digest or ""))


user = ui.user_name()

with st.form("brief_request"):
    kind = st.radio("简报期间", ["单个轮次", "多个轮次"], horizontal=True, key="brief_kind")
    if kind == "单个轮次":
        seq = st.selectbox("轮次", seqs[::-1], format_func=lambda s: names[s], key="brief_round")
        lo = hi = int(seq)
    else:
        lo, hi = st.select_slider(
            "轮次范围",
            options=seqs,
            value=(seqs[0], seqs[-1]),
            format_func=lambda s: names[s],
            key="brief_range",
        )
    title = st.text_input("标题（留空则自动生成）", key="brief_title", max_chars=80)
    issuer = st.text_input("落款", value="市委巡察办", key="brief_issuer", max_chars=40)
    go = st.form_submit_button("起草简报", type="primary", icon=":material/edit_note:")

if go:
    filters = scope.filters.with_(round_from=int(lo), round_to=int(hi), as_of=scope.as_of)
    request = briefing.BriefingRequest(
        filters=filters,
        title=title.strip() or None,
        issuer=issuer.strip() or "市委巡察办",
        ecology_config=figures.config_for_store(store.root),
    )
    try:
        with st.spinner("正在根据统计数据起草……"):
            brief_id, draft = briefing.generate(
                store,
                reader,
                request,
                ui.resolver(reader),
                user=user,
                scope_text=st.session_state.get("filters_text") or "全部",
                access=ui.access(),
            )
    except briefing.BriefingError as exc:
        st.error(str(exc))
        st.stop()
    st.session_state["brief_id"] = brief_id
    st.session_state["brief_draft"] = draft.to_dict()
    for key in [k for k in st.session_state if str(k).startswith("brief_p_")]:
        del st.session_state[key]
    st.session_state.pop("brief_final", None)


def _edited(draft: Briefing) -> Briefing:
    """The draft with the text the user edited in the page's text areas."""
    texts = {
        (s, b): str(st.session_state[f"brief_p_{s}_{b}"])
        for s, section in enumerate(draft.sections)
        for b in range(len(section.blocks))
        if f"brief_p_{s}_{b}" in st.session_state
    }
    return draft.with_edits(texts)


saved = st.session_state.get("brief_draft")
if saved:
    draft = Briefing.from_dict(saved)
    brief_id = st.session_state["brief_id"]
    st.divider()
    st.subheader(draft.title)
    st.caption(
        f"简报编号 {brief_id}｜数据版本 {draft.meta.get('data_version')}｜"
        f"{config_name(draft.meta.get('config_digest'))}｜"
        "下列文字可直接修改；表格和图表随数据生成，不可修改。草稿已存档。"
    )
    level_numbers = "一二三四五六七八九十"
    for s, section in enumerate(draft.sections):
        st.markdown(f"#### {level_numbers[s]}、{ui.md(section.heading)}")
        for b, block in enumerate(section.blocks):
            if isinstance(block, Paragraph):
                placeholder = block.text == briefing.content.SUGGESTIONS_PLACEHOLDER
                st.text_area(
                    "下步工作建议（空一行分段）" if section.key == "suggestions" else "段落",
                    value="" if placeholder else block.text,
                    placeholder=block.text if placeholder else None,
                    key=f"brief_p_{s}_{b}",
                    height=160 if section.key == "suggestions" else "content",
                    label_visibility="visible" if section.key == "suggestions" else "collapsed",
                )
            elif isinstance(block, Table):
                st.markdown(f"**{ui.md(block.caption)}**")
                rows = [*block.rows, *([block.total] if block.total else [])]
                frame = pl.DataFrame(
                    [[("—" if v is None else str(v)) for v in row] for row in rows],
                    schema=block.columns,
                    orient="row",
                )
                ui.table(frame, key=f"brief_t_{s}_{b}", raw=True)
                if block.note:
                    st.caption(ui.md(block.note))
            elif isinstance(block, Chart):
                st.markdown(f"**{ui.md(block.caption)}**")
                ui.chart(briefing.chart_figure, block, key=f"brief_c_{s}_{b}")

    final_ready = st.button("定稿并生成 Word 文档", type="primary", icon=":material/description:")
    if final_ready:
        final = _edited(draft)
        with st.spinner("正在排版、绘制图表……"):
            data, pdf, note = briefing.finalise(store, brief_id, final, user=user)
        st.session_state["brief_final"] = (brief_id, data, pdf, note)
    done = st.session_state.get("brief_final")
    if done and done[0] == brief_id:
        _, data, pdf, note = done
        if note:
            st.warning(note, icon=":material/warning:")
        st.success("已定稿并存档。", icon=":material/check_circle:")
        ui.briefing_downloads(brief_id, data, pdf, title=draft.title)

st.divider()
st.subheader("简报存档")
try:
    kept = briefing.archive.list_briefings(store, user=None if ui.can_see_all_briefings() else user)
except briefing.archive.ArchiveError as exc:  # a sealed archive without its key
    st.error(str(exc))
    st.stop()
if not kept:
    st.caption("还没有存档的简报。")
else:
    table = pl.DataFrame(kept).select(
        pl.col("briefing_id").alias("编号"),
        pl.col("title").alias("标题"),
        pl.col("as_of").alias("统计截至"),
        pl.col("data_version").alias("数据版本"),
        pl.col("user").alias("起草人"),
        pl.col("created").map_elements(labels.shown_time, return_dtype=pl.String).alias("起草时间"),
        pl.when(pl.col("final")).then(pl.lit("已定稿")).otherwise(pl.lit("草稿")).alias("状态"),
    )
    ui.table(table, key="brief_archive", raw=True)
    picked = st.selectbox(
        "查看存档",
        [k["briefing_id"] for k in kept],
        key="brief_archive_pick",
        index=None,
        placeholder="选择简报编号",
    )
    if picked:
        try:
            item = briefing.archive.load(store, picked)
            archived_docx = item.docx_bytes()
            archived_pdf = item.pdf_bytes() if archived_docx is not None else None
        except briefing.archive.ArchiveError as exc:  # a sealed archive without its key
            st.error(str(exc))
            st.stop()
        cols = st.columns(2)
        with cols[0]:
            if archived_docx is not None:
                ui.briefing_downloads(
                    picked,
                    archived_docx,
                    archived_pdf,
                    title=(item.final or item.draft).title,
                    key="brief_archive",
                )
            else:
                st.caption("该简报尚未定稿。")
        with cols[1]:
            if st.button(
                "按存档参数重新生成并核对", key="brief_regen", icon=":material/fact_check:"
            ):
                again, same = briefing.regenerate(store, picked)
                ui.record("briefing", step="regenerate", briefing_id=picked, identical=same)
                if same:
                    st.success(
                        f"重新生成的内容与存档草稿完全一致（数据版本 {item.request['data_version']}，"
                        f"{config_name(item.request.get('config_digest'))}）。"
                    )
                else:
                    st.error("重新生成的内容与存档草稿不一致，请检查数据版本和配置。")
