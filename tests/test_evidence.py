"""Evidence files of online rectification (DOMAIN.md §8): checked like ledgers, kept in the
store by content, read back only through a scope check, carried by backups and key rotation.

The accepted files are real ones (a PDF written by hand with its cross-reference table, images
made by Pillow, a .docx by python-docx, an .xlsx by openpyxl); each hostile file is one of
them changed in the one way that makes it hostile, so a refusal is the check's doing."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path

import docx
import openpyxl
import pytest
from PIL import Image

from tests.builders import pdf
from xuncha import cli
from xuncha.auth.access import Access, PermissionDenied
from xuncha.rectify import evidence as ev
from xuncha.rectify.evidence import (
    DENIED,
    CheckedEvidence,
    EvidenceDamaged,
    RefusedEvidence,
    check_evidence,
    check_evidence_files,
    evidence_path,
    list_evidence,
    put_evidence,
    read_evidence,
    register_evidence,
)
from xuncha.store import Store, StoreError, crypto, open_reader
from xuncha.store.backup import BackupError, backup, restore

KEY_TEXT = base64.b64encode(bytes(range(100, 132))).decode()
NEW_KEY = bytes(range(1, 33))
NOW = dt.datetime(2026, 11, 20, 9, 30)
UNIT_A, UNIT_B = "市甲局", "市乙局"
ROUND_1 = "十四届市委第一轮巡察"

# -- real files ----------------------------------------------------------------------------


def with_catalog(extra: bytes) -> bytes:
    """A PDF whose catalog carries `extra` (an /OpenAction, /Names …)."""
    plain = pdf()
    return plain.replace(b"/Pages 2 0 R >>", b"/Pages 2 0 R " + extra + b" >>", 1)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (dictionary, len(data), data)


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


def word(text: str = "整改完成情况说明", link: str | None = None) -> bytes:
    document = docx.Document()
    paragraph = document.add_paragraph(text)
    if link is not None:
        rel = document.part.relate_to(link, docx.opc.constants.RELATIONSHIP_TYPE.HYPERLINK, True)
        paragraph.add_run(f" {rel}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["措施", "完成情况"])
    sheet.append(["建立台账", "已完成"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def repack(
    data: bytes, add: dict[str, bytes] | None = None, replace: dict[str, bytes] | None = None
) -> bytes:
    """The package with members added, or replaced."""
    wanted = dict(replace or {})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = wanted.pop(info.filename, None)
            target.writestr(info, body if body is not None else source.read(info))
        assert not wanted, f"no member {sorted(wanted)}"
        for name, body in (add or {}).items():
            target.writestr(name, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def refused(name: str, data: bytes, *fragments: str) -> str:
    with pytest.raises(RefusedEvidence) as caught:
        check_evidence(name, data)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


# -- checking: accepted --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "build", "kind", "media"),
    [
        ("整改报告.pdf", pdf, "PDF", "application/pdf"),
        ("现场照片.PNG", png, "图片", "image/png"),
        ("现场照片.jpg", jpeg, "图片", "image/jpeg"),
        ("现场照片.jpeg", jpeg, "图片", "image/jpeg"),
        ("情况说明.docx", word, "Word", ev._WORD),
        ("整改台账.xlsx", workbook, "Excel", ev._XLSX),
    ],
)
def test_each_accepted_kind_is_checked_by_content_and_described(
    name: str, build: object, kind: str, media: str
) -> None:
    data = build()  # type: ignore[operator]
    checked = check_evidence(name, data)
    assert checked == CheckedEvidence(
        name, data, hashlib.sha256(data).hexdigest(), len(data), media, kind
    )


def test_a_pdf_whose_strings_or_binary_streams_spell_a_refused_name_is_accepted() -> None:
    """Names are read as a PDF reader reads them: "/JS" inside a string or a stream's binary
    data is no key."""
    info = b"<< /Title (notes on /JS and /XFA \\) /JS \\( /More) /Subject <2F4A53> >>"
    binary = stream(b"/Subtype /Image /Width 1 /Height 1", b"\x00/JS \x01/XFA]")
    data = pdf(info, binary, trailer_extra=b"/Info 4 0 R ")
    assert check_evidence("说明.pdf", data).file_kind == "PDF"


def test_a_docx_with_a_hyperlink_is_accepted() -> None:
    data = word(link="https://example.org/notice")
    assert b'TargetMode="External"' in zipfile.ZipFile(io.BytesIO(data)).read(
        "word/_rels/document.xml.rels"
    )
    assert check_evidence("说明.docx", data).file_kind == "Word"


def test_the_name_keeps_its_last_component_without_control_characters() -> None:
    data = pdf()
    assert check_evidence("../../etc/整改报告.pdf", data).file_name == "整改报告.pdf"
    assert check_evidence("C:\\Users\\张三\\桌面\\报告.pdf", data).file_name == "报告.pdf"
    assert check_evidence(" 报\x00告\u200b\n.pdf ", data).file_name == "报告 .pdf"
    long = check_evidence("长" * 300 + ".pdf", data).file_name
    assert len(long) == ev.NAME_MAX and long.endswith(".pdf")


# -- checking: refused ---------------------------------------------------------------------


def test_a_program_renamed_as_a_pdf_is_refused_naming_the_file_and_what_it_is() -> None:
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200)
    refused("整改报告.pdf", exe, "整改报告.pdf", "Windows 可执行程序", "扩展名却是 .pdf")
    refused("setup.exe", exe, "setup.exe", "不支持的文件类型 .exe")
    # A right-to-left override cannot make "…exe" pass as "…pdf".
    refused("报告\u202efdp.exe", exe, "报告fdp.exe", "不支持的文件类型 .exe")


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        ("通知.pdf", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "网页（HTML）"),
        ("照片.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        ("照片.jpg", png(), "PNG 图片"),
        ("台账.xlsx", word(), "Word 文档"),
        ("说明.docx", workbook(), "Excel 工作簿"),
        ("台账.xls", workbook(), "Excel 工作簿（.xlsx）"),
        ("说明.pdf", b"#!/bin/sh\nrm -rf /\n", "脚本"),
    ],
    # Named by file and what it is, not by its bytes: a generated workbook's bytes hold the
    # time it was zipped, so xdist workers collecting a second apart saw different test ids.
    ids=lambda value: value if isinstance(value, str) else "data",
)
def test_a_file_whose_content_is_not_what_its_extension_says_is_refused(
    name: str, data: bytes, what: str
) -> None:
    refused(name, data, name, what, "扩展名却是")


@pytest.mark.parametrize("name", ["page.html", "logo.svg", "run.js", "macro.docm", "a.xlsm", "x"])
def test_other_types_and_macro_enabled_formats_are_refused_by_name(name: str) -> None:
    message = refused(name, pdf(), name)
    assert ("启用宏" in message) == name.endswith(("m",)), message


@pytest.mark.parametrize(
    ("objects", "catalog", "what"),
    [
        ((), b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>", "JavaScript"),
        ((), b"/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >>", "JavaScript"),
        ((), b"/OpenAction << /S /Launch /F (cmd.exe) >>", "/Launch"),
        ((), b"/Names << /EmbeddedFiles << /Names [] >> >>", "嵌入的附件"),
        ((), b"/AcroForm << /XFA 4 0 R >>", "XFA"),
        ((b"<< /Filter /Standard /V 2 /R 3 /O <00> /U <00> /P -4 >>",), b"", "加密"),
    ],
)
def test_a_pdf_with_scripts_actions_attachments_or_encryption_is_refused(
    objects: tuple[bytes, ...], catalog: bytes, what: str
) -> None:
    data = pdf(*objects) if objects else with_catalog(catalog)
    if objects:  # an /Encrypt dictionary named by the trailer
        data = pdf(*objects, trailer_extra=b"/Encrypt 4 0 R ")
    refused("整改报告.pdf", data, "整改报告.pdf", what)


def test_the_long_names_are_refused_wherever_their_bytes_are() -> None:
    """A reader rebuilding a broken cross-reference table finds objects anywhere in the file,
    inside stream data too; the names that cannot occur by chance are searched for there."""
    hidden = stream(b"", b"6 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj")
    refused("整改报告.pdf", pdf(hidden), "JavaScript")


def test_a_script_hidden_in_a_compressed_object_stream_is_found() -> None:
    hidden = b"5 0 << /S /JavaScript /JS (app.alert(1)) >>"
    header = b"5 0 "
    content = header + hidden[len(header) :]
    packed = zlib.compress(content)
    objstm = stream(b"/Type /ObjStm /N 1 /First %d /Filter /FlateDecode" % len(header), packed)
    data = pdf(objstm)
    assert b"JavaScript" not in data  # not in the file's bytes as they are
    refused("整改报告.pdf", data, "JavaScript")


def test_a_truncated_pdf_is_refused() -> None:
    refused("报告.pdf", pdf()[:-30], "不完整")


def test_macros_in_a_workbook_or_a_document_are_refused_whatever_the_extension() -> None:
    vba = {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 vba"}
    refused("台账.xlsx", repack(workbook(), vba), "台账.xlsx", "VBA 宏")
    refused("说明.docx", repack(word(), {"word/vbaProject.bin": b"vba"}), "文档含有 VBA 宏")
    refused("说明.docx", repack(word(), {"word/activeX/activeX1.xml": b"<a/>"}), "ActiveX")
    ole = {"word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0 package"}
    refused("说明.docx", repack(word(), ole), "嵌入的 OLE 对象")


def test_external_links_are_refused_and_hyperlinks_are_not() -> None:
    rels = zipfile.ZipFile(io.BytesIO(word())).read("word/_rels/document.xml.rels")
    template = rels.replace(
        b"</Relationships>",
        b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/attachedTemplate" Target="http://203.0.113.9/t.dotm" '
        b'TargetMode="External"/></Relationships>',
    )
    data = repack(word(), replace={"word/_rels/document.xml.rels": template})
    refused("说明.docx", data, "外部链接", "203.0.113.9")
    linked = repack(workbook(), {"xl/externalLinks/externalLink1.xml": b"<externalLink/>"})
    refused("台账.xlsx", linked, "外部链接")


def test_a_zip_bomb_and_too_many_members_are_refused() -> None:
    bomb = repack(word(), {"word/media/image9.png": bytes(8 << 20)})
    assert len(bomb) < 100_000
    refused("说明.docx", bomb, "压缩炸弹")
    many = repack(workbook(), {f"xl/media/m{i}.bin": b"x" for i in range(1001)})
    refused("台账.xlsx", many, "个部件，超过上限")


def test_xml_entities_and_path_traversal_inside_a_package_are_refused() -> None:
    entity = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    refused("说明.docx", repack(word(), {"word/custom.xml": entity}), "DOCTYPE")
    refused("说明.docx", repack(word(), {"../../evil.xml": b"<x/>"}), "路径穿越")


def test_an_encrypted_office_file_is_refused() -> None:
    # An encrypted .docx or .xlsx is an OLE compound file holding an EncryptedPackage stream.
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500)
    ole += "EncryptedPackage".encode("utf-16-le") + bytes(500)
    refused("说明.docx", ole, "说明.docx", "已加密")
    refused("台账.xlsx", ole, "已加密")


def test_broken_images_are_refused() -> None:
    good = png()
    header = bytearray(good)
    header[20] ^= 0xFF  # the width, under the IHDR chunk's CRC
    refused("照片.png", bytes(header), "照片.png", "图片已损坏")
    refused("照片.png", good[:-20], "图片已损坏")  # no IEND
    photo = jpeg((400, 300))
    refused("照片.jpg", photo[: len(photo) // 2], "图片已损坏")  # cut in the middle
    refused("照片.jpg", b"\xff\xd8\xff\xe0" + bytes(100), "图片已损坏")


def test_an_image_of_absurd_size_is_refused_without_being_decoded() -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return len(body).to_bytes(4, "big") + kind + body + crc.to_bytes(4, "big")

    for width, height in ((20_000, 20_000), (12_000, 9_000)):  # 400 and 108 million pixels
        header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
        data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        data += chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b"")
        refused("照片.png", data, "图片尺寸")


def test_empty_and_oversize_files_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    refused("报告.pdf", b"", "报告.pdf", "文件是空的")
    data = pdf(stream(b"", b"x" * 3000))
    monkeypatch.setenv(ev.ENV_MAX_MB, str(2000 / 1024 / 1024))
    refused("报告.pdf", data, "报告.pdf", "超过上限")
    monkeypatch.setenv(ev.ENV_MAX_MB, "1")
    assert check_evidence("报告.pdf", data).size == len(data)
    monkeypatch.setenv(ev.ENV_MAX_MB, "不是数字")
    assert ev.max_bytes() == 20 << 20


def test_a_name_with_nothing_left_is_refused() -> None:
    refused("../..", pdf(), "文件名无效")
    refused("\u202e\u200b", pdf(), "文件名无效")


# -- storage and reading -------------------------------------------------------------------


def _seed(con: object) -> None:
    run = con.execute  # type: ignore[attr-defined]
    run(
        "INSERT INTO rounds VALUES (1, ?, '十四届', 1, '常规', DATE '2026-03-01', NULL),"
        " (2, '十四届市委第二轮巡察', '十四届', 2, '常规', DATE '2026-09-01', NULL)",
        [ROUND_1],
    )
    run(
        "INSERT INTO units VALUES (1, ?, '甲局', '政府部门', '市直部门'),"
        " (2, ?, '乙局', '政府部门', '市直部门')",
        [UNIT_A, UNIT_B],
    )
    run(
        "INSERT INTO inspections VALUES (1, 1, 1, '第一组', NULL, NULL, DATE '2026-05-01'),"
        " (2, 2, 2, '第二组', NULL, NULL, DATE '2026-11-01')"
    )


def _submit(store: Store, checked: CheckedEvidence, submission_id: int, unit_id: int) -> None:
    """What the workflow does: the file first, then one version with the submission, its
    evidence and the file's registration."""
    put_evidence(store, checked)

    def apply(con: object) -> None:
        run = con.execute  # type: ignore[attr-defined]
        run(
            "INSERT INTO rectify_submissions (submission_id, measure_id, finding_id,"
            " inspection_id, round_id, unit_id, kind, status, completed_on, submitted_by,"
            " submitted_at, submitted_on, batch_id) VALUES (?, ?, ?, ?, ?, ?, 'done', 'DONE',"
            " DATE '2026-11-18', '联络员', ?, DATE '2026-11-20', 99)",
            [submission_id, submission_id, submission_id, unit_id, unit_id, unit_id, NOW],
        )
        run(
            "INSERT INTO submission_evidence VALUES (?, ?, ?, 1)",
            [submission_id, checked.sha256, checked.file_name],
        )
        register_evidence(con, checked, user="联络员", now=NOW)  # type: ignore[arg-type]

    store.write(apply)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = Store(tmp_path_factory.mktemp("seeded") / "store")
    made.write(_seed, fresh=True)
    return made.root


