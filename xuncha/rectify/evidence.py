"""Placeholder replaced by the evidence module (branch `evidence`): the interface only."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from xuncha.store import Store


class RefusedEvidence(Exception):
    pass


@dataclass(frozen=True)
class CheckedEvidence:
    file_name: str
    data: bytes
    sha256: str
    size: int
    media_type: str
    file_kind: str


def check_evidence(file_name: str, data: bytes) -> CheckedEvidence:
    if not data:
        raise RefusedEvidence(f"{file_name}：文件为空")
    return CheckedEvidence(
        file_name, data, hashlib.sha256(data).hexdigest(), len(data), "application/pdf", "PDF"
    )


def put_evidence(store: Store, checked: CheckedEvidence) -> None:
    folder = store.root / "evidence" / checked.sha256[:2]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / checked.sha256).write_bytes(checked.data)


def register_evidence(con: Any, checked: CheckedEvidence, *, user: str, now: dt.datetime) -> None:
    con.execute(
        "INSERT OR IGNORE INTO evidence_files VALUES (?, ?, ?, ?, ?, ?)",
        [checked.sha256, checked.size, checked.media_type, checked.file_kind, now, user],
    )
