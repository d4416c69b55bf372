"""Delivery reports and user feedback through the real webhook endpoints onto message rows
(campaigns.reports, campaigns.webhook_handlers): each kind, redelivery, another OA's message."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from audiences.models import Contact, ContactSource, Suppression
from campaigns import reports
from campaigns.models import Campaign, CampaignMessage, CampaignMessageEvent
from oas.models import MessageTemplate, OfficialAccount
from oas.services.report_urls import issue_infobip_webhook_token
from providers.models import WebhookEvent
from quotas.models import CampaignDailyStats, OADailyStats, TemplateDailyStats
from tests.providers.conftest import make_oa
from tests.providers.test_webhooks import now_ms, post_zalo

S = CampaignMessage.State


@pytest.fixture(autouse=True)
def in_process_jobs(settings):
    settings.JOBS_IN_PROCESS = True


def make_campaign(oa, template_id="300001", **options) -> Campaign:
    template = MessageTemplate.objects.create(
        oa=oa, template_id=template_id, name="Orders", tag=MessageTemplate.Tag.TRANSACTION,
        params=[], status=MessageTemplate.Status.ENABLED,
    )  # fmt: skip
    return Campaign.objects.create(
        oa=oa, template=template, name="Orders", status=Campaign.Status.RUNNING, **options
    )


def make_message(campaign, phone="84912345678", state=S.ACCEPTED, tracking="", **fields) -> CampaignMessage:
    now = timezone.now()
    source = ContactSource.objects.get_or_create(kind=ContactSource.Kind.MANUAL, label="t", created_by="t")[0]
    contact = Contact.objects.get_or_create(phone=phone, defaults={"name": "Bình", "source": source})[0]
    defaults = {
        "sending_at": now - timedelta(minutes=5),
        "valid_until": now + timedelta(hours=1),
        "provider_message_id": f"zmsg-{phone}",
    }
    if state in (S.ACCEPTED, S.DELIVERED):
        defaults["accepted_at"] = now - timedelta(minutes=4)
    if state == S.UNCONFIRMED:
        defaults["unconfirmed_at"] = now - timedelta(minutes=4)
        defaults["provider_message_id"] = ""
    defaults.update(fields)
    return CampaignMessage.objects.create(
        campaign=campaign, contact=contact, phone=phone, state=state,
        tracking_id=tracking or f"c{campaign.pk}-{phone}", **defaults,
    )  # fmt: skip


def events(message, **filters):
    return list(CampaignMessageEvent.objects.filter(message=message, **filters).order_by("pk"))


def delivered_event(message, *, oa_id="1234567890", delivery_ms=None, timestamp=None) -> dict:
    return {
        "sender": {"id": oa_id},
        "recipient": {"id": message.phone},
        "event_name": "user_received_message",
        "message": {
            "delivery_time": delivery_ms or now_ms(-60),
            "msg_id": message.provider_message_id or "unknown-msg",
            "tracking_id": message.tracking_id,
        },
        "app_id": "app-1",
        "timestamp": timestamp or now_ms(),
    }


def feedback_event(message, *, note="Người dùng báo cáo tin nhắn xấu", bad=True, timestamp=None) -> dict:
    body = {"rate": 1, "note": note, "submit_time": now_ms(-30), "msg_id": message.provider_message_id,
            "tracking_id": message.tracking_id}  # fmt: skip
    if bad:
        body.update(rating_type="report", option="bad_report", feedbacks=["spam"])
    else:
        body.update(rating_type="csat", option="five_emotions", feedbacks=[])
    return {"event_name": "user_feedback", "oa_id": "1234567890", "message": body, "app_id": "app-1",
            "timestamp": timestamp or now_ms()}  # fmt: skip


def post(client, django_capture_on_commit_callbacks, payload, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_zalo(client, payload, **kwargs)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def zalo_oa(db):
    return make_oa()


@pytest.fixture
def campaign(zalo_oa):
    return make_campaign(zalo_oa)


# --- Zalo delivery reports -----------------------------------------------------------------------------


def test_a_zalo_delivery_report_moves_an_accepted_message_to_delivered_at_the_reported_time(
    campaign, client, django_capture_on_commit_callbacks
):
    message = make_message(campaign)
    delivered_ms = now_ms(-90)
    post(client, django_capture_on_commit_callbacks, delivered_event(message, delivery_ms=delivered_ms))
    message.refresh_from_db()
    assert message.state == S.DELIVERED
    assert abs(message.delivered_at.timestamp() * 1000 - int(delivered_ms)) < 2
    [event] = events(message)
    assert (event.from_state, event.to_state, event.actor) == (S.ACCEPTED, S.DELIVERED, "system:reports")
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_redelivered_report_changes_nothing_and_records_nothing_twice(
    campaign, client, django_capture_on_commit_callbacks
):
    message = make_message(campaign)
    payload = delivered_event(message)
    post(client, django_capture_on_commit_callbacks, payload)
    message.refresh_from_db()
    first = (message.state, message.delivered_at, message.updated_at)
    # Zalo's retry ladder (same body), then a re-signed retry with a new timestamp.
    assert post(client, django_capture_on_commit_callbacks, payload)["duplicate"] is True
    again = delivered_event(message, delivery_ms=payload["message"]["delivery_time"], timestamp=now_ms(5))
    assert post(client, django_capture_on_commit_callbacks, again)["duplicate"] is True
    # And the same report reaching us another way (the polling job) is a duplicate too.
    report = reports.zalo_delivery_report(payload)
    assert reports.apply_delivery_report(campaign.oa_id, report) == "duplicate"
    message.refresh_from_db()
    assert (message.state, message.delivered_at, message.updated_at) == first
    assert len(events(message)) == 1


def test_an_unconfirmed_message_is_resolved_by_the_report_carrying_its_tracking_id_and_counted_as_sent(
    campaign, client, django_capture_on_commit_callbacks
):
    message = make_message(campaign, state=S.UNCONFIRMED, error_code="SEND_OUTCOME_UNKNOWN")
    post(client, django_capture_on_commit_callbacks, delivered_event(message))
    message.refresh_from_db()
    assert message.state == S.DELIVERED and message.error_code == ""
    assert [(e.from_state, e.to_state) for e in events(message)] == [(S.UNCONFIRMED, S.DELIVERED)]
    # It was sent after all: the quota rollups learn it now (once).
    assert OADailyStats.objects.get(oa=campaign.oa).sent == 1
    assert CampaignDailyStats.objects.get(campaign=campaign).sent == 1


def test_a_report_naming_another_oas_message_is_ignored(db, client, django_capture_on_commit_callbacks):
    ours = make_oa()  # app-1, key oa-webhook-secret-1
    theirs = make_oa("555", app_id="app-2", oa_secret_key="other-key")
    their_message = make_message(make_campaign(theirs, "300009"))
    make_campaign(ours)
    # Signed with our OA's key, naming their message's tracking id and msg id.
    post(client, django_capture_on_commit_callbacks, delivered_event(their_message))
    their_message.refresh_from_db()
    assert their_message.state == S.ACCEPTED and events(their_message) == []
    assert WebhookEvent.objects.get().oa == ours
    report = reports.zalo_delivery_report(delivered_event(their_message))
    assert reports.apply_delivery_report(ours.pk, report) == "unknown"


def test_a_late_report_after_failover_or_expiry_is_written_on_the_timeline_once(
    campaign, client, django_capture_on_commit_callbacks
):
    failed_over = make_message(campaign, state=S.FAILED_OVER)
    expired = make_message(campaign, phone="84987654321", state=S.EXPIRED)
    for message in (failed_over, expired):
        post(client, django_capture_on_commit_callbacks, delivered_event(message))
        report = reports.zalo_delivery_report(delivered_event(message))
        assert reports.apply_delivery_report(campaign.oa_id, report) == "duplicate"
        message.refresh_from_db()
        [note] = events(message)
        assert message.state in (S.FAILED_OVER, S.EXPIRED)
        assert (note.from_state, note.to_state, note.error_code) == (
            message.state,
            message.state,
            "LATE_REPORT",
        )
        assert f"late report after {message.state}" in note.detail


def test_unconfirmed_past_validity_is_shown_unconfirmed_for_good_and_a_late_report_still_resolves_it(
    campaign, client, django_capture_on_commit_callbacks
):
    message = make_message(campaign, state=S.UNCONFIRMED, valid_until=timezone.now() - timedelta(minutes=1))
    fresh = make_message(campaign, phone="84987654321", state=S.UNCONFIRMED)
    assert reports.finalise_unconfirmed() == 1
    assert reports.finalise_unconfirmed() == 0  # once
    message.refresh_from_db()
    fresh.refresh_from_db()
    assert reports.unconfirmed_is_final(message) and not reports.unconfirmed_is_final(fresh)
    assert [e.error_code for e in events(message)] == ["UNCONFIRMED_FINAL"]
    post(client, django_capture_on_commit_callbacks, delivered_event(message))
    message.refresh_from_db()
    assert message.state == S.DELIVERED and not reports.unconfirmed_is_final(message)


# --- Infobip delivery reports, both legs of its own failover ----------------------------------------------


@pytest.fixture
def infobip_oa(db):
    return make_oa(
        "ib-oa-1", provider=OfficialAccount.Provider.INFOBIP, app_id="", infobip_sender="ib-oa-1",
        infobip_base_url="http://127.0.0.1:9/infobip", infobip_api_key="k" * 32,
    )  # fmt: skip


def infobip_result(message_id, group, name, *, channel="ZALO_NOTIFICATION_SERVICE", sender="ib-oa-1"):
    groups = {"DELIVERED": 3, "UNDELIVERABLE": 2, "EXPIRED": 4, "REJECTED": 5, "PENDING": 1}
    ids = {"DELIVERED_TO_HANDSET": 5, "EXPIRED_EXPIRED": 15, "REJECTED_DESTINATION_NOT_REGISTERED": 18,
           "PENDING_ENROUTE": 7}  # fmt: skip
    return {
        "bulkId": "bulk-1", "messageId": message_id, "to": "84912345678", "from": sender,
        "sentAt": "2026-12-01T10:00:00.000+0000", "doneAt": "2026-12-01T10:05:00.000+0000",
        "messageCount": 1, "price": {"pricePerMessage": 0.01, "currency": "EUR"},
        "status": {"groupId": groups[group], "groupName": group, "id": ids[name], "name": name,
                   "description": name.replace("_", " ").lower()},
        "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "description": "No Error",
                  "permanent": False},
        "channel": channel,
    }  # fmt: skip


def post_infobip(client, django_capture_on_commit_callbacks, token, results):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/webhooks/infobip/{token}/",
            data=json.dumps({"results": results}),
            content_type="application/json",
        )
    return response


def test_infobip_reports_record_the_zalo_leg_failing_and_the_sms_leg_delivered_once_each(
    infobip_oa, client, django_capture_on_commit_callbacks
):
    campaign = make_campaign(infobip_oa, sms_failover_enabled=True, sms_failover_text="Đơn hàng")
    message = make_message(campaign, sending_at=timezone.now() - timedelta(hours=3))
    token = issue_infobip_webhook_token(infobip_oa.pk)
    tid = message.tracking_id
    expired = infobip_result(tid, "EXPIRED", "EXPIRED_EXPIRED")
    sms = infobip_result(f"{tid}-sms", "DELIVERED", "DELIVERED_TO_HANDSET", channel="SMS")
    assert post_infobip(client, django_capture_on_commit_callbacks, token, [expired]).status_code == 200
    message.refresh_from_db()
    assert (message.state, message.provider_error_code) == (S.FAILED, "EXPIRED_EXPIRED")
    assert post_infobip(client, django_capture_on_commit_callbacks, token, [sms]).status_code == 200
    message.refresh_from_db()
    assert message.state == S.FAILED_OVER
    assert [(e.from_state, e.to_state, e.error_code) for e in events(message)] == [
        (S.ACCEPTED, S.FAILED, message.error_code),
        (S.FAILED, S.FAILED_OVER, ""),
        (S.FAILED_OVER, S.FAILED_OVER, "SMS_DELIVERED"),
    ]
    campaign.refresh_from_db()
    assert campaign.sms_failover_sent == 1
    # Infobip retries both reports together (another body, so another stored event): nothing new.
    assert post_infobip(client, django_capture_on_commit_callbacks, token, [expired, sms]).status_code == 200
    assert len(events(message)) == 3
    campaign.refresh_from_db()
    assert campaign.sms_failover_sent == 1


def test_an_infobip_pending_report_resolves_unconfirmed_to_accepted_and_delivered_follows(
    infobip_oa, client, django_capture_on_commit_callbacks
):
    message = make_message(make_campaign(infobip_oa), state=S.UNCONFIRMED)
    token = issue_infobip_webhook_token(infobip_oa.pk)
    tid = message.tracking_id
    post_infobip(
        client, django_capture_on_commit_callbacks, token, [infobip_result(tid, "PENDING", "PENDING_ENROUTE")]
    )
    message.refresh_from_db()
    assert message.state == S.ACCEPTED
    delivered = infobip_result(tid, "DELIVERED", "DELIVERED_TO_HANDSET")
    post_infobip(client, django_capture_on_commit_callbacks, token, [delivered])
    message.refresh_from_db()
    assert message.state == S.DELIVERED
    assert [e.to_state for e in events(message)] == [S.ACCEPTED, S.DELIVERED]


def test_an_infobip_report_for_another_oas_message_is_refused_or_finds_nothing(
    infobip_oa, zalo_oa, client, django_capture_on_commit_callbacks
):
    other = make_message(make_campaign(zalo_oa, "300008"))
    token = issue_infobip_webhook_token(infobip_oa.pk)
    result = infobip_result(other.tracking_id, "REJECTED", "REJECTED_DESTINATION_NOT_REGISTERED")
    # Naming another sender: refused outright, nothing stored.
    assert post_infobip(
        client, django_capture_on_commit_callbacks, token, [{**result, "from": "x"}]
    ).status_code in (
        200,
        403,
    )
    # Naming our own sender but another OA's tracking id: stored, and it finds no message of ours.
    assert post_infobip(client, django_capture_on_commit_callbacks, token, [result]).status_code == 200
    other.refresh_from_db()
    assert other.state == S.ACCEPTED and events(other) == []


# --- user feedback -----------------------------------------------------------------------------------------


def test_a_bad_report_goes_to_the_timeline_the_rollups_per_oa_campaign_and_template_and_the_contact(
    campaign, client, django_capture_on_commit_callbacks
):
    message = make_message(campaign, state=S.DELIVERED)
    post(client, django_capture_on_commit_callbacks, feedback_event(message))
    [note] = events(message)
    assert (note.to_state, note.error_code) == (S.DELIVERED, "BAD_REPORT")
    assert OADailyStats.objects.get(oa=campaign.oa).bad_reports == 1
    assert CampaignDailyStats.objects.get(campaign=campaign).bad_reports == 1
    assert TemplateDailyStats.objects.get(template=campaign.template).bad_reports == 1
    assert Contact.objects.get(phone=message.phone).last_bad_report_at is not None
    # A redelivery (re-signed) is dropped by the webhook; the same feedback applied again records nothing.
    post(client, django_capture_on_commit_callbacks, feedback_event(message, timestamp=now_ms(3)))
    payload = feedback_event(message)
    feedback = reports.Feedback(message.tracking_id, "", timezone.now(), bad_report=True, stop_word=False)
    assert reports.apply_user_feedback(campaign.oa_id, feedback) == message
    assert OADailyStats.objects.get(oa=campaign.oa).bad_reports == 1
    assert len(events(message)) == 1
    assert payload["message"]["tracking_id"] == message.tracking_id


def test_a_feedback_with_a_stop_word_opts_the_recipient_out_once_and_a_rating_is_only_a_note(
    campaign, client, django_capture_on_commit_callbacks
):
    stop = make_message(campaign, state=S.DELIVERED)
    rating = make_message(campaign, phone="84987654321", state=S.DELIVERED)
    post(client, django_capture_on_commit_callbacks, feedback_event(stop, note="STOP", bad=False))
    post(client, django_capture_on_commit_callbacks, feedback_event(rating, note="Rất hài lòng", bad=False))
    assert Suppression.objects.filter(phone=stop.phone).count() == 1
    assert not Suppression.objects.filter(phone=rating.phone).exists()
    assert [e.error_code for e in events(stop)] == ["USER_FEEDBACK"]
    assert [e.error_code for e in events(rating)] == ["USER_FEEDBACK"]
    assert not OADailyStats.objects.filter(oa=campaign.oa, bad_reports__gt=0).exists()


def test_a_feedback_about_no_message_of_ours_falls_back_to_the_audiences_handler(
    campaign, client, django_capture_on_commit_callbacks
):
    stranger = make_message(campaign, phone="84901234567", tracking="elsewhere")
    stranger.delete()  # the contact stays; no message carries the tracking id
    payload = feedback_event(stranger)
    payload["recipient"] = {"id": "84901234567"}
    post(client, django_capture_on_commit_callbacks, payload)
    assert Contact.objects.get(phone="84901234567").last_bad_report_at is not None
    assert not OADailyStats.objects.filter(oa=campaign.oa, bad_reports__gt=0).exists()


def test_an_infobip_user_feedback_on_our_message_is_recorded_once_with_its_campaign(
    infobip_oa, client, django_capture_on_commit_callbacks
):
    campaign = make_campaign(infobip_oa)
    message = make_message(campaign, state=S.DELIVERED)
    token = issue_infobip_webhook_token(infobip_oa.pk)
    tid = message.tracking_id
    feedback = {"type": "USER_FEEDBACK", "eventName": "user_feedback", "note": "xấu", "rate": 1,
                "submitTime": now_ms(-20), "msgId": "m", "feedbacks": ["spam"],
                "trackingId": tid}  # fmt: skip
    inbound = {
        "sender": message.phone, "to": "ib-oa-1", "integrationType": "ZALO_NOTIFICATION_SERVICE",
        "receivedAt": "2026-12-01T10:00:00.000+0000", "messageId": "in-1", "pairedMessageId": tid,
        "message": feedback,
    }  # fmt: skip
    for _ in range(2):
        assert post_infobip(client, django_capture_on_commit_callbacks, token, [inbound]).status_code == 200
    assert [e.error_code for e in events(message)] == ["BAD_REPORT"]
    assert CampaignDailyStats.objects.get(campaign=campaign).bad_reports == 1
    assert Contact.objects.get(phone=message.phone).last_bad_report_at is not None
