"""Incoming webhooks: signature and age checks, replay protection, fast 200, job dispatch by event name."""

import hashlib
import json
import logging
import time

import django_rq
import pytest
from django.test import Client
from django.utils import timezone
from rq import SimpleWorker

from oas.models import OACredentials, OfficialAccount
from oas.services.report_urls import issue_infobip_webhook_token
from providers import handlers, jobs
from providers.models import WebhookEvent
from tests.providers.conftest import make_oa

pytestmark = pytest.mark.urls("tests.providers.urls")

ZALO_URL = "/webhooks/zalo/"


def now_ms(offset_seconds: float = 0) -> str:
    return str(int((time.time() + offset_seconds) * 1000))


def delivery_event(timestamp=None, msg_id="15a0cc0bbb13bd4ce403", oa_id="1234567890") -> dict:
    return {
        "sender": {"id": oa_id},
        "recipient": {"id": "84123456789"},
        "event_name": "user_received_message",
        "message": {"delivery_time": "1602960467432", "msg_id": msg_id, "tracking_id": "order-88213"},
        "app_id": "app-1",
        "timestamp": timestamp or now_ms(),
    }


def sign(body: bytes, timestamp: str, secret="oa-webhook-secret-1", first="app-1") -> str:  # noqa: S107
    return "mac=" + hashlib.sha256(first.encode() + body + timestamp.encode() + secret.encode()).hexdigest()


def post_zalo(client, payload: dict, signature: str | None = None, **sign_kwargs):
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    signature = signature if signature is not None else sign(body, payload["timestamp"], **sign_kwargs)
    return client.post(
        ZALO_URL,
        data=body,
        content_type="application/json",
        headers={"X-ZEvent-Signature": signature, "X-ZEvent-Server": "ZNS"},
    )


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def recorded(monkeypatch):
    """Register a recording handler for the delivery event (later issues register real ones)."""
    seen = []
    monkeypatch.setitem(
        handlers.HANDLERS, "user_received_message", lambda event, payload: seen.append(payload)
    )
    return seen


def test_a_signed_fresh_event_is_stored_answered_fast_and_processed_by_its_handler(
    oa, csrf_client, settings, django_capture_on_commit_callbacks, recorded
):
    settings.JOBS_IN_PROCESS = True
    payload = delivery_event()
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_zalo(csrf_client, payload)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json() == {"ok": True, "duplicate": False}
    assert elapsed < 1.0
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_name, event.oa, event.status) == (
        "zalo",
        "user_received_message",
        oa,
        "received",
    )
    assert json.loads(event.raw_body) == payload
    assert recorded == []  # nothing heavy happened inside the request
    for callback in callbacks:
        callback()
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED and event.processed_at is not None
    assert recorded == [payload]


def test_the_job_goes_through_a_real_rq_queue(oa, client, django_capture_on_commit_callbacks, recorded):
    with django_capture_on_commit_callbacks(execute=True):
        assert post_zalo(client, delivery_event()).status_code == 200
    queue = django_rq.get_queue("high")
    assert queue.count == 1
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert len(recorded) == 1


