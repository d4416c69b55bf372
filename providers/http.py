"""HTTP for provider clients: one pooled requests.Session, explicit timeouts, and retries with
exponential backoff and jitter on retryable failures only (connection errors, timeouts, 5xx, 429),
honouring Retry-After.

Sends that Zalo might already have acted on are not repeated blindly: with `safe_to_repeat=False`
only failures that prove the request was not processed (connection refused or timed out while
connecting, 429, 503) are retried here; a read timeout or another 5xx becomes a RETRYABLE outcome
with an "outcome unknown" code and the dispatcher decides.
"""

import http.client
import logging
import random
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
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


class EnvironmentOnceSession(requests.Session):
    """A requests.Session that reads what it takes from the environment (proxies and no_proxy, the
    CA bundle variables, ~/.netrc credentials) once per origin instead of on every request: requests
    walks os.environ several times and stats ~/.netrc for each call, a large share of a send's CPU
    at hundreds of sends per second. The process's environment is taken as fixed once read."""

    def __init__(self):
        super().__init__()
        self._settings_by_origin: dict = {}
        self._netrc_by_origin: dict = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        origin = _origin(url)
        if not self.trust_env or proxies or origin is None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = (origin, stream, verify, cert)
        merged = self._settings_by_origin.get(key)
        if merged is None:
            merged = self._settings_by_origin[key] = super().merge_environment_settings(
                url, {}, stream, verify, cert
            )
        return {**merged, "proxies": dict(merged["proxies"])}

    def prepare_request(self, request):
        key = _origin(request.url)
        if self.trust_env and not request.auth and not self.auth and key is not None:
            if key not in self._netrc_by_origin:
                self._netrc_by_origin[key] = requests.utils.get_netrc_auth(request.url)
            # Netrc credentials of the origin, or a no-op so requests does not look again.
            request.auth = self._netrc_by_origin[key] or _no_auth
        return super().prepare_request(request)


def _no_auth(prepared):
    return prepared


