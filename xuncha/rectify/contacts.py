"""The directory of recipients (通讯录) of the 预警提醒 and 督办函 (DOMAIN.md §8): who is each
unit's 主要负责人, 责任领导, 责任人, 联络员, and who in the inspection office (巡察办) is told of
every 督办函, with their e-mail and their account in this system.

Public API
----------
``import_contacts(store, path, *, user, file_name=None, source=None) -> ContactsImport``
    Read an .xlsx/.xls/.csv with the columns 单位, 身份, 姓名, 电子邮箱, 系统账号; check every
    row (ContactsRefused lists each problem with its row, column, value and reason, and
    nothing is written); replace the ``contacts`` table in one ``Store.write`` (an
    ``import_batches`` row of kind 'contacts'); audited (``contacts_import``).
``list_contacts(reader) -> pl.DataFrame``
    The directory as held (queries/contacts_list.sql).
``contacts_template_xlsx(unit_names=()) -> bytes``
    The file to fill in: the header, a 身份 drop-down, the units of the store and a 说明 sheet;
    every cell written as text (never a formula).

A unit is named by its full or short name (as the store spells it, full-width letters and
spaces ignored); an empty 单位 or “巡察办” is the inspection office, whose people have the
身份 巡察办. One row is one person; a name is kept without spaces. An e-mail must look like
one; an account is kept in its stored form (lower case), and one account belongs to one person.
The demo store (which opens without a login) takes no directory: real people's addresses go to
a real store only.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from xuncha import audit, export
from xuncha.auth.access import AuthError
from xuncha.auth.users import UserStore, canonical_name
from xuncha.ledger.model import LedgerLimits
from xuncha.ledger.safety import RefusedFile, check_file
from xuncha.ledger.sources import read_source
from xuncha.store.reader import Reader, load_queries
from xuncha.store.schema import CONTACT_POSITIONS
from xuncha.store.store import Store, StoreError

OFFICE = "巡察办"
COLUMNS = ("单位", "身份", "姓名", "电子邮箱", "系统账号")
REQUIRED = ("单位", "身份", "姓名")
# Header words accepted for each column (compared without spaces, full-width as half-width).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "单位": ("单位", "单位名称", "所属单位", "被巡察单位"),
    "身份": ("身份", "身份类别", "人员类别"),
    "姓名": ("姓名", "名字"),
    "电子邮箱": ("电子邮箱", "邮箱", "电子邮件", "邮件地址", "email", "e-mail"),
    "系统账号": ("系统账号", "账号", "用户名", "系统用户名", "登录账号"),
}
HEADER_ROWS = 20  # the header is looked for in a sheet's first rows
MAX_ROWS = 5000
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_SEVERAL = re.compile(r"[、,，/／;；]")


class ContactsError(Exception):
    """A directory that cannot be imported (message in Chinese)."""


@dataclass(frozen=True)
class ContactProblem:
    row: int | None  # row of the sheet, 1-based (None: the whole file)
    column: str | None
    value: str
    reason: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"第 {self.row} 行")
        if self.column:
            where.append(f"“{self.column}”")
        shown = f"（{self.value}）" if self.value else ""
        return f"{''.join(where)}{shown}：{self.reason}" if where else self.reason


class ContactsRefused(ContactsError):
    """Every problem found; nothing was written."""

    def __init__(self, problems: Sequence[ContactProblem]) -> None:
        self.problems = tuple(problems)
        head = "；".join(str(p) for p in self.problems[:3])
        more = f"等 {len(self.problems)} 处" if len(self.problems) > 3 else ""
        super().__init__(f"通讯录有问题，未导入（未作任何更改）：{head}{more}")


@dataclass(frozen=True)
class ContactRow:
    row: int
    unit: str  # as written ("" for the office)
    position: str
    name: str
    email: str | None
    account: str | None


@dataclass(frozen=True)
class ContactsImport:
    version: int
    batch_id: int
    file_name: str
    sha256: str
    contacts: int
    by_position: Mapping[str, int]
    units: int
    warnings: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        counts = "、".join(f"{p} {n} 人" for p, n in self.by_position.items() if n)
        return (
            f"已导入通讯录 {self.file_name}：{self.contacts} 人（{counts}），涉及 {self.units} 个单位"
            f"，原通讯录已整体替换（数据版本 {self.version}，批次 #{self.batch_id}）"
        )


# -- reading the file --------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).strip()


def _header_key(value: Any) -> str:
    return "".join(_text(value).split()).lower()


def _find_header(rows: list[list[Any]]) -> tuple[int, dict[str, int]] | None:
    for index, row in enumerate(rows[:HEADER_ROWS]):
        found: dict[str, int] = {}
        for col, cell in enumerate(row):
            key = _header_key(cell)
            for column, words in SYNONYMS.items():
                if key in words and column not in found:
                    found[column] = col
        if "姓名" in found and "身份" in found:
            return index, found
    return None


def read_rows(path: Path, file_name: str | None = None) -> tuple[list[ContactRow], str, str]:
    """The rows of a directory file (not yet checked against the store), its name and
    SHA-256. ContactsRefused for a file that is not a readable directory."""
    name = file_name or path.name
    limits = LedgerLimits.from_env()
    started = time.monotonic()
    try:
        checked = check_file(path, name, limits, started)
        source = read_source(checked, limits, started)
    except RefusedFile as exc:
        raise ContactsRefused([ContactProblem(None, None, "", str(exc))]) from None
    for sheet in source.sheets:
        found = _find_header(sheet.rows)
        if found is None:
            continue
        header, columns = found
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise ContactsRefused(
                [
                    ContactProblem(
                        header + 1,
                        None,
                        "",
                        f"缺少“{'”“'.join(missing)}”列（应有：{'、'.join(COLUMNS)}）",
                    )
                ]
            )
        out: list[ContactRow] = []
        for index in range(header + 1, len(sheet.rows)):
            cells = sheet.rows[index]
            values = {
                c: _text(cells[columns[c]]) if c in columns and columns[c] < len(cells) else ""
                for c in COLUMNS
            }
            if not any(values.values()):
                continue
            out.append(
                ContactRow(
                    row=index + 1,
                    unit=values["单位"],
                    position=values["身份"],
                    name=values["姓名"],
                    email=values["电子邮箱"] or None,
                    account=values["系统账号"] or None,
                )
            )
        if len(out) > MAX_ROWS:
            raise ContactsRefused(
                [ContactProblem(None, None, "", f"通讯录超过 {MAX_ROWS} 人的上限，请核对文件")]
            )
        if not out:
            raise ContactsRefused([ContactProblem(None, None, "", "通讯录中没有任何联系人")])
        return out, checked.name, checked.sha256
    raise ContactsRefused(
        [
            ContactProblem(
                None,
                None,
                "",
                f"找不到表头：通讯录应有“{'、'.join(COLUMNS)}”列（可用 xuncha contacts template 生成模板）",
            )
        ]
    )


# -- checking ----------------------------------------------------------------------------------


def _unit_key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


@dataclass(frozen=True)
class _Checked:
    unit_id: int | None
    position: str
    name: str
    email: str | None
    account: str | None


def check_rows(
    rows: Sequence[ContactRow], units: Sequence[tuple[int, str, str]]
) -> tuple[list[_Checked], list[ContactProblem]]:
    """Each row against the store's units (unit_id, name, short_name) and the others."""
    by_name: dict[str, int] = {_unit_key(name): uid for uid, name, _ in units}
    shorts: dict[str, set[int]] = {}
    for uid, _, short in units:
        if short:
            shorts.setdefault(_unit_key(short), set()).add(uid)
    problems: list[ContactProblem] = []
    out: list[_Checked] = []
    seen: dict[tuple[int | None, str, str], int] = {}
    emails: dict[tuple[int | None, str], tuple[str | None, int]] = {}
    accounts: dict[str, tuple[int | None, str, int]] = {}
    positions = "、".join(CONTACT_POSITIONS)
    for r in rows:
        bad = len(problems)
        unit_id: int | None = None
        key = _unit_key(r.unit)
        if key and key != OFFICE:
            if key in by_name:
                unit_id = by_name[key]
            elif len(shorts.get(key, ())) == 1:
                unit_id = next(iter(shorts[key]))
            elif len(shorts.get(key, ())) > 1:
                problems.append(ContactProblem(r.row, "单位", r.unit, "单位简称不唯一，请写全称"))
            else:
                problems.append(
                    ContactProblem(
                        r.row, "单位", r.unit, "数据仓中没有这个单位（请写单位全称或简称）"
                    )
                )
        position = "".join(r.position.split())
        if position not in CONTACT_POSITIONS:
            problems.append(
                ContactProblem(r.row, "身份", r.position, f"无法识别的身份（可用：{positions}）")
            )
        elif key in ("", OFFICE) and position != OFFICE:
            problems.append(
                ContactProblem(
                    r.row, "身份", r.position, "单位为空或为巡察办时，身份只能是“巡察办”"
                )
            )
        elif key not in ("", OFFICE) and position == OFFICE:
            problems.append(
                ContactProblem(r.row, "身份", r.position, "身份为巡察办的，单位应留空或填“巡察办”")
            )
        name = "".join(r.name.split())
        if not name:
            problems.append(ContactProblem(r.row, "姓名", r.name, "姓名不能为空"))
        elif _SEVERAL.search(name):
            problems.append(ContactProblem(r.row, "姓名", r.name, "一行只填一人，多人请分行填写"))
        elif len(name) > 30:
            problems.append(ContactProblem(r.row, "姓名", r.name, "姓名超过 30 个字"))
        email = r.email
        if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
            problems.append(
                ContactProblem(
                    r.row, "电子邮箱", email, "不是有效的电子邮箱地址（如 name@example.cn）"
                )
            )
        account = None
        if r.account is not None:
            try:
                account = canonical_name(r.account)
            except AuthError as exc:
                problems.append(ContactProblem(r.row, "系统账号", r.account, str(exc)))
        if len(problems) > bad:
            continue
        unique = (unit_id, position, name)
        if unique in seen:
            problems.append(
                ContactProblem(
                    r.row, "姓名", r.name, f"与第 {seen[unique]} 行重复（同一单位、身份、姓名）"
                )
            )
            continue
        seen[unique] = r.row
        person = (unit_id, name)
        if person in emails and email is not None and emails[person][0] not in (None, email):
            earlier_email, earlier = emails[person]
            problems.append(
                ContactProblem(
                    r.row,
                    "电子邮箱",
                    email,
                    f"同一单位同一姓名在第 {earlier} 行的邮箱是 {earlier_email}，两处应一致",
                )
            )
            continue
        if email is not None or person not in emails:
            emails[person] = (email, r.row)
        if account is not None:
            holder = accounts.get(account)
            if holder is not None and holder[:2] != (unit_id, name):
                problems.append(
                    ContactProblem(
                        r.row,
                        "系统账号",
                        r.account or "",
                        f"该账号在第 {holder[2]} 行已属于 {holder[1]}，一个账号只能对应一人",
                    )
                )
                continue
            accounts[account] = (unit_id, name, r.row)
        out.append(_Checked(unit_id, position, name, email, account))
    return out, problems


