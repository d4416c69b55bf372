"""Property-based tests of the sandbox's HTTP API (issue 15, "Bad input everywhere"): every Zalo,
OAuth and Infobip endpoint it imitates, over real HTTP, with bodies of any shape (any bytes, JSON of
any kind, the documented body with fields replaced, dropped or added), any headers (the right
credentials, wrong ones, none, odd content types) and any query parameters. Never a 5xx; every
refusal has the provider's shape and a message: Zalo `{"error": <non-zero>, "message": "…"}`, OAuth
`{"error", "error_name", "error_description"}`, Infobip `{"errorCode", "description"}`."""

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET, DEMO_INFOBIP_KEY, DEMO_TOKENS

# No database of ours is used; the mark makes pytest-django set the test database up when this file
# runs alone (the suite-wide quota_policies fixture needs it).
pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["", "84912345678", "0912345678", "100001", "200001", "demo-oa-2", "\x00", "🙂" * 50])
)
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=15,
)

ZALO_SEND = {
    "phone": "84912345678",
    "template_id": "100001",
    "template_data": {"customer_name": "Nguyễn Văn A", "order_code": "DH1", "amount": "150000"},
    "tracking_id": "t-1",
}
INFOBIP_SEND = {
    "messages": [
        {
            "sender": "demo-oa-2",
            "destinations": [{"to": "84912345678", "messageId": "m-1"}],
            "content": {"templateName": 200001, "templateData": {"otp": "123456"}, "type": "TEMPLATE"},
            "options": {"validityPeriod": {"amount": 2, "timeUnit": "HOURS"}},
            "webhooks": {"callbackData": "c"},
        }
    ],
    "options": {"schedule": {"sendAt": "2030-01-01T00:00:00Z"}},
}
SMS_SEND = {
    "messages": [
        {
            "sender": "InfoSMS",
            "destinations": [{"to": "84912345678", "messageId": "s-1"}],
            "content": {"text": "Xin chào"},
        }
    ]
}
# (method, path under the sandbox, kind, a documented body or None)
ENDPOINTS = [
    ("POST", "/zalo/message/template", "zalo", ZALO_SEND),
    ("POST", "/zalo/message/template/dev", "zalo", ZALO_SEND),
    ("POST", "/zalo/message/template/hashphone", "zalo", {**ZALO_SEND, "hash_phone": "ab" * 32}),
    ("POST", "/zalo/rsa/message/template", "zalo", {**ZALO_SEND, "rsa_phone": "AAAA"}),
    ("POST", "/zalo/v3.0/oa/message/template", "zalo", {**ZALO_SEND, "user_id": "123"}),
    ("POST", "/zalo/rsa/key/gen", "zalo", {}),
    ("GET", "/zalo/rsa/key/get", "zalo", None),
    ("GET", "/zalo/message/status", "zalo", None),
    ("GET", "/zalo/message/quota", "zalo", None),
    ("GET", "/zalo/message/template-tag", "zalo", None),
    ("GET", "/zalo/quality", "zalo", None),
    ("GET", "/zalo/template/all", "zalo", None),
    ("GET", "/zalo/template/info/v2", "zalo", None),
    ("GET", "/zalo/template/info", "zalo", None),
    ("GET", "/zalo/template/sample-data", "zalo", None),
    ("POST", "/zalo/rating/get", "zalo", {}),
    ("POST", "/oauth/v4/oa/access_token", "oauth", None),
    ("POST", "/infobip/zalo/2/messages", "infobip", INFOBIP_SEND),
    ("GET", "/infobip/zalo/1/logs", "infobip", None),
    ("GET", "/infobip/zalo/1/reports", "infobip", None),
    ("GET", "/infobip/zalo/1/sender/demo-oa-2/templates", "infobip", None),
    ("GET", "/infobip/zalo/1/sender/demo-oa-2/templates/200001", "infobip", None),
    ("GET", "/infobip/zalo/1/sender/demo-oa-2/quota", "infobip", None),
    ("GET", "/infobip/zalo/1/sender/demo-oa-2/public-key", "infobip", None),
    ("POST", "/infobip/zalo/1/sender/demo-oa-2/public-key", "infobip", {}),
    ("POST", "/infobip/sms/3/messages", "infobip", SMS_SEND),
    ("GET", "/infobip/sms/3/reports", "infobip", None),
    ("GET", "/infobip/sms/3/logs", "infobip", None),
]
QUERY_KEYS = ["message_id", "template_id", "offset", "limit", "status", "from", "to", "messageId", "bulkId",
              "generalStatus", "sentSince", "sentUntil", "page", "size", "sender", "destination"]  # fmt: skip
QUERY = st.dictionaries(
    st.sampled_from(QUERY_KEYS) | st.text(max_size=8),
    st.text(max_size=30)
    | st.sampled_from(["0", "-1", "1001", "99999999999999999999", "2026-13-45", "1,2,3"]),
    max_size=4,
)


