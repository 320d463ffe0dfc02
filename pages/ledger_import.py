"""数据导入: upload ledgers, see how they were read and every problem found, import them as one
batch, and roll batches back. All rules live in xuncha.ledger; this page only lays them out."""

import datetime as dt
import math
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from xuncha import audit, ledger, ui
from xuncha.auth import IMPORT
from xuncha.ledger import annotate
from xuncha.ledger.apply import demo_refusal
from xuncha.ledger.pairing import VERDICTS, DecisionKey, Decisions
from xuncha.store.schema import PEER_GROUPS

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAIRING_STATE = "import_pairing"  # {files key: the pairing table shown and its decisions}
RESULT_STATE = "import_last"  # {context key: the last 预检 or refused import, as shown}
PAIRING_TICK = "import_pairing_ok"


def _annotated_download(raw: bytes, suffix: str, result: ledger.LedgerResult, key: str) -> None:
    """The ledger with every offending cell marked, built only when clicked (from the bytes
    uploaded: this run's upload folder is gone by then) and audited as an export."""
    name = f"{Path(result.file_name).stem}_问题标注.xlsx"

    def build() -> bytes:
        with tempfile.TemporaryDirectory(prefix="xuncha-annotate-") as folder:
            path = Path(folder) / f"ledger{suffix}"
            path.write_bytes(raw)
            return annotate.annotated_copy(path, result)

    ui.file_download(
        "下载标注问题的台账副本",
        build,
        name,
        mime=XLSX_MIME,
        key=key,
        icon=":material/edit_note:",
        rows=len(result.problems),
    )


def _decision_key(row: dict[str, Any]) -> DecisionKey:
    measure = row["措施序号"] if row["类型"] == "措施" else None
    return DecisionKey(
        str(row["文件SHA256"] or ""), str(row["工作表"] or ""), int(row["问题行"]), measure
    )


def _decidable(row: dict[str, Any]) -> bool:
    """A parsed row of the ledger (held rows the ledger does not list need no decision)."""
    return row["问题行"] is not None and row["判断"] != VERDICTS["missing"]


def _keep_pairing(key: str, outcome: ledger.ImportOutcome) -> None:
    """The pairing table of a 预检 (or of an import paused for confirmation), needing
    confirmation first; decisions already made on these files are kept."""
    previous = st.session_state.get(PAIRING_STATE, {}).get(key)
    rows = sorted(outcome.pairings, key=lambda r: r["需确认"] != "是")  # stable
    proposed = {_decision_key(r): r["配对编号"] for r in rows if _decidable(r)}
    chosen = dict(proposed)
    if previous is not None:
        chosen.update({k: v for k, v in previous["chosen"].items() if k in chosen})
    counts = [
        {"文件": f.file_name, "类型": kind, **{VERDICTS[v]: n for v, n in c.items()}}
        for f in outcome.files
        for kind, c in f.pairing.items()
    ]
    st.session_state[PAIRING_STATE] = {
        key: {
            "rows": rows,
            "proposed": proposed,
            "chosen": chosen,
            "counts": counts,
            "serial": (previous["serial"] + 1) if previous is not None else 0,
        }
    }
    st.session_state.pop(PAIRING_TICK, None)  # a new table is checked anew


def _decisions(entry: dict[str, Any]) -> Decisions:
    """The table as shown (and edited) is the decision for every parsed row of its files."""
    parents = {
        _decision_key(r): r.get("所属问题编号")
        for r in entry["rows"]
        if _decidable(r) and r["类型"] == "措施"
    }
    return Decisions(
        chosen=dict(entry["chosen"]),
        files={str(r["文件SHA256"] or "") for r in entry["rows"]},
        parents=parents,
    )


def _needs_tick(entry: dict[str, Any]) -> bool:
    """Pairings to confirm, or a pairing the user changed: imported only once ticked."""
    return any(r["需确认"] == "是" for r in entry["rows"]) or entry["chosen"] != entry["proposed"]


