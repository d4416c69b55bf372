"""The campaign analytics rollups (issue 14), kept incrementally where messages move and rebuilt
from the message rows.

- `CampaignStateCount`: messages per state now (the funnel), moved by every `dispatch.transition`.
- `CampaignLatencyCount`: delivered messages by latency bucket (sent → delivered).
- `CampaignSourceStats`: messages sent and the bad reports they got, per audience source and the
  Vietnam day and hour the message was *sent* (bad-report attribution).
- `CampaignAudienceSource`: the lists (with their import file) and segments a started campaign's
  recipients came from; `SourceResolver` gives each new message row its source at start.

Definitions, the same for both ways of computing them (`record_*` as things happen, `rebuild` from
the rows; `tests/campaigns/test_analytics_rollups.py` checks that they agree):
- sent: a message that reached `accepted` or `delivered` (`accepted_at` or `delivered_at` set);
- its send moment: `sending_at`, else `accepted_at`, else `delivered_at`, else `created_at`;
- latency: `delivered_at` minus (`sending_at`, else `accepted_at`, else `created_at`);
- a bad report: the message's one BAD_REPORT timeline entry (`campaigns.reports` writes it once).

Increments are one multi-row `INSERT … ON CONFLICT DO UPDATE` per table, keys sorted (two
transactions never lock the same counters in opposite orders).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, Count, DateTimeField, DurationField, ExpressionWrapper, F, Q, Value, When
from django.db.models.functions import Coalesce, ExtractHour, TruncDate

from audiences.models import ContactImport, ContactList, ContactListMember, Segment
from audiences.selectors import segment_contacts
from campaigns.models import (
    Campaign,
    CampaignAudienceSource,
    CampaignLatencyCount,
    CampaignMessage,
    CampaignMessageEvent,
    CampaignSourceStats,
    CampaignStateCount,
)
from zalo_admin.lib.dates import VIETNAM, vietnam_day, vietnam_hour

S = CampaignMessage.State
# campaigns.reports.BAD_REPORT: the error code of a bad report's timeline entry (reports sits above
# this module, so the value is repeated here; the rebuild test fails if they part).
BAD_REPORT_CODE = "BAD_REPORT"
UNKNOWN_SOURCE = 0

# Upper bounds (inclusive) of the latency buckets; the last bucket has none.
LATENCY_BUCKETS: tuple[timedelta | None, ...] = (
    timedelta(seconds=5),
    timedelta(seconds=15),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    None,
)


def latency_bucket(latency: timedelta) -> int:
    """The bucket of a delivery latency (a negative one, a provider's clock ahead, is the first)."""
    for index, bound in enumerate(LATENCY_BUCKETS):
        if bound is None or latency <= bound:
            return index
    raise AssertionError("the last bucket has no bound")


def send_moment(sending_at, accepted_at, delivered_at, created_at) -> datetime:
    return sending_at or accepted_at or delivered_at or created_at


def _latency_start(sending_at, accepted_at, created_at) -> datetime:
    return sending_at or accepted_at or created_at


# --- increments -------------------------------------------------------------------------------------


def _upsert_many(
    model, keys: tuple[str, ...], counters: tuple[str, ...], rows: dict[tuple, tuple], conflict=None
) -> None:
    """Add each row's counters to the row of its key, creating it (one statement, keys sorted);
    `conflict`: the unique columns among `keys` (default all of them)."""
    rows = {key: values for key, values in rows.items() if any(values)}
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    key_columns = [model._meta.get_field(name).column for name in keys]
    conflict_columns = [model._meta.get_field(name).column for name in (conflict or keys)]
    counter_columns = [model._meta.get_field(name).column for name in counters]
    placeholders = "(" + ", ".join(["%s"] * (len(keys) + len(counters))) + ")"
    params: list = []
    for key in sorted(rows):
        params.extend(key)
        params.extend(rows[key])
    # Only model metadata (table and column names) is interpolated; values go in as parameters.
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in key_columns + counter_columns)}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * len(rows))} "
        f"ON CONFLICT ({', '.join(quote(c) for c in conflict_columns)}) DO UPDATE SET "
        + ", ".join(f"{quote(c)} = {table}.{quote(c)} + EXCLUDED.{quote(c)}" for c in counter_columns)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _add_states(deltas: Counter) -> None:
    _upsert_many(
        CampaignStateCount, ("campaign_id", "state"), ("count",), {k: (v,) for k, v in deltas.items()}
    )


