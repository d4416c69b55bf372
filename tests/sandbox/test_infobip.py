"""Infobip Zalo API over real HTTP: multi-destination sends with every option, reports, logs, keys."""

from datetime import UTC, datetime, timedelta

from sandbox import crypto

from .conftest import InfobipClient, reachable_phone

OTP = {"templateName": 200001, "templateData": {"otp": "123456"}, "type": "TEMPLATE"}


def test_it_needs_an_app_key(sb):
    response = InfobipClient(sb, key="wrong").send({"messages": []})
    assert response.status_code == 401 and response.json()["errorCode"] == "E401"


def test_a_bulk_of_several_messages_and_destinations(sb, infobip, receiver):
    phones = [reachable_phone(sb, start=84912000000 + i * 50) for i in range(3)]
    body = {
        "messages": [
            {
                "sender": "demo-oa-2",
                "destinations": [
                    {"to": phones[0], "messageId": "m-1"},
                    {"to": phones[1], "messageId": "m-2"},
                ],
                "content": OTP,
                "options": {
                    "platform": {"entityId": "priorityCustomer", "applicationId": "clientTestEnvironment"}
                },
                "webhooks": {"delivery": {"url": receiver.url}, "callbackData": "campaign-7"},
            },
            {
                "sender": "demo-oa-2",
                "destinations": [{"to": phones[2]}],
                "content": {
                    "templateName": 200002,
                    "templateData": {"customer_name": "A", "amount": "100"},
                    "type": "TEMPLATE",
                },
            },
            {"sender": "unknown-oa", "destinations": [{"to": phones[0], "messageId": "m-x"}], "content": OTP},
        ]
    }
    response = infobip.send(body)
    assert response.status_code == 200
    result = response.json()
    assert result["bulkId"]
    statuses = [(m["destination"], m["status"]["name"]) for m in result["messages"]]
    assert statuses == [
        (phones[0], "PENDING_ENROUTE"),
        (phones[1], "PENDING_ENROUTE"),
        (phones[2], "PENDING_ENROUTE"),
        (phones[0], "REJECTED_SENDER"),
    ]
    assert result["messages"][0]["messageId"] == "m-1"
    assert sb.drain()
    reports = [r for body in receiver.json_bodies() for r in body["results"]]
    assert {r["messageId"] for r in reports} == {"m-1", "m-2"}
    for report in reports:
        assert report["status"]["groupName"] == "DELIVERED" and report["callbackData"] == "campaign-7"
        assert report["entityId"] == "priorityCustomer" and report["channel"] == "ZALO_NOTIFICATION_SERVICE"
        assert report["bulkId"] == result["bulkId"] and report["error"]["name"] == "NO_ERROR"
    # Reports can also be pulled, once.
    pulled = infobip.get("/zalo/1/reports").json()["results"]
    assert len(pulled) == 3
    assert infobip.get("/zalo/1/reports").json()["results"] == []
    # Logs with filters.
    logs = infobip.get("/zalo/1/logs", messageId="m-1,m-2").json()["results"]
    assert {entry["messageId"] for entry in logs} == {"m-1", "m-2"}
    assert all(entry["from"] == "demo-oa-2" for entry in logs)
    assert len(infobip.get("/zalo/1/logs", generalStatus="DELIVERED").json()["results"]) == 3
    assert infobip.get("/zalo/1/logs", generalStatus="REJECTED").json()["results"] == []
    assert len(infobip.get("/zalo/1/logs", to=phones[2], limit=1).json()["results"]) == 1
    # A messageId is never accepted twice.
    again = infobip.send(
        {
            "messages": [
                {
                    "sender": "demo-oa-2",
                    "destinations": [{"to": phones[0], "messageId": "m-1"}],
                    "content": OTP,
                }
            ]
        }
    ).json()
    assert again["messages"][0]["status"]["name"] == "REJECTED_DUPLICATE_MESSAGE_ID"
    assert sb.ledger_summary()["duplicate_message_ids"] == {}


