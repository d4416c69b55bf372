"""A stored secret goes only where it was typed for (issue 9a).

An Infobip OA's API key is sent to its base URL for its sender: a quality admin who changed the
base URL (or sender, or provider) used to get the stored key delivered to a host of their choosing.
Now a new endpoint needs the key typed again in the same change, the URL must be https (plain http
only to loopback in local mode, for the sandbox), and the sender has a strict shape. A Zalo app id
change likewise needs the app-bound secrets again.
"""

import pytest
from django.urls import reverse

from compliance.models import AuditEvent
from oas.models import OACredentials, OfficialAccount
from oas.services.accounts import CredentialsRefused, save_official_account
from quotas.models import Policy
from tests.providers.stub import Reply, StubServer

STORED_KEY = "003026bbc133714df1834b8638bb496e-stored"
# A loopback https port nothing listens on: a legitimate-looking stored endpoint no test reaches.
STORED_BASE = "https://127.0.0.1:9/infobip"
SENDER = "2893352839501541173"

INFOBIP_FORM = {
    "name": "Demo Bank",
    "zalo_oa_id": "bank-oa-1",
    "provider": "infobip",
    "policy": "zbs-2026",
    "owner_team": "Retail",
    "app_id": "",
    "app_secret": "",
    "oa_secret_key": "",
    "infobip_base_url": STORED_BASE,
    "infobip_api_key": STORED_KEY,
    "infobip_sender": SENDER,
}
ZALO_FORM = {
    "name": "Demo Fashion",
    "zalo_oa_id": "demo-oa-1",
    "provider": "zalo",
    "policy": "zns-2024",
    "owner_team": "E-commerce",
    "app_id": "app-1",
    "app_secret": "app-1-secret-value",
    "oa_secret_key": "webhook-secret-key-1",
    "infobip_base_url": "",
    "infobip_api_key": "",
    "infobip_sender": "",
}
ENDPOINT_CHANGED = "The endpoint changed: enter the API key again."


@pytest.fixture
def infobip_oa(client, quality_admin):
    client.force_login(quality_admin)
    assert client.post(reverse("oas:create"), INFOBIP_FORM).status_code == 302
    return OfficialAccount.objects.get(zalo_oa_id="bank-oa-1")


@pytest.fixture
def zalo_oa(client, quality_admin):
    client.force_login(quality_admin)
    assert client.post(reverse("oas:create"), ZALO_FORM).status_code == 302
    return OfficialAccount.objects.get(zalo_oa_id="demo-oa-1")


@pytest.fixture
def listener():
    """A host a quality admin controls: records every request it gets (real HTTP on loopback)."""
    server = StubServer().start()
    yield server
    server.stop()


def edit(client, oa, **changes):
    return client.post(reverse("oas:edit", args=[oa.pk]), {**INFOBIP_FORM, "infobip_api_key": "", **changes})


def errors_of(response, field):
    assert response.status_code == 200, "the form should have been refused"
    return response.context["form"].errors.get(field, [])


def credentials(oa) -> tuple[str, str, str, str]:
    creds = OACredentials.objects.get(oa=oa)
    return creds.infobip_base_url, creds.infobip_api_key, creds.infobip_sender, creds.oa.provider


# --- rule 1: a new endpoint needs the API key again ----------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"infobip_base_url": "https://attacker.example.com/infobip"},
        {"infobip_base_url": "https://127.0.0.1:9/other-path"},
        {"infobip_sender": "OFFICIAL-ACCOUNT-ID-XY12Z3"},
    ],
    ids=["other host", "other path", "other sender"],
)
def test_changing_the_base_url_or_sender_without_the_key_is_refused_and_nothing_is_saved(
    client, infobip_oa, changes
):
    response = edit(client, infobip_oa, name="Renamed", **changes)
    assert errors_of(response, "infobip_api_key") == [ENDPOINT_CHANGED]
    infobip_oa.refresh_from_db()
    assert infobip_oa.name == "Demo Bank"
    assert credentials(infobip_oa) == (STORED_BASE, STORED_KEY, SENDER, "infobip")
    assert not AuditEvent.objects.filter(action="oa.update").exists()


