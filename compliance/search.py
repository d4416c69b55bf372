"""The auditor's search of the audit log: filters by actor, action, object and time, newest first,
with keyset pagination on the chain position (no OFFSET, no COUNT over the whole log)."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet

from compliance.actions import ACTIONS
from compliance.models import AuditEvent
from zalo_admin.lib.dates import VIETNAM

PAGE_SIZE = 50


class BadFilter(ValueError):
    """A filter value that cannot be used; `str()` says which and why, for the person."""


@dataclass
class AuditFilter:
    actor: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    day_from: date | None = None
    day_to: date | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def as_query(self) -> dict[str, str]:
        values = {
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "from": self.day_from.isoformat() if self.day_from else "",
            "to": self.day_to.isoformat() if self.day_to else "",
        }
        return {k: v for k, v in values.items() if v}


def _day(raw: str, name: str, errors: dict) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = f"{raw!r} is not a date (YYYY-MM-DD)"
        return None


def parse_filter(params) -> AuditFilter:
    """The filter from query parameters; unusable values are left out and named in `errors`."""
    errors: dict[str, str] = {}
    action = params.get("action", "").strip()[:64]
    if action and action not in ACTIONS:
        errors["action"] = f"unknown action {action!r}"
        action = ""
    result = AuditFilter(
        actor=params.get("actor", "").strip()[:150],
        action=action,
        target_type=params.get("target_type", "").strip()[:64],
        target_id=params.get("target_id", "").strip()[:64],
        day_from=_day(params.get("from", "").strip(), "from", errors),
        day_to=_day(params.get("to", "").strip(), "to", errors),
        errors=errors,
    )
    if result.day_from and result.day_to and result.day_from > result.day_to:
        errors["to"] = "the end day is before the start day"
        result.day_to = None
    return result


def _vietnam_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=VIETNAM)


def filtered(audit_filter: AuditFilter) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if audit_filter.actor:
        events = events.filter(actor=audit_filter.actor)
    if audit_filter.action:
        events = events.filter(action=audit_filter.action)
    if audit_filter.target_type:
        events = events.filter(target_type=audit_filter.target_type)
    if audit_filter.target_id:
        events = events.filter(target_id=audit_filter.target_id)
    if audit_filter.day_from:
        events = events.filter(occurred_at__gte=_vietnam_midnight(audit_filter.day_from))
    if audit_filter.day_to:
        events = events.filter(occurred_at__lt=_vietnam_midnight(audit_filter.day_to + timedelta(days=1)))
    return events


@dataclass
class AuditPage:
    entries: list[AuditEvent]
    newer: int | None  # `after` cursor for the newer page, None on the first page
    older: int | None  # `before` cursor for the older page, None on the last page


def page(audit_filter: AuditFilter, *, before: int | None = None, after: int | None = None) -> AuditPage:
    """One page, newest first: entries older than `before`, or newer than `after` (the page right
    above), or the newest ones."""
    events = filtered(audit_filter)
    if after is not None:
        rows = list(events.filter(seq__gt=after).order_by("seq")[: PAGE_SIZE + 1])
        more_newer = len(rows) > PAGE_SIZE
        rows = list(reversed(rows[:PAGE_SIZE]))
        older = rows[-1].seq if rows and events.filter(seq__lt=rows[-1].seq).exists() else None
        return AuditPage(rows, rows[0].seq if rows and more_newer else None, older)
    if before is not None:
        events = events.filter(seq__lt=before)
    rows = list(events.order_by("-seq")[: PAGE_SIZE + 1])
    more_older = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    newer = rows[0].seq if rows and before is not None else None
    return AuditPage(rows, newer, rows[-1].seq if rows and more_older else None)
