"""Zalo OAuth v4 for Official Accounts: authorisation URL with PKCE, code exchange, refresh (§1.2)."""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings

from providers import errors
from providers.base import ProviderError, to_int
from providers.http import HttpClient, shared_client

DEFAULT_EXPIRES_IN = 90000  # 25 h, what Zalo documents
TRANSIENT_OAUTH_ERRORS = {-32, -100, -211}


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds

    def __repr__(self):
        return f"TokenPair(expires_in={self.expires_in})"


def new_pkce_pair() -> tuple[str, str]:
    """(code_verifier, code_challenge): 43-char verifier, challenge = base64url(SHA-256) without padding."""
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class ZaloOAuth:
    def __init__(self, http: HttpClient | None = None, base: str | None = None):
        self.http = http or shared_client()
        self.base = (base or settings.ZALO_OAUTH_BASE).rstrip("/")

    def authorization_url(self, app_id: str, redirect_uri: str, code_challenge: str, state: str = "") -> str:
        query = {"app_id": app_id, "redirect_uri": redirect_uri, "code_challenge": code_challenge}
        if state:
            query["state"] = state
        return f"{self.base}/v4/oa/permission?{urlencode(query)}"

    def exchange_code(self, app_id: str, app_secret: str, code: str, code_verifier: str) -> TokenPair:
        form = {
            "code": code,
            "app_id": app_id,
            "grant_type": "authorization_code",
            "code_verifier": code_verifier,
        }
        return self._token_call(app_secret, form)

    def refresh(self, app_id: str, app_secret: str, refresh_token: str) -> TokenPair:
        form = {"refresh_token": refresh_token, "app_id": app_id, "grant_type": "refresh_token"}
        return self._token_call(app_secret, form)

    def _token_call(self, app_secret: str, form: dict) -> TokenPair:
        # Not safe to repeat: Zalo may have rotated the refresh token even if we never saw the answer.
        response = self.http.request(
            "POST",
            f"{self.base}/v4/oa/access_token",
            data=form,
            headers={"secret_key": app_secret},
            safe_to_repeat=False,
        )
        try:
            body = response.json()
        except (ValueError, RecursionError):  # not JSON, a number too long, nested too deep
            body = None
        if isinstance(body, dict) and body.get("access_token") and body.get("refresh_token"):
            return TokenPair(
                access_token=str(body["access_token"]),
                refresh_token=str(body["refresh_token"]),
                expires_in=to_int(body.get("expires_in")) or DEFAULT_EXPIRES_IN,
            )
        if not isinstance(body, dict):
            raise ProviderError(
                f"OAuth token endpoint answered HTTP {response.status_code} without JSON",
                permanent=response.status_code in (400, 401, 403),
                error=errors.BAD_RESPONSE,
                provider_code=str(response.status_code),
            )
        code = to_int(body.get("error"))
        text = str(
            body.get("error_reason")
            or body.get("error_description")
            or body.get("message")
            or body.get("error_name")
            or ""
        )
        transient = code in TRANSIENT_OAUTH_ERRORS
        raise ProviderError(
            f"OAuth token call refused: {code} {body.get('error_name', '')}".strip(),
            permanent=not transient,
            error=errors.NEEDS_REAUTHORISATION if not transient else errors.SERVER_ERROR,
            provider_code=str(code if code is not None else response.status_code),
            provider_message=text[:300],
        )
