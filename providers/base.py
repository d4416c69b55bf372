"""The one small interface every provider client implements, its inputs and the one result shape.

A client is built over plain values: an `Account` (the OA's ids, decrypted secrets, current access
token, kill-switch flag, report URL) and, for encrypted sends, its active `PublicKey`. It makes HTTP
calls and returns results or raises `ProviderError`; it never reads or writes the database and never
calls app services: the caller (oas.services.clients) reads the account, stores refreshed tokens,
retires refused keys and records outcomes.

A dispatcher hands `send_batch` a list of `MessageRequest`s and gets one `SendResult` per request, in
the same order, each ACCEPTED (with the provider's message id), REJECTED (permanently: never send
this payload again) or RETRYABLE (try later; `error.halts_batch` says the whole OA is blocked, so
pause instead of hammering). Calls that are not per-message (templates, quota, quality, keys) raise
`ProviderError`, whose `permanent` flag says whether retrying can ever help.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from providers import errors
from providers.errors import PERMANENT, ErrorInfo
from zalo_admin.lib import rsa

ACCEPTED, REJECTED, RETRYABLE = "accepted", "rejected", "retryable"


class ProviderError(Exception):
    """A provider call failed. `permanent=True`: retrying the same call will not help."""

    def __init__(
        self,
        msg: str,
        permanent: bool = False,
        *,
        error: ErrorInfo | None = None,
        provider_code: str = "",
        provider_message: str = "",
        retry_after: float | None = None,
    ):
        super().__init__(msg)
        self.permanent = permanent
        self.error = error
        self.provider_code = provider_code
        self.provider_message = provider_message
        self.retry_after = retry_after


@dataclass(frozen=True)
class MessageRequest:
    """One template message. `tracking_id` is our stable id: Zalo's `tracking_id`, Infobip's `messageId`."""

    tracking_id: str
    template_id: str
    template_data: dict[str, str]
    phone: str = ""  # normalised 84… form
    user_id: str = ""  # Zalo UID channel instead of a phone
    development: bool = False  # Zalo "mode": "development" (admins only)
    sending_mode: str = ""  # Zalo "1"/"3"; Infobip REGULAR/OVER_THE_LIMIT/AUTO
    encrypted: bool = False  # RSA-encrypt every template value with the OA's public key
    callback_data: str = ""  # Infobip only: echoed in delivery reports
    # Infobip only: `options.smsFailover` ({"sender", "text", "validityPeriod"}): Infobip sends this SMS
    # itself when the Zalo message fails or expires, and reports the SMS leg (campaigns.reports).
    sms_failover: dict | None = None
    # Infobip only: the other per-message `options` Infobip defines (`platform`, `validityPeriod`,
    # `deliveryTimeWindow`, `campaignReferenceId`), as `campaigns.mapping.infobip_message_options`.
    options: dict | None = None


@dataclass(frozen=True)
class SendResult:
    tracking_id: str
    status: str  # ACCEPTED | REJECTED | RETRYABLE
    provider_message_id: str = ""
    error: ErrorInfo | None = None
    provider_code: str = ""  # e.g. "-118", or the Infobip status name
    provider_message: str = ""  # the provider's own text
    attempted: bool = True  # False: not sent at all because an earlier message halted the batch
    sent_at: datetime | None = None
    quota: dict | None = None  # {"daily": int, "remaining": int} when the provider reports it
    retry_after: float | None = None  # seconds, when the provider said so
    # The provider refused the OA's RSA key for this encrypted message (Zalo -123/-128/-142): the
    # caller retires the key, so the next encrypted send fetches it again.
    key_refused: bool = False

    @property
    def error_code(self) -> str:
        return self.error.code if self.error else ""

    def text(self, language: str | None = None) -> str:
        return self.error.text(language) if self.error is not None else ""


def result_for_error(
    message: MessageRequest,
    error: ErrorInfo,
    *,
    provider_code="",
    provider_message="",
    attempted=True,
    retry_after=None,
) -> SendResult:
    """REJECTED only for permanent errors about the message or its template; OA-wide blocks stay
    RETRYABLE (the message itself is fine once a person fixes the OA)."""
    status = REJECTED if error.kind == PERMANENT and not error.halts_batch else RETRYABLE
    return SendResult(
        tracking_id=message.tracking_id,
        status=status,
        error=error,
        provider_code=str(provider_code),
        provider_message=provider_message,
        attempted=attempted,
        retry_after=retry_after,
    )


@dataclass(frozen=True)
class Quota:
    daily: int | None
    remaining: int | None
    monthly_promotion: int | None = None
    remaining_monthly_promotion: int | None = None
    estimated_next_month_promotion: int | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_fields(cls, data: dict, remaining_key: str) -> "Quota":
        """Both providers name the fields alike; only the remaining-today key differs."""
        if not isinstance(data, dict):
            raise ProviderError("the quota answer is not a JSON object", error=errors.BAD_RESPONSE)
        return cls(
            daily=to_int(data.get("dailyQuota")),
            remaining=to_int(data.get(remaining_key)),
            monthly_promotion=to_int(data.get("monthlyPromotionQuota")),
            remaining_monthly_promotion=to_int(data.get("remainingMonthlyPromotionQuota")),
            estimated_next_month_promotion=to_int(data.get("estimatedNextMonthPromotionQuota")),
            raw=data,
        )


@dataclass(frozen=True)
class Quality:
    current: str  # HIGH | MEDIUM | LOW | UNDEFINED (48 h)
    last_7_days: str


@dataclass(frozen=True)
class TemplateInfo:
    template_id: str
    name: str
    status: str  # ENABLE | PENDING_REVIEW | REJECT | DISABLE (Zalo's words)
    quality: str = ""
    tag: str = ""
    params: list = field(default_factory=list)
    buttons: list = field(default_factory=list)
    preview_url: str = ""
    reason: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Account:
    """What a provider client knows of one OA: plain values, secrets decrypted, read by the caller.

    Secrets and the report URL (which carries one) stay out of `repr()`: it ends up in logs."""

    provider: str  # "zalo" | "infobip": the key of providers.services.PROVIDER_CLIENTS
    zalo_oa_id: str
    oa_pk: int | None = None  # our id of the OA, for log lines only
    access_token: str = field(default="", repr=False)  # Zalo: the token to call with
    infobip_base_url: str = ""  # empty: settings.INFOBIP_BASE_URL
    infobip_api_key: str = field(default="", repr=False)
    infobip_sender: str = ""  # empty: the Zalo OA id
    report_url: str = field(default="", repr=False)  # Infobip: our delivery-report URL, or ""
    sends_stopped: bool = False  # the OA's kill switch, read by the caller just before sending


@dataclass(frozen=True)
class PublicKey:
    """The OA's active RSA public key for `encrypted` sends: PEM or Base64 DER, and its fingerprint."""

    public_key: str
    fingerprint: str = ""


