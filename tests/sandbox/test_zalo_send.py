"""Zalo ZNS/ZBS send by phone over real HTTP: ledger, status, error codes, quotas, marketing caps."""

from datetime import date, timedelta

from quotas import rules
from sandbox import crypto
from sandbox.testing import DEMO_TOKENS

from .conftest import reachable_phone


def test_a_send_is_accepted_recorded_and_delivered(sb, zalo):
    phone = reachable_phone(sb)
    result = zalo.send(phone, tracking_id="order-88213")
    assert result["error"] == 0 and result["message"] == "Success"
    data = result["data"]
    assert len(data["msg_id"]) == 20 and data["sent_time"].isdigit() and data["sending_mode"] == "1"
    assert data["quota"] == {"dailyQuota": "20000", "remainingQuota": "19999"}

    [row] = sb.ledger(tracking_id="order-88213")
    assert row["msg_id"] == data["msg_id"] and row["recipient"] == phone and row["accepted"]
    assert row["template_data"]["customer_name"] == "Nguyễn Văn A"
    assert sb.drain()
    status = zalo.get("/message/status", message_id=data["msg_id"])
    assert (
        status["error"] == 0 and status["data"]["status"] == 1 and status["data"]["delivery_time"].isdigit()
    )
    assert zalo.get("/message/status", message_id="nope")["data"]["status"] == -1


def test_local_phone_forms_are_normalised(sb, zalo):
    phone = reachable_phone(sb)
    assert zalo.send("0" + phone[2:], tracking_id="a")["error"] == 0
    assert zalo.send("+" + phone, tracking_id="b")["error"] == 0
    assert {r["recipient"] for r in sb.ledger()} == {phone}
    sb.configure(accept_local_phone_formats=False)
    assert zalo.send("0" + phone[2:], tracking_id="c")["error"] == -108


def test_the_ledger_shows_duplicates_and_rejections(sb, zalo):
    phone = reachable_phone(sb)
    zalo.send(phone, tracking_id="same")
    zalo.send(phone, tracking_id="same")
    zalo.send("123", tracking_id="bad")
    summary = sb.ledger_summary()
    assert summary["accepted"] == 2 and summary["rejected_attempts"] == 1
    assert summary["duplicate_tracking_ids"] == {"same": 2}
    assert [r["error"] for r in sb.ledger(accepted="0")] == [-108]


def test_it_answers_every_documented_error(sb, zalo):
    phone = reachable_phone(sb)
    sb.pin_recipient("84911111111", not_on_zalo=True)
    sb.pin_recipient("84922222222", not_on_zalo=False, opted_out=True)
    cases = [
        (zalo.send("12345", tracking_id="a"), -108),
        (zalo.send("84911111111"), -118),
        (zalo.send("84922222222"), -141),
        (zalo.send(phone, template_id="999999"), -109),
        (zalo.send(phone, template_id="200001", data={"otp": "1234"}), -117),
        (zalo.send(phone, template_id="100007", data={"customer_name": "A", "order_code": "B"}), -146),
        (zalo.send(phone, template_id="100008", data={"customer_name": "A"}), -131),
        (zalo.send(phone, data={"customer_name": "A", "amount": "1"}), -1122),
        (zalo.send(phone, data={"customer_name": "A" * 31, "order_code": "B", "amount": "1"}), -1121),
        (zalo.send(phone, data={"customer_name": "A", "order_code": "B", "amount": "one"}), -1124),
        (zalo.send(phone, data={}), -111),
        (zalo.send(phone, tracking_id="x" * 49), -132),
        (zalo.send(phone, sending_mode="3"), -162),
        (zalo.send(phone, sending_mode="7"), -161),
        (zalo.send(phone, mode="development"), -127),
        (zalo.post("/message/template", None, raw=""), -121),
        (zalo.post("/message/template", None, raw="{not json"), -122),
        (zalo.post("/message/template", {"phone": phone}, token="wrong"), -124),
    ]
    assert [result["error"] for result, _ in cases] == [code for _, code in cases]
    assert cases[1][0] == {"error": -118, "message": "Zalo account not existed", "data": None}
    sb.oa("demo-oa-1", balance=0)
    assert zalo.send(phone)["error"] == -115
    assert sb.ledger_summary()["accepted"] == 0


