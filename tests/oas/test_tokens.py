"""OAuth token lifecycle (oas.services.tokens): proactive refresh, single-flight rotation under the row
lock, re-authorisation; the HTTP is providers.oauth."""

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from oas.models import OACredentials
from oas.services import tokens
from providers import errors
from providers.base import ProviderError
from providers.http import HttpClient, RetryPolicy
from providers.models import ProviderAlert
from providers.oauth import ZaloOAuth, new_pkce_pair
from tests.providers.conftest import make_oa
from tests.providers.stub import Reply, token_pair

TOKEN = "/oauth/v4/oa/access_token"


class RotatingTokenEndpoint:
    """Zalo's refresh semantics: each refresh token works once and is replaced by a new one."""

    def __init__(self, valid: str, delay: float = 0.0):
        self.valid = {valid}
        self.spent: list[str] = []
        self.delay = delay
        self.issued = 0
        self.lock = threading.Lock()

    def __call__(self, request):
        form = request.form
        time.sleep(self.delay)  # widen the window in which a second worker could sneak in
        with self.lock:
            token = form.get("refresh_token")
            self.spent.append(token)
            if token not in self.valid:
                return Reply(
                    {"error": -14014, "error_name": "invalid_grant", "error_reason": "Invalid token"}
                )
            self.valid.discard(token)
            self.issued += 1
            new = f"refresh-{self.issued + 1}"
            self.valid.add(new)
            return token_pair(f"access-{self.issued + 1}", new)


@pytest.fixture
def oauth(stub, http):
    return ZaloOAuth(http, base=f"{stub.url}/oauth")


def expire(oa, delta=timedelta(minutes=-1)):
    OACredentials.objects.filter(oa=oa).update(access_expires_at=timezone.now() + delta)


def test_a_fresh_token_is_used_without_calling_zalo(oa, oauth, stub):
    assert tokens.get_access_token(oa.pk, oauth=oauth) == "access-1"
    assert stub.requests == []


def test_a_token_inside_the_refresh_margin_is_refreshed_proactively(oa, oauth, stub, settings):
    settings.ZALO_TOKEN_REFRESH_MARGIN_SECONDS = 5 * 3600
    expire(oa, timedelta(hours=4))
    stub.on("POST", TOKEN, RotatingTokenEndpoint("refresh-1"))
    assert tokens.get_access_token(oa.pk, oauth=oauth) == "access-2"
    creds = OACredentials.objects.get(oa=oa)
    assert creds.refresh_token == "refresh-2"
    assert creds.access_expires_at > timezone.now() + timedelta(hours=24, minutes=59)
    assert creds.refreshed_at is not None


def test_a_rejected_token_is_never_handed_out_again(oa, oauth, stub):
    stub.on("POST", TOKEN, RotatingTokenEndpoint("refresh-1"))
    assert tokens.get_access_token(oa.pk, oauth=oauth, rejected_token="access-1") == "access-2"


def test_a_refused_refresh_marks_the_oa_for_reauthorisation_and_raises_an_alert(oa, oauth, stub, caplog):
    stub.on("POST", TOKEN, Reply({"error": -14014, "error_name": "invalid_grant", "error_reason": "expired"}))
    expire(oa)
    with caplog.at_level(logging.INFO), pytest.raises(ProviderError) as caught:
        tokens.get_access_token(oa.pk, oauth=oauth)
    assert caught.value.permanent is True
    assert caught.value.error.code == "OA_NEEDS_REAUTHORISATION"
    creds = OACredentials.objects.get(oa=oa)
    assert creds.needs_reauthorisation is True
    assert "-14014" in creds.reauthorisation_reason
    alert = ProviderAlert.objects.get(oa=oa)
    assert alert.kind == ProviderAlert.Kind.REAUTHORISATION and alert.resolved_at is None
    assert "needs re-authorisation" in caplog.text
    for secret in ("refresh-1", "app-secret-1", "access-1"):
        assert secret not in caplog.text
    # Later callers fail fast instead of spending a dead refresh token again.
    with pytest.raises(ProviderError):
        tokens.get_access_token(oa.pk, oauth=oauth)
    assert len(stub.calls("POST", TOKEN)) == 1


def test_a_network_failure_while_refreshing_does_not_demand_reauthorisation(oa, stub, sleeps):
    http = HttpClient(connect_timeout=1, read_timeout=1, policy=RetryPolicy(attempts=2), sleep=sleeps.append)
    stub.on("POST", TOKEN, Reply({}, status=503))
    expire(oa)
    with pytest.raises(ProviderError) as caught:
        tokens.get_access_token(oa.pk, oauth=ZaloOAuth(http, base=f"{stub.url}/oauth"))
    assert caught.value.permanent is False
    assert OACredentials.objects.get(oa=oa).needs_reauthorisation is False
    assert not ProviderAlert.objects.exists()


