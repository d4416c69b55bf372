"""Infobip SMS API v3 (served under /infobip/sms/3/...): send, one-time delivery reports, logs.

Shapes from sandbox/spec/infobip/sms-v3-openapi.json: `SmsRequestEnvelope` in, `SmsResponseEnvelope`
out (status PENDING_ACCEPTED, `details.messageCount`), `DeliveryReports` to `webhooks.delivery.url`,
`GET /sms/3/reports` (each report once) and `GET /sms/3/logs`. The ledger rows have provider
`infobip_sms` (channel `sms`): messageIds are unique per account and API, like the Zalo API's.
"""

import math
import uuid
from datetime import timedelta

from django.db import transaction

from sandbox import batch, engine, runtime
from sandbox.errors import DELIVERED, NO_ERROR, PENDING_ACCEPTED, REJECTED_DUPLICATE
from sandbox.http import json_response, read_json
from sandbox.infobip_views import (
    GENERAL_STATUSES,
    MAX_VALIDITY,
    SPEED_UNIT_SECONDS,
    _period,
    api_error,
    destination_refusal,
    existing_message_ids,
    infobip_api,
    insert_scheduled,
    parse_send_at,
    shared_message_violations,
    validate_schedule,
)
from sandbox.models import SandboxMessage

PROVIDER = "infobip_sms"
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def message_count(text: str) -> int:
    """SMS parts: GSM-7 160 (153 per part when concatenated), otherwise UCS-2 70 (67 per part)."""
    single, part = (160, 153) if set(text) <= GSM7 else (70, 67)
    return 1 if len(text) <= single else math.ceil(len(text) / part)


def validate(body) -> list:
    if not isinstance(body, dict):
        return [("", "request body must be a JSON object")]
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return [("messages", "must not be empty")]
    violations = validate_schedule(body)
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            violations.append((path, "must be an object"))
            continue
        if message.get("sender") is not None and not isinstance(message["sender"], str):
            violations.append((f"{path}.sender", "must be a string"))
        destinations = message.get("destinations")
        if not isinstance(destinations, list) or not destinations:
            violations.append((f"{path}.destinations", "must not be empty"))
        else:
            for j, destination in enumerate(destinations):
                to = destination.get("to") if isinstance(destination, dict) else None
                if not isinstance(to, str) or not to.strip():
                    violations.append((f"{path}.destinations[{j}].to", "must not be blank"))
                elif len(to) > 64:
                    violations.append((f"{path}.destinations[{j}].to", "size must be between 0 and 64"))
                elif len(str(destination.get("messageId") or "")) > 200:
                    violations.append(
                        (f"{path}.destinations[{j}].messageId", "size must be between 0 and 200")
                    )
        content = message.get("content")
        if not isinstance(content, dict):
            violations.append((f"{path}.content", "must not be null"))
        elif not isinstance(content.get("text"), str) or not content["text"]:
            violations.append((f"{path}.content.text", "must not be blank (text content only)"))
        options = message.get("options") or {}
        if not isinstance(options, dict):
            violations.append((f"{path}.options", "must be an object"))
            continue
        violations.extend(shared_message_violations(message, options, path))
    return violations


