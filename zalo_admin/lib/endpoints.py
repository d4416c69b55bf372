"""Which provider base URLs we send credentials to: one rule for settings and for per-OA URLs.

https anywhere; plain http only in local mode (DEBUG on) and only to a loopback host, where the
sandbox runs. Never a user name or password in the URL (it would travel in logs and Referer-like
places), never a query or fragment (paths are appended to the base, so these would swallow them).
"""

from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

# Problem codes; callers word them (English for start-up errors, gettext in forms).
INVALID = "invalid"
USERINFO = "userinfo"
QUERY_OR_FRAGMENT = "query_or_fragment"
HTTPS_REQUIRED = "https_required"
HTTP_LOOPBACK_ONLY = "http_loopback_only"


def endpoint_problem(url: str, *, local_mode: bool) -> str | None:
    """The problem code of a provider base URL, or None when credentials may be sent to it."""
    if not url or url != url.strip() or any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        return INVALID
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return INVALID
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return INVALID
    if "@" in parts.netloc:
        return USERINFO
    if "?" in url or "#" in url:
        return QUERY_OR_FRAGMENT
    if parts.scheme == "http":
        if not local_mode:
            return HTTPS_REQUIRED
        if parts.hostname.lower() not in LOOPBACK_HOSTS:
            return HTTP_LOOPBACK_ONLY
    return None
