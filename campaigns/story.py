"""The story of one message, for compliance (issue 15): who sent it, who approved it, which consent
allowed it, which rules were checked, everything that happened to it, and whether that record is
still the one that was sealed. Read-only; one message, a fixed number of queries (one block of the
seal is re-hashed, never the campaign)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from django.db.models import Q

from audiences.models import ConsentEvent
from campaigns import approval, eligibility, reports, seals
from campaigns.models import (
    Campaign,
    CampaignApproval,
    CampaignDispatch,
    CampaignMessage,
    CampaignMessageEvent,
)
from compliance import actions
from compliance.models import AuditEvent
from zalo_admin.lib.phones import PhoneRejected, parse_vietnamese_mobile

SEARCH_LIMIT = 50
# The approval hash is recomputed from the message rows on the page up to this many recipients.
RECOMPUTE_LIMIT = 200_000
REPORT_CODES = {reports.DELIVERED.upper(), reports.SMS_DELIVERED} | set(reports.SMS_LEG_CODES.values())
FEEDBACK_CODES = {reports.BAD_REPORT, reports.USER_FEEDBACK}


@dataclass
class ApprovalCheck:
    approval: CampaignApproval | None
    start_hash: str = ""  # the hash the dispatcher verified at start (audit entry)
    start_entry: AuditEvent | None = None
    recomputed: str = ""  # the hash of the campaign as it is now over the sent recipients
    note: str = ""  # why it was not recomputed

    @property
    def matched_at_start(self) -> bool | None:
        if self.approval is None or not self.start_hash:
            return None
        return self.start_hash == self.approval.approval_hash

    @property
    def matches_now(self) -> bool | None:
        if self.approval is None or not self.recomputed:
            return None
        return self.recomputed == self.approval.approval_hash


@dataclass
class MessageStory:
    message: CampaignMessage
    campaign: Campaign
    approval: ApprovalCheck
    rules: list[tuple[str, str]]  # (code, title) checked at start: all passed, or there is no row
    consent: ConsentEvent | None
    events: list[CampaignMessageEvent]
    seal: seals.SealCheck
    audit: list[AuditEvent] = field(default_factory=list)

    @property
    def reports(self) -> list[CampaignMessageEvent]:
        return [
            e
            for e in self.events
            if e.error_code in REPORT_CODES
            or (e.to_state == CampaignMessage.State.DELIVERED and e.error_code not in FEEDBACK_CODES)
        ]

    @property
    def feedback(self) -> list[CampaignMessageEvent]:
        return [e for e in self.events if e.error_code in FEEDBACK_CODES]

    @property
    def send_check(self) -> CampaignMessageEvent | None:
        """The last move to `sending`: the audience ledgers were asked again just before it."""
        return next((e for e in reversed(self.events) if e.to_state == CampaignMessage.State.SENDING), None)


def find_messages(query: str) -> list[CampaignMessage]:
    """Messages by tracking id, provider message id, phone (any way it is written) or campaign
    (`#12`), newest first, at most SEARCH_LIMIT."""
    query = (query or "").strip()
    if not query:
        return []
    rows = CampaignMessage.objects.select_related("campaign", "campaign__oa").order_by("-created_at", "-pk")
    if query.startswith("#") and query[1:].isdigit():
        return list(rows.filter(campaign_id=int(query[1:]))[:SEARCH_LIMIT])
    matches = Q(tracking_id=query) | Q(provider_message_id=query)
    with contextlib.suppress(PhoneRejected):
        matches |= Q(phone=parse_vietnamese_mobile(query))
    return list(rows.filter(matches)[:SEARCH_LIMIT])


def _approval_check(campaign: Campaign) -> ApprovalCheck:
    started = CampaignDispatch.objects.filter(campaign=campaign).values_list("started_at", flat=True).first()
    approvals = campaign.approvals.order_by("-approved_at", "-pk")
    if started is not None:
        approvals = approvals.filter(approved_at__lte=started)
    chosen = approvals.first()
    start_entry = (
        AuditEvent.objects.filter(
            action=actions.CAMPAIGN_START, target_type="campaigns.campaign", target_id=str(campaign.pk)
        )
        .order_by("-seq")
        .first()
    )
    check = ApprovalCheck(chosen, start_entry=start_entry)
    if start_entry is not None:
        check.start_hash = str(start_entry.details.get("approval_hash", ""))
    if chosen is None:
        return check
    messages = CampaignMessage.objects.filter(campaign=campaign)
    if messages.filter(phone__startswith="x").exists():
        check.note = "erased"
    elif messages.count() > RECOMPUTE_LIMIT:
        check.note = "too_large"
    elif messages.exists():
        check.recomputed = approval.approval_hash(campaign, sorted(messages.values_list("phone", flat=True)))
    return check


def message_story(message_id: int) -> MessageStory | None:
    message = (
        CampaignMessage.objects.select_related("campaign", "campaign__oa", "campaign__template")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return None
    campaign = message.campaign
    start = _approval_check(campaign)
    titles = eligibility.rule_titles()
    codes = start.start_entry.details.get("rules", []) if start.start_entry is not None else []
    consent = (
        ConsentEvent.objects.filter(pk=message.consent_event_id).first() if message.consent_event_id else None
    )
    audit = list(
        AuditEvent.objects.filter(target_type="campaigns.campaign", target_id=str(campaign.pk)).order_by(
            "seq"
        )
    )
    return MessageStory(
        message=message,
        campaign=campaign,
        approval=start,
        rules=[(code, titles.get(code, code)) for code in codes],
        consent=consent,
        events=list(message.events.order_by("at", "pk")),
        seal=seals.check_message(message),
        audit=audit,
    )
