"""Infobip Zalo API (served under /infobip/zalo/...): send, logs, reports, templates, quota, RSA key."""

import functools
import uuid
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.views.decorators.csrf import csrf_exempt

from sandbox import batch, crypto, engine, runtime
from sandbox.errors import (
    PENDING_ACCEPTED,
    PENDING_ENROUTE,
    REJECTED_DESTINATION,
    REJECTED_DUPLICATE,
    REJECTED_PREFIX_MISSING,
    REJECTED_SENDER,
)
from sandbox.http import json_response, read_json
from sandbox.models import (
    SandboxInfobipAccount,
    SandboxMessage,
    SandboxOA,
    SandboxTemplate,
)
from sandbox.zalo_views import OLD_TAGS

UNIT_SECONDS = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600}
SPEED_UNIT_SECONDS = {"MINUTE": 60, "HOUR": 3600, "DAY": 86400}
MAX_VALIDITY = 48 * 3600
STATUS_NAMES = {
    "ENABLE": "ENABLE",
    "PENDING_REVIEW": "PENDING_REVIEW",
    "REJECT": "REJECT",
    "DISABLE": "DISABLE",
}
STATUS_FILTERS = {
    "ENABLED": "ENABLE",
    "PENDING_REVIEW": "PENDING_REVIEW",
    "REJECTED": "REJECT",
    "DISABLED": "DISABLE",
}
GENERAL_STATUSES = ("ACCEPTED", "PENDING", "UNDELIVERABLE", "DELIVERED", "EXPIRED", "REJECTED")


def api_error(status: int, description: str, violations=(), code=None):
    return json_response(
        {
            "errorCode": code or f"E{status}",
            "description": description,
            "action": "Check the syntax, violations and adjust the request." if status == 400 else "",
            "violations": [{"property": p, "violation": v} for p, v in violations],
            "resources": [],
        },
        status=status,
    )


def infobip_api(methods=("GET",)):
    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, key = header.partition(" ")
            account = None
            if scheme == "App" and key.strip():
                key = key.strip()
                account = runtime.cached(
                    "infobip_account", key, lambda: SandboxInfobipAccount.objects.filter(api_key=key).first()
                )
            if account is None:
                return api_error(401, "Invalid login details", code="E401")
            if request.method not in methods:
                return api_error(405, "Method not allowed", code="E405")
            return view(request, account, *args, **kwargs)

        return wrapper

    return decorate


def _sender(account, sender) -> SandboxOA | None:
    sender = str(sender)
    return runtime.cached(
        "sender",
        (account.pk, sender),
        lambda: SandboxOA.objects.filter(infobip_account=account, oa_id=sender).first(),
    )


