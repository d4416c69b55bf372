"""The provider's reading of an OA (quota, quality), stored so that no page waits on a provider.

`refresh_provider_reading(oa_id)` asks the provider and stores the answer or the exact error in the
OA's `ProviderReading` row; the OA page only shows that row. Callers: the page's Refresh and Test
connection buttons (with the quick `interactive_client()`), and the periodic job
`oas.jobs.refresh_all_provider_readings` (with the patient shared client).
"""

import logging

from django.utils import timezone

from oas.models import OACredentials, OfficialAccount, ProviderReading
from oas.services.clients import client_for
from providers import errors
from providers.base import ProviderError, Quality, Quota
from providers.errors import ErrorInfo
from providers.http import HttpClient, shared_client

log = logging.getLogger(__name__)

BIGINT_MAX = 2**63 - 1
NO_CREDENTIALS = ErrorInfo(
    "OA_CREDENTIALS_MISSING",
    errors.PERMANENT,
    errors.OA,
    "OA chưa có thông tin xác thực với nhà cung cấp",
    "The OA has no provider credentials",
)
UNEXPECTED = ErrorInfo(
    "PROVIDER_READING_FAILED",
    errors.RETRY,
    errors.OA,
    "Không đọc được trạng thái từ nhà cung cấp (lỗi không mong đợi, đã ghi log)",
    "The provider's state could not be read (unexpected error, logged)",
)


def _text(value, limit: int) -> str:
    """Storable text: no NUL (PostgreSQL refuses it), no lone surrogate, bounded length."""
    text = str(value or "").replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")[:limit]


def _count(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= BIGINT_MAX:
        raise ProviderError(f"quota figure out of range: {str(value)[:30]}", error=errors.BAD_RESPONSE)
    return value


def refresh_provider_reading(oa_id: int, *, http: HttpClient | None = None) -> ProviderReading:
    """Ask the OA's provider for its quota and quality now and store the answer (or the error)."""
    oa = OfficialAccount.objects.get(pk=oa_id)
    values: dict = {}
    try:
        client = client_for(oa, http=http or shared_client())
        quota: Quota = client.get_quota()
        quality: Quality | None = client.get_quality()
        values = {
            "daily_quota": _count(quota.daily),
            "remaining_quota": _count(quota.remaining),
            "monthly_promotion_quota": _count(quota.monthly_promotion),
            "remaining_monthly_promotion_quota": _count(quota.remaining_monthly_promotion),
            "quality_current": _text(quality.current, 16) if quality else "",
            "quality_last_7_days": _text(quality.last_7_days, 16) if quality else "",
        }
    except ProviderError as exc:
        return _store_failure(oa, exc.error or errors.SERVER_ERROR, exc, str(exc))
    except OACredentials.DoesNotExist:
        return _store_failure(oa, NO_CREDENTIALS, None, "no OACredentials row")
    except Exception as exc:  # a provider answer in a shape nobody expected: show it, never a 500
        log.exception("reading the provider of OA #%s failed unexpectedly", oa_id)
        return _store_failure(oa, UNEXPECTED, None, type(exc).__name__)
    now = timezone.now()
    reading, _ = ProviderReading.objects.update_or_create(
        oa=oa,
        defaults={
            **values,
            "read_at": now,
            "succeeded_at": now,
            "error_code": "",
            "error_vi": "",
            "error_en": "",
            "provider_code": "",
            "provider_message": "",
            "detail": "",
        },
    )
    return reading


def _store_failure(oa, error: ErrorInfo, exc: ProviderError | None, detail: str) -> ProviderReading:
    """The failure replaces the previous error; the last successful figures stay."""
    reading, _ = ProviderReading.objects.update_or_create(
        oa=oa,
        defaults={
            "read_at": timezone.now(),
            "error_code": _text(error.code, 64),
            "error_vi": error.vi,
            "error_en": error.en,
            "provider_code": _text(exc.provider_code if exc else "", 32),
            "provider_message": _text(exc.provider_message if exc else "", 500),
            "detail": _text(detail, 500),
        },
    )
    return reading


def last_reading(oa_id: int) -> ProviderReading | None:
    return ProviderReading.objects.filter(oa_id=oa_id).first()
