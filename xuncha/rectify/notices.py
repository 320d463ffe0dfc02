"""The daily 绿/黄/红 notices (预警提醒 / 督办函, DOMAIN.md §8): which measures are due one,
who receives it, and the numbered documents that carry them.

Public API
----------
``compute_notices(source, on, *, calendar, lead) -> list[DueNotice]``
    The pure computation, on a Reader or on a write connection: every measure open on ``on``
    (status neither DONE nor LONG_TERM) with a dated current deadline gets its colour —
    红 when the deadline is before ``on``; else 黄 when at most ``lead.yellow`` days are left,
    绿 when at most ``lead.green`` — and is due a notice of that colour unless one of that
    colour or a graver one was issued for it at its current deadline (an extension's new
    deadline starts the colours again; a measure that goes straight to 红 gets only 红).
    Days left are calendar days (DOMAIN.md §5), or with ``lead.unit == "工作日"`` the working
    days after ``on`` up to and including the deadline (§9): a year the calendar lacks is
    ``workdays.UnknownYear``, never a guess. Overdue days are always calendar days.
``issue_notices(store, on, *, user, calendar=None, send=False) -> NoticeRun``
    The daily run: the notices due on ``on`` as one document per unit and kind (预警提醒 for
    绿/黄, 督办函 for 红), numbered per kind and year (巡察预警〔2026〕12号), written as .docx,
    archived under STORE/notices/<year>/ (sealed when the store has a key), stored in
    ``notices`` + ``notice_items`` in one ``Store.write`` (an ``import_batches`` row of kind
    'notices') and each audited (``notice_issue``). Running a date again issues nothing.
``notices_for(reader, access, on_or_since) -> pl.DataFrame``
    The notices a signed-in user should see.
``notice_docx_bytes(store, access, notice_id) -> (file_name, bytes)``
    One archived document, after the same scope check.
``load_notice_config(store_root) -> NoticeConfig``
    STORE/config/notices.toml (lead times, unit of days, number prefixes, issuer).
``seal_all(store, new_key, old_key=None) -> dict``
    Seal (or re-seal under a new key) every archived notice document, for ``xuncha key``.

Recipients per colour: 绿 → the measure's 责任人; 黄 → also its 责任领导; 红 → also the unit's
主要负责人 and the 巡察办, from the directory (``contacts``). A measure's people are looked up
there by unit and name for their e-mail and account; one not listed is still a recipient,
without an address. ``Recipient`` and ``OutgoingNotice`` are defined here: the mail module
(xuncha.rectify.mail) delivers OutgoingNotice values and imports them from this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from xuncha import audit
from xuncha.auth.access import Access, PermissionDenied
from xuncha.auth.scope import scope_ids
from xuncha.ledger.workdays import CalendarError, UnknownYear, WorkdayCalendar, load_calendar
from xuncha.rectify import notice_docx
from xuncha.store import crypto
from xuncha.store.reader import Reader, load_queries, open_reader, run_query
from xuncha.store.schema import NOTICE_COLOURS, NOTICE_KINDS
from xuncha.store.store import NOTICES, Store, StoreError

WARNING, SUPERVISION = NOTICE_KINDS  # 预警提醒, 督办函
GREEN, YELLOW, RED = NOTICE_COLOURS  # 绿, 黄, 红
SEVERITY = {GREEN: 1, YELLOW: 2, RED: 3}
CALENDAR_DAYS, WORKING_DAYS = "自然日", "工作日"
LEAD_UNITS = (CALENDAR_DAYS, WORKING_DAYS)

FOLDER = NOTICES  # STORE/notices/<year>/<doc number>.docx
CONFIG_FILE = Path("config") / "notices.toml"
SYSTEM_USER = "system"

# Positions as the documents name them, in the order they are listed.
HEAD, LEADER, PERSON, OFFICE = "主要负责人", "责任领导", "责任人", "巡察办"
_POSITION_ORDER = {HEAD: 0, LEADER: 1, PERSON: 2, OFFICE: 3}
# Separators between several people in one 责任人 / 责任领导 cell.
_NAME_SEPARATORS = re.compile(r"[、,，/／;；]+")
_BLANK_NAMES = frozenset({"", "/", "-", "—", "——", "无", "暂无"})


class NoticeError(Exception):
    """A notice run or read that cannot go on (message in Chinese)."""


class NoticeConfigError(NoticeError, ValueError):
    """STORE/config/notices.toml cannot be read or says something impossible."""


# -- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadTimes:
    """How far ahead of a deadline the colours start, and in which days they are counted."""

    unit: str = CALENDAR_DAYS
    green: int = 20
    yellow: int = 10


@dataclass(frozen=True)
class NoticeConfig:
    lead: LeadTimes = field(default_factory=LeadTimes)
    warning_prefix: str = "巡察预警"
    supervision_prefix: str = "巡察督办"
    issuer: str = "市委巡察办"
    path: str | None = None
    sha256: str | None = None

    def prefix(self, kind: str) -> str:
        return self.warning_prefix if kind == WARNING else self.supervision_prefix

    def describe(self) -> dict[str, Any]:
        """The configuration in force, for the audit trail."""
        return {
            "lead_unit": self.lead.unit,
            "green": self.lead.green,
            "yellow": self.lead.yellow,
            "warning_prefix": self.warning_prefix,
            "supervision_prefix": self.supervision_prefix,
            "issuer": self.issuer,
            "config_sha256": self.sha256,
        }


_CONFIG_KEYS = {
    "lead_unit": "时限计算方式（自然日或工作日）",
    "green": "绿色预警的提前天数",
    "yellow": "黄色预警的提前天数",
    "warning_prefix": "预警提醒的文号前缀",
    "supervision_prefix": "督办函的文号前缀",
    "issuer": "发文机关（落款）",
}


def notice_config_path(store_root: str | os.PathLike[str]) -> Path:
    return Path(store_root) / CONFIG_FILE


def load_notice_config(store_root: str | os.PathLike[str]) -> NoticeConfig:
    """The store's notices.toml, or the defaults (自然日, 20 and 10 days) when there is none."""
    path = notice_config_path(store_root)
    if not path.is_file():
        return NoticeConfig()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NoticeConfigError(f"无法读取预警配置文件 {path}（{exc.strerror}）") from None
    return parse_notice_config(raw, str(path))


