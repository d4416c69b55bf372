"""The OA console: create and edit with encrypted credentials, OAuth connect, probe, kill switch."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection
from django.urls import reverse

from campaigns.models import Campaign
from compliance.models import AuditEvent
from oas.models import MessageTemplate, OACredentials, OfficialAccount
from quotas.models import OAQuotaState, Policy
from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET, DEMO_INFOBIP_KEY

ZALO_FORM = {
    "name": "Demo Fashion",
    "zalo_oa_id": "demo-oa-1",
    "provider": "zalo",
    "policy": "zns-2024",
    "owner_team": "E-commerce",
    "app_id": DEMO_APP_ID,
    "app_secret": DEMO_APP_SECRET,
    "oa_secret_key": "webhook-secret-key-1",
}


def create_oa(client, **overrides):
    return client.post(reverse("oas:create"), {**ZALO_FORM, **overrides})


def raw_column(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - fixed names
        return cursor.fetchone()[0]


def test_a_quality_admin_adds_an_oa_whose_secrets_are_encrypted_at_rest(client, quality_admin):
    client.force_login(quality_admin)
    response = create_oa(client)
    oa = OfficialAccount.objects.get(zalo_oa_id="demo-oa-1")
    assert response.status_code == 302 and response["Location"] == reverse("oas:detail", args=[oa.pk])
    creds = OACredentials.objects.get(oa=oa)
    assert creds.app_secret == DEMO_APP_SECRET
    stored = raw_column("oas_oacredentials", "app_secret", creds.pk)
    assert DEMO_APP_SECRET not in stored and stored
    assert OAQuotaState.objects.get(oa=oa).policy.code == "zns-2024"
    assert OAQuotaState.objects.get(oa=oa).current_limit == 5000
    event = AuditEvent.objects.get(action="oa.create")
    assert event.details["secrets_replaced"] == ["app_secret", "oa_secret_key"]
    assert DEMO_APP_SECRET not in str(event.details) and "webhook-secret-key-1" not in event.description


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"app_secret": ""}, "app_secret", "Zalo app secret is required for this provider."),
        ({"zalo_oa_id": "demo oa!"}, "zalo_oa_id", "Use only letters, digits, dot, dash and underscore."),
        ({"provider": "infobip"}, "infobip_api_key", "Infobip API key is required for this provider."),
        ({"policy": "zns-1999"}, "policy", "Select a valid choice."),
    ],
)
def test_bad_input_gets_a_field_error_and_creates_nothing(client, quality_admin, overrides, field, message):
    client.force_login(quality_admin)
    response = create_oa(client, **overrides)
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert not OfficialAccount.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_second_oa_with_the_same_zalo_id_is_refused(client, quality_admin):
    client.force_login(quality_admin)
    create_oa(client)
    response = create_oa(client, name="Copy")
    assert (
        "Another Official Account already has this Zalo OA id."
        in response.context["form"].errors["zalo_oa_id"]
    )
    assert OfficialAccount.objects.count() == 1


def test_editing_without_retyping_a_secret_keeps_it_and_a_new_one_replaces_it(client, quality_admin):
    client.force_login(quality_admin)
    create_oa(client)
    oa = OfficialAccount.objects.get()
    page = client.get(reverse("oas:edit", args=[oa.pk])).content.decode()
    assert DEMO_APP_SECRET not in page and "••••" in page
    client.post(reverse("oas:edit", args=[oa.pk]), {**ZALO_FORM, "app_secret": "", "name": "Renamed"})
    oa.refresh_from_db()
    assert (oa.name, oa.credentials.app_secret) == ("Renamed", DEMO_APP_SECRET)
    client.post(reverse("oas:edit", args=[oa.pk]), {**ZALO_FORM, "app_secret": "a-brand-new-secret"})
    assert OACredentials.objects.get(oa=oa).app_secret == "a-brand-new-secret"


def test_an_oa_that_has_sent_keeps_its_policy(client, quality_admin):
    client.force_login(quality_admin)
    create_oa(client)
    oa = OfficialAccount.objects.get()
    OAQuotaState.objects.filter(oa=oa).update(first_send_day="2026-11-01")
    response = client.post(
        reverse("oas:edit", args=[oa.pk]), {**ZALO_FORM, "policy": "zbs-2026", "name": "X"}
    )
    assert "stays on that policy" in response.context["form"].errors["policy"][0]
    oa.refresh_from_db()
    assert oa.name == "Demo Fashion" and OAQuotaState.objects.get(oa=oa).policy.code == "zns-2024"


@pytest.fixture
def oa_with_campaigns(db):
    oa = OfficialAccount.objects.create(name="Shop", zalo_oa_id="shop-1")
    OAQuotaState.objects.create(oa=oa, policy=Policy.objects.get(code="zns-2024"), current_limit=5000)
    template = MessageTemplate.objects.create(oa=oa, template_id="1", name="Sale", tag=3)
    running = Campaign.objects.create(oa=oa, template=template, name="Sale", status=Campaign.Status.RUNNING)
    draft = Campaign.objects.create(oa=oa, template=template, name="Next", status=Campaign.Status.DRAFT)
    return oa, running, draft


def test_the_kill_switch_stops_sends_pauses_campaigns_and_needs_a_quality_admin_to_resume(
    client, marketer, quality_admin, oa_with_campaigns
):
    oa, running, draft = oa_with_campaigns
    client.force_login(marketer)
    client.post(reverse("oas:stop", args=[oa.pk]), {"reason": "Bad-report spike this morning"})
    oa.refresh_from_db()
    running.refresh_from_db()
    draft.refresh_from_db()
    assert oa.sending_stopped and oa.stopped_by == marketer
    assert running.status == Campaign.Status.PAUSED and "Bad-report spike" in running.pause_reason
    assert draft.status == Campaign.Status.DRAFT
    assert client.post(reverse("oas:resume", args=[oa.pk]), {"reason": "looks fine"}).status_code == 403
    client.force_login(quality_admin)
    client.post(reverse("oas:resume", args=[oa.pk]), {"reason": "Reports explained, volume reduced"})
    oa.refresh_from_db()
    assert not oa.sending_stopped
    actions = list(AuditEvent.objects.values_list("action", "actor"))
    assert actions == [
        ("campaign.pause", "user:marketer"),
        ("oa.kill_switch", "user:marketer"),
        ("oa.resume", "user:quality"),
    ]


def test_stopping_without_a_reason_changes_nothing(client, marketer, oa_with_campaigns):
    oa, running, _draft = oa_with_campaigns
    client.force_login(marketer)
    response = client.post(reverse("oas:stop", args=[oa.pk]), {"reason": "  "}, follow=True)
    assert "Nothing changed" in response.content.decode()
    oa.refresh_from_db()
    running.refresh_from_db()
    assert not oa.sending_stopped and running.status == Campaign.Status.RUNNING
    assert not AuditEvent.objects.exists()


def test_an_auditor_can_read_an_oa_but_not_stop_it(client, auditor, oa_with_campaigns):
    oa, _running, _draft = oa_with_campaigns
    client.force_login(auditor)
    assert client.get(reverse("oas:detail", args=[oa.pk])).status_code == 200
    assert client.post(reverse("oas:stop", args=[oa.pk]), {"reason": "because"}).status_code == 403


# --- against the sandbox over real HTTP -------------------------------------------------------


def grant_at_sandbox(authorize_url: str) -> str:
    """Play the OA admin on the sandbox's permission page; return where Zalo redirects back to."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200
    query = {key: values[0] for key, values in parse_qs(urlsplit(authorize_url).query).items()}
    form = {
        "app_id": query["app_id"],
        "redirect_uri": query["redirect_uri"],
        "code_challenge": query["code_challenge"],
        "state": query["state"],
        "oa_id": "demo-oa-1",
    }
    answer = requests.post(authorize_url, data=form, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    return answer.headers["Location"]


def test_connecting_with_zalo_oauth_stores_a_working_token_pair(client, quality_admin, sb):
    client.force_login(quality_admin)
    create_oa(client)
    oa = OfficialAccount.objects.get()
    start = client.get(reverse("oas:connect", args=[oa.pk]))
    assert start.status_code == 302 and start["Location"].startswith(sb.oauth_base)
    assert "code_challenge=" in start["Location"] and "code_verifier" not in start["Location"]
    back = urlsplit(grant_at_sandbox(start["Location"]))
    assert back.path == reverse("oas:oauth_callback")
    done = client.get(f"{back.path}?{back.query}", follow=True)
    assert "Connected" in done.content.decode()
    creds = OACredentials.objects.get(oa=oa)
    assert creds.access_token and creds.refresh_token and creds.access_expires_at
    assert AuditEvent.objects.filter(action="oa.connect").count() == 1
    # The callback cannot be replayed.
    assert client.get(f"{back.path}?{back.query}").status_code == 400
    # The stored token works: test connection reads the quota.
    probe = client.post(reverse("oas:test_connection", args=[oa.pk]), follow=True).content.decode()
    assert "Connection works. Daily quota" in probe


def test_test_connection_shows_the_providers_exact_error(client, quality_admin, sb):
    client.force_login(quality_admin)
    create_oa(client)
    oa = OfficialAccount.objects.get()
    OACredentials.objects.filter(oa=oa).update(access_expires_at=None)
    creds = OACredentials.objects.get(oa=oa)
    creds.access_token = "not-a-real-token"
    creds.refresh_token = "not-a-real-refresh-token"
    creds.save()
    page = client.post(reverse("oas:test_connection", args=[oa.pk]), follow=True).content.decode()
    assert "Connection failed" in page


def test_an_infobip_oa_creates_then_fetches_its_rsa_key(client, quality_admin, sb, settings):
    settings.DEBUG = True  # local mode: the sandbox's plain-http loopback base URL is accepted
    client.force_login(quality_admin)
    form = {
        **ZALO_FORM,
        "provider": "infobip",
        "zalo_oa_id": "demo-oa-2",
        "name": "Demo Bank",
        "policy": "zbs-2026",
        "infobip_base_url": sb.infobip_base,
        "infobip_api_key": DEMO_INFOBIP_KEY,
        "infobip_sender": "demo-oa-2",
    }
    assert client.post(reverse("oas:create"), form).status_code == 302
    oa = OfficialAccount.objects.get(zalo_oa_id="demo-oa-2")
    page = client.post(reverse("oas:key_create", args=[oa.pk]), follow=True).content.decode()
    assert "is now active" in page
    key = oa.rsa_keys.get(is_active=True)
    assert key.key_bits >= 2048 and len(key.fingerprint) == 64
    again = client.post(reverse("oas:key_create", args=[oa.pk]), follow=True).content.decode()
    assert "The provider refused" in again
    fetched = client.post(reverse("oas:key_fetch", args=[oa.pk]), follow=True).content.decode()
    assert "already active; nothing changed" in fetched
    assert oa.rsa_keys.count() == 1
    assert list(
        AuditEvent.objects.filter(action__startswith="oa.rsa_key").values_list("action", flat=True)
    ) == ["oa.rsa_key.add"]


def test_a_malformed_public_key_from_the_provider_is_refused_and_nothing_changes(db, quality_admin):
    from oas.services.keys import KeyRejected, store_public_key

    oa = OfficialAccount.objects.create(name="Bank", zalo_oa_id="bank-1", provider="infobip")
    with pytest.raises(KeyRejected, match="not an RSA public key"):
        store_public_key(actor=quality_admin, oa=oa, public_key="bm90LWEta2V5", origin="fetched")
    assert not oa.rsa_keys.exists()
    assert not AuditEvent.objects.exists()