def test_events_without_a_registered_handler_are_just_marked_stored(
    oa, client, django_capture_on_commit_callbacks, settings
):
    settings.JOBS_IN_PROCESS = True
    payload = {
        "event_name": "change_oa_template_tags",
        "oa_id": "1234567890",
        "app_id": "app-1",
        "timestamp": now_ms(),
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert post_zalo(client, payload).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


@pytest.mark.parametrize(
    "forgery",
    ["wrong secret", "tampered body", "missing header", "bare garbage", "other app"],
)
def test_forged_events_are_refused_and_not_stored(oa, client, forgery):
    payload = delivery_event()
    body = json.dumps(payload, separators=(",", ":")).encode()
    signature = {
        "wrong secret": sign(body, payload["timestamp"], secret="guess"),
        "tampered body": sign(body, payload["timestamp"]),
        "missing header": "",
        "bare garbage": "mac=00",
        "other app": sign(body, payload["timestamp"], first="app-2"),
    }[forgery]
    if forgery == "tampered body":
        body = body.replace(b"84123456789", b"84999999999")
    response = client.post(
        ZALO_URL, data=body, content_type="application/json", headers={"X-ZEvent-Signature": signature}
    )
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("offset", [-301, -3600, 301])
def test_stale_or_future_events_are_refused(oa, client, settings, offset):
    settings.WEBHOOK_MAX_AGE_SECONDS = 300
    response = post_zalo(client, delivery_event(timestamp=now_ms(offset)))
    assert response.status_code == 400
    assert "stale" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_zalos_last_retry_an_hour_later_is_accepted_by_default(oa, client):
    assert post_zalo(client, delivery_event(timestamp=now_ms(-3600 - 60))).status_code == 200


def test_an_event_older_than_the_default_window_is_refused(oa, client):
    assert post_zalo(client, delivery_event(timestamp=now_ms(-7201))).status_code == 400


def test_a_replayed_event_is_answered_200_but_stored_and_processed_once(
    oa, client, settings, django_capture_on_commit_callbacks, recorded
):
    settings.JOBS_IN_PROCESS = True
    payload = delivery_event()
    with django_capture_on_commit_callbacks(execute=True):
        first = post_zalo(client, payload)
        second = post_zalo(client, payload)
    assert first.json()["duplicate"] is False
    assert second.status_code == 200 and second.json()["duplicate"] is True
    assert WebhookEvent.objects.count() == 1
    assert len(recorded) == 1


def test_a_redelivery_signed_with_a_new_timestamp_is_still_recognised(oa, client):
    assert post_zalo(client, delivery_event(timestamp=now_ms(-40))).json()["duplicate"] is False
    assert post_zalo(client, delivery_event(timestamp=now_ms())).json()["duplicate"] is True
    assert WebhookEvent.objects.count() == 1


def test_distinct_events_with_the_same_shape_are_kept_apart(oa, client):
    base = {
        "event_name": "change_oa_daily_quota",
        "oaId": "1234567890",
        "app_id": "app-1",
        "quota": {"prev_value": 5000, "new_value": 10000},
    }
    assert post_zalo(client, {**base, "timestamp": now_ms(-10)}).status_code == 200
    assert post_zalo(client, {**base, "timestamp": now_ms()}).status_code == 200
    assert WebhookEvent.objects.count() == 2


def test_only_post_is_allowed(client):
    assert client.get(ZALO_URL).status_code == 405
    assert client.put(ZALO_URL).status_code == 405


def test_bad_json_is_a_400(client):
    response = client.post(ZALO_URL, data=b"{nope", content_type="application/json")
    assert response.status_code == 400


def test_the_app_secret_signs_when_no_webhook_key_is_configured(db, client):
    make_oa(oa_secret_key="")
    assert post_zalo(client, delivery_event(), secret="app-secret-1").status_code == 200


def test_the_oa_id_can_be_configured_as_the_first_signature_term(oa, client, settings):
    settings.ZALO_WEBHOOK_SIGNATURE_FIRST_TERM = "oa_id"
    payload = delivery_event()
    assert post_zalo(client, payload).status_code == 403
    assert post_zalo(client, payload, first="1234567890").status_code == 200


def test_an_event_is_linked_to_the_oa_it_is_about_when_several_share_an_app(db, client):
    make_oa("111")
    second = make_oa("222", oa_secret_key="oa-webhook-secret-1")
    assert post_zalo(client, delivery_event(oa_id="222")).status_code == 200
    assert WebhookEvent.objects.get().oa == second


# --- Binding: an event acts only on the OA whose own key verified it --------------------------------


@pytest.fixture
def two_oas_one_app(db):
    """Two OAs on the same Zalo app, each with its own webhook key."""
    return make_oa("111", oa_secret_key="key-of-a"), make_oa("222", oa_secret_key="key-of-b")


def naming(oa_id: str, shape: str) -> dict:
    """An event that names `oa_id` in the field Zalo uses for that event type (provider-apis.md §1.14)."""
    base = {"app_id": "app-1", "timestamp": now_ms()}
    return {
        "oa_id": {**base, "event_name": "change_template_status", "oa_id": oa_id, "template_id": "100001"},
        "oaId": {**base, "event_name": "change_oa_daily_quota", "oaId": oa_id, "quota": {"new_value": 1}},
        "sender.id": delivery_event(oa_id=oa_id),
        "recipient.id": {
            **base,
            "event_name": "user_send_text",
            "sender": {"id": "9000000000000000001"},  # the user
            "recipient": {"id": oa_id},
            "message": {"text": "xin chào", "msg_id": "m-1"},
        },
    }[shape]


SHAPES = ["oa_id", "oaId", "sender.id", "recipient.id"]


@pytest.mark.parametrize("shape", SHAPES)
def test_an_event_signed_with_one_oas_key_that_names_another_oa_is_refused_stored_nowhere_and_logged(
    two_oas_one_app, client, caplog, shape
):
    payload = naming("222", shape)  # names B …
    with caplog.at_level("WARNING", logger="providers.webhooks"):
        response = post_zalo(client, payload, secret="key-of-a")  # … signed with A's key
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
    refusal = [r for r in caplog.records if r.name == "providers.webhooks" and r.levelname == "WARNING"]
    assert len(refusal) == 1
    text = refusal[0].getMessage()
    assert "222" in text and f"#{two_oas_one_app[0].pk}" in text
    assert "key-of-a" not in caplog.text and "mac=" not in caplog.text


@pytest.mark.parametrize("shape", SHAPES)
def test_the_same_event_naming_the_oa_whose_key_signed_it_is_bound_to_that_oa(two_oas_one_app, client, shape):
    first, second = two_oas_one_app
    assert post_zalo(client, naming("111", shape), secret="key-of-a").json()["duplicate"] is False
    assert post_zalo(client, naming("222", shape), secret="key-of-b").json()["duplicate"] is False
    assert [e.oa for e in WebhookEvent.objects.order_by("pk")] == [first, second]


def test_one_oas_event_never_passes_for_a_redelivery_of_another_oas(two_oas_one_app, client):
    """B's key holder sends a receipt carrying A's msg id first: A's own receipt must still count."""
    first = post_zalo(client, delivery_event(oa_id="222", msg_id="m-of-a"), secret="key-of-b")
    assert first.status_code == 200
    answer = post_zalo(client, delivery_event(oa_id="111", msg_id="m-of-a"), secret="key-of-a")
    assert answer.json() == {"ok": True, "duplicate": False}
    assert sorted(e.oa.zalo_oa_id for e in WebhookEvent.objects.all()) == ["111", "222"]


def test_an_event_naming_no_oa_is_bound_to_the_oa_whose_key_verified_it(two_oas_one_app, client):
    payload = {"event_name": "event_journey_time_out", "app_id": "app-1", "timestamp": now_ms()}
    assert post_zalo(client, payload, secret="key-of-b").status_code == 200
    assert WebhookEvent.objects.get().oa == two_oas_one_app[1]


def test_an_event_naming_two_different_oas_is_refused(two_oas_one_app, client):
    payload = {**delivery_event(oa_id="111"), "oa_id": "222"}
    for secret in ("key-of-a", "key-of-b"):
        assert post_zalo(client, payload, secret=secret).status_code == 403
    assert not WebhookEvent.objects.exists()


def test_an_event_naming_an_oa_we_do_not_have_is_refused(two_oas_one_app, client):
    assert post_zalo(client, delivery_event(oa_id="never-heard-of"), secret="key-of-a").status_code == 403
    assert not WebhookEvent.objects.exists()


def test_when_oas_share_one_key_the_oa_the_event_names_is_the_one_bound(db, client):
    """The app secret is app-wide: both OAs' credentials verify, so the named OA's are tried first."""
    first = make_oa("111", oa_secret_key="")
    second = make_oa("222", oa_secret_key="")
    assert post_zalo(client, delivery_event(oa_id="222"), secret="app-secret-1").status_code == 200
    assert (
        post_zalo(client, delivery_event(oa_id="111", msg_id="m-2"), secret="app-secret-1").status_code == 200
    )
    assert [e.oa for e in WebhookEvent.objects.order_by("pk")] == [second, first]


def test_a_failing_handler_marks_the_event_failed_and_running_the_job_again_is_harmless(
    oa, client, monkeypatch
):
    def broken(event, payload):
        raise RuntimeError("handler bug")

    monkeypatch.setitem(handlers.HANDLERS, "user_received_message", broken)
    post_zalo(client, delivery_event())
    event = WebhookEvent.objects.get()
    assert jobs.process_webhook_event(event.pk) == "failed"
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED and "handler bug" in event.error
    assert jobs.process_webhook_event(event.pk) == "skipped"


def test_processing_twice_runs_the_handler_once(oa, client, recorded):
    post_zalo(client, delivery_event())
    event = WebhookEvent.objects.get()
    assert jobs.process_webhook_event(event.pk) == "processed"
    assert jobs.process_webhook_event(event.pk) == "skipped"
    assert len(recorded) == 1


def test_events_stranded_without_a_job_are_requeued(oa, client, django_capture_on_commit_callbacks):
    post_zalo(client, delivery_event())
    WebhookEvent.objects.update(received_at=timezone.now() - timezone.timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.requeue_unprocessed_webhook_events() == 1
    assert django_rq.get_queue("high").count == 1


# --- Infobip ----------------------------------------------------------------------------------

DLR = {
    "results": [
        {
            "bulkId": "BULK-ID-123-xyz",
            "messageId": "45db39c3-7822-4e72-a3ec-c87442c0ffz9",
            "to": "41793026727",
            "sentAt": "2019-11-09T16:00:00.000+0000",
            "doneAt": "2019-11-09T16:00:00.000+0000",
            "messageCount": 1,
            "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            "status": {
                "groupId": 3,
                "groupName": "DELIVERED",
                "id": 5,
                "name": "DELIVERED_TO_HANDSET",
                "description": "Message delivered to handset",
            },
            "error": {
                "groupId": 0,
                "groupName": "OK",
                "id": 0,
                "name": "NO_ERROR",
                "description": "No Error",
                "permanent": False,
            },
            "channel": "ZALO_NOTIFICATION_SERVICE",
        }
    ]
}
INBOUND = {
    "results": [
        {
            "sender": "1234567890123456789",
            "to": "OFFICIAL-ACCOUNT-ID-XY12Z3",
            "integrationType": "ZALO_NOTIFICATION_SERVICE",
            "receivedAt": "2023-01-01T00:00:00.000+0000",
            "messageId": "1688025180464000014",
            "message": {"type": "USER_FEEDBACK", "eventName": "user_feedback", "rate": 5, "msgId": "m1"},
            "price": {"pricePerMessage": 0, "currency": "EUR"},
        }
    ],
    "messageCount": 1,
    "pendingMessageCount": 0,
}


@pytest.fixture
def infobip_oa(db):
    oa = make_oa(
        "ib-1",
        provider=OfficialAccount.Provider.INFOBIP,
        infobip_api_key="ib-key",
        infobip_sender="OFFICIAL-ACCOUNT-ID-XY12Z3",
    )
    return oa, issue_infobip_webhook_token(oa.pk)


@pytest.fixture
def other_infobip_oa(db):
    oa = make_oa(
        "ib-2",
        provider=OfficialAccount.Provider.INFOBIP,
        infobip_api_key="ib-key-2",
        infobip_sender="B-SENDER",
    )
    return oa, issue_infobip_webhook_token(oa.pk)


def with_result(body: dict, **fields) -> dict:
    return {**body, "results": [{**body["results"][0], **fields}]}


def post_infobip(client, token: str, body: dict):
    return client.post(f"/webhooks/infobip/{token}/", data=body, content_type="application/json")


@pytest.mark.parametrize(
    "body",
    [
        with_result(INBOUND, to="B-SENDER"),  # inbound: `to` is the OA's sender, `sender` the user (§2.9)
        with_result(DLR, sender="B-SENDER"),  # reports name no sender in the schema; one that does must match
        with_result(DLR, **{"from": "B-SENDER"}),
        {"results": [DLR["results"][0], with_result(INBOUND, to="B-SENDER")["results"][0]]},
    ],
    ids=["inbound to", "report sender", "report from", "one of several results"],
)
def test_an_infobip_event_through_one_oas_url_naming_another_oas_sender_is_refused_and_stored_nowhere(
    infobip_oa, other_infobip_oa, client, caplog, body
):
    _, token = infobip_oa
    with caplog.at_level("WARNING", logger="providers.webhooks"):
        response = post_infobip(client, token, body)
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
    assert any("B-SENDER" in r.getMessage() for r in caplog.records if r.name == "providers.webhooks")
    assert token not in caplog.text


def test_an_infobip_event_naming_the_url_oas_own_sender_is_stored_for_that_oa(
    infobip_oa, other_infobip_oa, client
):
    oa, token = infobip_oa
    other, other_token = other_infobip_oa
    assert (
        post_infobip(client, token, with_result(DLR, sender="OFFICIAL-ACCOUNT-ID-XY12Z3")).status_code == 200
    )
    assert post_infobip(client, other_token, with_result(INBOUND, to="B-SENDER")).status_code == 200
    assert [e.oa for e in WebhookEvent.objects.order_by("pk")] == [oa, other]


def test_without_a_configured_sender_the_oa_id_is_the_infobip_sender(db, client):
    oa = make_oa("ib-3", provider=OfficialAccount.Provider.INFOBIP, infobip_api_key="k", infobip_sender="")
    token = issue_infobip_webhook_token(oa.pk)
    assert post_infobip(client, token, with_result(INBOUND, to="someone-else")).status_code == 403
    assert post_infobip(client, token, with_result(INBOUND, to="ib-3")).status_code == 200
    assert WebhookEvent.objects.get().oa == oa


def test_an_infobip_report_to_the_oa_secret_url_is_stored_for_that_oa(infobip_oa, csrf_client):
    oa, token = infobip_oa
    response = csrf_client.post(f"/webhooks/infobip/{token}/", data=DLR, content_type="application/json")
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.provider, event.oa, event.event_name) == ("infobip", oa, handlers.INFOBIP_DELIVERY_REPORT)


