"""Two-factor sign-in (TOTP with an authenticator app, plus recovery codes): enrol, verify, reset.

django-otp holds the devices: one confirmed `TOTPDevice` (the authenticator app) and one
`StaticDevice` whose tokens are the recovery codes (each deleted when used). Every change here is
one transaction with its audit entry. Enrolment keeps the new secret out of the database until the
user proves, with a code, that the app has it: an abandoned set-up leaves nothing behind.
"""

import math
import time
from binascii import unhexlify
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import verify_token
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from compliance import actions
from compliance.services import actor_name, record_audit_event
from zalo_admin.roles import TWO_FACTOR_REQUIRED_ROLES

TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
CODE_DIGITS = 6


class TwoFactorError(Exception):
    """A refused two-factor change; the message is for the user, nothing was changed."""


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    recovery_codes: list[str]  # shown once, never again readable from the page


@dataclass(frozen=True)
class Verification:
    device: TOTPDevice | StaticDevice
    recovery_code: bool  # True: a recovery code was used up
    remaining_codes: int


def two_factor_required(user) -> bool:
    """Whether this user must use a second factor (settings.TWO_FACTOR_REQUIRED and the role)."""
    if not settings.TWO_FACTOR_REQUIRED or not user.is_authenticated:
        return False
    return user.is_superuser or user.groups.filter(name__in=TWO_FACTOR_REQUIRED_ROLES).exists()


def totp_device(user) -> TOTPDevice | None:
    """The user's confirmed authenticator device, if enrolled."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def is_enrolled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def seconds_until_next_try(user) -> int:
    """How long django-otp's back-off (per device, whatever the address) still refuses to check a code
    of this user's authenticator: 1, 2, 4 … seconds after consecutive wrong codes; 0 when it checks."""
    device = totp_device(user)
    if device is None:
        return 0
    allowed, data = device.verify_is_allowed()
    if allowed or not data or "locked_until" not in data:
        return 0
    return max(1, math.ceil((data["locked_until"] - timezone.now()).total_seconds()))


def remaining_recovery_codes(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def new_secret() -> str:
    """A fresh hex TOTP key (20 random bytes, django-otp's default) for a set-up in progress."""
    return default_key()


def normalise_code(raw: str) -> str:
    """What the user typed, without spaces and hyphens, lower-case (recovery codes are shown grouped)."""
    return "".join(str(raw or "").split()).replace("-", "").lower()


def format_recovery_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def _code_as_int(code: str) -> int | None:
    code = normalise_code(code)
    return int(code) if len(code) == CODE_DIGITS and code.isdigit() else None


def _new_recovery_codes(device: StaticDevice) -> list[str]:
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(settings.TWO_FACTOR_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return [format_recovery_code(code) for code in codes]


def _lock_user(user):
    """One two-factor change of a user at a time (two tabs confirming the set-up at once)."""
    return get_user_model()._default_manager.select_for_update().get(pk=user.pk)


@transaction.atomic
def enrol(*, user, secret: str, code: str) -> Enrolment:
    """Turn on two-factor sign-in with the authenticator holding `secret`, proven by its current
    `code`; also creates the recovery codes. Refused (TwoFactorError) when already enrolled or when
    the code does not match."""
    _lock_user(user)
    if is_enrolled(user):
        raise TwoFactorError(_("Two-factor sign-in is already on; reset it first to use another app."))
    token = _code_as_int(code)
    totp = TOTP(unhexlify(secret.encode()), step=30, t0=0, digits=CODE_DIGITS, drift=0)
    totp.time = time.time()
    if token is None or not totp.verify(token, tolerance=1):
        raise TwoFactorError(_("That code does not match. Enter the 6-digit code your app shows now."))
    TOTPDevice.objects.filter(user=user).delete()  # unconfirmed leftovers, if any
    StaticDevice.objects.filter(user=user).delete()
    # last_t: the code just used cannot sign in again (django-otp accepts only later time steps).
    device = TOTPDevice.objects.create(
        user=user, name=TOTP_DEVICE_NAME, key=secret, confirmed=True, last_t=totp.t(), drift=totp.drift
    )
    recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = _new_recovery_codes(recovery)
    record_audit_event(
        actor=actor_name(user),
        action=actions.AUTH_TWO_FACTOR_ENROL,
        target=user,
        details={"username": user.get_username(), "recovery_codes": len(codes)},
    )
    return Enrolment(device, codes)


def verify_sign_in(*, user, code: str, ip_address: str | None) -> Verification | None:
    """Check a second-factor code (authenticator code or recovery code) of a user whose password
    was right. A match is audited (a recovery code is used up); None when nothing matched, or when
    django-otp's per-device back-off refuses to check yet (the caller counts the failure)."""
    code = normalise_code(code)
    if not code or len(code) > 16:
        return None
    with transaction.atomic():
        verified = None
        device = totp_device(user)
        if device is not None and _code_as_int(code) is not None:
            verified = verify_token(user, device.persistent_id, code)
        if verified is None:
            recovery = StaticDevice.objects.filter(user=user, confirmed=True).first()
            if recovery is not None and device is not None and len(code) == 8:
                verified = verify_token(user, recovery.persistent_id, code)
        if verified is None:
            return None
        is_recovery = isinstance(verified, StaticDevice)
        remaining = remaining_recovery_codes(user)
        details = {"username": user.get_username(), "ip_address": ip_address}
        if is_recovery:
            details["remaining"] = remaining
        record_audit_event(
            actor=actor_name(user),
            action=actions.AUTH_TWO_FACTOR_RECOVERY_USED if is_recovery else actions.AUTH_TWO_FACTOR_SIGN_IN,
            target=user,
            details=details,
        )
    return Verification(verified, is_recovery, remaining)


@transaction.atomic
def regenerate_recovery_codes(*, user) -> list[str]:
    """New recovery codes for an enrolled user; the previous ones stop working."""
    _lock_user(user)
    if not is_enrolled(user):
        raise TwoFactorError(_("Two-factor sign-in is not on."))
    recovery, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    codes = _new_recovery_codes(recovery)
    record_audit_event(
        actor=actor_name(user),
        action=actions.AUTH_TWO_FACTOR_RECOVERY_CODES,
        target=user,
        details={"username": user.get_username(), "recovery_codes": len(codes)},
    )
    return codes


@transaction.atomic
def reset_two_factor(*, actor, user, reason: str) -> int:
    """Remove the user's authenticator and recovery codes (a lost phone, a departure); the user signs
    in with the password alone afterwards, or enrols again when required. `actor` is the user
    themself, a superuser, or a `system:` name (the management command). Returns the devices removed;
    a user without any changes nothing and writes no entry."""
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise TwoFactorError(_("Give a reason for the reset."))
    _lock_user(user)
    removed = TOTPDevice.objects.filter(user=user).count() + StaticDevice.objects.filter(user=user).count()
    if not removed:
        return 0
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()  # its tokens go with it (cascade)
    record_audit_event(
        actor=actor_name(actor),
        action=actions.AUTH_TWO_FACTOR_RESET,
        target=user,
        details={"username": user.get_username(), "devices": removed, "reason": reason[:500]},
    )
    return removed
