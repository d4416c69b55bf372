"""Fixtures for the quota engine: the policies from the data migration, OAs, templates, campaigns."""

from datetime import UTC, date, datetime, time

import pytest

from campaigns.models import Campaign
from oas.models import MessageTemplate, OfficialAccount
from quotas import rules
from quotas.models import OAQuotaState, Policy
from zalo_admin.lib.dates import VIETNAM


@pytest.fixture
def zbs(db) -> rules.Policy:
    return Policy.objects.get(code="zbs-2026").to_rules()


@pytest.fixture
def zns(db) -> rules.Policy:
    return Policy.objects.get(code="zns-2024").to_rules()


def vn_moment(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """An aware UTC moment at `hour`:`minute` of Vietnam day `day`."""
    return datetime.combine(day, time(hour, minute), tzinfo=VIETNAM).astimezone(UTC)


def make_oa(name="Shop", policy_code="zbs-2026", limit=..., **state) -> OfficialAccount:
    oa = OfficialAccount.objects.create(name=name, zalo_oa_id=f"oa-{name}")
    policy = Policy.objects.get(code=policy_code)
    OAQuotaState.objects.create(
        oa=oa, policy=policy, current_limit=policy.starting_level if limit is ... else limit, **state
    )
    return oa


@pytest.fixture
def oa(db) -> OfficialAccount:
    return make_oa()


@pytest.fixture
def marketing_campaign(oa) -> Campaign:
    template = MessageTemplate.objects.create(oa=oa, template_id="m1", name="Sale", tag=3)
    return Campaign.objects.create(oa=oa, template=template, name="Sale", status=Campaign.Status.RUNNING)


@pytest.fixture
def transaction_campaign(oa) -> Campaign:
    template = MessageTemplate.objects.create(oa=oa, template_id="t1", name="Order", tag=1)
    return Campaign.objects.create(oa=oa, template=template, name="Orders", status=Campaign.Status.RUNNING)
