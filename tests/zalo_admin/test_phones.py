"""Strict parsing of Vietnamese mobile numbers, old-prefix mapping, masking (zalo_admin.lib.phones)."""

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zalo_admin.lib import phones
from zalo_admin.lib.phones import PhoneRejected, mask_phone, national_format, parse_vietnamese_mobile

ACCEPTED = [
    ("0912345678", "84912345678"),
    ("+84912345678", "84912345678"),
    ("84912345678", "84912345678"),
    ("0084912345678", "84912345678"),
    ("+84 912 345 678", "84912345678"),
    ("84-912-345-678", "84912345678"),
    ("0912.345.678", "84912345678"),
    ("0912 345 678", "84912345678"),
    ("0912-345-678", "84912345678"),
    ("(091) 234-5678", "84912345678"),
    ("+84 (91) 234 5678", "84912345678"),
    ("0084 912 345 678", "84912345678"),
    ("  0912345678\t", "84912345678"),
    ("0912.345-678", "84912345678"),
    ("0387654321", "84387654321"),
    ("0562345678", "84562345678"),
    ("0592345678", "84592345678"),
    ("0701234567", "84701234567"),
    ("0862345678", "84862345678"),
    ("0896123456", "84896123456"),
    ("0991234567", "84991234567"),
]

OLD = [(old, new) for old, new in phones.OLD_PREFIXES.items()]

REFUSED = [
    ("", "empty"),
    ("   ", "empty"),
    ("0912345678abc", "letters"),
    ("0912-FLOWERS", "letters"),
    ("tel:+84912345678", "letters"),
    ("O912345678", "letters"),
    ("091234567８", "non_ascii_digits"),
    ("٠٩١٢٣٤٥٦٧٨", "non_ascii_digits"),
    ("０９１２３４５６７８", "non_ascii_digits"),
    ("0912 345 678 ext 12", "extension"),
    ("0912345678 x12", "extension"),
    ("0912345678ext.12", "extension"),
    ("0912345678#12", "extension"),
    ("0912345678;ext=1", "extension"),
    ("0912345678,12", "extension"),
    ("++84912345678", "bad_plus"),
    ("84+912345678", "bad_plus"),
    ("+ 84912345678", "bad_plus"),
    ("+", "bad_plus"),
    ("0912/345/678", "bad_characters"),
    ("0912_345_678", "bad_characters"),
    ("0912\u2013345\u2013678", "bad_characters"),
    ("0912\u00a0345678", "bad_characters"),
    ("*0912345678", "bad_characters"),
    ("0912  345678", "bad_separators"),
    ("0912..345.678", "bad_separators"),
    ("0912 -345678", "bad_separators"),
    ("-0912345678", "bad_separators"),
    ("0912345678.", "bad_separators"),
    ("(091 234 5678", "bad_separators"),
    ("(0)(91)2345678", "bad_separators"),
    ("((091)) 2345678", "bad_separators"),
    ("+1 650 253 0000", "foreign"),
    ("+33 6 12 34 56 78", "foreign"),
    ("001 650 253 0000", "foreign"),
    ("+84 (0) 912 345 678", "trunk_zero"),
    ("+840912345678", "trunk_zero"),
    ("840912345678", "trunk_zero"),
    ("912345678", "missing_prefix"),
    ("091234567", "too_short"),
    ("+849", "too_short"),
    ("0", "too_short"),
    ("0162345678", "too_short"),
    ("09123456789", "too_long"),
    ("016234567890", "too_long"),
    ("0912345678901234567", "too_long"),
    ("0" * 41, "too_long"),
    ("0243 123 4567", "landline"),
    ("028 3823 4567", "landline"),
    ("+84 24 3123 4567", "landline"),
    ("0243123", "landline"),
    ("1800 1234", "not_mobile"),
    ("1900 1234", "not_mobile"),
    ("1900123456", "not_mobile"),
    ("0992345678", "not_mobile"),
    ("0552345678", "not_mobile"),
    ("0612345678", "not_mobile"),
    ("0140123456", "not_mobile"),
]

# Refused here, yet phonenumbers.parse(..., "VN") alone reads a valid mobile number.
LENIENT_ACCEPTS = [
    "091234567８",
    "٠٩١٢٣٤٥٦٧٨",
    "tel:+84912345678",
    "0912 345 678 ext 12",
    "0912345678#12",
    "+84 (0) 912 345 678",
    "0912  345678",
    "++84912345678",
]


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED)
def test_accepted_forms_are_normalised(raw, expected):
    assert parse_vietnamese_mobile(raw) == expected


@pytest.mark.parametrize(("old", "new"), OLD)
def test_old_eleven_digit_prefixes_map_to_the_current_valid_mobile_ranges(old, new):
    expected = f"84{new}1234567"
    assert parse_vietnamese_mobile(f"0{old}1234567") == expected
    assert parse_vietnamese_mobile(f"+84 {old} 123 4567") == expected
    number = phonenumbers.parse("+" + expected)
    assert phonenumbers.is_valid_number(number)
    assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    old_number = phonenumbers.parse(f"0{old}1234567", "VN")
    assert not phonenumbers.is_valid_number(old_number)


