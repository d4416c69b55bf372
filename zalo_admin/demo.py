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
from zalo_admin.roles import COMPLIANCE_AUDITOR, MARKETER, QUALITY_ADMIN

DEMO_USERS = (("marketer", MARKETER), ("quality", QUALITY_ADMIN), ("auditor", COMPLIANCE_AUDITOR))


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
        result.append(DemoUser(username, role, password))
    return result


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
            ("100003", "Year-end sale", MessageTemplate.Tag.MARKETING),
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
        defaults={"name": spec["name"], "provider": spec["provider"], "owner_team": spec["owner_team"]},
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
        Campaign.objects.create(
            oa=oa, template=templates[0], name=f"{templates[0].name} (auto)", status=Campaign.Status.RUNNING
        )
        if len(templates) > 2:
            Campaign.objects.create(
                oa=oa, template=templates[2], name=templates[2].name, status=Campaign.Status.AWAITING_APPROVAL
            )
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
            contact_list = audience_lists.create_list(actor=DEMO_ACTOR, name=name, description=description)
            ids = Contact.objects.filter(phone__in=phones).values_list("pk", flat=True)
            audience_lists.add_members(actor=DEMO_ACTOR, contact_list=contact_list, contact_ids=ids)
    if first_oa is not None and not Segment.objects.filter(name=DEMO_SEGMENT).exists():
        audience_lists.create_segment(
            actor=DEMO_ACTOR,
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
