"""Legacy .xls ledgers (Excel 97-2003) and WPS-saved .xlsx read exactly like the workbooks they
came from; hostile or mislabelled .xls files are refused, each with its message.

The .xls files are real: LibreOffice Calc converts the sample ledgers, all in one call. The
hostile ones are those real files with one thing changed (a directory entry renamed, a record
rewritten in place), since nothing here writes OLE files from scratch.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from html import unescape
from pathlib import Path
from xml.sax.saxutils import escape

import olefile
import pytest

from tests import ledger_samples as S
from tests.test_ledger_reading import _finding, _measures, assert_holds
from xuncha.ledger import LedgerLimits, read_ledger
from xuncha.ledger.model import LedgerResult
from xuncha.ledger.safety import check_file
from xuncha.ledger.sources import read_source

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice (soffice) is needed to make real .xls files: scripts/setup.sh --browser",
)

S_SHEET = "xl/worksheets/sheet1.xml"
KINDS = {"merged": (S.MERGED, S.merged_xlsx), "one_row": (S.ONE_ROW, S.one_row_xlsx)}


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """kind → (the .xlsx built by the sample, the .xls LibreOffice made of it)."""
    folder = tmp_path_factory.mktemp("xls")
    books = {kind: build(folder / f"{kind}.xlsx") for kind, (_, build) in KINDS.items()}
    # A private profile: parallel workers sharing the default one would block each other.
    profile = (folder / "profile").as_uri()
    out = folder / "out"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "xls",
            "--outdir",
            str(out),
            *map(str, books.values()),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pairs = {kind: (book, out / f"{kind}.xls") for kind, book in books.items()}
    assert all(xls.exists() for _, xls in pairs.values()), list(out.iterdir())
    return pairs


def _same_reading(got: LedgerResult, want: LedgerResult) -> None:
    assert [_finding(f) for f in got.findings] == [_finding(f) for f in want.findings]
    assert [_measures(f) for f in got.findings] == [_measures(f) for f in want.findings]
    assert got.as_of == want.as_of and got.unknown_columns == want.unknown_columns
    assert [p.reason for p in got.problems] == [p.reason for p in want.problems]


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_xls_ledger_reads_exactly_like_the_xlsx_it_came_from_and_the_sample(
    converted: dict[str, tuple[Path, Path]], kind: str
) -> None:
    sample = KINDS[kind][0]
    xlsx, xls = converted[kind]
    from_xls = read_ledger(xls, feedback_date=sample.feedback)
    assert from_xls.file_format == "xls"
    assert_holds(from_xls, sample)
    _same_reading(from_xls, read_ledger(xlsx, feedback_date=sample.feedback))


def test_an_xls_sheet_keeps_its_merged_ranges_and_its_date_cells(
    converted: dict[str, tuple[Path, Path]],
) -> None:
    _, xls = converted["merged"]
    limits = LedgerLimits()
    checked = check_file(xls, xls.name, limits)
    assert checked.kind == "xls"
    (sheet,) = read_source(checked, limits, time.monotonic()).sheets
    # calamine 0.9.1 reads BIFF8 MERGEDCELLS: nothing needs filling down from the row above.
    assert (5, 0, 7, 0) in sheet.merges and not sheet.fill_down and not sheet.from_csv
    p3 = next(row for row in sheet.rows if row[1] == S.P3)
    assert p3[6] == dt.date(2024, 5, 31) and type(p3[6]) is dt.date


def test_a_csv_source_is_marked_for_filling_down_and_an_xlsx_is_not(tmp_path: Path) -> None:
    limits = LedgerLimits()
    for build, name, fill in ((S.gbk_csv, "台账.csv", True), (S.merged_xlsx, "台账.xlsx", False)):
        path = build(tmp_path / name)
        source = read_source(check_file(path, name, limits), limits, time.monotonic())
        assert [s.fill_down for s in source.sheets] == [fill], name


# -- hostile and mislabelled .xls ----------------------------------------------------------


def _entry(data: bytearray, name: str) -> int:
    """Where the directory entry of that name starts in the raw compound file."""
    encoded = name.encode("utf-16-le") + b"\x00\x00"
    for match in re.finditer(re.escape(encoded), data):
        at = match.start()
        if struct.unpack_from("<H", data, at + 64)[0] == len(encoded):
            return at
    raise AssertionError(f"no directory entry {name!r}")


def _rename(source: Path, target: Path, old: str, new: str, storage: bool = False) -> Path:
    """A copy whose directory entry `old` is called `new` (a storage when `storage`)."""
    data = bytearray(source.read_bytes())
    at = _entry(data, old)
    encoded = new.encode("utf-16-le") + b"\x00\x00"
    data[at : at + 64] = encoded.ljust(64, b"\x00")
    struct.pack_into("<H", data, at + 64, len(encoded))
    if storage:
        data[at + 66] = 1  # an (empty) storage rather than a stream
    target.write_bytes(bytes(data))
    return target


def _records(stream: bytes) -> list[tuple[int, int, int]]:
    """(type, offset of the record, total length) for every BIFF record."""
    found, at = [], 0
    while at + 4 <= len(stream):
        typ, length = struct.unpack_from("<HH", stream, at)
        found.append((typ, at, 4 + length))
        at += 4 + length
    return found


def _rewrite(source: Path, target: Path, change: Callable[[bytes], bytes]) -> Path:
    """A copy whose Workbook stream is changed in place (same length)."""
    shutil.copyfile(source, target)
    with olefile.OleFileIO(str(target), write_mode=True) as ole:
        stream = ole.openstream("Workbook").read()
        changed = change(stream)
        assert len(changed) == len(stream)
        ole.write_stream("Workbook", changed)
    return target


def _with_filepass(stream: bytes) -> bytes:
    # Where Excel writes it, right after BOF: an RC4 FilePass (54 bytes), then a filler record
    # so that the records after it stay where they were.
    records = _records(stream)
    start = records[1][1]
    end = start
    for _, at, size in records[1:]:
        end = at + size
        if end - start >= 4 + 54 + 4:
            break
    filepass = struct.pack("<HHHHH", 0x002F, 54, 1, 1, 1) + bytes(range(50))
    filler = end - start - len(filepass) - 4
    body = filepass + struct.pack("<HH", 0x005C, filler) + b"\x00" * filler
    return stream[:start] + body + stream[end:]


def _patch_record(typ: int, patch: Callable[[bytearray], None]) -> Callable[[bytes], bytes]:
    def change(stream: bytes) -> bytes:
        data = bytearray(stream)
        (at, size) = next((at, size) for t, at, size in _records(stream) if t == typ)
        body = data[at + 4 : at + size]
        patch(body)
        data[at + 4 : at + size] = body
        return bytes(data)

    return change


def _macro_sheet(body: bytearray) -> None:
    body[5] = 0x01  # BOUNDSHEET dt: an Excel 4.0 macro sheet


def _huge_dimensions(body: bytearray) -> None:
    body[:12] = struct.pack("<IIHH", 0, 65536, 0, 256)


def _write(target: Path, data: bytes) -> Path:
    target.write_bytes(data)
    return target


SPREADSHEET_ML = (
    '<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?>'
    '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="台账">'
    '<Table><Row><Cell><Data ss:Type="String">序号</Data></Cell></Row></Table></Worksheet>'
    "</Workbook>"
)
HTML_TABLE = (
    '\ufeff<html xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:x="urn:schemas-microsoft-com:office:excel"><head><meta charset="utf-8"></head>'
    "<body><table><tr><td>序号</td><td>具体问题</td></tr></table></body></html>"
)

Build = Callable[[Path, Path, Path], Path]  # (the .xls, its .xlsx, a folder) → the file
# (case, build, expected message, limits)
CASES: list[tuple[str, Build, str, LedgerLimits]] = [
    (
        "an .xlsx named .xls",
        lambda xls, xlsx, d: _write(d / "台账.xls", xlsx.read_bytes()),
        "文件实际是 .xlsx 工作簿，扩展名却是 .xls；请把扩展名改为 .xlsx",
        LedgerLimits(),
    ),
    (
        "an HTML table named .xls",
        lambda xls, xlsx, d: _write(d / "台账.xls", HTML_TABLE.encode()),
        "文件实际是网页表格（HTML），不是 Excel 工作簿；请在 Excel 或 WPS 中打开后另存为 .xlsx",
        LedgerLimits(),
    ),
    (
        "an HTML table in UTF-16 named .xls",
        lambda xls, xlsx, d: _write(d / "台账.xls", HTML_TABLE.lstrip("\ufeff").encode("utf-16")),
        "文件实际是网页表格（HTML）",
        LedgerLimits(),
    ),
    (
        "an Excel 2003 XML table named .xls",
        lambda xls, xlsx, d: _write(d / "台账.xls", SPREADSHEET_ML.encode()),
        "文件实际是 XML 表格，不是 Excel 工作簿",
        LedgerLimits(),
    ),
    (
        "a Word document named .xls",
        lambda xls, xlsx, d: _rename(xls, d / "台账.xls", "Workbook", "WordDocument"),
        "这是 Word 文档，不是 Excel 工作簿（.xls）",
        LedgerLimits(),
    ),
    (
        "an Excel 5.0/95 workbook",
        lambda xls, xlsx, d: _rename(xls, d / "台账.xls", "Workbook", "Book"),
        "格式过旧，请在 Excel 或 WPS 中另存为 .xlsx",
        LedgerLimits(),
    ),
    (
        "a workbook with a VBA project",
        lambda xls, xlsx, d: _rename(
            xls, d / "台账.xls", "\x05SummaryInformation", "_VBA_PROJECT_CUR", storage=True
        ),
        "工作簿含有 VBA 宏",
        LedgerLimits(),
    ),
    (
        "an encrypted workbook (EncryptedPackage)",
        lambda xls, xlsx, d: _rename(
            xls, d / "台账.xls", "\x05DocumentSummaryInformation", "EncryptedPackage"
        ),
        "工作簿设有打开密码（已加密）",
        LedgerLimits(),
    ),
    (
        "an encrypted workbook (FilePass record)",
        lambda xls, xlsx, d: _rewrite(xls, d / "台账.xls", _with_filepass),
        "工作簿设有打开密码（已加密）",
        LedgerLimits(),
    ),
    (
        "a workbook with an Excel 4.0 macro sheet",
        lambda xls, xlsx, d: _rewrite(xls, d / "台账.xls", _patch_record(0x0085, _macro_sheet)),
        "工作簿含有 Excel 4.0 宏表",
        LedgerLimits(),
    ),
    (
        "a sheet declaring a huge range",
        lambda xls, xlsx, d: _rewrite(xls, d / "台账.xls", _patch_record(0x0200, _huge_dimensions)),
        "声明的范围为 65536 行、256 列，超过上限",
        LedgerLimits(),
    ),
    (
        "a cell beyond the column limit",
        lambda xls, xlsx, d: _write(d / "台账.xls", xls.read_bytes()),
        "有第 6 列（F 列）的单元格，超过上限 5 列",
        LedgerLimits(max_columns=5),
    ),
    (
        "a cell beyond the row limit",
        lambda xls, xlsx, d: _write(d / "台账.xls", xls.read_bytes()),
        "有第 6 行的单元格，超过上限 5 行",
        LedgerLimits(max_rows=5),
    ),
    (
        "larger than the size limit",
        lambda xls, xlsx, d: _write(d / "台账.xls", xls.read_bytes()),
        "超过上限 0.0 MB",
        LedgerLimits(max_file_bytes=1000),
    ),
    (
        "a truncated .xls",
        lambda xls, xlsx, d: _write(d / "台账.xls", xls.read_bytes()[:3000]),
        "文件已损坏",
        LedgerLimits(),
    ),
]


@pytest.mark.parametrize(("case", "build", "message", "limits"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_or_mislabelled_xls_is_refused_with_its_message(
    converted: dict[str, tuple[Path, Path]],
    tmp_path: Path,
    case: str,
    build: Build,
    message: str,
    limits: LedgerLimits,
) -> None:
    xlsx, xls = converted["merged"]
    result = read_ledger(build(xls, xlsx, tmp_path), feedback_date=S.ZJ_FEEDBACK, limits=limits)
    assert result.refused and not result.ok, case
    (problem,) = result.problems
    assert problem.reason.startswith("文件被拒绝：") and message in problem.reason, problem.reason


def test_the_rewritten_xls_files_are_still_readable_compound_files(
    converted: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    # The crafted cases must fail on the one thing changed, not on a broken container.
    _, xls = converted["merged"]
    same = _rewrite(xls, tmp_path / "same.xls", lambda stream: stream)
    assert read_ledger(same, feedback_date=S.ZJ_FEEDBACK).ok
    for name in ("Word.xls", "VBA.xls"):
        path = tmp_path / name
        if name == "Word.xls":
            _rename(xls, path, "Workbook", "WordDocument")
        else:
            _rename(xls, path, "\x05SummaryInformation", "_VBA_PROJECT_CUR", storage=True)
        with olefile.OleFileIO(str(path)) as ole:
            assert ole.exists("WordDocument") or ole.exists("_VBA_PROJECT_CUR")


# -- WPS-saved .xlsx -----------------------------------------------------------------------

WPS_APP = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
    'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    '<Application>WPS 表格</Application><HeadingPairs><vt:vector size="2" baseType="variant">'
    "<vt:variant><vt:lpstr>工作表</vt:lpstr></vt:variant><vt:variant><vt:i4>1</vt:i4>"
    "</vt:variant></vt:vector></HeadingPairs></Properties>"
)
WPS_CUSTOM = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
    'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="KSOProductBuildVer">'
    "<vt:lpwstr>2052-12.1.0.16388</vt:lpwstr></property>"
    '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="3" name="ICV">'
    "<vt:lpwstr>8A5C2B1E0F2D4C7B9E6A3D1F5B7C9E21_13</vt:lpwstr></property></Properties>"
)
RUN = '<r><rPr><sz val="11"/><color rgb="FF000000"/><rFont val="宋体"/><charset val="134"/></rPr>'
DATE_FORMAT = 'formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"'
DATE_CODES = re.compile(r'formatCode="yyyy[^"]*"')
INLINE = re.compile(
    r'<c r="([A-Z]+)(\d+)"((?: s="\d+")?) t="inlineStr"><is><t[^>]*>(.*?)</t></is></c>'
)


def _runs(text: str) -> str:
    """Text as WPS writes it: rich-text runs, here split in two mid-text."""
    plain = unescape(text)
    half = max(1, len(plain) // 2)
    parts = [p for p in (plain[:half], plain[half:]) if p]
    return "".join(f'{RUN}<t xml:space="preserve">{escape(p)}</t></r>' for p in parts)


def wps_xlsx(source: Path, target: Path) -> Path:
    """The openpyxl-built ledger rewritten the way WPS 表格 saves it: shared strings as rich-text
    runs (but column C's cells inline), a 年月日 date format, WPS's app and custom properties."""
    strings: list[str] = []

    def shared(match: re.Match[str]) -> str:
        column, row, style, text = match.groups()
        if column == "C":
            return f'<c r="{column}{row}"{style} t="inlineStr"><is>{_runs(text)}</is></c>'
        strings.append(text)
        return f'<c r="{column}{row}"{style} t="s"><v>{len(strings) - 1}</v></c>'

    sheet = INLINE.sub(shared, S.part(source, S_SHEET).decode())
    assert strings and 't="inlineStr"' in sheet
    table = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="{len(strings)}" uniqueCount="{len(strings)}">'
        + "".join(f"<si>{_runs(t)}</si>" for t in strings)
        + "</sst>"
    )
    styles, dates = DATE_CODES.subn(DATE_FORMAT, S.part(source, "xl/styles.xml").decode())
    assert dates
    types = (
        S.part(source, "[Content_Types].xml")
        .decode()
        .replace(
            "</Types>",
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/docProps/custom.xml"'
            ' ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/>'
            "</Types>",
        )
    )
    book_rels = (
        S.part(source, "xl/_rels/workbook.xml.rels")
        .decode()
        .replace(
            "</Relationships>",
            '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        )
    )
    rels = (
        S.part(source, "_rels/.rels")
        .decode()
        .replace(
            "</Relationships>",
            '<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/custom-properties" Target="docProps/custom.xml"/></Relationships>',
        )
    )
    return S.rezip(
        source,
        target,
        replace={
            S_SHEET: sheet.encode(),
            "xl/styles.xml": styles.encode(),
            "[Content_Types].xml": types.encode(),
            "xl/_rels/workbook.xml.rels": book_rels.encode(),
            "_rels/.rels": rels.encode(),
            "docProps/app.xml": WPS_APP.encode(),
        },
        add={"xl/sharedStrings.xml": table.encode(), "docProps/custom.xml": WPS_CUSTOM.encode()},
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_wps_saved_xlsx_reads_exactly_like_the_original(tmp_path: Path, kind: str) -> None:
    sample, build = KINDS[kind]
    original = build(tmp_path / f"{kind}.xlsx")
    wps = wps_xlsx(original, tmp_path / f"{kind}-wps.xlsx")
    assert b"KSOProductBuildVer" in S.part(wps, "docProps/custom.xml")
    assert b"<si><r><rPr>" in S.part(wps, "xl/sharedStrings.xml")
    from_wps = read_ledger(wps, feedback_date=sample.feedback)
    assert_holds(from_wps, sample)
    _same_reading(from_wps, read_ledger(original, feedback_date=sample.feedback))
