"""Hostile files are refused before any parser sees them.

Checked, each with its own Chinese message: the size limit; a file whose content is not what
its extension claims (a PNG named .xlsx, an old .xls or an encrypted file, a zip that is not
a workbook, a workbook named .csv); macro-enabled workbooks (.xlsm, vbaProject.bin, macro
sheets, ActiveX, a macro-enabled content type); zip bombs (members' total uncompressed size,
compression ratio, member count, a member larger than it declares); XML parts with a DOCTYPE
or ENTITY declaration or in an encoding other than UTF-8; and worksheets whose cells lie beyond
the row and column limits (a sheet reader allocates rows × columns, so two cells far apart
would cost gigabytes). Every member is decompressed once here, as a stream, under a time limit.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from defusedxml import ElementTree as SafeTree

from xuncha.ledger.model import LedgerLimits
from xuncha.ledger.text import column_letter

MACRO_EXTENSIONS = {".xlsm", ".xltm", ".xlam", ".xlsb"}
SUPPORTED = (".xlsx", ".csv")
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
    kind: str  # "xlsx" | "csv"


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
    if suffix == ".xls":
        raise RefusedFile(
            "暂不支持旧版 Excel 97-2003 格式（.xls）；请在 Excel 或 WPS 中另存为 .xlsx 后再导入"
        )
    if suffix not in SUPPORTED:
        shown = suffix or "（无扩展名）"
        raise RefusedFile(f"不支持的文件类型 {shown}；请导入 .xlsx 或 .csv 文件")
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
    kind = "xlsx" if suffix == ".xlsx" else "csv"
    if kind == "xlsx":
        _check_xlsx(data, limits, started)
    else:
        _check_csv(data)
    return CheckedFile(file_name, data, digest, len(data), kind)


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