def test_development_mode_sends_only_to_admins(sb, zalo):
    sb.pin_recipient("84900000001", not_on_zalo=False, opted_out=False)
    result = zalo.send("84900000001", mode="development")
    assert result["error"] == 0
    assert sb.oa("demo-oa-1")["sent_today"] == 0  # development sends use their own small quota
    sb.configure(dev_daily_quota=1)
    assert zalo.send("84900000001", mode="development")["error"] == -126


def test_the_daily_limit_is_enforced(sb, zalo):
    sb.oa(
        "demo-oa-1",
        policy_overrides={
            "levels": [2, 4, 8],
            "starting_level": 2,
            "penalty_zone": 2,
            "marketing_min_level": None,
        },
        initial_limit=2,
    )
    phones = [reachable_phone(sb, start=84912000000 + i * 100) for i in range(3)]
    assert [zalo.send(p, tracking_id=p)["error"] for p in phones] == [0, 0, -144]
    quota = zalo.get("/message/quota")["data"]
    assert quota["dailyQuota"] == 2 and quota["remainingQuota"] == 0
    sb.set_clock(advance_seconds=86400)
    assert zalo.send(phones[2], tracking_id="next-day")["error"] == 0


def test_forced_quota_exhaustion(sb, zalo):
    phone = reachable_phone(sb)
    sb.oa("demo-oa-1", quota_exhausted=True)
    assert zalo.send(phone)["error"] == -144
    sb.oa("demo-oa-1", quota_exhausted=False)
    sb.configure(quota_exhausted=True)
    assert zalo.send(phone)["error"] == -144


def test_levels_change_by_the_quota_rules_and_are_announced(sb, zalo, receiver):
    sb.app("demo-app-1", webhook_url=receiver.url)
    overrides = {
        "levels": [10, 20, 40],
        "starting_level": 10,
        "penalty_zone": 10,
        "marketing_min_level": None,
    }
    today = date.fromisoformat(sb.clock()["vietnam_day"])
    sb.oa(
        "demo-oa-1",
        policy_overrides=overrides,
        initial_limit=10,
        first_day=(today - timedelta(days=8)).isoformat(),
    )
    sb.drain()
    assert sb.oa("demo-oa-1")["limit"] == 10
    days = [{"day": (today - timedelta(days=d)).isoformat(), "sent": 10} for d in range(8, 0, -1)]
    state = sb.set_history("demo-oa-1", days)
    # Reference: the same rules engine over the same history says 20 (an upgrade effective today).
    policy = rules.Policy(
        code="t",
        levels=(10, 20, 40),
        starting_level=10,
        penalty_zone=10,
        marketing_min_level=None,
        recipient_marketing_per_day=None,
        recipient_marketing_per_month=4,
        marketing_quota_divisor=6,
        marketing_quota_months=2,
        first_marketing_month_bonus=10000,
        high_max_rate=rules.Decimal("0.001"),
        medium_max_rate=rules.Decimal("0.005"),
        review_window_days=7,
        wait_days=7,
        upgrade_multiplier=2,
        violation_rate=rules.Decimal("0.02"),
    )
    expected = rules.simulate(
        policy, [10] * 8 + [0], [[0] * 24] * 9, initial_limit=10, review_clock_start=None
    )
    assert state["limit"] == expected.days[-1].limit == 20
    assert state["quality_7d"] == "HIGH"
    sb.drain()
    [event] = [b for b in receiver.json_bodies() if b["event_name"] == "change_oa_daily_quota"]
    assert event["quota"] == {"prev_value": "10", "new_value": "20"} and event["oaId"] == "demo-oa-1"


