"""数据查询: ad hoc SQL in the sandbox (only the rows in the user's scope, locked down, time and
memory limited, audited), canned queries from queries/ with their parameters as fields, the
schema with its Chinese comments, and the user's own query history."""

import datetime as dt
import re

import polars as pl
import streamlit as st

from xuncha import audit, labels, ui
from xuncha.auth import SQL
from xuncha.sandbox import DISPLAY_MAX_ROWS, EXPORT_MAX_ROWS, MAX_SQL_CHARS, SandboxProblem, canned
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
    + ("" if box.clue_details else "线索只提供条数（表 `clue_counts`，1–2 条显示为“<3”）。")
)
# 统计截至 (issue 21 item 11): the sandbox's tables hold the current data of the version, not
# the data as of the sidebar's date; the page says so, and how to ask as of a date.
AS_OF_TEXT = scope.as_of.isoformat()
CURRENT_NOTE = (
    f"注意：沙箱中的数据表是当前数据（各问题、措施的最新状态和时限），不随侧栏的“统计截至”"
    f"（{AS_OF_TEXT}）回溯。要按某一日期查询，请用 `finding_at(DATE '{AS_OF_TEXT}', NULL, NULL, NULL)`"
    "（该日各问题的状态）、`measure_at(…)`（该日各措施的状态和时限），"
    "或使用“常用查询”（默认按统计截至日期计算）。"
)
st.info(CURRENT_NOTE, icon=":material/event:")

# The outcome an audit record gives a query, in the words the history shows.
OUTCOMES = {
    "ok": "成功",
    "error": "出错",
    "refused": "拒绝",
    "timeout": "超时",
    "out_of_memory": "超出内存",
}

EXAMPLE = f"""-- 各单位问题数与严格口径完成率（按统计截至 {AS_OF_TEXT}）
SELECT u.short_name AS 单位, count(*) AS 问题数,
       round(100.0 * count(*) FILTER (WHERE t.status = 'DONE') / count(*), 2) AS 完成率
-- finding_at(日期, 巡察编号列表, 一级类别列表, 二级类别列表)：该日各问题的状态；NULL 表示不限
FROM finding_at(DATE '{AS_OF_TEXT}', NULL, NULL, NULL) t JOIN units u USING (unit_id)
GROUP BY ALL ORDER BY 问题数 DESC"""


def scope_units() -> dict[int, str]:
    """The units of the scope's inspections, by short name (the 单位 field of a canned query)."""
    ins = reader.query("inspections_list").filter(
        pl.col("inspection_id").is_in(list(scope.inspection_ids))
    )
    pairs = ins.select("unit_id", "short_name").unique().sort("short_name")
    return dict(zip(pairs["unit_id"].to_list(), pairs["short_name"].to_list(), strict=True))


def scope_rounds() -> dict[int, str]:
    """The rounds of the scope's inspections by their order (seq), for the 轮次 field."""
    ids = reader.query("inspections_list").filter(
        pl.col("inspection_id").is_in(list(scope.inspection_ids))
    )["round_id"]
    rounds = reader.query("rounds_list").filter(pl.col("round_id").is_in(ids.to_list()))
    rounds = rounds.sort("seq")
    return dict(zip(rounds["seq"].to_list(), rounds["name"].to_list(), strict=True))


# A DuckDB message ("Binder Error: …"): shown below the Chinese explanation, smaller.
ENGINE_TEXT = re.compile(r"^[A-Z][A-Za-z ]*Error:")


def clicked(key: str) -> None:
    """运行 was clicked for the tab `key`: its query runs again even if nothing changed."""
    st.session_state[f"{key}_clicks"] = st.session_state.get(f"{key}_clicks", 0) + 1