def test_an_infobip_inbound_message_is_told_apart_from_a_delivery_report(infobip_oa, client):
    _, token = infobip_oa
    assert (
        client.post(f"/webhooks/infobip/{token}/", data=INBOUND, content_type="application/json").status_code
        == 200
    )
    assert WebhookEvent.objects.get().event_name == handlers.INFOBIP_INBOUND_MESSAGE


def test_an_unknown_infobip_url_token_is_refused(infobip_oa, client):
    response = client.post("/webhooks/infobip/guessed-token/", data=DLR, content_type="application/json")
    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()


def test_the_infobip_token_is_stored_hashed_and_encrypted_and_reissuing_kills_the_old_url(infobip_oa, client):
    oa, token = infobip_oa
    creds = OACredentials.objects.get(oa=oa)
    assert creds.infobip_webhook_token == token
    assert creds.infobip_webhook_token_hash == hashlib.sha256(token.encode()).hexdigest()
    new_token = issue_infobip_webhook_token(oa.pk)
    assert (
        client.post(f"/webhooks/infobip/{token}/", data=DLR, content_type="application/json").status_code
        == 404
    )
    assert (
        client.post(f"/webhooks/infobip/{new_token}/", data=DLR, content_type="application/json").status_code
        == 200
    )


def test_a_replayed_infobip_report_is_stored_once(infobip_oa, client):
    _, token = infobip_oa
    for _ in range(3):
        assert (
            client.post(f"/webhooks/infobip/{token}/", data=DLR, content_type="application/json").status_code
            == 200
        )
    assert WebhookEvent.objects.count() == 1


