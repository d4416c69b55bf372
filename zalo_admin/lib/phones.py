"""Strict parsing, formatting and masking of Vietnamese mobile numbers (pure).

Phones are stored normalised as "84" followed by the 9-digit national significant number.

Rules of `parse_vietnamese_mobile` (each refusal raises `PhoneRejected` with a stable `code`):

1. Surrounding spaces and tabs are stripped (forms and CSV cells carry them); nothing else is.
2. A strict pre-check runs before `phonenumbers`, which is lenient: it ignores "tel:", trailing
   letters, "(0)", doubled separators, reads extensions, vanity letters and any Unicode digit.
   Allowed: ASCII digits, one leading "+", and single " ", "." or "-" between digit groups; one
   digit group may be wrapped in parentheses, "(091) 234-5678". Refused: non-ASCII digits
   ("non_ascii_digits", full-width or Arabic-Indic), extensions "ext"/"x"/"#"/";"/"," ("extension"),
   any letter ("letters"), a "+" that is doubled or not first ("bad_plus"), any other character
   ("bad_characters"), doubled, leading or trailing separators and unbalanced or several pairs of
   parentheses ("bad_separators").
3. Accepted prefixes: "0" (national), "+84", "84" and "0084" ("00" is Vietnam's international
   dialling prefix, so "0084 912 345 678" is what a caller dials; it is accepted like "+84").
   Another country code after "+" or "00" is "foreign". A 0 after the country code ("+84 (0) 912…",
   "840912…") is "trunk_zero". Digits with no prefix are "missing_prefix" (a spreadsheet that
   dropped the 0), except 1xxx service numbers, which are "not_mobile".
4. Old 11-digit numbers (the 2018 conversion, `OLD_PREFIXES`) are mapped to their current prefix.
5. The ranges come from `phonenumbers`: only `MOBILE` numbers whose national number starts with
   3, 5, 7, 8 or 9 are accepted. Vietnam's metadata has no `FIXED_LINE_OR_MOBILE` overlap (a test
   checks it); a number of that type would be refused as ambiguous ("not_mobile"). The 9-digit 01x
   ranges the metadata lists as mobile (140, 160, 1210–1213) are refused: they read as truncated
   old numbers. Valid 02x numbers are "landline", every other valid type (1800/1900…) and invalid
   9-digit numbers are "not_mobile"; otherwise the length decides "too_short"/"too_long".

Fast path (same answers, a CSV import parses a million numbers): the validity of a 9-digit
Vietnamese mobile number depends only on its first three digits (phonenumbers' patterns for VN are
digit classes on the leading digits followed by six free digits). So a plain cell (ASCII digits, an
optional leading "+", single spaces, dots or dashes) skips the character-by-character pre-check,
which accepts it unchanged, and a 9-digit national number whose 3-digit prefix phonenumbers reads
as MOBILE for every one of `_PREFIX_SAMPLES` (each digit at each later position) is accepted
without calling phonenumbers again. The verdict is computed once per prefix, lazily, from
phonenumbers itself; every other number (all refusals) takes the full path above, so codes and
messages are unchanged. tests/zalo_admin/test_phones.py compares both paths over every 4-digit
prefix and every length.
"""

import re

import phonenumbers
from django.utils.translation import gettext_lazy as _

__all__ = [
    "OLD_PREFIXES",
    "REASONS",
    "PhoneRejected",
    "mask_phone",
    "national_format",
    "parse_vietnamese_mobile",
]

# 2018 conversion of 11-digit mobile numbers: old national prefix (without 0) -> current prefix.
OLD_PREFIXES = {
    "162": "32",
    "163": "33",
    "164": "34",
    "165": "35",
    "166": "36",
    "167": "37",
    "168": "38",
    "169": "39",
    "120": "70",
    "121": "79",
    "122": "77",
    "126": "76",
    "128": "78",
    "123": "83",
    "124": "84",
    "125": "85",
    "127": "81",
    "129": "82",
    "186": "56",
    "188": "58",
    "199": "59",
}

