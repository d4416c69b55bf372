"""Enrolment: the secret stays in the session until a code proves the app has it; recovery codes
are shown once; the enrolment is audited."""

from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance import actions
from compliance.models import AuditEvent
from tests.twofactor.helpers import code_for_secret
from twofactor.views import SETUP_SESSION_KEY

SETUP = reverse("twofactor:setup")


def test_a_user_enrols_with_the_code_of_the_scanned_secret_and_sees_the_recovery_codes_once(client, marketer):
    client.force_login(marketer)
    page = client.get(SETUP)
    assert page.status_code == 200
    secret = client.session[SETUP_SESSION_KEY]
    assert not TOTPDevice.objects.exists()  # nothing stored before the code proves the app has it
    assert reverse("twofactor:setup_qr") in page.content.decode()

    response = client.post(SETUP, {"code": code_for_secret(secret)})
    assert response.status_code == 302 and response["Location"] == reverse("twofactor:recovery_codes")
    device = TOTPDevice.objects.get(user=marketer)
    assert device.confirmed and device.key == secret
    assert StaticToken.objects.filter(device__user=marketer).count() == 10

    shown = client.get(reverse("twofactor:recovery_codes")).content.decode()
    codes = [token.token for token in StaticToken.objects.filter(device__user=marketer)]
    assert all(f"{code[:4]}-{code[4:]}" in shown for code in codes)
    again = client.get(reverse("twofactor:recovery_codes")).content.decode()
    assert not any(f"{code[:4]}-{code[4:]}" in again for code in codes)

    event = AuditEvent.objects.get(action=actions.AUTH_TWO_FACTOR_ENROL)
    assert event.actor == "user:marketer" and event.target_id == str(marketer.pk)
    assert event.details == {"username": "marketer", "recovery_codes": 10}
    assert not any(code in str(event.details) for code in codes)  # codes never reach the log
    # This session proved the second factor: it goes on without being asked again.
    assert client.get(reverse("home")).status_code == 200
    assert client.get(SETUP).status_code == 302  # already on


def test_a_wrong_code_stores_nothing(client, marketer):
    client.force_login(marketer)
    client.get(SETUP)
    secret = client.session[SETUP_SESSION_KEY]
    wrong = f"{(int(code_for_secret(secret)) + 1) % 1_000_000:06d}"
    for code in (wrong, "abcdef", ""):
        response = client.post(SETUP, {"code": code})
        assert response.status_code == 200
    assert "That code does not match" in response.content.decode() or "required" in response.content.decode()
    assert not TOTPDevice.objects.exists() and not StaticDevice.objects.exists()
    assert not AuditEvent.objects.filter(action=actions.AUTH_TWO_FACTOR_ENROL).exists()
    assert client.session[SETUP_SESSION_KEY] == secret  # the same QR code stays valid


def test_the_qr_code_is_an_svg_of_the_otpauth_url_without_script_or_style(client, auditor):
    client.force_login(auditor)
    response = client.get(reverse("twofactor:setup_qr"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    body = response.content.decode()
    assert body.lstrip().startswith("<?xml") and "<svg" in body
    assert "<script" not in body and "style" not in body
    assert "no-store" in response["Cache-Control"]  # the secret is in it


def test_new_recovery_codes_replace_the_old_ones_in_a_verified_session(client, marketer):
    client.force_login(marketer)
    client.get(SETUP)
    client.post(SETUP, {"code": code_for_secret(client.session[SETUP_SESSION_KEY])})
    old = set(StaticToken.objects.values_list("token", flat=True))
    response = client.post(reverse("twofactor:manage"), {"action": "recovery_codes"})
    assert response["Location"] == reverse("twofactor:recovery_codes")
    new = set(StaticToken.objects.values_list("token", flat=True))
    assert len(new) == 10 and not old & new
    assert AuditEvent.objects.filter(action=actions.AUTH_TWO_FACTOR_RECOVERY_CODES).count() == 1
