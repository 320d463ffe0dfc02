"""数据查询: ad hoc SQL in the sandbox (only the rows in the user's scope, locked down, time and
memory limited, audited), canned queries from queries/ with their parameters as fields, the
schema with its Chinese comments, and the user's own query history."""

import polars as pl
import streamlit as st

from xuncha import audit, labels, ui
from xuncha.auth import SQL
from xuncha.sandbox import DISPLAY_MAX_ROWS, EXPORT_MAX_ROWS, MAX_SQL_CHARS, SandboxProblem
from xuncha.store.reader import load_queries

ui.require(SQL)
reader = ui.reader()
scope = ui.current_scope(reader)
ui.page_header("数据查询", reader, scope)
store = ui.store()
user = ui.user_name()
box = ui.sandbox(scope)

st.caption(
    f"查询只在“沙箱”中运行：其中只有当前筛选范围内的 {len(scope.inspection_ids):,} 次巡察的数据，"
    "只能执行一条查询语句（SELECT、WITH、FROM、DESCRIBE、SUMMARIZE），不能读写文件、不能修改数据；"
    f"每条查询在独立的查询进程中运行，最长 {box.limits.timeout:g} 秒、"
    f"内存上限 {box.limits.memory_limit}，超出即中止；页面显示前 {DISPLAY_MAX_ROWS:,} 行，"
    f"导出最多 {EXPORT_MAX_ROWS:,} 行。每次查询都记入审计日志。"
    + ("" if box.clue_details else "线索只提供条数（clue_counts，1–2 条显示为“<3”）。")
)

# The outcome an audit record gives a query, in the words the history shows.
OUTCOMES = {
    "ok": "成功",
    "error": "出错",
    "refused": "拒绝",
    "timeout": "超时",
    "out_of_memory": "超出内存",
}

EXAMPLE = """-- 各单位问题数与严格口径完成率（按当前日期）
SELECT u.short_name AS 单位, count(*) AS 问题数,
       round(100.0 * count(*) FILTER (WHERE t.status = 'DONE') / count(*), 2) AS 完成率
-- finding_at(日期, 巡察编号列表, 一级类别列表, 二级类别列表)：该日各问题的状态；NULL 表示不限
FROM finding_at(current_date, NULL, NULL, NULL) t JOIN units u USING (unit_id)
GROUP BY ALL ORDER BY 问题数 DESC"""


def clicked(key: str) -> None:
    """运行 was clicked for the tab `key`: its query runs again even if nothing changed."""
    st.session_state[f"{key}_clicks"] = st.session_state.get(f"{key}_clicks", 0) + 1


def show_result(sql: str, params: dict | None, key: str, title: str) -> None:
    """The result of the query last run from this tab. It runs (and is audited) once per click
    of 运行, or again when the data version or the scope changed; other reruns of the page
    (a tab opened, a field typed in) show the kept result instead of running it again."""
    identity = (
        box.version,
        box.scope.digest,
        box.clue_details,
        sql,
        repr(sorted((params or {}).items())),
        st.session_state.get(f"{key}_clicks", 0),
    )
    kept = st.session_state.get(f"{key}_kept")
    if kept is not None and kept[0] == identity:
        result = kept[1]
    else:
        try:
            result = box.run(sql, user=user, params=params)
        except SandboxProblem as exc:
            result = exc
        st.session_state[f"{key}_kept"] = (identity, result)
    if isinstance(result, SandboxProblem):
        st.error(str(result), icon=":material/block:")
        return
    st.caption(f"{result.rows:,} 行，用时 {result.elapsed_ms:,} 毫秒")
    if result.note:
        st.warning(result.note, icon=":material/content_cut:")
    ui.table(result.frame, key=f"{key}_result", height=420, raw=True)

    def full() -> pl.DataFrame:
        return box.run(
            sql, user=user, params=params, max_rows=EXPORT_MAX_ROWS, purpose="export"
        ).frame

    ui.query_downloads(
        full, box.export_meta(result, sql, user=user, title=title), key=key, name=title
    )


tab_free, tab_canned, tab_schema, tab_history = st.tabs(
    ["自由查询", "常用查询", "表结构", "我的查询历史"]
)

with tab_free:
    if "sql_text" not in st.session_state:
        st.session_state["sql_text"] = EXAMPLE
    sql = st.text_area(
        "SQL",
        key="sql_text",
        height=200,
        max_chars=MAX_SQL_CHARS,
        help="只允许一条查询语句；表和字段见“表结构”。",
    )
    with st.expander("语法高亮预览", expanded=False):
        st.code(sql or "", language="sql")
    if st.button("运行查询", type="primary", icon=":material/play_arrow:", key="sql_run"):
        st.session_state["sql_last"] = sql
        clicked("sql_free")
    if st.session_state.get("sql_last"):
        show_result(st.session_state["sql_last"], None, "sql_free", "数据查询结果")