def test_authorisation_exchanges_the_code_with_the_pkce_verifier_and_resolves_alerts(oa, oauth, stub):
    OACredentials.objects.filter(oa=oa).update(needs_reauthorisation=True, access_token="", refresh_token="")
    ProviderAlert.objects.create(oa=oa, kind=ProviderAlert.Kind.REAUTHORISATION, message="x")
    stub.on("POST", TOKEN, Reply({"access_token": "new-a", "refresh_token": "new-r", "expires_in": "90000"}))
    verifier, challenge = new_pkce_pair()
    tokens.complete_authorisation(oa.pk, "the-code", verifier, oauth=oauth)
    [call] = stub.calls("POST", TOKEN)
    assert call.form == {
        "code": "the-code",
        "app_id": "app-1",
        "grant_type": "authorization_code",
        "code_verifier": verifier,
    }
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    creds = OACredentials.objects.get(oa=oa)
    assert (creds.access_token, creds.refresh_token, creds.needs_reauthorisation) == ("new-a", "new-r", False)
    assert ProviderAlert.objects.get(oa=oa).resolved_at is not None


def test_the_pkce_challenge_is_the_unpadded_base64url_sha256_of_a_43_char_verifier():
    import base64
    import hashlib

    verifier, challenge = new_pkce_pair()
    assert len(verifier) == 43
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    url = ZaloOAuth(base="http://x/oauth").authorization_url("app-1", "https://cb.example/z", challenge, "s1")
    assert url.startswith(
        "http://x/oauth/v4/oa/permission?app_id=app-1&redirect_uri=https%3A%2F%2Fcb.example%2Fz"
    )
    assert f"code_challenge={challenge}" in url


def test_refresh_expiring_tokens_refreshes_only_oas_inside_the_margin(db, stub, http, settings, monkeypatch):
    settings.ZALO_OAUTH_BASE = f"{stub.url}/oauth"
    monkeypatch.setattr("providers.oauth.shared_client", lambda: http)
    due = make_oa("111", access_expires_at=timezone.now() + timedelta(hours=1))
    later = timezone.now() + timedelta(hours=24)
    make_oa("222", app_id="app-2", refresh_token="other", access_expires_at=later)
    stub.on("POST", TOKEN, RotatingTokenEndpoint("refresh-1"))
    assert tokens.refresh_expiring_tokens() == {"refreshed": 1, "failed": 0}
    assert OACredentials.objects.get(oa=due).refresh_token == "refresh-2"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scenario", ["expired", "rejected"])
def test_concurrent_workers_spend_one_refresh_token_exactly_once(stub, scenario):
    oa = make_oa("999")
    if scenario == "expired":
        expire(oa)
    endpoint = RotatingTokenEndpoint("refresh-1", delay=0.3)
    stub.on("POST", TOKEN, endpoint)
    workers = 6
    barrier = threading.Barrier(workers)
    got: list[str] = []
    failures: list[BaseException] = []

    def worker():
        http = HttpClient(connect_timeout=2, read_timeout=5)  # each worker: own session, own DB connection
        try:
            barrier.wait()
            rejected = "access-1" if scenario == "rejected" else None
            got.append(
                tokens.get_access_token(
                    oa.pk, oauth=ZaloOAuth(http, base=f"{stub.url}/oauth"), rejected_token=rejected
                )
            )
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            failures.append(exc)
        finally:
            http.close()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert endpoint.spent == ["refresh-1"]  # one refresh, never a dead token
    assert got == ["access-2"] * workers
    creds = OACredentials.objects.get(oa=oa)
    assert (creds.access_token, creds.refresh_token) == ("access-2", "refresh-2")
    assert creds.needs_reauthorisation is False


def test_a_bad_oauth_url_fails_the_refresh_without_marking_the_oa_for_reauthorisation(oa, http):
    with pytest.raises(ProviderError) as caught:
        tokens.refresh_access_token(oa.pk, oauth=ZaloOAuth(http, base="ftp://oauth.example.com"), force=True)
    assert caught.value.error == errors.URL_INVALID
    creds = OACredentials.objects.get(oa=oa)
    assert not creds.needs_reauthorisation and creds.refresh_token == "refresh-1"
