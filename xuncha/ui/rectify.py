"""The Streamlit side of online rectification (整改填报、审核、销号, DOMAIN.md §8): the
header of its pages, the scope of the signed-in account (its visible inspections, kept per
data version), its work lists with Chinese headers, the reports read from the progress
editor, evidence files checked on upload and offered for download, the counts shown in the
navigation, and what a page does after a step (caches, the outcome message, a rerun).

Every rule lives in xuncha.rectify: the pages call its steps, and a refusal
(WorkflowError, PermissionDenied) is shown as its Chinese message."""

from __future__ import annotations

import collections
import contextvars
import datetime as dt
import hashlib
import mimetypes
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import streamlit as st

from xuncha import audit
from xuncha.auth import REPORT, Access, PermissionDenied
from xuncha.rectify import evidence, listing, notices, roundtrip
from xuncha.rectify.workflow import (
    PROGRESS_STATUSES,
    STATE_LABELS,
    STATUS_LABELS,
    Report,
    StepOutcome,
    WorkflowError,
    visible_inspections,
)
from xuncha.store import Store, StoreError, open_reader
from xuncha.store.reader import Reader
from xuncha.ui import download_buttons, widgets
from xuncha.ui.data import clear_caches, is_demo_store, prepare_sandbox, reader, store
from xuncha.ui.session import access, require
from xuncha.ui.text import md

# Evidence files a unit may attach (checked again, by content, in xuncha.rectify.evidence).
EVIDENCE_TYPES = ["pdf", "jpg", "jpeg", "png", "docx", "xlsx", "xls"]
DONE_MESSAGE = "rectify_done"  # session key: the outcome of the last step, shown after rerun

STEP_LABELS = {
    "report": "填报进展",
    "submit": "报完成",
    "pass": "审核通过",
    "return": "退回",
    "close": "销号",
    "request": "申请延期",
    "approve": "批准延期",
    "reject": "不予延期",
}
KIND_LABELS = {"progress": "进展填报", "done": "完成申请", "extension": "延期申请"}
# The statuses a unit may report as progress, by their Chinese labels (in this order).
PROGRESS_CHOICES = {STATUS_LABELS[s]: s for s in PROGRESS_STATUSES}
NOT_REPORTED = "不填报"  # the editor's first choice: an empty cell would read "None"

# -- scope ---------------------------------------------------------------------------------

_VISIBLE_ENTRIES = 64
_VISIBLE: collections.OrderedDict[tuple[Any, ...], frozenset[int] | None] = (
    collections.OrderedDict()
)
_VISIBLE_LOCK = threading.Lock()


def visible_ids(rd: Reader, who: Access) -> list[int] | None:
    """The inspections `who` may report on or decide, as the `inspection_ids` parameter of
    the rectify queries (None: every one); computed once per data version and access."""
    key = (str(rd.store.root), rd.identity, who)
    with _VISIBLE_LOCK:
        if key in _VISIBLE:
            _VISIBLE.move_to_end(key)
            found = _VISIBLE[key]
            return None if found is None else sorted(found)
    found = visible_inspections(rd.store, who)
    with _VISIBLE_LOCK:
        _VISIBLE[key] = found
        while len(_VISIBLE) > _VISIBLE_ENTRIES:
            _VISIBLE.popitem(last=False)
    return None if found is None else sorted(found)


def forget_visible() -> None:
    with _VISIBLE_LOCK:
        _VISIBLE.clear()


# -- counts in the navigation --------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    pending_review: int = 0  # 待审核: for reviewers
    pending_close: int = 0  # 待销号: for the approver
    extension_pending: int = 0  # 延期待审批: for the approver
    returned_open: int = 0  # measures whose done claim was returned and not yet reported again

    @property
    def to_close(self) -> int:
        return self.pending_close + self.extension_pending


