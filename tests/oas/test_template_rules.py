"""The pure template rules the campaign builder will share: provider words and parameter validation."""

import unicodedata

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys

from oas.models import MessageTemplate
from oas.template_rules import (
    normalise_params,
    normalise_value,
    status_from_provider,
    tag_from_provider,
    validate_template_data,
)
from zalo_admin.lib.rsa import EncryptionError

Tag = MessageTemplate.Tag
Status = MessageTemplate.Status


def template_with(*params) -> MessageTemplate:
    """An unsaved template: validation needs no database."""
    return MessageTemplate(template_id="1", name="t", tag=Tag.TRANSACTION, params=list(params))


def param(name="customer_name", **rules):
    return {"name": name, "type": "STRING", "require": True, "maxLength": 30, "minLength": 0, **rules}


def codes(errors):
    return [(e.param, e.code) for e in errors]


@pytest.mark.parametrize(
    ("word", "tag"),
    [
        ("TRANSACTION", Tag.TRANSACTION),
        ("OTP", Tag.TRANSACTION),
        ("IN_TRANSACTION", Tag.TRANSACTION),
        ("POST_TRANSACTION", Tag.TRANSACTION),
        ("CUSTOMER_CARE", Tag.CUSTOMER_CARE),
        ("ACCOUNT_UPDATE", Tag.CUSTOMER_CARE),
        ("GENERAL_UPDATE", Tag.CUSTOMER_CARE),
        ("PROMOTION", Tag.MARKETING),
        ("FOLLOW_UP", Tag.MARKETING),
        ("3", Tag.MARKETING),
        ("promotion", Tag.MARKETING),
        ("SOMETHING_NEW", None),
        ("", None),
    ],
)
def test_provider_tag_words_old_and_new_map_to_our_three_tags(word, tag):
    assert tag_from_provider(word) == tag


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("ENABLE", Status.ENABLED),
        ("ENABLED", Status.ENABLED),
        ("PENDING_REVIEW", Status.PENDING_REVIEW),
        ("REJECT", Status.REJECTED),
        ("REJECTED", Status.REJECTED),
        ("DISABLE", Status.DISABLED),
        ("DELETE", Status.DISABLED),
        ("DRAFT", Status.PENDING_REVIEW),
        ("WHATEVER", None),
    ],
)
def test_provider_status_words_map_to_our_statuses(word, status):
    assert status_from_provider(word) == status


def test_infobip_parameter_flags_are_read_like_zalos():
    [infobip] = normalise_params([{"name": "otp", "required": False, "type": "OTP", "maxLength": "10"}])
    assert infobip == {
        "name": "otp",
        "type": "OTP",
        "require": False,
        "maxLength": 10,
        "minLength": 0,
        "acceptNull": False,
    }


def test_a_missing_required_parameter_is_named():
    errors = validate_template_data(template_with(param("order_code")), {})
    assert codes(errors) == [("order_code", "required")]
    assert errors[0].message == "order_code is required."


def test_an_optional_parameter_may_be_left_out():
    assert validate_template_data(template_with(param("note", require=False)), {}) == []


def test_an_empty_value_is_refused_unless_the_parameter_accepts_null():
    strict = template_with(param("customer_name"))
    lenient = template_with(param("customer_name", acceptNull=True))
    assert codes(validate_template_data(strict, {"customer_name": "  "})) == [("customer_name", "empty")]
    assert codes(validate_template_data(strict, {"customer_name": None})) == [("customer_name", "empty")]
    assert validate_template_data(lenient, {"customer_name": ""}) == []


def test_the_max_length_counts_characters_after_nfc_normalisation():
    name = "Nguyễn Thị Ánh Tuyết Hoàng Mỹ"  # 29 characters composed
    decomposed = unicodedata.normalize("NFD", name)
    assert len(decomposed) > 30 and len(normalise_value(decomposed)) == 29
    template = template_with(param("customer_name", maxLength=29))
    assert validate_template_data(template, {"customer_name": decomposed}) == []
    errors = validate_template_data(template, {"customer_name": decomposed + "!"})
    assert [e.message for e in errors] == ["customer_name is 30 characters long; at most 29 are allowed."]


def test_a_value_shorter_than_the_min_length_is_named():
    errors = validate_template_data(template_with(param("otp", minLength=4, maxLength=10)), {"otp": "12"})
    assert [e.message for e in errors] == ["otp is 2 characters long; at least 4 are needed."]


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        ("NUMBER", "150000", "150k"),
        ("CURRENCY_VND", "150000", "150.000"),
        ("DATE", "20/11/2026", "2026-11-20"),
        ("TIME", "14:30 20/11/2026", "2pm"),
        ("URL", "https://example.com/a", "example.com"),
        ("PHONE_NUMBER", "84912345678", "09-12"),
    ],
)
def test_values_must_fit_the_parameter_type(type_, good, bad):
    template = template_with(param("p", type=type_))
    assert validate_template_data(template, {"p": good}) == []
    assert codes(validate_template_data(template, {"p": bad})) == [("p", "format")]


def test_numbers_are_accepted_as_json_numbers_but_booleans_and_objects_are_not():
    template = template_with(param("amount", type="NUMBER"), param("name"))
    assert validate_template_data(template, {"amount": 150000, "name": "A"}) == []
    errors = validate_template_data(template, {"amount": True, "name": {"first": "A"}})
    assert codes(errors) == [("amount", "type"), ("name", "type")]


def test_keys_that_are_not_parameters_are_named():
    errors = validate_template_data(template_with(param("name")), {"name": "A", "nmae": "B"})
    assert [e.message for e in errors] == ["nmae is not a parameter of this template."]


def test_something_other_than_an_object_is_one_error():
    assert codes(validate_template_data(template_with(param()), ["a"])) == [("", "type")]


@pytest.fixture(scope="module")
def public_key():
    return rsa_keys.generate_private_key(public_exponent=65537, key_size=2048).public_key()


def test_encrypted_values_must_fit_one_oaep_block_counted_in_utf8_bytes(public_key):
    template = template_with(param("address", maxLength=200))
    assert validate_template_data(template, {"address": "a" * 190}, public_key=public_key) == []
    errors = validate_template_data(template, {"address": "ă" * 96}, public_key=public_key)  # 192 bytes
    assert codes(errors) == [("address", "encryption")]
    assert "address is 192 bytes in UTF-8" in errors[0].message and "at most 190 bytes" in errors[0].message


def test_the_oaep_limit_depends_on_the_key_size():
    small = rsa_keys.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505
    template = template_with(param("code", maxLength=100))
    assert codes(validate_template_data(template, {"code": "x" * 63}, public_key=small)) == [
        ("code", "encryption")
    ]
    assert validate_template_data(template, {"code": "x" * 62}, public_key=small) == []


def test_an_unreadable_public_key_is_an_encryption_error():
    with pytest.raises(EncryptionError):
        validate_template_data(template_with(param()), {"customer_name": "A"}, public_key="not a key")