def test_the_same_endpoint_keeps_the_stored_key_without_retyping_it(client, infobip_oa):
    assert edit(client, infobip_oa, name="Renamed").status_code == 302
    infobip_oa.refresh_from_db()
    assert infobip_oa.name == "Renamed"
    assert credentials(infobip_oa) == (STORED_BASE, STORED_KEY, SENDER, "infobip")


def test_a_new_endpoint_with_a_new_key_typed_in_the_same_change_is_saved(client, infobip_oa):
    new_base = "https://k3x9.api.infobip.com"
    response = edit(client, infobip_oa, infobip_base_url=new_base, infobip_api_key="a-new-key-for-k3x9")
    assert response.status_code == 302
    assert credentials(infobip_oa) == (new_base, "a-new-key-for-k3x9", SENDER, "infobip")
    event = AuditEvent.objects.get(action="oa.update")
    assert "infobip_base_url" in event.details["changed"]
    assert event.details["secrets_replaced"] == ["infobip_api_key"]


def test_switching_the_provider_back_to_infobip_needs_the_key_again(client, infobip_oa):
    to_zalo = edit(client, infobip_oa, provider="zalo", app_id="app-9", app_secret="app-9-secret-value")
    assert to_zalo.status_code == 302
    back = edit(client, infobip_oa, provider="infobip")
    assert errors_of(back, "infobip_api_key") == [ENDPOINT_CHANGED]
    infobip_oa.refresh_from_db()
    assert infobip_oa.provider == "zalo"


def test_a_listener_set_as_base_url_never_receives_the_stored_key(client, infobip_oa, listener, settings):
    """The attack of issue 9: point the OA at one's own listener, then press "Test connection"."""
    settings.DEBUG = True  # local mode, so that the listener's plain-http loopback URL is accepted
    listener.on("GET", f"/infobip/zalo/1/sender/{SENDER}/quota", Reply({"dailyQuota": 1}))
    refused = edit(client, infobip_oa, infobip_base_url=f"{listener.url}/infobip")
    assert errors_of(refused, "infobip_api_key") == [ENDPOINT_CHANGED]
    client.post(reverse("oas:test_connection", args=[infobip_oa.pk]))
    assert listener.requests == []
    # With a key of their own the change is saved, and the listener gets that key, never ours.
    saved = edit(client, infobip_oa, infobip_base_url=f"{listener.url}/infobip", infobip_api_key="own-key")
    assert saved.status_code == 302
    client.post(reverse("oas:test_connection", args=[infobip_oa.pk]))
    assert listener.requests, "the test connection should have reached the new endpoint"
    assert {r.headers.get("authorization") for r in listener.requests} == {"App own-key"}
    assert not any(STORED_KEY.encode() in r.body or STORED_KEY in str(r.headers) for r in listener.requests)


# --- the same for a Zalo OA: secrets bound to the app id ----------------------------------------


def test_a_new_zalo_app_id_needs_the_app_secret_and_oa_secret_key_again(client, zalo_oa):
    url = reverse("oas:edit", args=[zalo_oa.pk])
    response = client.post(url, {**ZALO_FORM, "app_id": "app-2", "app_secret": "", "oa_secret_key": ""})
    assert errors_of(response, "app_secret") == ["The Zalo app id changed: enter the app secret again."]
    assert errors_of(response, "oa_secret_key") == ["The Zalo app id changed: enter the OA secret key again."]
    only_one = client.post(
        url, {**ZALO_FORM, "app_id": "app-2", "app_secret": "app-2-secret", "oa_secret_key": ""}
    )
    assert errors_of(only_one, "app_secret") == []
    assert errors_of(only_one, "oa_secret_key") == ["The Zalo app id changed: enter the OA secret key again."]
    creds = OACredentials.objects.get(oa=zalo_oa)
    assert (creds.app_id, creds.app_secret, creds.oa_secret_key) == (
        "app-1",
        "app-1-secret-value",
        "webhook-secret-key-1",
    )
    both = {**ZALO_FORM, "app_id": "app-2", "app_secret": "app-2-secret", "oa_secret_key": "webhook-2"}
    assert client.post(url, both).status_code == 302
    creds.refresh_from_db()
    assert (creds.app_id, creds.app_secret, creds.oa_secret_key) == ("app-2", "app-2-secret", "webhook-2")


