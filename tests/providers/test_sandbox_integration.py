"""The provider clients over real HTTP against the local Zalo/Infobip sandbox (sandbox/testing.py),
through oas.services.clients (tokens, keys and report URLs from the database), as the app uses them."""

import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection

from oas.models import OACredentials, OfficialAccount
from oas.services import tokens
from oas.services.accounts import save_official_account
from oas.services.clients import client_for
from oas.services.report_urls import issue_infobip_webhook_token
from providers.base import ACCEPTED, REJECTED, RETRYABLE, MessageRequest, ProviderError
from providers.http import HttpClient, RetryPolicy
from providers.models import WebhookEvent
from providers.oauth import ZaloOAuth, new_pkce_pair
from quotas.models import Policy
from tests.providers.conftest import make_oa

sandbox_testing = pytest.importorskip("sandbox.testing", reason="the sandbox helper is not available")

FAST = {"delay_factor": 0.001, "webhook_retry_factor": 0.0001}
PHONES = ["84912000001", "84912000002", "84912000003", "84912000004", "84912000005"]


@pytest.fixture(scope="module")
def sandbox_server():
    with sandbox_testing.running_sandbox(config=FAST) as sandbox:
        yield sandbox


@pytest.fixture
def sb(sandbox_server):
    sandbox_server.reset()
    for phone in PHONES:
        sandbox_server.pin_recipient(
            phone, not_on_zalo=False, opted_out=False, unreachable=False, bad_report=False
        )
    return sandbox_server


@pytest.fixture
def http():
    client = HttpClient(
        connect_timeout=2, read_timeout=10, policy=RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2)
    )
    yield client
    client.close()


def zalo_oa(**extra):
    values = {
        "app_id": sandbox_testing.DEMO_APP_ID,
        "app_secret": sandbox_testing.DEMO_APP_SECRET,
        "access_token": sandbox_testing.DEMO_TOKENS["demo-oa-1"],
        "refresh_token": "demo-oa-1-refresh-token",
        **extra,
    }
    return make_oa("demo-oa-1", **values)


def zalo_client(sb, oa, http):
    return client_for(oa, http=http, oauth=ZaloOAuth(http, base=sb.oauth_base), api_base=sb.zalo_base)


def order(n, phone=None, template_id="100001", **data):
    template_data = {"customer_name": "Nguyễn Văn A", "order_code": f"DH{n}", "amount": "150000", **data}
    return MessageRequest(f"it-{n}", template_id, template_data, phone=phone or PHONES[(n - 1) % len(PHONES)])


def test_a_batch_is_sent_and_each_message_lands_once_in_the_sandbox_ledger(sb, db, http):
    client = zalo_client(sb, zalo_oa(), http)
    results = client.send_batch([order(1), order(2), order(3)])
    assert [r.status for r in results] == [ACCEPTED] * 3
    assert all(r.provider_message_id for r in results)
    assert all(r.quota and r.quota["daily"] for r in results)
    ledger = {row["tracking_id"]: row for row in sb.ledger(accepted=1)}
    assert set(ledger) == {"it-1", "it-2", "it-3"}
    assert ledger["it-1"]["msg_id"] == results[0].provider_message_id


def test_documented_error_codes_come_back_mapped(sb, db, http):
    sb.pin_recipient("84912000009", not_on_zalo=True)
    client = zalo_client(sb, zalo_oa(), http)
    results = client.send_batch(
        [
            order(1, phone="84912000009"),
            order(2, phone="12345"),
            order(3, template_id="100007"),
            MessageRequest("it-4", "100001", {"customer_name": "A", "amount": "1"}, phone=PHONES[0]),
            order(5, amount="x" * 50),
        ]
    )
    assert [(r.status, r.provider_code, r.error_code) for r in results] == [
        (REJECTED, "-118", "RECIPIENT_NOT_ON_ZALO"),
        (REJECTED, "-108", "PHONE_INVALID"),
        (REJECTED, "-146", "TEMPLATE_DISABLED_LOW_QUALITY"),
        (REJECTED, "-1122", "PARAM_MISSING"),
        (REJECTED, results[4].provider_code, results[4].error_code),
    ]
    assert results[4].provider_code in ("-1121", "-1124")