@infobip_api(methods=("POST",))
def send_sms(request, account):
    try:
        body = read_json(request)
    except ValueError:
        return api_error(400, "Request cannot be processed.", [("", "request body must be valid JSON")])
    violations = validate(body)
    if violations:
        return api_error(400, "Request cannot be processed.", violations)
    schedule = ((body.get("options") or {}).get("schedule")) or {}
    bulk_id = str(schedule.get("bulkId") or "") or engine.new_bulk_id()
    now = runtime.now()
    start = parse_send_at(schedule["sendAt"]) if schedule.get("sendAt") else now
    speed = schedule.get("sendingSpeedLimit")
    results, rows, position = [], [], 0
    wanted = [str(d.get("messageId") or "") for m in body["messages"] for d in m["destinations"]]
    with runtime.WRITE_LOCK, transaction.atomic():
        seen = existing_message_ids(account, PROVIDER, [m for m in wanted if m])
        for message in body["messages"]:
            options = message.get("options") or {}
            validity = (
                _period(options["validityPeriod"], "", []) if "validityPeriod" in options else MAX_VALIDITY
            )
            text = message["content"]["text"]
            parts = message_count(text)
            data = {"sender": message.get("sender") or "", "text": text}
            stored_options = {**options, "webhooks": message.get("webhooks") or {}}
            for destination in message["destinations"]:
                to = destination["to"].strip()
                message_id = str(destination.get("messageId") or "") or str(uuid.uuid4())
                refusal = destination_refusal(to)
                if refusal is None and message_id in seen:
                    refusal = REJECTED_DUPLICATE
                if refusal is not None:
                    results.append(_result(message_id, to, refusal, parts))
                    continue
                seen.add(message_id)
                send_after = start
                if speed:
                    unit = SPEED_UNIT_SECONDS[speed.get("timeUnit", "MINUTE")]
                    send_after = start + timedelta(seconds=(position // speed["amount"]) * unit)
                position += 1
                rows.append(
                    [
                        PROVIDER,
                        "sms",
                        None,
                        "",
                        to,
                        message_id,
                        engine.new_msg_id(),
                        message_id,
                        bulk_id,
                        data,
                        False,
                        True,
                        "scheduled",
                        now,
                        send_after,
                        send_after + timedelta(seconds=validity),
                        stored_options,
                        account.pk,
                    ]
                )
                results.append(_result(message_id, to, PENDING_ACCEPTED, parts))
        insert_scheduled(rows)
    return json_response({"bulkId": bulk_id, "messages": results})


def _result(message_id, to, status, parts):
    return {"messageId": message_id, "status": status, "destination": to, "details": {"messageCount": parts}}


# --- simulation (called by the worker through engine.dispatch) ---------------------------------------


def dispatch(msg: SandboxMessage, now) -> None:
    """The operator takes the SMS at its send time, inside its window; delivered after the person's
    delivery delay (every valid number receives SMS), or expired when the validity has passed."""
    if msg.state != "scheduled":
        return
    if msg.expires_at and now >= msg.expires_at:
        msg.state = "expired"
        batch.save(msg, ("state",))
        report(msg, engine.EXPIRED, engine.EXPIRED_ERROR, now)
        return
    opens = engine.next_window_start(now, msg.options.get("deliveryTimeWindow"))
    if opens > now:
        msg.send_after = min(opens, msg.expires_at) if msg.expires_at else opens
        batch.save(msg, ("send_after",))
        return
    from sandbox import people

    profile = people.profile_for(msg.recipient, runtime.config())
    msg.state, msg.sent_to_user, msg.sent_at = "sent", True, now
    batch.save(msg, ("state", "sent_to_user", "sent_at"))
    batch.schedule(msg, "deliver", now + timedelta(seconds=profile["delivery_delay"]))


def deliver(msg: SandboxMessage, now) -> None:
    if msg.state != "sent":
        return
    msg.state, msg.delivered_at = "delivered", now
    batch.save(msg, ("state", "delivered_at"))
    report(msg, DELIVERED, NO_ERROR, now)


def report(msg: SandboxMessage, status: dict, error: dict, now) -> None:
    """A DeliveryReport (SMS v3): stored for /sms/3/reports and /logs, pushed to the delivery URL."""
    options = msg.options or {}
    hooks = options.get("webhooks") or {}
    result = {
        "bulkId": msg.bulk_id,
        "price": {"pricePerMessage": 0.0075 if status["groupName"] == "DELIVERED" else 0, "currency": "EUR"},
        "status": status,
        "error": error,
        "messageId": msg.message_id,
        "to": msg.recipient,
        "sender": (msg.template_data or {}).get("sender", ""),
        "sentAt": engine.ib_time(msg.sent_at or msg.accepted_at),
        "doneAt": engine.ib_time(now),
        "messageCount": message_count((msg.template_data or {}).get("text", "")),
        "mccMnc": "45204" if msg.recipient.startswith("84") else None,
    }
    if hooks.get("callbackData") is not None:
        result["callbackData"] = hooks["callbackData"]
    platform = options.get("platform") or {}
    if platform:
        result["platform"] = {k: platform[k] for k in ("entityId", "applicationId") if platform.get(k)}
    if options.get("campaignReferenceId"):
        result["campaignReferenceId"] = options["campaignReferenceId"]
    msg.report = result
    msg.report_pulled, msg.report_waiting = False, True
    batch.save(msg, ("report", "report_pulled", "report_waiting"))
    delivery = hooks.get("delivery") or {}
    if delivery.get("url") and delivery.get("notify", True) is not False:
        from sandbox import webhooks

        webhooks.emit_infobip(delivery["url"], [result])


# --- reports and logs --------------------------------------------------------------------------------


def _limit(request):
    try:
        limit = int(request.GET.get("limit", 50))
    except ValueError:
        return None
    return limit if 1 <= limit <= 1000 else None


@infobip_api()
def reports(request, account):
    """One-time delivery reports: each is returned once."""
    limit = _limit(request)
    if limit is None:
        return api_error(400, "Request cannot be processed.", [("limit", "must be between 1 and 1000")])
    q = request.GET
    with runtime.WRITE_LOCK, transaction.atomic():
        rows = SandboxMessage.objects.filter(provider=PROVIDER, infobip_account=account, report_waiting=True)
        for name in ("bulkId", "messageId"):
            if q.get(name):
                rows = rows.filter(**{"bulk_id" if name == "bulkId" else "message_id": q[name]})
        picked = list(rows.order_by("id")[: limit * 4])
        for name in ("entityId", "applicationId", "campaignReferenceId"):
            if q.get(name):
                picked = [m for m in picked if _option(m, name) == q[name]]
        picked = picked[:limit]
        SandboxMessage.objects.filter(pk__in=[m.pk for m in picked]).update(
            report_pulled=True, report_waiting=False
        )
    return json_response({"results": [m.report for m in picked]})


def _option(msg: SandboxMessage, name: str):
    options = msg.options or {}
    if name == "campaignReferenceId":
        return options.get(name)
    return (options.get("platform") or {}).get(name)


@infobip_api()
def logs(request, account):
    limit = _limit(request)
    if limit is None:
        return api_error(400, "Request cannot be processed.", [("limit", "must be between 1 and 1000")])
    q = request.GET
    rows = SandboxMessage.objects.filter(
        provider=PROVIDER, infobip_account=account, accepted_at__gte=runtime.now() - timedelta(hours=48)
    )
    if q.get("destination"):
        rows = rows.filter(recipient=q["destination"])
    for name, field in (("messageId", "message_id"), ("bulkId", "bulk_id")):
        if q.get(name):
            rows = rows.filter(**{f"{field}__in": [v.strip() for v in q[name].split(",") if v.strip()]})
    for name, lookup in (("sentSince", "accepted_at__gte"), ("sentUntil", "accepted_at__lte")):
        if q.get(name):
            try:
                rows = rows.filter(**{lookup: parse_send_at(q[name])})
            except ValueError:
                return api_error(
                    400, "Request cannot be processed.", [(name, "must be yyyy-MM-dd'T'HH:mm:ss.SSSZ")]
                )
    general = q.get("generalStatus")
    if general and general not in GENERAL_STATUSES:
        return api_error(400, "Request cannot be processed.", [("generalStatus", "unknown status")])
    results = []
    for msg in rows.order_by("-accepted_at", "-id")[:5000]:
        entry = _log(msg)
        if q.get("sender") and entry["sender"] != q["sender"]:
            continue
        if general and entry["status"]["groupName"] != general:
            continue
        if any(q.get(n) and _option(msg, n) not in q[n].split(",") for n in ("campaignReferenceId",)):
            continue
        if any(q.get(n) and _option(msg, n) != q[n] for n in ("entityId", "applicationId")):
            continue
        results.append(entry)
        if len(results) >= limit:
            break
    return json_response({"results": results})


def _log(msg: SandboxMessage) -> dict:
    report_ = msg.report or {}
    data = msg.template_data or {}
    out = {
        "sender": data.get("sender", ""),
        "destination": msg.recipient,
        "bulkId": msg.bulk_id,
        "messageId": msg.message_id,
        "sentAt": engine.ib_time(msg.sent_at or msg.accepted_at),
        "doneAt": report_.get("doneAt"),
        "messageCount": message_count(data.get("text", "")),
        "price": report_.get("price") or {"pricePerMessage": 0, "currency": "EUR"},
        "status": report_.get("status") or PENDING_ACCEPTED,
        "error": report_.get("error") or dict(NO_ERROR),
        "content": {"text": data.get("text", "")},
    }
    if (msg.options or {}).get("campaignReferenceId"):
        out["campaignReferenceId"] = msg.options["campaignReferenceId"]
    if report_.get("platform"):
        out["platform"] = report_["platform"]
    if report_.get("mccMnc"):
        out["mccMnc"] = report_["mccMnc"]
    return out
