"""The simulated Zalo platform: send checks, the ledger, delivery simulation and Infobip dispatch.

Callers hold runtime.WRITE_LOCK inside a transaction for every function that writes.
"""

import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from django.db.models.base import ModelState

from quotas import rules
from sandbox import batch, crypto, people, quota, runtime, webhooks
from sandbox.errors import (
    DELIVERED,
    EXPIRED,
    EXPIRED_ERROR,
    NO_ERROR,
    ZaloError,
    infobip_failure,
)
from sandbox.models import SandboxEvent, SandboxMessage, SandboxOA, SandboxTemplate
from zalo_admin.lib import dates

PHONE_84 = re.compile(r"^84[35789]\d{8}$")
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def new_msg_id() -> str:
    return secrets.token_hex(10)


_message_defaults: tuple[dict, list] | None = None


def new_message(oa, **values) -> SandboxMessage:
    """An unsaved ledger row, as SandboxMessage(oa=oa, **values) builds it, without the model's
    per-field constructor (every field default set at once; callable defaults called per row)."""
    global _message_defaults
    if _message_defaults is None:
        static, factories = {}, []
        for f in SandboxMessage._meta.concrete_fields:
            if f.has_default() and callable(f.default):
                factories.append((f.attname, f.default))
            else:
                static[f.attname] = f.get_default()
        _message_defaults = (static, factories)
    static, factories = _message_defaults
    msg = SandboxMessage.__new__(SandboxMessage)
    msg._state = ModelState()
    data = msg.__dict__
    data.update(static)
    for name, factory in factories:
        data[name] = factory()
    data.update(values)
    msg.oa = oa
    return msg


def normalize_phone(raw, cfg: dict) -> str | None:
    """The `84…` form, or None when Zalo would answer -108."""
    if not isinstance(raw, str | int):
        return None
    text = str(raw).strip()
    if text.startswith("+"):
        text = text[1:]
    if not text.isdigit():
        return None
    if cfg.get("accept_local_phone_formats", True):
        if len(text) == 10 and text.startswith("0"):
            text = "84" + text[1:]
        elif len(text) == 9:
            text = "84" + text
    return text if PHONE_84.match(text) else None


# --- the Zalo-side send ------------------------------------------------------------------------


def check_send(
    oa: SandboxOA,
    *,
    recipient: str,
    template_id,
    template_data,
    mode: str = "",
    sending_mode=None,
    now: datetime,
    cfg: dict,
) -> tuple[SandboxTemplate, dict, quota.QuotaState | None]:
    """Every check Zalo makes before accepting a send; raises ZaloError, else (template, profile,
    the OA's quota state before this send; None in development mode)."""
    template_id = str(template_id or "")
    template = runtime.cached(
        "template", template_id, lambda: SandboxTemplate.objects.filter(template_id=template_id).first()
    )
    if template is None:
        raise ZaloError(-109)
    if template.oa_id != oa.pk:
        raise ZaloError(-117)
    if template.status == "DISABLE":
        raise ZaloError(-146)
    if template.status != "ENABLE":
        raise ZaloError(-131)
    check_template_data(template, template_data)
    if sending_mode not in (None, "", "1", "3", 1, 3):
        raise ZaloError(-161)
    if str(sending_mode) == "3" and template.tag in (1, 2):
        raise ZaloError(-162)
    if cfg.get("night_ban") and not 6 <= dates.vietnam_hour(now) < 22:
        raise ZaloError(-133)
    development = mode == "development"
    state = None
    if development:
        if recipient not in (oa.admin_phones or []):
            raise ZaloError(-127)
        batch.flush()
        day_start = dates.vietnam_midnight(dates.vietnam_day(now))
        dev_sent = SandboxMessage.objects.filter(
            oa=oa, mode="development", sent_to_user=True, sent_at__gte=day_start
        ).count()
        if dev_sent >= int(cfg.get("dev_daily_quota", 100)):
            raise ZaloError(-126)
    else:
        state = quota.state(oa, now)
        if cfg.get("quota_exhausted") or oa.quota_exhausted:
            raise ZaloError(-144)
        if state.limit is not None and state.sent_today >= state.limit:
            raise ZaloError(-144)
        if template.tag == rules.MARKETING_TAG:
            check_marketing(oa, state, recipient, now)
    if oa.balance < template.price:
        raise ZaloError(-115)
    profile = people.profile_for(recipient, cfg)
    if profile.get("not_on_zalo"):
        raise ZaloError(-118)
    if profile.get("opted_out"):
        raise ZaloError(-141)
    return template, profile, state


