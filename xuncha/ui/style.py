"""The product's stylesheet, page script and watermark, injected once per run from app.py.

Why one module: the layouts that hold at any width (KPI cards that wrap rather than cut, the
filters as a drawer on a tablet), the print stylesheet (A4 landscape, no controls) and the
watermark are all page-wide rules that no single page owns. The rules live in
xuncha/assets/style.css and the small script (the drawer closed on a tablet's first load, the
print scale) in xuncha/assets/page.js; this module reads them once per process and sends them
with the viewer's watermark on every run.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
from pathlib import Path

import streamlit as st

from xuncha import labels
from xuncha.ui.session import user_name

ASSETS = Path(__file__).resolve().parents[1] / "assets"
# Copies of the watermark's text laid over the page (a 300 × 180 px grid covers 1920 × 1080).
WATERMARK_COPIES = 49


@functools.cache
def stylesheet() -> str:
    return (ASSETS / "style.css").read_text(encoding="utf-8")


@functools.cache
def page_script() -> str:
    return (ASSETS / "page.js").read_text(encoding="utf-8")


def watermark_text(name: str, now: dt.datetime | None = None) -> str:
    """What the watermark says: who is viewing and when (minutes, the configured zone)."""
    return f"{name} {labels.shown_time(now or dt.datetime.now(dt.UTC))}"


def watermark_html(text: str) -> str:
    """A fixed layer of the text repeated diagonally: light, above the page, never in the
    way of a click (pointer-events: none), and on every printed page (a fixed element is
    repeated on each page of a print)."""
    copy = f"<span>{html.escape(text)}</span>"
    return f'<div class="xc-watermark" aria-hidden="true">{copy * WATERMARK_COPIES}</div>'


def page_style() -> None:
    """The stylesheet, the page script and the watermark with the viewer's name and the
    time; called once per run by app.py before the page runs."""
    body = (
        f"<style>{stylesheet()}</style>"
        f"{watermark_html(watermark_text(user_name()))}"
        f'<div class="xc-page-script"></div><script>{page_script()}</script>'
    )
    st.html(body, unsafe_allow_javascript=True)
