"""Data shown inside Markdown, tables and charts is inert: no link, image, HTML or formatting
from a ledger's text (what the browser makes of it: tests/test_browser_access.py)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import plotly.graph_objects as go
import pytest

from xuncha import charts
from xuncha.ui import WORD_JOINER, md, selected_points
from xuncha.ui.plotly_charts import _inert_figure


def _plain(escaped: str) -> str:
    """What the reader sees: escapes resolved, the invisible joiners and the no-break spaces
    that md() adds taken away."""
    return re.sub(r"\\(.)", r"\1", escaped).replace(WORD_JOINER, "").replace("\u00a0", " ")


@pytest.mark.parametrize(
    "text",
    [
        "![t](http://203.0.113.9/track.png)",
        "[点我](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
        "**粗体**与`代码`",
        "# 标题",
        "$x^2$",
        "http://203.0.113.9/a",
        "标题\n===",
        "&lt;b&gt; 与 &amp;",
    ],
)
def test_markdown_special_characters_in_data_are_escaped(text: str) -> None:
    escaped = md(text)
    # Every Markdown-active character is preceded by a backslash.
    assert not re.search(r"(?<!\\)[\[\]()!<>*`#$&=]", escaped)
    assert _plain(escaped) == text


@pytest.mark.parametrize(
    "text",
    [
        "详见 http://203.0.113.9/a",
        "见：https://evil.example/q?x=1",
        "HTTP://EVIL.EXAMPLE",
        "网址 www.evil.example 与 ftp://203.0.113.9",
        "联系 zhang@evil.example 或 mailto:li@evil.example",
    ],
)
def test_text_that_gfm_would_link_by_itself_is_broken_by_an_invisible_joiner(text: str) -> None:
    """GFM links a bare URL, www. address or e-mail however its characters are escaped
    (tests/test_browser_access.py shows the link in Chromium without the joiner)."""
    escaped = md(text)
    for match in re.finditer(r"(?i)https?\\:|ftp\\:|mailto\\:|www\\\.", escaped):
        assert escaped[match.start() - 1] == WORD_JOINER, (escaped, match.group())
    assert "@" not in escaped.replace("@" + WORD_JOINER, "")
    assert _plain(escaped) == text


def test_leading_spaces_never_make_a_code_block() -> None:
    escaped = md("    缩进的文字\n\t第二行")
    assert not re.search(r"(?m)^[ \t]", escaped)
    assert _plain(escaped) == "    缩进的文字\n    第二行"


def test_plain_chinese_text_is_unchanged() -> None:
    assert md("落实“第一议题”制度不严格，市住建局") == "落实“第一议题”制度不严格，市住建局"
    assert md(None) == ""


HOSTILE_UNIT = '<a href="http://203.0.113.9/u">市住建局</a>'


def test_chart_text_from_the_data_never_draws_as_markup() -> None:
    """plotly draws <a href>, <b>, <br> inside tick labels, hover text and legends: a unit or
    round name holding them would be a link on the chart. The chart's own templates keep
    their markup."""
    fig = go.Figure(
        go.Bar(
            x=[HOSTILE_UNIT, "市&统计局"],
            y=[3, 4],
            name="<b>整改</b>",
            customdata=[["<i>x</i>"], ["y"]],
            hovertemplate="%{x}<br>问题：%{y}<extra></extra>",
        )
    )
    fig.update_xaxes(categoryorder="array", categoryarray=[HOSTILE_UNIT, "市&统计局"])
    spec = _inert_figure(fig.to_dict())
    trace = spec["data"][0]
    assert list(trace["x"]) == [
        '&lt;a href="http://203.0.113.9/u"&gt;市住建局&lt;/a&gt;',
        "市&amp;统计局",
    ]
    assert trace["name"] == "&lt;b&gt;整改&lt;/b&gt;"
    assert trace["customdata"] == [["&lt;i&gt;x&lt;/i&gt;"], ["y"]]
    assert trace["hovertemplate"] == "%{x}<br>问题：%{y}<extra></extra>"
    assert list(spec["layout"]["xaxis"]["categoryarray"]) == list(trace["x"])
    assert "<" not in repr(trace["x"]) and "<" not in repr(spec["layout"]["xaxis"])


def test_a_chart_builder_of_the_product_gets_escaped_names_and_clicks_give_them_back() -> None:
    import polars as pl

    frame = pl.DataFrame(
        {
            "group_key": [HOSTILE_UNIT, "市统计局"],
            "group_id": [1, 2],
            "findings": [5, 7],
            "completion_rate": [50.0, 60.0],
            "overdue_measures": [1, 0],
            "small_sample": [False, False],
        }
    )
    spec = _inert_figure(charts.top_units(frame).to_dict())
    shown = [str(v) for trace in spec["data"] for v in list(trace.get("y", []))]
    assert shown and all("<" not in v for v in shown)
    hostile = next(v for v in shown if "市住建局" in v)
    # A click on the bar gives the name as the data hold it.
    event = SimpleNamespace(
        selection=SimpleNamespace(points=[{"y": hostile, "customdata": ["a&amp;b"]}])
    )
    points = selected_points(event)
    assert points[0]["y"] == HOSTILE_UNIT
    assert points[0]["customdata"] == ["a&b"]
