"""RQ entry points of the providers app: thin, take ids, idempotent."""

import json
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from providers import handlers
from providers.models import WebhookEvent
from zalo_admin.jobs import enqueue

log = logging.getLogger(__name__)


def process_webhook_event(event_id: int) -> str:
    """Dispatch a stored webhook event to its handler once; safe to run twice."""
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, status=WebhookEvent.Status.RECEIVED)
            .first()
        )
        if event is None:
            return "skipped"  # already processed, or another worker has it
        event.attempts += 1
        try:
            with transaction.atomic():
                handlers.handler_for(event.event_name)(event, json.loads(event.raw_body))
        except Exception as exc:
            log.exception("webhook event #%s (%s) failed", event.pk, event.event_name)
            event.status = WebhookEvent.Status.FAILED
            event.error = f"{type(exc).__name__}: {exc}"[:2000]
            event.save(update_fields=["attempts", "status", "error"])
            return "failed"
        event.status = WebhookEvent.Status.PROCESSED
        event.processed_at = timezone.now()
        event.save(update_fields=["attempts", "status", "processed_at"])
        return "processed"


def requeue_unprocessed_webhook_events(older_than_seconds: int = 120) -> int:
    """Re-enqueue events stored but never processed (e.g. Redis was down when they arrived)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:1000]
    )
    for event_id in ids:
        enqueue(process_webhook_event, event_id, queue="high")
    return len(ids)