def _origin(url) -> str | None:
    """scheme://host[:port] of a URL; None for one that does not parse (requests reports it)."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.netloc}"


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
        self.session = EnvironmentOnceSession()
        # Our own retry loop decides; urllib3's would retry POSTs without knowing what is safe.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self):
        self.session.close()

    def request(self, method: str, url: str, *, safe_to_repeat: bool = True, **kwargs) -> requests.Response:
        """The response of the first non-retryable outcome; ProviderError when retries run out.

        Returns 4xx responses (other than 429) as they are: what they mean is the caller's business.
        Every transport failure (refused, reset, truncated or undecodable body, bad URL or scheme,
        TLS…) becomes a ProviderError with one of the transport codes of `providers.errors`.
        """
        kwargs.setdefault("timeout", (self.connect_timeout, self.read_timeout))
        where = f"{method} {_path_of(url)}"  # never headers, query or bodies: they carry secrets
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            last = attempt == policy.attempts
            retry_after = None
            try:
                response = self.session.request(method, url, **kwargs)
            except TRANSPORT_EXCEPTIONS as exc:
                failure, retryable = transport_failure(exc, where, url, safe_to_repeat=safe_to_repeat)
                if not retryable:
                    raise failure from None
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


# What `Session.request` may raise for a failed exchange. requests wraps most urllib3 and http.client
# errors, but not all of them (a host label urllib3 cannot parse, a header that is not Latin-1, …),
# so the underlying families are listed too. Programming errors (TypeError, KeyError…) still surface.
TRANSPORT_EXCEPTIONS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    ValueError,
)
URL_EXCEPTIONS = (
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.URLRequired,
    urllib3.exceptions.LocationValueError,
)
UNSENDABLE_EXCEPTIONS = (
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidJSONError,
    UnicodeError,
)
# The exchange happened (or at least started) but the answer is broken: truncated, badly chunked,
# undecodable, not HTTP at all.
BROKEN_RESPONSE_EXCEPTIONS = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
)


def transport_failure(
    exc: BaseException, where: str, url: str, *, safe_to_repeat: bool
) -> tuple[ProviderError, bool]:
    """The ProviderError for a failed exchange and whether trying again may help.

    With `safe_to_repeat=False`, anything that may have reached the provider is SEND_OUTCOME_UNKNOWN
    and never retried here; only failures before the first byte left (bad URL, unsendable request,
    connect timeout, refused connection, untrusted certificate) are reported as such.
    """
    cause = _cause_text(exc)
    if isinstance(exc, requests.ConnectTimeout):
        return ProviderError(f"{where}: connect timed out", error=errors.NETWORK_ERROR), True
    if isinstance(exc, URL_EXCEPTIONS):
        return (
            ProviderError(f"{where}: {_url_problem(exc, url)}", permanent=True, error=errors.URL_INVALID),
            False,
        )
    if isinstance(exc, UNSENDABLE_EXCEPTIONS):
        # Never the exception's text: it quotes the header value (a token, an API key).
        return (
            ProviderError(
                f"{where}: request could not be built ({type(exc).__name__})",
                permanent=True,
                error=errors.REQUEST_UNSENDABLE,
            ),
            False,
        )
    if isinstance(exc, requests.exceptions.SSLError | ssl.SSLError):
        if any(isinstance(c, ssl.SSLCertVerificationError) for c in _causes(exc)):
            message = f"{where}: TLS certificate not trusted ({cause})"
            return ProviderError(message, permanent=True, error=errors.TLS_CERTIFICATE_INVALID), False
        if not safe_to_repeat:
            return ProviderError(f"{where}: TLS failed ({cause})", error=errors.AMBIGUOUS_SEND), False
        return ProviderError(f"{where}: TLS failed ({cause})", error=errors.TLS_ERROR), True
    if isinstance(exc, BROKEN_RESPONSE_EXCEPTIONS):
        message = f"{where}: the answer broke off or could not be decoded ({cause})"
        if not safe_to_repeat:
            return ProviderError(message, error=errors.AMBIGUOUS_SEND), False
        return ProviderError(message, error=errors.BAD_RESPONSE), True
    if isinstance(exc, requests.Timeout):
        if not safe_to_repeat:
            return ProviderError(f"{where}: read timed out", error=errors.AMBIGUOUS_SEND), False
        return ProviderError(f"{where}: read timed out", error=errors.NETWORK_ERROR), True
    if isinstance(exc, requests.TooManyRedirects):
        error = errors.AMBIGUOUS_SEND if not safe_to_repeat else errors.BAD_RESPONSE
        return ProviderError(f"{where}: too many redirects", error=error), False
    if isinstance(exc, requests.ConnectionError | OSError):
        if not safe_to_repeat and not _never_sent(exc):
            message = f"{where}: connection broke after sending ({cause})"
            return ProviderError(message, error=errors.AMBIGUOUS_SEND), False
        return ProviderError(f"{where}: {type(exc).__name__} ({cause})", error=errors.NETWORK_ERROR), True
    if isinstance(exc, requests.RequestException):
        error = errors.AMBIGUOUS_SEND if not safe_to_repeat else errors.BAD_RESPONSE
        return ProviderError(f"{where}: {type(exc).__name__} ({cause})", error=error), safe_to_repeat
    # Any other ValueError comes from building the request (URL parsing, encoding): nothing was sent.
    return (
        ProviderError(
            f"{where}: request could not be built ({type(exc).__name__})",
            permanent=True,
            error=errors.REQUEST_UNSENDABLE,
        ),
        False,
    )


def _path_of(url) -> str:
    try:
        return urlsplit(str(url)).path or "/"
    except ValueError:
        return "(malformed URL)"


def _url_problem(exc: BaseException, url) -> str:
    try:
        scheme = urlsplit(str(url)).scheme
    except ValueError:
        scheme = ""
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return f"unsupported URL scheme {scheme!r} (use https:// or http://)"
    if isinstance(exc, requests.exceptions.MissingSchema | requests.exceptions.URLRequired):
        return "the URL has no scheme (use https:// or http://)"
    return "malformed URL"


def _wrapped(exc: BaseException) -> list[BaseException]:
    """What an exception says it wraps: urllib3's `reason`, exceptions among its args, its cause.
    Not `__context__`: that may be an unrelated error a library handled on the way."""
    candidates = [getattr(exc, "reason", None), *exc.args, exc.__cause__]
    return [c for c in candidates if isinstance(c, BaseException)]


def _causes(exc: BaseException):
    """The exception and everything it wraps, outermost first."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack += _wrapped(current)


def _root_cause(exc: BaseException) -> BaseException:
    seen = {id(exc)}
    while True:
        inner = next((c for c in _wrapped(exc) if id(c) not in seen), None)
        if inner is None:
            return exc
        seen.add(id(inner))
        exc = inner


def _cause_text(exc: BaseException) -> str:
    """A short description of the innermost cause that never quotes URLs, headers or bodies."""
    root = _root_cause(exc)
    if isinstance(root, ssl.SSLError):
        return str(getattr(root, "verify_message", "") or root.reason or type(root).__name__)
    if isinstance(root, http.client.IncompleteRead):
        read = root.partial if isinstance(root.partial, int) else len(root.partial)
        more = f", {root.expected} more expected" if root.expected is not None else ""
        return f"IncompleteRead: {read} bytes read{more}"
    if isinstance(root, OSError) and root.strerror:
        return f"{type(root).__name__}: {root.strerror}"
    return type(root).__name__


def _never_sent(exc: BaseException) -> bool:
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
