"""Property-based tests of both webhook endpoints (issue 15, "Bad input everywhere"): whatever a
sender posts, signed or not, the endpoint answers 200 or a 4xx with a reason, never 500; a stored
event's handler either applies it or refuses it with a clear reason, never a crash; nothing is
half-written (a refused event leaves no message, suppression or consent change behind)."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiences.models import ConsentEvent, Suppression
from campaigns.models import CampaignMessageEvent
from oas.models import OfficialAccount
from oas.services.report_urls import issue_infobip_webhook_token
from providers import jobs
from providers.handlers import ZALO_EVENTS
from providers.models import WebhookEvent
from tests.providers.conftest import make_oa
from tests.providers.test_webhooks import DLR, INBOUND, now_ms, post_zalo

pytestmark = [pytest.mark.urls("tests.providers.urls"), pytest.mark.django_db]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any character a client can encode (a lone surrogate cannot be sent as UTF-8; its JSON escape is
# refused with 400: test_a_lone_surrogate_or_nul_escape_is_refused).
CHARS = st.characters(blacklist_categories=("Cs",))
# JSON values of any shape, and the fields the handlers read, filled with them or with plausible values.
LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(CHARS, max_size=40)
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(CHARS, max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
PHONES = st.sampled_from(["84912345678", "0912345678", "+84 912 345 678", "", "8491234567", "abc"])
IDS = st.sampled_from(["c1-abc", "order-88213", "", "x" * 60]) | st.text(CHARS, max_size=20)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "msg_id": IDS, "tracking_id": IDS,
        "delivery_time": st.one_of(st.text(CHARS, max_size=15), st.integers()),
        "rate": st.one_of(st.integers(-5, 10), st.text(CHARS, max_size=3)),
        "note": st.text(CHARS, max_size=80),
        "feedbacks": st.lists(st.text(CHARS, max_size=30), max_size=3) | JSON, "phone": PHONES,
        "text": st.text(CHARS, max_size=60),
        "submit_time": st.one_of(st.text(CHARS, max_size=15), st.integers()),
    },
)  # fmt: skip


@st.composite
def zalo_payloads(draw):
    payload = {
        "app_id": "app-1",
        "timestamp": now_ms(),
        "event_name": draw(st.sampled_from(ZALO_EVENTS) | st.text(CHARS, max_size=20)),
        "oa_id": draw(st.sampled_from(["1234567890", ""]) | st.text(CHARS, max_size=12)),
        "sender": draw(st.fixed_dictionaries({"id": st.sampled_from(["1234567890"]) | IDS}) | JSON),
        "recipient": draw(st.fixed_dictionaries({"id": PHONES}) | JSON),
        "message": draw(MESSAGE | JSON),
    }
    for key in draw(
        st.lists(st.sampled_from(["template_id", "status", "quality", "reason", "phone"]), max_size=3)
    ):
        payload[key] = draw(JSON)
    return payload


@st.composite
def infobip_bodies(draw, report, inbound):
    base = draw(st.sampled_from([report, inbound]))["results"][0]
    result = {key: draw(st.just(value) | JSON) for key, value in base.items()}
    if draw(st.booleans()):
        result["message"] = draw(MESSAGE | JSON)
    body = {"results": draw(st.lists(st.just(result) | JSON, min_size=0, max_size=3))}
    return draw(st.just(body) | JSON.map(lambda v: {"results": v}) | st.binary(max_size=100))


@pytest.fixture
def infobip_token(db):
    oa = make_oa("ib-fuzz", provider=OfficialAccount.Provider.INFOBIP, infobip_api_key="ib-key",
                 infobip_sender="OFFICIAL-ACCOUNT-ID-XY12Z3")  # fmt: skip
    return issue_infobip_webhook_token(oa.pk)


def _process_all() -> list[WebhookEvent]:
    events = list(WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED))
    for event in events:
        jobs.process_webhook_event(event.pk)
        event.refresh_from_db()
    return events


def _assert_handled(events):
    for event in events:
        # A malformed event is processed as "nothing to apply", never a crashed (failed) job.
        assert event.status == WebhookEvent.Status.PROCESSED, (event.event_name, event.error, event.raw_body)


def _side_effects() -> tuple[int, int, int]:
    return (CampaignMessageEvent.objects.count(), Suppression.objects.count(), ConsentEvent.objects.count())


@FUZZ
@given(raw=st.binary(max_size=600), signature=st.text(CHARS, max_size=80))
def test_any_bytes_with_any_signature_get_a_4xx_with_a_reason(oa, raw, signature):
    client = Client()
    response = client.post(
        "/webhooks/zalo/",
        data=raw,
        content_type="application/json",
        headers={"X-ZEvent-Signature": signature},
    )
    assert response.status_code in (400, 401, 403, 413), response.status_code
    assert response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_signed_zalo_events_of_any_shape_are_answered_and_handled_without_a_crash(oa):
    stored = []

    @FUZZ
    @given(payload=zalo_payloads())
    def post(payload):
        before = _side_effects()
        response = post_zalo(Client(), payload)
        assert response.status_code in (200, 400, 401, 403), response.content
        if response.status_code != 200:
            assert response.json()["error"]
        events = _process_all()
        _assert_handled(events)
        stored.extend(events)
        if not events:
            assert _side_effects() == before  # a refused post changes nothing

    post()
    assert len(stored) >= 10  # the examples did reach the handlers, signed and fresh


def test_infobip_posts_of_any_shape_are_answered_and_handled_without_a_crash(infobip_token):
    stored = []

    @FUZZ
    @given(body=infobip_bodies(DLR, INBOUND))
    def post(body):
        before = _side_effects()
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = Client().post(
            f"/webhooks/infobip/{infobip_token}/", data=raw, content_type="application/json"
        )
        assert response.status_code in (200, 400, 401, 403, 413), response.content
        if response.status_code != 200:
            assert response.json()["error"]
        events = _process_all()
        _assert_handled(events)
        stored.extend(events)
        if not events:
            assert _side_effects() == before

    post()
    assert len(stored) >= 3  # some examples were well-formed enough to be stored and handled


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800"])
def test_a_lone_surrogate_or_nul_escape_is_refused(infobip_token, escape):
    body = ('{"results": [{"messageId": "m' + escape + '", "status": {"groupName": "DELIVERED"}}]}').encode()
    response = Client().post(
        f"/webhooks/infobip/{infobip_token}/", data=body, content_type="application/json"
    )
    assert response.status_code == 400 and "lone surrogate" in response.json()["error"]
    assert not WebhookEvent.objects.exists()