def test_an_infobip_body_without_results_is_a_400(infobip_oa, client):
    _, token = infobip_oa
    assert (
        client.post(f"/webhooks/infobip/{token}/", data={"x": 1}, content_type="application/json").status_code
        == 400
    )
    assert client.get(f"/webhooks/infobip/{token}/").status_code == 405


@pytest.mark.parametrize("case", ["unknown token 404", "bad body 400", "foreign sender 403"])
def test_the_infobip_url_token_never_reaches_the_logs(infobip_oa, other_infobip_oa, client, caplog, case):
    """Django's request logger writes the path of every 4xx ("Not Found: /webhooks/infobip/<token>/")."""
    _, token = infobip_oa
    with caplog.at_level("DEBUG"):
        if case == "unknown token 404":
            token = "guessed-but-still-secret-token"
            assert post_infobip(client, token, DLR).status_code == 404
        elif case == "bad body 400":
            assert post_infobip(client, token, {"x": 1}).status_code == 400
        else:
            assert post_infobip(client, token, with_result(INBOUND, to="B-SENDER")).status_code == 403
    request_log = [r for r in caplog.records if r.name == "django.request"]
    assert request_log, "Django logs the refused request"
    assert all(token not in r.getMessage() for r in caplog.records)
    assert token not in caplog.text
    assert "/webhooks/infobip/[redacted]/" in request_log[0].getMessage()


