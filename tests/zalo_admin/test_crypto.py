"""Field encryption at rest: MultiFernet from FIELD_ENCRYPTION_KEYS, EncryptedTextField, key rotation."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from oas.models import OACredentials, OfficialAccount
from zalo_admin.lib import crypto

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


@pytest.fixture
def keys(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    return settings


def raw_column(pk, column="access_token"):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM oas_oacredentials WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def make_credentials(**values):
    oa = OfficialAccount.objects.create(name="OA", zalo_oa_id=f"oa-{OfficialAccount.objects.count()}")
    return OACredentials.objects.create(oa=oa, **values)


def test_strings_round_trip_and_the_token_is_not_the_plaintext(keys):
    token = crypto.encrypt_str("Bí mật")
    assert "Bí mật" not in token
    assert crypto.decrypt_str(token) == "Bí mật"


def test_the_first_key_encrypts_and_every_key_decrypts(keys):
    old_token = crypto.encrypt_str("s")
    keys.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert crypto.decrypt_str(old_token) == "s"
    assert not crypto.is_current(old_token)
    assert crypto.is_current(crypto.encrypt_str("s"))
    keys.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt_str(old_token)


def test_a_malformed_key_fails_loudly_without_showing_the_key(keys):
    keys.FIELD_ENCRYPTION_KEYS = ["short-secret-value"]
    with pytest.raises(ImproperlyConfigured) as caught:
        crypto.encrypt_str("x")
    assert "short-secret-value" not in str(caught.value)


def test_secrets_are_stored_encrypted_and_read_back_in_plaintext(db, keys):
    creds = make_credentials(app_secret="app-secret-XYZ", access_token="access-XYZ", refresh_token="")
    assert raw_column(creds.pk) != "access-XYZ" and raw_column(creds.pk).startswith("gAAAAA")
    assert raw_column(creds.pk, "refresh_token") == ""  # "not set" is not a secret
    fresh = OACredentials.objects.get(pk=creds.pk)
    assert (fresh.app_secret, fresh.access_token, fresh.refresh_token) == ("app-secret-XYZ", "access-XYZ", "")
    assert OACredentials.objects.filter(refresh_token="").count() == 1


def test_secrets_never_appear_in_repr_or_str(db, keys):
    creds = make_credentials(app_secret="app-secret-XYZ", access_token="access-XYZ", infobip_api_key="ib-XYZ")
    for text in (repr(creds), str(creds), repr(OACredentials.objects.all())):
        assert "XYZ" not in text


def test_meaningless_lookups_on_ciphertext_are_refused(db, keys):
    with pytest.raises(FieldError):
        list(OACredentials.objects.filter(access_token__startswith="a"))
    with pytest.raises(FieldError):
        list(OACredentials.objects.filter(access_token="a"))  # would silently never match


def test_rotation_reencrypts_everything_under_the_new_key_and_is_idempotent(db, keys, capsys):
    rows = [make_credentials(access_token=f"a{i}", refresh_token=f"r{i}", app_secret="") for i in range(5)]
    before = {row.pk: raw_column(row.pk) for row in rows}
    keys.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_field_encryption_key", "--batch-size", "2")
    assert "10 values re-encrypted" in capsys.readouterr().out
    for row in rows:
        assert raw_column(row.pk) != before[row.pk]
        assert crypto.is_current(raw_column(row.pk))
        assert crypto.is_current(raw_column(row.pk, "refresh_token"))
    call_command("rotate_field_encryption_key")
    assert "0 values re-encrypted, 10 already current" in capsys.readouterr().out
    keys.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key can go now
    assert [OACredentials.objects.get(pk=r.pk).access_token for r in rows] == [f"a{i}" for i in range(5)]


def test_a_dry_run_changes_nothing(db, keys, capsys):
    row = make_credentials(access_token="a")
    before = raw_column(row.pk)
    keys.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_field_encryption_key", "--dry-run")
    assert "1 values re-encrypted" in capsys.readouterr().out
    assert raw_column(row.pk) == before


def test_rotation_refuses_to_pretend_when_a_value_fits_no_key(db, keys):
    make_credentials(access_token="a")
    keys.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(CommandError, match="fit none"):
        call_command("rotate_field_encryption_key")
