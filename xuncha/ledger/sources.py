"""Checked bytes → sheets of cell values: .xlsx and .xls through calamine (values, merged
ranges, hidden sheets; date-formatted cells come back as dates from both), .csv decoded
strictly (UTF-8 with or without BOM, else GB18030; a mix or anything else is refused, never
decoded lossily)."""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass, field
from typing import Any

import python_calamine

from xuncha.ledger.model import LedgerLimits
from xuncha.ledger.safety import CheckedFile, RefusedFile
from xuncha.ledger.text import Cell

_UTF8_BOM = b"\xef\xbb\xbf"
_NON_ASCII_RUN = re.compile(rb"[\x80-\xff]+")
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]")


@dataclass
class Sheet:
    name: str
    rows: list[list[Cell]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    from_csv: bool = False
    # Merged cells were lost in this source: a blank cell on a continuation row of a problem
    # takes the value of the row above. True for CSV, and for an .xls sheet when calamine
    # gives no merge information (0.9.1 does give it for BIFF8, from MERGEDCELLS records).
    fill_down: bool = False
    # A sheet joined from a 问题清单 and a 任务清单 (xuncha.ledger.join): where its cells came
    # from, and the measure rows whose 序号 names no problem (task sheet row, 序号).
    origin: Any = None
    orphans: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Source:
    sheets: list[Sheet]
    encoding: str | None = None
    hidden_sheets: list[str] = field(default_factory=list)


def read_source(checked: CheckedFile, limits: LedgerLimits, started: float) -> Source:
    if checked.kind in ("xlsx", "xls"):
        return _read_workbook(checked, limits, started)
    return _read_csv(checked, limits, started)


def _is_panic(exc: BaseException) -> bool:
    # A panic inside the Rust reader reaches Python as pyo3's PanicException, a BaseException
    # (not an Exception) that the package does not export: it means a malformed file.
    return type(exc).__name__ == "PanicException"


def _read_workbook(checked: CheckedFile, limits: LedgerLimits, started: float) -> Source:
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(checked.data))
    except python_calamine.PasswordError:
        raise RefusedFile("工作簿设有密码；请取消密码后再导入") from None
    except Exception as exc:  # calamine raises several types for damaged parts
        raise RefusedFile(f"工作簿无法读取（文件可能已损坏）：{_short(exc)}") from None
    except BaseException as exc:
        if _is_panic(exc):
            raise RefusedFile(f"工作簿无法读取（文件结构异常）：{_short(exc)}") from None
        raise
    sheets: list[Sheet] = []
    hidden: list[str] = []
    try:
        for meta in book.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            if meta.visible != python_calamine.SheetVisibleEnum.Visible:
                hidden.append(meta.name)
                continue
            if time.monotonic() - started > limits.max_seconds:
                raise RefusedFile(f"读取超时（超过 {limits.max_seconds:g} 秒）")
            sheet = book.get_sheet_by_name(meta.name)
            end = sheet.end
            if end is not None and (
                end[0] + 1 > limits.max_rows or end[1] + 1 > limits.max_columns
            ):
                raise RefusedFile(
                    f"工作表“{meta.name}”有 {end[0] + 1} 行、{end[1] + 1} 列，超过上限"
                    f"（{limits.max_rows} 行、{limits.max_columns} 列）"
                )
            rows: list[list[Cell]] = sheet.to_python(skip_empty_area=False)  # type: ignore[assignment]
            ranges = sheet.merged_cell_ranges
            merges = [(a[0], a[1], b[0], b[1]) for a, b in (ranges or [])]
            fill_down = checked.kind == "xls" and ranges is None
            sheets.append(Sheet(meta.name, rows, merges, fill_down=fill_down))
    except RefusedFile:
        raise
    except Exception as exc:
        raise RefusedFile(f"工作表无法读取（文件可能已损坏）：{_short(exc)}") from None
    except BaseException as exc:
        if _is_panic(exc):
            raise RefusedFile(f"工作表无法读取（文件结构异常）：{_short(exc)}") from None
        raise
    finally:
        book.close()
    return Source(sheets, None, hidden)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def decode_csv(data: bytes) -> tuple[str, str]:
    """Strict decoding: UTF-8 (with or without BOM), else GB18030/GBK; a file mixing the two
    or in any other encoding is refused."""
    if data.startswith(_UTF8_BOM):
        try:
            text = data[len(_UTF8_BOM) :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RefusedFile(
                f"文件标明为 UTF-8（带 BOM），但第 {_line_of(data, exc.start)} 行附近不是有效的 UTF-8"
                "（可能混用了多种编码）；请统一另存为 UTF-8"
            ) from None
        _check_decoded(text, gb=False)
        return text, "UTF-8（带 BOM）"
    try:
        text = data.decode("utf-8")
        _check_decoded(text, gb=False)
        return text, "UTF-8"
    except UnicodeDecodeError as utf8_error:
        if _has_utf8_chinese(data):
            raise RefusedFile(
                f"文件混用了 UTF-8 和其他编码（第 {_line_of(data, utf8_error.start)} 行附近），"
                "无法可靠读取；请统一另存为 UTF-8 或 GBK"
            ) from None
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise RefusedFile(
            f"无法识别文件编码：既不是 UTF-8 也不是 GBK/GB18030（第 {_line_of(data, exc.start)} 行附近）；"
            "请另存为“CSV UTF-8”"
        ) from None
    _check_decoded(text, gb=True)
    return text, "GB18030/GBK"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _has_utf8_chinese(data: bytes) -> bool:
    """True when runs of non-ASCII bytes decode as UTF-8 Chinese in a file that as a whole is
    not UTF-8: the file mixes encodings (GBK text is almost never valid UTF-8 Chinese)."""
    found = 0
    for match in _NON_ASCII_RUN.finditer(data):
        run = match.group(0)
        if len(run) < 6:
            continue
        try:
            text = run.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if all("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text):
            found += 1
            if found >= 2:
                return True
    return False


def _check_decoded(text: str, *, gb: bool) -> None:
    bad = _BAD_CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise RefusedFile(f"第 {line} 行含有控制字符或无法识别的字符，文件可能不是纯文本 CSV")
    if gb:
        odd = _PRIVATE_USE.search(text)
        if odd:
            line = text.count("\n", 0, odd.start()) + 1
            raise RefusedFile(
                f"第 {line} 行含有 GBK 自定义区字符，文件编码可能不是 GBK；请另存为“CSV UTF-8”"
            )


def _delimiter(text: str) -> str:
    sample = [line for line in text[:65536].splitlines() if line.strip()][:30]
    commas = sum(line.count(",") for line in sample)
    tabs = sum(line.count("\t") for line in sample)
    return "\t" if tabs > commas else ","


def _read_csv(checked: CheckedFile, limits: LedgerLimits, started: float) -> Source:
    text, encoding = decode_csv(checked.data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    rows: list[list[Cell]] = []
    try:
        for record in reader:
            if len(rows) >= limits.max_rows:
                raise RefusedFile(f"CSV 超过 {limits.max_rows} 行的上限")
            if len(record) > limits.max_columns:
                if any(cell.strip() for cell in record[limits.max_columns :]):
                    raise RefusedFile(
                        f"第 {len(rows) + 1} 行有 {len(record)} 列，超过上限 {limits.max_columns} 列"
                    )
                record = record[: limits.max_columns]
            for cell in record:
                if len(cell) > limits.max_cell_chars:
                    raise RefusedFile(
                        f"第 {len(rows) + 1} 行有超过 {limits.max_cell_chars} 个字符的单元格"
                    )
            rows.append(list(record))
            if len(rows) % 2000 == 0 and time.monotonic() - started > limits.max_seconds:
                raise RefusedFile(f"读取超时（超过 {limits.max_seconds:g} 秒）")
    except csv.Error as exc:
        raise RefusedFile(f"CSV 格式错误（第 {len(rows) + 1} 行）：{exc}") from None
    width = max((len(r) for r in rows), default=0)
    for row in rows:
        if len(row) < width:
            row.extend([""] * (width - len(row)))
    name = checked.name.rsplit("/", 1)[-1]
    return Source([Sheet(name, rows, [], from_csv=True, fill_down=True)], encoding, [])
