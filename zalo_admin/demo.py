"""Demo data for `make run`: three role users and a small, realistic set of OAs and campaigns."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign
from oas.models import MessageTemplate, OfficialAccount
from quotas.models import OADailyStats
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


@transaction.atomic
def ensure_demo_data() -> None:
    """Two OAs with templates, campaigns and 30 days of traffic; safe to run again."""
    shop, _ = OfficialAccount.objects.get_or_create(
        zalo_oa_id="demo-oa-1", defaults={"name": "Demo Fashion", "provider": OfficialAccount.Provider.ZALO}
    )
    bank, _ = OfficialAccount.objects.get_or_create(
        zalo_oa_id="demo-oa-2",
        defaults={"name": "Demo Bank (Infobip)", "provider": OfficialAccount.Provider.INFOBIP},
    )
    templates = {}
    for oa, template_id, name, tag in (
        (shop, "100001", "Order confirmation", MessageTemplate.Tag.TRANSACTION),
        (shop, "100002", "Delivery follow-up", MessageTemplate.Tag.CUSTOMER_CARE),
        (shop, "100003", "Year-end sale", MessageTemplate.Tag.MARKETING),
        (bank, "200001", "OTP", MessageTemplate.Tag.TRANSACTION),
    ):
        templates[template_id], _ = MessageTemplate.objects.get_or_create(
            oa=oa, template_id=template_id, defaults={"name": name, "tag": tag}
        )
    for name, template_id, status in (
        ("Order confirmations", "100001", Campaign.Status.RUNNING),
        ("Year-end sale", "100003", Campaign.Status.AWAITING_APPROVAL),
    ):
        template = templates[template_id]
        Campaign.objects.get_or_create(
            name=name, oa=template.oa, defaults={"template": template, "status": status}
        )
    today = timezone.localdate()
    for offset in range(30):
        day = today - timedelta(days=29 - offset)
        for oa, base in ((shop, 1800), (bank, 600)):
            sent = base + (offset * 37 % 400)
            OADailyStats.objects.get_or_create(
                oa=oa, day=day, defaults={"sent": sent, "bad_reports": (offset * 7) % 3}
            )