@pytest.fixture()
def store(seeded: Path, tmp_path: Path) -> Store:
    """Two rounds, two units, one inspection each, no submission yet."""
    root = tmp_path / "store"
    shutil.copytree(seeded, root)
    return Store(root)


def liaison(unit: str) -> Access:
    return Access.for_role(f"liaison-{unit}", "liaison", units=[unit])


def _read(store: Store, access: Access, sha: str) -> ev.EvidenceDownload:
    reader = open_reader(store)
    try:
        return read_evidence(store, reader, access, sha)
    finally:
        reader.close()


def test_put_keeps_the_file_by_content_privately_and_once(store: Store) -> None:
    checked = check_evidence("整改报告.pdf", pdf())
    put_evidence(store, checked)
    path = evidence_path(store, checked.sha256)
    assert path == store.root / "evidence" / checked.sha256[:2] / checked.sha256
    assert path.read_bytes() == checked.data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    before = path.stat()
    put_evidence(store, check_evidence("另一个名字.pdf", pdf()))  # the same content
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in path.parent.iterdir()) == [checked.sha256]  # no leftovers
    path.write_bytes(b"damaged")  # a damaged copy is replaced by the next upload
    put_evidence(store, checked)
    assert path.read_bytes() == checked.data


def test_put_refuses_bytes_that_are_not_the_checked_ones(store: Store) -> None:
    checked = check_evidence("报告.pdf", pdf())
    forged = CheckedEvidence(**{**checked.__dict__, "data": b"other"})
    with pytest.raises(ValueError):
        put_evidence(store, forged)
    assert not (store.root / "evidence").exists()