REASONS = {
    "empty": _("Enter a phone number."),
    "non_ascii_digits": _(
        "Use ordinary digits 0–9: the number contains full-width or other non-Latin digits."
    ),
    "extension": _("Remove the extension: a mobile number has none."),
    "letters": _("A phone number cannot contain letters."),
    "bad_plus": _("A “+” may appear only once, at the start, followed by the country code."),
    "bad_characters": _(
        "Use only digits, a leading “+”, and spaces, dots, dashes or parentheses between digits."
    ),
    "bad_separators": _(
        "Separate digit groups with a single space, dot or dash, and balance the parentheses."
    ),
    "foreign": _("Only Vietnamese numbers (+84) are accepted."),
    "trunk_zero": _("Remove the 0 after the country code 84."),
    "missing_prefix": _("Start the number with 0 or +84, for example 0912 345 678."),
    "too_short": _("This number is too short for a Vietnamese mobile number."),
    "too_long": _("This number is too long for a Vietnamese mobile number."),
    "landline": _("This is a landline number; enter a mobile number."),
    "not_mobile": _("This is not a Vietnamese mobile number."),
}

_MAX_RAW = 40
_MAX_DIGITS = 15  # E.164
_MOBILE_LEADING = frozenset("35789")
_EXTENSION = re.compile(r"(?:ext(?:ension|n)?|x)\.?\s*[:=]?\s*\d+$", re.IGNORECASE)
_GRAMMAR = re.compile(r"\+?(?:\(\d+\)|\d+)(?:[ .-]?(?:\(\d+\)|\d+))*")
_ALLOWED = frozenset("0123456789+ .-()")
_NORMALISED = re.compile(r"84\d{9}")
# What the pre-check accepts unchanged: ASCII digits, one leading "+", single " ", "." or "-".
_PLAIN = re.compile(r"\+?[0-9]+(?:[ .-][0-9]+)*")
# Suffixes of a 3-digit prefix: together they put every digit at every one of the 6 later positions.
_PREFIX_SAMPLES = tuple("".join(str((start + i) % 10) for i in range(6)) for start in range(10))
_MOBILE_PREFIX: dict[str, bool] = {}  # 3-digit national prefix -> every 9-digit number is mobile


class PhoneRejected(ValueError):
    """A refused phone number: `code` is stable for machines, `message` is for the reader."""

    def __init__(self, code: str, message=None):
        self.code = code
        self.message = REASONS[code] if message is None else message
        super().__init__(code, self.message)

    def __str__(self) -> str:
        return str(self.message)


def _precheck(text: str) -> tuple[bool, str]:
    """Refuse what phonenumbers would accept; return (has_plus, ascii digits)."""
    if any(c.isdigit() and c not in "0123456789" for c in text) or any(
        c.isnumeric() and not c.isascii() for c in text
    ):
        raise PhoneRejected("non_ascii_digits")
    if any(c in "#;," for c in text) or _EXTENSION.search(text):
        raise PhoneRejected("extension")
    if any(c.isalpha() for c in text):
        raise PhoneRejected("letters")
    if text.count("+") > 1 or ("+" in text and not text.startswith("+")):
        raise PhoneRejected("bad_plus")
    if any(c not in _ALLOWED for c in text):
        raise PhoneRejected("bad_characters")
    if text == "+":
        raise PhoneRejected("bad_plus")
    if text.startswith("+") and not text[1:2].isdigit() and text[1:2] != "(":
        raise PhoneRejected("bad_plus")
    if text.count("(") > 1 or not _GRAMMAR.fullmatch(text):
        raise PhoneRejected("bad_separators")
    return text.startswith("+"), "".join(c for c in text if c in "0123456789")


