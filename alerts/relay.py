"""Relaying a campaign's delivery reports to its notifyUrl, signed like every outgoing webhook.

`campaigns.reports` calls `queue_delivery_report` for every report that changed or added something
(inside its transaction: one small INSERT, nothing waits for the operator's server). The URL must be
registered by a quality admin as a webhook endpoint that relays reports: its secret signs the posts,
and a marketer cannot make the server post to an address nobody approved. A job then posts the
waiting reports in batches of `ALERTS_RELAY_BATCH`, in Infobip's own shape (`{"results": [...]}`),
each batch one Delivery with the same retries as alerts.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import Channel, Delivery, ReportRelay, WebhookEndpoint
from campaigns.models import Campaign
from zalo_admin.jobs import enqueue

RELAY_JOB = "alerts.jobs.relay_reports"
DELIVER_JOB = "alerts.jobs.deliver"


def relay_endpoint_id(campaign_id: int) -> tuple[int | None, str]:
    """The active relaying endpoint registered for the campaign's notifyUrl, and the campaign's
    callbackData; (None, "") when the campaign has no notifyUrl or nobody registered it."""
    row = (
        Campaign.objects.filter(pk=campaign_id)
        .exclude(notify_url="")
        .values_list("notify_url", "callback_data")
        .first()
    )
    if row is None:
        return None, ""
    endpoint_id = (
        WebhookEndpoint.objects.filter(url=row[0], is_active=True, relay_reports=True)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    return endpoint_id, row[1]


def queue_delivery_report(campaign_id: int, entry: dict) -> bool:
    """Keep one report (Infobip's result shape) for the campaign's notifyUrl; True when queued."""
    endpoint_id, callback_data = relay_endpoint_id(campaign_id)
    if endpoint_id is None:
        return False
    if callback_data:
        entry = {**entry, "callbackData": callback_data}
    # A job is on its way while reports wait; the periodic backstop catches the rare one that
    # arrives as a job finishes.
    waiting = ReportRelay.objects.filter(campaign_id=campaign_id).exists()
    ReportRelay.objects.create(campaign_id=campaign_id, endpoint_id=endpoint_id, entry=entry)
    if not waiting:
        enqueue(RELAY_JOB, campaign_id)
    return True


def relay_reports(campaign_id: int) -> list[int]:
    """Post what waits for the campaign, in batches: one Delivery per batch (enqueued); its ids."""
    created = []
    while True:
        with transaction.atomic():
            rows = list(
                ReportRelay.objects.select_for_update(skip_locked=True)
                .filter(campaign_id=campaign_id)
                .select_related("endpoint")
                .order_by("pk")[: settings.ALERTS_RELAY_BATCH]
            )
            if not rows:
                return created
            by_endpoint: dict[int, list[ReportRelay]] = {}
            for row in rows:
                by_endpoint.setdefault(row.endpoint_id, []).append(row)
            for group in by_endpoint.values():
                endpoint = group[0].endpoint
                body = json.dumps(
                    {"results": [row.entry for row in group]}, ensure_ascii=False, separators=(",", ":")
                )
                delivery = Delivery.objects.create(
                    channel=Channel.WEBHOOK,
                    endpoint=endpoint,
                    campaign_id=campaign_id,
                    address=endpoint.url,
                    body=body,
                    reports=len(group),
                    next_attempt_at=timezone.now(),
                )
                enqueue(DELIVER_JOB, delivery.pk)
                created.append(delivery.pk)
            ReportRelay.objects.filter(pk__in=[row.pk for row in rows]).delete()