def test_zalo_failures_arrive_as_delivery_reports(sb, infobip, receiver):
    sb.pin_recipient("84911111111", not_on_zalo=True)
    body = {
        "messages": [
            {
                "sender": "demo-oa-2",
                "destinations": [{"to": "84911111111", "messageId": "gone"}],
                "content": OTP,
                "webhooks": {"delivery": {"url": receiver.url}},
            }
        ]
    }
    assert infobip.send(body).status_code == 200
    sb.drain()
    [report] = receiver.json_bodies()[0]["results"]
    assert report["status"]["name"] == "REJECTED_DESTINATION_NOT_REGISTERED"
    assert report["error"]["permanent"] is True and "-118" in report["error"]["description"]


def test_bad_requests_get_violations(sb, infobip):
    body = {
        "messages": [
            {
                "sender": "demo-oa-2",
                "destinations": [],
                "content": {"templateName": "abc", "templateData": {}, "type": "TEXT"},
                "options": {
                    "validityPeriod": {"amount": 5, "timeUnit": "DAYS"},
                    "deliveryTimeWindow": {"days": ["MONDAY"], "from": {"hour": 6, "minute": 0}},
                    "smsFailover": {"sender": "x"},
                },
            }
        ],
        "options": {"schedule": {"sendAt": "tomorrow", "sendingSpeedLimit": {"amount": 0}}},
    }
    response = infobip.send(body)
    assert response.status_code == 400
    error = response.json()
    assert error["errorCode"] == "E400"
    properties = {v["property"] for v in error["violations"]}
    assert {
        "messages[0].destinations",
        "messages[0].content.type",
        "messages[0].content.templateName",
        "messages[0].options.validityPeriod.timeUnit",
        "messages[0].options.deliveryTimeWindow",
        "messages[0].options.smsFailover.text",
        "options.schedule.sendAt",
        "options.schedule.sendingSpeedLimit.amount",
    } <= properties
    assert infobip.send({"messages": []}).status_code == 400


def test_schedule_speed_limit_window_and_validity(sb, infobip, receiver):
    sb.set_clock(at="2026-11-23T01:00:00+00:00")  # a Monday
    phones = [reachable_phone(sb, start=84912000000 + i * 50) for i in range(3)]
    body = {
        "messages": [
            {
                "sender": "demo-oa-2",
                "destinations": [{"to": p, "messageId": f"s-{i}"} for i, p in enumerate(phones)],
                "content": OTP,
                "options": {"validityPeriod": {"amount": 72, "timeUnit": "HOURS"}},
                "webhooks": {"delivery": {"url": receiver.url}},
            }
        ],
        # 10:00 in Vietnam = 03:00 UTC, two hours from now; one message per hour.
        "options": {
            "schedule": {
                "bulkId": "bulk-s",
                "sendAt": "2026-11-23T10:00:00.000+0700",
                "sendingSpeedLimit": {"amount": 1, "timeUnit": "HOUR"},
            }
        },
    }
    result = infobip.send(body).json()
    assert result["bulkId"] == "bulk-s"
    assert {m["status"]["name"] for m in result["messages"]} == {"PENDING_ACCEPTED"}
    rows = {r["message_id"]: r for r in sb.ledger(bulk_id="bulk-s")}
    start = datetime(2026, 11, 23, 3, tzinfo=UTC)
    for i in range(3):
        row = rows[f"s-{i}"]
        assert datetime.fromisoformat(row["send_after"]) == start + timedelta(hours=i)
        # validity is capped at 48 hours
        assert datetime.fromisoformat(row["expires_at"]) == start + timedelta(hours=i + 48)
    sb.drain()
    assert receiver.requests == []
    sb.set_clock(at="2026-11-23T04:00:01+00:00")
    sb.drain()
    delivered = {r["messageId"] for b in receiver.json_bodies() for r in b["results"]}
    assert delivered == {"s-0", "s-1"}


