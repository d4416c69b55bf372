"""oas.services.clients: the OA's provider client with its database duties around the plain client:
token refresh, RSA key fetch and retirement, the kill switch read before each batch, Infobip report URLs."""

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys
from django.utils import timezone

from oas.models import OACredentials, OfficialAccount, RSAKey
from oas.services.clients import client_for
from oas.services.keys import store_public_key
from oas.services.report_urls import issue_infobip_webhook_token
from providers import errors
from providers.base import ACCEPTED, RETRYABLE, MessageRequest
from providers.infobip import InfobipClient
from providers.oauth import ZaloOAuth
from providers.zalo import ZaloClient
from tests.providers.conftest import make_oa
from tests.providers.stub import Reply, token_pair, zalo_error, zalo_ok
from tests.providers.stub import zalo_accepted as accepted
from tests.providers.stub import zalo_message as msg
from zalo_admin.lib.rsa import JVM_OAEP

SEND = "/zalo/message/template"
TOKEN = "/oauth/v4/oa/access_token"
IB_SEND = "/infobip/zalo/2/messages"


@pytest.fixture
def client(oa, stub, http):
    oauth = ZaloOAuth(http, base=f"{stub.url}/oauth")
    return client_for(oa, http=http, oauth=oauth, api_base=f"{stub.url}/zalo")


@pytest.fixture
def ib_oa(db, stub):
    return make_oa(
        "ib-1",
        provider=OfficialAccount.Provider.INFOBIP,
        infobip_base_url=f"{stub.url}/infobip",
        infobip_api_key="003026bbc133714df1834b8638bb496e",
        infobip_sender="OFFICIAL-ACCOUNT-ID-XY12Z3",
    )


def ib_accepted(message_id):
    status = {"groupId": 1, "groupName": "PENDING", "id": 7, "name": "PENDING_ENROUTE", "description": "x"}
    return Reply({"bulkId": "b1", "messages": [{"messageId": message_id, "status": status}]})


def b64_der(private) -> str:
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def test_the_factory_picks_the_client_by_the_oas_provider(ib_oa, oa):
    assert client_for(ib_oa).client_class is InfobipClient
    assert isinstance(client_for(ib_oa).client(), InfobipClient)
    assert client_for(oa).name == "zalo" and isinstance(client_for(oa).client(), ZaloClient)


def test_an_infobip_oa_without_credentials_has_no_client(db):
    bare = OfficialAccount.objects.create(
        name="bare", zalo_oa_id="bare-ib", provider=OfficialAccount.Provider.INFOBIP
    )
    with pytest.raises(OACredentials.DoesNotExist):
        client_for(bare)


# --- tokens ------------------------------------------------------------------------------------


def test_an_invalid_token_answer_refreshes_once_and_resends(client, stub, oa):
    stub.on("POST", SEND, [zalo_error(-124, "Access token invalid"), accepted()])
    stub.on("POST", TOKEN, token_pair("access-2", "refresh-2"))
    [result] = client.send_batch([msg(1)])
    assert result.status == ACCEPTED
    sends = stub.calls("POST", SEND)
    assert [c.headers["access_token"] for c in sends] == ["access-1", "access-2"]
    [refresh] = stub.calls("POST", TOKEN)
    assert refresh.headers["secret_key"] == "app-secret-1"
    assert refresh.form == {"refresh_token": "refresh-1", "app_id": "app-1", "grant_type": "refresh_token"}
    creds = OACredentials.objects.get(oa=oa)
    assert (creds.access_token, creds.refresh_token) == ("access-2", "refresh-2")


def test_a_token_refused_mid_batch_resends_from_the_refused_message_only(client, stub):
    stub.on("POST", SEND, [accepted("m1"), zalo_error(-220, "Access token expired"), accepted("m2")])
    stub.on("POST", TOKEN, token_pair("access-2", "refresh-2"))
    results = client.send_batch([msg(1), msg(2), msg(3)])
    assert [r.status for r in results] == [ACCEPTED] * 3
    sends = stub.calls("POST", SEND)
    assert [c.json["tracking_id"] for c in sends] == ["t1", "t2", "t2", "t3"]
    assert [c.headers["access_token"] for c in sends] == ["access-1", "access-1", "access-2", "access-2"]


def test_a_token_refused_twice_is_retryable_and_refreshes_only_once(client, stub):
    stub.on("POST", SEND, zalo_error(-124, "Access token invalid"))
    stub.on("POST", TOKEN, token_pair("access-2", "refresh-2"))
    results = client.send_batch([msg(1), msg(2)])
    assert [r.status for r in results] == [RETRYABLE, RETRYABLE]
    assert results[1].attempted is False
    assert len(stub.calls("POST", TOKEN)) == 1