def parse_notice_config(raw: bytes | str, path: str = "notices.toml") -> NoticeConfig:
    """A configuration from the file's content, every value checked (NoticeConfigError)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    where = f"预警配置文件 {path}"
    try:
        values = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise NoticeConfigError(f"{where} 不是 UTF-8 编码的文本") from None
    except tomllib.TOMLDecodeError as exc:
        raise NoticeConfigError(f"{where} 不是有效的 TOML（{exc}）") from None
    unknown = sorted(set(values) - set(_CONFIG_KEYS))
    if unknown:
        known = "、".join(f"{k}（{v}）" for k, v in _CONFIG_KEYS.items())
        raise NoticeConfigError(f"{where} 中有无法识别的项 {'、'.join(unknown)}（可用：{known}）")
    default = NoticeConfig()
    unit = values.get("lead_unit", default.lead.unit)
    if unit not in LEAD_UNITS:
        raise NoticeConfigError(f"{where}：lead_unit 应为“自然日”或“工作日”，收到：{unit!r}")
    green = _days(values, "green", default.lead.green, where)
    yellow = _days(values, "yellow", default.lead.yellow, where)
    if not yellow < green:
        raise NoticeConfigError(
            f"{where}：黄色预警的天数（yellow = {yellow}）应小于绿色预警的天数（green = {green}）"
        )
    texts = {
        key: _text(values, key, getattr(default, key), where)
        for key in ("warning_prefix", "supervision_prefix", "issuer")
    }
    if texts["warning_prefix"] == texts["supervision_prefix"]:
        raise NoticeConfigError(f"{where}：预警提醒和督办函的文号前缀不能相同")
    return NoticeConfig(
        lead=LeadTimes(unit=unit, green=green, yellow=yellow),
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        **texts,
    )


def _days(values: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 90:
        raise NoticeConfigError(f"{where}：{key} 应为 0 到 90 之间的整数天数，收到：{value!r}")
    return value


def _text(values: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = values.get(key, default)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 40:
        raise NoticeConfigError(f"{where}：{key} 应为不超过 40 个字的文字，收到：{value!r}")
    text = value.strip()
    if key != "issuer" and re.search(r"[〔〕\[\]()（）/\\\s]", text):
        raise NoticeConfigError(
            f"{where}：{key} 只写前缀文字（如“巡察督办”），不含括号、年份或空格"
        )
    return text


# -- recipients ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """One person a notice goes to: e-mail and account from the directory when listed there."""

    name: str
    position: str
    email: str | None
    account: str | None

    def label(self) -> str:
        return f"{self.name}（{self.position}）"


@dataclass(frozen=True)
class OutgoingNotice:
    """An issued document as the mail module delivers it."""

    doc_number: str
    kind: str
    unit_name: str
    issued_on: dt.date
    recipients: tuple[Recipient, ...]
    file_name: str
    docx: bytes = field(repr=False)


# The ends of the positions ledgers write instead of names (党组书记、局长; 办公室主任).
_POSITION = re.compile(
    r"(书记|局长|主任|部长|组长|科长|所长|院长|校长|经理|董事长|总经理|主席|委员|成员|处长|站长|"
    r"队长|行长|镇长|乡长|区长|县长|市长|秘书长|负责人|馆长|社长|厂长|会长|主任委员|党委|党组)$"
)


def split_names(text: str | None) -> list[str]:
    """The people named in one 责任人 / 责任领导 cell: separated by 、,，/ or spaces; blank
    markers (/, —, 无) name nobody. Two single characters split by spaces are one name written
    with spacing (“张  三”), not two people. A cell of positions only (“党组书记、局长”) is the
    posts of one person, as ledgers write them, not several people."""
    if text is None:
        return []
    cleaned = unicodedata.normalize("NFKC", str(text))
    parts = [p.strip() for p in _NAME_SEPARATORS.split(cleaned) if p.strip()]
    if len(parts) > 1 and all(_POSITION.search(p) for p in parts):
        return ["、".join(parts)]
    names: list[str] = []
    for part in _NAME_SEPARATORS.split(cleaned):
        tokens = part.split()
        merged: list[str] = []
        i = 0
        while i < len(tokens):
            if i + 1 < len(tokens) and len(tokens[i]) == 1 and len(tokens[i + 1]) == 1:
                merged.append(tokens[i] + tokens[i + 1])
                i += 2
            else:
                merged.append(tokens[i])
                i += 1
        names += [t for t in merged if t not in _BLANK_NAMES]
    return list(dict.fromkeys(names))


def name_key(name: str) -> str:
    """What two spellings of one person's name share: NFKC, no spaces."""
    return "".join(unicodedata.normalize("NFKC", str(name)).split())


