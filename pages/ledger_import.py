"""数据导入: upload ledgers, see how they were read and every problem found, import them as one
batch, and roll batches back. All rules live in xuncha.ledger; this page only lays them out."""

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from xuncha import ledger, ui
from xuncha.auth import IMPORT

ui.require(IMPORT)
reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("数据导入", reader, scope)
store = ui.store()
if ui.signed_in().demo:
    st.warning(
        "演示模式：导入台账后，此数据仓将视为真实数据，此后须登录才能打开"
        "（请先用 `xuncha user add` 创建账号）。",
        icon=":material/lock:",
    )

st.caption(
    "上传被巡察单位或巡察组报送的整改台账（.xlsx 或 .csv，可一次多个）。系统先逐行校验，任何一处错误都不会写入；"
    "校验通过后整批导入为一个新的数据版本，驾驶舱各页面随即显示新数据。同一文件重复导入不会重复计数；"
    "同一单位同一轮次的后续台账按整改进展更新，原状态保留在历史中。"
)

if "import_done" in st.session_state:
    st.success(ui.md(st.session_state.pop("import_done")), icon=":material/done_all:")

with st.expander("下载标准台账模板", icon=":material/description:"):
    st.write("模板含标题行、填报单位与截至时间行、表头、一行示例和整改状态下拉选项。")
    ui.template_download()

uploads = st.file_uploader(
    "选择台账文件", type=["xlsx", "csv"], accept_multiple_files=True, key="import_files"
)
if not uploads:
    st.info("请选择一个或多个台账文件。")
