"""The official working-day calendar (工作日, DOMAIN.md §9) that deadlines written in working
days ("10个工作日内", "反馈后15个工作日内") are counted on.

Working days follow the State Council's annual holiday notice, 调休 working weekends
included. Two sources make the calendar:

* the `chinesecalendar` package (import name `chinese_calendar`), which knows the years of its
  release (2004–2026 for 1.11.0);
* an administrator's file, STORE/config/workdays.toml (`workdays_config_path`), for a year
  the package lacks or one it has wrong. A year in the file defines that year completely and
  replaces the package's data for it: a weekday is a working day unless listed in
  `holidays`, a weekend day is a rest day unless listed in `workdays`.

A year neither source knows is an error naming the year (`UnknownYear`), never a guess.
`WorkdayCalendar.describe()` is recorded with each data version, so the calendar in force
when a deadline was resolved can be told later.

The administrator's file, one table per year, dates as "YYYY-MM-DD" or ranges
"YYYY-MM-DD..YYYY-MM-DD" (both ends included)::

    # 国务院办公厅关于2027年部分节假日安排的通知
    [2027]
    # 放假日（可含周末；写在哪一年的表下，日期就必须在哪一年内）
    holidays = [
        "2027-01-01",                 # 元旦
        "2027-02-05..2027-02-11",     # 春节
    ]
    # 调休上班的周末（只能是周六或周日）
    workdays = ["2027-02-14"]

Dates may also be bare TOML dates (2027-01-01 without quotes). A notice's days that fall in
the previous year (元旦 "2022年12月31日至2023年1月2日") are that year's: a weekend needs no
entry, a weekday belongs under the previous year's table. The file is refused, with the line,
the year and the value, when a date is not a date, lies outside the year it is listed under,
is both a holiday and a working day, a working day is not a weekend day, a range runs
backwards, a table is not a four-digit year, or a table has a key other than `holidays` and
`workdays`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import chinese_calendar.constants as cc_constants

LIBRARY = "chinesecalendar"
STORE_CONFIG = Path("config") / "workdays.toml"
# Shown in messages when no store is known (the default calendar).
STORE_CONFIG_HINT = "STORE/config/workdays.toml"
YEAR_KEYS = ("holidays", "workdays")

_YEAR_KEY = re.compile(r"^[0-9]{4}$")
_TABLE_HEADER = re.compile(r"^\s*\[\s*(?:\"([^\"]*)\"|'([^']*)'|([^\]\s]+))\s*\]")


class CalendarError(ValueError):
    """The calendar cannot answer or cannot be read; the message is fit to show a user."""


class UnknownYear(CalendarError):
    """A year whose holidays and 调休 neither the package nor the administrator's file know."""

    def __init__(self, year: int, known: tuple[int, ...], config_hint: str) -> None:
        self.year = year
        self.known = known
        super().__init__(
            f"{year} 年的法定节假日和调休安排尚未收录（工作日日历已知 {_span_text(known)} 年）；"
            f"请管理员在 {config_hint} 中补充该年安排后再导入"
        )


@dataclass(frozen=True)
class _Year:
    """One year's working days as date ordinals: a set to test, a sorted tuple to count."""

    ordinals: frozenset[int]
    ordered: tuple[int, ...]


