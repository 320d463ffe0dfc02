"""Hostile and mislabelled files are refused before parsing, each with a precise message, and
the store (what `xuncha info` says, and its data version) is left exactly as it was."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import ledger_samples as S
from xuncha.ledger import LedgerLimits, import_ledgers, read_ledger
from xuncha.store import Store

SHEET = "xl/worksheets/sheet1.xml"
BOMB_SHEET = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>'
    b"%s</sheetData></worksheet>"
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return S.merged_xlsx(tmp_path_factory.mktemp("base") / "base.xlsx")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, base: Path) -> Store:
    """A store holding one imported ledger, so 'unchanged' means something."""
    target = Store(tmp_path_factory.mktemp("store") / "store")
    outcome = import_ledgers(
        target, [base], round_name=S.ZJ_ROUND, unit_name=S.ZJ_UNIT, feedback_date=S.ZJ_FEEDBACK
    )
    assert outcome.ok and outcome.version == 1
    return target


def _copy(base: Path, target: Path) -> Path:
    target.write_bytes(base.read_bytes())
    return target


def _zip(target: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _ole(extra: bytes = b"") -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + extra + b"\x00" * 1024


def _mixed_csv() -> bytes:
    head = "序号,问题类别,具体问题,整改措施,整改时限,整改状态\n".encode()
    utf8 = (
        "1,落实全面从严治党战略部署方面,公务接待管理不规范,修订公务接待办法,2024年6月底前,已完成\n"
    )
    gbk = (
        "2,落实全面从严治党战略部署方面,财务报销审核不严,开展财务专项清查,2024年9月底前,正在整改\n"
    )
    return head + utf8.encode() + gbk.encode("gbk")


Builder = Callable[[Path, Path], Path]
LIMITS = LedgerLimits()

# (case, builder(base, folder) → file, expected message, limits)
CASES: list[tuple[str, Builder, str, LedgerLimits]] = [
    (
        "larger than the size limit",
        lambda b, d: _copy(b, d / "台账.xlsx"),
        "超过上限 0.0 MB",
        LedgerLimits(max_file_bytes=1000),
    ),
    (
        "a zip bomb by compression ratio",
        lambda b, d: S.rezip(b, d / "台账.xlsx", add={"xl/media/image1.bin": b"\0" * (6 << 20)}),
        "压缩比为",
        LIMITS,
    ),
    (
        "members larger in total than allowed",
        lambda b, d: _copy(b, d / "台账.xlsx"),
        "工作簿解压后共",
        LedgerLimits(max_uncompressed_bytes=4000),
    ),
    (
        "a macro-enabled workbook by its extension",
        lambda b, d: _copy(b, d / "台账.xlsm"),
        "不接受启用宏或二进制格式的工作簿（.xlsm）",
        LIMITS,
    ),
    (
        "a workbook carrying vbaProject.bin",
        lambda b, d: S.rezip(b, d / "台账.xlsx", add={"xl/vbaProject.bin": b"VBA" * 100}),
        "工作簿含有 VBA 宏（vbaProject.bin）",
        LIMITS,
    ),
    (
        "a workbook carrying an Excel 4.0 macro sheet",
        lambda b, d: S.rezip(b, d / "台账.xlsx", add={"xl/macrosheets/sheet1.xml": b"<xm/>"}),
        "Excel 4.0 宏表",
        LIMITS,
    ),
    (
        "a workbook whose content type is macro-enabled",
        lambda b, d: S.rezip(
            b,
            d / "台账.xlsx",
            replace={
                "[Content_Types].xml": S.part(b, "[Content_Types].xml").replace(
                    b"sheet.main+xml", b"sheet.macroEnabled.main+xml"
                )
            },
        ),
        "启用宏的格式（macroEnabled）",
        LIMITS,
    ),
    (
        "XML with a DOCTYPE declaration (billion laughs)",
        lambda b, d: S.rezip(
            b,
            d / "台账.xlsx",
            replace={
                "xl/styles.xml": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><styleSheet>&lol2;</styleSheet>'
            },
        ),
        "部件 xl/styles.xml 含有 DOCTYPE 或 ENTITY 声明",
        LIMITS,
    ),
    (
        "XML with an ENTITY declaration deep inside a sheet",
        lambda b, d: S.rezip(
            b,
            d / "台账.xlsx",
            replace={
                SHEET: S.part(b, SHEET).replace(b"<sheetData>", b'<!ENTITY x "y"><sheetData>')
            },
        ),
        f"部件 {SHEET} 含有 DOCTYPE 或 ENTITY 声明",
        LIMITS,
    ),
    (
        "XML parts not in UTF-8",
        lambda b, d: S.rezip(
            b,
            d / "台账.xlsx",
            replace={
                "xl/styles.xml": S.part(b, "xl/styles.xml")
                .decode()
                .replace('encoding="UTF-8"', 'encoding="UTF-16"')
                .encode("utf-16")
            },
        ),
        "不是 UTF-8 编码的 XML",
        LIMITS,
    ),
    (
        "cells far apart (a sparse sheet that would allocate gigabytes)",
        lambda b, d: S.rezip(
            b,
            d / "台账.xlsx",
            replace={SHEET: BOMB_SHEET % b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'},
        ),
        "有第 1048576 行的单元格，超过上限 150000 行",
        LIMITS,
    ),
    (
        "a far column written without cell references",
        lambda b, d: S.rezip(
            b,
            d / "台账.xlsx",
            replace={SHEET: BOMB_SHEET % (b"<row>" + b"<c><v>1</v></c>" * 70 + b"</row>")},
        ),
        "有第 65 列（BM 列）的单元格，超过上限 64 列",
        LIMITS,
    ),
    (
        "a PNG image named .xlsx",
        lambda b, d: _write(d / "台账.xlsx", b"\x89PNG\r\n\x1a\n" + b"\0" * 200),
        "文件内容是PNG 图片，不是 Excel 工作簿（.xlsx）",
        LIMITS,
    ),
    (
        "a zip that is not a workbook",
        lambda b, d: _zip(d / "台账.xlsx", {"readme.txt": "说明".encode()}),
        "这是一个普通压缩包，不是 Excel 工作簿（.xlsx）",
        LIMITS,
    ),
    (
        "a Word document named .xlsx",
        lambda b, d: _zip(
            d / "台账.xlsx",
            {
                "[Content_Types].xml": b"<Types/>",
                "_rels/.rels": b"<Relationships/>",
                "word/document.xml": b"<w/>",
            },
        ),
        "这是 Word 文档，不是 Excel 工作簿（.xlsx）",
        LIMITS,
    ),
    (
        "an old .xls named .xlsx",
        lambda b, d: _write(d / "台账.xlsx", _ole()),
        "文件实际是旧版 Excel 97-2003（.xls）",
        LIMITS,
    ),
    (
        "a password-protected workbook",
        lambda b, d: _write(d / "台账.xlsx", _ole("EncryptedPackage".encode("utf-16-le"))),
        "工作簿设有打开密码（已加密）",
        LIMITS,
    ),
    (
        "a web page named .xlsx",
        lambda b, d: _write(
            d / "台账.xlsx", "<html><table><tr><td>台账</td></tr></table></html>".encode()
        ),
        "文件内容是网页或 XML 文本",
        LIMITS,
    ),
    (
        "a truncated workbook",
        lambda b, d: _write(d / "台账.xlsx", b.read_bytes()[:2000]),
        "文件已损坏",
        LIMITS,
    ),
    (
        "an .xlsx named .xls",
        lambda b, d: _copy(b, d / "台账.xls"),
        "文件实际是 .xlsx 工作簿，扩展名却是 .xls；请把扩展名改为 .xlsx",
        LIMITS,
    ),
    (
        "a file type that is no ledger",
        lambda b, d: _copy(b, d / "台账.txt"),
        "不支持的文件类型 .txt",
        LIMITS,
    ),
    (
        "an empty file",
        lambda b, d: _write(d / "台账.csv", b""),
        "文件是空的",
        LIMITS,
    ),
    (
        "a workbook named .csv",
        lambda b, d: _copy(b, d / "台账.csv"),
        "文件内容是压缩包（可能是 Excel 工作簿），扩展名却是 .csv",
        LIMITS,
    ),
    (
        "a CSV in UTF-16",
        lambda b, d: _write(d / "台账.csv", "序号,具体问题\n1,问题\n".encode("utf-16")),
        "CSV 文件是 UTF-16 编码",
        LIMITS,
    ),
    (
        "a CSV mixing UTF-8 and GBK",
        lambda b, d: _write(d / "台账.csv", _mixed_csv()),
        "文件混用了 UTF-8 和其他编码（第 3 行附近）",
        LIMITS,
    ),
    (
        "a CSV in no known encoding",
        lambda b, d: _write(d / "台账.csv", b"no,title\n1,\x81\x20\xff\xfe\x80\n"),
        "无法识别文件编码",
        LIMITS,
    ),
    (
        "a CSV longer than the row limit",
        lambda b, d: S.gbk_csv(d / "台账.csv"),
        "CSV 超过 5 行的上限",
        LedgerLimits(max_rows=5),
    ),
    (
        "a file that takes longer than the time limit",
        lambda b, d: _copy(b, d / "台账.xlsx"),
        "读取超时",
        LedgerLimits(max_seconds=0),
    ),
]


def _write(target: Path, data: bytes) -> Path:
    target.write_bytes(data)
    return target


@pytest.mark.parametrize(("case", "build", "message", "limits"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_or_mislabelled_file_is_refused_with_its_message_and_the_store_is_unchanged(
    tmp_path: Path,
    base: Path,
    store: Store,
    case: str,
    build: Builder,
    message: str,
    limits: LedgerLimits,
) -> None:
    path = build(base, tmp_path)
    result = read_ledger(path, feedback_date=S.ZJ_FEEDBACK, limits=limits)
    assert result.refused and not result.ok, case
    (problem,) = result.problems
    assert problem.is_error and message in problem.reason, problem.reason
    assert problem.reason.startswith("文件被拒绝：")
    before = S.state(store)
    outcome = import_ledgers(
        store, [path], round_name=S.ZJ_ROUND, unit_name=S.ZJ_UNIT, limits=limits
    )
    assert not outcome.ok and outcome.version is None
    assert any(message in p.reason for p in outcome.errors)
    assert S.state(store) == before


def test_a_good_file_next_to_a_refused_one_is_not_imported_either(
    tmp_path: Path, base: Path, store: Store
) -> None:
    good = S.one_row_xlsx(tmp_path / "卫健委.xlsx")
    bad = _write(tmp_path / "坏.xlsx", b"\x89PNG\r\n\x1a\n")
    before = S.state(store)
    outcome = import_ledgers(
        store,
        [good, bad],
        round_name=S.ONE_ROW.round_name,
        unit_name=S.ONE_ROW.unit_name,
        feedback_date=S.ONE_ROW.feedback,
    )
    assert not outcome.ok
    assert [r.ok for r in outcome.results] == [True, False]
    assert S.state(store) == before


def test_the_checks_let_every_sample_ledger_through(tmp_path: Path) -> None:
    for kind in S.SAMPLES:
        sample, path = S.build(kind, tmp_path)
        assert not read_ledger(path, feedback_date=sample.feedback).refused


def test_a_formatted_empty_cell_far_away_is_not_taken_for_a_bomb(
    tmp_path: Path, base: Path
) -> None:
    sheet = S.part(base, SHEET).replace(
        b"</sheetData>", b'<row r="400000"><c r="ZZ400000" s="1"/></row></sheetData>'
    )
    path = S.rezip(base, tmp_path / "台账.xlsx", replace={SHEET: sheet})
    result = read_ledger(path, feedback_date=S.ZJ_FEEDBACK)
    assert not result.refused and result.ok


def test_zip_members_are_decompressed_against_their_declared_size(
    tmp_path: Path, base: Path
) -> None:
    # A member whose header understates its size fails its check instead of inflating freely.
    buffer = io.BytesIO(base.read_bytes())
    with zipfile.ZipFile(buffer) as archive:
        names = archive.namelist()
    raw = bytearray(base.read_bytes())
    info_offset = raw.find(b"PK\x01\x02")  # central directory: shrink the first size field
    raw[info_offset + 24 : info_offset + 28] = (5).to_bytes(4, "little")
    path = _write(tmp_path / "台账.xlsx", bytes(raw))
    result = read_ledger(path)
    assert result.refused and names
    assert "文件已损坏" in result.problems[0].reason
