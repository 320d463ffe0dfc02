"""Hostile files are refused before any parser sees them.

Checked, each with its own Chinese message: the size limit; a file whose content is not what
its extension claims (a PNG named .xlsx, an old .xls or an encrypted file, a zip that is not
a workbook, a workbook named .csv); macro-enabled workbooks (.xlsm, vbaProject.bin, macro
sheets, ActiveX, a macro-enabled content type); zip bombs (members' total uncompressed size,
compression ratio, member count, a member larger than it declares); XML parts with a DOCTYPE
or ENTITY declaration or in an encoding other than UTF-8; and worksheets whose cells lie beyond
the row and column limits (a sheet reader allocates rows × columns, so two cells far apart
would cost gigabytes). Every member is decompressed once here, as a stream, under a time limit.

Legacy .xls (Excel 97-2003, BIFF8 in an OLE2 compound file) is checked with olefile and a walk
over the Workbook stream's records: Excel 5.0/95 files, Word and PowerPoint files, VBA
storages, Excel 4.0 macro sheets and encryption are refused, as are a zip, a web page (HTML),
an XML table or a text table named .xls. The calamine reader trusts sizes written in the file
(stream lengths, the shared-string count, a sheet's declared DIMENSIONS) when it allocates,
and parses every sheet as soon as the file is opened; so those sizes, the sector chains it
follows and every valued cell's position are checked here first.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

import olefile
from defusedxml import ElementTree as SafeTree

from xuncha.ledger.model import LedgerLimits
from xuncha.ledger.text import column_letter

MACRO_EXTENSIONS = {".xlsm", ".xltm", ".xlam", ".xlsb"}
SUPPORTED = (".xlsx", ".xls", ".csv")
_CHUNK = 1 << 20
_DOCTYPE = re.compile(rb"<!\s*(?:doctype|entity)", re.IGNORECASE)
_PREFIXED_CELL = re.compile(rb"<[A-Za-z_][\w.-]*:c[\s/>]")
_MAGIC: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "PNG 图片"),
    (b"\xff\xd8\xff", "JPEG 图片"),
    (b"GIF87a", "GIF 图片"),
    (b"GIF89a", "GIF 图片"),
    (b"%PDF", "PDF 文档"),
    (b"Rar!", "RAR 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
    (b"\x1f\x8b", "gzip 压缩包"),
    (b"MZ", "Windows 可执行程序"),
    (b"\x7fELF", "可执行程序"),
    (b"{\\rtf", "RTF 文档"),
    (b"II*\x00", "TIFF 图片"),
    (b"MM\x00*", "TIFF 图片"),
]
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


class RefusedFile(Exception):
    """A file refused before parsing; the message says why, in Chinese."""


@dataclass(frozen=True)
class CheckedFile:
    name: str
    data: bytes
    sha256: str
    size: int
    kind: str  # "xlsx" | "xls" | "csv"


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def describe_content(data: bytes) -> str | None:
    """What a file's first bytes say it is, when they say something (Chinese)."""
    for magic, label in _MAGIC:
        if data.startswith(magic):
            return label
    if data.startswith(_OLE):
        return "Office 97-2003 复合文档"
    if data.startswith(_ZIP):
        return "压缩包"
    return None


