"""Template-data encryption decrypts with the JVM's own RSA/ECB/OAEPWITHSHA-256ANDMGF1PADDING."""

import base64
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from zalo_admin.lib.rsa import (
    JVM_OAEP,
    EncryptionError,
    encrypt_template_data,
    load_public_key,
    max_plaintext_bytes,
)

JAVA_SOURCE = Path(__file__).parent / "java" / "OaepRoundTrip.java"
VALUES = {
    "customer": "Nguyễn Thị Hoàng Anh",
    "order": "PE010299485",
    "amount": "100000",
    "empty": "",
    "exactly_at_the_limit": "đ" * 95,  # 190 UTF-8 bytes = k - 2*32 - 2 for a 2048-bit key
}


@pytest.fixture(scope="module")
def private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def public_b64(private_key):
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def java(tmp_path_factory, private_key, public_b64):
    """Compile the Java program into a temporary directory; skip only when there is no JDK."""
    javac, java_bin = shutil.which("javac"), shutil.which("java")
    if not javac or not java_bin:
        pytest.skip("no JDK on this machine (javac/java not on PATH): the JVM round trip cannot run")
    out = tmp_path_factory.mktemp("java")
    subprocess.run([javac, "-d", str(out), str(JAVA_SOURCE)], check=True, capture_output=True, timeout=120)
    private_file = out / "private.b64"
    private_file.write_text(
        base64.b64encode(
            private_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ).decode()
    )
    public_file = out / "public.b64"
    public_file.write_text(public_b64)

    def run(mode: str, lines: dict[str, str]) -> dict[str, str]:
        key_file = private_file if mode == "decrypt" else public_file
        stdin = "".join(f"{name}\t{value}\n" for name, value in lines.items())
        done = subprocess.run(
            [java_bin, "-cp", str(out), "OaepRoundTrip", mode, str(key_file)],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return dict(line.split("\t", 1) for line in done.stdout.splitlines())

    return run


def test_the_jvm_decrypts_every_value_we_encrypt(java, public_b64):
    encrypted = encrypt_template_data(public_b64, VALUES)
    assert set(encrypted) == set(VALUES)
    decrypted = java("decrypt", encrypted)
    assert {k: base64.b64decode(v).decode() for k, v in decrypted.items()} == VALUES


def test_we_decrypt_what_the_jvm_encrypts_so_the_parameters_match_both_ways(java, private_key):
    plain = {k: base64.b64encode(v.encode()).decode() for k, v in VALUES.items()}
    from_java = java("encrypt", plain)
    assert {
        k: private_key.decrypt(base64.b64decode(v), JVM_OAEP).decode() for k, v in from_java.items()
    } == VALUES


def test_the_jvm_refuses_mgf1_with_sha256_which_is_why_we_use_sha1(java, private_key):
    wrong = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    value = base64.b64encode(private_key.public_key().encrypt(b"hello", wrong)).decode()
    assert java("decrypt", {"v": value})["v"].startswith("ERROR")


def test_each_encryption_is_randomised_base64(public_b64):
    first = encrypt_template_data(public_b64, {"a": "x"})["a"]
    second = encrypt_template_data(public_b64, {"a": "x"})["a"]
    assert first != second
    assert len(base64.b64decode(first, validate=True)) == 256


def test_a_value_over_one_block_names_the_field_and_the_byte_limit(public_b64):
    with pytest.raises(EncryptionError) as caught:
        encrypt_template_data(public_b64, {"address": "đ" * 96})
    assert "'address'" in str(caught.value)
    assert "192 bytes" in str(caught.value) and "at most 190 bytes" in str(caught.value)


def test_keys_are_accepted_as_pem_base64_der_and_pkcs1(private_key, public_b64):
    public = private_key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    pkcs1_b64 = base64.b64encode(
        public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    ).decode()
    wrapped_b64 = "\n".join(public_b64[i : i + 64] for i in range(0, len(public_b64), 64))
    for form in (pem, pem.decode(), pkcs1_pem, public_b64, wrapped_b64, pkcs1_b64):
        assert load_public_key(form).public_numbers() == public.public_numbers()
    assert max_plaintext_bytes(load_public_key(public_b64)) == 190


@pytest.mark.parametrize(
    "bad", ["not a key", "aGVsbG8=", "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"]
)
def test_garbage_is_not_a_key(bad):
    with pytest.raises(EncryptionError):
        load_public_key(bad)


# --- the management command -------------------------------------------------------------------


def run_command(monkeypatch, capsys, key_file, stdin: str):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        call_command("encrypt_template_data", "--public-key-file", str(key_file))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("form", ["pem", "b64"])
def test_the_command_encrypts_every_value_of_the_json_on_stdin(
    monkeypatch, capsys, tmp_path, private_key, form
):
    public = private_key.public_key()
    key_file = tmp_path / "key"
    if form == "pem":
        key_file.write_bytes(
            public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    else:
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        key_file.write_text(base64.b64encode(der).decode() + "\n")
    code, out, err = run_command(monkeypatch, capsys, key_file, json.dumps({"name": "Anh", "otp": 123456}))
    assert code == 0 and err == ""
    result = json.loads(out)
    assert {k: private_key.decrypt(base64.b64decode(v), JVM_OAEP).decode() for k, v in result.items()} == {
        "name": "Anh",
        "otp": "123456",
    }


@pytest.mark.parametrize(
    ("stdin", "key_text", "message"),
    [
        ("{not json", None, "stdin is not valid JSON"),
        ('["a", "b"]', None, "must be a JSON object"),
        ('{"a": {"nested": 1}}', None, "'a' must be a string or a number"),
        ('{"a": "b"}', "garbage", "bad public key file"),
        ('{"address": "' + "x" * 191 + '"}', None, "at most 190 bytes"),
    ],
)
def test_the_command_fails_with_one_line_on_stderr_and_status_2(
    monkeypatch, capsys, tmp_path, public_b64, stdin, key_text, message
):
    key_file = tmp_path / "key"
    key_file.write_text(key_text if key_text is not None else public_b64)
    code, out, err = run_command(monkeypatch, capsys, key_file, stdin)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_the_command_reports_a_missing_key_file(monkeypatch, capsys, tmp_path):
    code, out, err = run_command(monkeypatch, capsys, tmp_path / "missing.pem", "{}")
    assert code == 2 and "cannot read public key file" in err and err.count("\n") == 1


def test_the_command_exits_2_as_a_real_process(tmp_path, public_b64):
    key_file = tmp_path / "key"
    key_file.write_text(public_b64)
    done = subprocess.run(
        [".venv/bin/python", "manage.py", "encrypt_template_data", "--public-key-file", str(key_file)],
        input="nope",
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().startswith("encrypt_template_data: stdin is not valid JSON")
    assert len(done.stderr.strip().splitlines()) == 1


@settings(max_examples=40, deadline=None)
@given(value=st.text(max_size=120))
def test_any_text_within_one_block_round_trips_and_longer_text_names_its_field(
    private_key, public_b64, value
):
    size = len(value.encode())
    if size <= 190:
        [token] = encrypt_template_data(public_b64, {"f": value}).values()
        assert private_key.decrypt(base64.b64decode(token), JVM_OAEP).decode() == value
    else:
        with pytest.raises(EncryptionError, match=f"'f' is {size} bytes"):
            encrypt_template_data(public_b64, {"f": value})
