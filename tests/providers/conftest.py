from datetime import timedelta

import pytest
from django.utils import timezone

from oas.models import OACredentials, OfficialAccount
from providers.http import HttpClient, RetryPolicy
from tests.providers.stub import StubServer


@pytest.fixture
def stub():
    server = StubServer().start()
    yield server
    server.stop()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def http(sleeps):
    """A client with short timeouts whose backoff sleeps are recorded, not slept."""
    client = HttpClient(
        connect_timeout=1.0,
        read_timeout=0.5,
        policy=RetryPolicy(attempts=4, base_delay=0.2, max_delay=2.0, max_retry_after=30.0),
        sleep=sleeps.append,
    )
    yield client
    client.close()


def make_oa(zalo_oa_id="1234567890", provider=OfficialAccount.Provider.ZALO, **creds) -> OfficialAccount:
    oa = OfficialAccount.objects.create(name=f"OA {zalo_oa_id}", zalo_oa_id=zalo_oa_id, provider=provider)
    defaults = {
        "app_id": "app-1",
        "app_secret": "app-secret-1",
        "oa_secret_key": "oa-webhook-secret-1",
        "access_token": "access-1",
        "refresh_token": "refresh-1",
        "access_expires_at": timezone.now() + timedelta(hours=24),
    }
    defaults.update(creds)
    OACredentials.objects.create(oa=oa, **defaults)
    return oa


@pytest.fixture
def oa(db):
    return make_oa()
