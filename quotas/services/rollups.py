"""Raw quota events (sent, bad report) and their daily and hourly rollups, bumped by one SQL upsert
each and rebuilt from the events."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce

from quotas import rules
from quotas.models import (
    CampaignDailyStats,
    CampaignHourlyStats,
    OADailyStats,
    OAHourlyStats,
    OAQuotaState,
    QuotaEvent,
    TemplateDailyStats,
    TemplateHourlyStats,
)
from quotas.services.levels import apply_guardrail
from quotas.services.state import create_quota_state
from zalo_admin.lib.dates import vietnam_day, vietnam_hour


def upsert_increment(model, keys: dict, increments: dict) -> None:
    """INSERT … ON CONFLICT DO UPDATE adding `increments` to the row identified by `keys` (atomic)."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = {model._meta.get_field(name).column: value for name, value in {**keys, **increments}.items()}
    key_columns = [model._meta.get_field(name).column for name in keys]
    increment_columns = [model._meta.get_field(name).column for name in increments]
    quote = connection.ops.quote_name
    # Only model metadata (table and column names) is interpolated; values go in as parameters.
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in key_columns)}) DO UPDATE SET "
        + ", ".join(f"{quote(c)} = {table}.{quote(c)} + EXCLUDED.{quote(c)}" for c in increment_columns)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(columns.values()))


def _bump_rollups(event: QuotaEvent) -> None:
    counter = "sent" if event.kind == QuotaEvent.Kind.SENT else "bad_reports"
    increments = {counter: event.count}
    daily_increments = dict(increments)
    if event.kind == QuotaEvent.Kind.SENT and event.tag in (1, 2):
        daily_increments["transactional_sent"] = event.count
    upsert_increment(OADailyStats, {"oa_id": event.oa_id, "day": event.day}, daily_increments)
    upsert_increment(OAHourlyStats, {"oa_id": event.oa_id, "day": event.day, "hour": event.hour}, increments)
    if event.campaign_id:
        keys = {"campaign_id": event.campaign_id, "day": event.day}
        upsert_increment(CampaignDailyStats, keys, increments)
        upsert_increment(CampaignHourlyStats, {**keys, "hour": event.hour}, increments)
    if event.template_id:
        keys = {"template_id": event.template_id, "day": event.day}
        upsert_increment(TemplateDailyStats, keys, increments)
        upsert_increment(TemplateHourlyStats, {**keys, "hour": event.hour}, increments)


def _record_event(kind, oa_id, occurred_at, count, campaign_id, template_id, tag) -> QuotaEvent:
    if count < 1:
        raise ValueError("count must be at least 1")
    event = QuotaEvent.objects.create(
        oa_id=oa_id,
        kind=kind,
        occurred_at=occurred_at,
        day=vietnam_day(occurred_at),
        hour=vietnam_hour(occurred_at),
        count=count,
        tag=tag,
        campaign_id=campaign_id,
        template_id=template_id,
    )
    _bump_rollups(event)
    return event


@transaction.atomic
def record_sent(
    oa_id: int,
    sent_at: datetime,
    count: int = 1,
    campaign_id: int | None = None,
    template_id: int | None = None,
    tag: int | None = None,
) -> QuotaEvent:
    """Record `count` messages the platform accepted; starts the review clock on the first send."""
    create_quota_state(oa_id)
    event = _record_event(QuotaEvent.Kind.SENT, oa_id, sent_at, count, campaign_id, template_id, tag)
    # First ever send on day X: the review clock starts on X + 1 (unless a level change started it).
    OAQuotaState.objects.filter(oa_id=oa_id, first_send_day__isnull=True).update(
        first_send_day=event.day,
        review_clock_start=Coalesce(F("review_clock_start"), event.day + timedelta(days=1)),
    )
    if tag == rules.MARKETING_TAG:
        OAQuotaState.objects.filter(oa_id=oa_id, first_marketing_day__isnull=True).update(
            first_marketing_day=event.day
        )
    return event


@transaction.atomic
def record_bad_report(
    oa_id: int,
    reported_at: datetime,
    count: int = 1,
    campaign_id: int | None = None,
    template_id: int | None = None,
    tag: int | None = None,
) -> QuotaEvent:
    """Record `count` bad reports (on the Vietnam day they arrived) and apply the OA's guardrail."""
    create_quota_state(oa_id)
    event = _record_event(
        QuotaEvent.Kind.BAD_REPORT, oa_id, reported_at, count, campaign_id, template_id, tag
    )
    apply_guardrail(oa_id, event.day)
    return event


ROLLUP_MODELS = (
    OADailyStats,
    OAHourlyStats,
    CampaignDailyStats,
    CampaignHourlyStats,
    TemplateDailyStats,
    TemplateHourlyStats,
)


@transaction.atomic
def rebuild_rollups() -> int:
    """Recompute every rollup from the raw events (days without events disappear); returns rows written."""
    if connection.vendor == "postgresql":
        # Hold off concurrent increments so none is lost between the delete and the re-insert.
        tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in ROLLUP_MODELS)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
    for model in ROLLUP_MODELS:
        model.objects.all().delete()
    sent = Sum("count", filter=Q(kind=QuotaEvent.Kind.SENT), default=0)
    bad = Sum("count", filter=Q(kind=QuotaEvent.Kind.BAD_REPORT), default=0)
    transactional = Sum("count", filter=Q(kind=QuotaEvent.Kind.SENT, tag__in=(1, 2)), default=0)
    written = 0
    groupings = (
        (OADailyStats, ("oa_id", "day"), {"transactional_sent": transactional}),
        (OAHourlyStats, ("oa_id", "day", "hour"), {}),
        (CampaignDailyStats, ("campaign_id", "day"), {}),
        (CampaignHourlyStats, ("campaign_id", "day", "hour"), {}),
        (TemplateDailyStats, ("template_id", "day"), {}),
        (TemplateHourlyStats, ("template_id", "day", "hour"), {}),
    )
    for model, keys, extra in groupings:
        events = QuotaEvent.objects.filter(**{f"{keys[0]}__isnull": False})
        rows = events.values(*keys).order_by().annotate(sent=sent, bad_reports=bad, **extra)
        objects = [model(**row) for row in rows.iterator()]
        model.objects.bulk_create(objects, batch_size=2000)
        written += len(objects)
    return written
