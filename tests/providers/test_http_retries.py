"""The HTTP layer: pooled session, timeouts, backoff with jitter, Retry-After, what is retried."""

import random
import socket

import pytest

from providers import errors
from providers.base import ProviderError
from providers.http import HttpClient, RetryPolicy, backoff_delay, parse_retry_after
from tests.providers.stub import Reply


def test_it_retries_a_503_and_returns_the_success_that_follows(stub, http, sleeps):
    stub.on("GET", "/x", [Reply({"e": 1}, status=503), Reply({"e": 2}, status=502), Reply({"ok": True})])
    response = http.request("GET", f"{stub.url}/x")
    assert response.json() == {"ok": True}
    assert len(stub.calls("GET", "/x")) == 3
    assert len(sleeps) == 2


def test_it_honours_retry_after_on_429(stub, http, sleeps):
    stub.on("GET", "/x", [Reply({}, status=429, headers={"Retry-After": "7"}), Reply({"ok": True})])
    assert http.request("GET", f"{stub.url}/x").status_code == 200
    assert sleeps[0] >= 7


def test_it_gives_up_after_the_last_attempt_with_a_retryable_error(stub, http, sleeps):
    stub.on("GET", "/x", Reply({}, status=500))
    with pytest.raises(ProviderError) as caught:
        http.request("GET", f"{stub.url}/x")
    assert caught.value.permanent is False
    assert caught.value.error == errors.SERVER_ERROR
    assert caught.value.provider_code == "500"
    assert len(stub.calls("GET", "/x")) == 4
    assert len(sleeps) == 3


def test_it_hands_back_a_retry_after_longer_than_it_is_willing_to_sleep(stub, http, sleeps):
    stub.on("GET", "/x", Reply({}, status=429, headers={"Retry-After": "3600"}))
    with pytest.raises(ProviderError) as caught:
        http.request("GET", f"{stub.url}/x")
    assert caught.value.retry_after == 3600
    assert caught.value.error == errors.RATE_LIMITED_HTTP
    assert sleeps == []
    assert len(stub.calls("GET", "/x")) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
def test_it_never_retries_client_errors(stub, http, sleeps, status):
    stub.on("POST", "/x", Reply({"errorCode": "E"}, status=status))
    assert http.request("POST", f"{stub.url}/x", json={}).status_code == status
    assert len(stub.calls("POST", "/x")) == 1
    assert sleeps == []


def test_it_retries_read_timeouts_of_calls_that_are_safe_to_repeat(stub, http, sleeps):
    stub.on("GET", "/slow", [Reply({}, delay=1.5), Reply({"ok": True})])
    assert http.request("GET", f"{stub.url}/slow").json() == {"ok": True}
    assert len(sleeps) == 1


def test_it_does_not_repeat_a_send_that_timed_out_while_reading(stub, http, sleeps):
    stub.on("POST", "/send", Reply({}, delay=1.5))
    with pytest.raises(ProviderError) as caught:
        http.request("POST", f"{stub.url}/send", json={}, safe_to_repeat=False)
    assert caught.value.error == errors.AMBIGUOUS_SEND
    assert caught.value.permanent is False
    assert len(stub.calls("POST", "/send")) == 1


def test_it_does_repeat_a_send_refused_with_503_or_429(stub, http, sleeps):
    stub.on("POST", "/send", [Reply({}, status=503), Reply({}, status=429), Reply({"ok": True})])
    assert http.request("POST", f"{stub.url}/send", json={}, safe_to_repeat=False).json() == {"ok": True}
    assert len(stub.calls("POST", "/send")) == 3


def test_a_500_on_a_send_is_reported_as_outcome_unknown_without_repeating(stub, http, sleeps):
    stub.on("POST", "/send", Reply({}, status=500))
    with pytest.raises(ProviderError) as caught:
        http.request("POST", f"{stub.url}/send", json={}, safe_to_repeat=False)
    assert caught.value.error == errors.AMBIGUOUS_SEND
    assert len(stub.calls("POST", "/send")) == 1


def test_it_retries_refused_connections_even_for_sends(http, sleeps):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(ProviderError) as caught:
        http.request("POST", f"http://127.0.0.1:{port}/send", json={}, safe_to_repeat=False)
    assert caught.value.error == errors.NETWORK_ERROR
    assert len(sleeps) == 3


def test_it_reuses_one_pooled_connection_for_consecutive_calls(stub, http):
    stub.on("GET", "/x", Reply({"ok": True}))
    for _ in range(5):
        http.request("GET", f"{stub.url}/x")
    assert len({r.client_port for r in stub.calls("GET", "/x")}) == 1


def test_the_session_never_lets_urllib3_retry_on_its_own():
    client = HttpClient()
    assert client.session.get_adapter("https://example.invalid").max_retries.total == 0
    client.close()


def test_backoff_grows_exponentially_with_bounded_jitter():
    policy = RetryPolicy(attempts=6, base_delay=1.0, max_delay=8.0)
    rng = random.Random(4)
    for retry_number, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0)]:
        samples = [backoff_delay(policy, retry_number, rng) for _ in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert max(samples) - min(samples) > ceiling / 4  # the jitter really varies


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("12") == 12
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
