"""SMS failover for Zalo-direct OAs (issue 13): a message Zalo accepted whose delivery report did not
come within the campaign's validity period is sent as an SMS through an Infobip SMS account
(settings SMS_FAILOVER_BASE_URL / _API_KEY / _SENDER), with the campaign's SMS text and mapping.

Exactly once, with the dispatcher's discipline: the row moves `accepted -> failed_over` in one
conditional UPDATE (committed) before the SMS request leaves, so a late delivery report that came
first leaves the row delivered and no SMS is sent, two workers never both move it, and a request
whose outcome is unknown is written as SMS unconfirmed, never sent again. The SMS carries our own
`messageId` (`<tracking id>-sms`), so its report maps back to the message.

Cost ceiling: `Campaign.sms_failover_sent` is raised in the same transaction by one conditional
UPDATE that never goes past `sms_failover_max`; only as many rows as it granted fail over. Beyond the
ceiling failover stops: the remaining rows stay accepted with a timeline note, and the campaign
records it once (audited). Infobip OAs fail over by themselves (campaigns.reports records both legs).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns import mapping
from campaigns.dispatch import transition
from campaigns.models import VALIDITY_UNIT_SECONDS, Campaign, CampaignMessage, CampaignMessageEvent
from campaigns.reports import _note
from compliance import actions
from compliance.services import record_audit_event
from oas.models import OfficialAccount
from providers.infobip_sms import ACCEPTED, REJECTED, InfobipSmsClient, SmsRequest

log = logging.getLogger(__name__)

S = CampaignMessage.State
ACTOR = "system:sms_failover"
SMS_SUFFIX = "-sms"
# Timeline notes of the SMS leg (the row itself is failed_over).
SMS_ACCEPTED = "SMS_ACCEPTED"
SMS_REJECTED = "SMS_REJECTED"
SMS_UNCONFIRMED = "SMS_UNCONFIRMED"
FAILOVER_CEILING = "FAILOVER_CEILING"
NO_REPORT = "no delivery report within the validity period"


def configured() -> bool:
    return bool(
        settings.SMS_FAILOVER_BASE_URL and settings.SMS_FAILOVER_API_KEY and settings.SMS_FAILOVER_SENDER
    )


def sms_client() -> InfobipSmsClient:
    return InfobipSmsClient(
        settings.SMS_FAILOVER_BASE_URL, settings.SMS_FAILOVER_API_KEY, settings.SMS_FAILOVER_SENDER
    )


def sms_message_id(tracking_id: str) -> str:
    return f"{tracking_id}{SMS_SUFFIX}"


def _due(campaign_id: int, now: datetime):
    """Accepted rows past their validity (and the grace for a report in flight), no ceiling note."""
    cutoff = now - timedelta(seconds=settings.SMS_FAILOVER_GRACE_SECONDS)
    noted = CampaignMessageEvent.objects.filter(message_id=OuterRef("pk"), error_code=FAILOVER_CEILING)
    return CampaignMessage.objects.filter(
        campaign_id=campaign_id, state=S.ACCEPTED, valid_until__lt=cutoff
    ).filter(~Exists(noted))


def campaigns_due(now: datetime | None = None) -> list[int]:
    """Zalo-direct campaigns with SMS failover on and at least one row due for it."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SMS_FAILOVER_GRACE_SECONDS)
    return list(
        CampaignMessage.objects.filter(
            state=S.ACCEPTED,
            valid_until__lt=cutoff,
            campaign__sms_failover_enabled=True,
            campaign__oa__provider=OfficialAccount.Provider.ZALO,
        )
        .values_list("campaign_id", flat=True)
        .order_by("campaign_id")
        .distinct()
    )


def _grant(campaign_id: int, wanted: int) -> tuple[int, int | None, int]:
    """Raise the campaign's failover count by at most `wanted`, never past its ceiling, in one
    conditional UPDATE (the row stays locked until the caller's transaction ends). Returns
    (granted, ceiling, count after)."""
    table = Campaign._meta.db_table
    if connection.vendor != "postgresql":  # SQLite (`make run`): writes are serialised, read then update
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT sms_failover_sent, sms_failover_max FROM {table} WHERE id = %s",  # noqa: S608
                [campaign_id],
            )
            row = cursor.fetchone()
            if row is None:
                return 0, None, 0
            old, cap = int(row[0]), row[1]
            after = old + wanted if cap is None else min(cap, old + wanted)
            cursor.execute(f"UPDATE {table} SET sms_failover_sent = %s WHERE id = %s", [after, campaign_id])  # noqa: S608
        return after - old, cap, after
    sql = (
        f"WITH c AS (SELECT id, sms_failover_sent AS old, sms_failover_max AS cap FROM {table} "  # noqa: S608
        f"WHERE id = %s FOR UPDATE) "
        f"UPDATE {table} AS t SET sms_failover_sent = CASE WHEN c.cap IS NULL THEN c.old + %s "
        f"ELSE LEAST(c.cap, c.old + %s) END FROM c WHERE t.id = c.id "
        f"RETURNING t.sms_failover_sent - c.old, c.cap, t.sms_failover_sent"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign_id, wanted, wanted])
        row = cursor.fetchone()
    return (int(row[0]), row[1], int(row[2])) if row else (0, None, 0)