def _add_latencies(counts: Counter) -> None:
    _upsert_many(
        CampaignLatencyCount, ("campaign_id", "bucket"), ("count",), {k: (v,) for k, v in counts.items()}
    )


def _add_source_stats(sent: Counter, bad: Counter) -> None:
    keys = set(sent) | set(bad)
    _upsert_many(
        CampaignSourceStats,
        ("campaign_id", "oa_id", "source_key", "day", "hour"),
        ("sent", "bad_reports"),
        {key: (sent.get(key, 0), bad.get(key, 0)) for key in keys},
        conflict=("campaign_id", "source_key", "day", "hour"),
    )


_ROW_FIELDS = (
    "pk", "campaign_id", "campaign__oa_id", "audience_source_id",
    "sending_at", "accepted_at", "delivered_at", "created_at",
)  # fmt: skip


def _source_key(campaign_id, oa_id, source_id, moment: datetime) -> tuple:
    return (campaign_id, oa_id, source_id or UNKNOWN_SOURCE, vietnam_day(moment), vietnam_hour(moment))


def record_transitions(moved: list[tuple], new: str) -> None:
    """After `dispatch.transition` moved rows to `new` (each: id, the state it left, then
    `dispatch.MOVED_MESSAGE_COLUMNS`): the state counts, and for a move into accepted /
    delivered the sent counters and the latency buckets."""
    if not moved:
        return
    oa_of = dict(Campaign.objects.filter(pk__in={row[2] for row in moved}).values_list("pk", "oa_id"))
    states: Counter = Counter()
    sent: Counter = Counter()
    latencies: Counter = Counter()
    for _pk, old, campaign_id, source_id, sending_at, accepted_at, delivered_at, created_at in moved:
        states[(campaign_id, old)] -= 1
        states[(campaign_id, new)] += 1
        if new == S.ACCEPTED or (new == S.DELIVERED and old in (S.SENDING, S.UNCONFIRMED)):
            moment = send_moment(sending_at, accepted_at, delivered_at, created_at)
            sent[_source_key(campaign_id, oa_of[campaign_id], source_id, moment)] += 1
        if new == S.DELIVERED and delivered_at is not None:
            start = _latency_start(sending_at, accepted_at, created_at)
            latencies[(campaign_id, latency_bucket(delivered_at - start))] += 1
    _add_states(states)
    _add_source_stats(sent, Counter())
    _add_latencies(latencies)


def record_bad_report(message_id: int) -> None:
    """A message got its (one) bad report: counted at the day, hour and source it was sent with."""
    row = CampaignMessage.objects.filter(pk=message_id).values_list(*_ROW_FIELDS).first()
    if row is None:
        return
    _pk, campaign_id, oa_id, source_id, sending_at, accepted_at, delivered_at, created_at = row
    moment = send_moment(sending_at, accepted_at, delivered_at, created_at)
    _add_source_stats(Counter(), Counter({_source_key(campaign_id, oa_id, source_id, moment): 1}))


# --- sources, at start --------------------------------------------------------------------------------