def _pairing_section(entry: dict[str, Any], several_files: bool) -> None:
    st.subheader("与已导入台账的配对")
    st.caption(
        "本单位本轮次此前已导入台账：新台账中的问题和措施按序号、再按文字与已有条目配对。"
        "请核对配对编号（已有问题或措施的编号；留空表示作为新增导入），需确认的行排在最前。"
    )
    if entry["counts"]:
        counts = pl.DataFrame(entry["counts"])
        ui.table(counts if several_files else counts.drop("文件"), key="import_pairing_counts")
    rows = [r for r in entry["rows"] if _decidable(r)]
    missing = [r for r in entry["rows"] if not _decidable(r)]
    to_confirm = sum(r["需确认"] == "是" for r in rows)
    if to_confirm:
        st.warning(
            f"{to_confirm} 处配对需要确认（序号或文字有变动），已排在最前并标记“需确认：是”。",
            icon=":material/rule:",
        )
    # What a person decides comes first (a tablet shows only the first columns).
    columns = [
        "需确认",
        "配对编号",
        "台账内容",
        "已有内容",
        "判断",
        "说明",
        *(["文件"] if several_files else []),
        "类型",
        "台账位置",
        "措施序号",
        "工作表",
        "行",
        "依据",
        "相似度",
        "候选编号",
    ]
    keys = [_decision_key(r) for r in rows]
    # Read-only numbers shown as text: an empty one reads "—", as in every other table.
    shown = pl.DataFrame(
        [
            {c: (None if r.get(c) is None else str(r.get(c))) for c in columns}
            | {"配对编号": entry["chosen"][k]}
            for r, k in zip(rows, keys, strict=True)
        ],
        schema={c: pl.Int64 if c == "配对编号" else pl.String for c in columns},
    ).with_columns(pl.col(pl.String).fill_null("—"))
    edited = st.data_editor(
        shown.to_pandas(),
        key=f"import_pairing_editor_{entry['serial']}",
        hide_index=True,
        num_rows="fixed",
        disabled=[c for c in columns if c != "配对编号"],
        column_config={
            "配对编号": st.column_config.NumberColumn(
                "配对编号",
                help="已有问题或措施的编号（见“已有内容”“候选编号”和下方未列出的条目）；"
                "留空表示作为新增导入",
                min_value=1,
                step=1,
                format="%d",
            )
        },
        height=min(420, 38 + 35 * max(len(rows), 1)),
    )
    for key, value in zip(keys, edited["配对编号"].tolist(), strict=True):
        missing_value = value is None or (isinstance(value, float) and math.isnan(value))
        entry["chosen"][key] = None if missing_value else int(value)
    if missing:
        st.markdown("**已有但本台账未列出的条目（保留不变）**")
        listed = pl.DataFrame(
            [
                {
                    **({"文件": r["文件"]} if several_files else {}),
                    "类型": r["类型"],
                    "编号": r["配对编号"],
                    "已有内容": r["已有内容"],
                }
                for r in missing
            ]
        )
        ui.table(listed, key="import_pairing_missing", height=200)
    st.checkbox("我已核对配对", key=PAIRING_TICK)


def _show_result(last: dict[str, Any]) -> None:
    """The last 预检, or an import refused or paused: its message and its table."""
    if last["ok"]:
        st.info(ui.md(last["message"]), icon=":material/fact_check:")
        ui.table(last["summary"], key="import_summary")
        return
    st.error(ui.md(last["message"]), icon=":material/block:")
    report = last["report"]
    ui.table(report, key="import_report", height=260)
    ui.frame_downloads(report, key="dl_import_report", name="导入校验报告")


ui.require(IMPORT)
reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("数据导入", reader, scope)
store = ui.store()
demo_store = ui.signed_in().demo
if demo_store:
    st.info(
        ui.md(demo_refusal(store, on_page=True)),
        icon=":material/science:",
    )

st.caption(
    "上传被巡察单位或巡察组报送的整改台账（.xlsx、.xls 或 .csv，可一次多个）。系统先逐行校验，任何一处错误都不会写入；"
    "校验通过后整批导入为一个新的数据版本，驾驶舱各页面随即显示新数据。同一文件重复导入不会重复计数；"
    "同一单位同一轮次的后续台账按整改进展更新，原状态保留在历史中。"
)

if "import_done" in st.session_state:
    st.success(ui.md(st.session_state.pop("import_done")), icon=":material/done_all:")

with st.expander("下载标准台账模板", icon=":material/description:"):
    st.write("模板含标题行、填报单位与截至时间行、表头、一行示例和整改状态下拉选项。")
    ui.template_download()

uploads = st.file_uploader(
    "选择台账文件", type=["xlsx", "xls", "csv"], accept_multiple_files=True, key="import_files"
)
if not uploads:
    st.info("请选择一个或多个台账文件。")
