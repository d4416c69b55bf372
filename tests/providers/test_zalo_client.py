"""The Zalo client against a local stub serving Zalo's documented bodies (provider-apis.md Part 1)."""

import base64
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys

from providers import errors
from providers.base import ACCEPTED, REJECTED, RETRYABLE, Account, MessageRequest, ProviderError, PublicKey
from providers.zalo import ZaloClient
from tests.providers.stub import Reply, zalo_error, zalo_ok
from tests.providers.stub import zalo_accepted as accepted
from tests.providers.stub import zalo_message as msg
from zalo_admin.lib.rsa import JVM_OAEP, EncryptionError

SEND = "/zalo/message/template"
ACCOUNT = Account(provider="zalo", zalo_oa_id="1234567890", oa_pk=1, access_token="access-1")


@pytest.fixture
def client(stub, http):
    """The plain client: no database; tokens, keys and the kill switch come in with the account."""
    return ZaloClient(ACCOUNT, http=http, api_base=f"{stub.url}/zalo")


def b64_der(private) -> str:
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def test_it_sends_each_message_with_the_access_token_header_and_documented_body(client, stub):
    stub.on("POST", SEND, accepted())
    [result] = client.send_batch([msg(1, sending_mode="1")])
    [call] = stub.calls("POST", SEND)
    assert call.headers["access_token"] == "access-1"
    assert call.json == {
        "phone": "84987654321",
        "template_id": "7895417a7d3f9461cd2e",
        "template_data": {"customer": "Nguyễn Thị Hoàng Anh", "amount": "100000"},
        "tracking_id": "t1",
        "sending_mode": "1",
    }
    assert result.status == ACCEPTED
    assert result.provider_message_id == "a4d0243feee163bd3af2"
    assert result.sent_at == datetime.fromtimestamp(1626926349.402, tz=UTC)
    assert result.quota == {"daily": 500, "remaining": 499}


def test_it_accepts_the_null_sending_mode_and_zero_quota_seen_in_real_answers(client, stub):
    stub.on(
        "POST",
        SEND,
        zalo_ok(
            {
                "sent_time": "1759983921893",
                "sending_mode": None,
                "quota": {"remainingQuota": "0", "dailyQuota": "0"},
                "msg_id": "3367db02643ff967a028",
            }
        ),
    )
    [result] = client.send_batch([msg(1, development=True)])
    assert result.status == ACCEPTED
    assert result.quota == {"daily": 0, "remaining": 0}
    assert stub.calls("POST", SEND)[0].json["mode"] == "development"


def test_a_recipient_error_rejects_only_that_message_with_both_languages(client, stub):
    stub.on("POST", SEND, [accepted("m1"), zalo_error(-118, "Zalo account not existed"), accepted("m3")])
    results = client.send_batch([msg(1), msg(2), msg(3)])
    assert [r.status for r in results] == [ACCEPTED, REJECTED, ACCEPTED]
    rejected = results[1]
    assert rejected.error_code == "RECIPIENT_NOT_ON_ZALO"
    assert rejected.provider_code == "-118"
    assert rejected.provider_message == "Zalo account not existed"
    assert rejected.text("vi").startswith("Tài khoản Zalo không tồn tại")
    assert rejected.text("en").startswith("The Zalo account does not exist")


def test_a_daily_limit_halts_the_batch_without_spending_the_rest(client, stub):
    stub.on("POST", SEND, [accepted("m1"), zalo_error(-144, "OA exceeded daily quota")])
    results = client.send_batch([msg(1), msg(2), msg(3), msg(4)])
    assert [r.status for r in results] == [ACCEPTED, RETRYABLE, RETRYABLE, RETRYABLE]
    assert [r.attempted for r in results] == [True, True, False, False]
    assert {r.error_code for r in results[1:]} == {"OA_DAILY_LIMIT_REACHED"}
    assert results[1].error.halts_batch
    assert len(stub.calls("POST", SEND)) == 2


def test_an_invalid_token_answer_halts_the_batch_for_the_caller_to_refresh(client, stub):
    stub.on("POST", SEND, zalo_error(-124, "Access token invalid"))
    results = client.send_batch([msg(1), msg(2)])
    assert [r.status for r in results] == [RETRYABLE, RETRYABLE]
    assert results[0].error.kind == errors.TOKEN and results[0].attempted
    assert results[1].attempted is False
    assert len(stub.calls("POST", SEND)) == 1