@st.composite
def mutated(draw, body):
    """The documented body with keys (at any depth) replaced by any JSON, removed, or added."""
    if isinstance(body, dict):
        out = {}
        for key, value in body.items():
            choice = draw(st.integers(0, 9))
            if choice == 0:
                continue
            out[key] = draw(JSON) if choice == 1 else draw(mutated(value))
        if draw(st.integers(0, 6)) == 0:
            out[draw(st.text(max_size=10))] = draw(JSON)
        return out
    if isinstance(body, list):
        items = [draw(mutated(item)) for item in body]
        return items * draw(st.integers(0, 3)) if draw(st.integers(0, 5)) == 0 else items
    return draw(JSON) if draw(st.integers(0, 3)) == 0 else body


def _credentials(kind: str, draw) -> dict:
    good = {
        "zalo": {"access_token": draw(st.sampled_from(list(DEMO_TOKENS.values())))},
        "oauth": {"secret_key": DEMO_APP_SECRET},
        "infobip": {"Authorization": f"App {DEMO_INFOBIP_KEY}"},
    }[kind]
    header = next(iter(good))
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return {}
    if choice == 1:
        return {header: draw(st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40))}
    return good


def _oauth_form(draw) -> dict:
    form = {
        "grant_type": draw(st.sampled_from(["authorization_code", "refresh_token", "password", ""])),
        "app_id": draw(st.sampled_from([DEMO_APP_ID, "nope", ""])),
        "code": draw(st.text(max_size=20)),
        "code_verifier": draw(st.text(max_size=60)),
        "refresh_token": draw(st.sampled_from(["demo-oa-1-refresh-token", "x", ""])),
    }
    return {key: value for key, value in form.items() if draw(st.integers(0, 4))}


def _check(kind: str, response: requests.Response, where: str) -> None:
    assert response.status_code < 500, (where, response.status_code, response.text[:300])
    try:
        document = response.json()
    except ValueError:
        raise AssertionError((where, response.status_code, response.text[:300])) from None
    if kind == "zalo":
        assert isinstance(document, dict) and isinstance(document.get("error"), int), (where, document)
        if document["error"] != 0:
            assert isinstance(document.get("message"), str) and document["message"].strip(), (where, document)
    elif kind == "oauth":
        assert isinstance(document, dict), (where, document)
        if "access_token" not in document:
            assert isinstance(document.get("error"), int) and document["error"] != 0, (where, document)
            assert str(document.get("error_name", "")).strip(), (where, document)
            assert str(document.get("error_description", "")).strip(), (where, document)
    elif response.status_code >= 400:  # infobip
        assert isinstance(document, dict), (where, document)
        assert str(document.get("errorCode", "")).strip(), (where, document)
        assert str(document.get("description", "")).strip(), (where, document)


def test_every_endpoint_answers_any_request_without_a_5xx_and_refuses_in_the_providers_shape(sb):
    session = requests.Session()
    seen = {"refusals": 0, "accepted": 0}

    @FUZZ
    @given(endpoint=st.sampled_from(ENDPOINTS), query=QUERY, draw=st.data())
    def call(endpoint, query, draw):
        method, path, kind, documented = endpoint
        headers = _credentials(kind, draw.draw)
        data = None
        if method == "POST":
            if kind == "oauth":
                form = _oauth_form(draw.draw)
                data = form if draw.draw(st.integers(0, 5)) else draw.draw(st.binary(max_size=80))
            else:
                shape = draw.draw(st.integers(0, 9))
                if shape == 0:
                    data = draw.draw(st.binary(max_size=200))
                elif shape == 1:
                    data = json.dumps(draw.draw(JSON)).encode()
                else:
                    data = json.dumps(draw.draw(mutated(documented))).encode()
                headers["Content-Type"] = draw.draw(
                    st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""])
                )
        response = session.request(
            method, sb.base_url + path, params=query, data=data, headers=headers, timeout=30
        )
        _check(kind, response, f"{method} {path}")
        refused = response.status_code >= 400 or (
            kind == "zalo" and response.json().get("error") not in (0, None)
        )
        seen["refusals" if refused else "accepted"] += 1

    call()
    assert seen["refusals"] >= 10 and seen["accepted"] >= 10, seen


def test_the_permission_page_answers_any_parameters_without_a_5xx(sb):
    @settings(FUZZ, max_examples=40)
    @given(
        query=st.dictionaries(
            st.sampled_from(["app_id", "redirect_uri", "code_challenge", "state", "x"]),
            st.sampled_from([DEMO_APP_ID, "http://127.0.0.1:9/cb", "javascript:alert(1)", ""])
            | st.text(max_size=40),
            max_size=5,
        ),
        method=st.sampled_from(["GET", "POST"]),
    )
    def call(query, method):
        response = requests.request(
            method,
            sb.base_url + "/oauth/v4/oa/permission",
            params=query,
            data=query,
            timeout=30,
            allow_redirects=False,
        )
        assert response.status_code < 500, (query, response.status_code, response.text[:300])

    call()
