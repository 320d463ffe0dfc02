"""The working-day calendar (DOMAIN.md §9): facts written by hand from the State Council's
holiday notices, the administrator's workdays.toml, and its validation errors."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import time
from pathlib import Path

import chinese_calendar
import pytest

from xuncha.ledger.workdays import (
    CalendarError,
    UnknownYear,
    WorkdayCalendar,
    default_calendar,
    load_calendar,
    workdays_config_path,
)

D = dt.date.fromisoformat

# A hand-written 2027 (no notice yet): 元旦 Fri 01-01, 春节 Fri 02-05..Thu 02-11, Sun 02-14 on.
FILE_2027 = """\
# 国务院办公厅关于2027年部分节假日安排的通知（测试用）
[2027]
holidays = ["2027-01-01", "2027-02-05..2027-02-11"]   # 放假日（含周末）
workdays = ["2027-02-14"]                              # 调休上班的周末
"""


def write_config(store: Path, text: str) -> Path:
    path = workdays_config_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    write_config(tmp_path, text)
    with pytest.raises(CalendarError) as caught:
        load_calendar(tmp_path)
    return str(caught.value)


# -- facts from the notices ------------------------------------------------------------


def test_2024_national_day_rests_seven_days_with_two_weekends_worked():
    cal = default_calendar()
    for day in range(1, 8):
        assert not cal.is_workday(dt.date(2024, 10, day))
    assert cal.is_workday(D("2024-09-29"))  # Sunday, 调休
    assert cal.is_workday(D("2024-10-12"))  # Saturday, 调休
    assert not cal.is_workday(D("2024-09-28"))  # an ordinary Saturday
    assert cal.is_workday(D("2024-10-08"))


def test_a_friday_before_the_national_day_is_followed_by_the_sunday_worked():
    assert default_calendar().add_workdays(D("2024-09-27"), 1) == D("2024-09-29")


def test_the_day_after_september_30_2024_is_october_8():
    assert default_calendar().add_workdays(D("2024-09-30"), 1) == D("2024-10-08")


def test_2025_spring_festival_rests_eight_days_with_two_weekends_worked():
    cal = default_calendar()
    rest = [D("2025-01-28") + dt.timedelta(days=i) for i in range(8)]
    assert rest[-1] == D("2025-02-04")
    assert not any(cal.is_workday(day) for day in rest)
    assert cal.is_workday(D("2025-01-26"))  # Sunday, 调休
    assert cal.is_workday(D("2025-02-08"))  # Saturday, 调休
    assert cal.add_workdays(D("2025-01-24"), 1) == D("2025-01-26")
    assert cal.add_workdays(D("2025-01-27"), 1) == D("2025-02-05")


def test_ten_working_days_after_a_monday_without_holidays_is_the_monday_two_weeks_later():
    assert default_calendar().add_workdays(D("2024-03-04"), 10) == D("2024-03-18")


def test_the_start_day_itself_is_never_counted():
    cal = default_calendar()
    assert cal.add_workdays(D("2024-03-04"), 1) == D("2024-03-05")
    assert cal.add_workdays(D("2024-03-09"), 1) == D("2024-03-11")  # from a Saturday


def test_a_count_crosses_the_new_year_inside_known_years():
    # 2024-12-31 Tue works; 2025-01-01 rests; 01-02 Thu and 01-03 Fri work.
    assert default_calendar().add_workdays(D("2024-12-30"), 3) == D("2025-01-03")


def test_the_calendar_agrees_with_the_library_on_every_day_it_knows():
    cal = default_calendar()
    day = D("2004-01-01")
    while day.year <= 2026:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


def test_a_count_of_zero_or_less_is_refused_in_chinese():
    with pytest.raises(CalendarError, match="正整数"):
        default_calendar().add_workdays(D("2024-03-04"), 0)


# -- years nobody knows ----------------------------------------------------------------


def test_2027_is_an_unknown_year_named_in_the_error():
    with pytest.raises(UnknownYear) as caught:
        default_calendar().is_workday(D("2027-01-04"))
    assert caught.value.year == 2027
    message = str(caught.value)
    assert "2027 年" in message
    assert "2004–2026" in message
    assert "workdays.toml" in message


def test_a_year_before_the_library_is_unknown_too():
    with pytest.raises(UnknownYear) as caught:
        default_calendar().is_workday(D("2003-06-02"))
    assert caught.value.year == 2003


def test_a_deadline_running_from_2026_into_2027_needs_2027():
    cal = default_calendar()
    assert cal.add_workdays(D("2026-12-30"), 1) == D("2026-12-31")
    with pytest.raises(UnknownYear) as caught:
        cal.add_workdays(D("2026-12-30"), 5)
    assert caught.value.year == 2027
    assert "2027" in str(caught.value)


def test_a_store_without_a_file_names_the_store_file_in_the_error(tmp_path):
    with pytest.raises(UnknownYear) as caught:
        load_calendar(tmp_path).is_workday(D("2027-03-01"))
    assert str(workdays_config_path(tmp_path)) in str(caught.value)


def test_an_unknown_year_lists_the_known_years_as_runs(tmp_path):
    write_config(tmp_path, '[2029]\nholidays = ["2029-01-01"]\n')
    with pytest.raises(UnknownYear, match="2004–2026、2029") as caught:
        load_calendar(tmp_path).is_workday(D("2027-03-01"))
    assert caught.value.year == 2027


# -- the administrator's file ----------------------------------------------------------


def test_no_store_and_a_store_without_a_file_give_the_library_calendar(tmp_path):
    assert load_calendar(None) is default_calendar()
    cal = load_calendar(tmp_path)
    assert cal.known_years() == tuple(range(2004, 2027))
    assert cal.describe()["admin_file"] is None


def test_workdays_config_path_sits_in_the_store_config_folder(tmp_path):
    assert workdays_config_path(tmp_path) == tmp_path / "config" / "workdays.toml"


def test_an_admin_file_makes_2027_known(tmp_path):
    write_config(tmp_path, FILE_2027)
    cal = load_calendar(tmp_path)
    assert cal.known_years() == (*range(2004, 2027), 2027)
    assert not cal.is_workday(D("2027-01-01"))
    assert cal.is_workday(D("2027-01-04"))  # Monday
    assert not cal.is_workday(D("2027-02-08"))  # Monday within 春节
    assert cal.is_workday(D("2027-02-14"))  # Sunday, 调休
    assert not cal.is_workday(D("2027-02-13"))  # an ordinary Saturday
    assert cal.add_workdays(D("2027-02-04"), 1) == D("2027-02-12")
    assert cal.add_workdays(D("2027-02-12"), 1) == D("2027-02-14")


def test_a_deadline_from_2026_into_2027_resolves_once_2027_is_known(tmp_path):
    write_config(tmp_path, FILE_2027)
    # 12-31 Thu (1); 01-01 rest; 01-02, 01-03 weekend; 01-04..01-07 (2..5).
    assert load_calendar(tmp_path).add_workdays(D("2026-12-30"), 5) == D("2027-01-07")


def test_describe_names_the_admin_file_and_its_sha256(tmp_path):
    path = write_config(tmp_path, FILE_2027)
    described = load_calendar(tmp_path).describe()
    json.dumps(described)  # recorded with a data version, so it must be JSON
    assert described["library"] == {
        "name": "chinesecalendar",
        "version": "1.11.0",
        "years": [2004, 2026],
    }
    assert described["admin_file"] == {
        "path": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "adds_years": [2027],
        "overrides_years": [],
    }


def test_an_admin_year_replaces_the_library_year_completely(tmp_path):
    # A 2024 that omits the 10-12 调休 and the 劳动节 entirely.
    write_config(
        tmp_path,
        '[2024]\nholidays = ["2024-10-01..2024-10-07"]\nworkdays = ["2024-09-29"]\n',
    )
    cal = load_calendar(tmp_path)
    assert cal.is_workday(D("2024-09-29"))
    assert not cal.is_workday(D("2024-10-12"))  # no longer a 调休 Saturday
    assert cal.is_workday(D("2024-05-02"))  # Thursday, a holiday in the library
    assert cal.describe()["admin_file"]["overrides_years"] == [2024]
    assert cal.is_workday(D("2025-02-08"))  # other years keep the library's data


def test_bare_toml_dates_are_accepted(tmp_path):
    write_config(tmp_path, "[2027]\nholidays = [2027-01-01]\nworkdays = []\n")
    cal = load_calendar(tmp_path)
    assert not cal.is_workday(D("2027-01-01"))
    assert cal.is_workday(D("2027-02-08"))


def test_changing_the_admin_file_changes_the_recorded_fingerprint(tmp_path):
    write_config(tmp_path, FILE_2027)
    before = load_calendar(tmp_path).describe()
    write_config(tmp_path, FILE_2027.replace('"2027-01-01", ', ""))
    after = load_calendar(tmp_path).describe()
    assert before["fingerprint"] != after["fingerprint"]
    assert before["admin_file"]["sha256"] != after["admin_file"]["sha256"]


# -- validation of the administrator's file --------------------------------------------


def test_a_date_that_does_not_exist_is_refused_with_its_line_and_year(tmp_path):
    message = config_error(tmp_path, '[2027]\nholidays = ["2027-01-01",\n  "2027-02-30"]\n')
    assert "第 3 行" in message
    assert "2027" in message
    assert "2027-02-30" in message
    assert "不是有效日期" in message


def test_date_text_in_another_format_is_refused(tmp_path):
    message = config_error(tmp_path, '[2027]\nholidays = ["2027/01/01"]\n')
    assert "2027/01/01" in message
    assert "第 2 行" in message


def test_a_date_outside_the_year_it_is_listed_under_is_refused(tmp_path):
    message = config_error(tmp_path, '[2027]\nholidays = ["2026-12-31..2027-01-01"]\n')
    assert "2026-12-31" in message
    assert "不在 2027 年内" in message
    assert "第 2 行" in message


def test_a_day_both_rest_and_working_is_refused(tmp_path):
    message = config_error(
        tmp_path, '[2027]\nholidays = ["2027-02-05..2027-02-14"]\nworkdays = ["2027-02-14"]\n'
    )
    assert "2027-02-14" in message
    assert "同时" in message


def test_a_working_day_that_is_not_a_weekend_is_refused(tmp_path):
    message = config_error(
        tmp_path, '[2027]\nholidays = ["2027-01-01"]\n\nworkdays = ["2027-02-15"]\n'
    )
    assert "2027-02-15" in message
    assert "星期一" in message
    assert "第 4 行" in message


def test_a_range_written_backwards_is_refused(tmp_path):
    message = config_error(tmp_path, '[2027]\nholidays = ["2027-02-11..2027-02-05"]\n')
    assert "2027-02-11..2027-02-05" in message
    assert "颠倒" in message
    assert "第 2 行" in message


@pytest.mark.parametrize("header", ["27", "二〇二七", "year2027", "20270"])
def test_a_table_that_is_not_a_four_digit_year_is_refused(tmp_path, header):
    message = config_error(tmp_path, f'# 注释\n["{header}"]\nholidays = ["2027-01-01"]\n')
    assert header in message
    assert "四位年份" in message
    assert "第 2 行" in message


def test_an_unknown_key_in_a_year_is_refused_rather_than_ignored(tmp_path):
    message = config_error(tmp_path, '[2027]\nholidays = ["2027-01-01"]\nworkday = []\n')
    assert "workday" in message
    assert "无法识别" in message


def test_a_year_without_holidays_is_refused(tmp_path):
    assert "缺少 holidays" in config_error(tmp_path, '[2027]\nworkdays = ["2027-02-14"]\n')
    assert "为空" in config_error(tmp_path, "[2027]\nholidays = []\n")


def test_a_year_that_is_not_a_table_is_refused(tmp_path):
    assert "应写成表" in config_error(tmp_path, '2027 = ["2027-01-01"]\n')


def test_holidays_that_are_not_a_list_are_refused(tmp_path):
    message = config_error(tmp_path, '[2027]\nholidays = "2027-01-01"\n')
    assert "日期列表" in message
    assert "第 2 行" in message


def test_a_file_that_is_not_toml_is_refused(tmp_path):
    assert "不是有效的 TOML" in config_error(tmp_path, "[2027\nholidays = 1\n")


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = workdays_config_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes("# 国务院办公厅通知\n[2027]\n".encode("gbk"))
    with pytest.raises(CalendarError, match="UTF-8"):
        load_calendar(tmp_path)


# -- immutability, caching and speed ---------------------------------------------------


def test_calendars_are_hashable_and_equal_when_built_from_the_same_sources(tmp_path):
    write_config(tmp_path, FILE_2027)
    first, second = load_calendar(tmp_path), load_calendar(tmp_path)
    assert first == second
    assert hash(first) == hash(second)
    assert first != default_calendar()

    @functools.lru_cache(maxsize=8)
    def due(cal: WorkdayCalendar, start: dt.date, n: int) -> dt.date:
        return cal.add_workdays(start, n)

    assert due(first, D("2027-02-04"), 1) == due(second, D("2027-02-04"), 1)
    assert due.cache_info().hits == 1


def test_a_calendar_cannot_be_changed():
    with pytest.raises(AttributeError):
        default_calendar().admin_path = "x"


def test_a_hundred_thousand_deadlines_resolve_quickly():
    cal = default_calendar()
    start = D("2024-01-01")
    began = time.perf_counter()
    for i in range(100_000):
        cal.add_workdays(start + dt.timedelta(days=i % 700), 15)
    assert time.perf_counter() - began < 5.0