def test_an_invalid_token_answer_to_a_management_call_raises_a_token_error(client, stub):
    stub.on("GET", "/zalo/message/quota", zalo_error(-216, "Access token is invalid"))
    with pytest.raises(ProviderError) as caught:
        client.get_quota()
    assert caught.value.error.kind == errors.TOKEN and caught.value.provider_code == "-216"


def test_a_5xx_storm_leaves_the_batch_retryable_without_double_sending(client, stub):
    stub.on("POST", SEND, Reply({"error": "boom"}, status=500))
    results = client.send_batch([msg(1), msg(2), msg(3)])
    assert {r.status for r in results} == {RETRYABLE}
    assert results[0].error_code == "SEND_OUTCOME_UNKNOWN"
    assert [r.attempted for r in results] == [True, False, False]
    assert len(stub.calls("POST", SEND)) == 1  # never repeated blindly: Zalo may have sent it


def test_a_503_storm_is_retried_with_backoff_then_halts_the_batch(client, stub, sleeps):
    stub.on("POST", SEND, Reply({}, status=503, headers={"Retry-After": "1"}))
    results = client.send_batch([msg(1), msg(2)])
    assert [r.status for r in results] == [RETRYABLE, RETRYABLE]
    assert results[0].error_code == "PROVIDER_SERVER_ERROR"
    assert results[0].error.halts_batch and results[1].attempted is False
    assert len(stub.calls("POST", SEND)) == 4
    assert all(s >= 1 for s in sleeps)


def test_the_uid_channel_uses_the_oa_host_path_and_reads_message_id(client, stub):
    stub.on("POST", "/zalo/v3.0/oa/message/template", zalo_ok({"message_id": "uid-msg-1"}))
    [result] = client.send_batch([MessageRequest("t1", "123", {"a": "b"}, user_id="2512523625412515")])
    assert result.status == ACCEPTED and result.provider_message_id == "uid-msg-1"
    body = stub.calls("POST", "/zalo/v3.0/oa/message/template")[0].json
    assert body == {"user_id": "2512523625412515", "template_id": "123", "template_data": {"a": "b"}}


def test_encrypted_sends_encrypt_phone_and_every_value_with_the_given_key(stub, http):
    private = rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
    client = ZaloClient(ACCOUNT, PublicKey(b64_der(private)), http=http, api_base=f"{stub.url}/zalo")
    stub.on("POST", "/zalo/rsa/message/template", accepted())
    results = client.send_batch([msg(1, encrypted=True), msg(2, encrypted=True)])
    assert {r.status for r in results} == {ACCEPTED}
    body = stub.calls("POST", "/zalo/rsa/message/template")[0].json
    assert "phone" not in body
    decrypt = lambda v: private.decrypt(base64.b64decode(v), JVM_OAEP).decode()  # noqa: E731
    assert decrypt(body["rsa_phone"]) == "84987654321"
    assert {k: decrypt(v) for k, v in body["template_data"].items()} == {
        "customer": "Nguyễn Thị Hoàng Anh",
        "amount": "100000",
    }


def test_a_value_too_long_to_encrypt_is_rejected_before_sending(stub, http):
    # 2048 bits: the smallest key accepted (zalo_admin.lib.rsa.MIN_KEY_BITS), 190 bytes per value.
    private = rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
    client = ZaloClient(ACCOUNT, PublicKey(b64_der(private)), http=http, api_base=f"{stub.url}/zalo")
    message = MessageRequest("t1", "1", {"address": "x" * 191}, phone="84987654321", encrypted=True)
    [result] = client.send_batch([message])
    assert result.status == REJECTED
    assert result.error_code == "TEMPLATE_DATA_ENCRYPTION_FAILED"
    assert "'address'" in result.provider_message and "at most 190 bytes" in result.provider_message
    assert stub.requests == []


def test_an_encrypted_message_without_a_key_fails_with_the_callers_reason(stub, http):
    why = EncryptionError("the provider's key is too weak")
    client = ZaloClient(ACCOUNT, key_error=why, http=http, api_base=f"{stub.url}/zalo")
    [result] = client.send_batch([msg(1, encrypted=True)])
    assert (result.status, result.error_code, result.attempted) == (
        REJECTED,
        "TEMPLATE_DATA_ENCRYPTION_FAILED",
        False,
    )
    assert result.provider_message == "the provider's key is too weak"
    assert stub.requests == []