def queue_counts(rd: Reader, who: Access) -> QueueCounts:
    """The pending work of `who`'s scope, from rectify_queue_counts (and, for a unit that
    reports, its open measures whose last done claim was returned). Cached per data version
    like every named query of the dashboard (CachedReader)."""
    ids = visible_ids(rd, who)
    states = dict(rd.query("rectify_queue_counts", {"inspection_ids": ids}).rows())
    returned = 0
    if who.can(REPORT):
        returned = returned_awaiting(measures(rd, ids, dt.date.today(), open_only=True))
    return QueueCounts(
        pending_review=int(states.get("pending_review", 0)),
        pending_close=int(states.get("pending_close", 0)),
        extension_pending=int(states.get("extension_pending", 0)),
        returned_open=returned,
    )


def titled(title: str, count: int) -> str:
    """A navigation title with its pending count, e.g. "整改审核（3）"."""
    return f"{title}（{count}）" if count > 0 else title


def returned_awaiting(frame: pl.DataFrame) -> int:
    """Open measures whose last done claim was returned and that have no new claim yet."""
    if frame.is_empty():
        return 0
    return frame.filter(
        pl.col("last_return_reason").is_not_null()
        & pl.col("done_submission_id").is_null()
        & (pl.col("status") != "DONE")
    ).height


# -- reading -------------------------------------------------------------------------------


def measures(rd: Reader, ids: list[int] | None, today: dt.date, *, open_only: bool) -> pl.DataFrame:
    """The measures with the warning colour of the notices the unit receives (the lead times
    of STORE/config/notices.toml, xuncha.rectify.notices.colours_on)."""
    frame = rd.query(
        "rectify_measures", {"inspection_ids": ids, "as_of": today, "open_only": open_only}
    )
    deadlines = [
        d if status != "DONE" else None
        for d, status in zip(frame["deadline_current"], frame["status"], strict=True)
    ]
    colours, _ = notices.colours_on(rd.store.root, today, deadlines)
    return frame.with_columns(pl.Series("warning", colours, dtype=pl.String))


def warning_caption(rd: Reader, today: dt.date) -> str:
    """What the colours mean, in the lead times the notices use."""
    return notices.colours_on(rd.store.root, today, [])[1]


def queue(rd: Reader, ids: list[int] | None, states: Sequence[str]) -> pl.DataFrame:
    return rd.query(
        "rectify_queue", {"inspection_ids": ids, "states": list(states), "measure_id": None}
    )


def latest_first(frame: pl.DataFrame) -> pl.DataFrame:
    """Decided claims, the latest decision first (the queues to work on stay oldest first)."""
    return frame.sort(["state_on", "submission_id"], descending=True)


def active_first(rd: Reader, ids: list[int] | None, frame: pl.DataFrame) -> pl.DataFrame:
    """The measures, those with online steps first (latest activity first), for pickers."""
    subs = rd.query("rectify_queue", {"inspection_ids": ids, "states": None, "measure_id": None})
    latest = subs.group_by("measure_id").agg(pl.col("state_on").max().alias("_last"))
    return (
        frame.join(latest, on="measure_id", how="left")
        .sort(["_last", "measure_id"], descending=[True, False], nulls_last=True)
        .drop("_last")
    )


def steps(rd: Reader, ids: list[int] | None, measure_id: int) -> pl.DataFrame:
    return rd.query("rectify_measure_steps", {"inspection_ids": ids, "measure_id": measure_id})


def evidence_files(rd: Reader, submission_ids: Iterable[int]) -> pl.DataFrame:
    """submission_id, file_name, sha256, … of the given submissions (already in scope)."""
    return evidence.list_evidence(rd, sorted({int(i) for i in submission_ids}))


# -- tables in Chinese ---------------------------------------------------------------------

