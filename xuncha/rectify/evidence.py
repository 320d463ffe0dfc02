"""Evidence files of online rectification (佐证材料, DOMAIN.md §8): checked, kept, read back.

Evidence files are data of the measure. So:

- checked like ledgers, before anything else sees them (`check_evidence`): a PDF, a JPEG or
  PNG image, a Word .docx or an Excel .xlsx/.xls, told by its content, with a name whose
  extension agrees; within a size limit (XUNCHA_EVIDENCE_MAX_MB, default 20 MiB); refused,
  with a Chinese reason naming the file (`RefusedEvidence`), when it lies about its type, is
  a program, script or web page, carries macros, ActiveX, embedded OLE objects or external
  links, is encrypted, is a zip bomb or has XML entity tricks, is a PDF with scripts or
  actions, or an image whose header or data are broken (the Office checks are
  xuncha.ledger.safety's; images are checked by Pillow's parsers, never decoded in full);
- kept in the store, named by content: STORE/evidence/<sha[:2]>/<sha> (0600 files, 0700
  folders), sealed with the store key when there is one (`put_evidence`), written before the
  data version that names it (an orphan file after a crash is harmless; a version naming a
  missing file must never be), registered in `evidence_files` inside that version's write
  (`register_evidence`); the files are carried by backups and sealed or re-sealed by
  `xuncha key seal|rotate` (Store.seal_files);
- read back only through a scope check in the data layer (`read_evidence`): the file must be
  attached to a submission of a unit and round the reader's scope holds, the same message for
  "not there" and "not yours"; its SHA-256 is checked on every read;
- listed in exports by name and hash (`list_evidence`); `check_evidence_files` tells which
  referenced files are missing or damaged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import re
import unicodedata
import uuid
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NoReturn

import duckdb
import polars as pl
from defusedxml import ElementTree as SafeTree

from xuncha.auth.access import APPROVE, REPORT, REVIEW, VIEW_PAGES, Access, PermissionDenied
from xuncha.auth.scope import scope_ids
from xuncha.ledger import safety
from xuncha.ledger.model import LedgerLimits
from xuncha.store import crypto
from xuncha.store.permissions import DIRECTORY_MODE, FILE_MODE
from xuncha.store.reader import Reader
from xuncha.store.store import EVIDENCE, Store, StoreError

log = logging.getLogger(__name__)

ENV_MAX_MB = "XUNCHA_EVIDENCE_MAX_MB"
DEFAULT_MAX_MB = 20.0
MAX_PIXELS = 80_000_000  # a photo of a document never needs more (Pillow warns at 89 million)
NAME_MAX = 120
DENIED = "无权查看该佐证材料或材料不存在"
READ_PERMISSIONS = frozenset({REPORT, REVIEW, APPROVE, VIEW_PAGES})
ACCEPTED = "只接受 PDF、JPG/PNG 图片、Word（.docx）和 Excel（.xlsx、.xls）文件"

_HASH = re.compile(r"^[0-9a-f]{64}$")
_WORD = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# extension: (content kind, file kind, media type)
_TYPES: dict[str, tuple[str, str, str]] = {
    ".pdf": ("pdf", "PDF", "application/pdf"),
    ".jpg": ("jpeg", "图片", "image/jpeg"),
    ".jpeg": ("jpeg", "图片", "image/jpeg"),
    ".png": ("png", "图片", "image/png"),
    ".docx": ("docx", "Word", _WORD),
    ".xlsx": ("xlsx", "Excel", _XLSX),
    ".xls": ("xls", "Excel", "application/vnd.ms-excel"),
}
_SHOWN = {
    "pdf": "PDF 文档",
    "jpeg": "JPEG 图片",
    "png": "PNG 图片",
    "docx": "Word 文档（.docx）",
    "xlsx": "Excel 工作簿（.xlsx）",
    "xls": "Excel 97-2003 工作簿（.xls）",
    "pptx": "PowerPoint 演示文稿",
    "ole": "Office 97-2003 复合文档",
}
_MACRO_EXTENSIONS = {
    ".docm", ".dotm", ".xlsm", ".xltm", ".xlam", ".xlsb", ".pptm", ".potm", ".ppsm", ".ppam",
}  # fmt: skip
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
_UNSAFE_NAME_CHARS = re.compile(r'[<>:"|?*]')


class RefusedEvidence(Exception):
    """An evidence file refused; the message names the file and says why (Chinese)."""

    def __init__(self, file_name: str, reason: str) -> None:
        shown = f"“{file_name}”" if file_name else ""
        super().__init__(f"佐证材料{shown}未被接受：{reason}")
        self.file_name = file_name
        self.reason = reason


class EvidenceDamaged(StoreError):
    """A stored evidence file that is missing, or whose content is not what its hash says."""


@dataclass(frozen=True)
class CheckedEvidence:
    file_name: str
    data: bytes
    sha256: str
    size: int
    media_type: str
    file_kind: str  # "PDF" | "图片" | "Word" | "Excel"


@dataclass(frozen=True)
class EvidenceDownload:
    file_name: str
    media_type: str
    data: bytes


# -- checking ------------------------------------------------------------------------------


def max_bytes() -> int:
    """The size limit of one evidence file: XUNCHA_EVIDENCE_MAX_MB (default 20) MiB."""
    raw = os.environ.get(ENV_MAX_MB, "")
    try:
        megabytes = float(raw) if raw.strip() else DEFAULT_MAX_MB
    except ValueError:
        megabytes = DEFAULT_MAX_MB
    if not megabytes > 0:
        megabytes = DEFAULT_MAX_MB
    return int(megabytes * 1024 * 1024)


def clean_file_name(raw: str) -> str:
    """The name to keep and show: its last path component only (a browser or an old client
    may send a whole path), without control or formatting characters (a right-to-left
    override can make "exe.pdf" show as "fdp.exe"), characters Windows refuses replaced,
    surrounding blanks and dots removed, at most NAME_MAX characters (extension kept). ""
    when nothing is left."""
    text = unicodedata.normalize("NFC", str(raw))
    text = re.split(r"[\\/]", text)[-1]
    text = "".join(" " if ch in "\t\n\r" else ch for ch in text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = _UNSAFE_NAME_CHARS.sub("_", text).strip(" .")
    if len(text) > NAME_MAX:
        stem, dot, ext = text.rpartition(".")
        ext = ext if dot and len(ext) <= 10 else ""
        text = stem[: NAME_MAX - len(ext) - 1].rstrip(" .") + "." + ext if ext else text[:NAME_MAX]
    return text


def check_evidence(file_name: str, data: bytes) -> CheckedEvidence:
    """The file as it will be kept, once its name, size and content pass; RefusedEvidence
    otherwise. The bytes returned are the ones checked."""
    name = clean_file_name(file_name)
    if not name:
        raise RefusedEvidence("", f"文件名无效（{str(file_name)[:40]!r}）")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _MACRO_EXTENSIONS:
        raise RefusedEvidence(
            name, f"不接受启用宏的文件（{suffix}）；请另存为不含宏的 .docx 或 .xlsx 后上传"
        )
    if suffix not in _TYPES:
        shown = suffix or "（无扩展名）"
        raise RefusedEvidence(name, f"不支持的文件类型 {shown}；{ACCEPTED}")
    limit = max_bytes()
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("data must be bytes")
    data = bytes(data)
    if not data:
        raise RefusedEvidence(name, "文件是空的")
    if len(data) > limit:
        raise RefusedEvidence(
            name, f"文件大小 {_mb(len(data))} 超过上限 {_mb(limit)}；请压缩或拆分后上传"
        )
    kind, file_kind, media_type = _TYPES[suffix]
    found = _content_kind(data)
    if found != kind and not (kind == "xls" and found == "ole"):
        _refuse_mismatch(name, suffix, data, found)
    try:
        if kind == "pdf":
            _check_pdf(data)
        elif kind in ("jpeg", "png"):
            _check_image(data, kind)
        elif kind == "xls":
            safety.check_office_bytes(data, "xls", _office_limits(limit))
        else:
            _check_ooxml(data, kind, limit)
    except safety.RefusedFile as exc:
        reason = str(exc)
        if kind == "docx":
            reason = reason.replace("工作簿", "文档")
        raise RefusedEvidence(name, reason.replace("再导入", "再上传")) from None
    except _Refused as exc:
        raise RefusedEvidence(name, str(exc)) from None
    digest = hashlib.sha256(data).hexdigest()
    return CheckedEvidence(name, data, digest, len(data), media_type, file_kind)


class _Refused(Exception):
    """A reason, to be raised as RefusedEvidence with the file's name."""


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def _content_kind(data: bytes) -> str | None:
    """What the first bytes say: pdf, jpeg, png, an Office Open XML kind (docx, xlsx, pptx,
    or zip for any other zip), ole (a compound file: .xls, .doc, an encrypted OOXML), None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(_OLE):
        return "ole"
    if data.startswith(_ZIP):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = {n.lower() for n in archive.namelist()}
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
            return "zip"
        for folder, kind in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
            if any(n.startswith(folder) for n in names):
                return kind
        return "zip"
    return None


def _refuse_mismatch(name: str, suffix: str, data: bytes, found: str | None) -> NoReturn:
    if found == "ole" and "EncryptedPackage".encode("utf-16-le") in data:
        raise RefusedEvidence(name, "文件设有打开密码（已加密），无法检查；请取消密码后另存再上传")
    if found in _SHOWN:
        shown = _SHOWN[found]
    elif found == "zip":
        shown = "压缩包"
    else:
        shown = _describe_other(data)
    raise RefusedEvidence(
        name, f"文件内容是{shown}，扩展名却是 {suffix}；请按实际格式上传（{ACCEPTED}）"
    )


def _describe_other(data: bytes) -> str:
    known = safety.describe_content(data[:16])
    if known is not None:
        return known
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"#!"):
        return "脚本"
    if b"<svg" in head:
        return "SVG 图形（可含脚本）"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")) or (
        head.startswith(b"<") and (b"<html" in head or b"<script" in head)
    ):
        return "网页（HTML）"
    if head.startswith(b"<"):
        return "XML 文本"
    return "无法识别的格式"


# PDF: a conservative scan, not a PDF parser. Names are read outside strings, comments and
# stream data (where random bytes could spell "/JS"), and inside object streams (/ObjStm,
# where PDF 1.5+ files keep most dictionaries compressed; inflated, bounded); every name is
# compared with #xx escapes decoded. Content streams are not inflated: a file built to hide an
# object inside one for a reader that rebuilds a broken cross-reference table could pass that
# scan, so the whole file is also searched, bytes as they are, for the long names. Encrypted
# PDFs are refused: their object streams cannot be read to be checked.
_PDF_REFUSED = {
    b"JavaScript": "JavaScript 脚本",
    b"JS": "JavaScript 脚本",
    b"Launch": "启动外部程序的动作（/Launch）",
    b"EmbeddedFile": "嵌入的附件（/EmbeddedFile）",
    b"EmbeddedFiles": "嵌入的附件（/EmbeddedFiles）",
    b"RichMedia": "富媒体（/RichMedia）",
    b"XFA": "XFA 动态表单（可含脚本）",
    b"GoToE": "打开嵌入文档的动作（/GoToE）",
    b"GoToR": "打开其他文件的动作（/GoToR）",
    b"ImportData": "导入数据的动作（/ImportData）",
    b"SubmitForm": "提交表单的动作（/SubmitForm）",
    b"Encrypt": "加密或密码保护",
}
_PDF_RAW = (b"/JavaScript", b"/Launch", b"/EmbeddedFile", b"/RichMedia")
_PDF_TOKEN = re.compile(rb"%|\(|<<|>>|<|/|\bendobj\b|\bstream(?:\r\n|\n|\r)")
_PDF_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]*)")
_PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_LINE_END = re.compile(rb"[\r\n]")
_PDF_STRING_SPECIAL = re.compile(rb"[()\\]")
_PDF_INFLATED_MAX = 256 << 20


def _check_pdf(data: bytes) -> None:
    if not re.match(rb"%PDF-\d\.\d", data):
        raise _Refused("PDF 文件头已损坏")
    if b"%%EOF" not in data[-4096:]:
        raise _Refused("PDF 文件不完整（没有文件结束标记，可能上传中断）")
    for raw in _PDF_RAW:
        if raw in data:
            raise _Refused(
                f"PDF 含有{_PDF_REFUSED[raw[1:]]}，不接受；请打印或另存为普通 PDF 后上传"
            )
    names: set[bytes] = set()
    budget = [_PDF_INFLATED_MAX]
    _pdf_names(data, names, budget, top=True)
    for name in sorted(names):
        if name in _PDF_REFUSED:
            raise _Refused(f"PDF 含有{_PDF_REFUSED[name]}，不接受；请打印或另存为普通 PDF 后上传")


def _pdf_names(data: bytes, names: set[bytes], budget: list[int], *, top: bool) -> None:
    """Add the names of `data` (a PDF, or an object stream's content) to `names`, following
    into object streams (only at the top: an object stream holds no streams)."""
    pos, size = 0, len(data)
    current: list[bytes] = []  # the names of the object being read, for its stream
    while match := _PDF_TOKEN.search(data, pos):
        token, pos = match.group(), match.end()
        if token == b"%":
            line_end = _PDF_LINE_END.search(data, pos)
            pos = line_end.end() if line_end else size
        elif token == b"(":
            pos = _pdf_skip_string(data, pos)
        elif token == b"<":
            end = data.find(b">", pos)
            pos = end + 1 if end >= 0 else size
        elif token == b"/":
            name = _PDF_NAME.match(data, match.start())
            assert name is not None
            pos = name.end()
            decoded = _PDF_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), name.group(1))
            names.add(decoded)
            current.append(decoded)
        elif token == b"endobj":
            current = []
        elif token.startswith(b"stream"):
            end = data.find(b"endstream", pos)
            if end < 0:
                raise _Refused("PDF 文件不完整（数据流没有结束）")
            if top and b"ObjStm" in current:
                _pdf_object_stream(data[pos:end], current, names, budget)
            current = []
            pos = end + len(b"endstream")


def _pdf_skip_string(data: bytes, pos: int) -> int:
    """The position after a literal string that starts at `pos` (after its "(")."""
    depth, size = 1, len(data)
    while depth and (found := _PDF_STRING_SPECIAL.search(data, pos)):
        char = found.group()
        pos = found.end() + (1 if char == b"\\" else 0)
        if char == b"(":
            depth += 1
        elif char == b")":
            depth -= 1
    return pos if depth == 0 else size


def _pdf_object_stream(
    raw: bytes, dictionary: list[bytes], names: set[bytes], budget: list[int]
) -> None:
    filters = [n for n in dictionary if n.endswith(b"Decode")]
    if filters and filters != [b"FlateDecode"]:
        raise _Refused("PDF 的对象流使用了无法检查的压缩方式；请打印或另存为普通 PDF 后上传")
    content = raw
    if filters:
        inflater = zlib.decompressobj()
        try:
            content = inflater.decompress(raw, budget[0] + 1)
        except Exception:
            raise _Refused("PDF 已损坏：对象流无法解压") from None
        if len(content) > budget[0] or inflater.unconsumed_tail:
            raise _Refused("PDF 解压后过大（疑似压缩炸弹）")
        budget[0] -= len(content)
    _pdf_names(content, names, budget, top=False)


def _check_image(data: bytes, kind: str) -> None:
    """Pillow reads the header (and, for a PNG, checks every chunk's CRC; for a JPEG, decodes
    the scaled-down DC coefficients only, which reads every entropy-coded segment): a broken
    header, a truncated file or absurd dimensions are refused, nothing is decoded in full."""
    from PIL import Image

    fmt = "JPEG" if kind == "jpeg" else "PNG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                width, height = image.size
                if width < 1 or height < 1 or width * height > MAX_PIXELS:
                    raise _Refused(f"图片尺寸 {width}×{height} 超出上限（疑似恶意构造）")
                image.verify()
            if fmt == "JPEG":
                with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                    image.draft("L", (max(width // 8, 1), max(height // 8, 1)))
                    image.load()
    except _Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _Refused("图片尺寸超出上限（疑似恶意构造）") from None
    except Exception:  # Pillow raises several types for a damaged image
        raise _Refused("图片已损坏（文件头或数据不完整），无法打开") from None


def _office_limits(limit: int) -> LedgerLimits:
    """The ledger's bounds on what a file may make a reader do, with the sheet size as
    Excel's own: evidence is kept and shown, never read as a ledger."""
    return LedgerLimits(max_file_bytes=limit, max_rows=1_048_576, max_columns=16_384)


def _check_ooxml(data: bytes, kind: str, limit: int) -> None:
    """A Word .docx or Excel .xlsx (its content already found to be one): member names, macros,
    ActiveX, embedded OLE objects and external links here, in words for the kind; then the
    ledger's checks (zip bombs, XML entities, encrypted members, the workbook's structure);
    then every relationship pointing outside the file other than a hyperlink."""
    what = "文档" if kind == "docx" else "工作簿"
    limits = _office_limits(limit)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise _Refused(f"文件已损坏：不是有效的{_SHOWN[kind]}") from None
    with archive:
        if len(infos) > limits.max_zip_members:
            raise _Refused(f"压缩包内有 {len(infos)} 个部件，超过上限 {limits.max_zip_members}")
        for info in infos:
            _check_member_name(info.filename, what)
        names = {info.filename for info in infos}
        if "[Content_Types].xml" not in names or "_rels/.rels" not in names:
            raise _Refused(f"文件不是有效的{_SHOWN[kind]}（缺少内容类型或关系部件）")
        safety.check_office_bytes(data, "xlsx" if kind == "xlsx" else "package", limits)
        types = archive.read("[Content_Types].xml").lower()
        if b"macroenabled" in types:
            raise _Refused(f"{what}为启用宏的格式（macroEnabled）；请另存为不含宏的格式后上传")
        main = _main_part(archive)
        if not main.lower().startswith("word/" if kind == "docx" else "xl/"):
            raise _Refused(f"压缩包中的主文档不是{_SHOWN[kind]}")
        for info in infos:
            if info.filename.lower().endswith(".rels"):
                _check_relationships(archive, info, what)


def _check_member_name(name: str, what: str) -> None:
    lower = name.lower()
    parts = name.split("/")
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or any(part in (".", "..") for part in parts)
        or re.match(r"^[A-Za-z]:", name)
    ):
        raise _Refused(f"压缩包内有不安全的部件名（{name[:60]!r}，路径穿越），拒绝接受")
    if lower.endswith(("vbaproject.bin", "vbaprojectsignature.bin", "vbadata.xml")):
        raise _Refused(f"{what}含有 VBA 宏（{parts[-1]}）；请另存为不含宏的格式后上传")
    if "/activex/" in f"/{lower}":
        raise _Refused(f"{what}含有 ActiveX 控件；请删除控件后另存再上传")
    if lower.startswith("xl/macrosheets/"):
        raise _Refused(f"{what}含有 Excel 4.0 宏表；请另存为不含宏的 .xlsx 后上传")
    embedded = PurePosixPath(lower).suffix
    if "/embeddings/" in f"/{lower}" and (
        embedded == ".bin" or "oleobject" in lower or embedded in _MACRO_EXTENSIONS
    ):
        raise _Refused(f"{what}含有嵌入的 OLE 对象（可封装任意程序）；请删除嵌入对象后另存再上传")
    if lower.startswith("xl/externallinks/"):
        raise _Refused(f"{what}含有指向其他工作簿的外部链接；请断开链接（转为数值）后另存再上传")


