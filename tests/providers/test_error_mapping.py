"""Every documented Zalo code (provider-apis.md §1.15) and Infobip status group (§2.10) is mapped."""

import pytest

from providers import errors
from providers.base import REJECTED, RETRYABLE, MessageRequest, result_for_error

# The ZNS/ZBS table of §1.15 plus the OA-host subset, exactly as documented.
DOCUMENTED_ZALO_CODES = [
    -100, -101, -102, -103, -104, -105, -106, -107, -108, -109, -1091, -110, -111, -112, -1121, -1122,
    -1123, -1124, -113, -1131, -114, -115, -116, -117, -118, -119, -120, -1201, -1202, -121, -122, -123,
    -124, -1241, -125, -126, -127, -128, -129, -130, -131, -132, -133, -134, -135, -1351, -136, -137,
    -138, -1381, -139, -140, -141, -142, -143, -144, -1441, -145, -146, -147, -1471, -1472, -148, -149,
    -1491, -150, -151, -152, -153, -158, -159, -160, -161, -162, -249,
    -32, -201, -209, -212, -213, -216, -220, -221, -223, -224, -227, -230, -234, -240, -242, -244, -248,
    -320, -321,
]  # fmt: skip


@pytest.mark.parametrize("code", DOCUMENTED_ZALO_CODES)
def test_every_documented_zalo_code_has_our_code_and_both_texts(code):
    info = errors.ZALO_ERRORS[code]
    assert info.code.isupper() and " " not in info.code
    assert info.vi and info.en and info.vi != info.en
    assert info.kind in (errors.PERMANENT, errors.RETRY, errors.TOKEN)
    assert info.scope in (errors.MESSAGE, errors.TEMPLATE, errors.OA)


@pytest.mark.parametrize("code", [-124, -216, -220])
def test_token_errors_ask_for_one_refresh(code):
    assert errors.zalo_error(code).kind == errors.TOKEN


@pytest.mark.parametrize("code", [-108, -118, -114, -119, -139, -140, -141, -1121, -1122])
def test_recipient_and_payload_errors_reject_only_that_message(code):
    result = result_for_error(MessageRequest("t", "1", {}), errors.zalo_error(code))
    assert result.status == REJECTED
    assert not result.error.halts_batch


@pytest.mark.parametrize("code", [-144, -115, -137, -133, -1441, -32])
def test_oa_wide_limits_are_retryable_and_halt_the_batch(code):
    result = result_for_error(MessageRequest("t", "1", {}), errors.zalo_error(code))
    assert result.status == RETRYABLE
    assert result.error.halts_batch


@pytest.mark.parametrize("code", [-135, -1351, -101, -104])
def test_blocked_oas_halt_the_batch_but_keep_the_messages_for_later(code):
    result = result_for_error(MessageRequest("t", "1", {}), errors.zalo_error(code))
    assert result.error.permanent and result.error.halts_batch
    assert result.status == RETRYABLE


def test_an_unknown_zalo_code_is_permanent_and_names_the_code():
    info = errors.zalo_error(-99999)
    assert info.permanent and info.code == "PROVIDER_UNMAPPED_ERROR"
    assert "-99999" in info.en and "-99999" in info.vi


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"groupId": 1, "groupName": "PENDING", "id": 7, "name": "PENDING_ENROUTE"}, None),
        ({"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}, None),
        ({"groupId": 0, "groupName": "OK", "id": 0}, None),
        ({"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9}, "UNDELIVERABLE"),
        ({"groupId": 4, "groupName": "EXPIRED", "id": 15}, "EXPIRED"),
        ({"groupId": 5, "groupName": "REJECTED", "id": 99}, "REJECTED"),
        ({"groupId": 5, "groupName": "REJECTED", "id": 18}, "RECIPIENT_NOT_ON_ZALO"),
        ({"groupId": 5, "groupName": "REJECTED", "id": 12}, "OUT_OF_BALANCE"),
        ({"groupId": 5, "groupName": "REJECTED", "id": 13}, "SENDER_NOT_REGISTERED"),
        ({"groupId": 5, "groupName": "REJECTED", "id": 52}, "PHONE_INVALID"),
    ],
)
def test_infobip_status_groups_map_to_our_codes(status, expected):
    info = errors.infobip_status_error(status)
    assert (info.code if info else None) == expected
    if info:
        assert info.vi and info.en