def check_file(
    path: Path, file_name: str, limits: LedgerLimits, started: float | None = None
) -> CheckedFile:
    """Read the file once (up to the size limit) and refuse anything hostile or mislabelled.

    The bytes returned are the ones checked: the parser reads these, never the path again.
    """
    started = time.monotonic() if started is None else started
    suffix = Path(file_name).suffix.lower()
    if suffix in MACRO_EXTENSIONS:
        raise RefusedFile(
            f"不接受启用宏或二进制格式的工作簿（{suffix}）；请另存为不含宏的 .xlsx 后再导入"
        )
    if suffix not in SUPPORTED:
        shown = suffix or "（无扩展名）"
        raise RefusedFile(f"不支持的文件类型 {shown}；请导入 .xlsx、.xls 或 .csv 文件")
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise RefusedFile(
                f"文件大小 {_mb(size)} 超过上限 {_mb(limits.max_file_bytes)}；"
                "请拆分台账或联系管理员调整上限"
            )
        with open(path, "rb") as handle:
            data = handle.read(limits.max_file_bytes + 1)
    except OSError as exc:
        raise RefusedFile(f"无法读取文件：{exc.strerror or exc}") from None
    if len(data) > limits.max_file_bytes:
        raise RefusedFile(f"文件大小超过上限 {_mb(limits.max_file_bytes)}")
    if not data:
        raise RefusedFile("文件是空的")
    digest = hashlib.sha256(data).hexdigest()
    kind = suffix.lstrip(".")
    if kind == "xlsx":
        _check_xlsx(data, limits, started)
    elif kind == "xls":
        _check_xls(data, limits, started)
    else:
        _check_csv(data)
    return CheckedFile(file_name, data, digest, len(data), kind)


def check_office_bytes(data: bytes, kind: str, limits: LedgerLimits) -> None:
    """The checks `check_file` makes, on content already in memory (an evidence file of
    online rectification, DOMAIN.md §8): kind "xlsx" (the whole workbook check), "xls" (the
    compound-file and BIFF checks), or "package" (any Office Open XML package, e.g. a Word
    .docx: member count, encrypted members, VBA projects, zip bombs, XML with a DOCTYPE or
    ENTITY or not in UTF-8; no workbook structure). RefusedFile says why, in Chinese."""
    started = time.monotonic()
    if kind == "xlsx":
        _check_xlsx(data, limits, started)
    elif kind == "xls":
        _check_xls(data, limits, started)
    elif kind == "package":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
            raise RefusedFile("文件已损坏：不是有效的压缩包") from None
        with archive:
            _check_members(archive, infos, limits)
            _stream_members(archive, infos, limits, started)
    else:
        raise ValueError(f"unknown kind {kind!r}")


def _check_csv(data: bytes) -> None:
    content = describe_content(data[:16])
    if content == "压缩包":
        raise RefusedFile(
            "文件内容是压缩包（可能是 Excel 工作簿），扩展名却是 .csv；请按实际格式命名后再导入"
        )
    if content is not None:
        raise RefusedFile(f"文件内容是{content}，不是 CSV 文本文件")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise RefusedFile(
            "CSV 文件是 UTF-16 编码或含有二进制内容；请另存为“CSV UTF-8”或 GBK 编码的 CSV"
        )


def _check_xlsx(data: bytes, limits: LedgerLimits, started: float) -> None:
    if not data.startswith(_ZIP):
        if data.startswith(_OLE):
            if "EncryptedPackage".encode("utf-16-le") in data:
                raise RefusedFile("工作簿设有打开密码（已加密）；请取消密码后另存为 .xlsx 再导入")
            raise RefusedFile(
                "文件实际是旧版 Excel 97-2003（.xls）或其他 Office 文件，扩展名却是 .xlsx；"
                "请在 Excel 或 WPS 中另存为 .xlsx"
            )
        content = describe_content(data[:16])
        if content is not None:
            raise RefusedFile(f"文件内容是{content}，不是 Excel 工作簿（.xlsx）")
        if data.lstrip()[:1] == b"<":
            raise RefusedFile(
                "文件内容是网页或 XML 文本，不是 Excel 工作簿（.xlsx）；请在 Excel 或 WPS 中另存为 .xlsx"
            )
        raise RefusedFile("文件内容不是 Excel 工作簿（.xlsx）")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise RefusedFile("文件已损坏：不是有效的 .xlsx 压缩包") from None
    with archive:
        _check_members(archive, infos, limits)
        _check_workbook_parts(archive, infos)
        _stream_members(archive, infos, limits, started)