@dataclass(frozen=True)
class _Directory:
    """The contacts table, arranged for lookups."""

    by_name: Mapping[tuple[int, str], tuple[str | None, str | None]]
    heads: Mapping[int, tuple[Recipient, ...]]
    office: tuple[Recipient, ...]

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> _Directory:
        by_name: dict[tuple[int, str], tuple[str | None, str | None]] = {}
        heads: dict[int, list[Recipient]] = {}
        office: list[Recipient] = []
        for row in frame.iter_rows(named=True):
            unit, name = row["unit_id"], str(row["name"])
            if unit is None:
                if row["position"] == OFFICE:
                    office.append(Recipient(name, OFFICE, row["email"], row["account"]))
                continue
            key = (int(unit), name_key(name))
            email, account = by_name.get(key, (None, None))
            by_name[key] = (email or row["email"], account or row["account"])
            if row["position"] == HEAD:
                heads.setdefault(int(unit), []).append(
                    Recipient(name, HEAD, row["email"], row["account"])
                )
        return cls(
            by_name=by_name,
            heads={u: tuple(people) for u, people in heads.items()},
            office=tuple(office),
        )

    def person(self, unit_id: int, name: str, position: str) -> Recipient:
        email, account = self.by_name.get((unit_id, name_key(name)), (None, None))
        return Recipient(name, position, email, account)


def recipients_for(
    colour: str,
    unit_id: int,
    person: str | None,
    lead_person: str | None,
    directory: _Directory,
) -> tuple[Recipient, ...]:
    """绿 → 责任人; 黄 → also 责任领导; 红 → also the unit's 主要负责人 and the 巡察办."""
    out = [directory.person(unit_id, n, PERSON) for n in split_names(person)]
    if SEVERITY[colour] >= SEVERITY[YELLOW]:
        out += [directory.person(unit_id, n, LEADER) for n in split_names(lead_person)]
    if colour == RED:
        out += list(directory.heads.get(unit_id, ())) + list(directory.office)
    return merge_recipients(out)


def merge_recipients(people: Iterable[Recipient]) -> tuple[Recipient, ...]:
    """One entry per person (a 责任领导 who is also 责任人 is listed once, with both
    positions), in the order 主要负责人, 责任领导, 责任人, 巡察办."""
    people = list(people)
    merged: dict[tuple[str, str | None, str | None, bool], list[str]] = {}
    for r in people:
        key = (name_key(r.name), r.email, r.account, r.position == OFFICE)
        positions = merged.setdefault(key, [])
        for position in r.position.split("、"):
            if position not in positions:
                positions.append(position)
    names = {name_key(r.name): r.name for r in people}
    out = [
        Recipient(
            names[key[0]],
            "、".join(sorted(positions, key=lambda p: _POSITION_ORDER.get(p, 9))),
            key[1],
            key[2],
        )
        for key, positions in merged.items()
    ]
    return tuple(
        sorted(
            out,
            key=lambda r: min(_POSITION_ORDER.get(p, 9) for p in r.position.split("、")),
        )
    )


# -- the computation -------------------------------------------------------------------------