# -- writing -----------------------------------------------------------------------------------


def import_contacts(
    store: Store,
    path: str | os.PathLike[str],
    *,
    user: str,
    file_name: str | None = None,
    source: str | None = None,
) -> ContactsImport:
    """Replace the directory with the file's (see the module docstring)."""
    rows, name, digest = read_rows(Path(path), file_name)
    store.version()  # a missing store is the usual StoreError
    audit.check_before_write(store.root, "导入通讯录")

    def apply(con: duckdb.DuckDBPyConnection) -> tuple[int, list[_Checked]]:
        demo = con.execute(load_queries()["store_is_demo"].sql).fetchone()
        if demo and demo[0]:
            # The demo opens without a login: real people's addresses never go there.
            raise ContactsRefused(
                [
                    ContactProblem(
                        None,
                        None,
                        "",
                        f"“{store.root}”是演示数据仓（虚构的江城市），不接受真实通讯录；"
                        f"请导入正式数据仓：xuncha contacts import 通讯录.xlsx --db "
                        f"{store.root.parent / 'store'}",
                    )
                ]
            )
        units = [
            (int(u), str(n), str(s or ""))
            for u, n, s in con.execute("SELECT unit_id, name, short_name FROM units").fetchall()
        ]
        checked, problems = check_rows(rows, units)
        if problems:
            raise ContactsRefused(problems)
        top = con.execute("SELECT coalesce(max(batch_id), 0) FROM import_batches").fetchone()
        batch_id = int(top[0] if top else 0) + 1
        con.execute(
            "INSERT INTO import_batches (batch_id, kind, file_name, file_sha256, user_name,"
            " created_at, rows_read, status, note) VALUES (?, 'contacts', ?, ?, ?, ?, ?,"
            " 'applied', ?)",
            [
                batch_id,
                name,
                digest,
                user,
                dt.datetime.now().replace(microsecond=0),
                len(rows),
                f"通讯录 {len(checked)} 人，替换原通讯录",
            ],
        )
        con.execute("DELETE FROM contacts")
        con.executemany(
            "INSERT INTO contacts (contact_id, unit_id, position, name, email, account, batch_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                [i, c.unit_id, c.position, c.name, c.email, c.account, batch_id]
                for i, c in enumerate(checked, start=1)
            ],
        )
        return batch_id, checked

    try:
        (batch_id, checked), version = store.write(apply)
    except duckdb.Error as exc:
        raise StoreError(f"写入通讯录失败，未作任何更改：{exc}") from exc
    by_position = {p: sum(1 for c in checked if c.position == p) for p in CONTACT_POSITIONS}
    outcome = ContactsImport(
        version=version,
        batch_id=batch_id,
        file_name=name,
        sha256=digest,
        contacts=len(checked),
        by_position=by_position,
        units=len({c.unit_id for c in checked if c.unit_id is not None}),
        warnings=_unknown_accounts(store, checked),
    )
    try:
        audit.record(
            store.root,
            user=user,
            action="contacts_import",
            source=source,
            file=name,
            sha256=digest,
            batch_id=batch_id,
            data_version=version,
            contacts=outcome.contacts,
            by_position=by_position,
            units=outcome.units,
        )
    except audit.AuditError as exc:
        raise audit.AuditError(
            f"通讯录已导入（数据版本 {version}），但审计记录写入失败：{exc}；"
            "请管理员立即核查（xuncha audit verify）"
        ) from exc
    return outcome