def _check_members(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: LedgerLimits
) -> None:
    if len(infos) > limits.max_zip_members:
        raise RefusedFile(
            f"压缩包内有 {len(infos)} 个部件，超过上限 {limits.max_zip_members}（不像正常的工作簿）"
        )
    total = 0
    for info in infos:
        lower = info.filename.lower()
        if info.flag_bits & 0x1:
            raise RefusedFile("工作簿内部件已加密，无法检查；请取消加密后再导入")
        if lower.endswith("vbaproject.bin") or lower.endswith("vbaprojectsignature.bin"):
            raise RefusedFile(
                "工作簿含有 VBA 宏（vbaProject.bin）；请另存为不含宏的 .xlsx 后再导入"
            )
        if lower.startswith("xl/macrosheets/"):
            raise RefusedFile("工作簿含有 Excel 4.0 宏表；请另存为不含宏的 .xlsx 后再导入")
        if lower.startswith("xl/activex/"):
            raise RefusedFile("工作簿含有 ActiveX 控件；请删除控件后另存为 .xlsx 再导入")
        total += info.file_size
        if info.file_size > 1 << 20:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_compression_ratio:
                raise RefusedFile(
                    f"部件 {info.filename} 的压缩比为 {ratio:.0f}:1，超过上限 "
                    f"{limits.max_compression_ratio:.0f}:1（疑似压缩炸弹）"
                )
    if total > limits.max_uncompressed_bytes:
        raise RefusedFile(
            f"工作簿解压后共 {_mb(total)}，超过上限 {_mb(limits.max_uncompressed_bytes)}"
            "（疑似压缩炸弹）"
        )


