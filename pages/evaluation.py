"""整改成效评估: each unit's score and grade in one round of the scope (automatic items from the
figures, manual items once confirmed by a second person, 一票否决, 暂评), the items of one unit
with their basis, the 表面整改 vs 实质整改 gap; for the 巡察办 and 监督检查室 (EVALUATE) the
entry form, the confirmation queue and the archive. The rules are xuncha.evaluation's."""

import dataclasses
import datetime as dt

import polars as pl
import streamlit as st

from xuncha import evaluation, ui
from xuncha.auth.access import EVALUATE
from xuncha.evaluation import archive, entries
from xuncha.evaluation.scoring import entries_frame, small_sample_note
from xuncha.evaluation.tables import ARCHIVE_COLUMNS, entries_table, items_table, results_table
from xuncha.figures import ecology, periods
from xuncha.figures.periods import PROVISIONAL
from xuncha.filters import Filters, resolve_scope
from xuncha.ui import rectify
from xuncha.ui.download_buttons import scoped_download

reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("整改成效评估", reader, scope)
who = ui.access()
store = ui.store()
try:
    config = evaluation.config_for_store(store.root)
except evaluation.EvaluationConfigError as exc:
    st.error(ui.md(f"评估配置有误，无法评估：{exc}"), icon=":material/error:")
    st.stop()

with st.expander("说明：评分项、计算方法和等次"):
    st.markdown(ui.md(evaluation.METHOD))
    st.markdown(ui.md(f"等次线：{config.describe_grades()}。"))
    st.markdown(ui.md(periods.rule_for_store(store.root).describe()))
    st.dataframe(
        pl.DataFrame(
            {
                "评分项": [i.label for i in config.auto]
                + [i.label for i in config.manual]
                + [i.label for i in config.veto],
                "类型": ["自动"] * len(config.auto)
                + ["人工"] * len(config.manual)
                + ["一票否决"] * len(config.veto),
                "规则": [i.rule() for i in config.auto]
                + [f"0–{i.points:g} 分，经另一人确认后计入" for i in config.manual]
                + ["确认成立的，等次为“差”"] * len(config.veto),
                "说明": [i.help for i in (*config.auto, *config.manual, *config.veto)],
            }
        ),
        hide_index=True,
    )

# Shared by every session per data version, configuration and scope: each widget reruns
# the page, and the evaluation of every round in scope is the page's heaviest work.
result = ui.figure(evaluation.evaluate, reader, scope, config)
if result.units.is_empty():
    st.info("当前筛选范围内没有截至统计日已反馈的巡察，无法评估。")
    st.stop()

rounds = (
    result.units.group_by("round_id", "round_name", "seq")
    .agg(pl.col("provisional").any().alias("provisional"))
    .sort("seq")
)
round_ids = [int(r) for r in rounds["round_id"].to_list()]
# Opened on the latest round whose rectification period has ended (its evaluation is due);
# the latest round when none has.
finished = [i for i, p in enumerate(rounds["provisional"].to_list()) if not p]
default_index = finished[-1] if finished else len(round_ids) - 1
names = dict(zip(round_ids, rounds["round_name"].to_list(), strict=True))
if st.session_state.get("evaluation_round") not in round_ids:
    st.session_state.pop("evaluation_round", None)
round_id = st.selectbox(
    "评估轮次",
    round_ids,
    index=default_index,
    format_func=lambda r: names[r],
    key="evaluation_round",
)
ids = result.units.filter(pl.col("round_id") == round_id)["inspection_id"].to_list()
part = dataclasses.replace(
    result,
    units=result.units.filter(pl.col("round_id") == round_id),
    items=result.items.filter(pl.col("inspection_id").is_in(ids)),
    entries=result.entries.filter(pl.col("inspection_id").is_in(ids)),
)
units = part.units
if bool(units["provisional"].any()):
    st.warning(
        f"本轮整改期尚未结束（{units['period_end'].max()}），评估结果为“{PROVISIONAL}”。",
        icon=":material/schedule:",
    )

st.subheader("评估结果")
# Bare numbers under the grade: five cards a row still fit on a tablet.
st.caption("各等次单位数（个）")
cols = st.columns(5)
for col, grade in zip(cols, ecology.GRADES, strict=False):
    with col:
        ui.count_metric(grade, units.filter(pl.col("grade") == grade).height)
with cols[4]:
    ui.count_metric("未评等次", units.filter(pl.col("grade").is_null()).height)
st.caption(
    "人工评分项经另一人确认后才计入；未全部确认的单位不评等次（待人工评分）。"
    "自报完成率与措施完成率之差即表面整改与实质整改的差距（百分点）。"
)
small_note = small_sample_note(result.min_findings)
small = units.filter(pl.col("small_sample")).height
if small:
    st.caption(f"{small} 个单位{small_note}（仍按本办法评分定等）。")
table = results_table(part)
# Points and rates with two decimals each (76.10 beside 78.98, not 76.1).
ui.table(
    table,
    key="evaluation_results",
    column_config={
        c: st.column_config.NumberColumn(c, format="%.2f")
        for c, kind in table.schema.items()
        if kind == pl.Float64
    },
)
ui.downloads(
    table,
    key="evaluation_results_dl",
    page="整改成效评估",
    title=names[round_id],
    scope=scope,
    notes=(
        f"等次线：{config.describe_grades()}；评估配置：{config.describe_source()}。",
        f"样本不足：{small_note}。",
        *evaluation.METHOD.splitlines(),
    ),
)