with tab_canned:
    queries = load_queries()
    # Not offered: queries about the store itself, and the current-state counts (valid only
    # for dates on or after settled_on; rectification_counts answers for any date).
    internal = {
        "scope_inspections",
        "schema_tables",
        "store_settled_on",
        "inspections_count",
        "store_is_demo",
        "rectification_counts_current",
    }
    names = [n for n in queries if n not in internal]
    chosen = st.selectbox(
        "常用查询",
        names,
        key="canned_name",
        format_func=lambda n: f"{n} — {queries[n].returns[:60]}",
    )
    named = queries[chosen]
    st.caption(f"返回：{named.returns}；粒度：{named.grain}")
    values: dict = {}
    # Bound by the page, not typed: the scope's inspections, and whether the date asked is
    # one the current-state summaries hold (the sandbox holds them too; same rows either way).
    fields = [p for p in named.params if p not in {"inspection_ids", "current"}]
    cols = st.columns(3) if fields else []
    for i, param in enumerate(fields):
        kind = named.params[param].split()[0].upper()
        label = f"{param}（{named.params[param].split(maxsplit=1)[-1]}）"
        with cols[i % 3]:
            if kind == "DATE":
                values[param] = st.date_input(label, value=scope.as_of, key=f"canned_{param}")
            elif kind in {"INTEGER", "BIGINT"}:
                default = 100 if param == "limit" else (1 if param == "level" else 0)
                number = st.number_input(label, value=default, step=1, key=f"canned_{param}")
                # 0 reads as "not set" for an id or a round bound (round seqs start at 1).
                unset = param.endswith("_id") or param in {"round_from", "round_to"}
                values[param] = None if unset and number == 0 else int(number)
            elif kind == "BOOLEAN":
                values[param] = st.checkbox(label, value=True, key=f"canned_{param}")
            elif kind == "DOUBLE":
                values[param] = st.number_input(label, value=0.3, key=f"canned_{param}")
            elif kind.endswith("[]"):
                text = st.text_input(
                    label,
                    value="",
                    key=f"canned_{param}",
                    placeholder="留空为全部；多个值用逗号分隔",
                )
                parts = [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]
                if kind.startswith("INTEGER"):
                    values[param] = [int(p) for p in parts if p.isdigit()] or None
                else:
                    values[param] = parts or None
            else:
                text = st.text_input(
                    label, value="all" if param == "by" else "", key=f"canned_{param}"
                )
                values[param] = text or None
    if "inspection_ids" in named.params:
        values["inspection_ids"] = list(scope.inspection_ids)
    if "current" in named.params:
        asked = values.get("as_of") or scope.as_of
        values["current"] = scope.settled_on is not None and asked >= scope.settled_on
    with st.expander("查询语句", expanded=False):
        st.code(named.sql, language="sql")
    if st.button("运行", icon=":material/play_arrow:", key="canned_run"):
        st.session_state["canned_last"] = (chosen, values)
        clicked("sql_canned")
    last = st.session_state.get("canned_last")
    if last and last[0] == chosen:
        show_result(named.sql, last[1], "sql_canned", f"常用查询_{chosen}")

with tab_schema:
    schema = box.schema()
    tables = schema["table"].unique(maintain_order=True).to_list()
    st.caption(f"沙箱中可查询 {len(tables)} 张表；（派生）表由系统按状态记录生成，供按日期回溯。")
    for table in tables:
        part = schema.filter(pl.col("table") == table)
        comment = part["table_comment"][0] or ""
        with st.expander(f"{table} — {comment}"):
            ui.table(
                part.select("column", "type", "comment", "examples").rename(
                    {"column": "字段", "type": "类型", "comment": "说明", "examples": "示例值"}
                ),
                key=f"schema_{table}",
            )

with tab_history:
    mine = [
        e
        for e in audit.entries(store.root)
        if e.user == user and e.action in {"sql_query", "sql_refused"}
    ]
    if not mine:
        st.caption("尚无查询记录。")
    else:
        history = pl.DataFrame(
            {
                "时间": [labels.shown_time(e.time) for e in mine[::-1][:200]],
                "结果": [
                    OUTCOMES.get(o, o)
                    for o in (str(e.details.get("outcome", e.action)) for e in mine[::-1][:200])
                ],
                "行数": [e.details.get("rows") for e in mine[::-1][:200]],
                "用时(毫秒)": [e.details.get("duration_ms") for e in mine[::-1][:200]],
                "SQL": [str(e.details.get("sql", "")) for e in mine[::-1][:200]],
            },
            strict=False,
        )
        event = ui.table(history, key="sql_history", height=360, selectable=True)
        row = ui.selected_row(event)
        if row is not None and st.button("载入到编辑框", key="sql_history_load"):
            st.session_state["sql_text"] = history["SQL"][row]
            st.rerun()
        st.caption(
            f"最近 {min(len(mine), 200)} 条（共 {len(mine):,} 条），来自审计日志，"
            f"截至 {labels.shown_time(labels.local_now())}。"
        )
