"""Delivery reports and user feedback applied to message rows (issue 13, "Reports").

Reports come from webhooks (campaigns.webhook_handlers) and from the polling job for the missing ones
(campaigns.jobs.poll_missing_reports). Each is applied to the one message it names *within the OA the
report is bound to* (the OA whose key or URL token verified it; a tracking id of another OA's message
finds nothing) and is idempotent: the same report again changes nothing and records nothing twice.

- A report moves the row with the dispatcher's own conditional UPDATE (`campaigns.dispatch.transition`):
  sending / accepted / unconfirmed -> delivered, or -> failed with the provider's code. A PENDING report
  proves the provider took the message: unconfirmed -> accepted. A row that leaves `sending` or
  `unconfirmed` this way was sent after all, so it is counted in the quota rollups then.
- A report for a row already final in another state (failed over, expired, delivered and now said to
  have failed, …) changes no state: it is written on the timeline once, as a late report.
- Infobip's own SMS failover reports its SMS leg as a second report (channel SMS): the message becomes
  failed over (Infobip failed over, so the Zalo leg did not get through) and the leg's outcome is
  written on the timeline once per outcome.
- A user's feedback is a timeline entry; a bad report also goes to the quota rollups per OA, campaign
  and template (`quotas.services.rollups.record_bad_report`, once per message) and to the contact's
  last-bad-report time; a stop word is an opt-out (`audiences.services.record_opt_out`, idempotent).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.relay import queue_delivery_report
from audiences.models import ConsentEvent, Suppression
from audiences.services import record_contact_bad_report, record_contact_sent, record_opt_out
from campaigns import analytics_rollups, ratelimit
from campaigns.dispatch import transition
from campaigns.models import Campaign, CampaignMessage, CampaignMessageEvent
from oas.models import OACredentials, OfficialAccount
from oas.services.clients import client_for
from providers import errors
from providers.base import ProviderError
from quotas.services.rollups import record_bad_report, record_sent

log = logging.getLogger(__name__)

S = CampaignMessage.State
ACTOR = "system:reports"

DELIVERED, FAILED, PENDING = "delivered", "failed", "pending"
# Timeline entries that change no state carry one of these in `error_code`.
LATE_REPORT = "LATE_REPORT"
BAD_REPORT = "BAD_REPORT"
USER_FEEDBACK = "USER_FEEDBACK"
SMS_DELIVERED = "SMS_DELIVERED"
SMS_FAILED = "SMS_FAILED"
SMS_PENDING = "SMS_PENDING"
SMS_LEG_CODES = {DELIVERED: SMS_DELIVERED, FAILED: SMS_FAILED, PENDING: SMS_PENDING}
DELIVERY_FAILED = "DELIVERY_FAILED"  # a failed report naming no error we map
# Infobip names its SMS leg after the Zalo message (the sandbox: "<messageId>-sms").
SMS_LEG_SUFFIX = "-sms"


@dataclass(frozen=True)
class DeliveryReport:
    """One provider report about one message, in one shape for every source."""

    outcome: str  # DELIVERED | FAILED | PENDING
    at: datetime
    tracking_id: str = ""
    provider_message_id: str = ""
    provider_code: str = ""  # e.g. Infobip's status name
    detail: str = ""  # the provider's text
    error_code: str = ""  # ours (providers.errors) for a failure
    sms_leg: bool = False  # Infobip's SMS failover leg
    source: str = "webhook"  # "webhook" | "poll"


# --- parsing -----------------------------------------------------------------------------------------


def ms_time(value) -> datetime | None:
    ms = errors_to_int(value)
    if not ms:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def errors_to_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def infobip_time(value) -> datetime | None:
    """Infobip's `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (e.g. 2019-11-09T16:00:00.000+0000)."""
    if not isinstance(value, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def infobip_report(result: dict, *, source: str = "webhook") -> DeliveryReport | None:
    """A delivery report (webhook `results[]` or a log entry) in our shape; None when unreadable."""
    if not isinstance(result, dict) or not result.get("messageId"):
        return None
    status = result.get("status") if isinstance(result.get("status"), dict) else {}
    group = str(status.get("groupName") or "").upper()
    if group == "DELIVERED":
        outcome = DELIVERED
    elif group in ("PENDING", "ACCEPTED", "OK", ""):
        outcome = PENDING
    else:
        outcome = FAILED
    message_id = str(result["messageId"])
    sms_leg = str(result.get("channel") or "").upper() == "SMS"
    tracking = message_id
    if sms_leg and tracking.endswith(SMS_LEG_SUFFIX):
        tracking = tracking[: -len(SMS_LEG_SUFFIX)]
    error_code = ""
    if outcome == FAILED:
        try:
            info = errors.infobip_status_error(status)
        except (TypeError, ValueError):
            info = None
        error_code = info.code if info is not None else DELIVERY_FAILED
    error = result.get("error") if isinstance(result.get("error"), dict) else {}
    detail = str(status.get("description") or "")
    if outcome == FAILED and error.get("name") and error.get("name") != "NO_ERROR":
        detail = f"{detail} ({error.get('name')})".strip()
    return DeliveryReport(
        outcome=outcome,
        at=infobip_time(result.get("doneAt")) or timezone.now(),
        tracking_id=tracking,
        provider_message_id=message_id,
        provider_code=str(status.get("name") or status.get("id") or ""),
        detail=detail,
        error_code=error_code,
        sms_leg=sms_leg,
        source=source,
    )


def zalo_delivery_report(payload: dict) -> DeliveryReport | None:
    """Zalo's `user_received_message` (provider-apis.md §1.14): the message reached the phone."""
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    tracking, msg_id = str(message.get("tracking_id") or ""), str(message.get("msg_id") or "")
    if not tracking and not msg_id:
        return None
    return DeliveryReport(
        outcome=DELIVERED,
        at=ms_time(message.get("delivery_time")) or ms_time(payload.get("timestamp")) or timezone.now(),
        tracking_id=tracking,
        provider_message_id=msg_id,
        provider_code="user_received_message",
        detail="Zalo: delivered to the user's phone",
    )


# --- applying -------------------------------------------------------------------------------------------


def find_message(oa_id: int, *, tracking_id: str = "", provider_message_id: str = "", lock: bool = False):
    """The message of one of the OA's campaigns with this tracking id (else provider message id)."""
    rows = CampaignMessage.objects.filter(campaign__oa_id=oa_id)
    if lock:
        rows = rows.select_for_update(of=("self",))
    if tracking_id:
        found = rows.filter(tracking_id=tracking_id[:48]).first()
        if found is not None:
            return found
    if provider_message_id:
        return rows.filter(provider_message_id=provider_message_id[:120]).order_by("pk").first()
    return None


def _note(message: CampaignMessage, code: str, *, at, provider_code="", detail="", actor=ACTOR) -> bool:
    """A timeline entry that changes no state, written once per (message, code, provider code)."""
    if CampaignMessageEvent.objects.filter(
        message_id=message.pk, error_code=code, provider_code=provider_code[:64]
    ).exists():
        return False
    CampaignMessageEvent.objects.create(
        message_id=message.pk,
        from_state=message.state,
        to_state=message.state,
        at=at,
        error_code=code,
        provider_code=provider_code[:64],
        detail=detail[:500],
        actor=actor[:150],
    )
    return True


def _count_as_sent(message: CampaignMessage, at: datetime) -> None:
    """A row that was sending/unconfirmed turned out to have been sent: the rollups learn it now."""
    campaign = Campaign.objects.select_related("template").get(pk=message.campaign_id)
    record_sent(campaign.oa_id, at, 1, campaign.pk, campaign.template_id, int(campaign.template.tag))
    record_contact_sent([message.phone], at)


def _clamp(at: datetime, message: CampaignMessage) -> datetime:
    """A provider's clock is not ours: never in the future, never before the row was sent."""
    now = timezone.now()
    floor = message.sending_at or message.created_at or now
    return max(min(at, now), floor)


# What a campaign's notifyUrl hears about: every report that changed or added something.
RELAYED = frozenset({"delivered", "failed", "accepted", "failed_over", "late"})
# Infobip's status groups: an operator's handler reads relayed reports as Infobip's own.
RELAY_GROUPS = {DELIVERED: "DELIVERED", FAILED: "UNDELIVERABLE", PENDING: "PENDING"}


def relay_entry(message: CampaignMessage, report: DeliveryReport, result: str) -> dict:
    """One relayed report, in the shape of Infobip's delivery report `results[]` entries."""
    return {
        "messageId": message.tracking_id,
        "to": message.phone,
        "campaignId": message.campaign_id,
        "channel": "SMS" if report.sms_leg else "ZALO",
        "status": {
            "groupName": RELAY_GROUPS.get(report.outcome, "PENDING"),
            "name": report.provider_code or report.outcome.upper(),
            "description": report.detail,
        },
        "error": {"name": report.error_code} if report.error_code else None,
        "doneAt": report.at.isoformat(),
        "result": result,
        "source": report.source,
    }


@transaction.atomic
def apply_delivery_report(oa_id: int, report: DeliveryReport, *, actor: str = ACTOR) -> str:
    """Apply one report to the OA's message it names. Returns what happened: "delivered", "failed",
    "accepted", "failed_over", "late" (written on the timeline only), "duplicate" (nothing new) or
    "unknown" (no such message in this OA). A report that changed or added something is relayed to
    the campaign's notifyUrl too (alerts.relay: queued in this transaction, posted by a job)."""
    message = find_message(
        oa_id, tracking_id=report.tracking_id, provider_message_id=report.provider_message_id, lock=True
    )
    if message is None:
        return "unknown"
    result = _apply_to_message(message, report, actor)
    if result in RELAYED:
        queue_delivery_report(message.campaign_id, relay_entry(message, report, result))
    return result


def _apply_to_message(message: CampaignMessage, report: DeliveryReport, actor: str) -> str:
    at = _clamp(report.at, message)
    label = f"{report.source}: {report.provider_code or report.outcome}"
    detail = f"{label} {report.detail}".strip() if report.detail else label
    if report.sms_leg:
        return _apply_sms_leg(message, report, at, detail, actor)
    before = message.state
    if report.outcome == DELIVERED:
        moved = transition(
            [message.pk], (S.SENDING, S.ACCEPTED, S.UNCONFIRMED), S.DELIVERED, now=at,
            values={"lease_until": None, "error_code": ""}, detail=detail, actor=actor,
        )  # fmt: skip
        result = "delivered"
    elif report.outcome == FAILED:
        moved = transition(
            [message.pk], (S.SENDING, S.ACCEPTED, S.UNCONFIRMED), S.FAILED, now=at,
            values={
                "lease_until": None,
                "error_code": report.error_code or DELIVERY_FAILED,
                "provider_error_code": report.provider_code[:64],
                "provider_error_message": report.detail[:500],
            },
            detail=detail, actor=actor,
        )  # fmt: skip
        result = "failed"
    else:
        moved = transition(
            [message.pk], (S.SENDING, S.UNCONFIRMED), S.ACCEPTED, now=at,
            values={"lease_until": None, "error_code": ""}, detail=detail, actor=actor,
        )  # fmt: skip
        result = "accepted"
    if moved:
        if before in (S.SENDING, S.UNCONFIRMED):
            _count_as_sent(message, at)
        return result
    message.refresh_from_db(fields=["state"])
    same = {DELIVERED: (S.DELIVERED,), FAILED: (S.FAILED, S.FAILED_OVER)}.get(report.outcome, ())
    if report.outcome == PENDING or message.state in same:
        return "duplicate"  # what the row says already, or a PENDING after the final word
    if message.state in (S.QUEUED, S.CLAIMED):
        return "duplicate"  # not sent by us (yet): a report cannot be about this send
    noted = _note(
        message, LATE_REPORT, at=timezone.now(), provider_code=report.provider_code or report.outcome,
        detail=f"late report after {message.state}: {detail}", actor=actor,
    )  # fmt: skip
    return "late" if noted else "duplicate"


def _apply_sms_leg(message: CampaignMessage, report: DeliveryReport, at, detail: str, actor: str) -> str:
    moved = transition(
        [message.pk], (S.ACCEPTED, S.UNCONFIRMED, S.FAILED), S.FAILED_OVER, now=at,
        detail=f"SMS failover by the provider ({detail})", actor=actor,
    )  # fmt: skip
    if moved:
        # Infobip failed over by itself: the campaign's count of failover SMS includes it.
        Campaign.objects.filter(pk=message.campaign_id).update(sms_failover_sent=F("sms_failover_sent") + 1)
    message.refresh_from_db(fields=["state"])
    if message.state != S.FAILED_OVER:
        return "duplicate"  # delivered on Zalo: an SMS leg report cannot change that
    noted = _note(
        message, SMS_LEG_CODES[report.outcome], at=at, provider_code=report.provider_code,
        detail=f"SMS leg: {detail}", actor=actor,
    )  # fmt: skip
    return "failed_over" if (moved or noted) else "duplicate"


# --- user feedback --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feedback:
    tracking_id: str
    provider_message_id: str
    at: datetime
    bad_report: bool
    stop_word: bool
    text: str = ""
    key: str = ""  # the feedback's own time, to tell two feedbacks on one message apart


@transaction.atomic
def apply_user_feedback(oa_id: int, feedback: Feedback, *, event_id: int | None = None, actor=ACTOR):
    """Apply a user's feedback to the OA's message it names; the message (None when there is none:
    the caller then falls back to what the payload alone allows). Idempotent."""
    message = find_message(
        oa_id, tracking_id=feedback.tracking_id, provider_message_id=feedback.provider_message_id, lock=True
    )
    if message is None:
        return None
    at = min(feedback.at, timezone.now())
    code = BAD_REPORT if feedback.bad_report else USER_FEEDBACK
    key = BAD_REPORT if feedback.bad_report else (feedback.key or "")
    noted = _note(message, code, at=at, provider_code=key, detail=feedback.text, actor=actor)
    if noted and feedback.bad_report:
        campaign = Campaign.objects.select_related("template").get(pk=message.campaign_id)
        record_bad_report(
            campaign.oa_id, at, 1, campaign.pk, campaign.template_id, int(campaign.template.tag)
        )
        record_contact_bad_report(message.phone, at)
        analytics_rollups.record_bad_report(message.pk)  # at the hour and source it was sent with
    if feedback.stop_word:
        record_opt_out(
            actor="system:webhooks",
            phone=message.phone,
            channel=ConsentEvent.Channel.USER_FEEDBACK,
            source=Suppression.Source.PROVIDER_FEEDBACK,
            reason=f"stop word in a feedback on campaign #{message.campaign_id}"
            + (f" (webhook event #{event_id})" if event_id else ""),
        )
    return message


# --- polling for the missing ones ---------------------------------------------------------------------

UNCONFIRMED_FINAL = "UNCONFIRMED_FINAL"
POLL_ACTOR = "system:report_poll"
INFOBIP_LOG_IDS_PER_REQUEST = 100


def _poll_once(key: str, seconds: int) -> bool:
    """True for the first caller in `seconds` (a message is asked about once per period)."""
    try:
        return bool(ratelimit.client().set(f"campaigns:poll:{key}", "1", nx=True, ex=max(1, seconds)))
    except redis.RedisError:
        return False


def poll_zalo_status(now: datetime | None = None, *, limit: int | None = None) -> dict:
    """Zalo-direct messages accepted a while ago without a report: ask Zalo's message status API
    (one request each); a delivered answer is applied as a report. Never on a page's GET."""
    now = now or timezone.now()
    limit = limit or settings.REPORT_POLL_BATCH
    cutoff = now - timedelta(seconds=settings.REPORT_POLL_AFTER_SECONDS)
    rows = (
        CampaignMessage.objects.filter(
            state=S.ACCEPTED, accepted_at__lt=cutoff, campaign__oa__provider=OfficialAccount.Provider.ZALO
        )
        .exclude(provider_message_id="")
        .select_related("campaign__oa")
        .order_by("accepted_at", "pk")[: limit * 4]
    )
    figures = {"asked": 0, "delivered": 0, "errors": 0}
    clients: dict[int, object] = {}
    for message in rows:
        if figures["asked"] >= limit:
            break
        if not _poll_once(f"zalo:{message.pk}", settings.REPORT_POLL_AFTER_SECONDS):
            continue
        oa = message.campaign.oa
        client = clients.get(oa.pk) or clients.setdefault(oa.pk, client_for(oa))
        figures["asked"] += 1
        try:
            status = client.call(lambda c, m=message: c.get_message_status(m.provider_message_id))
        except ProviderError as exc:
            figures["errors"] += 1
            log.warning("Zalo message status for message #%s failed: %s", message.pk, exc)
            continue
        if status.get("status") == 1:
            report = DeliveryReport(
                outcome=DELIVERED,
                at=status.get("delivery_time") or now,
                tracking_id=message.tracking_id,
                provider_message_id=message.provider_message_id,
                provider_code="status 1",
                detail=status.get("message") or "",
                source="poll",
            )
            if apply_delivery_report(oa.pk, report, actor=POLL_ACTOR) == "delivered":
                figures["delivered"] += 1
    return figures


def infobip_logs_limit(oa: OfficialAccount) -> ratelimit.Limit:
    """Infobip's logs endpoint allows 10 requests a minute per account (provider-apis.md §2.2)."""
    creds = OACredentials.objects.filter(oa_id=oa.pk).first()
    account = hashlib.sha256(
        f"{creds.infobip_base_url if creds else ''}|{creds.infobip_api_key if creds else ''}".encode()
    ).hexdigest()[:16]
    rate = settings.INFOBIP_LOGS_PER_MINUTE
    return ratelimit.Limit(f"campaigns:rl:infobip_logs:{account}", rate=rate, period=60.0, burst=1)


def poll_infobip_logs(now: datetime | None = None, *, limit: int | None = None) -> dict:
    """Infobip messages accepted (or unconfirmed) a while ago without a final report: their log
    entries, up to 100 ids a request, within the logs endpoint's rate; each entry is applied as a
    report (a PENDING one resolves an unconfirmed row to accepted)."""
    now = now or timezone.now()
    limit = limit or settings.REPORT_POLL_BATCH
    cutoff = now - timedelta(seconds=settings.REPORT_POLL_AFTER_SECONDS)
    since = now - timedelta(hours=48)  # logs are kept 48 h
    figures = {"requests": 0, "applied": 0, "rate_limited": 0, "errors": 0}
    oas = OfficialAccount.objects.filter(provider=OfficialAccount.Provider.INFOBIP)
    for oa in oas:
        rows = list(
            CampaignMessage.objects.filter(campaign__oa_id=oa.pk)
            .filter(
                Q(state=S.ACCEPTED, accepted_at__lt=cutoff, accepted_at__gt=since)
                | Q(state=S.UNCONFIRMED, unconfirmed_at__lt=cutoff, unconfirmed_at__gt=since)
                # The Zalo leg failed and Infobip fails over: its SMS leg's report may be missing.
                | Q(
                    state=S.FAILED,
                    failed_at__lt=cutoff,
                    failed_at__gt=since,
                    campaign__sms_failover_enabled=True,
                )
            )
            .order_by("pk")
            .values_list("pk", "tracking_id", "campaign__sms_failover_enabled")[: limit * 4]
        )
        ids = []
        for pk, tid, fails_over in rows:
            if len(ids) >= limit:
                break
            if _poll_once(f"infobip:{pk}", settings.REPORT_POLL_AFTER_SECONDS):
                ids += [tid, f"{tid}{SMS_LEG_SUFFIX}"] if fails_over else [tid]
        if not ids:
            continue
        client = client_for(oa)
        bucket = infobip_logs_limit(oa)
        for start in range(0, len(ids), INFOBIP_LOG_IDS_PER_REQUEST):
            chunk = ids[start : start + INFOBIP_LOG_IDS_PER_REQUEST]
            try:
                allowed = ratelimit.acquire(bucket, 1, max_wait=0).allowed
            except redis.RedisError:
                allowed = False
            if not allowed:
                figures["rate_limited"] += 1
                _forget(ids[start:], rows)
                break
            figures["requests"] += 1
            try:
                entries = client.call(lambda c, ids_=chunk: c.get_logs(ids_))
            except ProviderError as exc:
                figures["errors"] += 1
                log.warning("Infobip logs for OA #%s failed: %s", oa.pk, exc)
                continue
            for entry in entries:
                report = infobip_report(entry, source="poll")
                if report is None:
                    continue
                if apply_delivery_report(oa.pk, report, actor=POLL_ACTOR) not in ("duplicate", "unknown"):
                    figures["applied"] += 1
    return figures


def _forget(tracking_ids, rows) -> None:
    """Rows not asked about after all (rate limit): asked about next time."""
    by_tracking = {}
    for pk, tid, _fails_over in rows:
        by_tracking[tid] = by_tracking[f"{tid}{SMS_LEG_SUFFIX}"] = pk
    with contextlib.suppress(redis.RedisError):
        keys = [f"campaigns:poll:infobip:{by_tracking[t]}" for t in tracking_ids if t in by_tracking]
        if keys:
            ratelimit.client().delete(*keys)


def finalise_unconfirmed(now: datetime | None = None) -> int:
    """Unconfirmed rows past their validity with no report: shown as unconfirmed for good (a
    timeline note UNCONFIRMED_FINAL, the row's error code says so too). The state stays
    `unconfirmed`: a late report carrying the tracking id still resolves it. Returns rows marked."""
    now = now or timezone.now()
    ids = list(
        CampaignMessage.objects.filter(state=S.UNCONFIRMED, valid_until__lt=now)
        .exclude(error_code=UNCONFIRMED_FINAL)
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    if not ids:
        return 0
    with transaction.atomic():
        marked = list(
            CampaignMessage.objects.filter(pk__in=ids, state=S.UNCONFIRMED)
            .exclude(error_code=UNCONFIRMED_FINAL)
            .select_for_update(skip_locked=True)
        )
        CampaignMessage.objects.filter(pk__in=[m.pk for m in marked]).update(
            error_code=UNCONFIRMED_FINAL, updated_at=now
        )
        CampaignMessageEvent.objects.bulk_create(
            [
                CampaignMessageEvent(
                    message_id=m.pk, from_state=S.UNCONFIRMED, to_state=S.UNCONFIRMED, at=now,
                    error_code=UNCONFIRMED_FINAL,
                    detail="validity period passed without a report: unconfirmed for good (never re-sent)",
                    actor=POLL_ACTOR,
                )
                for m in marked
            ]
        )  # fmt: skip
    return len(marked)


def unconfirmed_is_final(message: CampaignMessage) -> bool:
    return message.state == S.UNCONFIRMED and message.error_code == UNCONFIRMED_FINAL
