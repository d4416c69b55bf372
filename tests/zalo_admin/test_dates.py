"""Vietnam days and hours (zalo_admin.lib.dates): UTC+7, whatever the server's time zone."""

from datetime import UTC, date, datetime

from zalo_admin.lib import dates


def test_a_vietnam_day_starts_at_17_utc():
    assert dates.vietnam_day(datetime(2026, 3, 1, 16, 59, tzinfo=UTC)) == date(2026, 3, 1)
    assert dates.vietnam_day(datetime(2026, 3, 1, 17, 0, tzinfo=UTC)) == date(2026, 3, 2)
    assert dates.vietnam_hour(datetime(2026, 3, 1, 17, 0, tzinfo=UTC)) == 0


def test_a_naive_moment_is_taken_as_utc():
    assert dates.vietnam_day(datetime(2026, 3, 1, 17, 0)) == date(2026, 3, 2)
    assert dates.vietnam_hour(datetime(2026, 3, 1, 16, 0)) == 23


def test_today_in_vietnam_is_the_vietnam_day_of_now():
    assert dates.today_in_vietnam(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)) == date(2027, 1, 1)
    assert dates.today_in_vietnam() == dates.vietnam_day(datetime.now(UTC))


def test_a_vietnam_midnight_is_17_utc_the_day_before():
    assert dates.vietnam_midnight(date(2026, 3, 2)) == datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