MEASURE_COLUMNS = {
    "warning": "预警",
    "measure_id": "措施编号",
    "status": "当前状态",
    "done_state": "完成申请",
    "deadline_current": "现行时限",
    "days_left": "剩余天数",
    "last_return_reason": "最近退回理由",
    "proposed_deadline": "申请延至",
    "title": "具体问题",
    "measure_text": "整改措施",
    "person": "责任人",
    "department": "责任部门",
    "round_name": "轮次",
    "ledger_seq": "序号",
    "returns": "退回次数",
    "progress": "最新进展",
}
QUEUE_COLUMNS = {
    "submission_id": "填报编号",
    "state": "状态",
    "unit_name": "单位",
    "round_name": "轮次",
    "title": "具体问题",
    "measure_text": "整改措施",
    "completed_on": "完成日期",
    "proposed_deadline": "申请延至",
    "deadline_current": "现行时限",
    "reason": "延期理由",
    "submitted_by": "填报人",
    "submitted_on": "填报日期",
    "state_on": "最近处理日期",
    "last_actor": "最近处理人",
    "last_reason": "最近意见",
    "evidence_files": "佐证材料数",
    "measure_returns": "该措施退回次数",
}
STEP_COLUMNS = {
    "step_date": "日期",
    "step": "环节",
    "state": "状态",
    "reason": "理由或意见",
    "kind": "类别",
    "actor": "操作人",
    "status": "填报状态",
    "progress": "整改进展",
    "completed_on": "完成日期",
    "proposed_deadline": "申请延至",
    "files": "佐证材料",
}
WARNING_COLOURS = {"红": "#f8d0d0", "黄": "#fbeeb8", "绿": "#d4eed6"}


def _labelled(frame: pl.DataFrame, columns: Mapping[str, str]) -> pl.DataFrame:
    replace = {
        "status": STATUS_LABELS,
        "state": STATE_LABELS,
        "done_state": STATE_LABELS,
        "step": STEP_LABELS,
        "kind": KIND_LABELS,
    }
    present = [c for c in columns if c in frame.columns]
    out = frame.select(present).with_columns(
        pl.col(c).replace_strict(m, default=pl.col(c), return_dtype=pl.String)
        for c, m in replace.items()
        if c in present
    )
    return out.rename({c: columns[c] for c in present})


def measures_table(frame: pl.DataFrame) -> pl.DataFrame:
    table = _labelled(frame, MEASURE_COLUMNS).with_columns(pl.col("预警").fill_null(""))
    empty = [
        c for c in ("序号", "申请延至", "最近退回理由") if table[c].null_count() == table.height
    ]
    return table.drop(empty) if table.height else table


def queue_table(frame: pl.DataFrame, drop: Sequence[str] = ()) -> pl.DataFrame:
    return _labelled(frame, {k: v for k, v in QUEUE_COLUMNS.items() if k not in drop})


def steps_table(frame: pl.DataFrame, files: pl.DataFrame) -> pl.DataFrame:
    """A measure's history; the evidence of a step by file name (its hashes are the record)."""
    names = dict(files.select("sha256", "file_name").rows()) if files.height else {}
    shown = [
        "；".join(names.get(h, h[:12]) for h in hashes) if hashes else None
        for hashes in frame["evidence"].to_list()
    ]
    with_files = frame.with_columns(pl.Series("files", shown, dtype=pl.String))
    return _labelled(with_files, STEP_COLUMNS)


def show_measures(frame: pl.DataFrame, *, key: str, selectable: bool = False) -> Any:
    """The unit's measures with the warning cell coloured (红/黄/绿)."""
    shown = widgets.no_nulls(measures_table(frame)).to_pandas()

    def colour(value: Any) -> str:
        background = WARNING_COLOURS.get(str(value))
        return f"background-color: {background}" if background else ""

    styled = shown.style.map(colour, subset=["预警"])
    config: dict[str, Any] = {}
    extra: dict[str, Any] = (
        {"on_select": "rerun", "selection_mode": "single-row"} if selectable else {}
    )
    height = _fit(360, len(shown))
    return st.dataframe(
        styled, hide_index=True, key=key, column_config=config, height=height, **extra
    )


