"""Zalo OAuth v4 for Official Accounts: the permission page and the token endpoint (under /oauth/)."""

import base64
import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from sandbox import runtime
from sandbox.http import json_response
from sandbox.models import SandboxApp, SandboxAuthCode, SandboxOA, SandboxToken
from zalo_admin.middleware import CONTENT_SECURITY_POLICY

# Exact OAuth error codes are UNKNOWN (provider-apis.md §1.2): these are the sandbox's, documented.
OAUTH_ERRORS = {
    -14001: ("invalid_request", "Missing or invalid parameter"),
    -14002: ("invalid_app_id", "App id is invalid"),
    -14003: ("invalid_redirect_uri", "Invalid redirect uri"),
    -14004: ("invalid_secret_key", "Secret key is invalid"),
    -14005: ("unsupported_grant_type", "grant_type is not supported"),
    -14014: ("invalid_code_verifier", "Code verifier is invalid"),
    -14019: ("invalid_code", "Authorization code is invalid, used or expired"),
    -14020: ("invalid_refresh_token", "Refresh token is invalid, used or expired"),
}


def oauth_error(code: int, status=200):
    name, reason = OAUTH_ERRORS[code]
    return json_response(
        {
            "error": code,
            "error_name": name,
            "error_reason": reason,
            "error_description": reason,
            "ref_doc": "https://developers.zalo.me/docs/official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new",
        },
        status=status,
    )


def pkce_challenge(verifier: str) -> str:
    """base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def with_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


@csrf_exempt
def permission(request):
    """GET shows a tiny "grant access" page; POST grants and redirects to redirect_uri?code=&oa_id=."""
    params = request.POST if request.method == "POST" else request.GET
    app = SandboxApp.objects.filter(app_id=params.get("app_id", "")).first()
    if app is None:
        return oauth_error(-14002, status=400)
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")) or (
        app.redirect_uri and redirect_uri != app.redirect_uri
    ):
        return oauth_error(-14003, status=400)
    oas = list(SandboxOA.objects.filter(app=app).order_by("oa_id"))
    if request.method != "POST":
        context = {
            "app": app,
            "oas": oas,
            "redirect_uri": redirect_uri,
            "code_challenge": params.get("code_challenge", ""),
            "state": params.get("state", ""),
        }
        response = render(request, "sandbox/oauth_permission.html", context)
        # Browsers apply form-action to the redirect after the form is posted: allow the callback's origin.
        parts = urlsplit(redirect_uri)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}"
        )
        return response
    oa = next((oa for oa in oas if oa.oa_id == params.get("oa_id")), None)
    if oa is None:
        return oauth_error(-14001, status=400)
    now = runtime.now()
    code = secrets.token_urlsafe(32)
    with runtime.WRITE_LOCK, transaction.atomic():
        SandboxAuthCode.objects.create(
            code=code,
            app=app,
            oa=oa,
            redirect_uri=redirect_uri,
            code_challenge=params.get("code_challenge", ""),
            expires_at=now + timedelta(seconds=int(runtime.config()["code_lifetime"])),
        )
    query = {"code": code, "oa_id": oa.oa_id}
    if params.get("state"):
        query["state"] = params["state"]
    return HttpResponseRedirect(with_query(redirect_uri, query))


def issue_tokens(app: SandboxApp, oa: SandboxOA) -> dict:
    """A new access + refresh pair (the caller holds the write lock)."""
    cfg = runtime.config()
    now = runtime.now()
    lifetime = int(cfg["access_token_lifetime"])
    access = SandboxToken.objects.create(
        kind=SandboxToken.ACCESS,
        token=secrets.token_urlsafe(48),
        oa=oa,
        app=app,
        expires_at=now + timedelta(seconds=lifetime),
        created_at=now,
    )
    refresh = SandboxToken.objects.create(
        kind=SandboxToken.REFRESH,
        token=secrets.token_urlsafe(48),
        oa=oa,
        app=app,
        expires_at=now + timedelta(seconds=int(cfg["refresh_token_lifetime"])),
        created_at=now,
    )
    return {"access_token": access.token, "refresh_token": refresh.token, "expires_in": str(lifetime)}


@csrf_exempt
def access_token(request):
    if request.method != "POST":
        return oauth_error(-14001, status=405)
    form = request.POST
    app = SandboxApp.objects.filter(app_id=form.get("app_id", "")).first()
    if app is None:
        return oauth_error(-14002)
    if request.headers.get("secret_key", "") != app.secret_key:
        return oauth_error(-14004)
    grant = form.get("grant_type", "")
    now = runtime.now()
    with runtime.WRITE_LOCK, transaction.atomic():
        if grant == "authorization_code":
            code = (
                SandboxAuthCode.objects.select_related("oa")
                .filter(code=form.get("code", ""), app=app)
                .first()
            )
            if code is None or code.used_at is not None or code.expires_at <= now:
                return oauth_error(-14019)
            if code.code_challenge and pkce_challenge(form.get("code_verifier", "")) != code.code_challenge:
                return oauth_error(-14014)
            code.used_at = now
            code.save(update_fields=["used_at"])
            return json_response(issue_tokens(app, code.oa))
        if grant == "refresh_token":
            old = (
                SandboxToken.objects.select_related("oa")
                .filter(token=form.get("refresh_token", ""), kind=SandboxToken.REFRESH, app=app)
                .first()
            )
            if old is None or old.used_at is not None or old.revoked or old.expires_at <= now:
                return oauth_error(-14020)
            old.used_at = now  # single use: the old refresh token dies with this answer
            old.save(update_fields=["used_at"])
            return json_response(issue_tokens(app, old.oa))
    return oauth_error(-14005)