def _small_part(archive: zipfile.ZipFile, name: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > 4 << 20:
        raise RefusedFile(f"部件 {name} 大小异常")
    try:
        body = archive.read(name)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise RefusedFile(f"文件已损坏：部件 {name} 无法解压") from None
    _check_xml_text(name, body[:_CHUNK])
    if _DOCTYPE.search(body):
        raise RefusedFile(
            f"部件 {name} 含有 DOCTYPE 或 ENTITY 声明（可能是 XML 实体攻击），拒绝读取"
        )
    return body


def _check_workbook_parts(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    names = {info.filename for info in infos}
    lower = {n.lower() for n in names}
    if "[Content_Types].xml" not in names or "_rels/.rels" not in names:
        if any(n.startswith("word/") for n in lower):
            raise RefusedFile("这是 Word 文档，不是 Excel 工作簿（.xlsx）")
        if any(n.startswith("ppt/") for n in lower):
            raise RefusedFile("这是 PowerPoint 演示文稿，不是 Excel 工作簿（.xlsx）")
        raise RefusedFile("这是一个普通压缩包，不是 Excel 工作簿（.xlsx）")
    types = _small_part(archive, "[Content_Types].xml")
    if b"macroenabled" in types.lower():
        raise RefusedFile("工作簿为启用宏的格式（macroEnabled）；请另存为不含宏的 .xlsx 后再导入")
    rels = _small_part(archive, "_rels/.rels")
    try:
        root = SafeTree.fromstring(rels)
    except Exception:
        raise RefusedFile("文件已损坏：_rels/.rels 不是有效的 XML") from None
    target = None
    for rel in root:
        if str(rel.get("Type", "")).endswith("/officeDocument"):
            target = str(rel.get("Target", "")).lstrip("/")
    if not target or target not in names:
        if any(n.startswith("word/") for n in lower):
            raise RefusedFile("这是 Word 文档，不是 Excel 工作簿（.xlsx）")
        if any(n.startswith("ppt/") for n in lower):
            raise RefusedFile("这是 PowerPoint 演示文稿，不是 Excel 工作簿（.xlsx）")
        raise RefusedFile("压缩包中没有工作簿（不是 Excel .xlsx 文件）")
    if not target.lower().startswith("xl/"):
        raise RefusedFile("压缩包中的主文档不是 Excel 工作簿")


def _check_xml_text(name: str, head: bytes) -> None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:64]:
        raise RefusedFile(f"部件 {name} 不是 UTF-8 编码的 XML，拒绝读取")
    declaration = head[:200].lower()
    match = re.search(rb"encoding\s*=\s*[\"']([^\"']+)", declaration)
    if declaration.startswith(b"<?xml") and match and match.group(1) not in (b"utf-8", b"utf8"):
        raise RefusedFile(
            f"部件 {name} 声明的编码为 {match.group(1).decode(errors='replace')}，只接受 UTF-8"
        )


def _is_xml(name: str) -> bool:
    return name.lower().endswith((".xml", ".rels", ".vml"))


def _is_sheet(name: str) -> bool:
    lower = name.lower()
    return lower.startswith("xl/worksheets/") and lower.endswith(".xml")


class _SheetScan:
    """Finds cells (with content) beyond the limits in a worksheet's XML, streamed in chunks.

    Fast path: when every cell is written `<c r="…"`, only references long enough to exceed a
    limit are examined. Otherwise (cells without a reference, prefixed or single-quoted names)
    the part is parsed again with expat, tracking positions as a sheet reader does.
    """

    def __init__(self, name: str, limits: LedgerLimits) -> None:
        self.name = name
        self.limits = limits
        letters = len(column_letter(limits.max_columns - 1))
        digits = len(str(limits.max_rows))
        self.far = re.compile(
            rb'<c\s(?:[^>]*?\s)?r="(?:([A-Z]{%d,})(\d+)|([A-Z]+)(\d{%d,}))"' % (letters, digits)
        )
        self.cells = 0
        self.cells_with_ref = 0
        self.needs_full_parse = False

    def feed(self, segment: bytes) -> None:
        if _PREFIXED_CELL.search(segment):
            self.needs_full_parse = True
        self.cells += sum(
            segment.count(b"<c" + end) for end in (b" ", b">", b"/", b"\t", b"\n", b"\r")
        )
        self.cells_with_ref += segment.count(b'<c r="')
        for match in self.far.finditer(segment):
            letters = match.group(1) or match.group(3)
            digits = match.group(2) or match.group(4)
            close = segment.find(b">", match.end())
            if close > 0 and segment[close - 1 : close] == b"/":
                continue  # a formatted empty cell: no value, nothing is allocated for it
            self.check(_column_index(letters.decode()), int(digits))

    def check(self, column: int, row: int) -> None:
        if row > self.limits.max_rows:
            raise RefusedFile(
                f"工作表部件 {self.name} 有第 {row} 行的单元格，超过上限 {self.limits.max_rows} 行"
                "（文件过大或被恶意构造）"
            )
        if column > self.limits.max_columns:
            raise RefusedFile(
                f"工作表部件 {self.name} 有第 {column} 列（{column_letter(column - 1)} 列）的单元格，"
                f"超过上限 {self.limits.max_columns} 列（文件过大或被恶意构造）"
            )

    def finish(self) -> bool:
        """True when the fast path cannot vouch for the part and a full parse is needed."""
        return self.needs_full_parse or self.cells != self.cells_with_ref


def _column_index(letters: str) -> int:
    value = 0
    for ch in letters:
        value = value * 26 + (ord(ch) - 64)
    return value


@dataclass
class _Position:
    row: int = 0
    col: int = 0
    cell: tuple[int, int] | None = None


def _full_scan(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    scan: _SheetScan,
    started: float,
    limits: LedgerLimits,
) -> None:
    """Positions of valued cells as a sheet reader computes them, with expat (no DTD)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    state = _Position()

    def local(name: str) -> str:
        return name.rsplit(" ", 1)[-1]

    def start(name: str, attrs: dict[str, str]) -> None:
        tag = local(name)
        if tag == "row":
            r = attrs.get("r")
            state.row = int(r) if r and r.isdigit() else state.row + 1
            state.col = 0
        elif tag == "c":
            ref = attrs.get("r")
            if ref:
                m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
                if not m:
                    raise RefusedFile(f"工作表部件 {info.filename} 有无效的单元格引用“{ref[:20]}”")
                state.col = _column_index(m.group(1))
                state.cell = (state.col, int(m.group(2)))
            else:
                state.col += 1
                state.cell = (state.col, state.row)
        elif tag in ("v", "is", "f") and state.cell is not None:
            scan.check(*state.cell)

    def doctype(*_: object) -> None:
        raise RefusedFile(f"部件 {info.filename} 含有 DOCTYPE 声明，拒绝读取")

    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    with archive.open(info) as handle:
        while chunk := handle.read(_CHUNK):
            _check_time(started, limits)
            try:
                parser.Parse(chunk, False)
            except expat.ExpatError:
                raise RefusedFile(f"工作表部件 {info.filename} 不是有效的 XML") from None
        try:
            parser.Parse(b"", True)
        except expat.ExpatError:
            raise RefusedFile(f"工作表部件 {info.filename} 不是有效的 XML") from None


def _check_time(started: float, limits: LedgerLimits) -> None:
    if time.monotonic() - started > limits.max_seconds:
        raise RefusedFile(f"读取超时（超过 {limits.max_seconds:g} 秒），文件过大或结构异常")


def _stream_members(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: LedgerLimits, started: float
) -> None:
    total = 0
    for info in infos:
        if info.is_dir():
            continue
        xml = _is_xml(info.filename)
        scan = _SheetScan(info.filename, limits) if _is_sheet(info.filename) else None
        tail = b""
        first = True
        try:
            with archive.open(info) as handle:
                while chunk := handle.read(_CHUNK):
                    _check_time(started, limits)
                    total += len(chunk)
                    if total > limits.max_uncompressed_bytes:
                        raise RefusedFile(
                            f"工作簿解压后超过上限 {_mb(limits.max_uncompressed_bytes)}（疑似压缩炸弹）"
                        )
                    if not xml:
                        continue
                    if first:
                        _check_xml_text(info.filename, chunk)
                        first = False
                    buffer = tail + chunk
                    cut = buffer.rfind(b"<")
                    segment, tail = (buffer[:cut], buffer[cut:]) if cut > 0 else (buffer, b"")
                    if _DOCTYPE.search(segment):
                        raise RefusedFile(
                            f"部件 {info.filename} 含有 DOCTYPE 或 ENTITY 声明（可能是 XML 实体攻击），拒绝读取"
                        )
                    if scan is not None:
                        scan.feed(segment)
                if xml and tail:
                    if _DOCTYPE.search(tail):
                        raise RefusedFile(
                            f"部件 {info.filename} 含有 DOCTYPE 或 ENTITY 声明（可能是 XML 实体攻击），拒绝读取"
                        )
                    if scan is not None:
                        scan.feed(tail)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error):
            raise RefusedFile(f"文件已损坏：部件 {info.filename} 无法解压或校验失败") from None
        except NotImplementedError:
            raise RefusedFile(f"部件 {info.filename} 使用了不支持的压缩方式") from None
        if scan is not None and scan.finish():
            _full_scan(archive, info, scan, started, limits)


# -- legacy .xls (BIFF8 in an OLE2 compound file) ------------------------------------------

_ENDOFCHAIN = 0xFFFFFFFE
_BIFF_BOF, _BIFF_EOF, _BIFF_FILEPASS, _BIFF_BOUNDSHEET = 0x0809, 0x000A, 0x002F, 0x0085
_BIFF_SST, _BIFF_DIMENSIONS, _BIFF_MULRK = 0x00FC, 0x0200, 0x00BD
# Records the reader turns into valued cells, each starting with its row and column (BLANK and
# MULBLANK only carry formatting and are skipped by the reader, like formatted empty cells).
_BIFF_CELLS = {0x0006, 0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x00D6}
_HTML_MARKERS = ("<html", "<!doctype html", "<table", "<head", "<body", "<meta", "<style")
_XLS_OLD = "工作簿为 Excel 5.0/95 版本，格式过旧，请在 Excel 或 WPS 中另存为 .xlsx"
_XLS_DAMAGED = "文件已损坏：不是有效的 Excel 97-2003 工作簿（.xls）"


def _check_xls(data: bytes, limits: LedgerLimits, started: float) -> None:
    if not data.startswith(_OLE):
        _refuse_not_ole(data)
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except RefusedFile:
        raise
    except Exception:  # olefile raises several types for a damaged container
        raise RefusedFile(_XLS_DAMAGED) from None
    with ole:
        workbook = _check_ole_entries(ole, data)
        try:
            stream = ole.openstream(workbook).read()
        except Exception:
            raise RefusedFile(f"{_XLS_DAMAGED}（Workbook 数据流无法读取）") from None
        _check_ole_chains(ole, data, workbook)
    _check_biff(stream, limits, started)


def _refuse_not_ole(data: bytes) -> None:
    if data.startswith(_ZIP):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n.lower() for n in archive.namelist()]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
            names = []
        if any(n.startswith("xl/") for n in names):
            raise RefusedFile("文件实际是 .xlsx 工作簿，扩展名却是 .xls；请把扩展名改为 .xlsx")
        if any(n.startswith("word/") for n in names):
            raise RefusedFile("这是 Word 文档，不是 Excel 工作簿（.xls）")
        raise RefusedFile("文件内容是压缩包，不是 Excel 工作簿（.xls）")
    content = describe_content(data[:16])
    if content is not None:
        raise RefusedFile(f"文件内容是{content}，不是 Excel 工作簿（.xls）")
    text = _text_head(data)
    if text is not None:
        head = text.lstrip("\ufeff \t\r\n").lower()
        # Many systems export "Excel" as an HTML table (or Excel's own single-file web page).
        xml = head.startswith("<?xml") and "<html" not in head  # e.g. Excel 2003 XML
        if head.startswith("mime-version:") or (
            head.startswith("<") and not xml and any(m in head for m in _HTML_MARKERS)
        ):
            raise RefusedFile(
                "文件实际是网页表格（HTML），不是 Excel 工作簿；请在 Excel 或 WPS 中打开后另存为 .xlsx"
            )
        if head.startswith("<"):
            raise RefusedFile(
                "文件实际是 XML 表格，不是 Excel 工作簿；请在 Excel 或 WPS 中打开后另存为 .xlsx"
            )
        if "\t" in head or "," in head:
            raise RefusedFile(
                "文件实际是文本表格（制表符或逗号分隔），不是 Excel 工作簿；"
                "请在 Excel 或 WPS 中打开后另存为 .xlsx"
            )
    raise RefusedFile("文件内容不是 Excel 工作簿（.xls）")


def _text_head(data: bytes) -> str | None:
    """The first 4 KB as text when they are text (UTF-16 with a BOM, UTF-8, GB18030)."""
    head = data[:4096]
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="ignore")
    if b"\x00" in head:
        return None
    head = head.removeprefix(b"\xef\xbb\xbf")
    for codec in ("utf-8", "gb18030"):
        try:
            # The cut at 4 KB may split a character: drop at most its first bytes.
            return head.decode(codec) if len(data) <= 4096 else head[:-4].decode(codec)
        except UnicodeDecodeError:
            continue
    return None


def _check_ole_entries(ole: olefile.OleFileIO, data: bytes) -> str:
    """Refuses what the compound file's entry names say; returns the Workbook stream's name."""
    entries = ole.listdir(streams=True, storages=True)
    names = {part.lower() for path in entries for part in path}
    tops = {path[0].lower() for path in entries if len(path) == 1}
    if "encryptedpackage" in names or "encryptioninfo" in names:
        raise RefusedFile("工作簿设有打开密码（已加密）；请取消密码后另存为 .xlsx 再导入")
    if "worddocument" in tops:
        raise RefusedFile("这是 Word 文档，不是 Excel 工作簿（.xls）")
    if "powerpoint document" in tops:
        raise RefusedFile("这是 PowerPoint 演示文稿，不是 Excel 工作簿（.xls）")
    if {"_vba_project_cur", "vba", "_vba_project", "macros"} & names:
        raise RefusedFile("工作簿含有 VBA 宏；请另存为不含宏的 .xlsx 后再导入")
    if "workbook" not in tops:
        if "book" in tops:
            raise RefusedFile(_XLS_OLD)
        raise RefusedFile("文件是 Office 复合文档，但不是 Excel 工作簿（其中没有 Workbook 数据流）")
    for entry in ole.direntries:
        if entry is not None and entry.size > len(data):
            raise RefusedFile(f"{_XLS_DAMAGED}（部件声明的大小超过文件本身）")
    return next(p[0] for p in entries if len(p) == 1 and p[0].lower() == "workbook")


def _check_ole_chains(ole: olefile.OleFileIO, data: bytes, workbook: str) -> None:
    """The sector counts and chains the reader allocates by and follows must fit the file."""
    sector = ole.sectorsize
    counts = struct.unpack_from("<II", data, 40) + struct.unpack_from("<I", data, 64)
    counts += struct.unpack_from("<I", data, 72)
    if any(count * sector > len(data) for count in counts):
        raise RefusedFile(f"{_XLS_DAMAGED}（文件头声明的扇区数超过文件本身）")
    fat = list(ole.fat)
    _walk_chain(fat, ole.first_dir_sector)
    if ole.first_mini_fat_sector != _ENDOFCHAIN:
        _walk_chain(fat, ole.first_mini_fat_sector)
    if ole.root.size:
        _walk_chain(fat, ole.root.isectStart)
    entry = next(e for e in ole.root.kids if e.name == workbook)
    if entry.size >= ole.minisectorcutoff:
        _walk_chain(fat, entry.isectStart)
    elif entry.size:
        _walk_chain(list(ole.minifat), entry.isectStart)


def _walk_chain(fat: list[int], start: int) -> None:
    """A chain must end (a cycle would make the reader loop forever)."""
    current, steps = start, 0
    while current != _ENDOFCHAIN:
        if current >= len(fat) or steps > len(fat):
            raise RefusedFile(f"{_XLS_DAMAGED}（扇区链损坏或成环）")
        current, steps = fat[current], steps + 1


def _check_biff(stream: bytes, limits: LedgerLimits, started: float) -> None:
    records = _biff_records(stream, 0)
    first = next(records, None)
    if first is None or first[0] != _BIFF_BOF:
        raise RefusedFile(f"{_XLS_DAMAGED}（Workbook 数据流不以 BOF 记录开头）")
    version = int.from_bytes(stream[first[1] : first[1] + 2], "little")
    if version != 0x0600:
        raise RefusedFile(_XLS_OLD)
    sheets: list[tuple[int, str]] = []
    sheets_seen = False
    for count, (typ, start, end) in enumerate(records):
        if count % 4096 == 0:
            _check_time(started, limits)
        body = stream[start:end]
        if typ == _BIFF_EOF:
            break
        if typ == _BIFF_FILEPASS and not sheets_seen:
            raise RefusedFile("工作簿设有打开密码（已加密）；请取消密码后再导入")
        if typ == _BIFF_BOUNDSHEET and len(body) >= 8:
            sheets_seen = True
            if body[5] == 0x01:
                raise RefusedFile("工作簿含有 Excel 4.0 宏表；请另存为不含宏的 .xlsx 后再导入")
            if body[5] == 0x06:
                raise RefusedFile("工作簿含有 VBA 宏；请另存为不含宏的 .xlsx 后再导入")
            sheets.append((int.from_bytes(body[:4], "little"), _sheet_name(body)))
        if typ == _BIFF_SST and len(body) >= 8:
            # The reader reserves room for this many strings before reading one.
            unique = int.from_bytes(body[4:8], "little", signed=True)
            if unique < 0 or unique > len(stream) // 3:
                raise RefusedFile(f"{_XLS_DAMAGED}（共享字符串表声明的数量异常）")
    # Each sheet is walked from where the workbook says it starts, as the reader does.
    for position in sorted({p for p, _ in sheets}):
        name = next(n for p, n in sheets if p == position)
        if position >= len(stream):
            raise RefusedFile(f"{_XLS_DAMAGED}（工作表“{name}”的位置超出数据流）")
        _check_biff_sheet(stream, position, name, limits, started)


def _sheet_name(body: bytes) -> str:
    length, wide = body[6], body[7] & 1
    raw = body[8 : 8 + length * (2 if wide else 1)]
    return raw.decode("utf-16-le" if wide else "latin-1", errors="replace")[:40]


def _biff_records(stream: bytes, offset: int) -> Iterator[tuple[int, int, int]]:
    """(record type, body start, body end) from offset to the end of the stream."""
    size = len(stream)
    while offset + 4 <= size:
        typ, length = struct.unpack_from("<HH", stream, offset)
        start = offset + 4
        end = min(start + length, size)
        yield typ, start, end
        offset = start + length


def _check_biff_sheet(
    stream: bytes, position: int, name: str, limits: LedgerLimits, started: float
) -> None:
    for count, (typ, start, end) in enumerate(_biff_records(stream, position)):
        if count % 4096 == 0:
            _check_time(started, limits)
        if typ == _BIFF_EOF:
            return
        body = stream[start:end]
        if typ == _BIFF_DIMENSIONS and len(body) in (10, 14):
            _check_dimensions(body, name, limits)
        elif typ in _BIFF_CELLS and len(body) >= 4:
            row, col = struct.unpack_from("<HH", body)
            _check_xls_cell(name, row, col, limits)
        elif typ == _BIFF_MULRK and len(body) >= 6:
            row, col = struct.unpack_from("<HH", body)
            last = int.from_bytes(body[-2:], "little")
            _check_xls_cell(name, row, max(col, last), limits)


def _check_dimensions(body: bytes, name: str, limits: LedgerLimits) -> None:
    """The reader reserves room for the declared rows × columns before reading a cell."""
    layout = "<IIHH" if len(body) == 14 else "<HHHH"  # BIFF8, or the older short form
    first_row, end_row, first_col, end_col = struct.unpack_from(layout, body)
    if end_row >= 1 and end_col >= 1:
        rows, cols = end_row - first_row, end_col - first_col
        if rows < 1 or cols < 1 or end_row > 65536 or end_col > 256:
            raise RefusedFile(f"{_XLS_DAMAGED}（工作表“{name}”声明的范围无效）")
        if rows * cols > limits.max_rows * limits.max_columns:
            raise RefusedFile(
                f"工作表“{name}”声明的范围为 {rows} 行、{cols} 列，超过上限"
                f"（{limits.max_rows} 行 × {limits.max_columns} 列；文件过大或被恶意构造）"
            )


def _check_xls_cell(name: str, row: int, col: int, limits: LedgerLimits) -> None:
    if row + 1 > limits.max_rows:
        raise RefusedFile(
            f"工作表“{name}”有第 {row + 1} 行的单元格，超过上限 {limits.max_rows} 行"
            "（文件过大或被恶意构造）"
        )
    if col + 1 > limits.max_columns:
        raise RefusedFile(
            f"工作表“{name}”有第 {col + 1} 列（{column_letter(col)} 列）的单元格，"
            f"超过上限 {limits.max_columns} 列（文件过大或被恶意构造）"
        )
