"""The OA page shows the stored provider reading; only the Refresh / Test connection buttons and the
periodic job ask the provider, so a broken or hung provider never turns the page into a 500."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from oas import jobs
from oas.models import OACredentials, OfficialAccount, ProviderReading
from quotas.models import OAQuotaState, Policy
from tests.providers.raw_server import TRUNCATED, RawServer
from tests.providers.stub import Reply, StubServer
from zalo_admin.periodic import PERIODIC_JOBS

SENDER = "bank-oa"
QUOTA_PATH = f"/zalo/1/sender/{SENDER}/quota"
QUOTA = {"dailyQuota": 20000, "remainingDailyQuota": 19876}


@pytest.fixture
def stub():
    server = StubServer().start()
    yield server
    server.stop()


@pytest.fixture
def raw_truncated():
    server = RawServer(TRUNCATED)
    yield server
    server.close()


def infobip_oa(base_url: str, zalo_oa_id: str = SENDER, **fields) -> OfficialAccount:
    oa = OfficialAccount.objects.create(
        name=f"Bank {zalo_oa_id}", zalo_oa_id=zalo_oa_id, provider="infobip", **fields
    )
    OACredentials.objects.create(
        oa=oa, infobip_base_url=base_url, infobip_api_key="infobip-key-1", infobip_sender=zalo_oa_id
    )
    OAQuotaState.objects.create(oa=oa, policy=Policy.objects.get(code="zbs-2026"), current_limit=20000)
    return oa


def detail(client, oa):
    return client.get(reverse("oas:detail", args=[oa.pk]))


def test_the_oa_page_never_calls_the_provider_and_says_nothing_was_read_yet(client, role_users, stub):
    stub.on("GET", QUOTA_PATH, Reply(QUOTA))
    oa = infobip_oa(stub.url)
    for role in ("marketer", "quality_admin", "auditor", "superuser"):
        client.force_login(role_users[role])
        response = detail(client, oa)
        assert response.status_code == 200
        page = response.content.decode()
        expected = (
            "Not read yet; the provider is read every 15 minutes."
            if role == "auditor"
            else "Not read yet — press Refresh."
        )
        assert expected in page
    assert stub.requests == []


def test_refresh_stores_the_reading_and_the_page_shows_it_with_its_time(client, marketer, stub):
    stub.on("GET", QUOTA_PATH, Reply(QUOTA))
    oa = infobip_oa(stub.url)
    client.force_login(marketer)
    done = client.post(reverse("oas:refresh_reading", args=[oa.pk]), follow=True)
    page = done.content.decode()
    assert "Read from the provider just now." in page
    assert 'data-testid="remaining-quota">19,876<' in page.replace(".", ",")
    assert "Read now" in page
    reading = ProviderReading.objects.get(oa=oa)
    assert (reading.daily_quota, reading.remaining_quota, reading.ok) == (20000, 19876, True)
    assert reading.quality_current == ""  # Infobip publishes no quality
    assert "not published by this provider" in page
    calls = len(stub.requests)
    assert detail(client, oa).status_code == 200 and len(stub.requests) == calls  # GET reads the row


def test_the_reading_time_is_shown_in_vietnam_time(client, auditor, stub):
    oa = infobip_oa(stub.url)
    moment = datetime(2026, 11, 30, 20, 5, tzinfo=UTC)  # 03:05 on 1 December in Vietnam
    ProviderReading.objects.create(
        oa=oa, read_at=moment, succeeded_at=moment, daily_quota=None, remaining_quota=7
    )
    client.force_login(auditor)
    page = detail(client, oa).content.decode()
    assert "(2026-12-01 03:05, Vietnam time)" in page
    assert "ago" in page and "unrestricted" in page
    assert stub.requests == []


@pytest.mark.parametrize("role", ["marketer", "quality_admin", "auditor", "superuser"])
def test_a_truncated_answer_is_stored_as_an_error_and_no_role_gets_a_500(
    client, role_users, raw_truncated, role
):
    oa = infobip_oa(raw_truncated.url())
    client.force_login(role_users["quality_admin"])
    client.post(reverse("oas:refresh_reading", args=[oa.pk]))
    reading = ProviderReading.objects.get(oa=oa)
    assert reading.error_code == "PROVIDER_BAD_RESPONSE" and reading.succeeded_at is None
    assert "IncompleteRead" in reading.detail
    client.force_login(role_users[role])
    response = detail(client, oa)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="provider-error"' in page and "PROVIDER_BAD_RESPONSE" in page


def test_an_unsupported_url_scheme_is_an_error_on_the_page_not_a_500(client, quality_admin):
    oa = infobip_oa("ftp://infobip.example.com")
    client.force_login(quality_admin)
    test = client.post(reverse("oas:test_connection", args=[oa.pk]), follow=True)
    assert test.status_code == 200
    page = test.content.decode()
    assert "Connection failed" in page and "unsupported scheme" in page
    refresh = client.post(reverse("oas:refresh_reading", args=[oa.pk]), follow=True)
    assert refresh.status_code == 200 and "The provider could not be read" in refresh.content.decode()
    assert ProviderReading.objects.get(oa=oa).error_code == "PROVIDER_URL_INVALID"


def test_a_failed_refresh_keeps_the_last_good_figures_next_to_the_error(client, marketer, stub):
    stub.on(
        "GET",
        QUOTA_PATH,
        [
            Reply(QUOTA),
            Reply(
                {
                    "requestError": {
                        "serviceException": {
                            "messageId": "UNAUTHORIZED",
                            "text": "Invalid login \x00 details \ud800",
                        }
                    }
                },
                status=401,
            ),
        ],
    )
    oa = infobip_oa(stub.url)
    client.force_login(marketer)
    client.post(reverse("oas:refresh_reading", args=[oa.pk]))
    page = client.post(reverse("oas:refresh_reading", args=[oa.pk]), follow=True).content.decode()
    assert "The provider could not be read [UNAUTHORIZED]" in page
    assert "Figures of the last successful reading" in page and "19,876" in page.replace(".", ",")
    reading = ProviderReading.objects.get(oa=oa)
    assert reading.error_code == "PROVIDER_CREDENTIALS_INVALID" and reading.remaining_quota == 19876
    assert "\x00" not in reading.provider_message and "Invalid login" in reading.provider_message


def test_test_connection_stores_its_reading_too(client, quality_admin, stub):
    stub.on("GET", QUOTA_PATH, Reply(QUOTA))
    oa = infobip_oa(stub.url)
    client.force_login(quality_admin)
    page = client.post(reverse("oas:test_connection", args=[oa.pk]), follow=True).content.decode()
    assert "Connection works. Daily quota 20000, remaining 19876." in page
    assert ProviderReading.objects.get(oa=oa).remaining_quota == 19876


def test_refresh_is_for_the_quality_roles_only(client, role_users, stub):
    stub.on("GET", QUOTA_PATH, Reply(QUOTA))
    oa = infobip_oa(stub.url)
    url = reverse("oas:refresh_reading", args=[oa.pk])
    anonymous = client.post(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    expected = {"marketer": 302, "quality_admin": 302, "superuser": 302, "auditor": 403}
    for role, status in expected.items():
        client.force_login(role_users[role])
        assert client.post(url).status_code == status, role
    assert client.get(url).status_code == 403  # the auditor: refused before the method is looked at
    client.force_login(role_users["marketer"])
    assert client.get(url).status_code == 405  # POST only
    assert len(stub.calls("GET", QUOTA_PATH)) == 3


def test_the_periodic_job_reads_every_active_oa(db, settings, stub, django_capture_on_commit_callbacks):
    settings.JOBS_IN_PROCESS = True
    stub.on("GET", QUOTA_PATH, Reply(QUOTA))
    stub.on("GET", "/zalo/1/sender/bank-2/quota", Reply({"dailyQuota": None, "remainingDailyQuota": 5}))
    first, second = infobip_oa(stub.url), infobip_oa(stub.url, zalo_oa_id="bank-2")
    disabled = infobip_oa(stub.url, zalo_oa_id="bank-3", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.refresh_all_provider_readings() == 2
    assert ProviderReading.objects.get(oa=first).remaining_quota == 19876
    assert ProviderReading.objects.get(oa=second).daily_quota is None
    assert not ProviderReading.objects.filter(oa=disabled).exists()
    schedule = {job.func: job.cron for job in PERIODIC_JOBS}
    assert schedule["oas.jobs.refresh_all_provider_readings"] == "*/15 * * * *"


def test_the_reading_reads_in_vietnamese(client, marketer, raw_truncated):
    oa = infobip_oa(raw_truncated.url())
    client.force_login(marketer)
    headers = {"Accept-Language": "vi"}
    empty = client.get(reverse("oas:detail", args=[oa.pk]), headers=headers).content.decode()
    assert "Chưa đọc số liệu — hãy bấm Làm mới." in empty
    page = client.post(reverse("oas:refresh_reading", args=[oa.pk]), headers=headers, follow=True)
    html = page.content.decode()
    assert "Không đọc được số liệu từ nhà cung cấp" in html
    assert "Phản hồi của nhà cung cấp không đọc được" in html and "giờ Việt Nam" in html
