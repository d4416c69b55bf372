"""Weak RSA keys are refused wherever a key is accepted (issue 9b): at least 2048 bits, e = 65537.

The keys are real ones: cryptography generates 1024/e=3, 2048/e=3 and 2048/65537; it refuses to
generate under 1024 bits, so the 512-bit key is built from two random 256-bit primes.
"""

import base64
import secrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys
from django.core.management import call_command
from django.urls import reverse

from compliance.models import AuditEvent
from oas.models import OACredentials, OfficialAccount, RSAKey
from oas.services.clients import client_for
from oas.services.keys import KeyTooWeak, store_public_key
from oas.services.template_checks import validate_for_send
from providers.base import REJECTED, MessageRequest
from quotas.models import OAQuotaState, Policy
from tests.oas.test_templates import make_template
from tests.providers.stub import Reply, StubServer
from zalo_admin.lib.rsa import EncryptionError, WeakKeyError, load_public_key

SENDER = "2893352839501541173"
KEY_PATH = f"/infobip/zalo/1/sender/{SENDER}/public-key"


def _probable_prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (0b11 << (bits - 2)) | 1  # top two bits: n has 2*bits
        if _miller_rabin(candidate):
            return candidate


def _miller_rabin(n: int, rounds: int = 40) -> bool:
    if any(n % p == 0 for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31)):
        return False
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def rsa_512() -> rsa_keys.RSAPublicKey:
    while True:
        p, q = _probable_prime(256), _probable_prime(256)
        if p != q and ((p - 1) * (q - 1)) % 65537:
            return rsa_keys.RSAPublicNumbers(65537, p * q).public_key()


def b64_der(key: rsa_keys.RSAPublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    def generated(bits, exponent):
        return rsa_keys.generate_private_key(public_exponent=exponent, key_size=bits).public_key()  # noqa: S505

    made = {
        "512": rsa_512(),
        "1024/e=3": generated(1024, 3),
        "2048/e=3": generated(2048, 3),
        "good": generated(2048, 65537),
        "good-2": generated(2048, 65537),
    }
    assert made["512"].key_size == 512
    return {name: b64_der(key) for name, key in made.items()}


WEAK = [("512", 512, 65537), ("1024/e=3", 1024, 3), ("2048/e=3", 2048, 3)]


@pytest.fixture
def provider():
    """Infobip as seen by the OA: a real local HTTP server answering the public-key endpoint."""
    server = StubServer().start()
    yield server
    server.stop()


@pytest.fixture
def infobip_oa(db, provider):
    oa = OfficialAccount.objects.create(name="Demo Bank", zalo_oa_id="bank-oa-1", provider="infobip")
    OACredentials.objects.create(
        oa=oa,
        infobip_base_url=f"{provider.url}/infobip",
        infobip_api_key="003026bbc133714df1834b8638bb496e",
        infobip_sender=SENDER,
    )
    OAQuotaState.objects.create(oa=oa, policy=Policy.objects.get(code="zbs-2026"), current_limit=1000)
    return oa


# --- through the page, as a quality admin -------------------------------------------------------


@pytest.mark.parametrize(("name", "bits", "exponent"), WEAK, ids=[w[0] for w in WEAK])
@pytest.mark.parametrize(("button", "method"), [("oas:key_create", "POST"), ("oas:key_fetch", "GET")])
def test_a_weak_key_from_the_provider_is_refused_and_nothing_is_stored_or_activated(
    client, quality_admin, infobip_oa, provider, keys, name, bits, exponent, button, method
):
    provider.on(method, KEY_PATH, Reply({"publicKey": keys[name]}, status=200))
    client.force_login(quality_admin)
    page = client.post(reverse(button, args=[infobip_oa.pk]), follow=True).content.decode()
    assert (
        f"The provider&#x27;s RSA key is too weak ({bits} bits, public exponent {exponent}): at least 2048 "
        "bits with public exponent 65537 are required. Nothing was stored or activated." in page
    )
    assert provider.calls(method, KEY_PATH), "the provider should have been asked"
    assert not RSAKey.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="oa.rsa_key").exists()