class SourceResolver:
    """Attributes the recipients of a starting campaign to one audience source each: the first of
    the campaign's lists the contact is a member of (lowest list id; the member's import file makes
    it a source of its own), else the first segment (lowest id) whose filter matches the contact.
    Source rows are created on first use; `finish` stores the recipients per source and the
    campaign's state counts."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.list_ids = sorted(campaign.audience_lists.values_list("pk", flat=True))
        self.segments = list(Segment.objects.filter(campaigns=campaign).order_by("pk"))
        self._sources: dict[tuple, int] = {}
        self.recipients: Counter = Counter()

    def _source(self, key: tuple) -> int:
        if key not in self._sources:
            kind = key[0]
            if kind == CampaignAudienceSource.Kind.LIST:
                _kind, list_id, import_id = key
                source = CampaignAudienceSource.objects.create(
                    campaign=self.campaign,
                    kind=kind,
                    contact_list_id=list_id,
                    contact_import_id=import_id,
                    list_name=ContactList.objects.filter(pk=list_id).values_list("name", flat=True).first()
                    or "",
                    import_name=(
                        ContactImport.objects.filter(pk=import_id)
                        .values_list("original_name", flat=True)
                        .first()
                        or ""
                    )
                    if import_id
                    else "",
                )
            else:
                segment = next(s for s in self.segments if s.pk == key[1])
                source = CampaignAudienceSource.objects.create(
                    campaign=self.campaign, kind=kind, segment=segment, segment_name=segment.name
                )
            self._sources[key] = source.pk
        return self._sources[key]

    def sources_for(self, contact_ids) -> dict[int, int]:
        """{contact id: source id} for the contacts of one chunk (1 + one query per segment)."""
        remaining = set(contact_ids)
        found: dict[int, int] = {}
        if self.list_ids and remaining:
            members = (
                ContactListMember.objects.filter(contact_id__in=remaining, contact_list_id__in=self.list_ids)
                .order_by("contact_id", "contact_list_id")
                .values_list("contact_id", "contact_list_id", "source_import_id")
            )
            for contact_id, list_id, import_id in members:
                if contact_id not in found:
                    found[contact_id] = self._source((CampaignAudienceSource.Kind.LIST, list_id, import_id))
            remaining -= set(found)
        for segment in self.segments:
            if not remaining:
                break
            matched = set(
                segment_contacts(segment.definition).filter(pk__in=remaining).values_list("pk", flat=True)
            )
            for contact_id in matched:
                found[contact_id] = self._source((CampaignAudienceSource.Kind.SEGMENT, segment.pk))
            remaining -= matched
        return found

    def count(self, source_id: int | None) -> None:
        self.recipients[source_id or UNKNOWN_SOURCE] += 1

    def finish(self) -> None:
        for source_id, n in self.recipients.items():
            if source_id != UNKNOWN_SOURCE:
                CampaignAudienceSource.objects.filter(pk=source_id).update(recipients=n)
        _recount_states([self.campaign.pk])


def _recount_states(campaign_ids: list[int] | None) -> int:
    counts = CampaignStateCount.objects.all()
    messages = CampaignMessage.objects.all()
    if campaign_ids is not None:
        counts = counts.filter(campaign_id__in=campaign_ids)
        messages = messages.filter(campaign_id__in=campaign_ids)
    counts.delete()
    rows = messages.values("campaign_id", "state").order_by().annotate(n=Count("pk"))
    objects = [CampaignStateCount(campaign_id=r["campaign_id"], state=r["state"], count=r["n"]) for r in rows]
    CampaignStateCount.objects.bulk_create(objects, batch_size=2000)
    return len(objects)


# --- rebuild --------------------------------------------------------------------------------------


def _latency_case():
    latency = ExpressionWrapper(
        F("delivered_at") - Coalesce("sending_at", "accepted_at", "created_at"), output_field=DurationField()
    )
    whens = [
        When(latency__lte=bound, then=Value(index))
        for index, bound in enumerate(LATENCY_BUCKETS)
        if bound is not None
    ]
    return latency, Case(*whens, default=Value(len(LATENCY_BUCKETS) - 1))


def _moment(prefix: str = ""):
    return Coalesce(
        f"{prefix}sending_at",
        f"{prefix}accepted_at",
        f"{prefix}delivered_at",
        f"{prefix}created_at",
        output_field=DateTimeField(),
    )


ROLLUP_MODELS = (CampaignStateCount, CampaignLatencyCount, CampaignSourceStats)


@transaction.atomic
def rebuild(campaign_ids: list[int] | None = None) -> dict[str, int]:
    """Recompute the rollups (of `campaign_ids`, default every campaign) from the message rows and
    their bad-report entries, and each source's recipients; returns the rows written per table.
    On PostgreSQL the rollup tables are locked meanwhile (increments wait, none is lost)."""
    if connection.vendor == "postgresql":
        tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in ROLLUP_MODELS)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
    messages = CampaignMessage.objects.all()
    if campaign_ids is not None:
        messages = messages.filter(campaign_id__in=campaign_ids)
    written = {"states": _recount_states(campaign_ids)}

    latencies = CampaignLatencyCount.objects.all()
    sources = CampaignSourceStats.objects.all()
    if campaign_ids is not None:
        latencies = latencies.filter(campaign_id__in=campaign_ids)
        sources = sources.filter(campaign_id__in=campaign_ids)
    latencies.delete()
    sources.delete()

    latency, bucket = _latency_case()
    rows = (
        messages.filter(state=S.DELIVERED, delivered_at__isnull=False)
        .alias(latency=latency)
        .annotate(bucket=bucket)
        .values("campaign_id", "bucket")
        .order_by()
        .annotate(n=Count("pk"))
    )
    objects = [
        CampaignLatencyCount(campaign_id=r["campaign_id"], bucket=r["bucket"], count=r["n"]) for r in rows
    ]
    CampaignLatencyCount.objects.bulk_create(objects, batch_size=2000)
    written["latency"] = len(objects)

    stats: dict[tuple, list[int]] = {}
    sent_rows = (
        messages.filter(Q(accepted_at__isnull=False) | Q(delivered_at__isnull=False))
        .annotate(
            moment_day=TruncDate(_moment(), tzinfo=VIETNAM),
            moment_hour=ExtractHour(_moment(), tzinfo=VIETNAM),
        )
        .values("campaign_id", "campaign__oa_id", "audience_source_id", "moment_day", "moment_hour")
        .order_by()
        .annotate(n=Count("pk"))
    )
    for r in sent_rows:
        key = (
            r["campaign_id"],
            r["campaign__oa_id"],
            r["audience_source_id"] or 0,
            r["moment_day"],
            r["moment_hour"],
        )
        stats.setdefault(key, [0, 0])[0] += r["n"]
    bad_events = CampaignMessageEvent.objects.filter(error_code=BAD_REPORT_CODE)
    if campaign_ids is not None:
        bad_events = bad_events.filter(message__campaign_id__in=campaign_ids)
    bad_rows = (
        bad_events.annotate(
            moment_day=TruncDate(_moment("message__"), tzinfo=VIETNAM),
            moment_hour=ExtractHour(_moment("message__"), tzinfo=VIETNAM),
        )
        .values(
            "message__campaign_id",
            "message__campaign__oa_id",
            "message__audience_source_id",
            "moment_day",
            "moment_hour",
        )
        .order_by()
        .annotate(n=Count("message_id", distinct=True))
    )
    for r in bad_rows:
        key = (
            r["message__campaign_id"],
            r["message__campaign__oa_id"],
            r["message__audience_source_id"] or 0,
            r["moment_day"],
            r["moment_hour"],
        )
        stats.setdefault(key, [0, 0])[1] += r["n"]
    objects = [
        CampaignSourceStats(
            campaign_id=c, oa_id=oa, source_key=s, day=d, hour=h, sent=values[0], bad_reports=values[1]
        )
        for (c, oa, s, d, h), values in stats.items()
    ]
    CampaignSourceStats.objects.bulk_create(objects, batch_size=2000)
    written["sources"] = len(objects)

    recipients = dict(
        messages.filter(audience_source_id__isnull=False)
        .values("audience_source_id")
        .order_by()
        .annotate(n=Count("pk"))
        .values_list("audience_source_id", "n")
    )
    audience_sources = CampaignAudienceSource.objects.all()
    if campaign_ids is not None:
        audience_sources = audience_sources.filter(campaign_id__in=campaign_ids)
    changed = []
    for source in audience_sources.only("pk", "recipients"):
        if source.recipients != recipients.get(source.pk, 0):
            source.recipients = recipients.get(source.pk, 0)
            changed.append(source)
    CampaignAudienceSource.objects.bulk_update(changed, ["recipients"], batch_size=2000)
    return written