def _give_back(campaign_id: int, count: int) -> None:
    if count > 0:
        table = Campaign._meta.db_table
        greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"  # SQLite's scalar max()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET sms_failover_sent = {greatest}(0, sms_failover_sent - %s) WHERE id = %s",  # noqa: S608
                [count, campaign_id],
            )


def _claim(campaign: Campaign, now: datetime, limit: int) -> tuple[list[int], int]:
    """Move up to `limit` due rows to failed_over within the ceiling; (moved ids, rows left out by
    the ceiling)."""
    with transaction.atomic():
        ids = list(
            _due(campaign.pk, now)
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return [], 0
        granted, ceiling, after = _grant(campaign.pk, len(ids))
        moved = transition(
            ids[:granted], S.ACCEPTED, S.FAILED_OVER, now=now,
            detail=f"{NO_REPORT}: SMS failover", actor=ACTOR,
        )  # fmt: skip
        _give_back(campaign.pk, granted - len(moved))
        left_out = ids[granted:]
        if left_out:
            already = CampaignMessageEvent.objects.filter(
                message__campaign_id=campaign.pk, error_code=FAILOVER_CEILING
            ).exists()
            for message in CampaignMessage.objects.filter(pk__in=left_out, state=S.ACCEPTED):
                _note(
                    message, FAILOVER_CEILING, at=now,
                    detail=f"{NO_REPORT}; no SMS: the campaign's failover ceiling ({ceiling}) is reached",
                    actor=ACTOR,
                )  # fmt: skip
            if not already:
                record_audit_event(
                    actor=ACTOR,
                    action=actions.CAMPAIGN_FAILOVER_CEILING,
                    target_type="campaigns.campaign",
                    target_id=campaign.pk,
                    details={"campaign_id": campaign.pk, "ceiling": ceiling, "sent": after},
                )
    return moved, len(left_out)


def _text(campaign: Campaign, message: CampaignMessage) -> str:
    values, _problems = mapping.render_values(campaign.sms_failover_mapping or {}, message.contact, {})
    return mapping.render_text(campaign.sms_failover_text, values)


def _validity_seconds(campaign: Campaign) -> int | None:
    if campaign.sms_failover_validity_amount is None:
        return None
    return (
        campaign.sms_failover_validity_amount
        * VALIDITY_UNIT_SECONDS[campaign.sms_failover_validity_time_unit]
    )


def fail_over_campaign(
    campaign_id: int, *, now: datetime | None = None, limit: int = 100, client=None
) -> dict:
    """One round of failover for one campaign: claim due rows (state first), then send their SMS.
    Returns {"sent", "rejected", "unconfirmed", "ceiling"}."""
    now = now or timezone.now()
    figures = {"sent": 0, "rejected": 0, "unconfirmed": 0, "ceiling": 0}
    campaign = Campaign.objects.select_related("oa").get(pk=campaign_id)
    if (
        not campaign.sms_failover_enabled
        or campaign.oa.provider != OfficialAccount.Provider.ZALO
        or not configured()
    ):
        return figures
    moved, left_out = _claim(campaign, now, limit)
    figures["ceiling"] = left_out
    if not moved:
        return figures
    messages = list(CampaignMessage.objects.select_related("contact").filter(pk__in=moved).order_by("pk"))
    requests_ = [
        SmsRequest(
            message_id=sms_message_id(m.tracking_id),
            to=m.phone,
            text=_text(campaign, m),
            validity_seconds=_validity_seconds(campaign),
            callback_data=m.tracking_id,
        )
        for m in messages
    ]
    error = ""
    try:
        results = (client or sms_client()).send(requests_)
    except Exception as exc:  # a bug or unreadable setup: whether anything left is unknown
        log.exception("failover SMS of campaign #%s failed", campaign_id)
        results = None
        error = str(exc)[:400]
    by_id = {r.message_id: r for r in results or []}
    done = timezone.now()
    for message, sms in zip(messages, requests_, strict=True):
        result = by_id.get(sms.message_id)
        if result is None:
            code, key, text = (
                SMS_UNCONFIRMED,
                "",
                f"SMS outcome unknown: {error if results is None else 'no answer'}",
            )
        elif result.status == ACCEPTED:
            code, key, text = SMS_ACCEPTED, result.provider_code, f"SMS accepted ({sms.message_id})"
        elif result.status == REJECTED:
            code, key, text = SMS_REJECTED, result.provider_code, f"SMS refused: {result.provider_message}"
        else:
            code, key, text = (
                SMS_UNCONFIRMED,
                result.provider_code,
                f"SMS outcome unknown: {result.provider_message}",
            )
        message.state = S.FAILED_OVER
        _note(message, code, at=done, provider_code=key, detail=text, actor=ACTOR)
        figures[{SMS_ACCEPTED: "sent", SMS_REJECTED: "rejected", SMS_UNCONFIRMED: "unconfirmed"}[code]] += 1
    return figures


def run_failover(now: datetime | None = None, *, per_campaign: int = 500) -> dict:
    """Periodic: every due campaign, a bounded round each."""
    now = now or timezone.now()
    totals = {"sent": 0, "rejected": 0, "unconfirmed": 0, "ceiling": 0}
    if not configured():
        return totals
    for campaign_id in campaigns_due(now):
        figures = fail_over_campaign(campaign_id, now=now, limit=per_campaign)
        for key, value in figures.items():
            totals[key] += value
    return totals