def test_registering_twice_keeps_one_row_with_the_first_upload(store: Store) -> None:
    checked = check_evidence("报告.pdf", pdf())
    put_evidence(store, checked)
    store.write(lambda con: register_evidence(con, checked, user="甲", now=NOW))
    later = NOW + dt.timedelta(days=1)
    store.write(lambda con: register_evidence(con, checked, user="乙", now=later))
    con = store.connect()
    try:
        rows = con.execute("SELECT * FROM evidence_files").fetchall()
    finally:
        con.close()
    assert rows == [(checked.sha256, checked.size, "application/pdf", "PDF", NOW, "甲")]


def test_a_file_is_read_only_within_scope_and_refusals_name_nothing(store: Store) -> None:
    checked = check_evidence("甲局整改报告.pdf", pdf())
    _submit(store, checked, 1, 1)
    got = _read(store, liaison(UNIT_A), checked.sha256)
    assert got == ev.EvidenceDownload("甲局整改报告.pdf", "application/pdf", checked.data)
    office = Access.for_role("巡察办", "office")
    assert _read(store, office, checked.sha256).data == checked.data
    group = Access.for_role("第一组", "group", rounds=[ROUND_1])
    assert _read(store, group, checked.sha256).data == checked.data
    messages = set()
    unknown = hashlib.sha256(b"nothing").hexdigest()
    for access, sha in [
        (liaison(UNIT_B), checked.sha256),  # another unit's file
        (liaison(UNIT_A), unknown),  # no such file
        (liaison(UNIT_A), "../../CURRENT"),  # not a hash at all
        (Access.for_role("第二组", "group", rounds=["十四届市委第二轮巡察"]), checked.sha256),
        (Access.for_role("审计", "auditor"), checked.sha256),  # no data permission
    ]:
        with pytest.raises(PermissionDenied) as caught:
            _read(store, access, sha)
        messages.add(str(caught.value))
    assert messages == {DENIED}
    for secret in (UNIT_A, "甲局", checked.file_name, checked.sha256[:8]):
        assert secret not in DENIED


