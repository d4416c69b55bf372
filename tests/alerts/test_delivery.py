"""Alerts reaching people: e-mail (Django's locmem outbox), signed webhooks verified by a real local
HTTP server, retries as RQ jobs, final failures, each person's choices, SSRF refusals."""

import json
import time
from datetime import timedelta

import django_rq
import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rq import SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from alerts import delivery, services, signing
from alerts.models import Alert, AlertPreference, Channel, Delivery, DeliveryAttempt, Kind, WebhookEndpoint
from compliance.models import AuditEvent
from quotas.models import OADailyStats
from quotas.services import levels


def trip_guardrail(oa, today):
    OADailyStats.objects.create(oa=oa, day=today, sent=10000, bad_reports=350)
    levels.apply_guardrail(oa.pk, today)
    return Alert.objects.get(kind=Kind.GUARDRAIL)


def endpoint_for(receiver, kinds=("guardrail",), **extra) -> tuple[WebhookEndpoint, str]:
    return services.create_endpoint(
        name="Ops chat", url=receiver.url, kinds=list(kinds), actor="system:test", **extra
    )


def test_an_alert_is_mailed_to_those_who_may_see_it_and_chose_e_mail(
    people, oa, today, django_capture_on_commit_callbacks
):
    AlertPreference.objects.create(
        user=people["marketer"], kind=Kind.GUARDRAIL, channel=Channel.EMAIL, enabled=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        alert = trip_guardrail(oa, today)
    # The quality admin by default; the marketer opted out; the auditor does not see quality.
    assert [m.to for m in mail.outbox] == [["quality@example.com"]]
    assert mail.outbox[0].subject == f"[Zalo OA] Guardrail tripped on {oa.name}"
    assert reverse("quotas:oa_detail", args=[oa.pk]) in mail.outbox[0].body
    sent = Delivery.objects.get(alert=alert, channel=Channel.EMAIL)
    assert (sent.status, sent.attempts, sent.user) == (Delivery.Status.SENT, 1, people["quality"])
    assert DeliveryAttempt.objects.get(delivery=sent).outcome == DeliveryAttempt.Outcome.SENT


def test_a_webhook_post_is_signed_over_its_raw_body_and_the_secret_is_encrypted_at_rest(
    receiver, oa, today, django_capture_on_commit_callbacks
):
    endpoint, secret = endpoint_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        alert = trip_guardrail(oa, today)
    [request] = receiver.requests
    header = request["headers"]["X-Signature"]
    assert signing.verify(secret, header, request["body"], now=int(time.time()))
    assert not signing.verify(secret, header, request["body"] + b" ", now=int(time.time()))
    assert not signing.verify("whsec_other", header, request["body"], now=int(time.time()))
    assert not signing.verify(secret, header, request["body"], now=int(time.time()) + 3600)  # replayed later
    body = json.loads(request["body"])
    assert (body["type"], body["kind"], body["id"], body["oa"]["id"]) == (
        "alert",
        "guardrail",
        alert.pk,
        oa.pk,
    )
    assert body["text"].startswith(f"Guardrail tripped on {oa.name}: Quality guardrail")
    assert request["headers"]["X-Delivery-Id"].startswith("d")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM alerts_webhookendpoint WHERE id = %s", [endpoint.pk])
        stored = cursor.fetchone()[0]
    assert secret not in stored and stored.startswith("gAAAA")
    audit = AuditEvent.objects.get(action="alert.webhook.create")
    assert secret not in json.dumps(audit.details)


def test_a_500_is_retried_as_a_scheduled_rq_job_and_the_next_try_succeeds(
    receiver, oa, today, settings, django_capture_on_commit_callbacks
):
    settings.JOBS_IN_PROCESS = False
    endpoint_for(receiver)
    receiver.statuses = [500]
    queue = django_rq.get_queue("default")
    with django_capture_on_commit_callbacks(execute=True):
        trip_guardrail(oa, today)
    for _job in ("fan-out", "post"):
        with django_capture_on_commit_callbacks(execute=True):
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
    hook = Delivery.objects.get(channel=Channel.WEBHOOK)
    assert (hook.status, hook.attempts, hook.last_error) == (Delivery.Status.PENDING, 1, "HTTP 500")
    wait = (hook.next_attempt_at - timezone.now()).total_seconds()
    assert settings.ALERTS_RETRY_BASE_SECONDS / 2 - 1 <= wait <= settings.ALERTS_RETRY_BASE_SECONDS
    registry = ScheduledJobRegistry(queue=queue)
    [job_id] = registry.get_job_ids()
    assert Job.fetch(job_id, connection=queue.connection).args == (hook.pk,)
    # Time passes: the scheduler moves the job to the queue.
    Delivery.objects.filter(pk=hook.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    registry.remove(job_id)
    queue.enqueue_job(Job.fetch(job_id, connection=queue.connection))
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    hook.refresh_from_db()
    assert (hook.status, hook.attempts) == (Delivery.Status.SENT, 2)
    outcomes = list(hook.attempt_rows.values_list("outcome", "status_code"))
    assert outcomes == [("retry", 500), ("sent", 200)]
    assert len(receiver.requests) == 2
    assert (
        receiver.requests[0]["headers"]["X-Delivery-Id"] == receiver.requests[1]["headers"]["X-Delivery-Id"]
    )


def test_after_the_last_try_the_delivery_is_failed_for_good_with_every_attempt_recorded(
    receiver, oa, today, settings, django_capture_on_commit_callbacks
):
    settings.ALERTS_DELIVERY_ATTEMPTS = 3
    endpoint_for(receiver)
    receiver.statuses = [503, 503, 503]
    with django_capture_on_commit_callbacks(execute=True):
        trip_guardrail(oa, today)
    hook = Delivery.objects.get(channel=Channel.WEBHOOK)
    for _ in range(2):
        Delivery.objects.filter(pk=hook.pk).update(next_attempt_at=timezone.now())
        assert delivery.deliver(hook.pk) in ("retry", "failed")
    hook.refresh_from_db()
    assert (hook.status, hook.attempts, hook.last_error) == (Delivery.Status.FAILED, 3, "HTTP 503")
    assert list(hook.attempt_rows.values_list("outcome", flat=True)) == ["retry", "retry", "failed"]
    assert delivery.deliver(hook.pk) == "not_due"  # a failed delivery is never tried again
    assert len(receiver.requests) == 3


def test_a_client_error_is_not_retried(receiver, oa, today, django_capture_on_commit_callbacks):
    endpoint_for(receiver)
    receiver.statuses = [404]
    with django_capture_on_commit_callbacks(execute=True):
        trip_guardrail(oa, today)
    hook = Delivery.objects.get(channel=Channel.WEBHOOK)
    assert (hook.status, hook.attempts, hook.last_error) == (Delivery.Status.FAILED, 1, "HTTP 404")


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.ALERTS_RETRY_BASE_SECONDS, settings.ALERTS_RETRY_MAX_SECONDS = 30, 600
    for attempt, ceiling in [(1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (9, 600)]:
        waits = [delivery.backoff_seconds(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jittered


def test_private_loopback_and_metadata_addresses_are_refused_in_production(receiver, oa, today, settings):
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:8000/x", "http://169.254.169.254/latest/", "http://10.0.0.5/", "http://[::1]/",
                "http://localhost/x", "ftp://example.com/x", "https://user:pw@example.com/x"):  # fmt: skip
        assert services.endpoint_url_error(url), url
        with pytest.raises(services.EndpointRejected):
            services.create_endpoint(name="x", url=url, kinds=["guardrail"], actor="system:test")
    assert services.endpoint_url_error("https://chat.example.com/hooks/abc") is None

    def resolves_to(address):
        return lambda host, port, proto: [(2, 1, 6, "", (address, port))]

    # A public-looking name that resolves inside the network is refused when posting.
    assert signing.address_problem(
        "https://evil.example/", allow_private=False, resolve=resolves_to("10.1.2.3")
    ) == (signing.PRIVATE_ADDRESS)
    assert (
        signing.address_problem(
            "https://ok.example/", allow_private=False, resolve=resolves_to("93.184.216.34")
        )
        is None
    )
    # An endpoint saved while allowed, posted to when not: refused for good, nothing leaves.
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True
    endpoint_for(receiver)
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False
    alert = Alert.objects.create(kind=Kind.GUARDRAIL, oa=oa, params={"oa_name": oa.name}, message="m")
    services.fan_out(alert.pk)
    hook = Delivery.objects.get(channel=Channel.WEBHOOK)
    assert delivery.deliver(hook.pk) == "failed"
    hook.refresh_from_db()
    assert "private, loopback or link-local" in hook.last_error
    assert receiver.requests == []


def test_each_person_chooses_kinds_and_channels_on_their_settings_page_audited(
    client, people, oa, today, django_capture_on_commit_callbacks
):
    marketer = people["marketer"]
    client.force_login(marketer)
    page = client.get(reverse("alerts:settings")).content.decode()
    assert 'value="guardrail:email" id="pref-guardrail-email" checked' in page
    chosen = [f"{kind}:dashboard" for kind in Kind.values if kind != Kind.CAMPAIGN_FINISHED]
    assert client.post(reverse("alerts:settings"), {"pref": chosen}).status_code == 302
    assert not AlertPreference.objects.get(user=marketer, kind=Kind.GUARDRAIL, channel=Channel.EMAIL).enabled
    assert "guardrail/email: off" in AuditEvent.objects.get(action="alert.preferences").details["changes"]
    with django_capture_on_commit_callbacks(execute=True):
        alert = trip_guardrail(oa, today)
    assert [m.to for m in mail.outbox] == [["quality@example.com"]]
    home = client.get(reverse("home")).content.decode()
    assert f"Guardrail tripped on {oa.name}" in home
    # Acknowledged: off the home page, kept in the list, audited.
    response = client.post(reverse("alerts:acknowledge", args=[alert.pk]), {"next": reverse("home")})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    alert.refresh_from_db()
    assert alert.acknowledged_by == marketer
    assert f"Guardrail tripped on {oa.name}" not in client.get(reverse("home")).content.decode()
    listing = client.get(reverse("alerts:index") + "?state=all").content.decode()
    assert f"Guardrail tripped on {oa.name}" in listing
    assert AuditEvent.objects.filter(action="alert.acknowledge").count() == 1


def test_the_auditor_sees_no_quality_alert_and_cannot_acknowledge_one(client, people, oa, today):
    alert = trip_guardrail(oa, today)
    client.force_login(people["auditor"])
    assert f"Guardrail tripped on {oa.name}" not in client.get(reverse("alerts:index")).content.decode()
    assert client.post(reverse("alerts:acknowledge", args=[alert.pk])).status_code == 404


def test_quality_admins_add_an_endpoint_see_its_secret_once_and_test_it(
    client, people, receiver, django_capture_on_commit_callbacks
):
    client.force_login(people["quality"])
    response = client.post(
        reverse("alerts:webhooks"),
        {"name": "Team chat", "url": receiver.url, "kinds": ["guardrail", "violation"], "is_active": "on"},
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    assert endpoint.secret not in client.get(reverse("alerts:webhooks")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("alerts:webhook_test", args=[endpoint.pk]))
    [request] = receiver.requests
    assert json.loads(request["body"])["type"] == "test"
    assert signing.verify(
        endpoint.secret, request["headers"]["X-Signature"], request["body"], now=int(time.time())
    )
    old = endpoint.secret
    client.post(reverse("alerts:webhook_rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert {"alert.webhook.create", "alert.webhook.test", "alert.webhook.rotate_secret"} <= set(
        AuditEvent.objects.values_list("action", flat=True)
    )