def check_marketing(oa, state: quota.QuotaState, recipient: str, now: datetime) -> None:
    batch.flush()  # the counts below read the ledger: write the batch's sends first (tag 3 only)
    policy = state.policy
    if not rules.can_send_tag(policy, state.limit, rules.MARKETING_TAG):
        raise ZaloError(-145)
    # The daily marketing share (Zalo's tag 3 notice of 2024-11-01): Zalo publishes no code of its
    # own for it; -1441 is its code for an OA over its promotion quota (provider-apis.md §1.11).
    share_room = rules.daily_marketing_share_room(policy, state.limit, state.marketing_today)
    if share_room is not None and share_room <= 0:
        raise ZaloError(-1441, "OA exceeded daily promotion quota")
    monthly, used = quota.marketing_quota(oa, policy, state.day)
    if monthly is not None and used >= monthly:
        raise ZaloError(-1441)
    today_count, month_count = quota.recipient_marketing_counts(oa, recipient, state.day)
    room = rules.recipient_marketing_allowance(policy, today_count, month_count)
    if room is not None and room <= 0:
        per_day = policy.recipient_marketing_per_day
        raise ZaloError(-1472 if per_day is not None and today_count >= per_day else -1471)


def check_template_data(template: SandboxTemplate, data) -> None:
    if not isinstance(data, dict) or not data:
        raise ZaloError(-111)
    for value in data.values():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ZaloError(-112)
    for param in template.params:
        name = param["name"]
        value = data.get(name)
        if value is None or value == "":
            if param.get("require", True) and not param.get("acceptNull", False):
                raise ZaloError(-1122, f"Missing template parameter: {name}")
            continue
        text = str(value)
        if len(text) > int(param.get("maxLength", 10**6)):
            raise ZaloError(-1121, f"Parameter {name} exceeds max length {param.get('maxLength')}")
        if len(text) < int(param.get("minLength", 0)):
            raise ZaloError(-1124, f"Parameter {name} is shorter than {param.get('minLength')}")
        if param.get("type") == "NUMBER" and not text.isdigit():
            raise ZaloError(-1124, f"Parameter {name} must be a number")


def mark_sent(
    msg: SandboxMessage, oa: SandboxOA, template: SandboxTemplate, profile: dict, now: datetime
) -> None:
    """Zalo accepted the message: count it, charge it, schedule what the person will do."""
    msg.sent_to_user = True
    msg.error = 0
    msg.state = "sent"
    msg.sent_at = now
    msg.tag = template.tag
    msg.box = (
        "business_box" if template.tag == rules.MARKETING_TAG and not profile.get("follower") else "inbox"
    )
    batch.save(msg, ("sent_to_user", "error", "state", "sent_at", "tag", "box"))
    batch.count_template(msg.template_id, now, sent=1)
    if msg.mode != "development":
        quota.record_send(oa, template.tag, now)
    batch.charge(oa, template.price)
    if profile.get("unreachable"):
        if msg.expires_at:
            schedule(msg, "expire", msg.expires_at)
        return
    schedule(msg, "deliver", now + timedelta(seconds=profile["delivery_delay"]))


def schedule(msg: SandboxMessage, kind: str, due_at: datetime) -> None:
    batch.schedule(msg, kind, due_at)


def quota_after_send(
    oa: SandboxOA, state: quota.QuotaState | None, now: datetime
) -> tuple[int | None, int | None]:
    """(daily limit, remaining today) after one more send, as the send response reports them."""
    if state is None:  # development mode: the numbers of the day, not counting the test message
        state = quota.state(oa, now)
        sent = state.sent_today
    else:
        sent = state.sent_today + 1
    if state.limit is None:
        return None, None
    return state.limit, max(0, state.limit - sent)


