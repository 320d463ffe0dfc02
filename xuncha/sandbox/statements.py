"""The check every user statement passes before it runs: one statement, and a query.

DuckDB's parser types DESCRIBE, SUMMARIZE, SHOW, VALUES, TABLE, FROM-first, UNPIVOT and PIVOT
with an IN list as SELECT, so "type is SELECT" is the rule. It is not the only wall: DuckDB 2.0
also types `WITH x AS (DELETE … RETURNING *) SELECT …` as SELECT, and table functions such as
query() run SQL text the parser never sees here. Those meet the read-only database, the
disabled file system and the locked configuration (see build.py); this check is what gives
the user a clear message before anything runs.
"""

from __future__ import annotations

import re

import duckdb

from xuncha.sandbox.errors import SandboxError, SandboxRefused

MAX_SQL_CHARS = 20_000
ALLOWED_KINDS = "查询（SELECT / WITH / FROM、DESCRIBE、SUMMARIZE）"

_ONLY = f"数据查询只能执行一条{ALLOWED_KINDS}"

# Statement type (DuckDB's StatementType name) → why it is refused, in words a user reads.
_REFUSALS: dict[str, str] = {
    "INSERT": "不允许修改数据（INSERT）：数据查询为只读",
    "UPDATE": "不允许修改数据（UPDATE）：数据查询为只读",
    "DELETE": "不允许删除数据（DELETE/TRUNCATE）：数据查询为只读",
    "MERGE_INTO": "不允许修改数据（MERGE）：数据查询为只读",
    "CREATE": "不允许创建表、视图、宏或其他对象（CREATE）",
    "CREATE_FUNC": "不允许创建函数或宏（CREATE MACRO/FUNCTION）",
    "DROP": "不允许删除对象（DROP/DEALLOCATE）",
    "ALTER": "不允许修改表结构或注释（ALTER/COMMENT ON）",
    "COPY": "不允许读写文件（COPY）：请用页面或命令行的导出功能",
    "COPY_DATABASE": "不允许复制数据库（COPY FROM DATABASE）",
    "EXPORT": "不允许导出数据库（EXPORT DATABASE）：请用页面或命令行的导出功能",
    "ATTACH": "不允许挂载其他数据库（ATTACH）",
    "DETACH": "不允许卸载数据库（DETACH）",
    "LOAD": "不允许安装或加载扩展（INSTALL/LOAD）",
    "EXTENSION": "不允许安装或更新扩展",
    "SET": "不允许修改设置（SET/RESET/USE）",
    "VARIABLE_SET": "不允许设置变量（SET VARIABLE）",
    "PRAGMA": "不允许执行 PRAGMA：可用 SELECT * FROM pragma_xxx() 或 duckdb_settings() 查看",
    "CALL": "不允许执行 CALL/CHECKPOINT：可用 SELECT * FROM 表函数(...) 查看",
    "PREPARE": "不允许预备语句（PREPARE）",
    "EXECUTE": "不允许执行预备语句（EXECUTE）",
    "TRANSACTION": "不允许事务控制语句（BEGIN/COMMIT/ROLLBACK）",
    "VACUUM": "不允许维护语句（VACUUM/ANALYZE）",
    "ANALYZE": "不允许维护语句（ANALYZE）",
    "EXPLAIN": "不支持 EXPLAIN：请直接执行查询",
    "MULTI": "该语句会展开为多条语句（如未写明 IN 列表的 PIVOT）：请写明 PIVOT … IN (…) 或改写为单条查询",
    "RELATION": "不支持该语句",
    "LOGICAL_PLAN": "不支持该语句",
}


def check_sql(
    con: duckdb.DuckDBPyConnection, sql: object, *, max_chars: int = MAX_SQL_CHARS
) -> str:
    """Return the statement's type name ('SELECT') or raise SandboxRefused / SandboxError.

    `con` is only used to parse (DuckDB's own parser, so the check and the run agree on where
    statements begin and end); nothing is executed. The query process runs this beside the
    query; the dashboard runs only `check_text`, which needs no parser.
    """
    sql = check_text(sql, max_chars=max_chars)
    try:
        statements = con.extract_statements(sql)
    except duckdb.ParserException as exc:
        raise SandboxError(
            "SQL 语法错误：" + first_line(str(exc)), reason="syntax", detail=str(exc)
        ) from None
    except (duckdb.Error, ValueError) as exc:
        raise SandboxRefused(
            f"不支持该语句：{_ONLY}", reason="statement_type:unknown", detail=str(exc)
        ) from None
    if not statements:
        raise SandboxRefused("查询语句为空（只有注释或分号）", reason="empty")
    if len(statements) > 1:
        raise SandboxRefused(
            f"一次只能执行一条语句（收到 {len(statements)} 条）：{_ONLY}",
            reason="multiple_statements",
        )
    try:
        kind = statements[0].type.name
    except ValueError:  # a type newer than the Python client's enum (e.g. UPDATE EXTENSIONS)
        raise SandboxRefused(f"不支持该语句：{_ONLY}", reason="statement_type:unknown") from None
    if kind != "SELECT":
        why = _REFUSALS.get(kind, f"不允许执行 {kind} 语句")
        raise SandboxRefused(f"{why}；{_ONLY}", reason=f"statement_type:{kind}")
    return kind


def check_text(sql: object, *, max_chars: int = MAX_SQL_CHARS) -> str:
    """The checks that need no parser: text, not too long, no NUL, not empty (SandboxRefused)."""
    if not isinstance(sql, str):
        raise SandboxRefused("查询语句必须是文本", reason="not_text")
    if len(sql) > max_chars:
        raise SandboxRefused(
            f"查询语句过长（{len(sql):,} 个字符，上限 {max_chars:,}）：请精简后再试",
            reason="too_long",
        )
    if "\x00" in sql:
        raise SandboxRefused("查询语句含有空字符（NUL）", reason="nul_character")
    if not sql.strip():
        raise SandboxRefused("查询语句为空", reason="empty")
    return sql


def first_line(text: str) -> str:
    """The engine's message without its "Binder Error: " label or the LINE context below it."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return _LABEL.sub("", line)


_LABEL = re.compile(r"^[A-Za-z][A-Za-z ]{0,30} Error: ")
