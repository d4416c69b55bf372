"""providers.signatures: the pure checks behind the webhook views (no database)."""

import hashlib

import pytest

from providers.signatures import (
    infobip_named_senders,
    infobip_token_hash,
    presented_zalo_signature,
    zalo_event_time,
    zalo_named_oa_ids,
    zalo_signature,
    zalo_signature_matches,
)

BODY = b'{"app_id":"app-1","event_name":"user_received_message","timestamp":"1700000000000"}'


def test_the_zalo_signature_is_plain_sha256_of_first_term_body_timestamp_and_secret():
    expected = hashlib.sha256(b"app-1" + BODY + b"1700000000000" + b"secret").hexdigest()
    assert zalo_signature("app-1", BODY, "1700000000000", "secret") == f"mac={expected}"


def test_a_presented_signature_matches_with_or_without_its_prefix_in_any_case():
    mac = zalo_signature("app-1", BODY, "1700000000000", "secret")
    for header in (mac, mac.upper(), mac.removeprefix("mac="), f"  {mac}  "):
        presented = presented_zalo_signature(header)
        assert zalo_signature_matches(
            presented, first_term="app-1", raw_body=BODY, timestamp="1700000000000", secret="secret"
        )
    assert not zalo_signature_matches(
        presented_zalo_signature(mac),
        first_term="app-1",
        raw_body=BODY,
        timestamp="1700000000000",
        secret="x",
    )


def test_an_event_time_beyond_any_calendar_is_a_value_error():
    assert zalo_event_time("1700000000000").year == 2023
    with pytest.raises(ValueError):
        zalo_event_time("9" * 30)


def test_a_zalo_event_names_its_oa_by_oa_id_or_by_the_party_on_the_oas_side():
    assert zalo_named_oa_ids({"oa_id": "1", "sender": {"id": "2"}}) == {"1", "2"}
    assert zalo_named_oa_ids(
        {"event_name": "user_send_text", "sender": {"id": "u"}, "recipient": {"id": "3"}}
    ) == {"3"}
    assert zalo_named_oa_ids({"event_name": "user_feedback"}) == set()


def test_infobip_senders_come_from_inbound_to_and_report_sender_but_never_an_sms_sender():
    payload = {
        "results": [
            {"message": {}, "to": "oa-in", "sender": "user"},
            {"sender": "oa-report", "to": "8490"},
            {"channel": "SMS", "sender": "BRAND"},
            "junk",
        ]
    }
    assert infobip_named_senders(payload) == {"oa-in", "oa-report"}


def test_the_infobip_token_is_stored_as_its_sha256():
    assert infobip_token_hash("t") == hashlib.sha256(b"t").hexdigest()