def _unknown_accounts(store: Store, checked: Sequence[_Checked]) -> tuple[str, ...]:
    """提示 for accounts not (yet) in the users database; none when it has no users."""
    users = UserStore(store.root)
    if not users.has_users():
        return ()
    known = {u.name for u in users.list_users()}
    missing = sorted({c.account for c in checked if c.account and c.account not in known})
    return tuple(
        f"系统账号 {a} 尚未在用户库中创建，创建后即可在系统中看到本人的提醒" for a in missing
    )


def list_contacts(reader: Reader) -> pl.DataFrame:
    return reader.query("contacts_list")


# -- the template ------------------------------------------------------------------------------

_NOTES = (
    ("用途", "预警提醒、督办函的收件人通讯录；导入后整体替换原通讯录"),
    ("单位", "被巡察单位的全称或简称（须是数据仓中已有的单位）；巡察办人员此列留空或填“巡察办”"),
    ("身份", f"{'、'.join(CONTACT_POSITIONS)} 之一"),
    ("姓名", "一行只填一人；责任领导、责任人的姓名应与整改台账中的写法一致，以便匹配邮箱和账号"),
    ("电子邮箱", "可空；填写时须是有效的邮箱地址"),
    ("系统账号", "可空；本系统的登录账号，填写后本人登录即可看到发给自己的提醒"),
    (
        "预警规则",
        "绿色（距时限 20 天内）发责任人；黄色（10 天内）另发责任领导；"
        "红色（逾期）另发主要负责人和巡察办",
    ),
)


