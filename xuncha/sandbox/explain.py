"""DuckDB's error messages explained in Chinese for the 数据查询 page.

Why: the readers of 数据查询 are analysts of the 巡察办, not database engineers; "Binder Error:
Referenced column … not found in FROM clause! Candidate bindings: …" tells them nothing in
their language. The engine's own message is never dropped (the page shows it below, smaller),
since it is what a technician needs; this module only says in Chinese what went wrong, where
(the line), and the closest existing name when the engine or the sandbox's tables suggest one.

Pure text functions: no engine, no page.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_LINE = re.compile(r"LINE (\d+):")
_QUOTED = re.compile(r'"([^"]+)"')
_DID_YOU_MEAN = re.compile(r'Did you mean "([^"]+)"')
_CANDIDATES = re.compile(r"Candidate bindings:[\s:]*(.+)")
_NEAR = re.compile(r'syntax error at or near "([^"]*)"')
_AT_END = re.compile(r"syntax error at end of input")
_NO_TABLE = re.compile(r"Table with name (\S+) does not exist")
_NO_FUNCTION = re.compile(r"(?:Scalar|Aggregate|Table) Function with name (\S+) does not exist")
_NO_COLUMN = re.compile(r'Referenced column "([^"]+)" not found')
_NO_COLUMN_OF = re.compile(r'Table "([^"]+)" does not have a column named "([^"]+)"')
_GROUP_BY = re.compile(r'column "([^"]+)" must appear in the GROUP BY clause')
_CONVERT = re.compile(r"Could not convert string '([^']*)' to (\w+)")
_TYPE_WORDS = {
    "INT8": "整数",
    "INT16": "整数",
    "INT32": "整数",
    "INT64": "整数",
    "INTEGER": "整数",
    "BIGINT": "整数",
    "DOUBLE": "数字",
    "DECIMAL": "数字",
    "DATE": "日期（写作 DATE '2024-06-30'）",
    "TIMESTAMP": "时间",
    "BOOL": "是/否",
    "BOOLEAN": "是/否",
}


def _where(text: str) -> str:
    found = _LINE.search(text)
    return f"（第 {found.group(1)} 行）" if found else ""


def _closest(name: str, text: str, known: Iterable[str] = ()) -> str | None:
    """The engine's suggestion ("Did you mean", the first candidate binding), else the closest
    of `known`."""
    found = _DID_YOU_MEAN.search(text)
    if found:
        return found.group(1)
    found = _CANDIDATES.search(text)
    if found:
        names = [n.split(".")[-1] for n in _QUOTED.findall(found.group(1))]
        best = difflib.get_close_matches(name, names, n=1, cutoff=0.0)
        if best:
            return best[0]
    best = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return best[0] if best else None


def _suggest(name: str | None) -> str:
    return f"最接近的名称是“{name}”。" if name else ""


def explain(kind: str, text: str, *, tables: Iterable[str] = ()) -> str:
    """One or two Chinese sentences for an engine error of `kind` (syntax, catalog, binder,
    conversion, or anything else) with the engine's `text`; `tables`: the sandbox's table
    names, for a suggestion the engine did not make."""
    where = _where(text)
    if kind == "syntax":
        near = _NEAR.search(text)
        if near:
            return (
                f"SQL 语法错误{where}：在“{near.group(1)}”处无法解析。请检查关键字拼写、"
                "逗号和括号是否成对、文字是否用单引号括起。"
            )
        if _AT_END.search(text):
            return f"SQL 语法错误{where}：语句不完整（在结尾处中断），请检查是否缺少内容。"
        return f"SQL 语法错误{where}：请检查关键字拼写、逗号和括号。"
    if kind == "catalog":
        found = _NO_TABLE.search(text)
        if found:
            name = found.group(1)
            return (
                f"没有名为“{name}”的表{where}。{_suggest(_closest(name, text, tables))}"
                "全部表见“表结构”。"
            )
        found = _NO_FUNCTION.search(text)
        if found:
            name = found.group(1)
            return f"没有名为“{name}”的函数{where}。{_suggest(_closest(name, text))}"
        return f"表、列或函数不存在{where}。全部表和字段见“表结构”。"
    if kind == "binder":
        found = _NO_COLUMN_OF.search(text)
        if found:
            table, name = found.groups()
            return (
                f"“{table}”中没有名为“{name}”的列{where}。{_suggest(_closest(name, text))}"
                "字段见“表结构”。"
            )
        found = _NO_COLUMN.search(text)
        if found:
            name = found.group(1)
            return (
                f"查询的表中没有名为“{name}”的列{where}。{_suggest(_closest(name, text))}"
                "字段见“表结构”。"
            )
        found = _GROUP_BY.search(text)
        if found:
            return (
                f"列“{found.group(1)}”既未出现在 GROUP BY 中，也未用于汇总函数{where}："
                "请把它加入 GROUP BY（或写 GROUP BY ALL），或用 any_value() 取其中一个值。"
            )
        return f"无法解析查询中的名称或类型{where}：请检查表名、列名和函数的参数。"
    if kind == "conversion":
        found = _CONVERT.search(text)
        if found:
            value, target = found.groups()
            word = _TYPE_WORDS.get(target.upper(), target)
            return f"无法把“{value}”转换为{word}{where}：请检查比较或转换的两边是否同一类数据。"
        return f"数据转换或取值出错{where}：请检查日期、数字的写法和比较的两边是否同一类数据。"
    return f"查询出错{where}。"