def _fit(height: Any, rows: int) -> Any:
    """A table no taller than its rows need (no empty lines under a short list)."""
    return min(height, 38 + 35 * max(rows, 1)) if isinstance(height, int) else height


def show_table(
    frame: pl.DataFrame, *, key: str, height: Any = "auto", selectable: bool = False
) -> Any:
    data = widgets.no_nulls(frame)
    config: dict[str, Any] = {
        c: st.column_config.TextColumn(c) for c, t in data.schema.items() if t == pl.String
    }
    extra: dict[str, Any] = (
        {"on_select": "rerun", "selection_mode": "single-row"} if selectable else {}
    )
    return st.dataframe(
        data.to_arrow(),
        hide_index=True,
        key=key,
        height=_fit(height, data.height),
        column_config=config,
        **extra,
    )


# -- the progress editor -------------------------------------------------------------------


def progress_editor_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The open measures as the editor shows them: the two columns a unit fills in last."""
    return frame.select(
        pl.col("measure_id").alias("措施编号"),
        pl.lit(NOT_REPORTED, dtype=pl.String).alias("新状态"),
        pl.lit("", dtype=pl.String).alias("整改进展"),
        pl.col("status")
        .replace_strict(STATUS_LABELS, default=pl.col("status"), return_dtype=pl.String)
        .alias("当前状态"),
        pl.col("title").alias("具体问题"),
        pl.col("measure_text").alias("整改措施"),
    )


def progress_reports(rows: Iterable[Mapping[str, Any]]) -> tuple[list[Report], list[str]]:
    """The reports of the rows where the unit picked a new status, and the problems of rows
    half filled in (a status without progress, or progress without a status)."""
    reports: list[Report] = []
    problems: list[str] = []
    for row in rows:
        status = _text(row.get("新状态"))
        status = "" if status == NOT_REPORTED else status
        progress = _text(row.get("整改进展"))
        if not status and not progress:
            continue
        measure = int(row["措施编号"])
        if not status:
            problems.append(f"措施 {measure} 填写了整改进展，但未选择新状态")
        elif status not in PROGRESS_CHOICES:
            problems.append(f"措施 {measure} 的状态不能填报为：{status}")
        elif not progress:
            problems.append(f"措施 {measure} 选择了新状态，但未填写整改进展")
        else:
            reports.append(Report(measure, PROGRESS_CHOICES[status], progress))
    return reports, problems


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN from pandas
        return ""
    if type(value).__name__ == "NAType":  # pandas' missing value of a string column
        return ""
    return str(value).strip()


# -- evidence ------------------------------------------------------------------------------


def check_uploads(
    files: Iterable[tuple[str, bytes]],
) -> tuple[list[evidence.CheckedEvidence], list[str]]:
    """Every uploaded file through evidence.check_evidence: the files accepted and, in
    Chinese, why each other one was refused."""
    accepted: list[evidence.CheckedEvidence] = []
    refused: list[str] = []
    for name, data in files:
        try:
            accepted.append(evidence.check_evidence(name, data))
        except evidence.RefusedEvidence as exc:
            refused.append(str(exc))
    return accepted, refused


def evidence_downloads(files: pl.DataFrame, *, key: str) -> None:
    """A download button per evidence file, built on click (read back through the scope
    check of xuncha.rectify.evidence.read_evidence), audited and issued to this session only
    (download_buttons.scoped_download)."""
    if files.is_empty():
        return
    who = access()
    target = store()
    seen: set[str] = set()
    row = st.container(horizontal=True)
    with row:
        for index, item in enumerate(files.iter_rows(named=True)):
            sha = str(item["sha256"])
            if sha in seen:
                continue
            seen.add(sha)
            name = str(item["file_name"])
            download_buttons.scoped_download(
                f"下载 {md(name)}",
                _evidence_reader(target, who, sha),
                name,
                mime=mimetypes.guess_type(name)[0] or "application/octet-stream",
                key=f"{key}_{index}_{sha[:12]}",
                icon=":material/attach_file:",
                evidence_sha256=sha,
                submission_id=int(item["submission_id"]),
            )


def _evidence_reader(target: Store, who: Access, sha: str) -> Any:
    """The file's bytes, read when the button is clicked (in a worker thread without a
    session: the access is the one read in the page's run)."""

    def build() -> bytes:
        rd = open_reader(target)
        try:
            return read_evidence(target, rd, who, sha).data
        finally:
            rd.close()

    return build


