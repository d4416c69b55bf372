"""Zalo webhooks (signed, retried, duplicated on demand), people determinism and fault injection."""

import hashlib
import json
import time

import pytest
import requests

from sandbox import people
from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET

from .conftest import reachable_phone


def verify(request, app_id=DEMO_APP_ID, secret=DEMO_APP_SECRET):
    body = request["body"].decode()
    timestamp = json.loads(body)["timestamp"]
    mac = hashlib.sha256(f"{app_id}{body}{timestamp}{secret}".encode()).hexdigest()
    return request["headers"]["X-ZEvent-Signature"] == f"mac={mac}"


def test_delivery_webhooks_are_signed_as_zalo_signs_them(sb, zalo, receiver):
    sb.app(DEMO_APP_ID, webhook_url=receiver.url)
    phone = reachable_phone(sb)
    msg_id = zalo.send(phone, tracking_id="order-1")["data"]["msg_id"]
    assert sb.drain()
    [request] = receiver.requests
    assert verify(request) and request["headers"]["X-ZEvent-Server"] == "ZNS"
    event = json.loads(request["body"])
    assert event["event_name"] == "user_received_message" and event["app_id"] == DEMO_APP_ID
    assert event["sender"] == {"id": "demo-oa-1"} and event["recipient"] == {"id": phone}
    assert event["message"]["msg_id"] == msg_id and event["message"]["tracking_id"] == "order-1"
    assert event["message"]["delivery_time"].isdigit() and event["timestamp"].isdigit()


def test_a_separate_webhook_secret_and_oa_id_first_term(sb, zalo, receiver):
    sb.app(DEMO_APP_ID, webhook_url=receiver.url, webhook_secret="oa-secret")
    sb.configure(webhook_signature_first_term="oa_id")
    zalo.send(reachable_phone(sb))
    sb.drain()
    assert verify(receiver.requests[0], app_id="demo-oa-1", secret="oa-secret")


def test_failed_webhooks_are_retried_on_zalos_ladder(sb, zalo, receiver):
    sb.app(DEMO_APP_ID, webhook_url=receiver.url)
    receiver.statuses = [500, 503, 200]
    zalo.send(reachable_phone(sb))
    assert sb.drain()
    assert len(receiver.requests) == 3
    assert [r["headers"].get("num_retry") for r in receiver.requests] == [None, "1", "2"]
    [hook] = sb.webhooks(kind="user_received_message")
    assert hook["state"] == "delivered" and [h["status"] for h in hook["history"]] == [500, 503, 200]
    assert all(verify(r) for r in receiver.requests)


def test_webhooks_give_up_after_the_last_retry(sb, zalo, receiver):
    sb.app(DEMO_APP_ID, webhook_url=receiver.url)
    receiver.statuses = [500] * 10
    zalo.send(reachable_phone(sb))
    sb.drain()
    [hook] = sb.webhooks()
    assert hook["state"] == "failed" and hook["attempts"] == 6  # first try + 30 s, 5, 15, 30 min, 1 h


def test_duplicate_deliveries_can_be_injected(sb, zalo, receiver):
    sb.app(DEMO_APP_ID, webhook_url=receiver.url)
    sb.configure(duplicate_webhook_rate=1.0)
    msg_id = zalo.send(reachable_phone(sb))["data"]["msg_id"]
    sb.drain()
    assert [json.loads(r["body"])["message"]["msg_id"] for r in receiver.requests] == [msg_id, msg_id]
    assert sb.ledger_summary()["accepted"] == 1


def test_bad_reports_and_template_status_changes_are_sent(sb, zalo, receiver):
    sb.app(DEMO_APP_ID, webhook_url=receiver.url)
    phone = reachable_phone(sb)
    sb.pin_recipient(phone, bad_report=True, read=True)
    zalo.send(phone, tracking_id="bad-1")
    sb.drain()
    sb.template("100005", status="DISABLE", reason="Mẫu tin có dấu hiệu spam")
    sb.drain()
    events = {b["event_name"]: b for b in receiver.json_bodies()}
    assert events["user_feedback"]["message"]["tracking_id"] == "bad-1"
    assert events["change_template_quality"]["quality"] == "LOW"  # 1 bad report of 1 sent
    statuses = [b for b in receiver.json_bodies() if b["event_name"] == "change_template_status"]
    assert {(s["template_id"], s["status"]["new_status"]) for s in statuses} == {
        ("100001", "DISABLE"),  # disabled for LOW quality
        ("100005", "DISABLE"),
    }
    assert zalo.send(phone)["error"] == -146
    [row] = sb.ledger(tracking_id="bad-1")
    assert row["delivered_at"] and row["read_at"] and row["bad_reported_at"]


def test_people_are_deterministic_from_the_seed(sb):
    cfg = sb.admin("GET", "config")
    for phone in ("84912345678", "84987654321", "84355555555"):
        assert sb.recipient(phone) == people.derive(cfg["people_seed"], phone, cfg)
    counts = sum(people.derive("sandbox", str(84910000000 + i), cfg)["not_on_zalo"] for i in range(4000))
    assert 120 < counts < 280  # ≈ 5 % of 4000


def test_http_5xx_faults(sb, zalo):
    sb.faults(error_rate=1.0)
    statuses = {
        requests.post(
            f"{sb.zalo_base}/message/template", json={}, headers={"access_token": "x"}, timeout=5
        ).status_code
        for _ in range(20)
    }
    assert statuses == {503}
    assert requests.get(f"{sb.infobip_base}/zalo/1/logs", timeout=5).status_code == 503
    assert requests.get(f"{sb.base_url}/sandbox/health", timeout=5).status_code == 200  # admin unaffected
    sb.faults(error_rate=0.0, error_status=500)
    assert zalo.get("/message/quota")["error"] == 0


def test_latency_timeouts_and_resets(sb, zalo):
    sb.faults(latency_ms=300)
    started = time.monotonic()
    assert zalo.get("/message/quota")["error"] == 0
    assert time.monotonic() - started >= 0.3
    sb.faults(latency_ms=0, timeout_rate=1.0, timeout_seconds=2)
    with pytest.raises(requests.Timeout):
        requests.get(f"{sb.zalo_base}/message/quota", headers={"access_token": "x"}, timeout=0.5)
    sb.faults(timeout_rate=0.0, reset_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sb.zalo_base}/message/quota", headers={"access_token": "x"}, timeout=5)
    sb.faults(reset_rate=0.0)
    assert zalo.get("/message/quota")["error"] == 0
