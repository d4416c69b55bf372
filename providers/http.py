"""HTTP for provider clients: one pooled requests.Session, explicit timeouts, and retries with
exponential backoff and jitter on retryable failures only (connection errors, timeouts, 5xx, 429),
honouring Retry-After.

Sends that Zalo might already have acted on are not repeated blindly: with `safe_to_repeat=False`
only failures that prove the request was not processed (connection refused or timed out while
connecting, 429, 503) are retried here; a read timeout or another 5xx becomes a RETRYABLE outcome
with an "outcome unknown" code and the dispatcher decides.
"""

import logging
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from providers import errors
from providers.base import ProviderError

log = logging.getLogger(__name__)

NOT_PROCESSED_STATUSES = {429, 503}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # total tries, the first included
    base_delay: float = 0.5  # seconds before the first retry, doubled each time
    max_delay: float = 20.0
    max_retry_after: float = 60.0  # a longer Retry-After is handed back to the caller, not slept

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        return cls(**settings.PROVIDER_RETRY)


def backoff_delay(policy: RetryPolicy, retry_number: int, rng=random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped."""
    ceiling = min(policy.max_delay, policy.base_delay * (2 ** (retry_number - 1)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class HttpClient:
    def __init__(
        self,
        *,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        policy: RetryPolicy | None = None,
        pool_maxsize: int = 10,
        sleep=time.sleep,
    ):
        self.connect_timeout = connect_timeout or settings.PROVIDER_CONNECT_TIMEOUT
        self.read_timeout = read_timeout or settings.PROVIDER_READ_TIMEOUT
        self.policy = policy or RetryPolicy.from_settings()
        self.sleep = sleep
        self.session = requests.Session()
        # Our own retry loop decides; urllib3's would retry POSTs without knowing what is safe.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self):
        self.session.close()

    def request(self, method: str, url: str, *, safe_to_repeat: bool = True, **kwargs) -> requests.Response:
        """The response of the first non-retryable outcome; ProviderError when retries run out.

        Returns 4xx responses (other than 429) as they are: what they mean is the caller's business.
        """
        kwargs.setdefault("timeout", (self.connect_timeout, self.read_timeout))
        where = f"{method} {urlsplit(url).path}"  # never headers, query or bodies: they carry secrets
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            last = attempt == policy.attempts
            retry_after = None
            try:
                response = self.session.request(method, url, **kwargs)
            except (requests.ConnectTimeout, requests.ConnectionError) as exc:
                if (
                    not isinstance(exc, requests.ConnectTimeout)
                    and not _never_sent(exc)
                    and not safe_to_repeat
                ):
                    raise ProviderError(
                        f"{where}: connection broke after sending", error=errors.AMBIGUOUS_SEND
                    ) from None
                failure = ProviderError(f"{where}: {type(exc).__name__}", error=errors.NETWORK_ERROR)
            except requests.Timeout:
                if not safe_to_repeat:
                    raise ProviderError(f"{where}: read timed out", error=errors.AMBIGUOUS_SEND) from None
                failure = ProviderError(f"{where}: read timed out", error=errors.NETWORK_ERROR)
            else:
                status = response.status_code
                if status != 429 and status < 500:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                error = errors.RATE_LIMITED_HTTP if status == 429 else errors.SERVER_ERROR
                failure = ProviderError(
                    f"{where}: HTTP {status}",
                    error=error,
                    provider_code=str(status),
                    retry_after=retry_after,
                )
                response.close()
                if not safe_to_repeat and status not in NOT_PROCESSED_STATUSES:
                    failure.error = errors.AMBIGUOUS_SEND
                    raise failure
            if last:
                raise failure
            delay = backoff_delay(policy, attempt)
            if retry_after is not None:
                if retry_after > policy.max_retry_after:
                    raise failure  # the caller reschedules with failure.retry_after
                delay = max(delay, retry_after)
            log.warning(
                "%s failed (%s); retry %d/%d in %.2fs", where, failure, attempt, policy.attempts - 1, delay
            )
            self.sleep(delay)
        raise AssertionError("unreachable")


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request left (refused, DNS, …)."""
    text = repr(exc)
    return any(marker in text for marker in ("NewConnectionError", "ConnectTimeout", "NameResolutionError"))


_shared: HttpClient | None = None


def shared_client() -> HttpClient:
    """One pooled session per process (requests.Session is fine to share between threads for this use)."""
    global _shared
    if _shared is None:
        _shared = HttpClient()
    return _shared


_interactive: HttpClient | None = None


def interactive_client() -> HttpClient:
    """For calls a person waits on (a page, a button): one quick retry, short timeouts, no long
    Retry-After sleeps. Jobs use `shared_client()` and its patient retry policy."""
    global _interactive
    if _interactive is None:
        _interactive = HttpClient(
            read_timeout=8.0,
            policy=RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0, max_retry_after=2.0),
        )
    return _interactive