def read_evidence(target: Store, rd: Reader, who: Access, sha: str) -> Any:
    """Adapter: the evidence module's scoped read (PermissionDenied unless in scope)."""
    return evidence.read_evidence(target, rd, who, sha)


# -- a submission in detail (review and 销号) ------------------------------------------------


def pick_submission(
    frame: pl.DataFrame, *, key: str, label: str = "选择填报"
) -> dict[str, Any] | None:
    """A selectbox over the listed submissions; the row picked (None: none listed)."""
    if frame.is_empty():
        return None
    rows = {int(r["submission_id"]): r for r in frame.iter_rows(named=True)}

    def shown(sid: int) -> str:
        r = rows[sid]
        return f"填报 {sid}｜{r['unit_name']}｜{r['title']}｜{r['measure_text']}"

    picked = st.selectbox(label, list(rows), format_func=shown, key=key)
    return None if picked is None else rows[int(picked)]


def submission_detail(
    rd: Reader, ids: list[int] | None, row: Mapping[str, Any], *, key: str
) -> None:
    """What a reviewer or the approver decides on: the measure and its finding, what was
    reported, the evidence files, and the measure's whole history (earlier returns too)."""
    kind = KIND_LABELS.get(str(row["kind"]), str(row["kind"]))
    state = STATE_LABELS.get(str(row["state"]), str(row["state"]))
    lines = [
        f"**{md(kind)}｜{md(state)}** ｜ 填报 {row['submission_id']}，"
        f"{md(row['submitted_by'])} 于 {row['submitted_on'].isoformat()} 提交",
        f"- 单位：{md(row['unit_name'])}（{md(row['round_name'])}）",
        f"- 具体问题：{md(row['title'])}",
        f"- 整改措施：{md(row['measure_text'])}（措施编号 {row['measure_id']}）",
        "- 时限：原定 "
        + (row["deadline_original"].isoformat() if row["deadline_original"] else "—")
        + "，现行 "
        + (row["deadline_current"].isoformat() if row["deadline_current"] else "—"),
    ]
    if row["kind"] == "done":
        lines.append(f"- 整改完成情况：{md(row['progress'] or '—')}")
        done_on = row["completed_on"].isoformat() if row["completed_on"] else "—"
        lines.append(f"- 完成日期：{done_on}")
    if row["kind"] == "extension":
        proposed = row["proposed_deadline"].isoformat() if row["proposed_deadline"] else "—"
        lines.append(f"- 申请延至：{proposed}")
        lines.append(f"- 延期理由：{md(row['reason'] or '—')}")
    if row["reviewer"]:
        lines.append(f"- 审核通过：{md(row['reviewer'])}")
    if int(row["measure_returns"] or 0):
        lines.append(f"- 该措施此前已被退回 {int(row['measure_returns'])} 次（见下方历史）")
    with st.container(border=True):
        st.markdown("\n".join(lines))
        files = evidence_files(rd, [int(row["submission_id"])])
        if row["kind"] == "done":
            if files.is_empty():
                st.caption("没有佐证材料。")
            else:
                st.markdown("**佐证材料**")
                evidence_downloads(files, key=f"{key}_files")
    history = steps(rd, ids, int(row["measure_id"]))
    if not history.is_empty():
        st.markdown("**该措施的填报与审核历史**")
        all_files = evidence_files(rd, history["submission_id"].unique().to_list())
        show_table(steps_table(history, all_files), key=f"{key}_history", height=240)