def test_the_oauth_code_exchange_with_pkce_stores_a_working_token_pair(sb, db, http):
    oa = zalo_oa(access_token="", refresh_token="", needs_reauthorisation=True)
    oauth = ZaloOAuth(http, base=sb.oauth_base)
    verifier, challenge = new_pkce_pair()
    redirect_uri = "https://admin.example.vn/oas/callback"
    page = requests.get(
        oauth.authorization_url(sandbox_testing.DEMO_APP_ID, redirect_uri, challenge, "st8"), timeout=10
    )
    assert page.status_code == 200
    granted = requests.post(
        f"{sb.oauth_base}/v4/oa/permission",
        data={
            "app_id": sandbox_testing.DEMO_APP_ID,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "state": "st8",
            "oa_id": "demo-oa-1",
        },
        allow_redirects=False,
        timeout=10,
    )
    query = parse_qs(urlsplit(granted.headers["Location"]).query)
    assert query["oa_id"] == ["demo-oa-1"] and query["state"] == ["st8"]
    with pytest.raises(ProviderError) as wrong:
        tokens.complete_authorisation(oa.pk, query["code"][0], "not-the-verifier-" + "x" * 30, oauth=oauth)
    assert wrong.value.provider_code == "-14014"
    tokens.complete_authorisation(oa.pk, query["code"][0], verifier, oauth=oauth)
    creds = OACredentials.objects.get(oa=oa)
    assert creds.access_token and creds.refresh_token and not creds.needs_reauthorisation
    assert zalo_client(sb, oa, http).send_batch([order(1)])[0].status == ACCEPTED


def test_refresh_rotates_the_pair_and_the_spent_refresh_token_is_dead(sb, db, http):
    oa = zalo_oa()
    oauth = ZaloOAuth(http, base=sb.oauth_base)
    new_access = tokens.refresh_access_token(oa.pk, oauth=oauth, force=True)
    creds = OACredentials.objects.get(oa=oa)
    assert new_access != sandbox_testing.DEMO_TOKENS["demo-oa-1"]
    assert creds.refresh_token != "demo-oa-1-refresh-token"
    with pytest.raises(ProviderError) as dead:
        oauth.refresh(sandbox_testing.DEMO_APP_ID, sandbox_testing.DEMO_APP_SECRET, "demo-oa-1-refresh-token")
    assert dead.value.provider_code == "-14020" and dead.value.permanent
    # and the stored pair keeps rotating
    tokens.refresh_access_token(oa.pk, oauth=oauth, force=True)
    assert OACredentials.objects.get(oa=oa).refresh_token != creds.refresh_token


def test_a_refresh_token_the_sandbox_refuses_demands_reauthorisation(sb, db, http):
    oa = zalo_oa(refresh_token="already-spent")
    sb.expire_tokens(oa_id="demo-oa-1", kind="access")
    results = zalo_client(sb, oa, http).send_batch([order(1), order(2)])
    assert {r.status for r in results} == {RETRYABLE}
    assert results[0].error_code == "OA_NEEDS_REAUTHORISATION"
    assert OACredentials.objects.get(oa=oa).needs_reauthorisation


class ExpiringMidBatch(HttpClient):
    """Expires the OA's access token at the sandbox right after the n-th send."""

    def __init__(self, sb, after: int, **kwargs):
        super().__init__(**kwargs)
        self.sb, self.after, self.sends = sb, after, 0

    def request(self, method, url, **kwargs):
        response = super().request(method, url, **kwargs)
        if url.endswith("/message/template"):
            self.sends += 1
            if self.sends == self.after:
                self.sb.expire_tokens(oa_id="demo-oa-1", kind="access")
        return response


def test_a_token_that_expires_mid_batch_is_refreshed_once_and_nothing_is_sent_twice(sb, db):
    http = ExpiringMidBatch(sb, after=2, connect_timeout=2, read_timeout=10)
    oa = zalo_oa()
    results = zalo_client(sb, oa, http).send_batch([order(n) for n in range(1, 6)])
    assert [r.status for r in results] == [ACCEPTED] * 5
    creds = OACredentials.objects.get(oa=oa)
    assert creds.refreshed_at is not None and creds.refresh_token != "demo-oa-1-refresh-token"
    summary = sb.ledger_summary()
    assert summary["accepted"] == 5
    assert not summary["duplicate_tracking_ids"]
    http.close()


