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