def parse_send_at(value: str) -> datetime:
    """`yyyy-MM-dd'T'HH:mm:ss.SSSZ` (Z as +0100, +01:00 or Z); milliseconds optional."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("time zone missing")
    return moment.astimezone(UTC)


def _period(value, path, violations, default_unit="MINUTES"):
    """Seconds of a validityPeriod {amount, timeUnit}, capped at 48 h; None with a violation."""
    if not isinstance(value, dict):
        violations.append((path, "must be an object {amount, timeUnit}"))
        return None
    amount, unit = value.get("amount"), value.get("timeUnit", default_unit)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
        violations.append((f"{path}.amount", "must be a positive integer"))
        return None
    if not isinstance(unit, str) or unit not in UNIT_SECONDS:
        violations.append((f"{path}.timeUnit", "must be one of SECONDS, MINUTES, HOURS"))
        return None
    return min(amount * UNIT_SECONDS[unit], MAX_VALIDITY)


def _window(value, path, violations):
    if not isinstance(value, dict):
        violations.append((path, "must be an object"))
        return
    days = value.get("days")
    if not isinstance(days, list) or not days or any(d not in engine.DAYS for d in days):
        violations.append((f"{path}.days", "must be a non-empty list of MONDAY…SUNDAY"))
    points = [value.get("from"), value.get("to")]
    if (points[0] is None) != (points[1] is None):
        violations.append((path, "from and to must be set both or neither"))
        return
    minutes = []
    for name, point in zip(("from", "to"), points, strict=True):
        if point is None:
            continue
        # DeliveryTime requires both `hour` and `minute` (Infobip's OpenAPI).
        hour, minute = (point.get("hour"), point.get("minute")) if isinstance(point, dict) else (None, None)
        if (
            not isinstance(hour, int)
            or not 0 <= hour <= 23
            or not isinstance(minute, int)
            or not 0 <= minute <= 59
        ):
            violations.append((f"{path}.{name}", "hour (0-23) and minute (0-59) are both required"))
            return
        minutes.append(hour * 60 + minute)
    if minutes and (minutes[1] - minutes[0]) % 1440 < 60:
        violations.append((path, "from and to must be at least 1 hour apart"))


def validate_schedule(body: dict) -> list:
    """Violations of the request-level `options.schedule` (both the Zalo and the SMS API)."""
    violations = []
    options = body.get("options") or {}
    schedule = (options.get("schedule") or {}) if isinstance(options, dict) else {}
    if not isinstance(options, dict):
        violations.append(("options", "must be an object"))
    elif not isinstance(schedule, dict):
        violations.append(("options.schedule", "must be an object"))
    elif schedule:
        if "sendAt" in schedule:
            try:
                send_at = parse_send_at(str(schedule["sendAt"]))
                if send_at > runtime.now() + timedelta(days=180):
                    violations.append(("options.schedule.sendAt", "must be at most 180 days in the future"))
            except ValueError:
                violations.append(("options.schedule.sendAt", "must be yyyy-MM-dd'T'HH:mm:ss.SSSZ"))
        speed = schedule.get("sendingSpeedLimit")
        if speed is not None:
            if not isinstance(speed, dict) or not isinstance(speed.get("amount"), int) or speed["amount"] < 1:
                violations.append(("options.schedule.sendingSpeedLimit.amount", "must be a positive integer"))
            elif (
                not isinstance(unit := speed.get("timeUnit", "MINUTE"), str) or unit not in SPEED_UNIT_SECONDS
            ):
                violations.append(
                    ("options.schedule.sendingSpeedLimit.timeUnit", "must be MINUTE, HOUR or DAY")
                )
        if len(str(schedule.get("bulkId", ""))) > 100:
            violations.append(("options.schedule.bulkId", "size must be between 0 and 100"))
    return violations


def shared_message_violations(message: dict, options: dict, path: str) -> list[tuple[str, str]]:
    """What Infobip checks alike on a Zalo and an SMS message: validityPeriod, deliveryTimeWindow,
    campaignReferenceId, platform ids, callbackData and the delivery URL."""
    violations = []
    if "validityPeriod" in options:
        _period(options["validityPeriod"], f"{path}.options.validityPeriod", violations)
    if "deliveryTimeWindow" in options:
        _window(options["deliveryTimeWindow"], f"{path}.options.deliveryTimeWindow", violations)
    reference = options.get("campaignReferenceId")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 255):
        violations.append((f"{path}.options.campaignReferenceId", "size must be between 0 and 255"))
    platform = options.get("platform") or {}
    if not isinstance(platform, dict):
        violations.append((f"{path}.options.platform", "must be an object"))
        platform = {}
    for key in ("entityId", "applicationId"):
        if len(str(platform.get(key) or "")) > 255:
            violations.append((f"{path}.options.platform.{key}", "size must be between 0 and 255"))
    hooks = message.get("webhooks") or {}
    if not isinstance(hooks, dict):
        violations.append((f"{path}.webhooks", "must be an object"))
        return violations
    if len(str(hooks.get("callbackData") or "")) > 4000:
        violations.append((f"{path}.webhooks.callbackData", "size must be between 0 and 4000"))
    delivery = hooks.get("delivery") or {}
    if not isinstance(delivery, dict):
        violations.append((f"{path}.webhooks.delivery", "must be an object"))
    elif delivery.get("url") and not str(delivery["url"]).startswith(("http://", "https://")):
        violations.append((f"{path}.webhooks.delivery.url", "must be a valid URL"))
    return violations


def validate(body, account):
    """Violations of a send request (property path, message)."""
    violations = []
    if not isinstance(body, dict):
        return [("", "request body must be a JSON object")]
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        violations.append(("messages", "must not be empty"))
        return violations
    violations += validate_schedule(body)
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            violations.append((path, "must be an object"))
            continue
        if not message.get("sender"):
            violations.append((f"{path}.sender", "must not be blank"))
        destinations = message.get("destinations")
        if not isinstance(destinations, list) or not destinations:
            violations.append((f"{path}.destinations", "must not be empty"))
        else:
            for j, destination in enumerate(destinations):
                if not isinstance(destination, dict) or not str(destination.get("to") or "").strip():
                    violations.append((f"{path}.destinations[{j}].to", "must not be blank"))
                elif len(str(destination.get("messageId") or "")) > 200:
                    violations.append(
                        (f"{path}.destinations[{j}].messageId", "size must be between 0 and 200")
                    )
        content = message.get("content")
        if not isinstance(content, dict):
            violations.append((f"{path}.content", "must not be null"))
        else:
            if content.get("type") != "TEMPLATE":
                violations.append((f"{path}.content.type", "only TEMPLATE is supported by the sandbox"))
            name = content.get("templateName")
            if isinstance(name, bool) or not (
                isinstance(name, int) or (isinstance(name, str) and name.isdigit())
            ):
                violations.append((f"{path}.content.templateName", "must be an integer"))
            if not isinstance(content.get("templateData"), dict):
                violations.append((f"{path}.content.templateData", "must be an object"))
        options = message.get("options") or {}
        if not isinstance(options, dict):
            violations.append((f"{path}.options", "must be an object"))
            continue
        violations.extend(shared_message_violations(message, options, path))
        failover = options.get("smsFailover")
        if failover is not None:
            if not isinstance(failover, dict) or not str(failover.get("text") or "").strip():
                violations.append((f"{path}.options.smsFailover.text", "must not be blank"))
            elif "validityPeriod" in failover:
                _period(failover["validityPeriod"], f"{path}.options.smsFailover.validityPeriod", violations)
        if options.get("sendingMode") not in (None, "REGULAR", "OVER_THE_LIMIT", "AUTO"):
            violations.append((f"{path}.options.sendingMode", "must be REGULAR, OVER_THE_LIMIT or AUTO"))
    return violations


@infobip_api(methods=("POST",))
def send_messages(request, account):
    try:
        body = read_json(request)
    except ValueError:
        return api_error(400, "Request cannot be processed.", [("", "request body must be valid JSON")])
    violations = validate(body, account)
    if violations:
        return api_error(400, "Request cannot be processed.", violations)
    schedule = ((body.get("options") or {}).get("schedule")) or {}
    bulk_id = str(schedule.get("bulkId") or "") or engine.new_bulk_id()
    now = runtime.now()
    start = parse_send_at(schedule["sendAt"]) if schedule.get("sendAt") else now
    speed = schedule.get("sendingSpeedLimit")
    # Decrypt first: an undecryptable value is a bad request for the whole bulk.
    prepared = []
    for i, message in enumerate(body["messages"]):
        oa = _sender(account, message["sender"])
        data = message["content"]["templateData"]
        options = message.get("options") or {}
        if oa is not None and options.get("encrypted"):
            try:
                data = engine.decrypt_values(oa, data)
            except engine.ZaloError:
                return api_error(
                    400,
                    "Request cannot be processed.",
                    [
                        (
                            f"messages[{i}].content.templateData",
                            "values cannot be decrypted with the sender's RSA key",
                        )
                    ],
                )
        prepared.append((message, oa, data, options))
    results = []
    rows: list[list] = []
    position = 0
    wanted = [
        str(destination.get("messageId") or "")
        for message, oa, _data, _options in prepared
        if oa is not None
        for destination in message["destinations"]
    ]
    with runtime.WRITE_LOCK, transaction.atomic():
        # One lookup on the (provider, account, messageId) unique index for the whole request.
        seen = existing_message_ids(account, "infobip", [m for m in wanted if m])
        for message, oa, data, options in prepared:
            validity = (
                _period(options["validityPeriod"], "", []) if "validityPeriod" in options else MAX_VALIDITY
            )
            stored_options = {**options, "webhooks": message.get("webhooks") or {}}
            template_id = str(message["content"]["templateName"])
            encrypted = bool(options.get("encrypted"))
            for destination in message["destinations"]:
                to = str(destination["to"]).strip()
                message_id = str(destination.get("messageId") or "") or str(uuid.uuid4())
                if oa is None:
                    results.append(_result(message_id, to, REJECTED_SENDER))
                    continue
                refusal = destination_refusal(to)
                if refusal is not None:
                    results.append(_result(message_id, to, refusal))
                    continue
                if message_id in seen:
                    results.append(_result(message_id, to, REJECTED_DUPLICATE))
                    continue
                seen.add(message_id)
                send_after = start
                if speed:
                    unit = SPEED_UNIT_SECONDS[speed.get("timeUnit", "MINUTE")]
                    send_after = start + timedelta(seconds=(position // speed["amount"]) * unit)
                position += 1
                rows.append(
                    [
                        "infobip",
                        "phone",
                        oa.pk,
                        template_id,
                        to,
                        message_id,
                        engine.new_msg_id(),
                        message_id,
                        bulk_id,
                        data,
                        encrypted,
                        True,
                        "scheduled",
                        now,
                        send_after,
                        send_after + timedelta(seconds=validity),
                        stored_options,
                        account.pk,
                    ]
                )
                results.append(
                    _result(message_id, to, PENDING_ACCEPTED if send_after > now else PENDING_ENROUTE)
                )
        insert_scheduled(rows)
    return json_response({"bulkId": bulk_id, "messages": results})


def existing_message_ids(account, provider: str, ids: list[str]) -> set[str]:
    """The ids among `ids` the account already used."""
    found = set()
    for start in range(0, len(ids), 500):
        found.update(used_message_ids(account, provider, ids[start : start + 500]))
    return found


def used_message_ids(account, provider: str, ids: list[str]):
    """The query behind `existing_message_ids`. The `message_id != ''` term lets the planner use the
    partial unique index (provider, account, message_id) without statistics; without it SQLite
    walks the account's whole ledger by its foreign-key index."""
    return (
        SandboxMessage.objects.filter(provider=provider, infobip_account=account, message_id__in=ids)
        .exclude(message_id="")
        .values_list("message_id", flat=True)
    )


