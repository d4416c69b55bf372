"""The sandbox is as strict as the real services (Infobip's OpenAPI, Zalo's documented send fields),
keeps every accepted message's report exact under batching, and serves Infobip's SMS API v3."""

import json
from collections import Counter
from pathlib import Path

import requests

from tests.sandbox.conftest import reachable_phone

# Infobip's own OpenAPI, copied into the repository (tests run from any clone).
SPEC = Path(__file__).resolve().parents[2] / "sandbox" / "spec" / "infobip"


def _spec(name: str) -> dict:
    return json.loads((SPEC / name).read_text())


def _schema(spec: dict, title: str) -> dict:
    [schema] = [s for key, s in spec["components"]["schemas"].items() if key.split(".")[-1] == title]
    return schema


def _message(to, message_id, **options):
    body = {
        "sender": "demo-oa-2",
        "destinations": [{"to": to, "messageId": message_id}],
        "content": {"templateName": 200001, "templateData": {"otp": "123456"}, "type": "TEMPLATE"},
    }
    if options:
        body["options"] = options
    return body


def test_infobip_refuses_the_local_0_form_of_a_phone(sb, infobip):
    answer = infobip.send(
        {"messages": [_message("0912345678", "local-1"), _message("84912345678", "intl-1")]}
    ).json()
    local, international = answer["messages"]
    assert local["status"]["groupName"] == "REJECTED"
    assert local["status"]["name"] == "REJECTED_PREFIX_MISSING" and local["status"]["id"] == 8
    assert local["destination"] == "0912345678"
    assert international["status"]["groupName"] == "PENDING"
    assert [m["message_id"] for m in sb.ledger(provider="infobip")] == ["intl-1"]
    assert sb.ledger(provider="infobip")[0]["recipient"] == "84912345678"  # stored as sent, not rewritten


def test_template_buttons_use_infobips_button_type_names(sb, infobip):
    names = set(_schema(_spec("zalo-openapi.json"), "ButtonType")["enum"])
    template = infobip.get("/zalo/1/sender/demo-oa-2/templates/200001").json()
    assert template["templateButtons"]
    for button in template["templateButtons"]:
        assert button["type"] in names
        assert set(button) == {"type", "title", "content"}
    sb.template("200001", buttons=[{"type": 2, "title": "Gọi CSKH", "content": "84900000000"}])
    [button] = infobip.get("/zalo/1/sender/demo-oa-2/templates/200001").json()["templateButtons"]
    assert button["type"] == "MAKE_PHONE_CALL"


def test_quota_fields_are_always_integers(sb, infobip):
    fields = set(_schema(_spec("zalo-openapi.json"), "QuotaInfo")["properties"])
    for patch in ({}, {"initial_limit": None}):
        if patch:
            sb.oa("demo-oa-2", **patch)
        quota = infobip.get("/zalo/1/sender/demo-oa-2/quota").json()
        assert set(quota) == fields
        for name, value in quota.items():
            assert isinstance(value, int) and not isinstance(value, bool), (name, value, patch)


def test_delivery_window_needs_both_hour_and_minute(sb, infobip):
    window = {"days": ["MONDAY"], "from": {"hour": 6}, "to": {"hour": 15, "minute": 30}}
    answer = infobip.send({"messages": [_message("84912345678", "w-1", deliveryTimeWindow=window)]})
    assert answer.status_code == 400
    [violation] = answer.json()["violations"]
    assert violation["property"] == "messages[0].options.deliveryTimeWindow.from"
    window["from"]["minute"] = 0
    assert infobip.send({"messages": [_message("84912345678", "w-1", deliveryTimeWindow=window)]}).ok
    assert [m["message_id"] for m in sb.ledger(provider="infobip")] == ["w-1"]


def test_campaign_reference_id_is_at_most_255_characters(sb, infobip):
    answer = infobip.send({"messages": [_message("84912345678", "c-1", campaignReferenceId="x" * 256)]})
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "E400"
    assert answer.json()["violations"][0]["property"] == "messages[0].options.campaignReferenceId"
    assert sb.ledger(provider="infobip") == []
    assert infobip.send({"messages": [_message("84912345678", "c-1", campaignReferenceId="x" * 255)]}).ok


def test_zalo_tracking_id_is_required_and_at_most_48_characters(sb, zalo):
    phone = reachable_phone(sb)
    data = {"customer_name": "Nguyễn Văn A", "order_code": "DH1", "amount": "150000"}
    body = {"phone": phone, "template_id": "100001", "template_data": data}
    assert zalo.post("/message/template", body)["error"] == -132
    assert zalo.post("/message/template", {**body, "tracking_id": ""})["error"] == -132
    assert zalo.post("/message/template", {**body, "tracking_id": "t" * 49})["error"] == -132
    assert sb.ledger(provider="zalo") == []
    answer = zalo.post("/message/template", {**body, "tracking_id": "t" * 48})
    assert answer["error"] == 0
    assert [m["tracking_id"] for m in sb.ledger(provider="zalo")] == ["t" * 48]


def test_duplicates_are_refused_within_and_across_requests(sb, infobip):
    first = infobip.send({"messages": [_message("84912345678", "d-1"), _message("84912345679", "d-1")]})
    statuses = [m["status"]["name"] for m in first.json()["messages"]]
    assert statuses == ["PENDING_ENROUTE", "REJECTED_DUPLICATE_MESSAGE_ID"]
    again = infobip.send({"messages": [_message("84912345678", "d-1")]}).json()["messages"]
    assert again[0]["status"]["id"] == 23
    assert len(sb.ledger(provider="infobip", message_id="d-1")) == 1


