"""Outgoing webhooks: the signature and which addresses we post to (pure, no ORM).

Signature (as Stripe's): `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`
under the endpoint's secret. A receiver recomputes it over the raw body it got, compares in constant
time, and refuses a `t` older than a few minutes (a replay).

Addresses: http or https only, no user name or password in the URL, and (unless allowed, as in local
mode and tests) only hosts whose every address is public: never loopback, private, link-local
(cloud metadata), shared, reserved or multicast, so an endpoint cannot make the server reach its
own network (SSRF). Redirects are not followed by the sender for the same reason.
"""

import hashlib
import hmac
import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Signature"
SIGNATURE_VERSION = "v1"

# Problem codes; callers word them.
INVALID = "invalid"
SCHEME = "scheme"
USERINFO = "userinfo"
UNRESOLVABLE = "unresolvable"
PRIVATE_ADDRESS = "private_address"


def new_secret() -> str:
    """A fresh endpoint secret: 32 random bytes, url-safe base64 (43 characters)."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},{SIGNATURE_VERSION}={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: True when `header` signs `body` under `secret` and is recent."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, parts.get(SIGNATURE_VERSION, ""))


def url_problem(url: str) -> str | None:
    """The problem of an endpoint URL as written (no DNS), or None."""
    if not url or url != url.strip() or any(c.isspace() or ord(c) < 32 for c in url):
        return INVALID
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return INVALID
    if parts.scheme not in ("http", "https"):
        return SCHEME
    if not parts.hostname:
        return INVALID
    if "@" in parts.netloc:
        return USERINFO
    return None


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def address_problem(url: str, *, allow_private: bool, resolve=socket.getaddrinfo) -> str | None:
    """The problem of posting to `url` now: its form, then every address its host resolves to."""
    problem = url_problem(url)
    if problem or allow_private:
        return problem
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = resolve(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return UNRESOLVABLE
    addresses = {info[4][0] for info in infos}
    if not addresses:
        return UNRESOLVABLE
    if not all(is_public_address(address) for address in addresses):
        return PRIVATE_ADDRESS
    return None