# --- simulation events -------------------------------------------------------------------------


def run_event(event: SandboxEvent, now: datetime) -> None:
    msg = event.message
    handler = {
        "dispatch": dispatch_infobip,
        "deliver": deliver,
        "read": read,
        "bad_report": bad_report,
        "expire": expire,
    }[event.kind]
    handler(msg, now)


def dispatch(msg: SandboxMessage, now: datetime) -> None:
    """A scheduled message whose send time has come (Infobip Zalo API or SMS API)."""
    if msg.provider == "infobip_sms":
        from sandbox import sms_views

        sms_views.dispatch(msg, now)
    else:
        dispatch_infobip(msg, now)


def deliver(msg: SandboxMessage, now: datetime) -> None:
    if msg.provider == "infobip_sms":
        from sandbox import sms_views

        sms_views.deliver(msg, now)
        return
    if msg.state != "sent":
        return
    if msg.expires_at and now > msg.expires_at:
        expire(msg, now)
        return
    msg.state = "delivered"
    msg.delivered_at = now
    batch.save(msg, ("state", "delivered_at"))
    cfg = runtime.config()
    profile = people.profile_for(msg.recipient, cfg)
    if profile.get("read"):
        schedule(msg, "read", now + timedelta(seconds=profile["read_delay"]))
    if profile.get("bad_report"):
        schedule(msg, "bad_report", now + timedelta(seconds=profile["bad_report_delay"]))
    if msg.provider == "zalo":
        webhooks.emit_zalo(
            msg.oa,
            "user_received_message",
            {
                "sender": {"id": msg.oa.oa_id},
                "recipient": {"id": msg.recipient},
                "message": {
                    "delivery_time": runtime.ms(now),
                    "msg_id": msg.msg_id,
                    "tracking_id": msg.tracking_id,
                },
            },
        )
    else:
        infobip_report(msg, DELIVERED, NO_ERROR, now)


def read(msg: SandboxMessage, now: datetime) -> None:
    if msg.read_at is None:
        msg.read_at = now
        if msg.state == "delivered":
            msg.state = "read"
        batch.save(msg, ("read_at", "state"))


def bad_report(msg: SandboxMessage, now: datetime) -> None:
    """The person reports the message as bad: it counts for the OA's and the template's quality."""
    if msg.bad_reported_at is not None or msg.oa is None:
        return
    msg.bad_reported_at = now
    batch.save(msg, ("bad_reported_at",))
    batch.count_template(msg.template_id, msg.sent_at, bad=1)
    quota.record_bad_report(msg.oa, now)
    if msg.provider == "zalo":
        # Zalo publishes no bad-report event; the sandbox sends it as a user_feedback with rate 1 and
        # rating_type "report" (a documented sandbox choice, see README).
        webhooks.emit_zalo(
            msg.oa,
            "user_feedback",
            {
                "oa_id": msg.oa.oa_id,
                "message": {
                    "rating_type": "report",
                    "option": "bad_report",
                    "note": "Người dùng báo cáo tin nhắn xấu",
                    "rate": 1,
                    "submit_time": runtime.ms(now),
                    "msg_id": msg.msg_id,
                    "feedbacks": ["spam"],
                    "tracking_id": msg.tracking_id,
                },
            },
        )
    elif msg.infobip_account and msg.infobip_account.inbound_url:
        webhooks.emit_infobip(
            msg.infobip_account.inbound_url,
            [
                {
                    "sender": msg.recipient,
                    "to": msg.oa.oa_id,
                    "integrationType": "ZALO_NOTIFICATION_SERVICE",
                    "receivedAt": ib_time(now),
                    "messageId": new_msg_id(),
                    "pairedMessageId": msg.message_id,
                    "callbackData": (msg.options.get("webhooks") or {}).get("callbackData"),
                    "message": {
                        "type": "USER_FEEDBACK",
                        "eventName": "user_feedback",
                        "note": "Người dùng báo cáo tin nhắn xấu",
                        "rate": 1,
                        "submitTime": runtime.ms(now),
                        "msgId": msg.msg_id,
                        "feedbacks": ["spam"],
                        "trackingId": msg.message_id,
                    },
                    "price": {"pricePerMessage": 0, "currency": "EUR"},
                }
            ],
            kind="inbound_message",
            messageCount=1,
            pendingMessageCount=0,
        )
    if not batch.evaluate_template_later(msg.oa, msg.template_id, now):
        evaluate_template_quality(msg.oa, msg.template_id, now)


