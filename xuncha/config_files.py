"""Reading and writing the TOML configuration files kept beside the data (STORE/config/) and
shipped with the package: one way to read them (every failure a Chinese message naming the
file), to lay a store's values over the defaults, and to replace a file atomically.

Each configuration (xuncha.figures.ecology, xuncha.evaluation.config, xuncha.figures.revisit_rule)
validates its own values and names itself in the messages; this module only handles files."""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def read_toml(path: Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """The parsed file; `error` with a message naming `what` (e.g. "评估配置文件") and the
    path when it is missing, a directory, not TOML or not UTF-8."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise error(f"{what}不存在：{path}") from None
    except IsADirectoryError:
        raise error(f"{what}是目录：{path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what}不是有效的 TOML：{path}（{exc}）") from None
    except UnicodeDecodeError:
        raise error(f"{what}须为 UTF-8 编码：{path}") from None


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `over` laid on it, tables merged key by key (a store's file names only
    what it changes)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_atomically(target: Path, text: str) -> None:
    """Replace `target` with `text`: a temporary file in its folder, flushed to disk, renamed
    over it (a reader sees the old or the new file, never half of one)."""
    fd, staging = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