@dataclass(frozen=True)
class WorkdayCalendar:
    """Working days per known year, precomputed once; immutable and hashable (equal calendars
    have the same sources and the same working days), so it can be an lru_cache argument.

    Build with `load_calendar`, `default_calendar` or `WorkdayCalendar.from_sources`.
    """

    library_version: str
    library_years: tuple[int, int]
    admin_path: str | None
    admin_sha256: str | None
    admin_years: tuple[int, ...]
    fingerprint: str  # SHA-256 of the effective rest/working exceptions of every known year
    config_hint: str = field(default=STORE_CONFIG_HINT, compare=False)
    _years: Mapping[int, _Year] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    @classmethod
    def from_sources(
        cls,
        admin: Mapping[int, tuple[frozenset[dt.date], frozenset[dt.date]]] | None = None,
        *,
        admin_path: str | None = None,
        admin_sha256: str | None = None,
        config_hint: str = STORE_CONFIG_HINT,
    ) -> WorkdayCalendar:
        """The package's years with `admin` years (year -> (holidays, workdays)) over them."""
        rules: dict[int, tuple[frozenset[dt.date], frozenset[dt.date]]] = dict(_library_rules())
        library_years = (min(rules), max(rules))
        admin = admin or {}
        rules.update(admin)
        years = {year: _year_of(year, *rule) for year, rule in rules.items()}
        return cls(
            library_version=_library_version(),
            library_years=library_years,
            admin_path=admin_path,
            admin_sha256=admin_sha256,
            admin_years=tuple(sorted(admin)),
            fingerprint=_fingerprint(rules),
            config_hint=config_hint,
            _years=MappingProxyType(years),
        )

    def known_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._years))

    def is_workday(self, day: dt.date) -> bool:
        """Whether `day` is a working day; UnknownYear when its year is not known."""
        return day.toordinal() in self._year(day.year).ordinals

    def add_workdays(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after `start` (`start` itself is not counted; n >= 1).

        Every year the count passes through must be known: a deadline that starts in a known
        year and runs into an unknown one is an UnknownYear for the latter.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise CalendarError(f"工作日天数应为正整数，收到：{n!r}")
        after = start.toordinal()
        year = dt.date.fromordinal(after + 1).year
        remaining = n
        while True:
            ordered = self._year(year).ordered
            first = bisect.bisect_right(ordered, after)
            available = len(ordered) - first
            if available >= remaining:
                return dt.date.fromordinal(ordered[first + remaining - 1])
            remaining -= available
            year += 1

    def describe(self) -> dict[str, object]:
        """The calendar in force, JSON-able, to record with a data version."""
        first, last = self.library_years
        admin: dict[str, object] | None = None
        if self.admin_path is not None:
            admin = {
                "path": self.admin_path,
                "sha256": self.admin_sha256,
                "adds_years": [y for y in self.admin_years if not first <= y <= last],
                "overrides_years": [y for y in self.admin_years if first <= y <= last],
            }
        return {
            "library": {"name": LIBRARY, "version": self.library_version, "years": [first, last]},
            "admin_file": admin,
            "known_years": list(self.known_years()),
            "fingerprint": self.fingerprint,
        }

    def _year(self, year: int) -> _Year:
        found = self._years.get(year)
        if found is None:
            raise UnknownYear(year, self.known_years(), self.config_hint)
        return found


def workdays_config_path(store_root: str | os.PathLike[str]) -> Path:
    """Where a store's administrator calendar is kept (beside ecology.toml, backed up with
    the store's config/)."""
    return Path(store_root) / STORE_CONFIG


def load_calendar(store_root: str | os.PathLike[str] | None) -> WorkdayCalendar:
    """The package's calendar plus the store's workdays.toml when there is one."""
    if store_root is None:
        return default_calendar()
    path = workdays_config_path(store_root)
    if not path.is_file():
        return WorkdayCalendar.from_sources(config_hint=str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CalendarError(f"无法读取工作日日历文件 {path}（{exc.strerror}）") from None
    return calendar_from_toml(raw, str(path))


def calendar_from_toml(raw: bytes | str, path: str) -> WorkdayCalendar:
    """A calendar from the administrator's file content (`path` names it in messages and in
    describe()); validates everything, so an edited file can be checked before it is saved."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CalendarError(f"工作日日历文件 {path} 不是 UTF-8 编码的文本") from None
    admin = parse_admin_years(text, path)
    return WorkdayCalendar.from_sources(
        admin,
        admin_path=path,
        admin_sha256=hashlib.sha256(data).hexdigest(),
        config_hint=path,
    )


@functools.lru_cache(maxsize=1)
def default_calendar() -> WorkdayCalendar:
    """The package's calendar alone (no store), built once per process."""
    return WorkdayCalendar.from_sources()


# -- the administrator's file ----------------------------------------------------------


def parse_admin_years(
    text: str, path: str = "workdays.toml"
) -> dict[int, tuple[frozenset[dt.date], frozenset[dt.date]]]:
    """Year -> (holidays, workdays) from the file's text; CalendarError names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"工作日日历文件 {path} 不是有效的 TOML（{exc}）") from None
    where = _Locator(text, path)
    years: dict[int, tuple[frozenset[dt.date], frozenset[dt.date]]] = {}
    for key, table in data.items():
        if not _YEAR_KEY.match(key):
            raise CalendarError(
                f"{where.table(key)}：表名“{key}”不是四位年份（应写作 [2027] 这样的形式）"
            )
        year = int(key)
        if not isinstance(table, dict):
            raise CalendarError(
                f"{where.table(key)}：{year} 年应写成表 [{year}]，其中包含 holidays 和 workdays"
            )
        unknown = sorted(set(table) - set(YEAR_KEYS))
        if unknown:
            raise CalendarError(
                f"{where.table(key)}：[{year}] 中有无法识别的项 {'、'.join(unknown)}"
                "（只能是 holidays 放假日、workdays 调休上班日）"
            )
        if "holidays" not in table:
            raise CalendarError(f"{where.table(key)}：[{year}] 缺少 holidays（放假日）")
        holidays = _dates(table["holidays"], year, "holidays", where)
        if not holidays:
            raise CalendarError(
                f"{where.table(key)}：[{year}] 的 holidays 为空，每年至少有元旦等放假日"
            )
        workdays = _dates(table.get("workdays", []), year, "workdays", where)
        both = sorted(holidays & workdays)
        if both:
            day = both[0]
            raise CalendarError(
                f"{where.value(key, day.isoformat())}：{day.isoformat()} 同时列在 [{year}] 的 "
                "holidays 和 workdays 中，一天不能既放假又上班"
            )
        weekdays = sorted(d for d in workdays if d.weekday() < 5)
        if weekdays:
            day = weekdays[0]
            raise CalendarError(
                f"{where.value(key, day.isoformat())}：[{year}] workdays 中的 {day.isoformat()}"
                f" 是{_WEEKDAY_NAMES[day.weekday()]}，本来就是工作日；workdays 只应列出调休上班的周六、周日"
            )
        years[year] = (frozenset(holidays), frozenset(workdays))
    return years


_WEEKDAY_NAMES = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


def _dates(value: Any, year: int, key: str, where: _Locator) -> set[dt.date]:
    if not isinstance(value, list):
        raise CalendarError(
            f"{where.key(str(year), key)}：[{year}] 的 {key} 应为日期列表，如 "
            f'["{year}-01-01", "{year}-02-05..{year}-02-11"]'
        )
    days: set[dt.date] = set()
    for item in value:
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            first = last = item  # a bare TOML date, 2027-01-01 without quotes
            shown = item.isoformat()
        elif isinstance(item, str):
            shown = item
            first, last = _range(item, year, key, where)
        else:
            raise CalendarError(
                f"{where.key(str(year), key)}：[{year}] 的 {key} 中“{item}”不是日期文本"
                "（应为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD）"
            )
        for day in (first, last):
            if day.year != year:
                raise CalendarError(
                    f"{where.value(str(year), shown)}：{key} 中的 {day.isoformat()} 不在 {year} 年内，"
                    f"不能写在 [{year}] 下（每个日期应写在它所在年份的表中）"
                )
        days.update(dt.date.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1))
    return days


def _range(text: str, year: int, key: str, where: _Locator) -> tuple[dt.date, dt.date]:
    parts = text.split("..")
    if len(parts) > 2:
        raise _bad_date(text, year, key, where)
    ends = [_date(part.strip(), text, year, key, where) for part in parts]
    first, last = ends[0], ends[-1]
    if last < first:
        raise CalendarError(
            f"{where.value(str(year), text)}：[{year}] {key} 中的区间“{text}”起止颠倒"
            f"（应写作 {last.isoformat()}..{first.isoformat()}）"
        )
    return first, last


def _date(part: str, text: str, year: int, key: str, where: _Locator) -> dt.date:
    # Exactly YYYY-MM-DD: fromisoformat alone would also take 20270101 and week dates.
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", part):
        raise _bad_date(text, year, key, where)
    try:
        return dt.date.fromisoformat(part)
    except ValueError:
        raise _bad_date(text, year, key, where) from None


def _bad_date(text: str, year: int, key: str, where: _Locator) -> CalendarError:
    return CalendarError(
        f"{where.value(str(year), text)}：[{year}] {key} 中的“{text}”不是有效日期"
        "（应为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD）"
    )


class _Locator:
    """Finds the line of a table, key or value in the file for messages (tomllib keeps no
    positions); falls back to naming the file alone when the text cannot be found."""

    def __init__(self, text: str, path: str) -> None:
        self.lines = text.splitlines()
        self.path = path

    def table(self, table: str) -> str:
        return self._at(self._table_line(table))

    def key(self, table: str, key: str) -> str:
        return self._at(self._find(table, re.compile(rf"^\s*{re.escape(key)}\s*=")))

    def value(self, table: str, value: str) -> str:
        return self._at(self._find(table, re.compile(re.escape(value))))

    def _table_line(self, table: str) -> int | None:
        for index, line in enumerate(self.lines):
            match = _TABLE_HEADER.match(line)
            if match and next(g for g in match.groups() if g is not None) == table:
                return index
        for index, line in enumerate(self.lines):  # a dotted or inline form: key at line start
            if re.match(rf"^\s*[\"']?{re.escape(table)}[\"']?\s*[=.]", line):
                return index
        return None

    def _find(self, table: str, pattern: re.Pattern[str]) -> int | None:
        start = self._table_line(table)
        if start is None:
            return None
        for index in range(start, len(self.lines)):
            if index > start and _TABLE_HEADER.match(self.lines[index]):
                break
            if pattern.search(self.lines[index].split("#", 1)[0]):
                return index
        return start

    def _at(self, index: int | None) -> str:
        if index is None:
            return f"工作日日历文件 {self.path}"
        return f"工作日日历文件 {self.path} 第 {index + 1} 行"


# -- the package's data ----------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _library_rules() -> Mapping[int, tuple[frozenset[dt.date], frozenset[dt.date]]]:
    """Year -> (holidays, workdays) from chinese_calendar's own tables, for every year in its
    range (a year with no entry at all would still be a year it claims to know)."""
    holidays: dict[int, set[dt.date]] = {}
    workdays: dict[int, set[dt.date]] = {}
    for day in cc_constants.holidays:
        holidays.setdefault(day.year, set()).add(day)
    for day in cc_constants.workdays:
        workdays.setdefault(day.year, set()).add(day)
    first, last = min(holidays), max(holidays)
    return MappingProxyType(
        {
            year: (frozenset(holidays.get(year, ())), frozenset(workdays.get(year, ())))
            for year in range(first, last + 1)
        }
    )


@functools.lru_cache(maxsize=1)
def _library_version() -> str:
    try:
        return importlib.metadata.version(LIBRARY)
    except importlib.metadata.PackageNotFoundError:
        import chinese_calendar

        return str(getattr(chinese_calendar, "__version__", "unknown"))


def _year_of(year: int, holidays: frozenset[dt.date], workdays: frozenset[dt.date]) -> _Year:
    first = dt.date(year, 1, 1).toordinal()
    last = dt.date(year, 12, 31).toordinal()
    rest = {d.toordinal() for d in holidays}
    extra = {d.toordinal() for d in workdays}
    ordered = tuple(
        o
        for o in range(first, last + 1)
        if o in extra or (o not in rest and dt.date.fromordinal(o).weekday() < 5)
    )
    return _Year(ordinals=frozenset(ordered), ordered=ordered)


def _fingerprint(rules: Mapping[int, tuple[frozenset[dt.date], frozenset[dt.date]]]) -> str:
    """A digest of the calendar in force: per year, the weekdays off and the weekends on (the
    exceptions to Monday–Friday), so equal fingerprints mean the same working days."""
    canonical: dict[str, dict[str, list[str]]] = {}
    for year in sorted(rules):
        holidays, workdays = rules[year]
        canonical[str(year)] = {
            "rest": sorted(d.isoformat() for d in holidays if d.weekday() < 5 and d.year == year),
            "work": sorted(d.isoformat() for d in workdays if d.weekday() >= 5 and d.year == year),
        }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _span_text(years: Iterable[int]) -> str:
    """2004–2026、2028: runs of consecutive years, for messages."""
    runs: list[list[int]] = []
    for year in sorted(years):
        if runs and year == runs[-1][1] + 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    if not runs:
        return "（无）"
    return "、".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)