SCHEDULED_FIELDS = (
    "provider",
    "channel",
    "oa",
    "template_id",
    "recipient",
    "tracking_id",
    "msg_id",
    "message_id",
    "bulk_id",
    "template_data",
    "encrypted",
    "accepted",
    "state",
    "accepted_at",
    "send_after",
    "expires_at",
    "options",
    "infobip_account",
)
SCHEDULED_DEFAULTS = {
    "mode": "",
    "sent_to_user": False,
    "error": 0,
    "box": "",
    "report_pulled": False,
    "report_waiting": False,
}


def insert_scheduled(rows: list[list]) -> None:
    """Write accepted messages in state `scheduled` (one INSERT for the whole request); the worker
    picks them up by their `send_after` (no event rows)."""
    if not rows:
        return
    extra = tuple(SCHEDULED_DEFAULTS)
    tail = [SCHEDULED_DEFAULTS[name] for name in extra]
    batch.insert_rows(SandboxMessage, SCHEDULED_FIELDS + extra, [row + tail for row in rows])
    runtime.WAKE.set()


def destination_refusal(to: str):
    """The per-destination status of a `to` Infobip refuses: digits only, international form (a
    Vietnamese number as 84…, never the local 0…; a Zalo user id is digits too)."""
    if not to.isdigit() or len(to) > 64:
        return REJECTED_DESTINATION
    if to.startswith("0"):
        return REJECTED_PREFIX_MISSING
    return None


