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

When the store has a key (`Store.key()`: XUNCHA_STORE_KEY_FILE or XUNCHA_STORE_KEY), every
file is sealed (`crypto.seal_bytes`) as it is written, so a copy of the store without its key
reveals nothing of a briefing; files written before the store was encrypted stay plain and
load as before until `seal_all` seals them (`xuncha key seal`), which also moves sealed ones
to a new key (`xuncha key rotate`). All reads and writes go through `_read` and `_write`.
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
from xuncha.store import crypto
from xuncha.store.store import Store, StoreError

FOLDER = "briefings"
_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
# The files a briefing's folder may hold (all sealed when the store has a key).
FILES = ("request.json", "draft.json", "final.json", "final.docx", "final.pdf")


class ArchiveError(Exception):
    """An archive problem (message in Chinese)."""


class SealedArchiveError(ArchiveError, StoreError):
    """An archived file that cannot be unsealed: no store key, another key, or a damaged or
    altered file. Also a StoreError, so the command line and the pages report it in one line
    as any other problem with the store's key."""


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

    def docx_bytes(self) -> bytes | None:
        """The final Word document (decrypted when sealed), None before it is finalised."""
        return self._bytes(self.docx_path)

    def pdf_bytes(self) -> bytes | None:
        """The final PDF (decrypted when sealed), None when there is none."""
        return self._bytes(self.pdf_path)

    def _bytes(self, path: Path | None) -> bytes | None:
        # The key is read now, not at load: a key rotated meanwhile is taken up.
        return None if path is None else _read(path, _Key(Store(self.folder.parent.parent)))


class _Key:
    """The store key, read from the environment once per operation, and only when a sealed
    file is met (an unencrypted archive never needs it)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._key: bytes | None = None
        self._read = False

    def __call__(self) -> bytes | None:
        if not self._read:
            self._key = self._store.key()
            self._read = True
        return self._key


def _folder(store_root: str | os.PathLike[str]) -> Path:
    return Path(store_root) / FOLDER


def _write_json(path: Path, data: Any, key: bytes | None) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True, default=str)
    _write(path, text.encode("utf-8"), key)


def _write(path: Path, data: bytes, key: bytes | None) -> None:
    """Every archived file is written here (crypto.write_archived: sealed under the store's
    key, plain without one, never half a file)."""
    crypto.write_archived(path, data, key)


def _read(path: Path, key: _Key) -> bytes:
    """Every archived file is read here (crypto.read_archived: a SealedArchiveError, in
    Chinese, when there is no key, another key, or the file was altered)."""
    return crypto.read_archived(path, key, "简报存档", SealedArchiveError)


def _read_json(path: Path, key: _Key) -> Any:
    return json.loads(_read(path, key).decode("utf-8"))


def save_draft(store: Store, briefing: Briefing, request: dict[str, Any], *, user: str) -> str:
    """Archive a freshly drafted briefing; returns its id. Pins the data version."""
    key = store.key()  # before anything is made: a bad key leaves no empty folder
    now = dt.datetime.now()
    briefing_id = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    folder = _folder(store.root) / briefing_id
    folder.mkdir(parents=True, mode=0o700)
    version = int(request["data_version"])
    record = {**request, "user": user, "created": now.isoformat()}
    _write_json(folder / "request.json", record, key)
    _write_json(folder / "draft.json", briefing.to_dict(), key)
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
    key = store.key()
    _write_json(folder / "final.json", briefing.to_dict(), key)
    _write(folder / "final.docx", docx, key)
    if pdf is not None:
        _write(folder / "final.pdf", pdf, key)
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
    key = _Key(store)
    request = _read_json(folder / "request.json", key)
    draft = Briefing.from_dict(_read_json(folder / "draft.json", key))
    final_path = folder / "final.json"
    final = Briefing.from_dict(_read_json(final_path, key)) if final_path.is_file() else None
    return ArchivedBriefing(briefing_id, folder, request, draft, final)


# The list's line of each briefing, kept while its request.json and draft.json are unchanged
# (same path, size and modification time) and, when they are sealed, the store key is the
# same: a draft holds its charts' data, megabytes at provincial scale, and the list is shown
# on every run of the briefing page. (A kept line is never shown without the key that read it.)
_SUMMARIES: dict[Path, tuple[tuple[object, ...], dict[str, Any]]] = {}
_SUMMARIES_LOCK = threading.Lock()


def _summary(folder: Path, key: _Key) -> dict[str, Any]:
    request_file, draft_file = folder / "request.json", folder / "draft.json"
    a, b = request_file.stat(), draft_file.stat()
    stamp: tuple[object, ...] = (a.st_size, a.st_mtime_ns, b.st_size, b.st_mtime_ns)
    if crypto.is_sealed(request_file) or crypto.is_sealed(draft_file):
        store_key = key()
        stamp += (crypto.key_id(store_key) if store_key is not None else None,)
    with _SUMMARIES_LOCK:
        kept = _SUMMARIES.get(folder)
    if kept is not None and kept[0] == stamp and stamp[-1] is not None:
        return kept[1]
    request = _read_json(request_file, key)
    draft = _read_json(draft_file, key)
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
    key = _Key(store)
    for folder in sorted(root.iterdir(), reverse=True):
        if not _ID.match(folder.name) or not (folder / "request.json").is_file():
            continue
        summary = _summary(folder, key)
        if user is not None and summary["user"] != user:
            continue
        out.append({**summary, "final": (folder / "final.docx").is_file()})
    return out


def comparable(briefing: Briefing) -> dict[str, Any]:
    """What must be identical when a briefing is drafted again: everything but when and by
    whom it was drafted."""
    data = briefing.to_dict()
    data["meta"] = {
        k: v
        for k, v in data["meta"].items()
        if k not in {"created", "user", "briefing_id", "config_name"}
    }
    return data


def seal_all(store: Store, new_key: bytes, old_key: bytes | None = None) -> dict[str, int]:
    """Seal every archived briefing file under `new_key`: plain ones (written before the store
    was encrypted) are sealed in place, ones sealed under `old_key` are re-sealed (rotated),
    ones already under `new_key` are left (so an interrupted run can be run again). The
    staging files a killed write left (plaintext, possibly) are removed. For `xuncha key seal`
    and `xuncha key rotate`, with no briefing being written meanwhile. SealedArchiveError when
    a file is sealed under a key other than both (or is damaged); files done before stay done.
    Returns counts: briefing_files_sealed, briefing_files_rotated, briefing_files_unchanged,
    briefing_leftovers_removed."""
    counts = dict.fromkeys(
        (
            "briefing_files_sealed",
            "briefing_files_rotated",
            "briefing_files_unchanged",
            "briefing_leftovers_removed",
        ),
        0,
    )
    root = _folder(store.root)
    if not root.is_dir():
        return counts
    for folder in sorted(root.iterdir()):
        if not _ID.match(folder.name) or not folder.is_dir():
            continue
        for leftover in sorted(folder.iterdir()):
            if leftover.name.endswith(".tmp") and leftover.name.startswith(FILES):
                leftover.unlink(missing_ok=True)
                counts["briefing_leftovers_removed"] += 1
        for name in FILES:
            path = folder / name
            if not path.is_file():
                continue
            try:
                counts[f"briefing_files_{crypto.reseal(path, new_key, old_key)}"] += 1
            except crypto.CryptoError as exc:
                where = f"{folder.name}/{name}"
                detail = str(exc).replace(str(path), where)
                raise SealedArchiveError(f"简报存档 {where} 未能加密：{detail}") from None
    return counts
