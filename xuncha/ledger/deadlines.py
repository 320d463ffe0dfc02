"""整改时限 as units write it (DOMAIN.md §4), parsed exactly; anything else is an error.

Parsing happens in two steps. `parse_deadline` reads the text alone into a `DeadlineSpec`
(which form, which period, how many months); `resolve_deadline` then fixes the due date with
what only the inspection knows: the 反馈日期 (relative forms, years left out) and the end of
进驻 (立行立改). A form whose date cannot be known is an error, never a guess.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xuncha.ledger.text import Cell, cn_number, nfkc

if TYPE_CHECKING:
    from xuncha.ledger.workdays import WorkdayCalendar

EXCEL_EPOCH = dt.date(1899, 12, 30)
MIN_YEAR, MAX_YEAR = 2000, 2100

IMMEDIATE_WORDS = (
    "立行立改",
    "即知即改",
    "立即整改",
    "边巡边改",
    "立知立改",
    "即查即改",
    "立查立改",
)
LONG_TERM_WORDS = (
    "长期坚持",
    "常态化推进",
    "常态化",
    "常态推进",
    "常态长效",
    "长期推进",
    "长期执行",
    "常抓不懈",
    "持续推进",
    "持续整改",
    "久久为功",
    "长期",
)


ACCEPTED_HINT = (
    "立行立改、2024年6月底前、2024年底前、2024年上半年、2024年一季度、2024年6月30日、2024.6.30、"
    "2024.06、6月30日前（年份由反馈日期推定）、3个月内、10个工作日内、长期坚持"
)


class DeadlineError(ValueError):
    """A deadline that cannot be read; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Period:
    """A dated form: an exact day, or the last day of a month / quarter / half / year."""

    kind: str  # "day" | "monthday" | "month" | "quarter" | "half" | "year"
    number: int  # month for "month" and "monthday"; quarter 1-4; half 1-2; 0 for year
    year: int | None  # None when the ledger left the year out
    day: dt.date | None = None  # for kind "day"
    dom: int | None = None  # day of the month for kind "monthday" ("6月30日前")

    def last_day(self, year: int) -> dt.date:
        if self.kind == "day" and self.day is not None:
            return self.day
        if self.kind == "monthday" and self.dom is not None:
            return _exact(year, self.number, self.dom)
        if self.kind == "month":
            month = self.number
        elif self.kind == "quarter":
            month = self.number * 3
        elif self.kind == "half":
            month = self.number * 6
        else:
            month = 12
        return dt.date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class DeadlineSpec:
    kind: str  # IMMEDIATE | DATE | RELATIVE | LONG_TERM
    long_term: bool
    period: Period | None = None  # DATE
    months: int | None = None  # RELATIVE
    days: int | None = None  # RELATIVE
    extension: Period | None = None  # 申请延期至 …
    workdays: int | None = None  # RELATIVE in working days ("10个工作日内")
    note: str | None = None  # a warning worth showing ("2024.06" written as a number)


@dataclass(frozen=True)
class ResolvedDeadline:
    kind: str
    long_term: bool
    due: dt.date | None
    extension: dt.date | None
    notes: tuple[str, ...] = ()  # warnings worth showing (a year taken from the 反馈日期)


