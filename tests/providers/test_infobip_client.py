"""The Infobip client against a local stub serving Infobip's documented bodies (provider-apis.md Part 2)."""

import base64
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys

from providers.base import ACCEPTED, REJECTED, RETRYABLE, Account, MessageRequest, ProviderError, PublicKey
from providers.infobip import InfobipClient
from providers.services import client_class
from providers.zalo import ZaloClient
from tests.providers.stub import Reply
from zalo_admin.lib.rsa import JVM_OAEP

SEND = "/infobip/zalo/2/messages"


@pytest.fixture
def account(stub):
    return Account(
        provider="infobip",
        zalo_oa_id="ib-1",
        infobip_base_url=f"{stub.url}/infobip",
        infobip_api_key="003026bbc133714df1834b8638bb496e",
        infobip_sender="OFFICIAL-ACCOUNT-ID-XY12Z3",
    )


@pytest.fixture
def client(account, http):
    """The plain client: no database; the caller passes the account (oas.services.clients)."""
    return InfobipClient(account, http=http)


def status(group_id, group, status_id, name):
    return {
        "groupId": group_id,
        "groupName": group,
        "id": status_id,
        "name": name,
        "description": name.lower(),
    }


def answer(*items):
    return Reply(
        {
            "bulkId": "b1",
            "messages": [{"messageId": mid, "status": st, "destination": "84987654321"} for mid, st in items],
        }
    )


def msg(n, **extra):
    return MessageRequest(
        f"cmp1-{n}", "322307", {"customer_name": "John Smith", "n": n}, phone=f"8498765432{n}", **extra
    )


def test_the_registry_imports_the_client_of_each_provider_by_its_dotted_path():
    assert client_class("infobip") is InfobipClient
    assert client_class("zalo") is ZaloClient and client_class("zalo").name == "zalo"
    with pytest.raises(ValueError, match="no provider client is registered for 'sms'"):
        client_class("sms")


def test_a_batch_is_one_post_with_our_ids_as_message_ids(client, stub):
    stub.on(
        "POST",
        SEND,
        answer(
            ("cmp1-1", status(1, "PENDING", 7, "PENDING_ENROUTE")),
            ("cmp1-2", status(1, "PENDING", 26, "PENDING_ACCEPTED")),
        ),
    )
    results = client.send_batch([msg(1, callback_data="c1"), msg(2, sending_mode="AUTO")])
    assert [r.status for r in results] == [ACCEPTED, ACCEPTED]
    assert [r.provider_message_id for r in results] == ["cmp1-1", "cmp1-2"]
    [call] = stub.calls("POST", SEND)
    assert call.headers["authorization"] == "App 003026bbc133714df1834b8638bb496e"
    first, second = call.json["messages"]
    assert first == {
        "sender": "OFFICIAL-ACCOUNT-ID-XY12Z3",
        "destinations": [{"to": "84987654321", "messageId": "cmp1-1"}],
        "content": {
            "templateName": 322307,
            "templateData": {"customer_name": "John Smith", "n": "1"},
            "type": "TEMPLATE",
        },
        "webhooks": {"callbackData": "c1"},
    }
    assert second["options"] == {"sendingMode": "AUTO"}


def test_statuses_map_to_accepted_rejected_and_retryable(client, stub):
    stub.on(
        "POST",
        SEND,
        answer(
            ("cmp1-1", status(5, "REJECTED", 18, "REJECTED_DESTINATION_NOT_REGISTERED")),
            ("cmp1-2", status(5, "REJECTED", 23, "REJECTED_DUPLICATE_MESSAGE_ID")),
            ("cmp1-3", status(5, "REJECTED", 21, "REJECTED_SYSTEM_ERROR")),
        ),
    )
    results = client.send_batch([msg(1), msg(2), msg(3)])
    assert [r.status for r in results] == [REJECTED, ACCEPTED, RETRYABLE]
    assert results[0].error_code == "RECIPIENT_NOT_ON_ZALO"
    assert results[0].provider_code == "REJECTED_DESTINATION_NOT_REGISTERED"
    assert results[0].text("vi") and results[0].text("en")


def test_an_unknown_sender_halts_the_rest_of_the_batch(client, stub, monkeypatch):
    monkeypatch.setattr("providers.infobip.CHUNK", 2)
    stub.on(
        "POST",
        SEND,
        answer(
            ("cmp1-1", status(5, "REJECTED", 13, "REJECTED_SENDER")),
            ("cmp1-2", status(5, "REJECTED", 13, "REJECTED_SENDER")),
        ),
    )
    results = client.send_batch([msg(1), msg(2), msg(3)])
    assert {r.status for r in results} == {RETRYABLE}
    assert results[2].attempted is False
    assert len(stub.calls("POST", SEND)) == 1


def test_a_400_rejects_the_chunk_with_infobips_violations(client, stub):
    stub.on(
        "POST",
        SEND,
        Reply(
            {
                "errorCode": "E400",
                "description": "Request cannot be processed.",
                "violations": [
                    {"property": "messages[0].content.templateName", "violation": "must not be null"}
                ],
            },
            status=400,
        ),
    )
    [result] = client.send_batch([msg(1)])
    assert result.status == REJECTED
    assert result.error_code == "PROVIDER_REQUEST_INVALID"
    assert result.provider_code == "E400"
    assert "templateName: must not be null" in result.provider_message


