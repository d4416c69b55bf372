"""An OA's quota state: read it (a read never creates it), create it in one place, lock it, and
the limit in force on a day."""

from __future__ import annotations

from datetime import date

from oas.models import OfficialAccount
from quotas import rules
from quotas.models import OAQuotaState, Policy
from quotas.services.policies import policy_for_new_oa

_STARTING_LEVEL = object()


def quota_state(oa_id: int) -> OAQuotaState:
    """The OA's quota state with its policy; read-only: `OAQuotaState.DoesNotExist`, naming the OA,
    when it has none (states are created with the OA, by `create_quota_state`)."""
    state = OAQuotaState.objects.select_related("policy").filter(oa_id=oa_id).first()
    if state is None:
        raise OAQuotaState.DoesNotExist(f"OA #{oa_id} has no quota state")
    return state


def create_quota_state(
    oa: OfficialAccount | int, policy: Policy | None = None, *, current_limit=_STARTING_LEVEL
) -> OAQuotaState:
    """The OA's quota state, created when missing: on `policy` (default: the latest in force at the
    OA's registration) at `current_limit` (default: the policy's starting level). An existing state
    is returned unchanged. Every state row is created here (the data migration 0006 aside)."""
    oa_id = getattr(oa, "pk", oa)
    state = OAQuotaState.objects.select_related("policy").filter(oa_id=oa_id).first()
    if state is not None:
        return state
    if policy is None:
        account = oa if isinstance(oa, OfficialAccount) else OfficialAccount.objects.get(pk=oa_id)
        policy = policy_for_new_oa(account)
    limit = policy.starting_level if current_limit is _STARTING_LEVEL else current_limit
    state, _created = OAQuotaState.objects.select_related("policy").get_or_create(
        oa_id=oa_id, defaults={"policy": policy, "current_limit": limit}
    )
    return state


def lock_quota_state(oa_id: int) -> OAQuotaState:
    """The OA's state row locked for the caller's transaction (created first when missing)."""
    create_quota_state(oa_id)
    return OAQuotaState.objects.select_for_update().select_related("policy").get(oa_id=oa_id)


def limit_on(state: OAQuotaState, day: date) -> int | None:
    """The limit in force for the OA on `day` (a pending review change counts from its day on)."""
    pending_from = state.pending_from_day.toordinal() if state.pending_from_day else None
    return rules.effective_limit(state.current_limit, state.pending_limit, pending_from, day.toordinal())
