"""Opt-outs from provider webhooks: a stop word withdraws marketing consent and suppresses the
phone, once, however often the job runs."""

import json

import pytest

from audiences import services
from audiences.models import ConsentEvent, ContactSource, Purpose, Suppression
from audiences.webhook_handlers import is_stop_word
from oas.models import OfficialAccount
from providers import handlers
from providers.jobs import process_webhook_event
from providers.models import WebhookEvent

PHONE = "84912345678"
ACTOR = "system:test"


@pytest.fixture
def oa(db):
    return OfficialAccount.objects.create(name="Shop", zalo_oa_id="oa-1")


@pytest.fixture
def contact(db):
    source = ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="desk", created_by=ACTOR)
    contact = services.create_contact(actor=ACTOR, phone=PHONE, source=source, name="Lan")
    services.grant_consent(
        actor=ACTOR,
        contact=contact,
        purpose=Purpose.MARKETING,
        source="web",
        collector="staff",
        wording="Đồng ý",
        evidence_text="form #1",
    )
    return contact


def _event(oa, provider, name, payload, key):
    return WebhookEvent.objects.create(
        provider=provider, oa=oa, event_name=name, unique_key=key, raw_body=json.dumps(payload)
    )


def _infobip(text, sender="0912345678", kind="TEXT"):
    return {
        "results": [
            {"sender": sender, "to": "OA", "messageId": "m1", "message": {"type": kind, "text": text}}
        ]
    }


@pytest.mark.parametrize("text", ["TU CHOI", "Từ chối", "HỦY", "huy", "STOP", " stop! "])
def test_stop_words_are_recognised_without_accents_or_case(text):
    assert is_stop_word(text)


@pytest.mark.parametrize("text", ["Tôi rất hài lòng.", "stop sending me the wrong size", ""])
def test_other_texts_are_not_opt_outs(text):
    assert not is_stop_word(text)


def test_the_handlers_are_registered():
    # campaigns.webhook_handlers handles feedback about its own messages and hands everything else
    # to the audiences handlers (tests/campaigns/test_reports.py); the other tests here go through it.
    assert handlers.handler_for("user_feedback").__module__ == "campaigns.webhook_handlers"
    assert handlers.handler_for(handlers.INFOBIP_INBOUND_MESSAGE).__module__ == "campaigns.webhook_handlers"


def test_an_infobip_stop_reply_opts_out_once_even_when_the_job_runs_twice(oa, contact):
    first = _event(oa, "infobip", handlers.INFOBIP_INBOUND_MESSAGE, _infobip("TU CHOI"), "k1")
    again = _event(oa, "infobip", handlers.INFOBIP_INBOUND_MESSAGE, _infobip("TU CHOI"), "k2")
    assert process_webhook_event(first.pk) == "processed"
    assert process_webhook_event(first.pk) == "skipped"
    assert process_webhook_event(again.pk) == "processed"  # a redelivery stored twice
    assert services.current_consent(contact, Purpose.MARKETING).status == "withdrawn"
    assert ConsentEvent.objects.filter(kind="withdrawn").get().channel == ConsentEvent.Channel.OPT_OUT_REPLY
    row = Suppression.objects.get()
    assert row.source == Suppression.Source.OPT_OUT_REPLY
    assert not services.may_send(PHONE, Purpose.MARKETING, oa)


def test_an_ordinary_inbound_message_changes_nothing(oa, contact):
    event = _event(oa, "infobip", handlers.INFOBIP_INBOUND_MESSAGE, _infobip("Cho tôi hỏi đơn hàng"), "k1")
    assert process_webhook_event(event.pk) == "processed"
    assert not Suppression.objects.exists()
    assert services.current_consent(contact, Purpose.MARKETING).granted


def test_a_zalo_user_feedback_with_a_stop_word_opts_the_phone_out(oa, contact):
    payload = {
        "event_name": "user_feedback",
        "recipient": {"id": PHONE},
        "message": {"note": "HUỶ", "rate": 1, "msg_id": "abc", "feedbacks": []},
        "oa_id": "oa-1",
        "timestamp": "1616673095659",
    }
    event = _event(oa, "zalo", "user_feedback", payload, "z1")
    assert process_webhook_event(event.pk) == "processed"
    assert Suppression.objects.get().source == Suppression.Source.PROVIDER_FEEDBACK
    assert ConsentEvent.objects.filter(kind="withdrawn").get().channel == ConsentEvent.Channel.USER_FEEDBACK


def test_a_zalo_rating_without_a_phone_or_stop_word_changes_nothing(oa, contact):
    payload = {
        "event_name": "user_feedback",
        "message": {"note": "Tôi rất hài lòng.", "rate": 5, "msg_id": "m"},
    }
    assert process_webhook_event(_event(oa, "zalo", "user_feedback", payload, "z1").pk) == "processed"
    payload = {"event_name": "user_feedback", "message": {"note": "STOP", "rate": 1, "msg_id": "m2"}}
    assert process_webhook_event(_event(oa, "zalo", "user_feedback", payload, "z2").pk) == "processed"
    assert not Suppression.objects.exists()