else:
    # Removed when this run ends (the object's finaliser), so uploads never pile up on disk.
    work_dir = tempfile.TemporaryDirectory(prefix="xuncha-upload-")
    work = Path(work_dir.name)
    paths: list[Path] = []
    names: list[str] = []
    for index, upload in enumerate(uploads):
        suffix = Path(upload.name).suffix.lower()
        path = work / f"upload-{index}{suffix}"  # never a user-chosen path
        path.write_bytes(upload.getvalue())
        paths.append(path)
        names.append(upload.name)

    # A first reading for the guesses (unit, round, group) the title and 填报 lines give.
    first_reading = [ledger.read_ledger(p, file_name=n) for p, n in zip(paths, names, strict=True)]
    results = first_reading
    st.subheader("导入到")
    rounds = reader.query("rounds_list")
    units = reader.query("units_list")
    round_names = rounds.sort("seq", descending=True)["name"].to_list()
    unit_names = units["name"].to_list()
    guessed_round = next((r.guessed_round for r in results if r.guessed_round), None)
    guessed_unit = next((r.guessed_unit for r in results if r.guessed_unit), None)
    guessed_group = next((r.guessed_group for r in results if r.guessed_group), None)
    inspections = reader.query("inspections_list")
    if guessed_round is None and guessed_unit:
        # The title often names only the group: the round where that group inspected the unit.
        match = inspections.filter(
            ((pl.col("unit_name") == guessed_unit) | (pl.col("short_name") == guessed_unit))
            & (pl.col("group_name") == (guessed_group or ""))
        )
        if match.height == 1:
            guessed_round = match["round_name"][0]
    new_round_label, new_unit_label = "（新建轮次）", "（新建单位）"

    def _pick(options: list[str], guess: str | None) -> int | None:
        # No guess, no default: a ledger must never land in a round nobody chose.
        if guess:
            for i, option in enumerate(options):
                if guess in option or option in guess:
                    return i
        return None

    c1, c2 = st.columns(2)
    with c1:
        round_choice = st.selectbox(
            "轮次",
            [*round_names, new_round_label],
            index=_pick(round_names, guessed_round),
            placeholder="请选择轮次",
            key="import_round",
        )
        round_name = round_choice
        if round_choice == new_round_label:
            round_name = st.text_input(
                "新轮次名称", value=guessed_round or "", key="import_new_round"
            )
    with c2:
        by_short = dict(units.select("short_name", "name").rows())
        unit_guess = by_short.get(guessed_unit or "", guessed_unit)
        unit_choice = st.selectbox(
            "被巡察单位",
            [*unit_names, new_unit_label],
            index=_pick(unit_names, unit_guess),
            placeholder="请选择单位",
            key="import_unit",
        )
        unit_name = unit_choice
        peer_group = None
        if unit_choice == new_unit_label:
            unit_name = st.text_input("新单位全称", value=guessed_unit or "", key="import_new_unit")
            peer_group = st.selectbox(
                "同类组",
                ["市直部门", "乡镇街道", "国有企业", "学校医院", "村社区"],
                key="import_peer",
            )
    existing = inspections.filter(
        (pl.col("round_name") == round_name) & (pl.col("unit_name") == unit_name)
    )
    c3, c4 = st.columns(2)
    with c3:
        if existing.is_empty():
            feedback = st.date_input(
                "反馈日期（新建巡察，必填）", value=None, key="import_feedback", format="YYYY-MM-DD"
            )
        else:
            feedback = None
            st.caption(
                f"已有该次巡察：{ui.md(existing['group_name'][0] or '')}，"
                f"反馈日期 {existing['feedback_date'][0].isoformat()}。"
            )
    with c4:
        as_of = st.date_input(
            "台账截至时间（台账未写明时必填）", value=None, key="import_as_of", format="YYYY-MM-DD"
        )

    # Validate against the chosen inspection: its 反馈日期 and 进驻 end date are what 立行立改
    # and "3个月内" deadlines are counted from.
    known_feedback = existing["feedback_date"][0] if not existing.is_empty() else None
    known_entry_end = existing["entry_end"][0] if not existing.is_empty() else None
    context_feedback = known_feedback or (feedback if isinstance(feedback, dt.date) else None)
    results = [
        ledger.read_ledger(
            p,
            file_name=n,
            feedback_date=context_feedback,
            entry_end=known_entry_end,
            round_name=round_name or None,
            unit_name=unit_name or None,
        )
        for p, n in zip(paths, names, strict=True)
    ]
    st.subheader("读取与校验")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        st.error(ui.md("同一批中有同名文件，请改名后再上传：" + "、".join(duplicates)))
    for index, result in enumerate(results):
        errors = sum(p.severity == "error" for p in result.problems)
        warnings = len(result.problems) - errors
        icon = ":material/check_circle:" if result.ok else ":material/error:"
        with st.expander(
            f"{ui.md(result.file_name)}：{len(result.findings)} 个问题、"
            f"{sum(len(f.measures) for f in result.findings)} 条措施；错误 {errors}、提示 {warnings}",
            expanded=not result.ok,
            icon=icon,
        ):
            facts = []
            if result.guessed_unit:
                facts.append(f"填报单位：{result.guessed_unit}")
            if result.guessed_round:
                facts.append(f"轮次：{result.guessed_round}")
            if result.as_of:
                facts.append(f"截至时间：{result.as_of.isoformat()}")
            facts.append(f"读取 {result.rows_read:,} 行")
            st.caption(ui.md("；".join(facts)))
            if result.unknown_columns:
                st.warning(
                    ui.md("未识别的列（未导入，请核对）：" + "、".join(result.unknown_columns))
                )
            if result.problems:
                report = result.report_frame()
                ui.table(report, key=f"report_{index}", height=240)
                ui.frame_downloads(
                    report,
                    key=f"dl_report_{index}",
                    name=f"校验报告_{Path(result.file_name).stem}",
                )
            if result.findings:
                st.markdown("**识别结果预览**")
                ui.table(result.measures_frame().head(200), key=f"preview_{index}", height=260)

    def _run(dry_run: bool) -> ledger.ImportOutcome:
        return ledger.import_ledgers(
            store,
            paths,
            round_name=round_name or "",
            unit_name=unit_name or "",
            feedback_date=feedback if isinstance(feedback, dt.date) else None,
            as_of=as_of if isinstance(as_of, dt.date) else None,
            user=ui.user_name(),
            dry_run=dry_run,
            file_names=names,
            unit_peer_group=peer_group,
        )

    b1, b2 = st.columns(2)
    with b1:
        check = st.button(
            "预检（不写入）",
            icon=":material/fact_check:",
            key="import_check",
            use_container_width=True,
        )
    with b2:
        commit = st.button(
            "确认导入",
            type="primary",
            icon=":material/upload:",
            key="import_commit",
            use_container_width=True,
            disabled=not all(r.ok for r in results)
            or bool(duplicates)
            or not round_name
            or not unit_name,
        )
    if (check or commit) and not (round_name and unit_name):
        st.warning("请先选择轮次和被巡察单位。")
    elif check or commit:
        try:
            outcome = _run(dry_run=not commit)
        except Exception as exc:  # shown in Chinese; details stay in the server log
            st.error(f"导入未完成，未写入任何数据：{ui.md(exc)}")
            st.stop()
        if outcome.ok:
            if commit and outcome.version is not None:
                ui.prepare_sandbox(store, outcome.version)
            if commit:
                # Rerun so the header, the batches and every page use the new data version.
                st.session_state["import_done"] = outcome.message()
                st.rerun()
            else:
                st.info(ui.md(outcome.message()), icon=":material/fact_check:")
            ui.table(outcome.summary_frame(), key="import_summary")
        else:
            st.error(ui.md(outcome.message()), icon=":material/block:")
            report = outcome.report_frame()
            ui.table(report, key="import_report", height=260)
            ui.frame_downloads(report, key="dl_import_report", name="导入校验报告")