def test_the_old_prefix_table_is_the_2018_conversion():
    assert len(phones.OLD_PREFIXES) == 21
    assert len(set(phones.OLD_PREFIXES.values())) == 21


@pytest.mark.parametrize(("raw", "code"), REFUSED)
def test_refused_inputs_carry_their_reason(raw, code):
    with pytest.raises(PhoneRejected) as caught:
        parse_vietnamese_mobile(raw)
    assert caught.value.code == code
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == str(phones.REASONS[code])


@pytest.mark.parametrize("raw", LENIENT_ACCEPTS)
def test_phonenumbers_alone_accepts_what_the_precheck_refuses(raw):
    number = phonenumbers.parse(raw, "VN")
    assert phonenumbers.is_valid_number(number)
    assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    with pytest.raises(PhoneRejected):
        parse_vietnamese_mobile(raw)


def test_every_reason_code_is_exercised():
    assert {code for _, code in REFUSED} == set(phones.REASONS)


def test_vietnam_metadata_has_no_fixed_line_or_mobile_overlap():
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("VN")
    mobile = metadata.mobile.national_number_pattern
    fixed = metadata.fixed_line.national_number_pattern
    assert mobile != fixed
    for raw, normalised in ACCEPTED:
        number = phonenumbers.parse("+" + normalised)
        assert phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE, raw


def test_national_format_and_mask():
    assert national_format("84912345678") == "0912345678"
    assert mask_phone("84912345678") == "0912***678"
    assert mask_phone(parse_vietnamese_mobile("+84 387 654 321")) == "0387***321"


@pytest.mark.parametrize("bad", ["0912345678", "8491234567", "849123456789", "+84912345678", "", None])
def test_formatting_refuses_what_is_not_normalised(bad):
    with pytest.raises(ValueError, match="normalised"):
        national_format(bad)
    with pytest.raises(ValueError, match="normalised"):
        mask_phone(bad)


# The fast path (plain cells skip the pre-check; a 3-digit prefix decides a 9-digit mobile number)
# answers exactly as the full path: same number or same refusal code.


def _outcome(raw: str, fast: bool) -> str:
    try:
        return phones._parse(raw, fast=fast)
    except PhoneRejected as refusal:
        return f"refused:{refusal.code}"


def _same_on_both_paths(raw: str) -> str:
    full, quick = _outcome(raw, fast=False), _outcome(raw, fast=True)
    assert quick == full, raw
    return quick


def test_the_fast_path_is_taken_and_agrees_on_the_table_cases():
    for raw, expected in ACCEPTED:
        assert _same_on_both_paths(raw) == expected
    for raw, code in REFUSED:
        assert _same_on_both_paths(raw) == f"refused:{code}"
    for old, new in OLD:
        assert _same_on_both_paths(f"0{old}1234567") == f"84{new}1234567"
    assert phones._MOBILE_PREFIX["912"] is True  # the verdict was remembered
    assert phones._MOBILE_PREFIX["992"] is False


def test_every_four_digit_mobile_prefix_agrees_with_phonenumbers():
    """Every 4-digit national prefix starting 3, 5, 7, 8 or 9 (the only ones the fast path can
    accept; so every 3-digit prefix it decides, and each digit after it), with suffixes that put
    every digit at every later position: both paths give the same number or the same refusal."""
    suffixes = ["".join(str((start + i) % 10) for i in range(5)) for start in range(10)]
    accepted = 0
    for first in "35789":
        for rest in range(1000):
            for suffix in suffixes:
                outcome = _same_on_both_paths(f"0{first}{rest:03d}{suffix}")
                accepted += not outcome.startswith("refused")
    assert accepted > 30_000  # most of these prefixes are mobile ranges: the fast path is exercised


@pytest.mark.parametrize("length", range(1, 16))
def test_every_length_agrees_for_every_three_digit_prefix(length):
    for prefix in range(1000):
        digits = (f"{prefix:03d}" + "4567890123456")[:length]
        for raw in ("0" + digits, "+84" + digits, "84" + digits, "0084" + digits, digits):
            _same_on_both_paths(raw)


def test_separators_and_prefix_forms_agree():
    for nsn in ("912345678", "387654321", "1623456789", "243123456", "552345678", "19001234"):
        groups = [nsn[:3], nsn[3:6], nsn[6:]]
        for lead in ("0", "+84", "84", "0084", "+84 ", "0084 ", "+840", "+"):
            for sep in ("", " ", ".", "-", "  ", " -", ".."):
                _same_on_both_paths(lead + sep.join(groups))
                _same_on_both_paths(lead + sep.join(groups) + sep)
                _same_on_both_paths(sep + lead + sep.join(groups))


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="0123456789+ .-()x#٣８\u00a0a", max_size=20))
def test_arbitrary_strings_agree(raw):
    _same_on_both_paths(raw)


@settings(max_examples=1000, deadline=None)
@given(
    st.sampled_from(["0", "+84", "84", "0084", "+84 ", "0 ", ""]),
    st.lists(st.text(alphabet="0123456789", min_size=1, max_size=4), min_size=1, max_size=5),
    st.sampled_from(["", " ", ".", "-"]),
)
def test_plausible_numbers_agree(lead, groups, sep):
    _same_on_both_paths(lead + sep.join(groups))