st.subheader("单位评分明细")
unit_names = units.sort("unit_name")["unit_name"].to_list()
chosen = ui.unit_selectbox("单位", {n: n for n in unit_names}, key="evaluation_unit")
one = units.filter(pl.col("unit_name") == chosen).row(0, named=True)
st.caption(
    ui.md(f"{chosen}：得分 {one['score']}，等次 {one['grade'] or '未评'}；{one['note'] or ''}")
)
ui.table(
    # An automatic item has no 满分 entry of its own and no 录入编号: "—", not "None".
    ui.no_nulls(items_table(part.items.filter(pl.col("inspection_id") == one["inspection_id"]))),
    key="evaluation_items",
)

round_seq = int(rounds.filter(pl.col("round_id") == round_id)["seq"][0])
if who.can(EVALUATE):
    # Today's work on the current data: the 统计截至 date of the figures does not apply.
    today = dt.date.today()
    now_scope = resolve_scope(
        reader, Filters(round_from=round_seq, round_to=round_seq, as_of=today), access=who
    )
    now_units = reader.query(
        "evaluation_inspections", {"inspection_ids": now_scope.ids_param(), "as_of": today}
    ).filter(pl.col("round_id") == round_id)
    current_entries = entries_frame(reader, now_scope).filter(pl.col("round_id") == round_id)
    st.subheader("人工评分录入")
    st.caption(
        "录入和确认是当天的工作：单位名单和待确认的录入按当前数据列出，不受“统计截至”日期影响。"
    )
    entered = {i.label: i for i in config.entered_items()}
    entry_units = sorted(now_units["unit_name"].to_list())
    with st.form("evaluation_entry", clear_on_submit=False):
        unit_name = st.selectbox(
            "单位", entry_units, key=f"evaluation_entry_unit_{rectify.serial()}"
        )
        label = st.selectbox(
            "评分项", list(entered), key=f"evaluation_entry_item_{rectify.serial()}"
        )
        value = st.number_input(
            "分值（一票否决项：1 成立，0 不成立）",
            min_value=0.0,
            step=0.5,
            key=f"evaluation_entry_value_{rectify.serial()}",
        )
        note = st.text_area(
            "评分依据", max_chars=2000, key=f"evaluation_entry_note_{rectify.serial()}"
        )
        uploads = st.file_uploader(
            "佐证材料（至少一个）",
            accept_multiple_files=True,
            key=f"evaluation_entry_files_{rectify.serial()}",
        )
        submitted = st.form_submit_button("录入", icon=":material/edit_note:")
    if submitted:
        files, refused = rectify.check_uploads((f.name, f.getvalue()) for f in uploads or [])
        if refused:
            st.error(ui.md("；".join(refused)), icon=":material/block:")
        elif unit_name is None:
            st.error("本轮在本账号范围内没有已反馈的单位", icon=":material/block:")
        else:
            target = int(now_units.filter(pl.col("unit_name") == unit_name)["inspection_id"][0])
            rectify.run_step(
                lambda: entries.enter(
                    store, who, target, entered[label].key, value, note, files, config=config
                )
            )

    st.subheader("待确认")
    pending = current_entries.filter(pl.col("decision").is_null())
    if pending.is_empty():
        st.caption("没有待确认的录入。")
    else:
        ui.table(entries_table(pending, config), key="evaluation_pending")
        pick = st.selectbox(
            "选择录入编号", [int(i) for i in pending["entry_id"].to_list()], key="evaluation_pick"
        )
        mine = pending.filter(pl.col("entry_id") == pick)["entered_by"][0] == who.user
        if mine:
            st.warning("这是您本人的录入，须由另一人确认。", icon=":material/person_off:")
        reason = st.text_input(
            "退回理由（退回时必填）", key=f"evaluation_reason_{rectify.serial()}"
        )
        left, right = st.columns(2)
        if left.button("确认", key="evaluation_confirm", disabled=mine, icon=":material/check:"):
            rectify.run_step(lambda: entries.decide(store, who, pick, "confirm"))
        if right.button("退回", key="evaluation_reject", disabled=mine, icon=":material/undo:"):
            rectify.run_step(lambda: entries.decide(store, who, pick, "reject", reason=reason))

st.subheader("存档")
if who.can(EVALUATE):
    st.caption(
        f"存档的是{names[round_id]}在本账号范围内（{who.describe()}）全部单位截至 "
        f"{scope.as_of.isoformat()} 的评估结果，不受侧栏的单位、类别等筛选影响。"
    )
    if st.button("存档本轮评估结果", key="evaluation_archive", icon=":material/archive:"):
        try:
            archive_id, record = archive.save(
                store, reader, round_id, who, as_of=scope.as_of, config=config
            )
        except archive.ArchiveError as exc:
            st.error(ui.md(str(exc)), icon=":material/error:")
        else:
            st.success(
                f"已存档：{archive_id}（{record['covers']['text']}；"
                f"数据版本 {record['data_version']}）"
            )
saved = archive.list_archives(store, who)
if not saved:
    st.caption("本账号范围内还没有评估存档。")
else:
    st.dataframe(
        pl.DataFrame(saved).rename(ARCHIVE_COLUMNS, strict=False),
        hide_index=True,
    )
    chosen_archive = st.selectbox(
        "下载存档", [a["archive_id"] for a in saved], key="evaluation_archive_pick"
    )
    scoped_download(
        "下载存档（.xlsx）",
        lambda: archive.load(store, chosen_archive, who)[1],
        f"整改成效评估_{chosen_archive}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="evaluation_archive_dl",
        archive_id=chosen_archive,
    )