st.subheader("导入批次")
batches = ledger.list_batches(store)
if batches.is_empty():
    st.caption("尚无导入批次。")
else:
    columns = [
        c
        for c in (
            "batch_id",
            "kind",
            "status",
            "file_name",
            "round_name",
            "unit_name",
            "as_of",
            "created_at",
            "user_name",
            "findings_added",
            "findings_updated",
            "measures_added",
            "measures_updated",
            "can_roll_back",
        )
        if c in batches.columns
    ]
    kinds = {"demo": "演示数据", "ledger": "台账导入", "rollback": "回滚", "fixture": "测试数据"}
    states = {"applied": "已生效", "rolled_back": "已回滚"}
    batches = batches.with_columns(pl.col("kind").replace(kinds), pl.col("status").replace(states))
    shown = batches.select(columns).rename(
        {
            "batch_id": "批次",
            "kind": "类型",
            "status": "状态",
            "file_name": "文件",
            "round_name": "轮次",
            "unit_name": "单位",
            "as_of": "截至时间",
            "created_at": "导入时间",
            "user_name": "操作人",
            "findings_added": "新增问题",
            "findings_updated": "更新问题",
            "measures_added": "新增措施",
            "measures_updated": "更新措施",
            "can_roll_back": "可回滚",
        }
    )
    ui.table(shown, key="import_batches", height=280)
    candidates = batches.filter(pl.col("can_roll_back"))["batch_id"].to_list()
    if candidates:
        r1, r2 = st.columns([2, 1])
        with r1:
            target = st.selectbox(
                "回滚批次", candidates, key="rollback_batch", format_func=lambda b: f"批次 #{b}"
            )
            sure = st.checkbox(
                "我已核对：回滚将撤销该批次新增的问题、措施和状态记录", key="rollback_sure"
            )
        with r2:
            if st.button(
                "回滚",
                icon=":material/undo:",
                disabled=not sure,
                key="rollback_go",
                use_container_width=True,
            ):
                try:
                    done = ledger.rollback_batch(store, int(target), user=ui.user_name())
                except ledger.RollbackRefused as exc:
                    st.error(ui.md(exc))
                except Exception as exc:  # shown in Chinese; details stay in the server log
                    st.error(f"回滚未完成，数据未改变：{ui.md(exc)}")
                else:
                    ui.prepare_sandbox(store, done.version)
                    st.session_state["import_done"] = done.message()
                    st.session_state.pop("rollback_sure", None)
                    st.rerun()
    else:
        st.caption("目前没有可回滚的台账批次（只能回滚某单位某轮次最近一次导入的台账）。")