def evaluate_template_quality(oa: SandboxOA, template_id: str, now: datetime) -> None:
    """Template quality = the tier of its last 7 days; LOW disables it (sends then answer -146)."""
    template = SandboxTemplate.objects.filter(template_id=template_id, oa=oa).first()
    if template is None:
        return
    # Its messages sent in the last 7 days (hourly counters, from the hour 7 days ago) and how many
    # of them people reported as bad.
    totals = rules.DayTotals(*batch.template_totals(template_id, now - timedelta(days=7), now))
    tier = str(rules.quality_tier(quota.policy_for(oa), totals))
    if tier != template.quality:
        set_template_quality(template, tier)
        if tier == "LOW" and template.status == "ENABLE":
            set_template_status(template, "DISABLE", "Chất lượng gửi thấp (LOW quality)")


def set_template_quality(template: SandboxTemplate, quality: str) -> None:
    template.quality = quality
    template.save(update_fields=["quality"])
    runtime.clear_caches()
    oa = template.oa
    webhooks.emit_zalo(
        oa,
        "change_template_quality",
        {"oa_id": oa.oa_id, "template_id": template.template_id, "quality": quality},
    )


def set_template_status(template: SandboxTemplate, new_status: str, reason: str = "") -> None:
    previous = template.status
    template.status = new_status
    template.reason = reason
    template.save(update_fields=["status", "reason"])
    runtime.clear_caches()
    webhooks.emit_zalo(
        template.oa,
        "change_template_status",
        {
            "oa_id": template.oa.oa_id,
            "template_id": template.template_id,
            "status": {"prev_status": previous, "new_status": new_status},
            "reason": reason,
        },
    )


def expire(msg: SandboxMessage, now: datetime) -> None:
    if msg.state not in ("sent", "scheduled"):
        return
    msg.state = "expired"
    batch.save(msg, ("state",))
    if msg.provider == "infobip":
        infobip_report(msg, EXPIRED, EXPIRED_ERROR, now)
        sms_failover(msg, now)


# --- Infobip -----------------------------------------------------------------------------------


def ib_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def next_window_start(moment: datetime, window: dict | None) -> datetime:
    """The first moment at or after `moment` inside the delivery time window (UTC days and hours)."""
    if not window:
        return moment
    days = set(window.get("days") or DAYS)
    start_m = _minutes(window.get("from")) if window.get("from") else 0
    end_m = _minutes(window.get("to")) if window.get("to") else 24 * 60
    moment = moment.astimezone(UTC)
    for offset in range(0, 9):
        day = (moment + timedelta(days=offset)).date()
        base = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if DAYS[day.weekday()] not in days:
            continue
        opens = base + timedelta(minutes=start_m)
        closes = base + timedelta(minutes=end_m if end_m > start_m else end_m + 24 * 60)
        if moment < opens:
            return opens
        if moment < closes:
            return moment
    return moment


def _minutes(point: dict) -> int:
    return int(point.get("hour", 0)) * 60 + int(point.get("minute", 0))