def test_a_weak_key_fetched_later_does_not_replace_the_active_good_one(
    client, quality_admin, infobip_oa, provider, keys
):
    client.force_login(quality_admin)
    provider.on("POST", KEY_PATH, Reply({"publicKey": keys["good"]}))
    assert (
        "is now active"
        in client.post(reverse("oas:key_create", args=[infobip_oa.pk]), follow=True).content.decode()
    )
    good = RSAKey.objects.get(is_active=True)
    assert good.key_bits == 2048
    provider.on("GET", KEY_PATH, Reply({"publicKey": keys["1024/e=3"]}))
    page = client.post(reverse("oas:key_fetch", args=[infobip_oa.pk]), follow=True).content.decode()
    assert "too weak (1024 bits, public exponent 3)" in page
    assert list(RSAKey.objects.values_list("pk", "is_active")) == [(good.pk, True)]
    # A good rotation still works.
    provider.on("GET", KEY_PATH, Reply({"publicKey": keys["good-2"]}))
    assert (
        "is now active"
        in client.post(reverse("oas:key_fetch", args=[infobip_oa.pk]), follow=True).content.decode()
    )
    assert RSAKey.objects.get(is_active=True).public_key == keys["good-2"]


# --- through the service and the other paths a key comes in by --------------------------------


@pytest.mark.parametrize(("name", "bits", "exponent"), WEAK, ids=[w[0] for w in WEAK])
def test_the_service_refuses_a_weak_key_with_a_clear_message(infobip_oa, keys, name, bits, exponent):
    with pytest.raises(KeyTooWeak, match=rf"too weak \({bits} bits, public exponent {exponent}\)") as refused:
        store_public_key(
            actor="system:test", oa=infobip_oa, public_key=keys[name], origin=RSAKey.Origin.FETCHED
        )
    assert (refused.value.bits, refused.value.exponent) == (bits, exponent)
    assert not RSAKey.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_good_2048_bit_key_with_exponent_65537_is_stored_and_active(infobip_oa, keys):
    outcome = store_public_key(
        actor="system:test", oa=infobip_oa, public_key=keys["good"], origin=RSAKey.Origin.FETCHED
    )
    assert outcome.changed and outcome.key.is_active and outcome.key.key_bits == 2048


@pytest.mark.parametrize(("name", "bits", "exponent"), WEAK, ids=[w[0] for w in WEAK])
def test_loading_a_weak_key_fails_in_pem_and_base64_der_alike(keys, name, bits, exponent):
    der = base64.b64decode(keys[name])
    pem = serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for form in (keys[name], pem):
        with pytest.raises(WeakKeyError) as refused:
            load_public_key(form)
        assert (refused.value.bits, refused.value.exponent) == (bits, exponent)


def test_a_send_that_fetches_a_weak_first_key_fails_as_an_encryption_error_and_stores_nothing(
    infobip_oa, provider, keys
):
    provider.on("GET", KEY_PATH, Reply({"publicKey": keys["512"]}))
    message = MessageRequest("cmp1-1", "322307", {"customer_name": "An"}, phone="84987654321", encrypted=True)
    [result] = client_for(infobip_oa).send_batch([message])
    assert result.status == REJECTED and result.error_code == "TEMPLATE_DATA_ENCRYPTION_FAILED"
    assert "too weak (512 bits" in result.provider_message
    assert provider.calls("POST", "/infobip/zalo/2/messages") == []
    assert not RSAKey.objects.exists()


def test_a_weak_key_stored_before_the_rule_is_not_used_to_encrypt(infobip_oa, keys):
    """Rows from before this check: the campaign builder says so instead of encrypting with them."""
    RSAKey.objects.create(
        oa=infobip_oa, public_key=keys["1024/e=3"], fingerprint="0" * 64, key_bits=1024, origin="fetched"
    )
    template = make_template(infobip_oa)
    [error] = validate_for_send(template, {}, encrypted=True)
    assert error.code == "no_key" and "too weak (1024 bits, public exponent 3)" in error.message


def test_the_encrypt_command_refuses_a_weak_key_file(tmp_path, keys, capsys):
    key_file = tmp_path / "weak.b64"
    key_file.write_text(keys["2048/e=3"])
    with pytest.raises(SystemExit) as exit_:
        call_command("encrypt_template_data", "--public-key-file", str(key_file))
    assert exit_.value.code == 2
    assert "too weak (2048 bits, public exponent 3)" in capsys.readouterr().err


def test_the_key_strength_error_is_an_encryption_error():
    assert issubclass(KeyTooWeak, EncryptionError) and issubclass(WeakKeyError, EncryptionError)
