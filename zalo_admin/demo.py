"""Demo data for `make run`: three role users and a small, realistic set of OAs and campaigns."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from audiences import lists as audience_lists
from audiences import services as audiences
from audiences.models import Contact, ContactList, ContactSource, FollowerStatus, Purpose, Segment
from campaigns.models import Campaign
from oas.models import MessageTemplate, OACredentials, OfficialAccount
from oas.services.report_urls import issue_infobip_webhook_token
from quotas.models import Policy
from quotas.services.rollups import record_bad_report, record_sent
from quotas.services.state import create_quota_state
from teams import services as team_services
from teams.models import DEFAULT_TEAM_NAME, Team
from zalo_admin.roles import COMPLIANCE_AUDITOR, MARKETER, QUALITY_ADMIN

DEMO_USERS = (("marketer", MARKETER), ("quality", QUALITY_ADMIN), ("auditor", COMPLIANCE_AUDITOR))
# Two teams (the demo OAs' owner teams): the demo users are in the first, which owns the first OA,
# the lists, the segment and the campaigns; the second owns the Infobip OA. The auditor sees all teams.
DEMO_TEAMS = ("E-commerce", "Cards")
DEMO_ALL_TEAMS_USERS = ("auditor",)


@dataclass
class DemoUser:
    username: str
    role: str
    password: str | None  # None when the user already existed and kept its password


@transaction.atomic
def ensure_demo_users(reset_passwords: bool = False) -> list[DemoUser]:
    """Create one user per role; passwords are random and only known to the caller that set them."""
    user_model = get_user_model()
    result = []
    for username, role in DEMO_USERS:
        user, created = user_model.objects.get_or_create(username=username)
        password = None
        if created or reset_passwords:
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save()
        user.groups.set([Group.objects.get(name=role)])
        team_services.add_member(
            actor=DEMO_ACTOR, user=user, team=demo_team(), all_teams=username in DEMO_ALL_TEAMS_USERS
        )
        result.append(DemoUser(username, role, password))
    return result


def demo_team(name: str = DEMO_TEAMS[0]) -> Team:
    return Team.objects.get_or_create(name=name)[0]


# Credentials the local sandbox seeds (sandbox/seed.py), so `make run` works end to end.
DEMO_ACCOUNTS = (
    {
        "zalo_oa_id": "demo-oa-1",
        "name": "Demo Fashion",
        "provider": OfficialAccount.Provider.ZALO,
        "policy": "zns-2024",
        "limit": 20000,
        "owner_team": "E-commerce",
        "credentials": {
            "app_id": "demo-app-1",
            "app_secret": "demo-app-1-secret-key",
            "oa_secret_key": "demo-app-1-secret-key",
            "access_token": "demo-oa-1-access-token",
            "refresh_token": "demo-oa-1-refresh-token",
        },
        "templates": (
            ("100001", "Order confirmation", MessageTemplate.Tag.TRANSACTION),
            ("100002", "Delivery follow-up", MessageTemplate.Tag.CUSTOMER_CARE),
            ("100003", "[QC] Year-end sale", MessageTemplate.Tag.MARKETING),
        ),
        "daily_volume": 1800,
    },
    {
        "zalo_oa_id": "demo-oa-2",
        "name": "Demo Bank (Infobip)",
        "provider": OfficialAccount.Provider.INFOBIP,
        "policy": "zbs-2026",
        "limit": 20000,
        "owner_team": "Cards",
        "credentials": {
            "infobip_api_key": "demo-infobip-api-key",
            "infobip_sender": "demo-oa-2",
        },
        "templates": (("200001", "OTP", MessageTemplate.Tag.TRANSACTION),),
        "daily_volume": 600,
    },
)


def _ensure_account(spec: dict) -> tuple[OfficialAccount, bool]:
    oa, created = OfficialAccount.objects.get_or_create(
        zalo_oa_id=spec["zalo_oa_id"],
        defaults={
            "name": spec["name"],
            "provider": spec["provider"],
            "owner_team": spec["owner_team"],
            "team": demo_team(spec["owner_team"]),
        },
    )
    if created:
        credentials = dict(spec["credentials"])
        if spec["provider"] == OfficialAccount.Provider.INFOBIP:
            credentials["infobip_base_url"] = settings.INFOBIP_BASE_URL
        else:
            credentials["access_expires_at"] = timezone.now() + timedelta(hours=25)
        OACredentials.objects.create(oa=oa, **credentials)
        if spec["provider"] == OfficialAccount.Provider.INFOBIP:
            issue_infobip_webhook_token(oa.pk)  # as save_official_account gives every Infobip OA
        create_quota_state(oa, Policy.objects.get(code=spec["policy"]), current_limit=spec["limit"])
    return oa, created


@transaction.atomic
def ensure_demo_data() -> None:
    """Two OAs matching the sandbox, templates, campaigns and 30 days of traffic; safe to run again."""
    now = timezone.now()
    for spec in DEMO_ACCOUNTS:
        oa, created = _ensure_account(spec)
        templates = [
            MessageTemplate.objects.get_or_create(
                oa=oa, template_id=template_id, defaults={"name": name, "tag": tag}
            )[0]
            for template_id, name, tag in spec["templates"]
        ]
        if not created:
            continue
        # Traffic goes through the quota engine's events, so rollups can be rebuilt from it.
        for offset in range(30, 0, -1):
            moment = now - timedelta(days=offset)
            sent = spec["daily_volume"] + (offset * 37 % 400)
            record_sent(oa.pk, moment, count=sent, template_id=templates[0].pk, tag=templates[0].tag)
            if offset % 3:
                record_bad_report(
                    oa.pk, moment, count=offset % 3, template_id=templates[0].pk, tag=templates[0].tag
                )
    ensure_demo_audience()
    ensure_demo_campaigns(now)
    _demo_rows_into_their_teams()


def _demo_rows_into_their_teams() -> None:
    """Demo data seeded before teams existed sits in the "Default" team (the migration's): move the
    demo OAs, lists and segment into the demo teams, so an older `make run` database shows them too."""
    default = Team.objects.filter(name=DEFAULT_TEAM_NAME).first()
    if default is None:
        return
    for spec in DEMO_ACCOUNTS:
        OfficialAccount.objects.filter(zalo_oa_id=spec["zalo_oa_id"], team=default).update(
            team=demo_team(spec["owner_team"])
        )
    names = [name for name, _description, _phones in DEMO_LISTS] + list(DEMO_ORDER_LISTS)
    ContactList.objects.filter(name__in=names, team=default).update(team=demo_team())
    Segment.objects.filter(name=DEMO_SEGMENT, team=default).update(team=demo_team())


# Demo contacts: phones of the 84 90x/91x ranges no real subscriber is expected to answer at.
DEMO_CONTACTS = (
    ("84900000001", "Nguyễn Văn An", {"city": "Hà Nội"}, True),
    ("84900000002", "Trần Thị Bình", {"city": "Đà Nẵng"}, True),
    ("84900000003", "Lê Minh Châu", {"city": "TP. Hồ Chí Minh"}, False),
)
DEMO_SUPPRESSED = "84900000004"
DEMO_ACTOR = "system:demo"


def ensure_demo_audience() -> None:
    """A few contacts with marketing consent evidence and one do-not-contact entry; idempotent."""
    source, _ = ContactSource.objects.get_or_create(
        kind=ContactSource.Kind.MANUAL, label="Demo contacts", defaults={"created_by": DEMO_ACTOR}
    )
    first_oa = OfficialAccount.objects.filter(zalo_oa_id=DEMO_ACCOUNTS[0]["zalo_oa_id"]).first()
    for phone, name, attributes, consented in DEMO_CONTACTS:
        if Contact.objects.filter(phone=phone).exists():
            continue
        contact = audiences.create_contact(
            actor=DEMO_ACTOR, phone=phone, source=source, name=name, attributes=attributes
        )
        if first_oa is not None:
            audiences.set_follower_status(
                actor=DEMO_ACTOR, contact=contact, oa=first_oa, status=FollowerStatus.Status.FOLLOWS
            )
        if consented:
            audiences.grant_consent(
                actor=DEMO_ACTOR,
                contact=contact,
                purpose=Purpose.MARKETING,
                source="demo web form",
                collector="Demo Fashion staff",
                wording="Tôi đồng ý nhận tin khuyến mãi từ Demo Fashion qua Zalo.",
                evidence_text=f"demo form submission for contact {contact.pk}",
            )
    audiences.suppress_phone(
        actor=DEMO_ACTOR, phone=DEMO_SUPPRESSED, reason="replied TU CHOI (demo)", source="opt_out_reply"
    )
    ensure_demo_lists(first_oa)


# Demo lists and a segment: names are the keys, so a second run adds nothing.
DEMO_LISTS = (
    ("Khách hàng thân thiết", "Loyal customers (demo)", ("84900000001", "84900000002")),
    ("Hội chợ tháng 11", "Visitors of the November fair (demo)", ("84900000002", "84900000003")),
)
DEMO_SEGMENT = "Marketing-ready followers"


def ensure_demo_lists(first_oa) -> None:
    for name, description, phones in DEMO_LISTS:
        contact_list = ContactList.objects.filter(name=name).first()
        if contact_list is None:
            contact_list = audience_lists.create_list(
                actor=DEMO_ACTOR, name=name, description=description, team=demo_team()
            )
            ids = Contact.objects.filter(phone__in=phones).values_list("pk", flat=True)
            audience_lists.add_members(actor=DEMO_ACTOR, contact_list=contact_list, contact_ids=ids)
    if first_oa is not None and not Segment.objects.filter(name=DEMO_SEGMENT).exists():
        audience_lists.create_segment(
            actor=DEMO_ACTOR,
            team=demo_team(),
            name=DEMO_SEGMENT,
            description="Follow the demo OA, consented to marketing, not on the do-not-contact list.",
            definition={
                "match": "all",
                "rules": [
                    {"field": "consent", "op": "granted", "purpose": "marketing"},
                    {"field": "follower", "op": "follows", "oa": first_oa.pk},
                    {"field": "suppression", "op": "not_suppressed"},
                ],
            },
        )


# --- demo campaigns (issue 13): real message rows, moved by the dispatcher's services ---------------

# The sandbox's parameters of the demo OA's templates (sandbox/seed.py), so mapping and sends match.
DEMO_TEMPLATE_PARAMS = {
    "100001": [
        {"name": "customer_name", "type": "STRING", "require": True, "maxLength": 30},
        {"name": "order_code", "type": "STRING", "require": True, "maxLength": 30},
        {"name": "amount", "type": "NUMBER", "require": True, "maxLength": 12},
    ],
    "100002": [
        {"name": "customer_name", "type": "STRING", "require": True, "maxLength": 30},
        {"name": "order_code", "type": "STRING", "require": True, "maxLength": 30},
    ],
}
DEMO_MAPPING = {
    "customer_name": {"source": "field", "key": "name"},
    "order_code": {"source": "attribute", "key": "order"},
    "amount": {"source": "attribute", "key": "total"},
}
DEMO_FINISHED = "Xác nhận đơn hàng tháng 11 (demo)"
DEMO_LIVE = "Nhắc lịch giao hàng (demo)"
DEMO_AWAITING = "Khuyến mãi cuối năm (demo)"
# (list name, first phone, count)
DEMO_ORDER_LISTS = {
    DEMO_FINISHED: ("Đơn hàng tháng 11 (demo)", 84900010000, 40),
    DEMO_LIVE: ("Đơn hàng tháng 12 (demo)", 84900020000, 120),
}
DEMO_LIVE_START_MINUTES = 2  # after `make run` seeds, so the page shows "Starts at …" first
DEMO_LIVE_SPEED_PER_MINUTE = 30  # four minutes of sending to watch


def _demo_order_list(name: str, first_phone: int, count: int, source) -> ContactList:
    contact_list = ContactList.objects.filter(name=name).first()
    if contact_list is not None:
        return contact_list
    contact_list = audience_lists.create_list(
        actor=DEMO_ACTOR, name=name, description="Demo orders", team=demo_team()
    )
    ids = []
    for n in range(count):
        phone = str(first_phone + n)
        contact = Contact.objects.filter(phone=phone).first() or audiences.create_contact(
            actor=DEMO_ACTOR,
            phone=phone,
            source=source,
            name=f"Khách hàng {n + 1}",
            attributes={"order": f"DH{first_phone % 100000 + n}", "total": 150000 + 1000 * n},
        )
        ids.append(contact.pk)
    audience_lists.add_members(actor=DEMO_ACTOR, contact_list=contact_list, contact_ids=ids)
    return contact_list


def _demo_campaign(name: str, oa, template, author, audience=None, segment=None, **options) -> Campaign:
    from campaigns import mapping

    if template.template_id in DEMO_TEMPLATE_PARAMS and not template.params:
        template.params = DEMO_TEMPLATE_PARAMS[template.template_id]
        template.save(update_fields=["params"])
    params = {p["name"] for p in template.params or []}
    campaign = Campaign.objects.create(
        oa=oa,
        template=template,
        name=name,
        author=author,
        status=Campaign.Status.AWAITING_APPROVAL,
        submitted_at=timezone.now(),
        mapping={k: v for k, v in DEMO_MAPPING.items() if k in params},
        template_version=mapping.template_version(template),
        **options,
    )
    if audience is not None:
        campaign.audience_lists.add(audience)
    if segment is not None:
        campaign.audience_segments.add(segment)
    return campaign


def _finish_demo_campaign(campaign: Campaign, start) -> None:
    """The finished campaign: started through the dispatcher at `start`, then every message moved
    along the dispatcher's transitions (no request leaves: the sandbox is not running at seed time),
    with the sandbox's kind of answers, delivery reports and one bad report."""
    from campaigns import dispatch
    from campaigns.models import CampaignDispatch, CampaignMessage

    state = CampaignMessage.State
    dispatch.start_campaign(campaign.pk, now=start, actor=DEMO_ACTOR)
    ids = list(CampaignMessage.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))
    failed = set(ids[5::13])  # a few recipients not on Zalo
    accepted = [i for i in ids if i not in failed]
    at = start
    for first in range(0, len(ids), 10):
        batch = ids[first : first + 10]
        at = start + timedelta(seconds=2 * first // 10 + 1)
        dispatch.transition(batch, state.QUEUED, state.CLAIMED, now=at, actor=DEMO_ACTOR)
        dispatch.transition(batch, state.CLAIMED, state.SENDING, now=at, attempts_delta=1, actor=DEMO_ACTOR)
        sent_at = at + timedelta(milliseconds=400)
        ok = {i: {"provider_message_id": f"demo-{campaign.pk}-{i}"} for i in batch if i not in failed}
        bad = {
            i: {"error_code": "RECIPIENT_NOT_ON_ZALO", "provider_error_code": "-118",
                "provider_error_message": "The Zalo account does not exist or is deactivated"}
            for i in batch if i in failed
        }  # fmt: skip
        dispatch.transition([], state.SENDING, state.ACCEPTED, now=sent_at, per_row=ok, actor=DEMO_ACTOR)
        dispatch.transition([], state.SENDING, state.FAILED, now=sent_at, per_row=bad, actor=DEMO_ACTOR)
        record_sent(
            campaign.oa_id, sent_at, len(ok), campaign.pk, campaign.template_id, campaign.template.tag
        )
    delivered = accepted[: len(accepted) - 3]  # three never reported back
    dispatch.transition(
        delivered, state.ACCEPTED, state.DELIVERED, now=at + timedelta(seconds=20),
        detail="delivery report (demo)", actor="system:reports",
    )  # fmt: skip
    # The one bad report, as the feedback webhook applies it (timeline entry, quota and analytics rollups).
    from campaigns import reports

    reported = CampaignMessage.objects.filter(campaign=campaign, state=state.DELIVERED).order_by("pk").first()
    reports.apply_user_feedback(
        campaign.oa_id,
        reports.Feedback(
            tracking_id=reported.tracking_id, provider_message_id="", at=at + timedelta(minutes=5),
            bad_report=True, stop_word=False, text="Demo: the recipient reported the message",
        ),
    )  # fmt: skip
    dispatch.maybe_complete(campaign.pk, actor=DEMO_ACTOR)
    CampaignDispatch.objects.filter(campaign=campaign).update(finished_at=at + timedelta(seconds=1))
    from campaigns import seals

    seals.seal_campaign(campaign.pk)  # its events are in the past: the story shows the seal intact


def ensure_demo_campaigns(now) -> None:
    """One finished campaign with its reports, one approved to start sending through the sandbox a
    couple of minutes after `make run` seeds (the worker and its scheduler start it), one awaiting
    approval. Keyed by name: a second run adds nothing. Needs the demo users (seed_demo makes them
    first)."""
    from campaigns import approval, dispatch
    from zalo_admin import jobs

    user_model = get_user_model()
    author = user_model.objects.filter(username="marketer").first()
    approver = user_model.objects.filter(username="quality").first()
    oa = OfficialAccount.objects.filter(zalo_oa_id=DEMO_ACCOUNTS[0]["zalo_oa_id"]).first()
    if oa is None or author is None or approver is None:
        return
    # Earlier demo data had a campaign that said Running and sent nothing: gone.
    Campaign.objects.filter(oa__zalo_oa_id__startswith="demo-oa-", name__endswith="(auto)").filter(
        status=Campaign.Status.RUNNING, dispatch__isnull=True
    ).delete()
    templates = {t.template_id: t for t in MessageTemplate.objects.filter(oa=oa)}
    source, _created = ContactSource.objects.get_or_create(
        kind=ContactSource.Kind.MANUAL, label="Demo contacts", defaults={"created_by": DEMO_ACTOR}
    )
    if not Campaign.objects.filter(name=DEMO_FINISHED).exists():
        audience = _demo_order_list(*DEMO_ORDER_LISTS[DEMO_FINISHED], source)
        campaign = _demo_campaign(DEMO_FINISHED, oa, templates["100001"], author, audience)
        start = now - timedelta(days=1, hours=2)
        approval.approve_campaign(campaign.pk, user=approver, now=start - timedelta(minutes=30))
        _finish_demo_campaign(campaign, start)
    if not Campaign.objects.filter(name=DEMO_LIVE).exists():
        audience = _demo_order_list(*DEMO_ORDER_LISTS[DEMO_LIVE], source)
        campaign = _demo_campaign(
            DEMO_LIVE, oa, templates["100002"], author, audience,
            send_at=now + timedelta(minutes=DEMO_LIVE_START_MINUTES),
            sending_speed_limit_amount=DEMO_LIVE_SPEED_PER_MINUTE, sending_speed_limit_time_unit="MINUTE",
        )  # fmt: skip
        approval.approve_campaign(campaign.pk, user=approver)
        jobs.enqueue(dispatch.START_JOB, campaign.pk)  # it schedules itself for `send at`
    if not Campaign.objects.filter(name=DEMO_AWAITING).exists():
        segment = Segment.objects.filter(name=DEMO_SEGMENT).first()
        _demo_campaign(DEMO_AWAITING, oa, templates["100003"], author, segment=segment)
