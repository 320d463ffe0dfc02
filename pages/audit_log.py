"""审计日志: every login, page view, query, export, import, briefing and change, with the
chain verified on every visit; filterable and exportable (for roles allowed to export it)."""

import datetime as dt
import json

import polars as pl
import streamlit as st

from xuncha import audit, labels, ui
from xuncha.auth import EXPORT_AUDIT, VIEW_AUDIT
from xuncha.ui import chinese

ZONE_NAMES = {"Asia/Shanghai": "北京时间", "UTC": "协调世界时"}

ui.require(VIEW_AUDIT, own=True)
store = ui.store()
st.title("审计日志")
problems = audit.verify(store.root)
last = audit.head(store.root)
if problems:
    st.error(
        "审计日志校验未通过：\n\n" + "\n\n".join(f"- {ui.md(str(p))}" for p in problems),
        icon=":material/gpp_bad:",
    )
else:
    st.success(
        f"审计日志完整：共 {last[0] if last else 0} 条记录，哈希链校验通过。",
        icon=":material/verified_user:",
    )
    # The chain's head is what an auditor copies elsewhere as an anchor: asked for, not shown.
    with st.expander("末条记录的哈希（供定期抄录作为锚点）", icon=":material/key:"):
        st.code(last[1] if last else "—", language=None)
kept = audit.anchors(store.root)
if kept:
    st.caption(
        "审计记录之外保存的锚点（截去末尾记录、删除记录或把最新记录回退，都会被发现）："
        + "；".join(f"{ui.md(a.source)} 序号 {a.seq}" for a in kept)
    )

rows = audit.entries(store.root)
# Read in Chinese on the page ("字段：值", times in the configured zone); the export also keeps
# each record as written (UTC time, action code, details as JSON) for auditors.
frame = pl.DataFrame(
    {
        "seq": [e.seq for e in rows],
        "time": [e.time for e in rows],
        "shown_time": [labels.shown_time(e.time, seconds=True) for e in rows],
        "user": [e.user for e in rows],
        "action": [e.action for e in rows],
        "action_label": [chinese.audit_action(e.action) for e in rows],
        "details_text": [chinese.audit_details(e.details) for e in rows],
        "details": [json.dumps(e.details, ensure_ascii=False, sort_keys=True) for e in rows],
    },
    schema={
        "seq": pl.Int64,
        "time": pl.String,
        "shown_time": pl.String,
        "user": pl.String,
        "action": pl.String,
        "action_label": pl.String,
        "details_text": pl.String,
        "details": pl.String,
    },
)
frame = frame.with_columns(pl.col("shown_time").str.slice(0, 10).alias("day"))
cols = st.columns(4)
picked_users = cols[0].multiselect(
    "用户", sorted(set(frame["user"].to_list())), key="audit_users", placeholder="全部"
)
picked_actions = cols[1].multiselect(
    "操作",
    sorted(set(frame["action"].to_list())),
    format_func=chinese.audit_action,
    key="audit_actions",
    placeholder="全部",
)
today = labels.local_now().date()
days = cols[2].date_input(
    "日期范围", value=(today - dt.timedelta(days=30), today), key="audit_days"
)
text = cols[3].text_input("包含文字", key="audit_text", max_chars=100)
view = frame
if picked_users:
    view = view.filter(pl.col("user").is_in(picked_users))
if picked_actions:
    view = view.filter(pl.col("action").is_in(picked_actions))
if isinstance(days, tuple) and len(days) == 2:
    view = view.filter(
        pl.col("day").is_between(pl.lit(days[0].isoformat()), pl.lit(days[1].isoformat()))
    )
if text:
    view = view.filter(
        pl.col("details").str.contains(text, literal=True)
        | pl.col("details_text").str.contains(text, literal=True)
        | pl.col("user").str.contains(text, literal=True)
    )
view = view.sort("seq", descending=True)
st.caption(f"符合条件 {view.height} 条（最多显示最近 2000 条；导出为全部符合条件的记录）。")
zone = labels.timezone()
shown = view.select(
    pl.col("seq").alias("序号"),
    pl.col("shown_time").alias(f"时间（{ZONE_NAMES.get(str(zone), str(zone))}）"),
    pl.col("user").alias("用户"),
    pl.col("action_label").alias("操作"),
    pl.col("details_text").alias("详情"),
)
st.dataframe(shown.head(2000), hide_index=True, width="stretch")
exported = pl.concat(
    [
        shown,
        view.select(
            pl.col("time").alias("原始记录时间（UTC）"),
            pl.col("action").alias("原始操作代码"),
            pl.col("details").alias("原始详情（JSON）"),
        ),
    ],
    how="horizontal",
)
ui.frame_downloads(exported, key="audit_export", name="审计日志", permission=EXPORT_AUDIT)