def own_submission(row: Mapping[str, Any], who: Access) -> bool:
    """Whether `who` submitted it, or passed it in review (neither may decide it next)."""
    return who.user in (row["submitted_by"], row.get("reviewer"))


# -- 在线整改 on 整改进度 ---------------------------------------------------------------------


def online_section(rd: Reader, scope: Any) -> None:
    """The online rectification figures of the filters' scope, as of its date: claims
    awaiting review and 销号, returns and the return rate (with its definition), and the
    median days to 销号 per unit (xuncha.figures.online)."""
    from xuncha.figures import online
    from xuncha.figures.rates import format_rate

    frame = online.online_by_unit(rd, scope)
    totals = online.online_totals(frame)
    st.subheader("在线整改")
    if frame.is_empty():
        st.caption("统计截至日，筛选范围内尚无在线报完成的措施。")
        return
    # Two by two: four cards in a row are cut ("3.…") on a tablet with the sidebar open.
    cols = [*st.columns(2), *st.columns(2)]
    cols[0].metric(
        "待审核", f"{totals['pending_review']:,}", help=online.PENDING_DEFINITION, border=True
    )
    cols[1].metric(
        "待销号",
        f"{totals['pending_close']:,}",
        help="待销号：截至统计日审核通过、尚未由巡察办销号的完成申请数；不计为完成。",
        border=True,
    )
    cols[2].metric("退回次数", f"{totals['returns']:,}", border=True)
    rate = online.RETURN_RATE
    cols[3].metric(
        rate.label,
        format_rate(totals["return_rate"]),  # type: ignore[arg-type]
        delta=f"{totals['returns']:,} ／ {totals['decisions']:,}",
        delta_color="off",
        delta_arrow="off",
        help=f"口径：{rate.definition}\n\n分子 {totals['returns']:,} ／ 分母 {totals['decisions']:,}",
        border=True,
    )
    st.caption(f"口径：{rate.definition}{online.CLOSE_DAYS_DEFINITION}按单位列示。")
    shown = frame.select([c for c in online.COLUMNS if c in frame.columns]).rename(
        {c: online.COLUMNS[c] for c in online.COLUMNS if c in frame.columns}
    )
    # One page at a time (a province has ten thousand units with online reports).
    widgets.table(
        shown,
        key="progress_online",
        raw=True,
        height=min(360, 38 + 35 * max(min(shown.height, widgets.TABLE_PAGE_ROWS), 1)),
        column_config={
            "退回率（%）": st.column_config.NumberColumn("退回率（%）", format="%.2f"),
            "销号用时中位数（天）": st.column_config.NumberColumn(
                "销号用时中位数（天）", format="%.1f"
            ),
            "单位": st.column_config.TextColumn("单位"),
        },
    )


# -- the pages' frame ----------------------------------------------------------------------


def header(title: str, permission: str, rd: Reader) -> Access:
    """Title, who and which data version, the demo banner; the page stops without
    `permission` (a refusal audited). The account's scope is what its lists hold."""
    require(permission)
    who = access()
    st.title(title)
    units = "、".join(who.units) if who.units is not None else "全部单位"
    rounds = "、".join(who.rounds) if who.rounds is not None else "全部轮次"
    st.caption(
        f"{md(who.display_name or who.user)}（{who.role_label}）｜ 范围：{md(rounds)}；"
        f"{md(units)} ｜ 数据版本 {rd.version}"
    )
    if is_demo_store(rd):
        st.info(
            "演示数据：虚构的“江城市”，单位、问题与数字均为生成，不代表任何真实情况。",
            icon=":material/science:",
        )
    done = st.session_state.pop(DONE_MESSAGE, None)
    if done:
        st.success(md(done), icon=":material/done_all:")
    return who