def _national_number(has_plus: bool, digits: str) -> str:
    """The national significant number (no trunk 0), from the prefix rules."""
    if has_plus:
        international = digits
    elif digits.startswith("00"):
        international = digits[2:]
    elif digits.startswith("0"):
        return digits[1:]
    elif digits.startswith("84"):
        international = digits
    elif digits.startswith("1"):
        raise PhoneRejected("not_mobile")  # 1800/1900 service numbers, short codes
    else:
        raise PhoneRejected("missing_prefix")
    if len(international) < 2:
        raise PhoneRejected("too_short")
    if not international.startswith("84"):
        raise PhoneRejected("foreign")
    return international[2:]


def _phonenumbers_mobile(nsn: str) -> bool:
    """phonenumbers reads "+84" + nsn as a valid MOBILE number."""
    try:
        number = phonenumbers.parse("+84" + nsn)
    except phonenumbers.NumberParseException:
        return False
    return (
        phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    )


def _always_mobile(prefix: str) -> bool:
    """Every 9-digit national number starting with this 3-digit prefix is an accepted mobile number
    (computed from phonenumbers on first use, then remembered)."""
    verdict = _MOBILE_PREFIX.get(prefix)
    if verdict is None:
        verdict = prefix[0] in _MOBILE_LEADING and all(
            _phonenumbers_mobile(prefix + suffix) for suffix in _PREFIX_SAMPLES
        )
        _MOBILE_PREFIX[prefix] = verdict
    return verdict


def _ranges(nsn: str) -> str:
    """The phonenumbers ranges: "84" + nsn for a mobile number, else PhoneRejected."""
    try:
        number = phonenumbers.parse("+84" + nsn)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        kind = phonenumbers.number_type(number)
        if kind == phonenumbers.PhoneNumberType.MOBILE and nsn[0] in _MOBILE_LEADING and len(nsn) == 9:
            return "84" + nsn
        if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
            raise PhoneRejected("landline")
        raise PhoneRejected("not_mobile")
    if nsn.startswith("2"):
        raise PhoneRejected("landline")
    if len(nsn) < 9:
        raise PhoneRejected("too_short")
    if len(nsn) > 9:
        raise PhoneRejected("too_long")
    raise PhoneRejected("not_mobile")


def _parse(raw: str, fast: bool) -> str:
    text = (raw or "").strip(" \t")
    if not text:
        raise PhoneRejected("empty")
    if len(text) > _MAX_RAW:
        raise PhoneRejected("too_long")
    has_plus = text[0] == "+"
    digits = text[1:] if has_plus else text
    if not (fast and digits.isascii() and digits.isdigit()):  # isdigit: "0"-"9" once ASCII
        if fast and _PLAIN.fullmatch(text):
            digits = digits.replace(" ", "").replace(".", "").replace("-", "")
        else:
            has_plus, digits = _precheck(text)
    if len(digits) > _MAX_DIGITS:
        raise PhoneRejected("too_long")
    nsn = _national_number(has_plus, digits)
    if not nsn:
        raise PhoneRejected("too_short")
    if nsn.startswith("0"):
        raise PhoneRejected("trunk_zero")
    if nsn[:3] in OLD_PREFIXES:
        if len(nsn) < 10:
            raise PhoneRejected("too_short")
        if len(nsn) > 10:
            raise PhoneRejected("too_long")
        nsn = OLD_PREFIXES[nsn[:3]] + nsn[3:]
    if fast and len(nsn) == 9 and _always_mobile(nsn[:3]):
        return "84" + nsn
    return _ranges(nsn)


def parse_vietnamese_mobile(raw: str) -> str:
    """Return the number as "84" + 9 digits, or raise PhoneRejected with the reason."""
    return _parse(raw, fast=True)


def national_format(normalised: str) -> str:
    """ "84912345678" -> "0912345678"."""
    if not _NORMALISED.fullmatch(normalised or ""):
        raise ValueError("not a normalised Vietnamese mobile number (84 + 9 digits)")
    return "0" + normalised[2:]


def mask_phone(normalised: str) -> str:
    """ "84912345678" -> "0912***678", for roles that do not need the number."""
    national = national_format(normalised)
    return f"{national[:4]}***{national[-3:]}"