def test_every_accepted_message_gets_exactly_one_report_when_reports_are_batched(sb, infobip, receiver):
    destinations = [{"to": f"8491300{n:04d}", "messageId": f"bulk-{n}"} for n in range(250)]
    body = {
        "messages": [
            {
                "sender": "demo-oa-2",
                "destinations": destinations,
                "content": {"templateName": 200001, "templateData": {"otp": "123456"}, "type": "TEMPLATE"},
                "webhooks": {"delivery": {"url": receiver.url}},
                "options": {"validityPeriod": {"amount": 1, "timeUnit": "SECONDS"}},
            }
        ]
    }
    answer = infobip.send(body).json()
    assert {m["status"]["groupName"] for m in answer["messages"]} == {"PENDING"}
    sb.set_clock(advance_seconds=5)  # the unreachable ones expire too, so every message has a final report
    assert sb.drain(timeout=30)
    reports = Counter(r["messageId"] for b in receiver.json_bodies() for r in b["results"])
    assert set(reports) == {d["messageId"] for d in destinations}
    assert set(reports.values()) == {1}
    assert max(len(b["results"]) for b in receiver.json_bodies()) <= 100
    assert len(receiver.json_bodies()) < 250  # several reports per POST, as Infobip's `results` allows
    states = Counter(m["state"] for m in sb.ledger(provider="infobip", limit=1000) if m["channel"] == "phone")
    assert sum(states.values()) == 250 and not states.keys() & {"scheduled", "sent"}


# --- SMS API v3 ------------------------------------------------------------------------------------


def _sms(sb, body):
    return requests.post(
        f"{sb.infobip_base}/sms/3/messages",
        json=body,
        headers={"Authorization": "App demo-infobip-api-key"},
        timeout=10,
    )


def test_sms_is_sent_reported_to_the_notify_url_and_pulled_once(sb, infobip, receiver):
    status_fields = set(_schema(_spec("sms-v3-openapi.json"), "MessageStatus")["properties"])
    report_fields = set(_schema(_spec("sms-v3-openapi.json"), "DeliveryReport")["properties"])
    body = {
        "messages": [
            {
                "sender": "DemoBank",
                "destinations": [
                    {"to": "84912345678", "messageId": "sms-1"},
                    {"to": "0912345678", "messageId": "sms-2"},
                ],
                "content": {"text": "Mã OTP của bạn là 123456"},
                "options": {"campaignReferenceId": "camp-1"},
                "webhooks": {"delivery": {"url": receiver.url}, "callbackData": "cb-1"},
            }
        ]
    }
    answer = _sms(sb, body)
    assert answer.status_code == 200
    sent, local = answer.json()["messages"]
    assert answer.json()["bulkId"]
    assert sent["status"]["name"] == "PENDING_ACCEPTED" and sent["status"]["id"] == 26
    assert set(sent["status"]) <= status_fields
    assert sent["details"] == {"messageCount": 1} and sent["destination"] == "84912345678"
    assert local["status"]["name"] == "REJECTED_PREFIX_MISSING"
    assert _sms(sb, body).json()["messages"][0]["status"]["name"] == "REJECTED_DUPLICATE_MESSAGE_ID"
    assert sb.drain(timeout=20)
    [report] = [r for b in receiver.json_bodies() for r in b["results"]]
    assert set(report) <= report_fields
    assert report["messageId"] == "sms-1" and report["to"] == "84912345678"
    assert report["status"]["groupName"] == "DELIVERED" and report["error"]["name"] == "NO_ERROR"
    assert report["sender"] == "DemoBank" and report["callbackData"] == "cb-1"
    assert report["campaignReferenceId"] == "camp-1"
    pulled = infobip.get("/sms/3/reports").json()["results"]
    assert [r["messageId"] for r in pulled] == ["sms-1"]
    assert infobip.get("/sms/3/reports").json()["results"] == []
    [log] = infobip.get("/sms/3/logs", messageId="sms-1").json()["results"]
    assert log["destination"] == "84912345678" and log["content"] == {"text": "Mã OTP của bạn là 123456"}
    assert log["status"]["groupName"] == "DELIVERED"
    [row] = sb.ledger(provider="infobip_sms")
    assert row["message_id"] == "sms-1" and row["state"] == "delivered" and row["channel"] == "sms"


def test_sms_refuses_bad_requests_and_counts_parts(sb, infobip):
    refused = _sms(sb, {"messages": [{"destinations": [{"to": "84912345678"}], "content": {}}]})
    assert refused.status_code == 400
    assert refused.json()["violations"][0]["property"] == "messages[0].content.text"
    long_text = "Nguyễn " * 12  # 84 characters; ễ is outside GSM-7: 70 per SMS, 67 per part
    answer = _sms(
        sb,
        {
            "messages": [
                {"destinations": [{"to": "84912345678"}], "content": {"text": long_text}},
                {"destinations": [{"to": "84912345679"}], "content": {"text": "Hello " * 30}},
            ]
        },
    ).json()
    assert [m["details"]["messageCount"] for m in answer["messages"]] == [2, 2]
    assert _sms(sb, {"messages": []}).status_code == 400


def test_the_same_message_id_may_go_through_the_zalo_and_the_sms_api(sb, infobip):
    assert infobip.send({"messages": [_message("84912345678", "both-1")]}).ok
    answer = _sms(
        sb,
        {
            "messages": [
                {"destinations": [{"to": "84912345678", "messageId": "both-1"}], "content": {"text": "x"}}
            ]
        },
    )
    assert answer.json()["messages"][0]["status"]["name"] == "PENDING_ACCEPTED"
