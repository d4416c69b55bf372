"""RQ entry points for the quota engine: thin, idempotent, arguments as ids or ISO strings."""

from datetime import datetime

from quotas.services import levels


def _moment(at: str | None) -> datetime | None:
    return datetime.fromisoformat(at) if at else None


def check_violations_hourly(at: str | None = None) -> int:
    """Every hour: the automatic-violation check of every OA for the hour that just ended."""
    return len(levels.run_violation_checks(_moment(at)))


def review_levels_daily(at: str | None = None) -> int:
    """At 00:00 Vietnam time: every OA's level review."""
    return levels.run_daily_reviews(_moment(at))
