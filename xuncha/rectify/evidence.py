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


# -- PLACEHOLDER (branch `pages`): the reading side of the real module, same interface -----
# The evidence branch's module replaces this whole file (read_evidence with its scope query,
# list_evidence with queries/evidence_list.sql); these stand-ins exist only so the pages can
# be written and tested before the merge. Take the evidence branch's file as it is.


@dataclass(frozen=True)
class EvidenceDownload:
    file_name: str
    media_type: str
    data: bytes


_PLACEHOLDER_DENIED = "无权查看该佐证材料或材料不存在"


def read_evidence(store: Store, reader: Any, access: Any, sha256: str) -> EvidenceDownload:
    """PLACEHOLDER: the file if it is attached to a submission in `access`'s scope."""
    from xuncha.auth.access import APPROVE, REPORT, REVIEW, VIEW_PAGES, PermissionDenied
    from xuncha.auth.scope import scope_ids

    if not {REPORT, REVIEW, APPROVE, VIEW_PAGES} & access.permissions:
        raise PermissionDenied(_PLACEHOLDER_DENIED)
    round_ids, unit_ids = scope_ids(reader, access)
    cursor = reader._con.cursor()
    rows = cursor.execute(
        "SELECT se.file_name, s.round_id, s.unit_id, f.media_type FROM submission_evidence se"
        " JOIN rectify_submissions s USING (submission_id)"
        " JOIN evidence_files f ON f.sha256 = se.sha256 WHERE se.sha256 = ?"
        " ORDER BY se.submission_id, se.position",
        [sha256],
    ).fetchall()
    cursor.close()
    allowed = [
        r
        for r in rows
        if (round_ids is None or r[1] in round_ids) and (unit_ids is None or r[2] in unit_ids)
    ]
    if not allowed:
        raise PermissionDenied(_PLACEHOLDER_DENIED)
    path = store.root / "evidence" / sha256[:2] / sha256
    return EvidenceDownload(str(allowed[0][0]), str(allowed[0][3]), path.read_bytes())


def list_evidence(reader: Any, submission_ids: list[int] | tuple[int, ...]) -> Any:
    """PLACEHOLDER: submission_id, file_name, sha256, size, file_kind, position."""
    import polars as pl

    cursor = reader._con.cursor()
    try:
        found = cursor.execute(
            "SELECT se.submission_id, se.file_name, se.sha256, f.size, f.file_kind, se.position"
            " FROM submission_evidence se JOIN evidence_files f USING (sha256)"
            " WHERE list_contains(?::INTEGER[], se.submission_id)"
            " ORDER BY se.submission_id, se.position",
            [list(submission_ids)],
        ).fetchall()
    finally:
        cursor.close()
    schema = {
        "submission_id": pl.Int32,
        "file_name": pl.Utf8,
        "sha256": pl.Utf8,
        "size": pl.Int64,
        "file_kind": pl.Utf8,
        "position": pl.Int32,
    }
    return pl.DataFrame(found, schema=schema, orient="row")