@dataclass(frozen=True)
class DueNotice:
    """A measure due a notice of one colour on a date, with who receives it."""

    measure_id: int
    finding_id: int
    unit_id: int
    colour: str
    status: str
    deadline: dt.date  # current deadline on the date
    deadline_original: dt.date | None
    days_left: int  # in lead_unit; negative: calendar days overdue
    lead_unit: str
    recipients: tuple[Recipient, ...]

    @property
    def kind(self) -> str:
        return SUPERVISION if self.colour == RED else WARNING


Source = Reader | duckdb.DuckDBPyConnection


def _frame(source: Source, name: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """A named query on a Reader, or the same SQL on a connection (inside a write)."""
    if isinstance(source, Reader):
        return source.query(name, params)
    query = load_queries()[name]
    given = dict(params or {})
    return run_query(source, query.sql, {k: given[k] for k in query.params})


def _current(source: Source, on: dt.date) -> bool:
    settled = _frame(source, "store_settled_on")["settled_on"]
    value = settled[0] if len(settled) else None
    return value is not None and on >= value


class _WorkingDaysLeft:
    """Working days after `on` up to and including a deadline, counted once per run and only
    as far as a deadline needs and the lead time matters (beyond `cap` the exact number does
    not): a year the calendar lacks raises UnknownYear only when a deadline needs it."""

    def __init__(self, calendar: WorkdayCalendar, on: dt.date, cap: int) -> None:
        self.calendar, self.on, self.cap = calendar, on, cap
        self.counts = [0]  # counts[i]: working days in (on, on + i days]

    def __call__(self, deadline: dt.date) -> int | None:
        target = (deadline - self.on).days
        while len(self.counts) <= target:
            if self.counts[-1] > self.cap:
                return None
            day = self.on + dt.timedelta(days=len(self.counts))
            self.counts.append(self.counts[-1] + int(self.calendar.is_workday(day)))
        n = self.counts[target]
        return n if n <= self.cap else None


def colour_on(
    on: dt.date, deadline: dt.date, lead: LeadTimes, left: _WorkingDaysLeft | None = None
) -> tuple[str, int] | None:
    """(colour, days left) of an open measure's deadline on a date, None when no colour."""
    if deadline < on:
        return RED, (deadline - on).days
    if lead.unit == WORKING_DAYS:
        if left is None:
            raise NoticeError("按工作日计算预警须提供工作日日历")
        n = left(deadline)
        if n is None:
            return None
    else:
        n = (deadline - on).days
    if n <= lead.yellow:
        return YELLOW, n
    if n <= lead.green:
        return GREEN, n
    return None


def colours_on(
    store_root: str | os.PathLike[str], on: dt.date, deadlines: Sequence[dt.date | None]
) -> tuple[list[str], str]:
    """The colour (红/黄/绿 or '') of each open measure's deadline on `on`, with the lead times
    the notices are issued on (STORE/config/notices.toml, working days on the calendar of
    §9), and one Chinese line saying so: the unit's page shows the colours of the notices it
    receives. A deadline whose working days the calendar cannot count gets no colour, and
    the line says why (never a guess)."""
    lead = load_notice_config(store_root).lead
    left = None
    unit_word = "个工作日" if lead.unit == WORKING_DAYS else "天"
    caption = (
        f"预警：绿 距时限不超过 {lead.green} {unit_word}，黄 不超过 {lead.yellow} {unit_word}，"
        "红 已逾期。"
    )
    if lead.unit == WORKING_DAYS:
        left = _WorkingDaysLeft(load_calendar(store_root), on, lead.green)
    out: list[str] = []
    missing: set[int] = set()
    for deadline in deadlines:
        if deadline is None:
            out.append("")
            continue
        try:
            found = colour_on(on, deadline, lead, left)
        except UnknownYear as exc:
            missing.add(exc.year)
            out.append("")
            continue
        out.append(found[0] if found else "")
    if missing:
        years = "、".join(str(y) for y in sorted(missing))
        caption += f"工作日日历尚未收录 {years} 年，相关措施暂不显示预警颜色。"
    return out, caption


def compute_notices(
    source: Source,
    on: dt.date,
    *,
    calendar: WorkdayCalendar | None,
    lead: LeadTimes,
) -> list[DueNotice]:
    """The notices due on `on` (see the module docstring), by unit, kind and measure."""
    left = None
    if lead.unit == WORKING_DAYS:
        if calendar is None:
            raise NoticeError("按工作日计算预警须提供工作日日历")
        left = _WorkingDaysLeft(calendar, on, lead.green)
    candidates = _frame(source, "notice_candidates", {"as_of": on, "current": _current(source, on)})
    directory = _Directory.from_frame(_frame(source, "contacts_list"))
    due: list[DueNotice] = []
    for row in candidates.iter_rows(named=True):
        found = colour_on(on, row["deadline"], lead, left)
        if found is None:
            continue
        colour, days = found
        issued = max((SEVERITY[c] for c in row["issued_colours"] or ()), default=0)
        if issued >= SEVERITY[colour]:
            continue
        unit_id = int(row["unit_id"])
        due.append(
            DueNotice(
                measure_id=int(row["measure_id"]),
                finding_id=int(row["finding_id"]),
                unit_id=unit_id,
                colour=colour,
                status=str(row["status"]),
                deadline=row["deadline"],
                deadline_original=row["deadline_original"],
                days_left=days,
                lead_unit=CALENDAR_DAYS if colour == RED else lead.unit,
                recipients=recipients_for(
                    colour, unit_id, row["person"], row["lead_person"], directory
                ),
            )
        )
    due.sort(key=lambda d: (d.unit_id, NOTICE_KINDS.index(d.kind), d.measure_id))
    return due


# -- issuing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedNotice:
    notice_id: int
    kind: str
    year: int
    number: int
    doc_number: str
    issued_on: dt.date
    unit_id: int
    unit_name: str
    recipients: tuple[Recipient, ...]
    items: tuple[DueNotice, ...]
    file_sha256: str
    path: Path
    file_name: str
    docx: bytes = field(repr=False)

    def outgoing(self) -> OutgoingNotice:
        return OutgoingNotice(
            doc_number=self.doc_number,
            kind=self.kind,
            unit_name=self.unit_name,
            issued_on=self.issued_on,
            recipients=self.recipients,
            file_name=self.file_name,
            docx=self.docx,
        )


@dataclass(frozen=True)
class NoticeRun:
    """What one run issued (nothing when nothing was due), and what delivery did."""

    on: dt.date
    issued: tuple[IssuedNotice, ...]
    version: int | None
    config: NoticeConfig
    deliveries: tuple[Any, ...] = ()
    mail_note: str | None = None

    def count(self, kind: str) -> int:
        return sum(1 for n in self.issued if n.kind == kind)

    def summary(self) -> str:
        day = self.on.isoformat()
        if not self.issued:
            return f"{day}：没有需要发出的预警提醒或督办函"
        return (
            f"{day}：发出预警提醒 {self.count(WARNING)} 份、督办函 {self.count(SUPERVISION)} 份"
            f"（数据版本 {self.version}）"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "date": self.on.isoformat(),
            "version": self.version,
            "lead_unit": self.config.lead.unit,
            "issued": [
                {
                    "notice_id": n.notice_id,
                    "kind": n.kind,
                    "doc_number": n.doc_number,
                    "issued_on": n.issued_on.isoformat(),
                    "unit": n.unit_name,
                    "recipients": [r.__dict__ for r in n.recipients],
                    "measures": [
                        {
                            "measure_id": i.measure_id,
                            "colour": i.colour,
                            "deadline": i.deadline.isoformat(),
                            "days_left": i.days_left,
                        }
                        for i in n.items
                    ],
                    "file": str(n.path),
                    "file_sha256": n.file_sha256,
                }
                for n in self.issued
            ],
            "deliveries": [_plain(d) for d in self.deliveries],
            "mail_note": self.mail_note,
        }


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    return value


def doc_number(prefix: str, year: int, number: int) -> str:
    return f"{prefix}〔{year}〕{number}号"


def safe_name(text: str) -> str:
    """A document number or unit name as part of a file name (letters, digits, CJK, _)."""
    return re.sub(r"[^\w]+", "_", unicodedata.normalize("NFKC", text)).strip("_")


def archive_path(store_root: str | os.PathLike[str], year: int, number_text: str) -> Path:
    return Path(store_root) / FOLDER / str(year) / f"{safe_name(number_text)}.docx"


def download_name(number_text: str, unit_short_name: str) -> str:
    return f"{safe_name(number_text)}_{safe_name(unit_short_name)}.docx"


class _NothingDue(Exception):
    """Raised inside the write when nothing is due: nothing is published."""


def issue_notices(
    store: Store,
    on: dt.date,
    *,
    user: str = SYSTEM_USER,
    calendar: WorkdayCalendar | None = None,
    send: bool = False,
    today: dt.date | None = None,
) -> NoticeRun:
    """Issue the notices due on `on` (see the module docstring). NoticeConfigError or
    CalendarError (UnknownYear) before anything is written; StoreError / AuditError as any
    write. With `send`, the documents issued now are delivered when a mail server is
    configured (STORE/config/mail.toml); otherwise the run says nothing was sent. A date after
    `today` (default: the real today) or before the latest notice issued is refused."""
    config = load_notice_config(store.root)
    if config.lead.unit == WORKING_DAYS and calendar is None:
        calendar = load_calendar(store.root)
    store.version()  # a missing store is the usual StoreError, before anything else
    audit.check_before_write(store.root, "发出预警提醒和督办函")
    key = store.key()
    written: list[Path] = []

    def apply(con: duckdb.DuckDBPyConnection) -> list[IssuedNotice]:
        # Numbers follow dates: a day before the latest issued would be numbered after
        # documents dated later, and "the 督办函 was issued on day X" could not be shown.
        (latest,) = con.execute("SELECT max(issued_on) FROM notices").fetchall()
        if latest[0] is not None and on < latest[0]:
            raise NoticeError(
                f"发文日期 {on.isoformat()} 早于已发出文书的最晚日期 {latest[0].isoformat()}，"
                "不能补发更早日期的文书"
            )
        due = compute_notices(con, on, calendar=calendar, lead=config.lead)
        if on > (today or dt.date.today()):
            raise NoticeError(f"发文日期 {on.isoformat()} 晚于今天，不能预先发出预警提醒或督办函")
        if not due:
            raise _NothingDue
        return _issue(con, store, due, on, config, user, key, written)

    try:
        issued, version = store.write(apply)
    except _NothingDue:
        return NoticeRun(on=on, issued=(), version=None, config=config)
    except BaseException:
        for path in written:  # documents of a write that was never published
            path.unlink(missing_ok=True)
        raise
    run = NoticeRun(on=on, issued=tuple(issued), version=version, config=config)
    _record_issued(store, run, user, calendar)
    if send:
        run = _deliver(store, run, user)
    return run


def _issue(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    due: list[DueNotice],
    on: dt.date,
    config: NoticeConfig,
    user: str,
    key: bytes | None,
    written: list[Path],
) -> list[IssuedNotice]:
    findings = sorted({d.finding_id for d in due})
    details = {
        int(r["measure_id"]): r
        for r in _frame(con, "notice_measure_details", {"finding_ids": findings}).iter_rows(
            named=True
        )
    }
    groups: dict[tuple[int, str], list[DueNotice]] = {}
    for notice in due:
        groups.setdefault((notice.unit_id, notice.kind), []).append(notice)

    def top(sql: str, params: list[Any]) -> int:
        row = con.execute(sql, params).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    now = dt.datetime.now().replace(microsecond=0)
    batch_id = top("SELECT max(batch_id) FROM import_batches", []) + 1
    notice_id = top("SELECT max(notice_id) FROM notices", [])
    numbers = {
        kind: top("SELECT max(number) FROM notices WHERE kind = ? AND year = ?", [kind, on.year])
        for kind in NOTICE_KINDS
    }
    issued: list[IssuedNotice] = []
    for (unit_id, kind), items in sorted(
        groups.items(), key=lambda g: (NOTICE_KINDS.index(g[0][1]), g[0][0])
    ):
        notice_id += 1
        numbers[kind] += 1
        text = doc_number(config.prefix(kind), on.year, numbers[kind])
        first = details[items[0].measure_id]
        recipients = merge_recipients(r for item in items for r in item.recipients)
        document = notice_docx.NoticeDocument(
            kind=kind,
            doc_number=text,
            issued_on=on,
            unit_name=str(first["unit_name"]),
            unit_short_name=str(first["unit_short_name"]),
            recipients=tuple((r.name, r.position) for r in recipients if r.position != OFFICE),
            copied=tuple((r.name, r.position) for r in recipients if r.position == OFFICE),
            lines=tuple(_line(item, details[item.measure_id]) for item in items),
            issuer=config.issuer,
        )
        data = notice_docx.write_notice_docx(document)
        digest = hashlib.sha256(data).hexdigest()
        path = archive_path(store.root, on.year, text)
        written.append(path)
        _write_file(path, data, key)
        con.execute(
            "INSERT INTO notices (notice_id, kind, year, number, doc_number, issued_on, unit_id,"
            " recipients, file_sha256, issued_by, issued_at, batch_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                notice_id,
                kind,
                on.year,
                numbers[kind],
                text,
                on,
                unit_id,
                json.dumps([r.__dict__ for r in recipients], ensure_ascii=False),
                digest,
                user,
                now,
                batch_id,
            ],
        )
        con.executemany(
            "INSERT INTO notice_items VALUES (?, ?, ?, ?, ?)",
            [[notice_id, i.measure_id, i.colour, i.deadline, i.days_left] for i in items],
        )
        issued.append(
            IssuedNotice(
                notice_id=notice_id,
                kind=kind,
                year=on.year,
                number=numbers[kind],
                doc_number=text,
                issued_on=on,
                unit_id=unit_id,
                unit_name=str(first["unit_name"]),
                recipients=recipients,
                items=tuple(items),
                file_sha256=digest,
                path=path,
                file_name=download_name(text, str(first["unit_short_name"])),
                docx=data,
            )
        )
    counts = {k: sum(1 for n in issued if n.kind == k) for k in NOTICE_KINDS}
    con.execute(
        "INSERT INTO import_batches (batch_id, kind, user_name, created_at, as_of, rows_read,"
        " status, note) VALUES (?, 'notices', ?, ?, ?, ?, 'applied', ?)",
        [
            batch_id,
            user,
            now,
            on,
            len(due),
            f"预警提醒 {counts[WARNING]} 份、督办函 {counts[SUPERVISION]} 份，"
            f"措施 {len(due)} 条（时限按{config.lead.unit}计）",
        ],
    )
    return issued