# Infobip's ButtonType enum (zalo-openapi.json), in the order of Zalo's numeric button types 1-13
# (the mapping by position is a sandbox choice, as for the parameter types, provider-apis.md §1.12.5).
BUTTON_TYPES = (
    "GO_TO_COMPANY_PAGE",
    "MAKE_PHONE_CALL",
    "GO_TO_OA_INFORMATION_PAGE",
    "GO_TO_ZALO_MINI_APP",
    "GO_TO_COMPANY_APPLICATION_PAGE",
    "GO_TO_ANOTHER_WEBSITE_OR_MINI_APP",
    "GO_TO_ANOTHER_APPLICATION",
    "GO_TO_OA_POST",
    "COPY",
    "PAY_NOW",
    "SEE_DETAILS",
    "GO_TO_ELECTRONIC_INVOICE_LOOKUP_PAGE",
    "GO_TO_LANDING_PAGE_APP_DOWNLOAD",
)


def infobip_button(button: dict) -> dict:
    """A template button as Infobip lists it: `type` is one of Infobip's ButtonType names."""
    kind = button.get("type")
    if isinstance(kind, str) and kind.isdigit():
        kind = int(kind)
    if isinstance(kind, int) and not isinstance(kind, bool) and 1 <= kind <= len(BUTTON_TYPES):
        kind = BUTTON_TYPES[kind - 1]
    elif kind not in BUTTON_TYPES:
        kind = "GO_TO_COMPANY_PAGE"
    return {"type": kind, "title": button.get("title", ""), "content": button.get("content", "")}


