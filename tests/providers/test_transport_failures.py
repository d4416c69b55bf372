"""Transport failures that are not timeouts: each becomes a ProviderError with a clear message and the
retryability of providers/errors.py, never a raw requests/urllib3/http.client exception.

The failures are real: a local socket server that answers with broken bytes, a TLS server with a
certificate nobody trusts, URLs with unsupported schemes.
"""

import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from providers import errors
from providers.base import Account, ProviderError
from providers.zalo import ZaloClient
from tests.providers.raw_server import NOT_HTTP, TRUNCATED, RawServer
from tests.providers.stub import Reply

TRUNCATED_CHUNKED = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{"error": 0'
BAD_CHUNK_SIZE = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{"error": 0}\r\n0\r\n\r\n'
BAD_GZIP = (
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"
)
ACCOUNT = Account(provider="zalo", zalo_oa_id="1234567890", access_token="access-1")


@pytest.fixture
def raw():
    servers = []

    def start(payload=b"", **kwargs):
        server = RawServer(payload, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def self_signed_context(tmp_path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.mark.parametrize(
    "payload",
    [TRUNCATED, TRUNCATED_CHUNKED, BAD_CHUNK_SIZE, BAD_GZIP],
    ids=["content_length_truncated", "chunked_truncated", "bad_chunk_size", "bad_gzip"],
)
def test_a_broken_answer_is_a_retryable_bad_response(raw, http, sleeps, payload):
    server = raw(payload)
    with pytest.raises(ProviderError) as caught:
        http.request("GET", f"{server.url()}/zalo/message/quota")
    failure = caught.value
    assert failure.error == errors.BAD_RESPONSE and not failure.permanent
    assert "GET /zalo/message/quota" in str(failure) and "broke off or could not be decoded" in str(failure)
    assert server.connections == 4 and len(sleeps) == 3  # retried like a 5xx


def test_a_truncated_answer_names_what_was_missing(raw, http):
    server = raw(TRUNCATED)
    with pytest.raises(ProviderError, match="IncompleteRead: 11 bytes read, 89 more expected"):
        http.request("GET", f"{server.url()}/x")


@pytest.mark.parametrize(
    "payload", [TRUNCATED, BAD_GZIP, NOT_HTTP, b""], ids=["truncated", "gzip", "ssh", "empty"]
)
def test_a_send_whose_answer_broke_is_never_repeated(raw, http, sleeps, payload):
    server = raw(payload)
    with pytest.raises(ProviderError) as caught:
        http.request("POST", f"{server.url()}/zalo/message/template", json={}, safe_to_repeat=False)
    assert caught.value.error == errors.AMBIGUOUS_SEND
    assert server.connections == 1 and sleeps == []


def test_an_answer_that_is_not_http_is_a_network_error(raw, http):
    server = raw(NOT_HTTP)
    with pytest.raises(ProviderError) as caught:
        http.request("GET", f"{server.url()}/x")
    assert caught.value.error == errors.NETWORK_ERROR and "BadStatusLine" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://127.0.0.1/infobip/zalo/1/sender/x/quota", "unsupported URL scheme 'ftp'"),
        ("file:///etc/passwd", "unsupported URL scheme 'file'"),
        ("127.0.0.1:8600/zalo/message/quota", "unsupported URL scheme"),
        ("infobip.example.com/zalo", "no scheme"),
        ("http://", "malformed URL"),
        ("http://[::1/zalo", "malformed URL"),
        ("http://127.0.0.1:99999/zalo", "malformed URL"),
        (f"http://{'a' * 300}.example.com/zalo", "malformed URL"),
    ],
)
def test_a_bad_url_is_a_permanent_error_at_once(http, sleeps, url, words):
    with pytest.raises(ProviderError) as caught:
        http.request("GET", url)
    assert caught.value.error == errors.URL_INVALID and caught.value.permanent
    assert words in str(caught.value)
    assert sleeps == []


@pytest.mark.parametrize(
    "token", ["secret-token\r\nX-Injected: 1", "tôi-là-token-bí-mật"], ids=["newline", "not_latin1"]
)
def test_a_header_that_cannot_be_sent_is_refused_without_quoting_it(stub, http, sleeps, token):
    stub.on("GET", "/x", Reply({"ok": True}))
    with pytest.raises(ProviderError) as caught:
        http.request("GET", f"{stub.url}/x", headers={"access_token": token})
    assert caught.value.error == errors.REQUEST_UNSENDABLE and caught.value.permanent
    assert "token" not in str(caught.value)
    assert stub.calls("GET", "/x") == [] and sleeps == []


def test_https_to_a_plain_http_server_is_a_retryable_tls_error(raw, http, sleeps):
    server = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    with pytest.raises(ProviderError) as caught:
        http.request("GET", f"{server.url('https')}/x")
    assert caught.value.error == errors.TLS_ERROR and not caught.value.permanent
    assert "TLS failed" in str(caught.value)
    assert len(sleeps) == 3


def test_an_untrusted_certificate_is_permanent_and_never_retried(raw, http, sleeps, tmp_path):
    server = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", tls_context=self_signed_context(tmp_path))
    for safe in (True, False):
        with pytest.raises(ProviderError) as caught:
            http.request("POST", f"{server.url('https')}/x", json={}, safe_to_repeat=safe)
        assert caught.value.error == errors.TLS_CERTIFICATE_INVALID and caught.value.permanent
        assert "certificate" in str(caught.value)
    assert server.connections == 2 and sleeps == []


def test_a_zalo_call_against_a_truncating_server_raises_a_provider_error(raw, http):
    server = raw(TRUNCATED)
    client = ZaloClient(ACCOUNT, http=http, api_base=f"{server.url()}/zalo")
    with pytest.raises(ProviderError) as caught:
        client.get_quota()
    assert caught.value.error == errors.BAD_RESPONSE


def test_a_json_answer_nested_too_deep_is_a_bad_response(stub, http):
    stub.on("GET", "/zalo/message/quota", Reply(b"[" * 100_000 + b"]" * 100_000))
    stub.on("GET", "/zalo/quality", Reply(b'{"error": 0, "data": ' + b"9" * 5000 + b"}"))
    client = ZaloClient(ACCOUNT, http=http, api_base=f"{stub.url}/zalo")
    for call in (client.get_quota, client.get_quality):
        with pytest.raises(ProviderError) as caught:
            call()
        assert caught.value.error == errors.BAD_RESPONSE