def test_a_file_put_but_not_attached_is_not_readable(store: Store) -> None:
    checked = check_evidence("报告.pdf", pdf())
    put_evidence(store, checked)  # a crash before the version: an orphan, harmless
    with pytest.raises(PermissionDenied, match=DENIED):
        _read(store, Access.for_role("巡察办", "office"), checked.sha256)


def test_a_swapped_or_missing_file_is_never_returned(store: Store) -> None:
    first = check_evidence("甲.pdf", pdf())
    second = check_evidence("乙.png", png())
    _submit(store, first, 1, 1)
    _submit(store, second, 2, 2)
    assert check_evidence_files(store) == []
    path = evidence_path(store, first.sha256)
    path.write_bytes(second.data)  # swapped for another file
    with pytest.raises(EvidenceDamaged, match="SHA-256 不符"):
        _read(store, liaison(UNIT_A), first.sha256)
    evidence_path(store, second.sha256).unlink()
    problems = check_evidence_files(store)
    assert len(problems) == 2
    assert any("甲.pdf" in p and "不符" in p for p in problems), problems
    assert any("乙.png" in p and "缺失" in p for p in problems), problems


def test_list_evidence_gives_names_and_hashes_for_exports(store: Store) -> None:
    first = check_evidence("甲.pdf", pdf())
    second = check_evidence("乙.png", png())
    _submit(store, first, 1, 1)
    _submit(store, second, 2, 2)
    reader = open_reader(store)
    try:
        frame = list_evidence(reader, [2])
        everything = list_evidence(reader, [1, 2, 3])
    finally:
        reader.close()
    assert frame.rows() == [(2, "乙.png", second.sha256, second.size, "图片", 1)]
    assert everything["sha256"].to_list() == [first.sha256, second.sha256]