def test_delivery_window_and_expiry_with_sms_failover(sb, infobip, receiver):
    sb.set_clock(at="2026-11-23T16:00:00+00:00")  # Monday 16:00 UTC, outside 06:00-15:30
    phone = reachable_phone(sb)
    window = {
        "days": ["MONDAY", "TUESDAY"],
        "from": {"hour": 6, "minute": 0},
        "to": {"hour": 15, "minute": 30},
    }
    messages = [
        {
            "sender": "demo-oa-2",
            "destinations": [{"to": phone, "messageId": "w-ok"}],
            "content": OTP,
            "options": {"deliveryTimeWindow": window},
            "webhooks": {"delivery": {"url": receiver.url}},
        },
        {
            "sender": "demo-oa-2",
            "destinations": [{"to": phone, "messageId": "w-late"}],
            "content": OTP,
            "options": {
                "deliveryTimeWindow": window,
                "validityPeriod": {"amount": 30, "timeUnit": "MINUTES"},
                "smsFailover": {"sender": "41793026726", "text": "Your OTP is 123456"},
            },
            "webhooks": {"delivery": {"url": receiver.url}, "callbackData": "late"},
        },
    ]
    assert infobip.send({"messages": messages}).status_code == 200
    sb.drain()
    rows = {r["message_id"]: r for r in sb.ledger()}
    assert rows["w-ok"]["state"] == "scheduled"
    sb.set_clock(at="2026-11-24T06:00:30+00:00")  # Tuesday, window open
    sb.drain()
    reports = {r["messageId"]: r for b in receiver.json_bodies() for r in b["results"]}
    assert reports["w-ok"]["status"]["groupName"] == "DELIVERED"
    assert reports["w-late"]["status"]["groupName"] == "EXPIRED"
    assert reports["w-late-sms"]["channel"] == "SMS" and reports["w-late-sms"]["callbackData"] == "late"
    sms = sb.ledger(channel="sms")[0]
    assert sms["template_data"] == {"sender": "41793026726", "text": "Your OTP is 123456"}


def test_encrypted_sends_are_decrypted_with_the_senders_key(sb, infobip):
    assert infobip.get("/zalo/1/sender/demo-oa-2/public-key").status_code == 404
    created = infobip.post("/zalo/1/sender/demo-oa-2/public-key")
    assert created.status_code == 200
    public = created.json()["publicKey"]
    assert infobip.post("/zalo/1/sender/demo-oa-2/public-key").status_code == 409
    assert infobip.get("/zalo/1/sender/demo-oa-2/public-key").json() == {"publicKey": public}
    phone = reachable_phone(sb)
    body = {
        "messages": [
            {
                "sender": "demo-oa-2",
                "destinations": [{"to": phone, "messageId": "enc"}],
                "content": {
                    "templateName": 200001,
                    "templateData": {"otp": crypto.encrypt(public, "654321")},
                    "type": "TEMPLATE",
                },
                "options": {"encrypted": True},
            }
        ]
    }
    assert infobip.send(body).status_code == 200
    [row] = sb.ledger(message_id="enc")
    assert row["template_data"] == {"otp": "654321"} and row["encrypted"]
    body["messages"][0]["content"]["templateData"]["otp"] = "654321"
    body["messages"][0]["destinations"][0]["messageId"] = "enc-2"
    response = infobip.send(body)
    assert response.status_code == 400 and "decrypted" in response.json()["violations"][0]["violation"]


def test_templates_and_quota(sb, infobip):
    listing = infobip.get("/zalo/1/sender/demo-oa-2/templates", size=2, status="ALL").json()
    assert listing["paging"] == {"page": 0, "size": 2, "totalPages": 2, "totalResults": 4}
    enabled = infobip.get("/zalo/1/sender/demo-oa-2/templates").json()["results"]
    assert [t["templateName"] for t in enabled] == [200001, 200002, 200003]
    disabled = infobip.get("/zalo/1/sender/demo-oa-2/templates", status="DISABLED").json()["results"]
    assert [t["templateName"] for t in disabled] == [200009] and disabled[0]["status"] == "DISABLE"
    detail = infobip.get("/zalo/1/sender/demo-oa-2/templates/200001").json()
    assert detail["templateProperties"][0]["name"] == "otp" and detail["status"] == "ENABLE"
    assert infobip.get("/zalo/1/sender/demo-oa-2/templates/100001").status_code == 404
    quota = infobip.get("/zalo/1/sender/demo-oa-2/quota").json()
    assert quota["dailyQuota"] == 20000 and quota["remainingDailyQuota"] == 20000