def _result(message_id, to, status):
    return {"messageId": message_id, "status": status, "destination": to}


def _log(msg: SandboxMessage) -> dict:
    report = msg.report or {}
    status = report.get("status") or (PENDING_ACCEPTED if msg.state == "scheduled" else PENDING_ENROUTE)
    return {
        "bulkId": msg.bulk_id,
        "messageId": msg.message_id,
        "to": msg.recipient,
        "from": msg.oa.oa_id if msg.oa else "",
        "text": None,
        "sentAt": engine.ib_time(msg.sent_at or msg.accepted_at),
        "doneAt": report.get("doneAt"),
        "smsCount": 1,
        "mccMnc": None,
        "price": report.get("price") or {"pricePerMessage": 0, "currency": "EUR"},
        "status": status,
        "error": report.get("error") or {k: v for k, v in engine.NO_ERROR.items()},
        "channel": "SMS" if msg.channel == "sms" else "ZALO_NOTIFICATION_SERVICE",
        "callbackData": (msg.options.get("webhooks") or {}).get("callbackData"),
    }


@infobip_api()
def logs(request, account):
    now = runtime.now()
    rows = SandboxMessage.objects.select_related("oa").filter(
        provider="infobip", infobip_account=account, accepted_at__gte=now - timedelta(hours=48)
    )
    q = request.GET
    try:
        limit = int(q.get("limit", 50))
    except ValueError:
        return api_error(400, "Request cannot be processed.", [("limit", "must be an integer")])
    if not 1 <= limit <= 1000:
        return api_error(400, "Request cannot be processed.", [("limit", "must be between 1 and 1000")])
    if q.get("from"):
        rows = rows.filter(oa__oa_id=q["from"])
    if q.get("to"):
        rows = rows.filter(recipient=q["to"])
    if q.get("messageId"):
        rows = rows.filter(message_id__in=[m.strip() for m in q["messageId"].split(",") if m.strip()])
    if q.get("bulkId"):
        rows = rows.filter(bulk_id=q["bulkId"])
    for name, lookup in (("sentSince", "accepted_at__gte"), ("sentUntil", "accepted_at__lte")):
        if q.get(name):
            try:
                rows = rows.filter(**{lookup: parse_send_at(q[name])})
            except ValueError:
                return api_error(
                    400, "Request cannot be processed.", [(name, "must be yyyy-MM-dd'T'HH:mm:ss.SSSZ")]
                )
    results = [
        _log(m)
        for m in rows.order_by("-accepted_at", "-id")[: limit * 4 if q.get("generalStatus") else limit]
    ]
    general = q.get("generalStatus")
    if general:
        if general not in GENERAL_STATUSES:
            return api_error(400, "Request cannot be processed.", [("generalStatus", "unknown status")])
        results = [r for r in results if r["status"]["groupName"] == general][:limit]
    return json_response({"results": results})


@infobip_api()
def reports(request, account):
    """One-time delivery reports: each report is returned once."""
    try:
        limit = min(1000, max(1, int(request.GET.get("limit", 50))))
    except ValueError:
        limit = 50
    with runtime.WRITE_LOCK, transaction.atomic():
        rows = SandboxMessage.objects.filter(provider="infobip", infobip_account=account, report_waiting=True)
        if request.GET.get("bulkId"):
            rows = rows.filter(bulk_id=request.GET["bulkId"])
        if request.GET.get("messageId"):
            rows = rows.filter(message_id=request.GET["messageId"])
        picked = list(rows.order_by("id")[:limit])
        SandboxMessage.objects.filter(pk__in=[m.pk for m in picked]).update(
            report_pulled=True, report_waiting=False
        )
    return json_response({"results": [m.report for m in picked]})


