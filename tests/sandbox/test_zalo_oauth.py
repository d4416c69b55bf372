"""Zalo OAuth v4 over real HTTP: permission page, PKCE, code single use, refresh rotation, expiry."""

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import requests

from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET

CALLBACK = "http://127.0.0.1:9/callback"


def challenge_of(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def authorize(sb, verifier, oa_id="demo-oa-1"):
    params = {
        "app_id": DEMO_APP_ID,
        "redirect_uri": CALLBACK,
        "code_challenge": challenge_of(verifier),
        "state": "s1",
    }
    page = requests.get(f"{sb.oauth_base}/v4/oa/permission", params=params, timeout=10)
    assert page.status_code == 200
    assert 'name="oa_id"' in page.text and "<script" not in page.text and "style=" not in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "form-action 'self' http://127.0.0.1:9;" in policy
    granted = requests.post(
        f"{sb.oauth_base}/v4/oa/permission",
        data={**params, "oa_id": oa_id},
        allow_redirects=False,
        timeout=10,
    )
    assert granted.status_code == 302
    location = granted.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["oa_id"] == [oa_id] and query["state"] == ["s1"]
    return query["code"][0]


def token_request(sb, form, secret=DEMO_APP_SECRET):
    response = requests.post(
        f"{sb.oauth_base}/v4/oa/access_token",
        data={"app_id": DEMO_APP_ID, **form},
        headers={"secret_key": secret},
        timeout=10,
    )
    return response.json()


def test_it_grants_tokens_with_pkce_and_rotates_refresh_tokens(sb, zalo):
    verifier = secrets.token_urlsafe(32)
    code = authorize(sb, verifier)

    wrong = token_request(sb, {"code": code, "grant_type": "authorization_code", "code_verifier": "x" * 43})
    assert wrong["error"] == -14014
    pair = token_request(sb, {"code": code, "grant_type": "authorization_code", "code_verifier": verifier})
    assert set(pair) == {"access_token", "refresh_token", "expires_in"}
    assert pair["expires_in"] == "90000"
    again = token_request(sb, {"code": code, "grant_type": "authorization_code", "code_verifier": verifier})
    assert again["error"] == -14019  # single use

    assert zalo.get("/message/quota", token=pair["access_token"])["error"] == 0

    second = token_request(sb, {"refresh_token": pair["refresh_token"], "grant_type": "refresh_token"})
    assert second["refresh_token"] != pair["refresh_token"] and second["expires_in"] == "90000"
    replay = token_request(sb, {"refresh_token": pair["refresh_token"], "grant_type": "refresh_token"})
    assert replay["error"] == -14020  # the old refresh token died with the rotation
    third = token_request(sb, {"refresh_token": second["refresh_token"], "grant_type": "refresh_token"})
    assert "access_token" in third
    assert zalo.get("/message/quota", token=third["access_token"])["error"] == 0


def test_it_checks_the_secret_key_app_and_redirect(sb):
    assert (
        token_request(sb, {"refresh_token": "demo-oa-1-refresh-token", "grant_type": "refresh_token"}, "bad")[
            "error"
        ]
        == -14004
    )
    sb.app(DEMO_APP_ID, redirect_uri="https://shop.example/callback")
    response = requests.get(
        f"{sb.oauth_base}/v4/oa/permission",
        params={"app_id": DEMO_APP_ID, "redirect_uri": CALLBACK},
        timeout=10,
    )
    assert response.json()["error"] == -14003
    response = requests.get(f"{sb.oauth_base}/v4/oa/permission", params={"app_id": "nope"}, timeout=10)
    assert response.json()["error"] == -14002


def test_codes_expire_after_ten_minutes(sb):
    verifier = secrets.token_urlsafe(32)
    code = authorize(sb, verifier)
    sb.set_clock(advance_seconds=601)
    result = token_request(sb, {"code": code, "grant_type": "authorization_code", "code_verifier": verifier})
    assert result["error"] == -14019


def test_access_tokens_expire_after_their_lifetime_and_on_demand(sb, zalo):
    tokens = sb.mint_tokens("demo-oa-1")
    assert zalo.get("/message/quota", token=tokens["access_token"])["error"] == 0
    sb.set_clock(advance_seconds=89_999)
    assert zalo.get("/message/quota", token=tokens["access_token"])["error"] == 0
    sb.set_clock(advance_seconds=2)
    assert zalo.get("/message/quota", token=tokens["access_token"]) == {
        "error": -124,
        "message": "Access token invalid",
        "data": None,
    }
    fresh = token_request(sb, {"refresh_token": tokens["refresh_token"], "grant_type": "refresh_token"})
    assert zalo.get("/message/quota", token=fresh["access_token"])["error"] == 0
    assert sb.expire_tokens(oa_id="demo-oa-1")["expired"] >= 1
    assert zalo.get("/message/quota", token=fresh["access_token"])["error"] == -124


def test_lifetime_is_configurable(sb):
    sb.configure(access_token_lifetime=60)
    pair = token_request(sb, {"refresh_token": "demo-oa-1-refresh-token", "grant_type": "refresh_token"})
    assert pair["expires_in"] == "60"
    assert re.fullmatch(r"[\w-]+", pair["access_token"])