def _main_part(archive: zipfile.ZipFile) -> str:
    body = archive.read("_rels/.rels")
    try:
        root = SafeTree.fromstring(body)
    except Exception:
        raise _Refused("文件已损坏：_rels/.rels 不是有效的 XML") from None
    for rel in root:
        if str(rel.get("Type", "")).endswith("/officeDocument"):
            return str(rel.get("Target", "")).lstrip("/")
    raise _Refused("压缩包中没有主文档")


def _check_relationships(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> None:
    """A relationship to something outside the file (a remote template, a linked image or
    object, another workbook) makes Office fetch it when the file is opened; a hyperlink
    only when clicked, so hyperlinks are kept."""
    if info.file_size > 4 << 20:
        raise _Refused(f"部件 {info.filename} 大小异常")
    try:
        root = SafeTree.fromstring(archive.read(info))
    except Exception:
        raise _Refused(f"文件已损坏：部件 {info.filename} 不是有效的 XML") from None
    for rel in root:
        if str(rel.get("TargetMode", "")).lower() != "external":
            continue
        if str(rel.get("Type", "")).endswith("/hyperlink"):
            continue
        target = str(rel.get("Target", ""))[:80]
        raise _Refused(
            f"{what}含有外部链接（{target}），打开时会访问外部资源；请删除链接后另存再上传"
        )


# -- storage -------------------------------------------------------------------------------


def evidence_path(store: Store, sha256: str) -> Path:
    """Where the file of that content lives: STORE/evidence/<sha[:2]>/<sha>. ValueError for
    anything but 64 lowercase hex digits."""
    if not isinstance(sha256, str) or not _HASH.match(sha256):
        raise ValueError("not a SHA-256 in lowercase hex")
    return store.root / EVIDENCE / sha256[:2] / sha256


def put_evidence(store: Store, checked: CheckedEvidence, *, new_store: bool = False) -> None:
    """Keep the file in the store, sealed with the store key when there is one: written to a
    staging file, fsynced, renamed into place, its folder fsynced, all under the store's
    writer lock (so `xuncha key seal|rotate` and backups never meet a half-written file).
    Call it before the data version that names the hash is written, never inside
    `Store.write` (the lock is not re-entrant). A file already there is kept when it holds
    that content (a second upload of the same file writes nothing); one found damaged is
    replaced. `new_store`: the store is being created (the demo's first version), so it need
    not exist yet."""
    if hashlib.sha256(checked.data).hexdigest() != checked.sha256:
        raise ValueError("CheckedEvidence.data does not match its sha256")
    path = evidence_path(store, checked.sha256)
    if new_store:
        store.root.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    else:
        store.version()  # a clear StoreError when there is no store
    with store.writer_lock():
        key = store.key()
        if path.is_file():
            try:
                _read_verified(path, checked.sha256, key, checked.file_name)
                return
            except EvidenceDamaged:
                log.warning("replacing damaged evidence file %s", path)
        _private_dir(path.parent.parent)
        _private_dir(path.parent)
        for leftover in path.parent.glob(f"{checked.sha256}.*.tmp"):
            leftover.unlink(missing_ok=True)  # a killed write's (the lock is ours)
        staging = path.with_name(f"{checked.sha256}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            if key is not None:
                crypto.seal_bytes(checked.data, staging, key)
                os.chmod(staging, FILE_MODE)
            else:
                _write_plain(staging, checked.data)
            os.replace(staging, path)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)


def _private_dir(folder: Path) -> None:
    if not folder.is_dir():
        folder.mkdir(mode=DIRECTORY_MODE)
        os.chmod(folder, DIRECTORY_MODE)
        _fsync_dir(folder.parent)


def _write_plain(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_verified(path: Path, sha256: str, key: bytes | None, shown: str) -> bytes:
    """The file's content, unsealed when sealed, checked against its hash. EvidenceDamaged
    when it is missing, altered or not that content; StoreError when it is sealed and the
    key is missing or another one."""
    what = f"佐证材料“{shown}”" if shown else f"佐证材料 {sha256[:12]}…"
    try:
        if crypto.is_sealed(path):
            if key is None:
                raise StoreError(f"{what}已加密，但未提供数据仓密钥：请设置 {crypto.ENV_KEY_FILE}")
            data = crypto.unseal_bytes(path, key, limit=1 << 40)
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise EvidenceDamaged(f"{what}的文件缺失；请联系管理员从备份中恢复") from None
    except crypto.Damaged:
        raise EvidenceDamaged(f"{what}的文件已损坏或被改动（无法解密）") from None
    except crypto.CryptoError as exc:
        raise StoreError(f"{what}无法解密：{exc}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise EvidenceDamaged(
            f"{what}的文件内容与登记的 SHA-256 不符（已损坏或被替换），不予读取；"
            f"请联系管理员从备份中恢复"
        )
    return data


def register_evidence(
    con: duckdb.DuckDBPyConnection, checked: CheckedEvidence, *, user: str, now: dt.datetime
) -> None:
    """Record the file in `evidence_files`, inside the caller's write transaction (Store.write),
    unless that content is recorded already (the first upload's time and account are kept).
    The file must have been put in the store before (put_evidence)."""
    con.execute(
        "INSERT OR IGNORE INTO evidence_files (sha256, size, media_type, file_kind, added_at,"
        " added_by) VALUES (?, ?, ?, ?, ?, ?)",
        [checked.sha256, checked.size, checked.media_type, checked.file_kind, now, user],
    )


# -- reading -------------------------------------------------------------------------------


def read_evidence(store: Store, reader: Reader, access: Access, sha256: str) -> EvidenceDownload:
    """The file, for someone who may see it: it is attached to a submission of a unit and a
    round in `access`'s scope (xuncha.auth.scope.scope_ids on `reader`'s version), and the
    access reports, reviews, approves or views pages. Otherwise PermissionDenied with one
    message that names nothing, whether the file does not exist or is someone else's (so a
    unit cannot learn which hashes other units hold). The content is checked against the
    hash: EvidenceDamaged rather than other bytes."""
    if not READ_PERMISSIONS & access.permissions:
        raise PermissionDenied(DENIED)
    if not isinstance(sha256, str) or not _HASH.match(sha256):
        raise PermissionDenied(DENIED)
    if not _has_rectify_tables(reader):
        raise PermissionDenied(DENIED)
    round_ids, unit_ids = scope_ids(reader, access)
    row = reader.query(
        "evidence_scope",
        {
            "sha256": sha256,
            "unit_ids": None if unit_ids is None else list(unit_ids),
            "round_ids": None if round_ids is None else list(round_ids),
        },
    ).row(0, named=True)
    if not row["attached"]:
        raise PermissionDenied(DENIED)
    name = str(row["file_name"])
    data = _read_verified(evidence_path(store, sha256), sha256, store.key(), name)
    return EvidenceDownload(file_name=name, media_type=str(row["media_type"]), data=data)


def list_evidence(reader: Reader, submission_ids: list[int] | tuple[int, ...]) -> pl.DataFrame:
    """The evidence files of the given submissions (already in the caller's scope), by name
    and hash, for exports: submission_id, file_name, sha256, size, file_kind, position."""
    if not _has_rectify_tables(reader):
        return pl.DataFrame(schema=_LIST_SCHEMA)
    return reader.query("evidence_list", {"submission_ids": [int(i) for i in submission_ids]})


_LIST_SCHEMA = {
    "submission_id": pl.Int32,
    "file_name": pl.Utf8,
    "sha256": pl.Utf8,
    "size": pl.Int64,
    "file_kind": pl.Utf8,
    "position": pl.Int32,
}
_TABLES_SQL = (
    "SELECT count(*) FROM duckdb_tables() WHERE table_name IN"
    " ('rectify_submissions', 'rectify_steps', 'evidence_files', 'submission_evidence')"
)


def _has_rectify_tables(reader: Reader) -> bool:
    """False on a data version written before migration 5 (no submissions, no evidence)."""
    return int(reader.scalar(_TABLES_SQL) or 0) == 4


def check_evidence_files(store: Store) -> list[str]:
    """What is wrong with the evidence files the current version refers to (registered in
    evidence_files, attached to a submission, or named by a step), in Chinese, one line each:
    attached but not registered, missing, or not the content its hash says; [] when all is
    well. StoreError when sealed files cannot be read for want of the key."""
    problems: list[str] = []
    names: dict[str, str] = {}
    con = store.connect()
    try:
        row = con.execute(_TABLES_SQL).fetchone()
        if not row or int(row[0]) != 4:
            return []
        registered = {r[0] for r in con.execute("SELECT sha256 FROM evidence_files").fetchall()}
        for sha, file_name, submission in con.execute(
            "SELECT sha256, file_name, submission_id FROM submission_evidence"
            " ORDER BY submission_id, position"
        ).fetchall():
            names.setdefault(sha, file_name)
            if sha not in registered:
                problems.append(
                    f"填报 {submission} 所附佐证材料“{file_name}”未登记（evidence_files）"
                )
        stepped = {
            r[0]
            for r in con.execute("SELECT DISTINCT unnest(evidence) FROM rectify_steps").fetchall()
        }
    finally:
        con.close()
    key = store.key()
    for sha in sorted(registered | set(names) | stepped):
        try:
            _read_verified(evidence_path(store, sha), sha, key, names.get(sha, ""))
        except ValueError:
            problems.append(f"佐证材料的 SHA-256 无效：{str(sha)[:70]!r}")
        except EvidenceDamaged as exc:
            problems.append(str(exc))
    return problems
