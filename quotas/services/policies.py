"""Quota policies: the rules value of a row, the policy a new OA gets, new policies and versions."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from compliance import actions
from compliance.services import actor_name, record_audit_event
from oas.models import OfficialAccount
from quotas import rules
from quotas.models import Policy
from zalo_admin.lib.dates import vietnam_day


def rules_policy(policy: Policy) -> rules.Policy:
    """The rules engine's policy value for a `Policy` row."""
    return policy.to_rules()


def policy_for_new_oa(oa: OfficialAccount) -> Policy:
    """The latest policy in force on the OA's registration day (the oldest one if none was yet)."""
    registered = vietnam_day(oa.created_at or timezone.now())
    # Among versions in force from the same day, the newest row (the latest version) wins.
    in_force = Policy.objects.filter(effective_from__lte=registered).order_by("-effective_from", "-pk")
    return in_force.first() or Policy.objects.order_by("effective_from", "-pk").first()


# Every field of a policy row but its id: what a version is made of.
POLICY_FIELDS = tuple(field.name for field in Policy._meta.concrete_fields if not field.primary_key)
_VERSION_SUFFIX = re.compile(r"-v(\d+)$")


def _policy_values(policy: Policy) -> dict:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def _next_version_code(code: str) -> str:
    """`zbs-2026` → `zbs-2026-v2` → `zbs-2026-v3`…: the first free code of the next version."""
    base = _VERSION_SUFFIX.sub("", code)
    number = 2
    max_length = Policy._meta.get_field("code").max_length
    while True:
        suffix = f"-v{number}"
        candidate = base[: max_length - len(suffix)] + suffix
        if not Policy.objects.filter(code=candidate).exists():
            return candidate
        number += 1


@transaction.atomic
def add_policy(values: dict, actor) -> Policy:
    """Add a quota policy (e.g. Zalo's next rules) from validated field values; audited."""
    policy = Policy(**{name: values[name] for name in POLICY_FIELDS if name in values})
    policy.full_clean()
    policy.save()
    record_audit_event(
        actor=actor_name(actor),
        action=actions.POLICY_CREATE,
        target=policy,
        details={
            "code": policy.code,
            "effective_from": policy.effective_from,
            "values": _policy_values(policy),
        },
    )
    return policy


@transaction.atomic
def new_policy_version(previous_id: int, values: dict, actor) -> Policy:
    """Save changed policy numbers as a new policy row; the previous row is never changed.

    OAs on the previous version stay on it (and its history stays true); the new version is what
    new OAs registered from its `effective_from` get. Without a new code in `values` the version
    gets the previous code with a `-v<n>` suffix. Audited with what changed.
    """
    previous = Policy.objects.select_for_update().get(pk=previous_id)
    before = _policy_values(previous)
    after = {**before, **{name: values[name] for name in POLICY_FIELDS if name in values}}
    if after["code"] == previous.code:
        after["code"] = _next_version_code(previous.code)
    policy = Policy(**after)
    policy.full_clean()
    policy.save()
    changed = {
        name: [before[name], after[name]]
        for name in POLICY_FIELDS
        if name != "code" and before[name] != after[name]
    }
    record_audit_event(
        actor=actor_name(actor),
        action=actions.POLICY_NEW_VERSION,
        target=policy,
        details={
            "code": policy.code,
            "previous": previous.code,
            "previous_id": previous.pk,
            "changed": changed,
            "values": _policy_values(policy),
        },
    )
    return policy