def test_an_invalid_token_answer_to_a_management_call_refreshes_once_and_calls_again(client, stub):
    quota = zalo_ok({"dailyQuota": "500", "remainingQuota": "499"})
    stub.on("GET", "/zalo/message/quota", [zalo_error(-216, "Access token is invalid"), quota])
    stub.on("POST", TOKEN, token_pair("access-2", "refresh-2"))
    assert client.get_quota().remaining == 499
    calls = stub.calls("GET", "/zalo/message/quota")
    assert [c.headers["access_token"] for c in calls] == ["access-1", "access-2"]


def test_it_refreshes_proactively_before_sending_when_the_token_is_about_to_expire(client, stub, oa):
    OACredentials.objects.filter(oa=oa).update(access_expires_at=timezone.now() + timedelta(minutes=30))
    stub.on("POST", TOKEN, token_pair("access-2", "refresh-2"))
    stub.on("POST", SEND, accepted())
    client.send_batch([msg(1)])
    assert stub.calls("POST", SEND)[0].headers["access_token"] == "access-2"


def test_an_oa_that_needs_reauthorisation_sends_nothing(client, stub, oa):
    OACredentials.objects.filter(oa=oa).update(needs_reauthorisation=True)
    results = client.send_batch([msg(1), msg(2)])
    assert {r.status for r in results} == {RETRYABLE}
    assert results[0].error is errors.NEEDS_REAUTHORISATION
    assert stub.requests == []


def test_a_request_for_an_oa_without_credentials_does_not_crash_the_batch(db, stub, http):
    bare = OfficialAccount.objects.create(name="bare", zalo_oa_id="bare-1")
    [result] = client_for(bare, http=http, api_base=stub.url).send_batch(
        [MessageRequest("t", "1", {}, phone="84")]
    )
    assert result.error_code == "OA_NEEDS_REAUTHORISATION"
    assert stub.requests == []


# --- RSA keys ----------------------------------------------------------------------------------


def test_encrypted_sends_fetch_the_key_once_and_encrypt_phone_and_every_value(client, stub, oa):
    private = rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
    stub.on("GET", "/zalo/rsa/key/get", zalo_ok({"public_key": b64_der(private)}))
    stub.on("POST", "/zalo/rsa/message/template", accepted())
    results = client.send_batch([msg(1, encrypted=True), msg(2, encrypted=True)])
    assert {r.status for r in results} == {ACCEPTED}
    assert len(stub.calls("GET", "/zalo/rsa/key/get")) == 1
    body = stub.calls("POST", "/zalo/rsa/message/template")[0].json
    assert "phone" not in body
    decrypt = lambda v: private.decrypt(base64.b64decode(v), JVM_OAEP).decode()  # noqa: E731
    assert decrypt(body["rsa_phone"]) == "84987654321"
    assert {k: decrypt(v) for k, v in body["template_data"].items()} == {
        "customer": "Nguyễn Thị Hoàng Anh",
        "amount": "100000",
    }
    assert RSAKey.objects.get(oa=oa, is_active=True).public_key == b64_der(private)
    client.send_batch([msg(3, encrypted=True)])
    assert len(stub.calls("GET", "/zalo/rsa/key/get")) == 1  # the stored key from then on


def test_a_key_the_provider_does_not_have_halts_encrypted_sends_with_its_error(client, stub):
    stub.on("GET", "/zalo/rsa/key/get", zalo_error(-142, "RSA key does not exist"))
    results = client.send_batch([msg(1, encrypted=True), msg(2, encrypted=True)])
    assert [r.error_code for r in results] == ["RSA_KEY_MISSING"] * 2
    assert results[1].attempted is False
    assert stub.calls("POST", "/zalo/rsa/message/template") == []


def test_a_key_the_provider_no_longer_accepts_is_fetched_again_next_time(client, stub, oa):
    stub.on("POST", "/zalo/rsa/message/template", zalo_error(-123, "RSA decode failed"))
    private = rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
    store_public_key(actor="system:test", oa=oa, public_key=b64_der(private), origin="fetched")
    [result] = client.send_batch([msg(1, encrypted=True)])
    assert result.status == RETRYABLE and result.error_code == "RSA_DECODE_FAILED"
    assert not RSAKey.objects.filter(oa=oa, is_active=True).exists()
    assert RSAKey.objects.get(oa=oa).retired_at is not None  # kept, retired, for the audit trail
    stub.on("GET", "/zalo/rsa/key/get", zalo_ok({"public_key": b64_der(private)}))
    stub.on("POST", "/zalo/rsa/message/template", accepted())
    [again] = client.send_batch([msg(2, encrypted=True)])
    assert again.status == ACCEPTED and len(stub.calls("GET", "/zalo/rsa/key/get")) == 1