@infobip_api()
def templates(request, account, sender):
    oa = _sender(account, sender)
    if oa is None:
        return api_error(404, "Sender not found", code="E404")
    try:
        page = max(0, int(request.GET.get("page", 0)))
        size = min(100, max(1, int(request.GET.get("size", 100))))
    except ValueError:
        return api_error(400, "Request cannot be processed.", [("page", "must be an integer")])
    rows = SandboxTemplate.objects.filter(oa=oa).order_by("template_id")
    status = request.GET.get("status", "ENABLED")  # the documented default is the enabled templates
    if status != "ALL":
        if status not in STATUS_FILTERS:
            return api_error(400, "Request cannot be processed.", [("status", "unknown status")])
        rows = rows.filter(status=STATUS_FILTERS[status])
    total = rows.count()
    results = [
        {
            "templateName": int(t.template_id) if t.template_id.isdigit() else t.template_id,
            "displayName": t.name,
            "status": STATUS_NAMES.get(t.status, t.status),
            "createdTime": engine.ib_time(t.created_at),
        }
        for t in rows[page * size : (page + 1) * size]
    ]
    paging = {"page": page, "size": size, "totalPages": (total + size - 1) // size, "totalResults": total}
    return json_response({"results": results, "paging": paging})


@infobip_api()
def template(request, account, sender, template_name):
    oa = _sender(account, sender)
    t = SandboxTemplate.objects.filter(oa=oa, template_id=str(template_name)).first() if oa else None
    if t is None:
        return api_error(404, "Template not found", code="E404")
    return json_response(
        {
            "templateName": int(t.template_id) if t.template_id.isdigit() else t.template_id,
            "displayName": t.name,
            "status": STATUS_NAMES.get(t.status, t.status),
            "reason": t.reason or None,
            "templateProperties": [
                {
                    "name": p["name"],
                    "required": p.get("require", True),
                    "type": p.get("type", "STRING"),
                    "maxLength": p.get("maxLength"),
                    "minLength": p.get("minLength", 0),
                    "acceptNull": p.get("acceptNull", False),
                }
                for p in t.params
            ],
            "templateButtons": [infobip_button(b) for b in t.buttons],
            "previewUrl": f"https://sandbox.invalid/znspreview/{t.template_id}",
            "templateTag": OLD_TAGS.get(t.tag, "TRANSACTION"),
        }
    )


@infobip_api()
def quota_view(request, account, sender):
    from sandbox.zalo_views import quota_data

    oa = _sender(account, sender)
    if oa is None:
        return api_error(404, "Sender not found", code="E404")
    data = quota_data(oa)
    # Infobip types every field int64 (QuotaInfo): never null. Where Zalo's own answer has null
    # (no limit, no monthly promotion quota) the sandbox answers UNRESTRICTED (a sandbox choice).
    return json_response(
        {
            "dailyQuota": _quota_int(data["dailyQuota"]),
            "remainingDailyQuota": _quota_int(data["remainingQuota"]),
            "monthlyPromotionQuota": _quota_int(data["monthlyPromotionQuota"]),
            "remainingMonthlyPromotionQuota": _quota_int(data["remainingMonthlyPromotionQuota"]),
            "estimatedNextMonthPromotionQuota": _quota_int(data["estimatedNextMonthPromotionQuota"]),
        }
    )


UNRESTRICTED = 2**31 - 1


def _quota_int(value) -> int:
    return UNRESTRICTED if value is None else int(value)


@infobip_api(methods=("GET", "POST"))
def public_key(request, account, sender):
    oa = _sender(account, sender)
    if oa is None:
        return api_error(404, "Sender not found", code="E404")
    if request.method == "GET":
        if not oa.rsa_private_pem:
            return api_error(404, "RSA key does not exist for this sender, create it first", code="E404")
        return json_response({"publicKey": crypto.public_key_b64(oa.rsa_private_pem)})
    with runtime.WRITE_LOCK, transaction.atomic():
        oa = SandboxOA.objects.get(pk=oa.pk)
        if oa.rsa_private_pem:
            return api_error(409, "RSA key already exists for this sender, use GET", code="E409")
        oa.rsa_private_pem = crypto.generate_private_pem()
        oa.save(update_fields=["rsa_private_pem"])
    runtime.clear_caches()
    return json_response({"publicKey": crypto.public_key_b64(oa.rsa_private_pem)})