def test_a_5xx_storm_halts_the_batch_and_the_retry_afterwards_sends_each_message_once(sb, db, http):
    client = zalo_client(sb, zalo_oa(), http)
    sb.faults(error_rate=1, error_status=503, scope=["zalo"])
    stormed = client.send_batch([order(1), order(2), order(3)])
    assert [r.status for r in stormed] == [RETRYABLE] * 3
    assert stormed[0].error_code == "PROVIDER_SERVER_ERROR" and stormed[0].error.halts_batch
    assert [r.attempted for r in stormed] == [True, False, False]
    sb.faults(error_rate=0)
    assert [r.status for r in client.send_batch([order(1), order(2), order(3)])] == [ACCEPTED] * 3
    summary = sb.ledger_summary()
    assert summary["accepted"] == 3 and not summary["duplicate_tracking_ids"]


def test_a_500_storm_is_never_repeated_blindly(sb, db, http):
    client = zalo_client(sb, zalo_oa(), http)
    sb.faults(error_rate=1, error_status=500, scope=["zalo"])
    results = client.send_batch([order(1), order(2)])
    assert [r.error_code for r in results] == ["SEND_OUTCOME_UNKNOWN"] * 2
    assert results[1].attempted is False


def test_encrypted_sends_decrypt_at_the_sandbox_with_the_jvm_cipher(sb, db, http):
    oa = zalo_oa()
    client = zalo_client(sb, oa, http)
    key = client.create_public_key()
    assert client.get_public_key() == key
    data = {"customer_name": "Trần Thị Bích", "order_code": "DH9", "amount": "990000"}
    [result] = client.send_batch([MessageRequest("enc-1", "100001", data, phone=PHONES[0], encrypted=True)])
    assert result.status == ACCEPTED
    [row] = sb.ledger(tracking_id="enc-1")
    assert row["recipient"] == PHONES[0]


def test_templates_quota_and_quality_are_read(sb, db, http):
    client = zalo_client(sb, zalo_oa(), http)
    templates = {t.template_id: t for t in client.list_templates()}
    assert templates["100007"].status == "DISABLE"
    detail = client.get_template("100001")
    assert {p["name"] for p in detail.params} >= {"customer_name", "order_code", "amount"}
    assert client.get_quota().daily == 20000
    assert client.get_quality().current in ("HIGH", "MEDIUM", "LOW", "UNDEFINED")


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_share_one_refresh_against_the_sandbox(sb):
    oa = zalo_oa()
    sb.expire_tokens(oa_id="demo-oa-1", kind="access")
    OACredentials.objects.filter(oa=oa).update(access_expires_at=None)
    barrier = threading.Barrier(5)
    results, failures = [], []

    def worker():
        http = HttpClient(connect_timeout=2, read_timeout=10)
        try:
            barrier.wait()
            results.append(zalo_client(sb, oa, http).send_batch([order(len(results) + 1)])[0])
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)
        finally:
            http.close()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert [r.status for r in results] == [ACCEPTED] * 5
    assert not OACredentials.objects.get(oa=oa).needs_reauthorisation


# --- Infobip ----------------------------------------------------------------------------------


def infobip_oa(sb):
    return make_oa(
        "demo-oa-2",
        provider=OfficialAccount.Provider.INFOBIP,
        infobip_base_url=sb.infobip_base,
        infobip_api_key=sandbox_testing.DEMO_INFOBIP_KEY,
        infobip_sender="demo-oa-2",
    )


def statement(n):
    return MessageRequest(
        f"ib-{n}", "200002", {"customer_name": "Lê Văn C", "amount": "5000000"}, phone=PHONES[n - 1]
    )


def test_an_infobip_batch_is_accepted_and_a_resend_is_recognised_as_already_sent(sb, db, http):
    client = client_for(infobip_oa(sb), http=http)
    first = client.send_batch([statement(1), statement(2)])
    assert [r.status for r in first] == [ACCEPTED, ACCEPTED]
    again = client.send_batch([statement(1), statement(2)])
    assert [r.status for r in again] == [ACCEPTED, ACCEPTED]
    assert not sb.ledger_summary()["duplicate_message_ids"]


def test_infobip_refuses_a_bad_api_key_and_the_batch_halts(sb, db, http):
    oa = infobip_oa(sb)
    creds = OACredentials.objects.get(oa=oa)
    creds.infobip_api_key = "wrong"
    creds.save()
    [result] = client_for(oa, http=http).send_batch([statement(1)])
    assert result.status == RETRYABLE and result.error_code == "PROVIDER_CREDENTIALS_INVALID"