def contacts_template_xlsx(unit_names: Sequence[str] = ()) -> bytes:
    """The directory template (see the module docstring)."""
    buffer = io.BytesIO()
    book = export.safe_workbook(buffer)
    header = book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    text = book.add_format({"num_format": "@"})
    sheet = book.add_worksheet("通讯录")
    widths = (28, 14, 12, 30, 16)
    for col, (name, width) in enumerate(zip(COLUMNS, widths, strict=True)):
        sheet.write_string(0, col, name, header)
        sheet.set_column(col, col, width, text)
    sheet.freeze_panes(1, 0)
    sheet.data_validation(
        1,
        1,
        MAX_ROWS,
        1,
        {
            "validate": "list",
            "source": list(CONTACT_POSITIONS),
            "error_message": "请从列表中选择身份",
        },
    )
    units = book.add_worksheet("单位列表")
    units.write_string(0, 0, "单位全称", header)
    for row, name in enumerate(unit_names, start=1):
        units.write_string(row, 0, str(name))
    units.set_column(0, 0, 40)
    notes = book.add_worksheet("说明")
    notes.write_string(0, 0, "项目", header)
    notes.write_string(0, 1, "说明", header)
    for row, (key, value) in enumerate(_NOTES, start=1):
        notes.write_string(row, 0, key)
        notes.write_string(row, 1, value)
    notes.set_column(0, 0, 14)
    notes.set_column(1, 1, 90)
    book.close()
    return buffer.getvalue()
