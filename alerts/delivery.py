"""Sending one Delivery: an e-mail through Django's mail backend or a signed webhook POST.

A delivery is claimed with a conditional UPDATE (pending and due, or sending with its lease run
out), so two runs of the same job never send it twice at once; every try is a DeliveryAttempt row.
A failure that may pass (timeout, connection refused, HTTP 5xx / 408 / 429, SMTP trouble) is retried
after an exponential backoff with jitter (`ALERTS_RETRY_BASE_SECONDS` × 2^(n-1), capped at
`ALERTS_RETRY_MAX_SECONDS`, then drawn between half and all of it, so endpoints that came back are
not hit by every retry at once), as an RQ job scheduled for then, up to `ALERTS_DELIVERY_ATTEMPTS`
tries; after the last, or at once for what a repeat cannot fix (HTTP 4xx, a redirect, an address
refused as private, an endpoint switched off), the delivery is failed for good and says why.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from smtplib import SMTPException

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts import signing
from alerts.models import Channel, Delivery, DeliveryAttempt
from zalo_admin.jobs import enqueue_at

log = logging.getLogger(__name__)

DELIVER_JOB = "alerts.jobs.deliver"
LEASE_SECONDS = 120
USER_AGENT = "zalo-oa-console-alerts/1"
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, permanent: bool, status_code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


def backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> float:
    """The wait after failed try `attempt` (1-based): exponential, capped, with "equal jitter"."""
    ceiling = min(settings.ALERTS_RETRY_MAX_SECONDS, settings.ALERTS_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def _claim(delivery_id: int, now: datetime) -> Delivery | None:
    due = Q(status=Delivery.Status.PENDING) & (Q(next_attempt_at=None) | Q(next_attempt_at__lte=now))
    stale = Q(status=Delivery.Status.SENDING, lease_until__lt=now)
    claimed = Delivery.objects.filter(due | stale, pk=delivery_id).update(
        status=Delivery.Status.SENDING,
        lease_until=now + timedelta(seconds=LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    return Delivery.objects.select_related("endpoint").get(pk=delivery_id)


def _send_email(delivery: Delivery) -> None:
    message = EmailMessage(
        subject=delivery.subject,
        body=delivery.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.address],
    )
    try:
        message.send(fail_silently=False)
    except (SMTPException, OSError) as exc:
        raise DeliveryFailed(f"e-mail not sent: {exc.__class__.__name__}: {exc}", permanent=False) from None


def _post_webhook(delivery: Delivery) -> int:
    endpoint = delivery.endpoint
    if endpoint is None:
        raise DeliveryFailed("the endpoint was deleted", permanent=True)
    if not endpoint.is_active:
        raise DeliveryFailed("the endpoint is switched off", permanent=True)
    url = endpoint.url
    problem = signing.address_problem(url, allow_private=settings.ALERTS_WEBHOOK_ALLOW_PRIVATE)
    if problem == signing.UNRESOLVABLE:
        raise DeliveryFailed(f"the host of {url} does not resolve", permanent=False)
    if problem == signing.PRIVATE_ADDRESS:
        raise DeliveryFailed(
            f"refused: {url} resolves to a private, loopback or link-local address", permanent=True
        )
    if problem:
        raise DeliveryFailed(
            f"refused: {url} is not an http(s) address we post to ({problem})", permanent=True
        )
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        signing.SIGNATURE_HEADER: signing.signature_header(endpoint.secret, int(time.time()), body),
        # The same id on every try: a receiver can drop a repeat (a try whose answer we lost).
        "X-Delivery-Id": f"d{delivery.pk}",
    }
    timeout = (
        settings.ALERTS_WEBHOOK_CONNECT_TIMEOUT_MS / 1000,
        settings.ALERTS_WEBHOOK_READ_TIMEOUT_MS / 1000,
    )
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise DeliveryFailed(f"{exc.__class__.__name__} posting to {url}", permanent=False) from None
    except requests.RequestException as exc:
        raise DeliveryFailed(f"{exc.__class__.__name__} posting to {url}", permanent=True) from None
    status = response.status_code
    response.close()
    if 200 <= status < 300:
        return status
    if 300 <= status < 400:
        raise DeliveryFailed(f"HTTP {status}: redirects are not followed", permanent=True, status_code=status)
    raise DeliveryFailed(f"HTTP {status}", permanent=status not in RETRYABLE_STATUSES, status_code=status)


def deliver(delivery_id: int, *, now: datetime | None = None) -> str:
    """Try the delivery once if it is due: "sent", "retry", "failed" or "not_due" (nothing to do)."""
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return "not_due"
    started = time.monotonic()
    status_code, error, permanent = None, "", False
    try:
        if delivery.channel == Channel.EMAIL:
            _send_email(delivery)
        else:
            status_code = _post_webhook(delivery)
    except DeliveryFailed as exc:
        status_code, error, permanent = exc.status_code, str(exc)[:500], exc.permanent
    except Exception as exc:  # a bug or an unforeseen library error: recorded, retried, never lost
        log.exception("delivery #%s failed unexpectedly", delivery_id)
        error = f"{exc.__class__.__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    finished = timezone.now()
    if not error:
        outcome = DeliveryAttempt.Outcome.SENT
        values = {
            "status": Delivery.Status.SENT,
            "sent_at": finished,
            "last_error": "",
            "next_attempt_at": None,
        }
    elif permanent or delivery.attempts >= settings.ALERTS_DELIVERY_ATTEMPTS:
        outcome = DeliveryAttempt.Outcome.FAILED
        values = {"status": Delivery.Status.FAILED, "last_error": error, "next_attempt_at": None}
    else:
        outcome = DeliveryAttempt.Outcome.RETRY
        retry_at = finished + timedelta(seconds=backoff_seconds(delivery.attempts))
        values = {"status": Delivery.Status.PENDING, "last_error": error, "next_attempt_at": retry_at}
    with transaction.atomic():
        # Only the run that holds this try records it (a run whose lease ran out and was re-claimed
        # by another records nothing over the newer try).
        mine = Delivery.objects.filter(
            pk=delivery.pk, status=Delivery.Status.SENDING, attempts=delivery.attempts
        ).update(lease_until=None, **values)
        if not mine:
            return "not_due"
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            at=finished,
            duration_ms=duration_ms,
            status_code=status_code,
            outcome=outcome,
            error=error,
        )
        if outcome == DeliveryAttempt.Outcome.RETRY:
            enqueue_at(values["next_attempt_at"], DELIVER_JOB, delivery.pk)
    if outcome == DeliveryAttempt.Outcome.FAILED:
        log.warning("delivery #%s failed for good after %s tries: %s", delivery.pk, delivery.attempts, error)
    return outcome.value