def test_infobip_encrypted_sends_are_accepted(sb, db, http):
    client = client_for(infobip_oa(sb), http=http)
    client.create_public_key()
    [result] = client.send_batch(
        [
            MessageRequest(
                "ib-enc",
                "200002",
                {"customer_name": "Lê Văn C", "amount": "5000000"},
                phone=PHONES[0],
                encrypted=True,
            )
        ]
    )
    assert result.status == ACCEPTED


# --- webhooks from the sandbox into our endpoints ---------------------------------------------


@pytest.fixture
def webhook_site(settings, live_server):
    settings.ROOT_URLCONF = "tests.providers.urls"
    settings.JOBS_IN_PROCESS = True
    return live_server


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_signed_zalo_delivery_events_from_the_sandbox_are_verified_stored_and_processed(
    sb, webhook_site, http
):
    oa = zalo_oa(oa_secret_key="hook-secret-from-the-console")
    sb.app(
        sandbox_testing.DEMO_APP_ID,
        webhook_url=f"{webhook_site.url}/webhooks/zalo/",
        webhook_secret="hook-secret-from-the-console",
    )
    results = zalo_client(sb, oa, http).send_batch([order(1), order(2)])
    assert [r.status for r in results] == [ACCEPTED, ACCEPTED]
    sb.drain()
    assert wait_for(lambda: WebhookEvent.objects.filter(event_name="user_received_message").count() == 2)
    events = WebhookEvent.objects.filter(event_name="user_received_message")
    assert {e.status for e in events} == {WebhookEvent.Status.PROCESSED}
    assert {e.oa_id for e in events} == {oa.pk}
    hooks = sb.webhooks(provider="zalo")
    assert hooks and all(h["state"] == "delivered" for h in hooks)


@pytest.mark.django_db(transaction=True)
def test_infobip_delivery_reports_reach_the_oas_secret_url(sb, webhook_site, http, settings):
    settings.PROVIDERS_PUBLIC_BASE_URL = webhook_site.url
    oa = infobip_oa(sb)
    issue_infobip_webhook_token(oa.pk)
    [result] = client_for(oa, http=http).send_batch([statement(1)])
    assert result.status == ACCEPTED
    sb.drain()
    assert wait_for(lambda: WebhookEvent.objects.filter(provider="infobip").exists())
    event = WebhookEvent.objects.get(provider="infobip")
    assert event.oa_id == oa.pk and event.event_name == "infobip_delivery_report"
    assert "ib-1" in event.raw_body


@pytest.mark.django_db(transaction=True)
def test_an_infobip_oa_saved_through_the_service_gets_its_report_url_into_every_send(
    sb, webhook_site, http, settings
):
    settings.PROVIDERS_PUBLIC_BASE_URL = webhook_site.url
    settings.DEBUG = True  # local mode: the sandbox's plain-http loopback base URL is accepted
    data = {
        "name": "Demo Bank",
        "zalo_oa_id": "demo-oa-2",
        "provider": OfficialAccount.Provider.INFOBIP,
        "owner_team": "",
        "infobip_base_url": sb.infobip_base,
        "infobip_api_key": sandbox_testing.DEMO_INFOBIP_KEY,
        "infobip_sender": "demo-oa-2",
    }
    oa = save_official_account(
        actor="system:test", oa=None, data=data, policy=Policy.objects.get(code="zns-2024")
    )
    creds = OACredentials.objects.get(oa=oa)
    assert creds.infobip_webhook_token and creds.infobip_webhook_token_hash
    url = f"{webhook_site.url}/webhooks/infobip/{creds.infobip_webhook_token}/"
    [result] = client_for(oa, http=http).send_batch([statement(1)])
    assert result.status == ACCEPTED
    sb.drain()
    assert wait_for(lambda: WebhookEvent.objects.filter(provider="infobip").exists())
    assert {hook["url"] for hook in sb.webhooks(provider="infobip")} == {url}
    event = WebhookEvent.objects.get(provider="infobip")
    assert event.oa_id == oa.pk and event.event_name == "infobip_delivery_report"
    assert "ib-1" in event.raw_body
    # Saving the credentials again keeps the URL Infobip already has.
    save_official_account(actor="system:test", oa=oa, data=data, policy=Policy.objects.get(code="zns-2024"))
    assert OACredentials.objects.get(oa=oa).infobip_webhook_token == creds.infobip_webhook_token