def test_bad_reports_trigger_an_automatic_violation_at_the_end_of_the_hour(sb, zalo):
    overrides = {
        "levels": [10, 20, 40],
        "starting_level": 20,
        "penalty_zone": 10,
        "marketing_min_level": None,
        "violation_rate": "0.05",
    }
    sb.oa("demo-oa-1", policy_overrides=overrides, initial_limit=20)
    sb.set_clock(at="2026-11-23T03:10:00+00:00")  # 10:10 in Vietnam
    bad = reachable_phone(sb, bad_report=True)
    sb.pin_recipient(bad, bad_report=True)
    # Two templates: one bad report of one send makes a template LOW (and disabled) at once.
    assert zalo.send(bad, tracking_id="b1")["error"] == 0
    assert zalo.send(bad, template_id="100004", data={"otp": "123456"}, tracking_id="b2")["error"] == 0
    sb.set_clock(advance_seconds=30)
    sb.drain()
    assert len([r for r in sb.ledger() if r["bad_reported_at"]]) == 2
    assert sb.oa("demo-oa-1")["limit"] == 20  # 2 > 5 % of 20 = 1, but only at the end of the hour
    sb.set_clock(advance_seconds=3600)
    assert sb.oa("demo-oa-1")["limit"] == 10


def test_marketing_caps_per_policy(sb):
    from .conftest import ZaloClient

    marketing = {"customer_name": "A", "voucher_code": "SALE"}
    zns = ZaloClient(sb, DEMO_TOKENS["demo-oa-1"])  # zns-2024: 4 per recipient per month
    phone = reachable_phone(sb)
    results = [
        zns.send(phone, template_id="100003", data=marketing, tracking_id=f"m{i}")["error"] for i in range(5)
    ]
    assert results == [0, 0, 0, 0, -1471]

    zbs = ZaloClient(sb, DEMO_TOKENS["demo-oa-2"])  # zbs-2026: 1 per day, 30 per month
    assert zbs.send(phone, template_id="200003", data=marketing)["error"] == 0
    assert zbs.send(phone, template_id="200003", data=marketing)["error"] == -1472
    sb.set_clock(advance_seconds=86400)
    assert zbs.send(phone, template_id="200003", data=marketing)["error"] == 0

    small = ZaloClient(sb, DEMO_TOKENS["demo-oa-3"])  # zns-2024 at 5,000: below the 20,000 marketing level
    assert small.send(phone, template_id="300003", data=marketing)["error"] == -145


def test_the_monthly_marketing_quota(sb, zalo):
    sb.oa("demo-oa-1", policy_overrides={"first_marketing_month_bonus": 1})
    marketing = {"customer_name": "A", "voucher_code": "SALE"}
    first, second = reachable_phone(sb), reachable_phone(sb, start=84913000000)
    assert zalo.send(first, template_id="100003", data=marketing)["error"] == 0
    assert zalo.send(second, template_id="100003", data=marketing)["error"] == -1441
    assert zalo.get("/message/quota")["data"]["remainingMonthlyPromotionQuota"] == 0


def test_the_daily_marketing_share(sb, zalo):
    # demo-oa-1 is zns-2024 at 20,000: 25 % of it, 5,000 marketing a day, reported by /message/quota.
    quota = zalo.get("/message/quota")["data"]
    assert (quota["dailyQuotaPromotion"], quota["remainingQuotaPromotion"]) == (5000, 5000)
    sb.oa("demo-oa-1", policy_overrides={"marketing_daily_share": "0.0001"})  # 2 a day at 20,000
    marketing = {"customer_name": "A", "voucher_code": "SALE"}
    phones = [reachable_phone(sb, start=84912000000 + 100000 * i) for i in range(4)]
    assert [zalo.send(p, template_id="100003", data=marketing)["error"] for p in phones[:2]] == [0, 0]
    refused = zalo.send(phones[2], template_id="100003", data=marketing)
    assert (refused["error"], refused["message"]) == (-1441, "OA exceeded daily promotion quota")
    assert zalo.send(phones[2])["error"] == 0  # other tags do not count and are not stopped
    quota = zalo.get("/message/quota")["data"]
    assert (quota["dailyQuotaPromotion"], quota["remainingQuotaPromotion"]) == (2, 0)
    assert sb.oa("demo-oa-1")["marketing_sent_today"] == 2
    sb.set_clock(advance_seconds=86400)  # a new Vietnam day: the share is back
    assert zalo.send(phones[3], template_id="100003", data=marketing)["error"] == 0


