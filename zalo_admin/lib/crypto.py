"""Field encryption at rest: MultiFernet over settings.FIELD_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts, so a new key is rolled out by putting it first, running
`manage.py rotate_field_encryption_key`, and only then dropping the old key.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.db.models.lookups import Exact

__all__ = [
    "EncryptedTextField",
    "InvalidToken",
    "decrypt_str",
    "encrypt_str",
    "encrypted_fields",
    "is_current",
    "reencrypt_str",
]


@lru_cache(maxsize=4)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    try:
        fernets = [Fernet(key.encode() if isinstance(key, str) else key) for key in keys]
    except (ValueError, TypeError):
        # The key material itself must never reach a log or a traceback.
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)"
        ) from None
    return MultiFernet(fernets), fernets[0]


def _current() -> tuple[MultiFernet, Fernet]:
    return _fernets(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_str(plaintext: str) -> str:
    """Encrypt under the first key; the token is ASCII."""
    return _current()[0].encrypt(plaintext.encode()).decode("ascii")


def decrypt_str(token: str) -> str:
    """Decrypt with any configured key; raises InvalidToken when none fits."""
    return _current()[0].decrypt(token.encode("ascii")).decode()


def is_current(token: str) -> bool:
    """True when the token is already encrypted under the first (current) key."""
    try:
        _current()[1].decrypt(token.encode("ascii"))
    except InvalidToken:
        return False
    return True


def reencrypt_str(token: str) -> str:
    """The same plaintext under the first key (raises InvalidToken when no key decrypts it)."""
    return _current()[0].rotate(token.encode("ascii")).decode("ascii")


class _ExactEmptyOnly(Exact):
    """Equality on ciphertext only works for "" (each encryption of a value differs)."""

    def get_prep_lookup(self):
        if self.rhs not in ("", None):
            raise FieldError("an EncryptedTextField can only be compared with the empty string")
        return super().get_prep_lookup()


class EncryptedTextField(models.TextField):
    """A text column stored as a Fernet token; Python sees the plaintext.

    The empty string is stored as-is (nothing secret in "not set"), so `field=""` filters work;
    other lookups are meaningless on ciphertext (each encryption differs) and are refused.
    """

    description = "Text encrypted at rest with Fernet"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt_str(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_str(value)

    def get_lookup(self, lookup_name):
        if lookup_name == "exact":
            return _ExactEmptyOnly
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every concrete model with EncryptedTextField columns, and those columns' attnames."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        names = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, EncryptedTextField) and f.model is model
        ]
        if names:
            found.append((model, names))
    return found
