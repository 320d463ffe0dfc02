"""Archived briefings at rest: with a store key every file of a briefing's folder is sealed, so
a copy of the store without the key shows nothing of it; with the key it loads as before, and
its Word and PDF documents come back byte for byte; without the key, or with another, loading
fails with a Chinese message; an archive written before the store had a key still loads; and
`seal_all` seals such an archive, then moves it to a new key."""

from __future__ import annotations

import base64
import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import pytest

from tests.conftest import AS_OF
from xuncha import briefing
from xuncha.briefing import archive, content
from xuncha.briefing.docx import write_docx
from xuncha.filters import Filters, resolve_scope
from xuncha.store import Store, StoreError, crypto, open_reader

KEY_A = crypto.new_key()
KEY_B = crypto.new_key()
TITLE = "关于封存测试第七号的专项简报"  # in request.json, draft.json, final.json and the PDF
FINAL_TEXT = "定稿时改写的第一段：封存测试专用语句。"  # in final.json only
USER = "封存测试员"  # in request.json
FILES = {"request.json", "draft.json", "final.json", "final.docx", "final.pdf"}
NO_KEY = "已加密，但未提供数据仓密钥"
OTHER_KEY = "由另一把密钥加密"


@dataclass(frozen=True)
class Made:
    store: Store  # its archive holds one briefing, sealed under KEY_A
    briefing_id: str
    draft: briefing.Briefing
    final: briefing.Briefing
    request: dict[str, Any]
    docx: bytes
    pdf: bytes


def use_key(mp: pytest.MonkeyPatch, key: bytes | None) -> None:
    mp.delenv(crypto.ENV_KEY_FILE, raising=False)
    if key is None:
        mp.delenv(crypto.ENV_KEY, raising=False)
    else:
        mp.setenv(crypto.ENV_KEY, base64.b64encode(key).decode())


def copy_of(demo_store: Store, target: Path) -> Store:
    shutil.copytree(demo_store.root, target, ignore=shutil.ignore_patterns("*.lock"))
    return Store(target)


def folder_of(store: Store, briefing_id: str) -> Path:
    return store.root / archive.FOLDER / briefing_id


