"""Campaign state changes (the one place each change happens, audited there).

campaigns is the only writer of campaign status. Lower layers (oas, quotas) announce events through
`zalo_admin.hooks`; the receivers below, connected in `CampaignsConfig.ready()`, pause what must
stop and return the paused campaign ids so the announcer can record them.
"""

from datetime import date

from django.db import transaction
from django.db.models import Q, QuerySet

from campaigns.models import Campaign
from compliance import actions
from compliance.services import actor_name, record_audit_event
from quotas.rules import MARKETING_TAG
from zalo_admin import hooks

# A campaign that would send (now or at its scheduled time) can be paused.
PAUSABLE_STATUSES = (Campaign.Status.RUNNING, Campaign.Status.SCHEDULED)


@transaction.atomic
def pause_campaign(campaign_id: int, reason: str, actor="system:campaigns") -> bool:
    """Pause a running or scheduled campaign with a reason; False when it would not send anyway."""
    paused = Campaign.objects.filter(pk=campaign_id, status__in=PAUSABLE_STATUSES).update(
        status=Campaign.Status.PAUSED, pause_reason=reason
    )
    if paused:
        record_audit_event(
            actor=actor_name(actor),
            action=actions.CAMPAIGN_PAUSE,
            target_type="campaigns.campaign",
            target_id=campaign_id,
            details={"campaign_id": campaign_id, "reason": reason},
        )
        hooks.emit(hooks.CAMPAIGN_PAUSED, campaign_id=campaign_id, reason=reason, actor=actor_name(actor))
    return bool(paused)


@transaction.atomic
def pause_campaigns(where: QuerySet | Q, reason: str, actor="system:campaigns") -> list[int]:
    """Pause the pausable campaigns among `where` (a Campaign queryset or a Q), each through
    `pause_campaign` (conditional UPDATE, audited); returns the ids actually paused, in id order."""
    campaigns = where if isinstance(where, QuerySet) else Campaign.objects.filter(where)
    candidates = campaigns.filter(status__in=PAUSABLE_STATUSES).order_by("pk").values_list("pk", flat=True)
    return [campaign_id for campaign_id in list(candidates) if pause_campaign(campaign_id, reason, actor)]


# --- hook receivers (zalo_admin.hooks; connected in campaigns.apps) ------------------------------


def pause_campaigns_of_stopped_oa(*, oa_id: int, reason: str, actor) -> list[int]:
    """OA_SENDS_STOPPED: the OA's running and scheduled campaigns are paused with `reason`."""
    return pause_campaigns(Q(oa_id=oa_id), reason, actor)


def pause_campaigns_of_template(*, template_id: int, reason: str, actor) -> list[int]:
    """TEMPLATE_UNSENDABLE (`template_id`: the MessageTemplate pk): its running and scheduled
    campaigns are paused with `reason`."""
    return pause_campaigns(Q(template_id=template_id), reason, actor)


def pause_marketing_campaigns_for_guardrail(*, oa_id: int, day: date, reason: str, actor) -> list[int]:
    """GUARDRAIL_TRIPPED (the OA's guardrail action is "pause"): its running marketing campaigns are
    paused (scheduled ones are not: the guardrail only stops what is sending on `day`)."""
    return pause_campaigns(
        Q(oa_id=oa_id, status=Campaign.Status.RUNNING, template__tag=MARKETING_TAG), reason, actor
    )