def _line(item: DueNotice, detail: Mapping[str, Any]) -> notice_docx.NoticeLine:
    return notice_docx.NoticeLine(
        measure_id=item.measure_id,
        colour=item.colour,
        title=str(detail["title"] or ""),
        text=str(detail["text"] or ""),
        lead_person=detail["lead_person"],
        person=detail["person"],
        department=detail["department"],
        deadline_original=item.deadline_original,
        deadline=item.deadline,
        days_left=item.days_left,
        lead_unit=item.lead_unit,
    )


def _record_issued(
    store: Store, run: NoticeRun, user: str, calendar: WorkdayCalendar | None
) -> None:
    """One audit record per document issued (AuditError, saying they were issued, when the
    trail cannot be written)."""
    settings = run.config.describe()
    if calendar is not None:
        settings["calendar_fingerprint"] = calendar.fingerprint
    try:
        for notice in run.issued:
            audit.record(
                store.root,
                user=user,
                action="notice_issue",
                doc_number=notice.doc_number,
                kind=notice.kind,
                issued_on=notice.issued_on,
                notice_id=notice.notice_id,
                unit=notice.unit_name,
                unit_id=notice.unit_id,
                recipients=[r.label() for r in notice.recipients],
                measure_ids=[i.measure_id for i in notice.items],
                colours=[i.colour for i in notice.items],
                sha256=notice.file_sha256,
                data_version=run.version,
                settings=settings,
            )
    except audit.AuditError as exc:
        raise audit.AuditError(
            f"预警提醒和督办函已发出（数据版本 {run.version}），但审计记录写入失败：{exc}；"
            "请管理员立即核查（xuncha audit verify）"
        ) from exc