def test_a_bad_api_key_halts_with_a_credentials_error(client, stub):
    stub.on(
        "POST",
        SEND,
        Reply(
            {
                "requestError": {
                    "serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}
                }
            },
            status=401,
        ),
    )
    results = client.send_batch([msg(1)])
    assert results[0].status == RETRYABLE
    assert results[0].error_code == "PROVIDER_CREDENTIALS_INVALID" and results[0].error.halts_batch


def test_sends_are_retried_through_5xx_because_our_message_ids_make_them_idempotent(client, stub, sleeps):
    stub.on(
        "POST",
        SEND,
        [
            Reply({}, status=500),
            Reply({}, status=502),
            answer(("cmp1-1", status(1, "PENDING", 7, "PENDING_ENROUTE"))),
        ],
    )
    [result] = client.send_batch([msg(1)])
    assert result.status == ACCEPTED
    assert len(stub.calls("POST", SEND)) == 3


def test_a_persistent_5xx_storm_leaves_the_batch_retryable(client, stub):
    stub.on("POST", SEND, Reply({}, status=503))
    results = client.send_batch([msg(1), msg(2)])
    assert {r.status for r in results} == {RETRYABLE}
    assert results[0].error_code == "PROVIDER_SERVER_ERROR"


def test_encrypted_messages_carry_the_flag_and_values_the_senders_key_decrypts(account, http, stub):
    private = rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    client = InfobipClient(account, PublicKey(base64.b64encode(der).decode()), http=http)
    stub.on("POST", SEND, answer(("cmp1-1", status(1, "PENDING", 7, "PENDING_ENROUTE"))))
    client.send_batch([msg(1, encrypted=True)])
    sent = stub.calls("POST", SEND)[0].json["messages"][0]
    assert sent["options"] == {"encrypted": True}
    data = sent["content"]["templateData"]
    assert private.decrypt(base64.b64decode(data["customer_name"]), JVM_OAEP) == b"John Smith"


def test_the_accounts_report_url_goes_into_every_message(account, http, stub):
    url = "https://admin.example.vn/webhooks/infobip/the-token/"
    stub.on("POST", SEND, answer(("cmp1-1", status(1, "PENDING", 7, "PENDING_ENROUTE"))))
    InfobipClient(replace(account, report_url=url), http=http).send_batch([msg(1)])
    sent = stub.calls("POST", SEND)[0].json["messages"][0]
    assert sent["webhooks"]["delivery"] == {"url": url}
    assert "the-token" not in repr(replace(account, report_url=url))


def test_it_reads_templates_quota_and_keys(client, stub):
    base = "/infobip/zalo/1/sender/OFFICIAL-ACCOUNT-ID-XY12Z3"
    stub.on(
        "GET",
        f"{base}/templates",
        Reply(
            {
                "results": [
                    {
                        "templateName": 900025,
                        "displayName": "Template_1",
                        "status": "PENDING_REVIEW",
                        "createdTime": "2022-12-31T23:59:59.000+0000",
                    }
                ],
                "paging": {"page": 0, "size": 2, "totalPages": 1, "totalResults": 1},
            }
        ),
    )
    stub.on(
        "GET",
        f"{base}/templates/900025",
        Reply(
            {
                "templateName": 900025,
                "displayName": "Template_1",
                "status": "REJECT",
                "reason": "Logo không hợp lệ",
                "templateProperties": [
                    {"name": "customer_name", "required": True, "type": "STRING", "maxLength": 30}
                ],
                "templateTag": "TRANSACTION",
            }
        ),
    )
    stub.on(
        "GET",
        f"{base}/quota",
        Reply(
            {
                "dailyQuota": 5000,
                "remainingDailyQuota": 4999,
                "monthlyPromotionQuota": 100,
                "remainingMonthlyPromotionQuota": 90,
                "estimatedNextMonthPromotionQuota": 120,
            }
        ),
    )
    stub.on("POST", f"{base}/public-key", Reply({"publicKey": "QUJD"}))
    [template] = client.list_templates()
    assert (template.template_id, template.name, template.status) == (
        "900025",
        "Template_1",
        "PENDING_REVIEW",
    )
    detail = client.get_template("900025")
    assert (detail.status, detail.reason, detail.tag) == ("REJECT", "Logo không hợp lệ", "TRANSACTION")
    quota = client.get_quota()
    assert (quota.daily, quota.remaining, quota.remaining_monthly_promotion) == (5000, 4999, 90)
    assert client.create_public_key() == "QUJD"
    assert client.get_quality() is None


def test_a_missing_public_key_is_a_permanent_error(client, stub):
    stub.on(
        "GET",
        "/infobip/zalo/1/sender/OFFICIAL-ACCOUNT-ID-XY12Z3/public-key",
        Reply({"errorCode": "E404", "description": "Not found"}, status=404),
    )
    with pytest.raises(ProviderError) as caught:
        client.get_public_key()
    assert caught.value.permanent


def test_nothing_leaves_while_the_oas_kill_switch_is_on(account, http, stub):
    client = InfobipClient(replace(account, sends_stopped=True), http=http)
    [result] = client.send_batch([msg(1)])
    assert (result.status, result.error_code) == (RETRYABLE, "OA_SENDING_STOPPED")
    assert stub.requests == []