class Provider:
    """Base class of the provider clients (like healthchecks' Transport).

    `key`: the OA's active RSA key, needed only for encrypted messages; `key_error`: why the caller
    has none (its fetch failed), reported on every encrypted message instead of a generic error."""

    name = ""

    def __init__(self, account: Account, key: PublicKey | None = None, *, key_error: Exception | None = None):
        self.account = account
        self.key = key
        self.key_error = key_error
        self._loaded_key = None

    def stopped_results(self, messages: Sequence[MessageRequest]) -> list[SendResult] | None:
        """Defence in depth for the OA kill switch: when it is on, nothing leaves, whoever calls."""
        if not self.account.sends_stopped:
            return None
        return [result_for_error(m, errors.SENDING_STOPPED, attempted=False) for m in messages]

    def encryption_key(self):
        """The loaded RSA key for encrypted messages; EncryptionError (or `key_error`) without one."""
        if self._loaded_key is None:
            if self.key is None:
                raise self.key_error or rsa.EncryptionError("the OA has no active RSA public key")
            self._loaded_key = rsa.load_public_key(self.key.public_key)
        return self._loaded_key

    def send_batch(self, messages: Sequence[MessageRequest]) -> list[SendResult]:
        raise NotImplementedError

    def list_templates(self) -> list[TemplateInfo]:
        raise NotImplementedError

    def get_template(self, template_id: str) -> TemplateInfo:
        raise NotImplementedError

    def get_sample_data(self, template_id: str) -> dict:
        """Sample values of a template's parameters; {} where the provider has no such call (Infobip)."""
        return {}

    def get_quota(self) -> Quota:
        raise NotImplementedError

    def get_quality(self) -> Quality | None:
        """None when the provider exposes no quality reading (Infobip)."""
        raise NotImplementedError

    def get_public_key(self) -> str:
        """The OA's RSA public key as the provider returns it (base64 DER)."""
        raise NotImplementedError

    def create_public_key(self) -> str:
        raise NotImplementedError


def template_values(data: dict) -> dict[str, str]:
    """Zalo types every template value as a string (S-GO `map[string]string`); None means empty."""
    return {str(k): "" if v is None else v if isinstance(v, str) else str(v) for k, v in data.items()}


def to_int(value) -> int | None:
    """Zalo sends numbers as numbers, numeric strings or null."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
