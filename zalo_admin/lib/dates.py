"""Vietnam calendar days and hours: quota days and Decree 91 quiet hours are Vietnam time (UTC+7).

Pure (no Django): the product, the rules engine and the sandbox share these. A naive moment is
taken as UTC, as the database stores it.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def vietnam_day(moment: datetime) -> date:
    """The Vietnam calendar day of an aware moment (naive moments are taken as UTC)."""
    return _aware(moment).astimezone(VIETNAM).date()


def vietnam_hour(moment: datetime) -> int:
    """The Vietnam hour (0–23) of an aware moment (naive moments are taken as UTC)."""
    return _aware(moment).astimezone(VIETNAM).hour


def today_in_vietnam(now: datetime | None = None) -> date:
    """Today's Vietnam calendar day (of `now` when given)."""
    return vietnam_day(now or datetime.now(UTC))


def vietnam_midnight(day: date) -> datetime:
    """00:00 Vietnam time at the start of `day`, as an aware moment."""
    return datetime(day.year, day.month, day.day, tzinfo=VIETNAM)