def test_it_lists_templates_page_by_page(client, stub):
    def page(request):
        offset = int(request.query["offset"])
        items = [
            {"templateId": i, "templateName": f"T{i}", "status": "ENABLE", "templateQuality": "HIGH"}
            for i in range(offset, min(offset + 100, 150))
        ]
        return Reply({"error": 0, "message": "Success", "data": items, "metadata": {"total": 150}})

    stub.on("GET", "/zalo/template/all", page)
    templates = client.list_templates()
    assert len(templates) == 150 and templates[149].template_id == "149"
    assert [c.query["offset"] for c in stub.calls("GET", "/zalo/template/all")] == ["0", "100"]


def test_it_reads_template_detail(client, stub):
    stub.on(
        "GET",
        "/zalo/template/info/v2",
        zalo_ok(
            {
                "templateId": "12345",
                "templateName": "Đơn hàng",
                "status": "ENABLE",
                "listParams": [{"name": "payment_link", "require": True, "type": "STRING", "maxLength": 30}],
                "listButtons": [{"type": 1, "title": "Web", "content": "https://example.com"}],
                "previewUrl": "https://account.zalo.cloud/znspreview/x",
                "templateQuality": "HIGH",
                "templateTag": "IN_TRANSACTION",
            }
        ),
    )
    template = client.get_template("12345")
    assert stub.calls("GET", "/zalo/template/info/v2")[0].query == {"template_id": "12345"}
    assert (template.name, template.status, template.tag, template.quality) == (
        "Đơn hàng",
        "ENABLE",
        "IN_TRANSACTION",
        "HIGH",
    )
    assert template.params[0]["maxLength"] == 30


def test_it_reads_quota_given_as_numbers_strings_or_null(client, stub):
    stub.on(
        "GET",
        "/zalo/message/quota",
        Reply(
            {
                "data": {
                    "dailyQuota": "500",
                    "remainingQuota": 499,
                    "dailyQuotaPromotion": None,
                    "monthlyPromotionQuota": 125,
                    "remainingMonthlyPromotionQuota": "124",
                    "estimatedNextMonthPromotionQuota": 2000,
                },
                "error": 0,
                "message": "success",
            }
        ),
    )
    quota = client.get_quota()
    assert (quota.daily, quota.remaining, quota.monthly_promotion, quota.remaining_monthly_promotion) == (
        500,
        499,
        125,
        124,
    )
    assert quota.estimated_next_month_promotion == 2000


def test_it_reads_quality(client, stub):
    stub.on(
        "GET",
        "/zalo/quality",
        Reply(
            {
                "data": {"oaCurrentQuality": "HIGH", "oa7dayQuality": "MEDIUM"},
                "error": 0,
                "message": "success",
            }
        ),
    )
    quality = client.get_quality()
    assert (quality.current, quality.last_7_days) == ("HIGH", "MEDIUM")


def test_management_calls_raise_mapped_errors(client, stub):
    stub.on("GET", "/zalo/rsa/key/get", zalo_error(-142, "RSA key does not exist"))
    with pytest.raises(ProviderError) as caught:
        client.get_public_key()
    assert caught.value.error.code == "RSA_KEY_MISSING"
    assert caught.value.permanent is True


def test_none_values_are_sent_as_empty_strings(client, stub):
    stub.on("POST", SEND, accepted())
    client.send_batch([MessageRequest("t1", "1", {"date": None, "n": 5}, phone="84987654321")])
    assert stub.calls("POST", SEND)[0].json["template_data"] == {"date": "", "n": "5"}


def test_a_key_the_provider_no_longer_accepts_is_flagged_for_the_caller_to_retire(stub, http):
    stub.on("POST", "/zalo/rsa/message/template", zalo_error(-123, "RSA decode failed"))
    private = rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
    client = ZaloClient(ACCOUNT, PublicKey(b64_der(private)), http=http, api_base=f"{stub.url}/zalo")
    [result] = client.send_batch([msg(1, encrypted=True)])
    assert result.status == RETRYABLE and result.error_code == "RSA_DECODE_FAILED"
    assert result.key_refused


def test_nothing_leaves_while_the_oas_kill_switch_is_on(stub, http):
    client = ZaloClient(replace(ACCOUNT, sends_stopped=True), http=http, api_base=f"{stub.url}/zalo")
    results = client.send_batch([msg(1), msg(2)])
    assert {(r.status, r.error_code, r.attempted) for r in results} == {
        (RETRYABLE, "OA_SENDING_STOPPED", False)
    }
    assert stub.requests == []