else:
    # Removed when this run ends (the object's finaliser), so uploads never pile up on disk.
    work_dir = tempfile.TemporaryDirectory(prefix="xuncha-upload-")
    work = Path(work_dir.name)
    paths: list[Path] = []
    names: list[str] = []
    contents: list[bytes] = []
    for index, upload in enumerate(uploads):
        suffix = Path(upload.name).suffix.lower()
        path = work / f"upload-{index}{suffix}"  # never a user-chosen path
        raw = upload.getvalue()
        path.write_bytes(raw)
        paths.append(path)
        names.append(upload.name)
        contents.append(raw)

    calendar = ledger.load_calendar(store.root)
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
                list(PEER_GROUPS),
                key="import_peer",
            )
    # Nothing chosen yet (None) matches no inspection.
    existing = inspections.filter(
        (pl.col("round_name") == pl.lit(round_name or "", dtype=pl.String))
        & (pl.col("unit_name") == pl.lit(unit_name or "", dtype=pl.String))
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
            calendar=calendar,  # the official calendar with this store's added years
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
            f"{ui.md(result.file_name)}：识别出巡察问题 {len(result.findings)} 个、"
            f"整改措施 {sum(len(f.measures) for f in result.findings)} 条；"
            f"校验错误 {errors} 处、提示 {warnings} 处",
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
                groups = annotate.group_problems(result.problems)
                bad = [g.headline() for g in groups if g.is_error]
                notes = [g.headline() for g in groups if not g.is_error]
                if bad:
                    st.error("\n".join(f"- {ui.md(h)}" for h in bad), icon=":material/error:")
                if notes:
                    st.warning("\n".join(f"- {ui.md(h)}" for h in notes), icon=":material/info:")
                ui.table(annotate.grouped_frame(result.problems), key=f"report_{index}", height=240)
                ui.frame_downloads(
                    result.report_frame(),
                    key=f"dl_report_{index}",
                    name=f"校验报告_{Path(result.file_name).stem}",
                )
                _annotated_download(
                    contents[index], paths[index].suffix, result, key=f"dl_annotated_{index}"
                )
            if result.findings:
                st.markdown("**识别结果预览**")
                ui.table(result.measures_frame().head(200), key=f"preview_{index}", height=260)

    # The pairing table belongs to these very files, in this round and unit; the last result
    # also to the dates given.
    files_key = "|".join([round_name or "", unit_name or "", *(r.sha256 or "" for r in results)])
    context_key = f"{files_key}|{feedback}|{as_of}"
    entry = st.session_state.get(PAIRING_STATE, {}).get(files_key)
    ticked = False
    if entry is not None:
        _pairing_section(entry, several_files=len(results) > 1)
        ticked = bool(st.session_state.get(PAIRING_TICK))

    def _run(dry_run: bool, pairing: Decisions | None = None) -> ledger.ImportOutcome:
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
            pairing=pairing,
            source="page",
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
            disabled=demo_store
            or not all(r.ok for r in results)
            or bool(duplicates)
            or not round_name
            or not unit_name
            or (entry is not None and _needs_tick(entry) and not ticked),
        )
    if demo_store:
        st.caption("演示数据仓只能预检，不能导入。")
    elif entry is not None and _needs_tick(entry) and not ticked:
        st.caption("请核对上方的配对并勾选“我已核对配对”后再导入。")
    if (check or commit) and not (round_name and unit_name):
        st.warning("请先选择轮次和被巡察单位。")
    elif check or commit:
        decisions = _decisions(entry) if commit and entry is not None and ticked else None
        try:
            outcome = _run(dry_run=not commit, pairing=decisions)
        except audit.AuditError as exc:  # says itself whether anything was written
            st.error(ui.md(exc), icon=":material/gpp_bad:")
            st.stop()
        except Exception as exc:  # shown in Chinese; details stay in the server log
            st.error(f"导入未完成，未写入任何数据：{ui.md(exc)}")
            st.stop()
        if outcome.ok and commit:
            if outcome.version is not None:
                ui.prepare_sandbox(store, outcome.version)
            # Rerun so the header, the batches and every page use the new data version.
            for done_key in (PAIRING_STATE, RESULT_STATE, PAIRING_TICK):
                st.session_state.pop(done_key, None)
            st.session_state["import_done"] = outcome.message()
            st.rerun()
        st.session_state[RESULT_STATE] = {
            context_key: {
                "ok": outcome.ok,
                "message": outcome.message(),
                "summary": outcome.summary_frame() if outcome.ok else None,
                "report": None if outcome.ok else outcome.report_frame(),
            }
        }
        if outcome.pairings and (outcome.dry_run or outcome.to_confirm or outcome.errors):
            # Shown above the buttons, checked there: the page runs again with the table.
            _keep_pairing(files_key, outcome)
            st.rerun()
        if check:
            st.session_state.pop(PAIRING_STATE, None)  # nothing held to pair with
    last = st.session_state.get(RESULT_STATE, {}).get(context_key)
    if last is not None:
        _show_result(last)

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
            # A short label (a tablet cuts a long one); what it means is said beneath.
            sure = st.checkbox("我已核对，确认回滚", key="rollback_sure")
            st.caption("回滚将撤销该批次新增的问题、措施和状态记录，并生成新的数据版本。")
        with r2:
            if st.button(
                "回滚",
                icon=":material/undo:",
                disabled=not sure,
                key="rollback_go",
                use_container_width=True,
            ):
                try:
                    done = ledger.rollback_batch(
                        store, int(target), user=ui.user_name(), source="page"
                    )
                except ledger.RollbackRefused as exc:
                    st.error(ui.md(exc))
                except audit.AuditError as exc:  # says itself whether anything was written
                    st.error(ui.md(exc), icon=":material/gpp_bad:")
                except Exception as exc:  # shown in Chinese; details stay in the server log
                    st.error(f"回滚未完成，数据未改变：{ui.md(exc)}")
                else:
                    ui.prepare_sandbox(store, done.version)
                    st.session_state["import_done"] = done.message()
                    st.session_state.pop("rollback_sure", None)
                    st.rerun()
    else:
        st.caption("目前没有可回滚的台账批次（只能回滚某单位某轮次最近一次导入的台账）。")