def dispatch_infobip(msg: SandboxMessage, now: datetime) -> None:
    """Infobip hands a scheduled message to Zalo (at send time, inside the window, before validity)."""
    if msg.state != "scheduled":
        return
    if msg.expires_at and now >= msg.expires_at:
        expire(msg, now)
        return
    opens = next_window_start(now, msg.options.get("deliveryTimeWindow"))
    if opens > now:  # the worker picks it up again at its new send_after (expires there if too late)
        msg.send_after = min(opens, msg.expires_at) if msg.expires_at else opens
        batch.save(msg, ("send_after",))
        return
    oa = batch.oa_instance(msg.oa_id)  # fresh balance and settings (one instance per batch)
    cfg = runtime.config()
    try:
        if not PHONE_84.match(msg.recipient) and not (msg.recipient.isdigit() and len(msg.recipient) >= 15):
            raise ZaloError(-108)
        template, profile, _state = check_send(
            oa,
            recipient=msg.recipient,
            template_id=msg.template_id,
            template_data=msg.template_data,
            sending_mode={"OVER_THE_LIMIT": "3"}.get(msg.options.get("sendingMode")),
            now=now,
            cfg=cfg,
        )
    except ZaloError as exc:
        msg.state = "rejected"
        msg.error = exc.code
        batch.save(msg, ("state", "error"))
        state, error = infobip_failure(exc.code)
        infobip_report(msg, state, error, now)
        sms_failover(msg, now)
        return
    mark_sent(msg, oa, template, profile, now)


def infobip_report(msg: SandboxMessage, state: dict, error: dict, now: datetime, channel=None) -> None:
    platform = msg.options.get("platform") or {}
    result = {
        "bulkId": msg.bulk_id,
        "messageId": msg.message_id,
        "to": msg.recipient,
        "sentAt": ib_time(msg.sent_at or msg.accepted_at),
        "doneAt": ib_time(now),
        "messageCount": 1,
        "price": {"pricePerMessage": 0.01 if state["groupName"] == "DELIVERED" else 0, "currency": "EUR"},
        "status": state,
        "error": error,
        "channel": channel or "ZALO_NOTIFICATION_SERVICE",
    }
    if platform.get("entityId"):
        result["entityId"] = platform["entityId"]
    if platform.get("applicationId"):
        result["applicationId"] = platform["applicationId"]
    webhooks_opt = msg.options.get("webhooks") or {}
    if webhooks_opt.get("callbackData") is not None:
        result["callbackData"] = webhooks_opt["callbackData"]
    msg.report = result
    msg.report_pulled = False
    msg.report_waiting = True
    batch.save(msg, ("report", "report_pulled", "report_waiting"))
    delivery = webhooks_opt.get("delivery") or {}
    if delivery.get("url") and delivery.get("notify", True) is not False:
        webhooks.emit_infobip(delivery["url"], [result])


def sms_failover(msg: SandboxMessage, now: datetime) -> None:
    """The SMS Infobip sends when the Zalo message failed or expired (recorded, reported delivered)."""
    failover = msg.options.get("smsFailover")
    if not failover or msg.channel == "sms":
        return
    to = msg.recipient
    for match in failover.get("destinationMatching") or []:
        if match.get("initial") == msg.recipient:
            to = match.get("failover") or to
    sms = SandboxMessage.objects.create(
        provider="infobip",
        channel="sms",
        oa=msg.oa,
        template_id=msg.template_id,
        recipient=to,
        tracking_id=msg.tracking_id,
        msg_id=new_msg_id(),
        message_id=f"{msg.message_id}-sms",
        bulk_id=msg.bulk_id,
        template_data={"sender": failover.get("sender", ""), "text": failover.get("text", "")},
        accepted=True,
        sent_to_user=True,
        state="delivered",
        accepted_at=now,
        sent_at=now,
        delivered_at=now,
        options={k: v for k, v in msg.options.items() if k in ("webhooks", "platform")},
        infobip_account=msg.infobip_account,
    )
    batch.count_template(sms.template_id, now, sent=1)
    msg.state = "failover"
    batch.save(msg, ("state",))
    infobip_report(sms, DELIVERED, NO_ERROR, now, channel="SMS")


def new_bulk_id() -> str:
    return str(uuid.uuid4())


def decrypt_values(oa: SandboxOA, data: dict) -> dict:
    if not oa.rsa_private_pem:
        raise ZaloError(-128)
    try:
        return {key: crypto.decrypt(oa.rsa_private_pem, str(value)) for key, value in data.items()}
    except ValueError:
        raise ZaloError(-123) from None