SERIAL = "rectify_serial"  # session key: bumped after each step, so its inputs start empty


def serial() -> int:
    """Part of the keys of a page's inputs: a step done, they are new (and empty)."""
    return int(st.session_state.get(SERIAL, 0))


_TAB: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar(
    "rectify_tab", default=None
)


class _Tab:
    """A tab whose body, while it runs, is known as the place a step is taken from."""

    def __init__(self, container: Any, key: str, index: int) -> None:
        self._container, self._key, self._index = container, key, index
        self._token: contextvars.Token[tuple[str, int] | None] | None = None

    def __enter__(self) -> Any:
        self._token = _TAB.set((self._key, self._index))
        return self._container.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        if self._token is not None:
            _TAB.reset(self._token)
        return self._container.__exit__(*exc)


def tabs(labels: Sequence[str], *, key: str) -> list[_Tab]:
    """Tabs that, after a step taken in one of them, open on that one again (their labels
    carry counts that change with the step, so the browser cannot keep the choice itself)."""
    index = int(st.session_state.get(f"{key}_open", 0))
    made = st.tabs(list(labels), default=labels[min(max(index, 0), len(labels) - 1)])
    return [_Tab(container, key, i) for i, container in enumerate(made)]


def run_step(step: Callable[[], StepOutcome]) -> None:
    """Take a step of xuncha.rectify.workflow: a refusal is shown in Chinese (nothing was
    written); a step done clears the inputs and reruns the page on the new data version."""
    try:
        outcome = step()
    except (WorkflowError, PermissionDenied) as exc:
        st.error(md(exc), icon=":material/block:")
    except audit.AuditError as exc:  # says itself whether the step was written
        st.error(md(exc), icon=":material/gpp_bad:")
    except StoreError as exc:  # no key for an encrypted store, a full disk …: nothing written
        st.error(md(f"未能写入：{exc}"), icon=":material/error:")
    else:
        st.session_state[SERIAL] = serial() + 1
        where = _TAB.get()
        if where is not None:
            st.session_state[f"{where[0]}_open"] = where[1]
        after_step(outcome)


def after_step(outcome: StepOutcome) -> None:
    """After a step was written: a new data version. Forget what was computed on the old
    one, prepare the 数据查询 sandbox of the new one (as after an import), keep the outcome
    message for the next run, and run the page again on the new version."""
    clear_caches()
    forget_visible()
    prepare_sandbox(store(), outcome.version)
    st.session_state[DONE_MESSAGE] = outcome.message
    st.rerun()


def current_reader() -> Reader:
    return reader()


def digest(*parts: Any) -> str:
    """A short stable key part for widgets that belong to one item."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=6).hexdigest()


# -- the Excel round trip (整改填报) ----------------------------------------------------------

_ROUND_TRIP = "rectify_round_trip"  # session key: the last checked upload


def round_trip_download(rd: Reader, who: Access, today: dt.date) -> None:
    """The unit's open measures as a workbook to fill in (built on click, audited)."""
    target = store()

    def build() -> bytes:
        fresh = open_reader(target)
        try:
            return roundtrip.open_measures_workbook(target, fresh, who, today=today)[1]
        finally:
            fresh.close()

    unit = who.units[0] if who.units and len(who.units) == 1 else "本单位"
    name = f"整改填报表_{unit}_{today.isoformat()}.xlsx"
    download_buttons.scoped_download(
        "下载本单位未完成措施填报表（.xlsx）",
        build,
        name,
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="rectify_round_trip_download",
        icon=":material/download:",
        what="整改填报表",
    )