def test_the_same_zalo_app_id_keeps_its_secrets(client, zalo_oa):
    form = {**ZALO_FORM, "name": "Renamed", "app_secret": "", "oa_secret_key": ""}
    assert client.post(reverse("oas:edit", args=[zalo_oa.pk]), form).status_code == 302
    creds = OACredentials.objects.get(oa=zalo_oa)
    assert (creds.app_secret, creds.oa_secret_key) == ("app-1-secret-value", "webhook-secret-key-1")


# --- rule 2: the base URL ------------------------------------------------------------------------

HTTPS_ONLY = "Use an https URL: plain http is accepted only in local mode, for the sandbox on this machine."
LOOPBACK_ONLY = "Plain http is accepted only for this machine (127.0.0.1, ::1, localhost); use https."
NO_USERINFO = "The URL must not contain a user name or password."
NO_QUERY = "The URL must not contain a query (?) or a fragment (#)."


@pytest.mark.parametrize(
    ("debug", "url", "message"),
    [
        (False, "http://api.infobip.com", HTTPS_ONLY),
        (False, "http://127.0.0.1:8600/infobip", HTTPS_ONLY),
        (False, "https://user:secret@k3x9.api.infobip.com", NO_USERINFO),
        (False, "https://k3x9.api.infobip.com/?to=attacker", NO_QUERY),
        (False, "https://k3x9.api.infobip.com/#fragment", NO_QUERY),
        (True, "http://api.infobip.com", LOOPBACK_ONLY),
        (True, "http://127.0.0.2:8600/infobip", LOOPBACK_ONLY),
        (True, "http://localhost.attacker.example:8600/infobip", LOOPBACK_ONLY),
        (True, "http://user@127.0.0.1:8600/infobip", NO_USERINFO),
    ],
)
def test_a_bad_base_url_gets_a_field_error_and_creates_nothing(
    client, quality_admin, settings, debug, url, message
):
    settings.DEBUG = debug
    client.force_login(quality_admin)
    response = client.post(reverse("oas:create"), {**INFOBIP_FORM, "infobip_base_url": url})
    assert errors_of(response, "infobip_base_url") == [message]
    assert not OfficialAccount.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("debug", "url"),
    [
        (False, "https://k3x9.api.infobip.com"),
        (False, "https://api.infobip.com/"),
        (True, "http://127.0.0.1:8600/infobip"),
        (True, "http://localhost:8600/infobip"),
        (True, "http://[::1]:8600/infobip"),
    ],
)
def test_https_and_local_loopback_base_urls_are_accepted(client, quality_admin, settings, debug, url):
    settings.DEBUG = debug
    client.force_login(quality_admin)
    assert client.post(reverse("oas:create"), {**INFOBIP_FORM, "infobip_base_url": url}).status_code == 302
    assert OACredentials.objects.get().infobip_base_url == url


# --- rule 3: the sender --------------------------------------------------------------------------

SENDER_SHAPE = "Use 1 to 64 letters, digits, dashes and underscores (no spaces, dots, slashes, ? or #)."


@pytest.mark.parametrize(
    "sender", ["../../zalo/1/logs", "..", "a/b", "a?b", "a#b", "a b", "1234.5678", "a\tb", "ô-oa"]
)
def test_a_sender_that_could_change_the_request_path_is_refused(client, quality_admin, sender):
    client.force_login(quality_admin)
    response = client.post(reverse("oas:create"), {**INFOBIP_FORM, "infobip_sender": sender})
    assert errors_of(response, "infobip_sender") == [SENDER_SHAPE]
    assert not OfficialAccount.objects.exists()