# --- kill switch -------------------------------------------------------------------------------


def test_nothing_leaves_while_the_oas_kill_switch_is_on(client, stub, oa):
    OfficialAccount.objects.filter(pk=oa.pk).update(sending_stopped=True)
    results = client.send_batch([msg(1), msg(2)])
    assert {(r.status, r.error_code, r.attempted) for r in results} == {
        (RETRYABLE, "OA_SENDING_STOPPED", False)
    }
    assert stub.requests == []


def test_nothing_leaves_an_infobip_oa_while_its_kill_switch_is_on(ib_oa, stub, http):
    client = client_for(ib_oa, http=http)
    OfficialAccount.objects.filter(pk=ib_oa.pk).update(sending_stopped=True)
    [result] = client.send_batch([msg(1)])
    assert (result.status, result.error_code) == (RETRYABLE, "OA_SENDING_STOPPED")
    assert stub.requests == []


# --- Infobip delivery-report URL -----------------------------------------------------------------


def test_the_delivery_report_url_is_set_when_a_public_base_url_is_configured(ib_oa, http, stub, settings):
    settings.PROVIDERS_PUBLIC_BASE_URL = "https://admin.example.vn"
    token = issue_infobip_webhook_token(ib_oa.pk)
    stub.on("POST", IB_SEND, ib_accepted("t1"))
    client_for(ib_oa, http=http).send_batch([msg(1)])
    sent = stub.calls("POST", IB_SEND)[0].json["messages"][0]
    assert sent["webhooks"]["delivery"] == {"url": f"https://admin.example.vn/webhooks/infobip/{token}/"}


def test_without_a_public_base_url_sends_carry_no_report_url(ib_oa, http, stub, settings):
    settings.PROVIDERS_PUBLIC_BASE_URL = ""
    issue_infobip_webhook_token(ib_oa.pk)
    stub.on("POST", IB_SEND, ib_accepted("t1"))
    client_for(ib_oa, http=http).send_batch([msg(1)])
    assert "webhooks" not in stub.calls("POST", IB_SEND)[0].json["messages"][0]


def test_an_infobip_oa_gets_its_report_url_token_when_saved_and_keeps_it(db, settings):
    from compliance.models import AuditEvent
    from oas.services.accounts import save_official_account
    from quotas.models import Policy

    settings.DEBUG = True  # local mode: a plain-http loopback base URL is accepted
    policy = Policy.objects.get(code="zns-2024")
    data = {
        "name": "Bank",
        "zalo_oa_id": "bank-1",
        "provider": "zalo",
        "owner_team": "",
        "app_id": "app-1",
        "app_secret": "app-secret-1",
    }
    oa = save_official_account(actor="system:test", oa=None, data=data, policy=policy)
    assert OACredentials.objects.get(oa=oa).infobip_webhook_token == ""  # Zalo OAs have no use for one
    data.update(provider="infobip", infobip_base_url="http://127.0.0.1:9/infobip", infobip_api_key="k" * 32)
    save_official_account(actor="system:test", oa=oa, data=data, policy=policy)
    creds = OACredentials.objects.get(oa=oa)
    token = creds.infobip_webhook_token
    assert len(token) >= 43 and creds.infobip_webhook_token_hash
    event = AuditEvent.objects.filter(action="oa.update").latest("seq")
    assert event.details["webhook_token_issued"] is True and token not in str(event.details)
    save_official_account(actor="system:test", oa=oa, data={**data, "name": "Bank 2"}, policy=policy)
    assert OACredentials.objects.get(oa=oa).infobip_webhook_token == token
    assert "webhook_token_issued" not in AuditEvent.objects.filter(action="oa.update").latest("seq").details


def test_the_migration_gives_infobip_oas_from_before_a_token_and_leaves_the_rest(ib_oa, oa):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("oas.migrations.0006_issue_infobip_webhook_tokens")
    kept = issue_infobip_webhook_token(make_oa("ib-2", provider=OfficialAccount.Provider.INFOBIP).pk)
    migration.issue_missing_tokens(apps, None)
    creds = OACredentials.objects.get(oa=ib_oa)
    assert creds.infobip_webhook_token and len(creds.infobip_webhook_token_hash) == 64
    assert OACredentials.objects.get(oa__zalo_oa_id="ib-2").infobip_webhook_token == kept
    assert OACredentials.objects.get(oa=oa).infobip_webhook_token == ""
