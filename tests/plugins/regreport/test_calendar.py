"""Business-day calendar, TARGET2 holidays and the MiFIR T+1 deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from regreport.calendar import (
    EXTRA_HOLIDAYS_ENV,
    BusinessCalendar,
    business_days_late,
    calendar_from_env,
    default_calendar,
    easter_sunday,
    parse_holidays,
    t_plus_1_deadline,
    target_holidays,
)

pytestmark = pytest.mark.unit

CAL = BusinessCalendar.target(years=range(2024, 2028))


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2000, date(2000, 4, 23)),
        (2008, date(2008, 3, 23)),
        (2011, date(2011, 4, 24)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),  # latest possible date
        (2285, date(2285, 3, 22)),  # earliest possible date
    ],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_target_holidays_2026() -> None:
    assert target_holidays(2026) == {
        date(2026, 1, 1),
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 12, 25),
        date(2026, 12, 26),
    }


def test_business_days() -> None:
    # 2026-11-27 Friday, 28/29 weekend; 2026-04-03 Good Friday.
    assert CAL.is_business_day(date(2026, 11, 27))
    assert not CAL.is_business_day(date(2026, 11, 28))
    assert not CAL.is_business_day(date(2026, 4, 3))
    assert CAL.next_business_day(date(2026, 11, 26)) == date(2026, 11, 27)
    assert CAL.next_business_day(date(2026, 11, 27)) == date(2026, 11, 30)
    # Thursday before Easter -> Tuesday after (Good Friday, weekend, Easter Monday closed).
    assert CAL.next_business_day(date(2026, 4, 2)) == date(2026, 4, 7)
    assert CAL.previous_business_day(date(2026, 4, 7)) == date(2026, 4, 2)
    assert CAL.on_or_after(date(2026, 12, 25)) == date(2026, 12, 28)
    assert CAL.on_or_before(date(2026, 12, 27)) == date(2026, 12, 24)
    assert CAL.on_or_after(date(2026, 12, 24)) == date(2026, 12, 24)


def test_add_and_count_business_days() -> None:
    thu = date(2026, 4, 2)
    assert CAL.add_business_days(thu, 0) == thu
    assert CAL.add_business_days(thu, 1) == date(2026, 4, 7)
    assert CAL.add_business_days(thu, 3) == date(2026, 4, 9)
    assert CAL.add_business_days(date(2026, 4, 9), -3) == thu
    # (Thu 2 Apr, Thu 9 Apr]: Tue 7, Wed 8, Thu 9 = 3.
    assert CAL.business_days_between(thu, date(2026, 4, 9)) == 3
    assert CAL.business_days_between(date(2026, 4, 9), thu) == -3
    assert CAL.business_days_between(thu, thu) == 0
    # (Fri 27 Nov, Sun 29 Nov] holds no business day.
    assert CAL.business_days_between(date(2026, 11, 27), date(2026, 11, 29)) == 0


def test_plain_calendar_has_weekends_only() -> None:
    plain = BusinessCalendar()
    assert plain.is_business_day(date(2026, 4, 3))
    assert plain.name == "weekends"


def test_default_and_env_calendars() -> None:
    assert default_calendar(range(2026, 2027)).holidays == target_holidays(2026)
    assert default_calendar().name == "TARGET2"
    assert date(2099, 12, 25) in default_calendar().holidays
    env = {EXTRA_HOLIDAYS_ENV: " 2026-05-14, ,2026-05-25"}
    cal = calendar_from_env(env, years=range(2026, 2027))
    assert cal.name == "TARGET2+env"
    assert cal.holidays == target_holidays(2026) | {date(2026, 5, 14), date(2026, 5, 25)}
    assert not cal.is_business_day(date(2026, 5, 14))
    assert calendar_from_env({}, years=range(2026, 2027)).name == "TARGET2"
    with pytest.raises(ValueError, match="'2026-13-01' is not an ISO date"):
        calendar_from_env({EXTRA_HOLIDAYS_ENV: "2026-13-01"})
    assert parse_holidays(None) == frozenset()


def test_with_holidays_keeps_the_original() -> None:
    extra = CAL.with_holidays([date(2026, 5, 14)], "custom")
    assert extra.name == "custom"
    assert not extra.is_business_day(date(2026, 5, 14))
    assert CAL.is_business_day(date(2026, 5, 14))


def test_deadline_is_close_of_the_next_working_day() -> None:
    # Thursday 26 Nov 2026 -> due by the close of Friday 27: first late instant Sat 00:00.
    assert t_plus_1_deadline(date(2026, 11, 26), CAL) == datetime(2026, 11, 28, tzinfo=UTC)
    # Friday -> Monday's close = Tuesday 00:00.
    friday = t_plus_1_deadline(date(2026, 11, 27), CAL)
    assert friday == datetime(2026, 12, 1, tzinfo=UTC)
    assert friday.tzinfo is not None
    # Saturday (a venue open on Saturdays) -> Monday's close too.
    assert t_plus_1_deadline(date(2026, 11, 28), CAL) == datetime(2026, 12, 1, tzinfo=UTC)
    # Good Friday 2026 (3 Apr) -> Tuesday 7 Apr's close (Easter Monday is closed).
    assert t_plus_1_deadline(date(2026, 4, 3), CAL) == datetime(2026, 4, 8, tzinfo=UTC)
    # Thursday 24 Dec -> 25, 26 closed, weekend -> Monday 28's close.
    assert t_plus_1_deadline(date(2026, 12, 24), CAL) == datetime(2026, 12, 29, tzinfo=UTC)


def test_deadline_in_a_local_time_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    got = t_plus_1_deadline(date(2026, 11, 26), CAL, tz="Europe/Paris")
    assert got == datetime(2026, 11, 28, tzinfo=paris)
    assert got.utcoffset() is not None
    # Midnight in Paris (UTC+1 in winter) is 23:00 UTC the day before.
    assert got.astimezone(UTC) == datetime(2026, 11, 27, 23, tzinfo=UTC)
    # Summer time: UTC+2.
    summer = t_plus_1_deadline(date(2026, 7, 1), CAL, tz=paris)
    assert summer.astimezone(UTC) == datetime(2026, 7, 2, 22, tzinfo=UTC)


def test_business_days_late() -> None:
    thu = date(2026, 11, 26)  # due by the close of Fri 27 Nov
    assert business_days_late(thu, datetime(2026, 11, 27, 23, 59, tzinfo=UTC), CAL) == 0
    # At the deadline instant is late: Saturday counts from Monday, 1 working day late.
    assert business_days_late(thu, datetime(2026, 11, 28, tzinfo=UTC), CAL) == 1
    assert business_days_late(thu, datetime(2026, 11, 30, 9, tzinfo=UTC), CAL) == 1
    assert business_days_late(thu, datetime(2026, 12, 2, 9, tzinfo=UTC), CAL) == 3
