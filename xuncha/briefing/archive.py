"""The briefing archive: every generated briefing, its draft and final text, the request that
made it, the data version and the scoring configuration, beside the versioned data.

    STORE/briefings/<id>/request.json   what was asked: filters, title, issuer, suggestions,
                                        data version, configuration (values and digest),
                                        user and their scope, time
    STORE/briefings/<id>/draft.json     the briefing as generated from the figures
    STORE/briefings/<id>/final.json     the briefing as the user finalised it (edited text)
    STORE/briefings/<id>/final.docx     the Word document made from final.json
    STORE/briefings/<id>/final.pdf      the same as PDF, when LibreOffice is installed

The data version a briefing was drafted from is pinned (`Store.pin`), so old versions that
briefings need are never pruned and `regenerate` drafts from exactly the same data and
configuration; `verify_regenerated` checks the result equals the archived draft.
Files are written once (a final can be replaced by a later final, the draft never).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xuncha import audit
from xuncha.briefing.model import Briefing
from xuncha.store.store import Store

FOLDER = "briefings"
_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


class ArchiveError(Exception):
    """An archive problem (message in Chinese)."""


@dataclass(frozen=True)
class ArchivedBriefing:
    briefing_id: str
    folder: Path
    request: dict[str, Any]
    draft: Briefing
    final: Briefing | None

    @property
    def docx_path(self) -> Path | None:
        path = self.folder / "final.docx"
        return path if path.is_file() else None

    @property
    def pdf_path(self) -> Path | None:
        path = self.folder / "final.pdf"
        return path if path.is_file() else None


def _folder(store_root: str | os.PathLike[str]) -> Path:
    return Path(store_root) / FOLDER


def _write_json(path: Path, data: Any) -> None:
    staging = path.with_suffix(path.suffix + ".tmp")
    staging.write_text(
        json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True, default=str),
        encoding="utf-8",
    )
    os.chmod(staging, 0o600)
    os.replace(staging, path)


def _write_bytes(path: Path, data: bytes) -> None:
    staging = path.with_suffix(path.suffix + ".tmp")
    staging.write_bytes(data)
    os.chmod(staging, 0o600)
    os.replace(staging, path)


def save_draft(store: Store, briefing: Briefing, request: dict[str, Any], *, user: str) -> str:
    """Archive a freshly drafted briefing; returns its id. Pins the data version."""
    now = dt.datetime.now()
    briefing_id = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    folder = _folder(store.root) / briefing_id
    folder.mkdir(parents=True, mode=0o700)
    version = int(request["data_version"])
    _write_json(folder / "request.json", {**request, "user": user, "created": now.isoformat()})
    _write_json(folder / "draft.json", briefing.to_dict())
    store.pin(version, f"briefing {briefing_id}")
    audit.record(
        store.root,
        user=user,
        action="briefing",
        step="draft",
        briefing_id=briefing_id,
        data_version=version,
        config_digest=request.get("config_digest"),
    )
    return briefing_id


def save_final(
    store: Store,
    briefing_id: str,
    briefing: Briefing,
    docx: bytes,
    *,
    user: str,
    pdf: bytes | None = None,
) -> Path:
    """Keep the finalised text and its document beside the draft."""
    folder = _existing(store, briefing_id)
    _write_json(folder / "final.json", briefing.to_dict())
    _write_bytes(folder / "final.docx", docx)
    if pdf is not None:
        _write_bytes(folder / "final.pdf", pdf)
    audit.record(
        store.root,
        user=user,
        action="briefing",
        step="final",
        briefing_id=briefing_id,
        docx_sha256=hashlib.sha256(docx).hexdigest(),
        pdf=pdf is not None,
    )
    return folder / "final.docx"


def _existing(store: Store, briefing_id: str) -> Path:
    if not _ID.match(briefing_id):
        raise ArchiveError(f"简报编号格式不正确：{briefing_id}")
    folder = _folder(store.root) / briefing_id
    if not (folder / "draft.json").is_file():
        raise ArchiveError(f"没有编号为 {briefing_id} 的简报")
    return folder


def load(store: Store, briefing_id: str) -> ArchivedBriefing:
    folder = _existing(store, briefing_id)
    request = json.loads((folder / "request.json").read_text(encoding="utf-8"))
    draft = Briefing.from_dict(json.loads((folder / "draft.json").read_text(encoding="utf-8")))
    final_path = folder / "final.json"
    final = (
        Briefing.from_dict(json.loads(final_path.read_text(encoding="utf-8")))
        if final_path.is_file()
        else None
    )
    return ArchivedBriefing(briefing_id, folder, request, draft, final)


# The list's line of each briefing, kept while its request.json and draft.json are unchanged
# (same path, size and modification time): a draft holds its charts' data, megabytes at
# provincial scale, and the list is shown on every run of the briefing page.
_SUMMARIES: dict[Path, tuple[tuple[int, ...], dict[str, Any]]] = {}
_SUMMARIES_LOCK = threading.Lock()


def _summary(folder: Path) -> dict[str, Any]:
    request_file, draft_file = folder / "request.json", folder / "draft.json"
    a, b = request_file.stat(), draft_file.stat()
    stamp = (a.st_size, a.st_mtime_ns, b.st_size, b.st_mtime_ns)
    with _SUMMARIES_LOCK:
        kept = _SUMMARIES.get(folder)
    if kept is not None and kept[0] == stamp:
        return kept[1]
    request = json.loads(request_file.read_text(encoding="utf-8"))
    draft = json.loads(draft_file.read_text(encoding="utf-8"))
    summary = {
        "briefing_id": folder.name,
        "title": draft.get("title", ""),
        "as_of": draft.get("as_of", ""),
        "data_version": request.get("data_version"),
        "user": request.get("user", ""),
        "created": request.get("created", ""),
    }
    with _SUMMARIES_LOCK:
        _SUMMARIES[folder] = (stamp, summary)
    return summary


def list_briefings(store: Store, *, user: str | None = None) -> list[dict[str, Any]]:
    """Archived briefings, newest first: id, title, as-of, data version, author, final?
    With `user`, only that user's."""
    root = _folder(store.root)
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir(), reverse=True):
        if not _ID.match(folder.name) or not (folder / "request.json").is_file():
            continue
        summary = _summary(folder)
        if user is not None and summary["user"] != user:
            continue
        out.append({**summary, "final": (folder / "final.docx").is_file()})
    return out


def comparable(briefing: Briefing) -> dict[str, Any]:
    """What must be identical when a briefing is drafted again: everything but when and by
    whom it was drafted."""
    data = briefing.to_dict()
    data["meta"] = {
        k: v for k, v in data["meta"].items() if k not in {"created", "user", "briefing_id"}
    }
    return data
