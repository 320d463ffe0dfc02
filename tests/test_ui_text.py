"""Data shown inside Markdown is inert: no link, image or HTML from a ledger's text."""

from __future__ import annotations

import re

import pytest

from xuncha.ui import md


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
    ],
)
def test_markdown_special_characters_in_data_are_escaped(text: str) -> None:
    escaped = md(text)
    # Every Markdown-active character is preceded by a backslash.
    assert not re.search(r"(?<!\\)[\[\]()!<>*`#$]", escaped)
    assert re.sub(r"\\(.)", r"\1", escaped) == text


def test_plain_chinese_text_is_unchanged() -> None:
    assert md("落实“第一议题”制度不严格，市住建局") == "落实“第一议题”制度不严格，市住建局"
    assert md(None) == ""
