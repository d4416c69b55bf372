"""Zalo ZNS/ZBS Open API (business.openapi.zalo.me and openapi.zalo.me), served under /zalo/."""

import functools
import re
from datetime import timedelta

from django.db import transaction
from django.views.decorators.csrf import csrf_exempt

from quotas import rules
from sandbox import batch, crypto, engine, quota, runtime
from sandbox.errors import ZaloError
from sandbox.http import json_response, read_json
from sandbox.models import SandboxMessage, SandboxOA, SandboxTemplate, SandboxToken

HASH = re.compile(r"^[0-9a-fA-F]{64}$")
STATUS_FILTER = {"1": "ENABLE", "2": "PENDING_REVIEW", "3": "REJECT", "4": "DISABLE"}
OLD_TAGS = {1: "TRANSACTION", 2: "CUSTOMER_CARE", 3: "PROMOTION"}


def envelope(data=None, error=0, message="Success"):
    return json_response({"error": error, "message": message, "data": data})


def zalo_api(host="business", methods=("GET",)):
    """Authenticate by the `access_token` header; answer ZaloError as the envelope with HTTP 200."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                return envelope(None, -106, "Method unsupported")
            try:
                oa = authenticate(request, host)
                return view(request, oa, *args, **kwargs)
            except ZaloError as exc:
                return envelope(None, exc.code, exc.text)

        return wrapper

    return decorate


def authenticate(request, host: str) -> SandboxOA:
    token = request.headers.get("access_token") or ""
    row = runtime.cached(
        "token",
        token,
        lambda: (
            SandboxToken.objects.select_related("oa", "oa__app")
            .filter(token=token, kind=SandboxToken.ACCESS)
            .first()
            if token
            else None
        ),
    )
    if row is None or row.revoked:
        raise ZaloError(-124 if host == "business" else -216)
    if row.expires_at <= runtime.now():
        raise ZaloError(-124 if host == "business" else -220)
    return row.oa


def _body(request) -> dict:
    try:
        body = read_json(request)
    except ValueError as exc:
        raise ZaloError(-121 if str(exc) == "empty" else -122) from None
    if not isinstance(body, dict):
        raise ZaloError(-122)
    return body


def _tracking_id(body) -> str:
    """Zalo requires `tracking_id` on template sends (provider-apis.md §1.3), at most 48 characters."""
    value = body.get("tracking_id")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ZaloError(-132, "tracking_id is required (max 48 characters)")
    if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > 48:
        raise ZaloError(-132, "tracking_id is invalid (max 48 characters)")
    return str(value)


class _Send:
    """One send waiting for the write lock (see batch.Combiner): its request and, once written,
    its outcome (the response data or the ZaloError)."""

    __slots__ = ("oa", "channel", "recipient", "body", "template_data", "encrypted", "mode",
                 "tracking_id", "cfg", "result", "error", "failure")  # fmt: skip

    def __init__(self, oa, channel, recipient, body, template_data, encrypted, mode, tracking_id, cfg):
        self.oa, self.channel, self.recipient, self.body = oa, channel, recipient, body
        self.template_data, self.encrypted, self.mode = template_data, encrypted, mode
        self.tracking_id, self.cfg = tracking_id, cfg
        self.result = self.error = self.failure = None


def _send(oa: SandboxOA, *, channel, recipient, body, template_data, encrypted=False, mode=""):
    """Record the attempt in the ledger and run Zalo's checks; the response data or ZaloError.

    Concurrent sends of this process are written together: whichever request gets the write lock
    runs every send queued by then, one after the other in one transaction (the checks of each see
    the writes of those before it, as if they had come one by one), and commits once."""
    item = _Send(
        oa,
        channel,
        recipient,
        body,
        template_data,
        encrypted,
        mode,
        _tracking_id(body) if channel != "uid" else "",
        runtime.config(),
    )
    SENDS.submit(item)
    if item.failure is not None:  # an unexpected error: the 500 the request would have got alone
        raise item.failure
    if item.error is not None:
        raise item.error
    return item.result


def _write_sends(items: list[_Send]) -> None:
    """The sends of one transaction (the caller holds the write lock and a batch)."""
    for item in items:
        item.error = item.failure = None
        try:
            item.result = _write_send(item)
        except ZaloError as exc:
            item.error = exc


def _write_send(item: _Send) -> dict:
    channel, recipient, body, cfg = item.channel, item.recipient, item.body, item.cfg
    now = runtime.now()
    # The OA's settings come with the (cached) token; its balance is read fresh under the lock, once
    # per batch, then tracked in memory.
    oa = batch.oa_for_send(item.oa)
    msg = engine.new_message(
        oa,
        provider="zalo",
        channel=channel,
        template_id=str(body.get("template_id") or ""),
        recipient=recipient or str(body.get("phone") or body.get("user_id") or "")[:128],
        tracking_id=item.tracking_id,
        msg_id=engine.new_msg_id(),
        template_data=item.template_data if isinstance(item.template_data, dict) else {},
        encrypted=item.encrypted,
        mode=item.mode,
        accepted_at=now,
    )
    try:
        if recipient is None:
            raise ZaloError(
                -108 if channel != "uid" else -201, None if channel != "uid" else "user_id is invalid"
            )
        template, profile, state = engine.check_send(
            oa,
            recipient=recipient,
            template_id=body.get("template_id"),
            template_data=item.template_data,
            mode=item.mode,
            sending_mode=body.get("sending_mode"),
            now=now,
            cfg=cfg,
        )
    except ZaloError as exc:
        msg.error, msg.state = exc.code, "rejected"
        batch.save(msg, ())
        raise
    msg.accepted = True
    engine.mark_sent(msg, oa, template, profile, now)
    daily, remaining = engine.quota_after_send(oa, state, now)
    if channel == "uid":
        return {
            "message_id": msg.msg_id,
            "user_id": recipient,
            "sent_time": runtime.ms(now),
            "quota": {"quota_type": "purchase_quota", "remain": remaining},
        }
    return {
        "msg_id": msg.msg_id,
        "sent_time": runtime.ms(now),
        "sending_mode": str(body.get("sending_mode") or "1"),
        "quota": {"dailyQuota": _str(daily), "remainingQuota": _str(remaining)},
    }


SENDS = batch.Combiner(_write_sends)


def _str(value):
    return None if value is None else str(value)


@zalo_api(methods=("POST",))
def send_template(request, oa, force_dev=False):
    body = _body(request)
    recipient = engine.normalize_phone(body.get("phone"), runtime.config())
    mode = "development" if force_dev else str(body.get("mode") or "")
    data = _send(
        oa,
        channel="phone",
        recipient=recipient,
        body=body,
        template_data=body.get("template_data"),
        mode=mode,
    )
    return envelope(data)


def send_template_dev(request):
    return send_template(request, force_dev=True)


@zalo_api(methods=("POST",))
def send_hashphone(request, oa):
    body = _body(request)
    value = str(body.get("hash_phone") or "")
    recipient = value.lower() if HASH.match(value) else None
    data = _send(
        oa,
        channel="hashphone",
        recipient=recipient,
        body=body,
        template_data=body.get("template_data"),
        mode=str(body.get("mode") or ""),
    )
    return envelope(data)


@zalo_api(methods=("POST",))
def send_rsa(request, oa):
    body = _body(request)
    if not oa.rsa_private_pem:
        raise ZaloError(-128)
    try:
        phone = crypto.decrypt(oa.rsa_private_pem, str(body.get("rsa_phone") or ""))
    except ValueError:
        raise ZaloError(-123) from None
    data = body.get("template_data")
    if not isinstance(data, dict) or not data:
        raise ZaloError(-111)
    decrypted = engine.decrypt_values(oa, data)
    recipient = engine.normalize_phone(phone, runtime.config())
    result = _send(
        oa,
        channel="rsa",
        recipient=recipient,
        body=body,
        template_data=decrypted,
        encrypted=True,
        mode=str(body.get("mode") or ""),
    )
    return envelope(result)


@zalo_api(host="oa", methods=("POST",))
def send_uid(request, oa):
    body = _body(request)
    user_id = str(body.get("user_id") or "")
    recipient = user_id if user_id.isdigit() else None
    return envelope(
        _send(oa, channel="uid", recipient=recipient, body=body, template_data=body.get("template_data"))
    )


@zalo_api()
def message_status(request, oa):
    msg_id = request.GET.get("message_id", "")
    msg = SandboxMessage.objects.filter(msg_id=msg_id, oa=oa, provider="zalo", accepted=True).first()
    if not msg_id:
        raise ZaloError(-107)
    if msg is None:
        return envelope({"status": -1, "message": "The message does not exist", "delivery_time": None})
    if msg.delivered_at:
        data = {
            "status": 1,
            "message": "The message was delivered to the user's phone",
            "delivery_time": runtime.ms(msg.delivered_at),
        }
    else:
        data = {
            "status": 0,
            "message": "The message was pushed to the server, not yet delivered",
            "delivery_time": None,
        }
    return envelope(data)


def quota_data(oa: SandboxOA) -> dict:
    now = runtime.now()
    state = quota.state(oa, now)
    rows = quota.marketing_rows(oa)
    monthly, used = quota.marketing_quota(oa, state.policy, state.day, rows)
    remaining = None if state.limit is None else max(0, state.limit - state.sent_today)
    next_month = rules.month_of(state.day.replace(day=28) + timedelta(days=4))
    estimated = quota.marketing_quota(oa, state.policy, next_month, rows)[0] if monthly is not None else None
    # The daily promotion share; null where the level may not send tag 3 or the policy has no share.
    promotion = state.marketing_allowance
    if not rules.can_send_tag(state.policy, state.limit, rules.MARKETING_TAG):
        promotion = None
    return {
        "dailyQuota": state.limit,
        "remainingQuota": remaining,
        "dailyQuotaPromotion": promotion,
        "remainingQuotaPromotion": None if promotion is None else max(0, promotion - state.marketing_today),
        "monthlyPromotionQuota": monthly,
        "remainingMonthlyPromotionQuota": None if monthly is None else max(0, monthly - used),
        "estimatedNextMonthPromotionQuota": estimated,
    }


@zalo_api()
def message_quota(request, oa):
    return json_response({"data": quota_data(oa), "error": 0, "message": "success"})


@zalo_api()
def template_tags(request, oa):
    state = quota.state(oa, runtime.now())
    tags = ["TRANSACTION", "CUSTOMER_CARE"]
    if rules.can_send_tag(state.policy, state.limit, rules.MARKETING_TAG):
        tags.append("PROMOTION")
    return json_response({"data": tags, "error": 0, "message": "success"})


@zalo_api()
def quality(request, oa):
    now = runtime.now()
    state = quota.state(oa, now)
    data = {
        "oaCurrentQuality": quota.quality_48h(oa, state.policy, state.day),
        "oa7dayQuality": state.quality_7d,
    }
    return json_response({"data": data, "error": 0, "message": "success"})


@zalo_api()
def template_all(request, oa):
    try:
        offset = max(0, int(request.GET.get("offset", 0)))
        limit = min(100, max(1, int(request.GET.get("limit", 100))))
    except ValueError:
        raise ZaloError(-132) from None
    rows = SandboxTemplate.objects.filter(oa=oa).order_by("template_id")
    status = request.GET.get("status")
    if status:
        if status not in STATUS_FILTER:
            raise ZaloError(-132, "status is invalid")
        rows = rows.filter(status=STATUS_FILTER[status])
    total = rows.count()
    data = [
        {
            "templateId": int(t.template_id) if t.template_id.isdigit() else t.template_id,
            "templateName": t.name,
            "createdTime": int(t.created_at.timestamp() * 1000),
            "status": t.status,
            "templateQuality": t.quality,
        }
        for t in rows[offset : offset + limit]
    ]
    return json_response({"error": 0, "message": "Success", "data": data, "metadata": {"total": total}})


def _template(request, oa) -> SandboxTemplate:
    template = SandboxTemplate.objects.filter(template_id=request.GET.get("template_id", "")).first()
    if template is None:
        raise ZaloError(-109)
    if template.oa_id != oa.pk:
        raise ZaloError(-117)
    return template


def template_detail(template: SandboxTemplate, v2=True) -> dict:
    data = {
        "templateId": template.template_id,
        "templateName": template.name,
        "status": template.status,
        "reason": template.reason,
        "listParams": [
            {k: p[k] for k in ("name", "require", "type", "maxLength", "minLength", "acceptNull") if k in p}
            for p in template.params
        ],
        "listButtons": template.buttons,
        "timeout": 7200000,
        "previewUrl": f"https://sandbox.invalid/znspreview/{template.template_id}",
        "templateQuality": template.quality,
        "templateTag": OLD_TAGS.get(template.tag, "TRANSACTION"),
        "price": str(template.price),
    }
    if v2:
        data.update({"price_sdt": str(template.price), "price_uid": str(template.price * 7 // 10)})
    else:
        data.update({"applyTemplateQuota": False, "templateDailyQuota": None, "templateRemainingQuota": None})
    return data


@zalo_api()
def template_info_v2(request, oa):
    return envelope(template_detail(_template(request, oa)))


@zalo_api()
def template_info(request, oa):
    return envelope(template_detail(_template(request, oa), v2=False))


@zalo_api()
def template_sample(request, oa):
    template = _template(request, oa)
    return envelope({p["name"]: p.get("sample", "") for p in template.params})


@zalo_api(methods=("GET", "POST"))
def rsa_gen(request, oa):
    with runtime.WRITE_LOCK, transaction.atomic():
        oa = SandboxOA.objects.get(pk=oa.pk)
        if oa.rsa_private_pem:
            raise ZaloError(-143)
        oa.rsa_private_pem = crypto.generate_private_pem()
        oa.save(update_fields=["rsa_private_pem"])
    runtime.clear_caches()
    return envelope({"public_key": crypto.public_key_b64(oa.rsa_private_pem)})


@zalo_api()
def rsa_get(request, oa):
    if not oa.rsa_private_pem:
        raise ZaloError(-142)
    return envelope({"public_key": crypto.public_key_b64(oa.rsa_private_pem)})


@zalo_api(methods=("GET", "POST"))
def rating_get(request, oa):
    """Service-rating answers: the sandbox simulates none, so the list is empty (shape per S-ZOAVOTE)."""
    _template(request, oa)
    return envelope({"total": 0, "data": []})
