"""Data made inert inside Markdown: ledger text, names and titles shown by any page never
become a link, an image, HTML or formatting (`md`)."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=])")
# Where Streamlit's Markdown (GFM) would make a link of plain text, backslashes or not: a
# scheme or www. (autolink literals), an e-mail address.
_AUTOLINK = re.compile(r"(?i)(?=(?:https?|ftp|mailto|xmpp|file)\s*:|www\.)")
# Four spaces or a tab at the start of a line would make a code block.
_LEADING_SPACE = re.compile(r"(?m)^[ \t]+")
WORD_JOINER = "\u2060"  # invisible, no line break: breaks a link where it is inserted


def md(text: object) -> str:
    """Data (names, titles, file names, ledger text) made inert inside Markdown: a ledger's
    text must never become a link, an image that calls out, HTML or formatting. Every
    Markdown-active character is escaped, and an invisible word joiner goes before what GFM
    would link by itself however escaped (http://, www., an e-mail's domain); leading
    spaces become no-break spaces (never a code block)."""
    value = "" if text is None else str(text)
    value = _AUTOLINK.sub(WORD_JOINER, value).replace("@", "@" + WORD_JOINER)
    value = _LEADING_SPACE.sub(lambda m: "\u00a0" * len(m.group(0).expandtabs(4)), value)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", value)