def show_result(
    sql: str, params: dict | None, key: str, title: str, *, as_of: dt.date | None = None
) -> None:
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
        st.error(result.message, icon=":material/block:")
        if result.detail and ENGINE_TEXT.match(result.detail):
            st.caption("查询引擎的原始信息：")
            st.code(result.detail, language=None)
        return
    if as_of is not None:
        st.caption(f"以下结果按 {as_of.isoformat()} 的状态和时限计算（统计截至）。")
    else:
        st.caption(
            f"以下结果来自当前数据（不随统计截至 {AS_OF_TEXT} 回溯；按日期查询请用 `finding_at` 等）。"
        )
    st.caption(f"{result.rows:,} 行，用时 {result.elapsed_ms:,} 毫秒")
    if result.note:
        st.warning(result.note, icon=":material/content_cut:")
    if as_of is not None:  # a canned query: Chinese headers, no internal ids
        shown = result.frame.select([c for c in result.frame.columns if not c.endswith("_id")])
        ui.table(shown, key=f"{key}_result", height=420)
    else:
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
    # Only the questions of the register, in Chinese; the scope lists are bound by the page.
    offered = [c for c in canned.CANNED if c.name in queries]
    chosen = st.selectbox(
        "常用查询",
        [c.name for c in offered],
        key="canned_name",
        format_func=lambda n: canned.BY_NAME[n].title,
    )
    entry = canned.BY_NAME[chosen]
    named = queries[chosen]
    st.caption(entry.description)
    values: dict = {}
    shown_fields = [(p, f) for p, f in entry.fields.items() if f.kind != "fixed"]
    cols = st.columns(3) if shown_fields else []
    for i, (param, spec) in enumerate(shown_fields):
        key = f"canned_{chosen}_{param}"
        with cols[i % 3]:
            if spec.kind == "date":
                values[param] = st.date_input(
                    spec.label, value=scope.as_of, key=key, help=spec.help or None
                )
            elif spec.kind == "unit":
                values[param] = ui.unit_selectbox(
                    spec.label, scope_units(), key=key, none_label="全部单位"
                )
            elif spec.kind == "round":
                round_names = scope_rounds()
                values[param] = st.selectbox(
                    spec.label,
                    list(round_names),
                    index=max(len(round_names) - 1, 0),
                    format_func=round_names.__getitem__,
                    key=key,
                )
            elif spec.kind == "choice":
                values[param] = st.selectbox(
                    spec.label,
                    list(spec.choices),
                    index=list(spec.choices).index(spec.default),
                    format_func=spec.choices.__getitem__,
                    key=key,
                )
            elif spec.kind == "colours":
                picked = st.multiselect(
                    spec.label, ["红", "黄", "绿"], key=key, help=spec.help or None
                )
                values[param] = picked or None
            elif spec.kind == "terms":
                text = st.text_input(spec.label, value="", key=key, help=spec.help or None)
                words = [w.strip() for w in text.replace("，", ",").split(",") if w.strip()]
                values[param] = words or None
            elif spec.kind == "share":
                values[param] = st.number_input(
                    spec.label, 0.0, 1.0, float(spec.default), 0.05, key=key
                )
            else:
                values[param] = int(
                    st.number_input(spec.label, value=int(spec.default), step=1, key=key)
                )
    params = {**canned.default_values(entry, scope.as_of), **values}
    bound = entry.bind(params)
    scoped = scope.params()  # the sandbox holds the scope only; bound all the same
    bound.update({k: scoped[k] for k in ("inspection_ids", "category_l1", "category_l2")})
    asked = bound.get("as_of") or scope.as_of
    bound["current"] = scope.settled_on is not None and asked >= scope.settled_on
    bound = {k: v for k, v in bound.items() if k in named.params}
    with st.expander("查询语句", expanded=False):
        st.code(named.sql, language="sql")
    if st.button("运行", icon=":material/play_arrow:", key="canned_run"):
        st.session_state["canned_last"] = (chosen, bound)
        clicked("sql_canned")
    last = st.session_state.get("canned_last")
    if last and last[0] == chosen:
        show_result(
            named.sql, last[1], "sql_canned", f"常用查询_{entry.title}", as_of=last[1].get("as_of")
        )

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