# -- the forms ---------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[，,；;、。]|并且|并|且|[()（）【】\[\]]")
_PREFIX = re.compile(r"^(?:于|在|力争|确保|计划|预计|争取|要求)+")
_SUFFIX = re.compile(
    r"(?:全部|基本|彻底)?(?:完成整改|整改完成|完成|整改到位|落实到位|到位|办结|整改)+$"
)
_EXTENSION = re.compile(
    r"(?:已|经)?(?:申请|批准|同意|经批准)?(?:延期|延长|顺延|调整)(?:至|到)"
    r"(?P<target>[^，,；;、。()（）]+)"
)
_DAY = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?(?:前|之前|以前)?$")
_DAY_SEP = re.compile(r"^(\d{4})([./-])(\d{1,2})\2(\d{1,2})(?:前|之前|以前)?$")
_MONTH = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(份)?(底前|底|末前|末|内|以内|之内|前|之前|以前)?$")
# "2024.06", "2024.6", "2024-06", "2024/06" typed as text: that month (its last day as a deadline).
_MONTH_SEP = re.compile(r"^(\d{4})[./-](\d{1,2})(?:月)?(?:底前|底|末前|末|内|以内|之内)?$")
# "6月30日前", "6月30日": a day whose year the round implies.
_MONTH_DAY = re.compile(r"^(\d{1,2})月(\d{1,2})[日号](?:前|之前|以前)?$")
_YEAR_END = re.compile(r"^(?:(\d{4})年)?年?(?:底|末)(?:前|之前|以前)?$")
_YEAR_WITHIN = re.compile(r"^(\d{4})年(?:内|以内|之内|度内|全年)?$")
_HALF = re.compile(r"^(?:(\d{4})年)?(上|下)半年(?:底|末)?(?:前|之前|以前|内|以内)?$")
_QUARTER = re.compile(r"^(?:(\d{4})年)?第?([一二三四1-4])季度(?:底|末)?(?:前|之前|以前|内|以内)?$")
_RELATIVE = re.compile(
    r"^(?:巡察)?(?:自|从)?(?:收到)?(?:巡察)?(?:反馈意见|反馈)?(?:之日起|后|以后)?"
    r"(\d{1,3}|[一二两三四五六七八九十]{1,3}|半)个?(月|年|天|日|周|工作日)(?:内|以内|之内)$"
)
_NUMBER_ONLY = re.compile(r"^\d+(?:\.\d+)?$")


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    year = int(text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DeadlineError(f"年份“{year}”不合理")
    return year


def _month(text: str) -> int:
    month = int(text)
    if not 1 <= month <= 12:
        raise DeadlineError(f"月份“{month}”无效")
    return month


def _exact(year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DeadlineError(f"日期不存在：{year}年{month}月{day}日") from None


def serial_date(value: float) -> dt.date:
    """An Excel date serial (1899-12-30 epoch) → date; an implausible number is an error."""
    if value != value or value < 1:  # NaN or before the epoch
        raise DeadlineError(f"数字“{value:g}”不是有效的 Excel 日期")
    day = EXCEL_EPOCH + dt.timedelta(days=int(value))
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise DeadlineError(f"数字“{value:g}”不是合理的 Excel 日期（对应 {day.isoformat()}）")
    return day


def _period(part: str) -> Period | None:
    """A dated form; None when the part is not one."""
    if m := _DAY.match(part):
        year = _year(m.group(1))
        assert year is not None
        day = _exact(year, _month(m.group(2)), int(m.group(3)))
        return Period("day", 0, year, day)
    if m := _DAY_SEP.match(part):
        year = _year(m.group(1))
        assert year is not None
        day = _exact(year, _month(m.group(3)), int(m.group(4)))
        return Period("day", 0, year, day)
    if m := _MONTH_DAY.match(part):
        month = _month(m.group(1))
        dom = int(m.group(2))
        if not 1 <= dom <= calendar.monthrange(2024, month)[1]:  # 2024: Feb 29 exists
            raise DeadlineError(f"日期不存在：{month}月{dom}日")
        return Period("monthday", month, None, dom=dom)
    if m := _MONTH_SEP.match(part):
        return Period("month", _month(m.group(2)), _year(m.group(1)))
    if m := _MONTH.match(part):
        month = _month(m.group(2))
        suffix = m.group(4) or ""
        if suffix in ("前", "之前", "以前"):
            raise DeadlineError(
                f"“{month}月前”含义不明确（{month}月1日前还是{month}月底前？），"
                f"请写明“{month}月底前”或具体日期"
            )
        return Period("month", month, _year(m.group(1)))
    if m := _YEAR_END.match(part):
        return Period("year", 0, _year(m.group(1)))
    if m := _YEAR_WITHIN.match(part):
        return Period("year", 0, _year(m.group(1)))
    if m := _HALF.match(part):
        return Period("half", 1 if m.group(2) == "上" else 2, _year(m.group(1)))
    if m := _QUARTER.match(part):
        quarter = cn_number(m.group(2))
        assert quarter is not None
        return Period("quarter", quarter, _year(m.group(1)))
    if _NUMBER_ONLY.match(part):
        day = serial_date(float(part))
        return Period("day", 0, day.year, day)
    return None


def _relative(part: str) -> tuple[int | None, int | None] | None:
    m = _RELATIVE.match(part)
    if not m:
        return None
    amount_text, unit = m.group(1), m.group(2)
    if amount_text == "半":
        if unit != "年":
            raise DeadlineError("“半个月内”等时限请写明天数或月数")
        return 6, None
    amount = cn_number(amount_text)
    if not amount:
        raise DeadlineError(f"时限“{part}”中的数量无效")
    if unit == "工作日":
        return None, -amount  # negative: working days (resolved on the official calendar)
    if unit == "月":
        return amount, None
    if unit == "年":
        return amount * 12, None
    if unit == "周":
        return None, amount * 7
    return None, amount


def _core(part: str) -> str:
    part = _PREFIX.sub("", part)
    stripped = _SUFFIX.sub("", part)
    return stripped or part


@functools.lru_cache(maxsize=8192)
def _parse_text(text: str) -> DeadlineSpec:
    squashed = re.sub(r"\s+", "", nfkc(text))
    if not squashed:
        raise DeadlineError("整改时限为空")
    extension: Period | None = None
    ext = _EXTENSION.search(squashed)
    if ext:
        target = _core(ext.group("target"))
        extension = _period(target)
        if extension is None:
            raise DeadlineError(f"延期后的时限“{ext.group('target')}”无法识别")
        squashed = squashed[: ext.start()] + "，" + squashed[ext.end() :]
    elif "延期" in squashed:
        raise DeadlineError("写有“延期”但没有写明批准的新时限（应为“延期至2024年12月底前”等）")
    dated: list[DeadlineSpec] = []
    long_term = False
    unknown: list[str] = []
    for raw in _SEPARATORS.split(squashed):
        if not raw:
            continue
        part = _core(raw)
        if part in IMMEDIATE_WORDS or raw in IMMEDIATE_WORDS:
            dated.append(DeadlineSpec("IMMEDIATE", False))
            continue
        if part in LONG_TERM_WORDS or raw in LONG_TERM_WORDS:
            long_term = True
            continue
        if all(_is_long_term_run(p) for p in (part,)):
            long_term = True
            continue
        period = _period(part)
        if period is not None:
            dated.append(DeadlineSpec("DATE", False, period=period))
            continue
        relative = _relative(part)
        if relative is not None:
            months, days = relative
            if days is not None and days < 0:
                dated.append(DeadlineSpec("RELATIVE", False, workdays=-days))
            else:
                dated.append(DeadlineSpec("RELATIVE", False, months=months, days=days))
            continue
        unknown.append(raw)
    if unknown:
        raise DeadlineError(f"无法识别的整改时限“{unknown[0]}”（可用写法：{ACCEPTED_HINT}等）")
    if len(dated) > 1:
        raise DeadlineError("一个时限单元格中写了多个时限，无法确定以哪个为准")
    if not dated:
        if extension is not None:
            return DeadlineSpec("DATE", False, period=extension)
        if long_term:
            return DeadlineSpec("LONG_TERM", True)
        raise DeadlineError("整改时限为空")
    first = dated[0]
    return DeadlineSpec(
        first.kind,
        long_term,
        period=first.period,
        months=first.months,
        days=first.days,
        extension=extension,
        workdays=first.workdays,
    )


def _is_long_term_run(part: str) -> bool:
    """'长期坚持常态推进' written without a separator."""
    rest = part
    while rest:
        for word in LONG_TERM_WORDS:
            if rest.startswith(word):
                rest = rest[len(word) :]
                break
        else:
            return False
    return True


def parse_deadline(value: Cell) -> DeadlineSpec:
    """A 整改时限 cell → its form. Raises DeadlineError with the reason."""
    if value is None or value == "":
        raise DeadlineError("整改时限为空")
    if isinstance(value, bool):
        raise DeadlineError("整改时限不能是是/否值")
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise DeadlineError(f"年份“{value.year}”不合理")
        return DeadlineSpec("DATE", False, period=Period("day", 0, value.year, value))
    if isinstance(value, int | float):
        month = year_month_number(float(value))
        if month is not None:
            return DeadlineSpec(
                "DATE",
                False,
                period=Period("month", month[1], month[0]),
                note=f"时限以数字“{value:g}”填写，按 {month[0]}年{month[1]}月底 计",
            )
        day = serial_date(float(value))
        return DeadlineSpec("DATE", False, period=Period("day", 0, day.year, day))
    if isinstance(value, dt.time | dt.timedelta):
        raise DeadlineError("整改时限是一个时刻而不是日期")
    return _parse_text(str(value))


def year_month_number(value: float) -> tuple[int, int] | None:
    """(year, month) for a number a clerk typed as "2024.06" (Excel keeps it as 2024.06); None
    when the number is no such thing. "2024.1" is refused: Excel dropped the difference
    between 2024.1 (January) and 2024.10 (October)."""
    if not MIN_YEAR <= value < MAX_YEAR + 1 or value.is_integer():
        return None
    year = int(value)
    hundredths = round((value - year) * 100, 6)
    if not hundredths.is_integer():
        return None
    cents = int(hundredths)
    if cents == 10:
        raise DeadlineError(
            f"数字“{value:g}”无法区分 {year}年1月 与 {year}年10月（Excel 会去掉末尾的 0）；"
            f"请写为“{year}年1月底前”或“{year}年10月底前”"
        )
    month = cents // 10 if cents % 10 == 0 else cents
    if not 1 <= month <= 12:
        return None
    return year, month


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _resolve_period(period: Period, feedback: dt.date | None, what: str) -> tuple[dt.date, str]:
    """The due date of a period; a year left out is taken as the first such period ending on
    or after the 反馈日期 (and said so); unknown without a 反馈日期."""
    if period.year is not None:
        return period.last_day(period.year), ""
    if feedback is None:
        raise DeadlineError(f"{what}没有写年份，且反馈日期未知，无法确定到期日")
    due = period.last_day(feedback.year)
    if due < feedback:
        due = period.last_day(feedback.year + 1)
    return (
        due,
        f"{what}没有写年份，按反馈日期 {feedback.isoformat()} 后的第一个该时段计为 {due.isoformat()}",
    )


@functools.lru_cache(maxsize=8192)
def resolve_deadline(
    spec: DeadlineSpec,
    *,
    feedback: dt.date | None,
    entry_end: dt.date | None,
    calendar: WorkdayCalendar | None = None,
) -> ResolvedDeadline:
    """Fix the due date of a parsed deadline with what the inspection knows; working days
    count on `calendar` (the official one by default)."""
    notes: list[str] = [spec.note] if spec.note else []
    extension = None
    if spec.extension is not None:
        extension, note = _resolve_period(spec.extension, feedback, "延期后的时限")
        if note:
            notes.append(note)
    if spec.kind == "LONG_TERM":
        return ResolvedDeadline("LONG_TERM", True, None, extension, tuple(notes))
    if spec.kind == "IMMEDIATE":
        due = entry_end or feedback
        if due is None:
            raise DeadlineError("立行立改的到期日为进驻结束日或反馈日期，两者都未知")
        return ResolvedDeadline("IMMEDIATE", spec.long_term, due, extension, tuple(notes))
    if spec.kind == "RELATIVE":
        if feedback is None:
            raise DeadlineError("相对时限（如“2个月内”）按反馈日期计算，但反馈日期未知")
        if spec.workdays is not None:
            from xuncha.ledger import workdays  # the calendar data load only when needed

            try:
                due = (calendar or workdays.default_calendar()).add_workdays(
                    feedback, spec.workdays
                )
            except workdays.CalendarError as exc:
                raise DeadlineError(str(exc)) from None
            return ResolvedDeadline("RELATIVE", spec.long_term, due, extension, tuple(notes))
        if spec.months is not None:
            due = add_months(feedback, spec.months)
        else:
            due = feedback + dt.timedelta(days=spec.days or 0)
        return ResolvedDeadline("RELATIVE", spec.long_term, due, extension, tuple(notes))
    assert spec.period is not None
    due, note = _resolve_period(spec.period, feedback, "整改时限")
    if note:
        notes.append(note)
    return ResolvedDeadline("DATE", spec.long_term, due, extension, tuple(notes))


# -- plain dates (完成时间, 销号时间, 截至时间) ------------------------------------------------


def parse_date(value: Cell, *, allow_month_end: bool = False) -> dt.date:
    """A cell holding one calendar date; DeadlineError when it is anything else."""
    if value is None or value == "":
        raise DeadlineError("日期为空")
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise DeadlineError("不是日期")
    if isinstance(value, int | float):
        return serial_date(float(value))
    text = re.sub(r"\s+", "", nfkc(str(value)))
    text = _PREFIX.sub("", text)
    text = _SUFFIX.sub("", text) or text
    period = _period(text)
    if period is not None and period.kind == "day" and period.day is not None:
        return period.day
    if allow_month_end and period is not None and period.kind == "month" and period.year:
        return period.last_day(period.year)
    if period is not None and period.kind == "month":
        raise DeadlineError("只写到月份，不是具体日期（应为 2024年6月30日、2024.6.30 等）")
    raise DeadlineError("不是有效的日期（应为 2024年6月30日、2024.6.30、2024/6/30 或 2024-06-30）")
