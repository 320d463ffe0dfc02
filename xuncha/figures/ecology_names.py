"""The names users read for a political-ecology configuration (研判配置): "默认研判配置" or
"研判配置 第3版（2026-11-02 修改）", never its digest.

Why a register and not the audit trail: the name must be the same wherever and whenever the
configuration is shown (a page today, a briefing archived last year and drafted again), and
reading the whole audit trail on every page is too slow. So each configuration a store has
used is numbered once, in the order it was first saved, in `STORE/config/ecology_versions.json`
(digest → number and date; machine-read, never shown): the same values always get the same
name, a configuration restored to earlier values gets its earlier name back, and the digest
stays what archives and audit records keep for the "identical" check.

A file an administrator wrote by hand (not through the 研判配置 page) is numbered the first
time its name is asked for, dated by the file's modification day. A digest the register does
not know and the store's file does not hold (an archive from before the register existed)
is named "研判配置（早期版本）".
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xuncha.config_files import write_atomically
from xuncha.figures.ecology import EcologyConfig, store_config_path

REGISTER = Path("config") / "ecology_versions.json"
DEFAULT_NAME = "默认研判配置"
UNKNOWN_NAME = "研判配置（早期版本）"


@dataclass(frozen=True)
class ConfigVersion:
    """One numbered configuration of a store: its number, the day it was first saved."""

    number: int
    saved_on: dt.date

    @property
    def name(self) -> str:
        return f"研判配置 第{self.number}版（{self.saved_on.isoformat()} 修改）"


def _default_digest() -> str:
    return EcologyConfig.load(None).digest()


def _register_path(store_root: str | os.PathLike[str]) -> Path:
    return Path(store_root) / REGISTER


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    versions = data.get("versions", {}) if isinstance(data, dict) else {}
    return versions if isinstance(versions, dict) else {}


def versions(store_root: str | os.PathLike[str]) -> dict[str, ConfigVersion]:
    """Every numbered configuration of the store, by digest."""
    out: dict[str, ConfigVersion] = {}
    for digest, entry in _read(_register_path(store_root)).items():
        try:
            out[digest] = ConfigVersion(
                int(entry["number"]), dt.date.fromisoformat(str(entry["saved_on"]))
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out


def record_version(
    store_root: str | os.PathLike[str], digest: str, saved_on: dt.date | None = None
) -> ConfigVersion | None:
    """Number the configuration `digest` unless it already has a number (then its number is
    kept: the same values keep their name); None for the defaults, which have no number.
    Under a lock, so two saves at once never get one number."""
    if digest == _default_digest():
        return None
    path = _register_path(store_root)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    with open(path.parent / ".ecology_versions.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        known = _read(path)
        if digest in known:
            return versions(store_root)[digest]
        number = 1 + max((int(e.get("number", 0)) for e in known.values()), default=0)
        day = saved_on or dt.date.today()
        known[digest] = {"number": number, "saved_on": day.isoformat()}
        write_atomically(path, json.dumps({"versions": known}, ensure_ascii=False, indent=1))
    return ConfigVersion(number, day)


def config_name(store_root: str | os.PathLike[str], config: EcologyConfig | str) -> str:
    """The name users read for a configuration (or its digest) of this store."""
    digest = config if isinstance(config, str) else config.digest()
    if digest == _default_digest():
        return DEFAULT_NAME
    known = versions(store_root).get(digest)
    if known is not None:
        return known.name
    path = store_config_path(store_root)
    if path.is_file():
        try:
            on_disk = EcologyConfig.load(path)
        except ValueError:
            on_disk = None
        if on_disk is not None and on_disk.digest() == digest:
            day = dt.date.fromtimestamp(path.stat().st_mtime)
            try:
                recorded = record_version(store_root, digest, day)
            except OSError:  # a read-only store: named, not numbered
                return f"研判配置（{day.isoformat()} 修改）"
            if recorded is not None:
                return recorded.name
    return UNKNOWN_NAME
