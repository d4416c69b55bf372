"""RQ entry points of the oas app: thin, take ids, idempotent."""

from oas.models import OfficialAccount
from oas.services import readings, template_sync, tokens
from zalo_admin.jobs import enqueue


def sync_oa_templates(oa_id: int) -> bool:
    """Sync one OA's templates from its provider; True when the provider answered."""
    if not OfficialAccount.objects.filter(pk=oa_id, is_active=True).exists():
        return False
    return template_sync.sync_templates(oa_id).ok


def sync_all_templates() -> int:
    """Periodic: one sync job per active OA; returns how many were queued."""
    ids = list(OfficialAccount.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    for oa_id in ids:
        enqueue(sync_oa_templates, oa_id)
    return len(ids)


def refresh_provider_reading(oa_id: int) -> bool:
    """Read one OA's quota and quality from its provider and store them; True when it answered."""
    if not OfficialAccount.objects.filter(pk=oa_id, is_active=True).exists():
        return False
    return readings.refresh_provider_reading(oa_id).ok


def refresh_all_provider_readings() -> int:
    """Periodic: one reading job per active OA; returns how many were queued."""
    ids = list(OfficialAccount.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    for oa_id in ids:
        enqueue(refresh_provider_reading, oa_id)
    return len(ids)


def refresh_expiring_tokens() -> dict:
    """Periodic: refresh Zalo tokens before they expire."""
    return tokens.refresh_expiring_tokens()
