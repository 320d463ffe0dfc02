"""Changing a store's political-ecology scoring configuration (研判配置): an administrator's
edit validated by the same code that reads the file, written atomically beside the data
(`STORE/config/ecology.toml`), or removed to return to the defaults; each change described
as the audit trail records it. The configuration itself (EcologyConfig, its file format and
validation) is xuncha.figures.ecology's.

Page-free: the 研判配置 page draws the form, calls these and records the change."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xuncha.figures.ecology import (
    EcologyConfig,
    config_for_store,
    save_config,
    store_config_path,
)
from xuncha.figures.ecology_names import record_version


@dataclass(frozen=True)
class ConfigChange:
    """One change of a store's configuration: the digests before and after, and the scoring
    values saved (None when the change was a reset to the defaults)."""

    old_digest: str
    new_digest: str
    values: Mapping[str, Any] | None = None

    @property
    def reset(self) -> bool:
        return self.values is None

    def audit_details(self) -> dict[str, Any]:
        """The details of the `config_change` record in the audit trail."""
        details: dict[str, Any] = {
            "config": "ecology",
            "old_digest": self.old_digest,
            "new_digest": self.new_digest,
        }
        if self.values is None:
            details["reset"] = True
        else:
            details["values"] = dict(self.values)
        return details


def save_edited(
    store_root: str | os.PathLike[str],
    current: EcologyConfig,
    *,
    weights: Mapping[str, float],
    grades: Mapping[str, float],
    caps: Mapping[str, Any],
    min_findings: int,
    shrinkage_k: float | None = None,
) -> ConfigChange:
    """`current` with the edited weights, grade lines, caps (the rebound and overdue levels
    among them), minimum sample and shrinkage k (None: unchanged), validated
    (EcologyConfigError, with a message fit for the user, and nothing written when it is
    not valid), then saved as the store's configuration: its folder created private to the
    owner when missing, the file replaced atomically."""
    changed = current.with_values(
        weights=dict(weights),
        grades=dict(grades),
        caps=dict(caps),
        sample={"min_findings": int(min_findings)},
        normalisation={
            "shrinkage_k": float(current.shrinkage_k if shrinkage_k is None else shrinkage_k)
        },
    )
    path = store_config_path(store_root)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    save_config(changed, path)
    # Numbered once (研判配置 第N版), so every page and briefing names it the same way.
    record_version(store_root, changed.digest())
    return ConfigChange(current.digest(), changed.digest(), changed.scoring_values())


def reset_to_defaults(store_root: str | os.PathLike[str]) -> ConfigChange | None:
    """Remove the store's own configuration, so the defaults apply again; None when the
    store has none (nothing changes, nothing to record)."""
    path = store_config_path(store_root)
    if not path.is_file():
        return None
    old = config_for_store(store_root)
    path.unlink()
    return ConfigChange(old.digest(), EcologyConfig.load(None).digest())