NO_MAIL_SERVER = (
    "未配置邮件服务器（STORE/config/mail.toml），未发送任何邮件；文书已存档，可在系统中查看"
)


def _deliver(store: Store, run: NoticeRun, user: str) -> NoticeRun:
    """Deliver what the run issued through the configured mail server (the mail module,
    imported only when asked for); each notice's deliveries are audited there."""
    if not run.issued:
        return run
    from xuncha.rectify import mail

    try:
        config = mail.smtp_config(store.root)
    except mail.MailConfigError as exc:
        return _with(
            run, mail_note=f"邮件服务器配置有误，未发送任何邮件：{exc}；文书已存档，可在系统中查看"
        )
    if config is None:
        return _with(run, mail_note=NO_MAIL_SERVER)
    # Each notice's deliveries are audited by the mail module (notice_mail), one record each.
    deliveries = tuple(
        mail.deliver(config, [n.outgoing() for n in run.issued], store_root=store.root, user=user)
    )
    sent = sum(1 for d in deliveries if d.ok)
    note = f"邮件发送 {sent} 封成功，{len(deliveries) - sent} 封失败"
    return _with(run, deliveries=deliveries, mail_note=note)


def _with(run: NoticeRun, **changes: Any) -> NoticeRun:
    return NoticeRun(**{**{k: getattr(run, k) for k in run.__dataclass_fields__}, **changes})