def test_logs_cover_48_hours_and_filter_by_time(sb, infobip):
    sb.set_clock(at="2026-11-20T00:00:00+00:00")
    phone = reachable_phone(sb)
    old = {
        "messages": [
            {"sender": "demo-oa-2", "destinations": [{"to": phone, "messageId": "old"}], "content": OTP}
        ]
    }
    assert infobip.send(old).status_code == 200
    sb.set_clock(at="2026-11-21T12:00:00+00:00")
    new = {
        "messages": [
            {"sender": "demo-oa-2", "destinations": [{"to": phone, "messageId": "new"}], "content": OTP}
        ]
    }
    assert infobip.send(new).status_code == 200
    ids = lambda **q: [r["messageId"] for r in infobip.get("/zalo/1/logs", **q).json()["results"]]  # noqa: E731
    assert ids() == ["new", "old"]
    assert ids(sentSince="2026-11-21T00:00:00.000+0000") == ["new"]
    assert ids(sentUntil="2026-11-20T23:59:59.000Z") == ["old"]
    sb.set_clock(at="2026-11-22T06:00:00+00:00")
    assert ids() == ["new"]  # older than 48 hours: gone from the logs
    assert infobip.get("/zalo/1/logs", limit=0).status_code == 400


def test_every_dispatched_message_is_charged(sb, infobip):
    phones = [reachable_phone(sb, start=84912000000 + i * 50) for i in range(5)]
    body = {
        "messages": [{"sender": "demo-oa-2", "destinations": [{"to": p} for p in phones], "content": OTP}]
    }
    assert infobip.send(body).status_code == 200
    sb.drain()
    state = sb.oa("demo-oa-2")
    assert state["sent_today"] == 5 and state["balance"] == 10**12 - 5 * 300


def test_bad_reports_reach_the_inbound_messages_webhook(sb, infobip, receiver):
    sb.admin("POST", "infobip-accounts", {"api_key": "demo-infobip-api-key", "inbound_url": receiver.url})
    phone = reachable_phone(sb)
    sb.pin_recipient(phone, bad_report=True)
    body = {
        "messages": [
            {
                "sender": "demo-oa-2",
                "destinations": [{"to": phone, "messageId": "rep"}],
                "content": OTP,
                "webhooks": {"callbackData": "cb-1"},
            }
        ]
    }
    assert infobip.send(body).status_code == 200
    sb.drain()
    [inbound] = receiver.json_bodies()
    [result] = inbound["results"]
    assert result["message"]["type"] == "USER_FEEDBACK" and result["message"]["trackingId"] == "rep"
    assert result["to"] == "demo-oa-2" and result["sender"] == phone and result["callbackData"] == "cb-1"
    assert inbound["messageCount"] == 1
    assert sb.oa("demo-oa-2")["quality_48h"] == "LOW"


def test_the_duplicate_check_reads_the_message_id_index_without_statistics(sb):
    """The duplicate check of every Infobip send must not walk the account's ledger (which grows
    with every send): on the sandbox's own database, without ANALYZE statistics, its query is a
    search of the (provider, account, messageId) unique index."""
    import sqlite3

    from django.db.backends.sqlite3.base import DatabaseWrapper

    from sandbox.infobip_views import used_message_ids
    from sandbox.models import SandboxInfobipAccount

    path = sb.database_url.removeprefix("sqlite:///")
    sqlite = DatabaseWrapper(
        {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": {}, "TIME_ZONE": None,
         "AUTOCOMMIT": True, "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False, "ATOMIC_REQUESTS": False,
         "TEST": {}, "USER": "", "PASSWORD": "", "HOST": "", "PORT": ""},
        alias="sandbox-plan",
    )  # fmt: skip
    query = used_message_ids(SandboxInfobipAccount(pk=1), "infobip", [f"m-{i}" for i in range(500)]).query
    sql, params = query.get_compiler(connection=sqlite).as_sql()  # compiled only: no connection
    db = sqlite3.connect(path)
    try:
        plan = " ".join(
            str(row[-1]) for row in db.execute("EXPLAIN QUERY PLAN " + sql.replace("%s", "?"), params)
        )
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchall()
    finally:
        db.close()
    assert "sandbox_one_message_id" in plan, plan