def test_sealed_with_a_key_the_file_holds_no_plaintext_and_reads_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(crypto.ENV_KEY, KEY_TEXT)
    marker = "绝密整改说明第七条"
    checked = check_evidence("说明.docx", word(marker))
    _submit(store, checked, 1, 1)
    path = evidence_path(store, checked.sha256)
    assert crypto.is_sealed(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert checked.data[:200] not in path.read_bytes()
    assert _read(store, liaison(UNIT_A), checked.sha256).data == checked.data
    assert check_evidence_files(store) == []
    monkeypatch.delenv(crypto.ENV_KEY)
    with pytest.raises(StoreError, match="密钥"):
        put_evidence(store, checked)  # the file there cannot be checked without the key


def test_a_backup_carries_the_evidence_and_restores_it(store: Store, tmp_path: Path) -> None:
    checked = check_evidence("甲.pdf", pdf())
    _submit(store, checked, 1, 1)
    archive = tmp_path / "b.tar.gz"
    backup(store.root, archive)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert f"evidence/{checked.sha256[:2]}/{checked.sha256}" in names
    target = Store(tmp_path / "restored")
    restore(archive, target.root, user="管理员")
    assert _read(target, liaison(UNIT_A), checked.sha256).data == checked.data
    assert check_evidence_files(target) == []


def test_a_backup_refuses_a_damaged_evidence_file(store: Store, tmp_path: Path) -> None:
    checked = check_evidence("甲.pdf", pdf())
    _submit(store, checked, 1, 1)
    evidence_path(store, checked.sha256).write_bytes(b"%PDF-1.7 other")
    with pytest.raises(BackupError, match="佐证材料"):
        backup(store.root, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()


def test_key_seal_and_rotate_seal_and_reseal_the_evidence(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = check_evidence("甲.pdf", pdf())
    _submit(store, checked, 1, 1)  # written before the store had a key: plain
    path = evidence_path(store, checked.sha256)
    leftover = path.with_name(f"{checked.sha256}.0123456789ab.tmp")
    leftover.write_bytes(checked.data)  # what a killed write left, in plaintext
    assert not crypto.is_sealed(path)
    monkeypatch.setenv(crypto.ENV_KEY, KEY_TEXT)
    assert cli.main(["key", "seal", "--db", str(store.root), "--user", "管理员"]) == 0
    assert crypto.is_sealed(path) and not leftover.exists()
    assert crypto.read_header(path).key_id == crypto.key_id(store.key() or b"")
    assert _read(store, liaison(UNIT_A), checked.sha256).data == checked.data
    old = store.key()
    assert old is not None
    counts = store.seal_files(NEW_KEY, old)
    assert counts["evidence"] == 1 and counts["rotated"] >= 2
    assert crypto.read_header(path).key_id == crypto.key_id(NEW_KEY)
    monkeypatch.setenv(crypto.ENV_KEY, base64.b64encode(NEW_KEY).decode())
    assert _read(store, liaison(UNIT_A), checked.sha256).data == checked.data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == [checked.sha256]


def test_a_restore_refuses_evidence_that_is_not_its_hash(store: Store, tmp_path: Path) -> None:
    """A backup whose manifest vouches for a swapped evidence file (made by other code, or
    forged with its manifest) is refused all the same: the file is checked against its name."""
    checked = check_evidence("甲.pdf", pdf())
    _submit(store, checked, 1, 1)
    archive = tmp_path / "b.tar.gz"
    backup(store.root, archive)
    member = f"evidence/{checked.sha256[:2]}/{checked.sha256}"
    forged_body = png()
    with tarfile.open(archive) as tar:
        members = [(info, tar.extractfile(info)) for info in tar.getmembers()]
        bodies = {info.name: (info, handle.read() if handle else b"") for info, handle in members}
    manifest = json.loads(bodies["MANIFEST.json"][1])
    for entry in manifest["files"]:
        if entry["path"] == member:
            entry.update(size=len(forged_body), sha256=hashlib.sha256(forged_body).hexdigest())
    bodies[member] = (bodies[member][0], forged_body)
    bodies["MANIFEST.json"] = (bodies["MANIFEST.json"][0], json.dumps(manifest).encode())
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(forged, "w:gz") as tar:
        for info, body in bodies.values():
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match=r"佐证材料.*SHA-256 不符"):
        restore(forged, target, user="管理员")
    assert not target.exists()