@pytest.mark.parametrize("sender", ["2893352839501541173", "OFFICIAL-ACCOUNT-ID-XY12Z3", "demo-oa-2", "a_b"])
def test_infobip_sender_ids_of_the_spec_and_the_sandbox_are_accepted(client, quality_admin, sender):
    client.force_login(quality_admin)
    assert client.post(reverse("oas:create"), {**INFOBIP_FORM, "infobip_sender": sender}).status_code == 302


# --- the service enforces the same for every caller ----------------------------------------------


def service_data(**changes) -> dict:
    data = {**INFOBIP_FORM, "infobip_api_key": "", **changes}
    data.pop("policy")
    return data


def test_the_service_refuses_a_new_endpoint_without_the_key_whoever_calls_it(infobip_oa, quality_admin):
    policy = Policy.objects.get(code="zbs-2026")
    with pytest.raises(CredentialsRefused) as refused:
        save_official_account(
            actor=quality_admin,
            oa=infobip_oa,
            data=service_data(name="Renamed", infobip_base_url="https://attacker.example.com"),
            policy=policy,
        )
    assert refused.value.message_dict == {"infobip_api_key": [ENDPOINT_CHANGED]}
    infobip_oa.refresh_from_db()
    assert infobip_oa.name == "Demo Bank"
    assert credentials(infobip_oa) == (STORED_BASE, STORED_KEY, SENDER, "infobip")
    assert not AuditEvent.objects.filter(action="oa.update").exists()


def test_the_service_refuses_an_empty_base_url_that_falls_back_to_another_host(
    infobip_oa, quality_admin, settings
):
    """An empty URL means settings.INFOBIP_BASE_URL to the client: that is a new endpoint too."""
    settings.INFOBIP_BASE_URL = "https://api.infobip.com"
    with pytest.raises(CredentialsRefused) as refused:
        save_official_account(
            actor=quality_admin,
            oa=infobip_oa,
            data=service_data(infobip_base_url=""),
            policy=Policy.objects.get(code="zbs-2026"),
        )
    assert refused.value.message_dict == {"infobip_api_key": [ENDPOINT_CHANGED]}


def test_the_service_refuses_bad_urls_and_senders_on_create(quality_admin):
    with pytest.raises(CredentialsRefused) as refused:
        save_official_account(
            actor=quality_admin,
            oa=None,
            data=service_data(
                infobip_api_key=STORED_KEY, infobip_base_url="http://api.infobip.com", infobip_sender="../x"
            ),
            policy=Policy.objects.get(code="zbs-2026"),
        )
    assert refused.value.message_dict == {"infobip_base_url": [HTTPS_ONLY], "infobip_sender": [SENDER_SHAPE]}
    assert not OfficialAccount.objects.exists()
    assert not AuditEvent.objects.exists()


def test_the_service_checks_the_oa_id_an_infobip_oa_without_sender_would_send_as(quality_admin):
    with pytest.raises(CredentialsRefused) as refused:
        save_official_account(
            actor=quality_admin,
            oa=None,
            data=service_data(infobip_api_key=STORED_KEY, infobip_sender="", zalo_oa_id=".."),
            policy=Policy.objects.get(code="zbs-2026"),
        )
    assert refused.value.message_dict == {"infobip_sender": [SENDER_SHAPE]}
    assert not OfficialAccount.objects.exists()


def test_the_service_refuses_a_new_zalo_app_id_without_its_secrets(zalo_oa, quality_admin):
    data = {**ZALO_FORM, "app_id": "app-2", "app_secret": "", "oa_secret_key": ""}
    data.pop("policy")
    with pytest.raises(CredentialsRefused) as refused:
        save_official_account(
            actor=quality_admin, oa=zalo_oa, data=data, policy=Policy.objects.get(code="zns-2024")
        )
    assert set(refused.value.message_dict) == {"app_secret", "oa_secret_key"}
    assert OACredentials.objects.get(oa=zalo_oa).app_id == "app-1"