def test_no_daily_promotion_share_below_the_marketing_level_or_under_zbs(sb):
    from .conftest import ZaloClient

    small = ZaloClient(sb, DEMO_TOKENS["demo-oa-3"]).get("/message/quota")["data"]  # zns-2024 at 5,000
    zbs = ZaloClient(sb, DEMO_TOKENS["demo-oa-2"]).get("/message/quota")["data"]
    assert (small["dailyQuotaPromotion"], small["remainingQuotaPromotion"]) == (None, None)
    assert (zbs["dailyQuotaPromotion"], zbs["remainingQuotaPromotion"]) == (None, None)


def test_marketing_goes_to_the_inbox_of_followers_and_the_business_box_of_others(sb, zalo):
    marketing = {"customer_name": "A", "voucher_code": "SALE"}
    follower = reachable_phone(sb, follower=True)
    stranger = reachable_phone(sb, follower=False)
    zalo.send(follower, template_id="100003", data=marketing, tracking_id="f")
    zalo.send(stranger, template_id="100003", data=marketing, tracking_id="s")
    zalo.send(stranger, tracking_id="t")
    boxes = {r["tracking_id"]: r["box"] for r in sb.ledger()}
    assert boxes == {"f": "inbox", "s": "business_box", "t": "inbox"}


def test_templates_quality_and_tags(sb, zalo):
    listing = zalo.get("/template/all", offset=0, limit=100)
    assert listing["metadata"]["total"] == 9 and listing["data"][0]["templateId"] == 100001
    assert {t["status"] for t in zalo.get("/template/all", status=4)["data"]} == {"DISABLE"}
    info = zalo.get("/template/info/v2", template_id="100001")["data"]
    assert info["templateId"] == "100001" and info["listParams"][0]["name"] == "customer_name"
    assert {"price_sdt", "price_uid", "templateQuality", "templateTag"} <= set(info)
    assert zalo.get("/template/info/v2", template_id="200001")["error"] == -117
    assert zalo.get("/template/sample-data", template_id="100001")["data"]["order_code"] == "DH001"
    assert zalo.get("/quality")["data"] == {"oaCurrentQuality": "UNDEFINED", "oa7dayQuality": "UNDEFINED"}
    assert "PROMOTION" in zalo.get("/message/template-tag")["data"]


def test_rsa_keys_and_encrypted_sends(sb, zalo):
    assert zalo.get("/rsa/key/get")["error"] == -142
    generated = zalo.get("/rsa/key/gen")
    assert generated["error"] == 0
    assert zalo.get("/rsa/key/gen")["error"] == -143
    public = zalo.get("/rsa/key/get")["data"]["public_key"]
    assert public == generated["data"]["public_key"]
    phone = reachable_phone(sb)
    body = {
        "rsa_phone": crypto.encrypt(public, phone),
        "template_id": "100002",
        "template_data": {
            "customer_name": crypto.encrypt(public, "Trần Thị B"),
            "order_code": crypto.encrypt(public, "X9"),
        },
        "tracking_id": "rsa-1",
    }
    assert zalo.post("/rsa/message/template", body)["error"] == 0
    [row] = sb.ledger(tracking_id="rsa-1")
    assert row["template_data"] == {"customer_name": "Trần Thị B", "order_code": "X9"} and row["encrypted"]
    body["template_data"]["order_code"] = "bm90IGVuY3J5cHRlZA=="
    assert zalo.post("/rsa/message/template", body)["error"] == -123


def test_hash_phone_and_uid_sends(sb, zalo):
    import hashlib

    phone = reachable_phone(sb)
    body = {
        "hash_phone": hashlib.sha256(phone.encode()).hexdigest(),
        "template_id": "100004",
        "template_data": {"otp": "123456"},
        "tracking_id": "h1",
    }
    result = zalo.post("/message/template/hashphone", body)
    assert result["error"] in (0, -118, -141)  # the hash is its own simulated person
    uid = zalo.post(
        "/v3.0/oa/message/template",
        {"user_id": "2512523625412515", "template_id": "100004", "template_data": {"otp": "123456"}},
        token="bad",
    )
    assert uid["error"] == -216
