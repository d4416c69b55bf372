"""RQ entry points of alerts: thin, take ids, safe to run twice."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from alerts import delivery, relay, services
from alerts.models import Alert, Delivery, ReportRelay
from zalo_admin.jobs import enqueue


def fan_out_alert(alert_id: int) -> int:
    return len(services.fan_out(alert_id))


def deliver(delivery_id: int) -> str:
    return delivery.deliver(delivery_id)


def relay_reports(campaign_id: int) -> int:
    return len(relay.relay_reports(campaign_id))


def deliver_due() -> dict:
    """Every minute: the backstop for work whose job was lost (Redis down at commit, a worker
    killed) and, when jobs run in-process (no scheduler), the retries that came due."""
    now = timezone.now()
    grace = timedelta(seconds=0 if settings.JOBS_IN_PROCESS else 120)
    alerts = list(
        Alert.objects.filter(fanned_out_at=None, created_at__lte=now - grace).values_list("pk", flat=True)[
            :500
        ]
    )
    for alert_id in alerts:
        services.fan_out(alert_id)
    due = Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now - grace) | Q(
        status=Delivery.Status.SENDING, lease_until__lt=now
    )
    deliveries = list(
        Delivery.objects.filter(due).order_by("next_attempt_at").values_list("pk", flat=True)[:500]
    )
    for delivery_id in deliveries:
        enqueue(delivery.DELIVER_JOB, delivery_id)
    campaigns = list(
        ReportRelay.objects.filter(created_at__lte=now - grace)
        .order_by()
        .values_list("campaign_id", flat=True)
        .distinct()[:100]
    )
    for campaign_id in campaigns:
        enqueue(relay.RELAY_JOB, campaign_id)
    return {"alerts": len(alerts), "deliveries": len(deliveries), "relays": len(campaigns)}