@pytest.fixture(scope="module")
def made(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Made:
    """One briefing drafted from the demo data and finalised with KEY_A set (made once)."""
    store = copy_of(demo_store, tmp_path_factory.mktemp("sealed") / "store")
    with pytest.MonkeyPatch.context() as mp:
        use_key(mp, KEY_A)
        reader = open_reader(store)
        try:
            request = content.BriefingRequest(
                Filters(round_from=8, round_to=8, as_of=AS_OF), title=TITLE
            )
            brief_id, draft = briefing.generate(
                store,
                reader,
                request,
                lambda f: resolve_scope(reader, f),
                user=USER,
                scope_text="全部",
            )
        finally:
            reader.close()
        final = briefing.Briefing.from_dict(draft.to_dict())
        final.sections[0].blocks[0] = briefing.Paragraph(FINAL_TEXT)
        word = write_docx(final)  # no chart images: no browser needed
        pdf = b"%PDF-1.7\n" + TITLE.encode("utf-8") + b"\n%%EOF\n"
        archive.save_final(store, brief_id, final, word, user=USER, pdf=pdf)
        request_record = archive.load(store, brief_id).request
    return Made(store, brief_id, draft, final, request_record, word, pdf)


@pytest.fixture()
def plain(made: Made, demo_store: Store, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    """A store whose archive holds the same briefing written with no key set (plain files)."""
    store = copy_of(demo_store, tmp_path / "store")
    with pytest.MonkeyPatch.context() as mp:
        use_key(mp, None)
        brief_id = archive.save_draft(store, made.draft, made.request, user=USER)
        archive.save_final(store, brief_id, made.final, made.docx, user=USER, pdf=made.pdf)
    yield store, brief_id


def assert_sealed(folder: Path, key: bytes) -> None:
    """Every file of the folder is sealed under `key` and shows none of the briefing's text."""
    assert {p.name for p in folder.iterdir()} == FILES  # no staging file left beside them
    for path in folder.iterdir():
        raw = path.read_bytes()
        assert raw.startswith(crypto.MAGIC), path.name
        assert crypto.read_header(path).key_id == crypto.key_id(key), path.name
        for text in (TITLE, FINAL_TEXT, USER):
            assert text.encode("utf-8") not in raw, (path.name, text)


def assert_loads(store: Store, brief_id: str, made: Made) -> None:
    kept = archive.load(store, brief_id)
    assert kept.draft.title == TITLE and kept.request["user"] == USER
    assert archive.comparable(kept.draft) == archive.comparable(made.draft)
    assert kept.final is not None
    assert kept.final.sections[0].blocks[0].text == FINAL_TEXT  # type: ignore[union-attr]
    assert kept.docx_bytes() == made.docx
    assert kept.pdf_bytes() == made.pdf
    listed = archive.list_briefings(store, user=USER)
    assert [(b["briefing_id"], b["title"], b["final"]) for b in listed] == [(brief_id, TITLE, True)]


def test_every_archived_file_is_sealed_and_shows_none_of_the_briefing(made: Made) -> None:
    folder = folder_of(made.store, made.briefing_id)
    assert_sealed(folder, KEY_A)
    # Not vacuous: the plaintext holds the texts looked for.
    assert TITLE in crypto.unseal_bytes(folder / "request.json", KEY_A).decode("utf-8")
    assert USER in crypto.unseal_bytes(folder / "request.json", KEY_A).decode("utf-8")
    assert FINAL_TEXT in crypto.unseal_bytes(folder / "final.json", KEY_A).decode("utf-8")
    assert TITLE.encode("utf-8") in crypto.unseal_bytes(folder / "final.pdf", KEY_A)


def test_with_the_key_the_archive_loads_and_the_documents_round_trip(
    made: Made, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_key(monkeypatch, KEY_A)
    assert_loads(made.store, made.briefing_id, made)
    word = archive.load(made.store, made.briefing_id).docx_bytes()
    assert word is not None
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(word)).paragraphs)
    assert TITLE in text and FINAL_TEXT in text


def test_without_the_key_or_with_another_loading_fails_in_chinese(
    made: Made, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_key(monkeypatch, KEY_A)
    kept = archive.load(made.store, made.briefing_id)
    assert archive.list_briefings(made.store)  # the list's lines are now kept in memory

    use_key(monkeypatch, None)
    with pytest.raises(archive.ArchiveError, match=NO_KEY) as raised:
        archive.load(made.store, made.briefing_id)
    assert isinstance(raised.value, StoreError)  # reported in one line by the command line
    assert str(made.store.root) not in str(raised.value)
    with pytest.raises(archive.ArchiveError, match=NO_KEY):
        archive.list_briefings(made.store)  # not from the kept lines
    with pytest.raises(archive.ArchiveError, match=NO_KEY):
        kept.docx_bytes()  # the key is needed when the document is read, too

    use_key(monkeypatch, KEY_B)
    with pytest.raises(archive.ArchiveError, match=OTHER_KEY):
        archive.load(made.store, made.briefing_id)
    with pytest.raises(archive.ArchiveError, match=OTHER_KEY):
        archive.list_briefings(made.store)


def test_a_damaged_sealed_file_is_refused(
    made: Made, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_key(monkeypatch, KEY_A)
    target = tmp_path / "store"
    shutil.copytree(made.store.root / archive.FOLDER, target / archive.FOLDER)
    store = Store(target)
    path = target / archive.FOLDER / made.briefing_id / "draft.json"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(archive.ArchiveError, match="无法解密") as raised:
        archive.load(store, made.briefing_id)
    assert str(target) not in str(raised.value)


def test_an_archive_written_before_the_key_still_loads_with_it(
    made: Made, plain: tuple[Store, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, brief_id = plain
    folder = folder_of(store, brief_id)
    assert {p.name for p in folder.iterdir()} == FILES
    assert not any(crypto.is_sealed(p) for p in folder.iterdir())
    assert TITLE.encode("utf-8") in (folder / "draft.json").read_bytes()
    use_key(monkeypatch, KEY_A)
    assert_loads(store, brief_id, made)


def test_seal_all_seals_then_rotates(
    made: Made, plain: tuple[Store, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, brief_id = plain
    folder = folder_of(store, brief_id)
    leftover = folder / "final.docx.tmp"  # a killed write's staging file, in plaintext
    leftover.write_bytes(made.pdf)

    counts = archive.seal_all(store, KEY_A)
    assert counts["briefing_files_sealed"] == len(FILES)
    assert counts["briefing_files_rotated"] == 0
    assert counts["briefing_leftovers_removed"] == 1
    assert_sealed(folder, KEY_A)
    use_key(monkeypatch, KEY_A)
    assert_loads(store, brief_id, made)

    again = archive.seal_all(store, KEY_A)  # an interrupted run is run again
    assert again["briefing_files_sealed"] == again["briefing_files_rotated"] == 0
    assert again["briefing_files_unchanged"] == len(FILES)

    with pytest.raises(archive.ArchiveError, match="原密钥"):
        archive.seal_all(store, KEY_B)  # sealed under KEY_A: rotating needs it
    assert_sealed(folder, KEY_A)

    counts = archive.seal_all(store, KEY_B, old_key=KEY_A)
    assert counts["briefing_files_rotated"] == len(FILES)
    assert counts["briefing_files_sealed"] == 0
    assert_sealed(folder, KEY_B)
    use_key(monkeypatch, KEY_B)
    assert_loads(store, brief_id, made)
    use_key(monkeypatch, KEY_A)
    with pytest.raises(archive.ArchiveError, match=OTHER_KEY):
        archive.load(store, brief_id)
    with pytest.raises(archive.ArchiveError, match=OTHER_KEY):
        archive.list_briefings(store)
