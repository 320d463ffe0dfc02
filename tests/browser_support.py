"""What the real-browser tests share: the page and server helpers of scripts/screenshot.py
(loaded by path: scripts/ is not a package). The `browser` fixture is in conftest.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("xuncha_screenshot", ROOT / "scripts/screenshot.py")
assert _spec is not None and _spec.loader is not None
shot: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shot)


# A KPI card's value or label cut: an ellipsis, a box narrower than its text, text past the card.
_CUT = """() => [...document.querySelectorAll(
        '[data-testid="stMetricValue"], [data-testid="stMetricLabel"]')].flatMap(box => {
    const found = [];
    const name = box.innerText.trim().slice(0, 20);
    for (const el of [box, ...box.querySelectorAll('*')]) {
        const css = getComputedStyle(el);
        if (css.textOverflow === 'ellipsis') found.push(`${name}: ellipsis`);
        if (el.scrollWidth > el.clientWidth + 1) found.push(`${name}: overflows its box`);
    }
    const range = document.createRange();
    range.selectNodeContents(box);
    const text = range.getBoundingClientRect(), own = box.getBoundingClientRect();
    if (text.right > own.right + 1 || text.left < own.left - 1)
        found.push(`${name}: text ${Math.round(text.width)} px in ${Math.round(own.width)} px`);
    return found;
})"""


def cut_metrics(page: Any) -> list[str]:
    """The KPI values and labels of the page that are not shown whole."""
    return list(page.evaluate(_CUT))


# What a user never reads: a section sign, the definitions file, a hex digest, an internal id.
DEVELOPER_TEXT = r"§|DOMAIN|\b[0-9a-f]{12,}\b|(?<![&\w])#\d+|摘要 [0-9a-f]"


def developer_text(page: Any) -> list[str]:
    """Developer text in the page's visible text (tables' cells are drawn, not text)."""
    import re

    text = page.evaluate("() => document.body.innerText")
    return sorted({m.group(0) for m in re.finditer(DEVELOPER_TEXT, text)})