# -- the archive ---------------------------------------------------------------------------


def _write_file(path: Path, data: bytes, key: bytes | None) -> None:
    """Sealed under the store key when there is one, never half a file (crypto.write_archived)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    crypto.write_archived(path, data, key)


def _read_file(store: Store, path: Path) -> bytes:
    try:
        return crypto.read_archived(path, store.key, "文书存档", StoreError)
    except FileNotFoundError:
        raise StoreError(f"文书存档 {path.parent.name}/{path.name} 缺失") from None


def seal_all(store: Store, new_key: bytes, old_key: bytes | None = None) -> dict[str, int]:
    """Seal every archived notice document under `new_key` (plain ones in place, ones under
    `old_key` re-sealed, ones already under `new_key` left), for ``xuncha key seal/rotate``."""
    counts = {"notice_files_sealed": 0, "notice_files_rotated": 0, "notice_files_unchanged": 0}
    root = Path(store.root) / FOLDER
    if not root.is_dir():
        return counts
    for path in sorted(root.glob("*/*.docx")):
        try:
            counts[f"notice_files_{crypto.reseal(path, new_key, old_key)}"] += 1
        except crypto.CryptoError as exc:
            where = f"{path.parent.name}/{path.name}"
            raise StoreError(f"文书存档 {where} 未能加密：{exc}") from None
    return counts


# -- reading -------------------------------------------------------------------------------

SHOWN_COLUMNS = (
    "notice_id",
    "kind",
    "doc_number",
    "issued_on",
    "unit_id",
    "unit_name",
    "recipients_text",
    "measures",
    "colours",
)


def notices_for(reader: Reader, access: Access, on_or_since: dt.date | None) -> pl.DataFrame:
    """The notices `access` should see, issued on or after `on_or_since` (None: all), newest
    first: those whose recipients include the user's account; for a liaison every notice of
    its own unit (and never another unit's); for the inspection office every 督办函; the
    system (command line, jobs) all of them."""
    liaison_units: list[int] | None = None
    if access.role == "liaison":
        _, unit_ids = scope_ids(reader, access)
        liaison_units = list(unit_ids or ())  # none: an empty list, which lists nothing
    frame = reader.query("notice_list", {"unit_ids": liaison_units, "since": on_or_since})
    # A liaison's list is its own unit's already (the query's unit filter).
    if access.role != "system" and liaison_units is None:
        mine = [access.user in _accounts(text) for text in frame["recipients"].to_list()]
        keep = pl.Series(mine, dtype=pl.Boolean)
        if access.role == "office":
            keep = keep | (frame["kind"] == SUPERVISION)
        frame = frame.filter(keep)
        if access.scoped:
            # Being named in the directory widens no scope: a scoped account sees the
            # notices of the units its rounds and units cover, and no other.
            frame = frame.filter(pl.col("unit_id").is_in(sorted(_scope_units(reader, access))))
    return _shown(frame)


def _scope_units(reader: Reader, access: Access) -> set[int]:
    """The units of the inspections a scoped access may see."""
    round_ids, unit_ids = scope_ids(reader, access)
    rows = (
        reader.query(
            "scope_inspections",
            dict.fromkeys(
                ("round_from", "round_to", "kinds", "sectors", "peer_groups", "unit_ids")
            ),
        )
        .select("round_id", "unit_id")
        .rows()
    )
    return {
        int(u)
        for r, u in rows
        if (round_ids is None or r in round_ids) and (unit_ids is None or u in unit_ids)
    }


def _accounts(recipients_json: str) -> set[str]:
    try:
        people = json.loads(recipients_json)
    except ValueError:
        return set()
    return {str(p["account"]) for p in people if isinstance(p, dict) and p.get("account")}


def _labels(recipients_json: str) -> str:
    try:
        people = json.loads(recipients_json)
    except ValueError:
        return ""
    return "、".join(f"{p.get('name')}（{p.get('position')}）" for p in people)


def _shown(frame: pl.DataFrame) -> pl.DataFrame:
    texts = [_labels(t) for t in frame["recipients"].to_list()]
    out = frame.with_columns(pl.Series("recipients_text", texts, dtype=pl.String))
    extra = [c for c in ("unit_short_name", "year", "file_sha256") if c in out.columns]
    return out.select(*SHOWN_COLUMNS, *extra)


def notice_docx_bytes(store: Store, access: Access, notice_id: int) -> tuple[str, bytes]:
    """The archived .docx of one notice, as (download file name, bytes), when `access` may
    see it (notices_for); PermissionDenied otherwise, saying nothing of the notice."""
    reader = open_reader(store)
    try:
        visible = notices_for(reader, access, None).filter(pl.col("notice_id") == notice_id)
    finally:
        reader.close()
    if visible.is_empty():
        raise PermissionDenied("无权查看该文书")
    row = visible.row(0, named=True)
    path = archive_path(store.root, int(row["year"]), str(row["doc_number"]))
    data = _read_file(store, path)
    if row["file_sha256"] and hashlib.sha256(data).hexdigest() != row["file_sha256"]:
        raise StoreError(f"文书 {row['doc_number']} 的存档文件与发文记录不符（可能已被改动）")
    return download_name(str(row["doc_number"]), str(row["unit_short_name"])), data


__all__ = [
    "CALENDAR_DAYS",
    "LEAD_UNITS",
    "SUPERVISION",
    "WARNING",
    "WORKING_DAYS",
    "CalendarError",
    "DueNotice",
    "IssuedNotice",
    "LeadTimes",
    "NoticeConfig",
    "NoticeConfigError",
    "NoticeError",
    "NoticeRun",
    "OutgoingNotice",
    "Recipient",
    "compute_notices",
    "issue_notices",
    "load_notice_config",
    "notice_docx_bytes",
    "notices_for",
    "seal_all",
    "split_names",
]
