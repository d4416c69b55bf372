"""The sandbox as a server: the management command, concurrent clients, the exact ledger."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from sandbox import testing
from sandbox.testing import DEMO_TOKENS, Sandbox, free_port

from .conftest import reachable_phone

ROOT = Path(__file__).resolve().parents[2]


def test_concurrent_sends_are_all_recorded_exactly_once(sb):
    sb.oa(
        "demo-oa-1",
        policy_overrides={
            "levels": [10**6],
            "starting_level": 10**6,
            "penalty_zone": 10**6,
            "marketing_min_level": None,
        },
        initial_limit=10**6,
    )
    phone = reachable_phone(sb)

    def send(i):
        body = {
            "phone": phone,
            "template_id": "100004",
            "template_data": {"otp": "123456"},
            "tracking_id": f"c-{i}",
        }
        headers = {"access_token": DEMO_TOKENS["demo-oa-1"]}
        return requests.post(
            f"{sb.zalo_base}/message/template", json=body, headers=headers, timeout=30
        ).json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(send, range(200)))
    assert [r["error"] for r in results] == [0] * 200
    assert len({r["data"]["msg_id"] for r in results}) == 200
    summary = sb.ledger_summary()
    assert summary["accepted"] == 200 and summary["duplicate_tracking_ids"] == {}
    assert sorted(r["tracking_id"] for r in sb.ledger()) == sorted(f"c-{i}" for i in range(200))
    assert sb.oa("demo-oa-1")["sent_today"] == 200


def test_concurrent_sends_written_together_still_see_each_other(sb, receiver):
    """Sends arriving together share one transaction (sandbox.batch.Combiner): each is still checked
    against the writes of those before it (daily limit, counters), keeps its own error code, and every
    accepted one is delivered and announced exactly once."""
    sb.app("demo-app-1", webhook_url=receiver.url)
    sb.oa(
        "demo-oa-1",
        policy_overrides={
            "levels": [40],
            "starting_level": 40,
            "penalty_zone": 40,
            "marketing_min_level": None,
        },
        initial_limit=40,
    )
    phone = reachable_phone(sb)
    headers = {"access_token": DEMO_TOKENS["demo-oa-1"]}

    def send(i):
        data = {"otp": "123456"} if i % 5 else {}  # every fifth one is refused on its own (-111)
        body = {"phone": phone, "template_id": "100004", "template_data": data, "tracking_id": f"g-{i}"}
        response = requests.post(f"{sb.zalo_base}/message/template", json=body, headers=headers, timeout=30)
        assert "Content-Security-Policy" in response.headers  # the lean front keeps the header
        return response.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(send, range(75)))
    errors = [r["error"] for r in results]
    assert [errors[i] for i in range(0, 75, 5)] == [-111] * 15
    accepted = [r for r in results if r["error"] == 0]
    assert len(accepted) == 40 and errors.count(-144) == 20
    # Each accepted send saw those before it: the remaining quotas it answered are 39 … 0, once each.
    remaining = sorted(int(r["data"]["quota"]["remainingQuota"]) for r in accepted)
    assert remaining == list(range(40))
    assert sb.oa("demo-oa-1")["sent_today"] == 40
    assert sb.ledger_summary()["received"] == 75
    assert sb.drain()
    delivered = [
        body["message"]["tracking_id"]
        for body in receiver.json_bodies()
        if body["event_name"] == "user_received_message"
    ]
    expected = {r["tracking_id"] for r in sb.ledger(accepted=1)}
    assert len(expected) == 40 and sorted(delivered) == sorted(expected)


def test_the_management_command_serves_with_its_flags(tmp_path):
    port = free_port()
    env = {**os.environ, "DEBUG": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "zalo_sandbox",
            "--port",
            str(port),
            "--reset",
            "--database-url",
            f"sqlite:///{tmp_path / 'sb.sqlite3'}",
            "--error-rate",
            "1",
            "--error-status",
            "502",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert testing.wait_ready(Sandbox(base, process), timeout=30)
        assert requests.get(f"{base}/zalo/message/quota", timeout=5).status_code == 502
        seed = requests.get(f"{base}/sandbox/admin/seed", timeout=5).json()
        assert seed["zalo_app"] == {"app_id": "demo-app-1", "secret_key": "demo-app-1-secret-key"}
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0].decode()
    assert "demo-infobip-api-key" in output  # the credentials are printed for `make run`


def test_the_clock_can_jump_advance_freeze_and_return(sb):
    jumped = sb.set_clock(at="2026-01-31T23:30:00+07:00")
    assert jumped["vietnam_day"] == "2026-01-31" and jumped["vietnam_hour"] == 23
    assert sb.set_clock(advance_seconds=3600)["vietnam_day"] == "2026-02-01"
    frozen = sb.set_clock(fixed="2026-03-01T00:00:00+00:00")
    time.sleep(0.05)
    assert sb.clock()["now"] == frozen["now"] == "2026-03-01T00:00:00+00:00"
    assert sb.set_clock(advance_seconds=60)["now"] == "2026-03-01T00:01:00+00:00"
    assert abs(float(sb.set_clock(real=True)["offset_seconds"])) == 0


def test_reset_wipes_everything_and_restores_the_demo_data(sb, zalo):
    zalo.send(reachable_phone(sb), tracking_id="before-reset")
    sb.configure(delay_factor=5)
    sb.oa("demo-oa-1", balance=1)
    result = sb.reset()
    assert result["credentials"]["infobip"]["api_key"] == "demo-infobip-api-key"
    assert sb.ledger(accepted="all") == [] and sb.webhooks() == []
    assert sb.admin("GET", "config")["delay_factor"] == 0.001  # the start-up configuration is kept
    assert sb.oa("demo-oa-1")["balance"] == 10**12
    empty = sb.reset(seed=False)
    assert empty["credentials"] is None
    assert zalo.send("84912345678")["error"] == -124


def test_unknown_paths_answer_json(sb):
    response = requests.get(f"{sb.base_url}/zalo/no/such/path", timeout=5)
    assert response.status_code == 404 and response.json()["error"] == "not found"


def test_tests_can_build_their_own_oas_templates_and_senders(sb):
    sb.create_oa("oa-x", app_id="demo-app-1", policy_code="zbs-2026", initial_limit=1000)
    sb.create_template("oa-x", "900001", name="Custom", tag=2, params=[{"name": "code", "maxLength": 5}])
    sb.infobip_account("key-x", senders=["oa-x"])
    tokens = sb.mint_tokens("oa-x")
    headers = {"access_token": tokens["access_token"]}
    phone = reachable_phone(sb)
    body = {
        "phone": phone,
        "template_id": "900001",
        "template_data": {"code": "123456"},
        "tracking_id": "x-1",
    }
    answer = requests.post(f"{sb.zalo_base}/message/template", json=body, headers=headers, timeout=5).json()
    assert answer["error"] == -1121
    body["template_data"]["code"] = "12345"
    answer = requests.post(f"{sb.zalo_base}/message/template", json=body, headers=headers, timeout=5).json()
    assert answer["error"] == 0 and answer["data"]["quota"] == {"dailyQuota": "1000", "remainingQuota": "999"}
    quota = requests.get(
        f"{sb.infobip_base}/zalo/1/sender/oa-x/quota", headers={"Authorization": "App key-x"}, timeout=5
    ).json()
    assert quota["remainingDailyQuota"] == 999