def test_the_console_handler_and_the_dev_server_log_redact_the_infobip_token(caplog):
    token = "tok_EN-secret"
    console = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    args = (f"/webhooks/infobip/{token}/?a=1", 3)
    record = logging.LogRecord("anything", logging.WARNING, __file__, 1, "seen %s and %s", args, None)
    assert console.filter(record)
    assert record.getMessage() == "seen /webhooks/infobip/[redacted]/?a=1 and 3"
    message = logging.LogRecord("x", logging.INFO, __file__, 1, f"GET /webhooks/infobip/{token}", None, None)
    assert console.filter(message) and message.getMessage() == "GET /webhooks/infobip/[redacted]"

    # runserver's access log: its own logger, which does not propagate to the root.
    server = logging.getLogger("django.server")
    assert console in server.handlers
    with caplog.at_level("INFO", logger="django.server"):  # pytest also listens on non-propagating loggers
        server.info('"%s" %s %s', f"POST /webhooks/infobip/{token}/ HTTP/1.1", "404", "31")
    redacted = '"POST /webhooks/infobip/[redacted]/ HTTP/1.1" 404 31'
    assert [r.getMessage() for r in caplog.records] == [redacted]
    assert token not in caplog.text


def test_a_body_that_is_not_utf8_is_a_400(client):
    response = client.post(ZALO_URL, data='{"a": "ă"}'.encode("utf-16"), content_type="application/json")
    assert response.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_a_real_rqworker_process_processes_the_queued_event(
    client, settings, django_capture_on_commit_callbacks
):
    """One multi-process check (as django-rq's own tests do): `manage.py rqworker --burst` on the test DB."""
    import os
    import subprocess
    from pathlib import Path

    from django.db import connection

    make_oa()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_zalo(client, delivery_event()).status_code == 200
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}{':' + db['PASSWORD'] if db['PASSWORD'] else ''}"
        f"@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    done = subprocess.run(
        [".venv/bin/python", "manage.py", "rqworker", "high", "--burst"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