def round_trip_check(
    rd: Reader, who: Access, upload: Any, files: Iterable[Any], today: dt.date
) -> roundtrip.RoundTrip | None:
    """Read the filled workbook with the evidence files it names; the result is kept for the
    confirmation (keyed by the file's content, so a changed file is read again)."""
    accepted, refused = check_uploads((f.name, f.getvalue()) for f in files)
    if refused:
        st.error(md("\n".join(f"- {r}" for r in refused)), icon=":material/error:")
        return None
    data = upload.getvalue()
    result = roundtrip.read_report_workbook(
        rd.store,
        rd,
        who,
        upload.name,
        data,
        evidence={c.file_name: c for c in accepted},
        today=today,
    )
    st.session_state[_ROUND_TRIP] = (result, upload.name, data)
    return result


def round_trip_checked() -> tuple[roundtrip.RoundTrip, str, bytes] | None:
    found = st.session_state.get(_ROUND_TRIP)
    return found if isinstance(found, tuple) else None


def round_trip_problems(result: roundtrip.RoundTrip) -> None:
    frame = pl.DataFrame(
        {
            "行": [p.row for p in result.problems],
            "列": [p.column or "" for p in result.problems],
            "问题": [p.reason for p in result.problems],
        },
        schema={"行": pl.Int64, "列": pl.String, "问题": pl.String},
    )
    st.error(
        f"填报表有 {len(result.problems)} 处问题，未提交任何填报；请修改后重新上传。",
        icon=":material/error:",
    )
    show_table(frame, key="rectify_round_trip_problems", height=260)


def round_trip_preview(result: roundtrip.RoundTrip) -> None:
    frame = pl.DataFrame(
        {
            "行": [r.source_row for r in result.reports],
            "措施编号": [r.measure_id for r in result.reports],
            "填报状态": [STATUS_LABELS.get(r.status, r.status) for r in result.reports],
            "整改进展": [r.progress for r in result.reports],
            "完成日期": [r.completed_on for r in result.reports],
            "佐证材料": ["；".join(c.file_name for c in r.evidence) for r in result.reports],
        },
        schema={
            "行": pl.Int64,
            "措施编号": pl.Int64,
            "填报状态": pl.String,
            "整改进展": pl.String,
            "完成日期": pl.Date,
            "佐证材料": pl.String,
        },
    )
    show_table(frame, key="rectify_round_trip_preview", height=260)
    for warning in result.warnings:
        st.warning(md(warning.text()), icon=":material/warning:")


def round_trip_submit(who: Access) -> None:
    checked = round_trip_checked()
    if checked is None:
        return
    result, name, data = checked

    def step() -> StepOutcome:
        return roundtrip.submit_round_trip(store(), who, result, name, data)

    st.session_state.pop(_ROUND_TRIP, None)
    run_step(step)


def queue_section(
    rd: Reader,
    who: Access,
    ids: list[int] | None,
    frame: pl.DataFrame,
    states: Sequence[str],
    *,
    key: str,
    title: str,
    drop: Sequence[str] = ("proposed_deadline", "reason"),
    label: str = "选择填报",
) -> dict[str, Any] | None:
    """One tab of a work queue: the listed claims (`frame`, in `states`), their export with
    the evidence by name and hash, a picker and the picked claim in detail; the row picked
    (None when nothing is listed)."""
    show_table(queue_table(frame, drop=drop), key=f"{key}_table", height=260)
    queue_downloads(rd, who, ids, states, key=f"{key}_dl", title=title)
    row = pick_submission(frame, key=f"{key}_pick", label=label)
    if row is not None:
        submission_detail(rd, ids, row, key=f"{key}_detail")
    return row


def queue_downloads(
    rd: Reader, who: Access, ids: list[int] | None, states: Sequence[str], *, key: str, title: str
) -> None:
    """The listed submissions as .xlsx/.csv, each with its evidence by name and SHA-256."""
    download_buttons.list_downloads(
        lambda: listing.submissions_table(rd, ids, states),
        key=key,
        title=title,
        scope_text=who.describe(),
        as_of=dt.date.today(),
    )
