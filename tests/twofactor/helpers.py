"""Codes the way an authenticator app computes them, from the device's key (django_otp.oath.totp)."""

import time
from binascii import unhexlify

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from twofactor import services


def code_for_secret(secret_hex: str) -> str:
    return f"{totp(unhexlify(secret_hex)):06d}"


def next_code(device: TOTPDevice) -> str:
    """A code the device accepts now: the current one, or the next step's when the current step's code
    was already used (django-otp accepts only later steps, within one step of tolerance)."""
    device.refresh_from_db()
    now_t = (int(time.time()) - device.t0) // device.step + device.drift
    ahead = max(0, device.last_t + 1 - now_t)
    assert ahead <= device.tolerance, "no acceptable code left in this time step"
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + ahead):06d}"


def enrol(user) -> tuple[TOTPDevice, list[str]]:
    """Enrol through the service, as the set-up page does; returns the device and the recovery codes."""
    secret = services.new_secret()
    enrolment = services.enrol(user=user, secret=secret, code=code_for_secret(secret))
    return enrolment.device, enrolment.recovery_codes
