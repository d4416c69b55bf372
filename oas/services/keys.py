"""RSA public keys for `encrypted: true` template data: store, rotate, retire, audit.

The calls that ask the provider for a key (create_key_at_provider, fetch_key_from_provider) are in
oas.services.clients, which builds on this module."""

import base64
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from django.db import transaction
from django.utils import timezone

from compliance import actions
from compliance.services import actor_name, record_audit_event
from oas.models import OfficialAccount, RSAKey
from providers.base import PublicKey
from zalo_admin.lib.rsa import EncryptionError, WeakKeyError, load_public_key


class KeyRejected(EncryptionError):
    """The provider's answer is not a usable RSA public key; nothing was stored.

    An EncryptionError, so that a send fetching its first key reports it as an encryption failure."""


class KeyTooWeak(KeyRejected):
    """A readable RSA key under MIN_KEY_BITS or with e != REQUIRED_EXPONENT; nothing was stored."""

    def __init__(self, bits: int, exponent: int):
        self.bits = bits
        self.exponent = exponent
        super().__init__(str(WeakKeyError(bits, exponent)))


@dataclass(frozen=True)
class KeyOutcome:
    key: RSAKey
    changed: bool  # False when the provider returned the key that is already active


def describe_public_key(public_key: str) -> tuple[str, str, int]:
    """(Base64 DER, SHA-256 fingerprint of the DER, key size) of a PEM or Base64 DER public key."""
    try:
        key = load_public_key(public_key)  # refuses weak keys as well as malformed ones
    except WeakKeyError as exc:
        raise KeyTooWeak(exc.bits, exc.exponent) from None
    except EncryptionError as exc:
        raise KeyRejected(str(exc)) from None
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode(), hashlib.sha256(der).hexdigest(), key.key_size


@transaction.atomic
def store_public_key(*, actor, oa: OfficialAccount, public_key: str, origin: str) -> KeyOutcome:
    """Make this key the OA's active one; the previous active key is retired, never deleted.

    A malformed or weak key (KeyRejected, KeyTooWeak) changes nothing: no key stored or retired."""
    der_b64, fingerprint, bits = describe_public_key(public_key)
    OfficialAccount.objects.select_for_update().get(pk=oa.pk)  # one rotation at a time per OA
    active = RSAKey.objects.filter(oa=oa, is_active=True).first()
    if active is not None and active.fingerprint == fingerprint:
        return KeyOutcome(active, changed=False)
    if active is not None:
        active.is_active = False
        active.retired_at = timezone.now()
        active.save(update_fields=["is_active", "retired_at"])
    key = RSAKey.objects.create(
        oa=oa, public_key=der_b64, fingerprint=fingerprint, key_bits=bits, origin=origin, is_active=True
    )
    record_audit_event(
        actor=actor_name(actor),
        action=actions.OA_RSA_KEY_ROTATE if active else actions.OA_RSA_KEY_ADD,
        target=oa,
        details={
            "name": oa.name,
            "bits": bits,
            "fingerprint": fingerprint[:16],
            "full_fingerprint": fingerprint,
            "origin": origin,
            "retired": active.fingerprint if active else None,
        },
    )
    return KeyOutcome(key, changed=True)


@transaction.atomic
def retire_active_key(oa_id: int, reason: str) -> bool:
    """Stop using the OA's active key (the provider refused it); the next encrypted send refetches."""
    key = RSAKey.objects.select_for_update().filter(oa_id=oa_id, is_active=True).first()
    if key is None:
        return False
    key.is_active = False
    key.retired_at = timezone.now()
    key.save(update_fields=["is_active", "retired_at"])
    record_audit_event(
        actor="system:provider",
        action=actions.OA_RSA_KEY_RETIRE,
        target_type="oas.officialaccount",
        target_id=oa_id,
        details={"fingerprint": key.fingerprint[:16], "full_fingerprint": key.fingerprint, "reason": reason},
    )
    return True


def active_public_key(oa_id: int) -> str | None:
    """The Base64 DER of the OA's active key, for campaigns with encryption on."""
    return RSAKey.objects.filter(oa_id=oa_id, is_active=True).values_list("public_key", flat=True).first()


def active_key(oa_id: int) -> PublicKey | None:
    """The OA's active key as the provider clients take it, or None."""
    row = RSAKey.objects.filter(oa_id=oa_id, is_active=True).values_list("public_key", "fingerprint").first()
    return PublicKey(*row) if row else None
