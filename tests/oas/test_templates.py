"""Message templates: sync from the sandbox over real HTTP, the pages, previews and role checks."""

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from compliance.models import AuditEvent
from oas import jobs
from oas.models import MessageTemplate, OfficialAccount, RSAKey
from oas.services.template_checks import validate_for_send
from oas.services.template_sync import sync_templates
from providers.http import interactive_client
from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET, DEMO_INFOBIP_KEY, DEMO_TOKENS
from tests.providers.conftest import make_oa

Status = MessageTemplate.Status
Tag = MessageTemplate.Tag


def zalo_oa(oa_id="demo-oa-1", **extra) -> OfficialAccount:
    """An OA of ours whose credentials work against the sandbox's demo OA."""
    values = {
        "app_id": DEMO_APP_ID,
        "app_secret": DEMO_APP_SECRET,
        "access_token": DEMO_TOKENS[oa_id],
        "refresh_token": f"{oa_id}-refresh-token",
        **extra,
    }
    return make_oa(oa_id, **values)


def infobip_oa(sb) -> OfficialAccount:
    return make_oa(
        "demo-oa-2",
        provider=OfficialAccount.Provider.INFOBIP,
        infobip_base_url=sb.infobip_base,
        infobip_api_key=DEMO_INFOBIP_KEY,
        infobip_sender="demo-oa-2",
    )


def sync(oa):
    return sync_templates(oa.pk, http=interactive_client())


def stored(oa) -> dict[str, MessageTemplate]:
    return {t.template_id: t for t in MessageTemplate.objects.filter(oa=oa)}


def rsa_key_for(oa, bits=2048) -> RSAKey:
    key = rsa_keys.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return RSAKey.objects.create(
        oa=oa,
        public_key=base64.b64encode(der).decode(),
        fingerprint=hashlib.sha256(der).hexdigest(),
        key_bits=bits,
        origin=RSAKey.Origin.FETCHED,
    )


# --- sync ------------------------------------------------------------------------------------------


def test_a_sync_stores_every_template_with_status_tag_params_buttons_preview_and_price(sb, db):
    oa = zalo_oa()
    result = sync(oa)
    assert result.ok and len(result.created) == 9
    templates = stored(oa)
    assert {tid: t.status for tid, t in templates.items() if t.status != Status.ENABLED} == {
        "100007": Status.DISABLED,
        "100008": Status.PENDING_REVIEW,
        "100009": Status.REJECTED,
    }
    assert templates["100001"].tag == Tag.TRANSACTION
    assert templates["100002"].tag == Tag.CUSTOMER_CARE
    assert templates["100003"].tag == Tag.MARKETING
    order = templates["100001"]
    params = {p["name"]: p for p in order.params}
    assert params["amount"] == {
        "name": "amount",
        "type": "NUMBER",
        "require": True,
        "maxLength": 12,
        "minLength": 1,
        "acceptNull": False,
    }
    assert params["date"]["require"] is False and params["date"]["acceptNull"] is True
    assert order.buttons == [{"type": 1, "title": "Xem chi tiết", "content": "https://example.com/order"}]
    assert order.preview_url.endswith("/znspreview/100001")
    assert order.price == "300"
    assert order.quality == MessageTemplate.Quality.UNDEFINED
    oa.refresh_from_db()
    assert oa.templates_synced_at is not None and oa.template_sync_error == ""
    assert AuditEvent.objects.filter(action="templates.sync", target_id=str(oa.pk)).count() == 1


def test_an_infobip_oa_syncs_through_infobips_template_api(sb, db):
    oa = infobip_oa(sb)
    result = sync(oa)
    assert result.ok
    templates = stored(oa)
    assert set(templates) == {"200001", "200002", "200003", "200009"}
    assert templates["200009"].status == Status.DISABLED
    assert templates["200003"].tag == Tag.MARKETING
    otp = templates["200001"].params[0]
    assert otp["name"] == "otp" and otp["require"] is True and otp["maxLength"] == 10


def test_a_second_sync_updates_changed_templates_in_place_and_keeps_ones_the_provider_dropped(sb, db):
    oa = zalo_oa()
    sync(oa)
    gone = MessageTemplate.objects.create(
        oa=oa, template_id="199999", name="Deleted at Zalo", tag=Tag.TRANSACTION, status=Status.ENABLED
    )
    sb.template("100005", name="Account update v2")
    result = sync(oa)
    assert result.ok and result.created == [] and result.updated == ["100005"]
    assert result.missing == ["199999"]
    assert stored(oa)["100005"].name == "Account update v2"
    gone.refresh_from_db()
    assert gone.status == Status.ENABLED  # kept as it was; the list page flags it


def test_the_list_flags_templates_the_provider_no_longer_lists(sb, db, client, marketer):
    oa = zalo_oa()
    MessageTemplate.objects.create(
        oa=oa, template_id="199999", name="Deleted at Zalo", tag=Tag.TRANSACTION, status=Status.ENABLED
    )
    sync(oa)
    client.force_login(marketer)
    response = client.get(reverse("oas:templates", args=[oa.pk]))
    flagged = [t.template_id for t in response.context["templates"] if t.not_listed]
    assert flagged == ["199999"]
    assert "Not listed by the provider any more" in response.content.decode()
    assert [t.status for t in response.context["templates"]][-1] == Status.DISABLED  # sendable first


def test_a_provider_error_during_sync_keeps_the_last_good_list_and_records_the_error(
    sb, db, client, marketer
):
    oa = zalo_oa()
    sync(oa)
    before = {tid: (t.status, t.name, t.synced_at) for tid, t in stored(oa).items()}
    synced_at = OfficialAccount.objects.get(pk=oa.pk).templates_synced_at
    sb.template("100001", name="Renamed at Zalo")
    sb.faults(error_rate=1, error_status=500, scope=["zalo"])
    result = sync(oa)
    assert not result.ok and result.provider_code == "500"
    assert {tid: (t.status, t.name, t.synced_at) for tid, t in stored(oa).items()} == before
    oa.refresh_from_db()
    assert oa.templates_synced_at == synced_at
    assert oa.template_sync_error == "The provider's server failed [500]"
    client.force_login(marketer)
    page = client.get(reverse("oas:templates", args=[oa.pk])).content.decode()
    assert "The provider&#x27;s server failed [500]" in page
    assert "Order confirmation" in page


def test_a_successful_sync_after_a_failure_clears_the_error(sb, db):
    oa = zalo_oa()
    sb.faults(error_rate=1, error_status=500, scope=["zalo"])
    assert not sync(oa).ok
    assert not MessageTemplate.objects.filter(oa=oa).exists()
    sb.faults(error_rate=0)
    assert sync(oa).ok
    oa.refresh_from_db()
    assert oa.template_sync_error == "" and MessageTemplate.objects.filter(oa=oa).count() == 9


def test_the_sync_error_is_recorded_in_the_language_of_the_person_who_asked(sb, db, client, quality_admin):
    oa = zalo_oa()
    sb.faults(error_rate=1, error_status=500, scope=["zalo"])
    client.force_login(quality_admin)
    client.post(reverse("set_language"), {"language": "vi"})
    client.post(reverse("oas:templates_sync", args=[oa.pk]))
    oa.refresh_from_db()
    assert oa.template_sync_error == "Máy chủ nhà cung cấp gặp lỗi [500]"


def test_a_template_disabled_at_the_provider_pauses_its_running_campaigns_on_the_next_sync(sb, db):
    oa = zalo_oa()
    sync(oa)
    template = stored(oa)["100001"]
    running = Campaign.objects.create(oa=oa, template=template, name="Orders", status=Campaign.Status.RUNNING)
    other = Campaign.objects.create(
        oa=oa, template=stored(oa)["100002"], name="Follow-up", status=Campaign.Status.RUNNING
    )
    sb.template("100001", status="DISABLE", reason="Mẫu tin có dấu hiệu spam")
    result = sync(oa)
    assert result.status_changes == {"100001": (Status.ENABLED, Status.DISABLED)}
    running.refresh_from_db()
    other.refresh_from_db()
    assert running.status == Campaign.Status.PAUSED
    assert "Order confirmation (100001)" in running.pause_reason
    assert "Mẫu tin có dấu hiệu spam" in running.pause_reason
    assert other.status == Campaign.Status.RUNNING
    assert AuditEvent.objects.filter(action="campaign.pause", target_id=str(running.pk)).exists()
    assert AuditEvent.objects.filter(action="template.status", target_id=str(template.pk)).exists()


def test_the_periodic_job_syncs_every_active_oa(sb, db, settings, django_capture_on_commit_callbacks):
    settings.JOBS_IN_PROCESS = True
    first = zalo_oa()
    second = infobip_oa(sb)
    asleep = zalo_oa("demo-oa-3")
    OfficialAccount.objects.filter(pk=asleep.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.sync_all_templates() == 2
    assert MessageTemplate.objects.filter(oa=first).count() == 9
    assert MessageTemplate.objects.filter(oa=second).count() == 4
    assert not MessageTemplate.objects.filter(oa=asleep).exists()


def test_the_periodic_job_is_in_the_periodic_list(db):
    from zalo_admin.periodic import PERIODIC_JOBS

    assert "oas.jobs.sync_all_templates" in {job.func for job in PERIODIC_JOBS}


def test_a_scheduled_sync_that_changes_nothing_writes_no_audit_record(sb, db):
    oa = zalo_oa()
    jobs.sync_oa_templates(oa.pk)
    count = AuditEvent.objects.count()
    assert jobs.sync_oa_templates(oa.pk) is True
    assert AuditEvent.objects.count() == count


# --- pages -----------------------------------------------------------------------------------------


def test_a_quality_admin_syncs_from_the_list_page_and_sees_the_templates(sb, db, client, quality_admin):
    oa = zalo_oa()
    client.force_login(quality_admin)
    page = client.get(reverse("oas:templates", args=[oa.pk]))
    assert "Sync from the provider" in page.content.decode()
    response = client.post(reverse("oas:templates_sync", args=[oa.pk]), follow=True)
    html = response.content.decode()
    assert "Templates synced: 9 new, 0 changed." in html
    assert "Old order template" in html and "Rejected" in html and "Pending review" in html
    event = AuditEvent.objects.get(action="templates.sync")
    assert event.actor == "user:quality" and event.details["created"][0] == "100001"


@pytest.mark.parametrize("role", ["marketer", "auditor"])
def test_only_quality_admins_may_sync(client, role_users, role):
    oa = make_oa("demo-oa-1")
    client.force_login(role_users[role])
    page = client.get(reverse("oas:templates", args=[oa.pk])).content.decode()
    assert "Sync from the provider" not in page
    assert client.post(reverse("oas:templates_sync", args=[oa.pk])).status_code == 403
    assert not AuditEvent.objects.exists()


def test_the_sync_url_only_answers_post(client, quality_admin):
    oa = make_oa("demo-oa-1")
    client.force_login(quality_admin)
    assert client.get(reverse("oas:templates_sync", args=[oa.pk])).status_code == 405


def make_template(oa, **fields) -> MessageTemplate:
    values = {
        "template_id": "100001",
        "name": "Order confirmation",
        "tag": Tag.TRANSACTION,
        "status": Status.ENABLED,
        "params": [
            {"name": "customer_name", "type": "STRING", "require": True, "maxLength": 30, "minLength": 1},
            {"name": "order_code", "type": "STRING", "require": True, "maxLength": 30, "minLength": 1},
            {"name": "amount", "type": "NUMBER", "require": True, "maxLength": 12, "minLength": 1},
            {"name": "note", "type": "STRING", "require": False, "maxLength": 200, "acceptNull": True},
        ],
        "buttons": [{"type": 1, "title": "Xem chi tiết", "content": "https://example.com/order"}],
        "sample_data": {"customer_name": "Nguyễn Văn A", "order_code": "DH001", "amount": "150000"},
        "preview_url": "https://account.zalo.cloud/znspreview/abc",
        "price": "300",
        "synced_at": timezone.now(),
        **fields,
    }
    return MessageTemplate.objects.create(oa=oa, **values)


@pytest.fixture
def template(db):
    return make_template(make_oa("demo-oa-1"))


def detail_url(template):
    return reverse("oas:template_detail", args=[template.oa_id, template.pk])


def test_the_detail_page_lists_the_parameters_with_their_rules_and_the_providers_preview_link(
    client, auditor, template
):
    client.force_login(auditor)
    html = client.get(detail_url(template)).content.decode()
    assert "customer_name" in html and "1–30" in html
    assert 'href="https://account.zalo.cloud/znspreview/abc"' in html
    assert "Xem chi tiết" in html
    assert "Preview with sample data" not in html  # read-only for the auditor


def test_the_sample_data_button_previews_the_providers_sample_values(client, marketer, template):
    client.force_login(marketer)
    response = client.post(detail_url(template), {"action": "sample", "data": "ignored"})
    assert response.status_code == 200
    preview = response.context["preview"]
    assert [(row.name, row.value) for row in preview.rows][:3] == [
        ("customer_name", "Nguyễn Văn A"),
        ("order_code", "DH001"),
        ("amount", "150000"),
    ]
    assert preview.ok
    html = response.content.decode()
    assert "Every parameter passes the template's rules." in html
    assert "DH001" in html


def test_the_sample_data_button_says_so_when_the_provider_gave_none(client, marketer, template):
    MessageTemplate.objects.filter(pk=template.pk).update(sample_data={})
    client.force_login(marketer)
    response = client.post(detail_url(template), {"action": "sample"})
    assert "The provider gave no sample data for this template" in response.content.decode()
    assert [e.code for e in response.context["preview"].errors] == ["required"] * 3


def test_a_contacts_data_is_previewed_with_only_the_templates_parameters(client, marketer, template):
    client.force_login(marketer)
    contact = {"customer_name": "Trần Thị B", "order_code": "DH9", "amount": 99000, "email": "b@example.com"}
    response = client.post(detail_url(template), {"action": "preview", "data": json.dumps(contact)})
    preview = response.context["preview"]
    assert {row.name: row.value for row in preview.rows} == {
        "customer_name": "Trần Thị B",
        "order_code": "DH9",
        "amount": "99000",
        "note": "",
    }
    assert preview.ok  # the contact's e-mail is not a template parameter and is simply ignored
    assert (
        "b@example.com"
        not in response.content.decode().split('data-testid="preview"')[1].split("</section>")[0]
    )


def test_a_preview_with_a_missing_value_names_the_parameter(client, marketer, template):
    client.force_login(marketer)
    response = client.post(detail_url(template), {"action": "preview", "data": '{"customer_name": "A"}'})
    assert [e.message for e in response.context["preview"].errors] == [
        "order_code is required.",
        "amount is required.",
    ]


def test_validation_errors_name_each_failing_parameter(client, marketer, template):
    client.force_login(marketer)
    data = {"customer_name": "x" * 31, "amount": "mười nghìn", "voucher": "X"}
    response = client.post(detail_url(template), {"action": "validate", "data": json.dumps(data)})
    messages = [e.message for e in response.context["preview"].errors]
    assert messages == [
        "customer_name is 31 characters long; at most 30 are allowed.",
        "order_code is required.",
        "amount must be a number.",
        "voucher is not a parameter of this template.",
    ]
    html = response.content.decode()
    assert "customer_name is 31 characters long; at most 30 are allowed." in html


def test_text_that_is_not_a_json_object_is_a_field_error_and_nothing_is_previewed(client, marketer, template):
    client.force_login(marketer)
    for bad in ('{"customer_name": ', '["a", "b"]'):
        response = client.post(detail_url(template), {"action": "validate", "data": bad})
        assert response.status_code == 200
        assert response.context["form"].errors["data"]
        assert response.context["preview"] is None


def test_checking_encryption_without_an_active_key_is_a_field_error(client, marketer, template):
    client.force_login(marketer)
    response = client.post(detail_url(template), {"action": "validate", "data": "{}", "encrypt": "on"})
    assert response.context["form"].errors["encrypt"] == [
        "This OA has no active RSA key. Add one on the OA's page before checking encryption."
    ]


def test_encryption_is_checked_against_the_oaep_limit_of_the_oas_active_key(client, marketer, template):
    rsa_key_for(template.oa)
    client.force_login(marketer)
    data = dict(template.sample_data, note="ệ" * 64)  # 64 characters, 192 bytes in UTF-8
    response = client.post(
        detail_url(template), {"action": "validate", "data": json.dumps(data), "encrypt": "on"}
    )
    assert [e.message for e in response.context["preview"].errors] == [
        "note is 192 bytes in UTF-8; encrypted with this 2048-bit key a value holds at most 190 bytes."
    ]
    response = client.post(detail_url(template), {"action": "validate", "data": json.dumps(data)})
    assert response.context["preview"].ok  # without encryption 64 characters fit the 200 allowed


def test_the_campaign_builders_check_uses_the_oas_active_key_and_says_when_there_is_none(template):
    data = dict(template.sample_data, note="ệ" * 64)
    assert [e.code for e in validate_for_send(template, data, encrypted=True)] == ["no_key"]
    assert validate_for_send(template, data) == []
    rsa_key_for(template.oa)
    errors = validate_for_send(template, data, encrypted=True)
    assert [(e.param, e.code) for e in errors] == [("note", "encryption")]


def test_an_auditor_may_read_templates_but_not_preview_or_validate(client, auditor, template):
    client.force_login(auditor)
    assert client.get(reverse("oas:templates", args=[template.oa_id])).status_code == 200
    assert client.get(detail_url(template)).status_code == 200
    for action in ("sample", "preview", "validate"):
        assert client.post(detail_url(template), {"action": action, "data": "{}"}).status_code == 403


def test_a_template_of_another_oa_is_not_found_under_this_oa(client, marketer, template):
    other = make_oa("other-oa")
    client.force_login(marketer)
    assert client.get(reverse("oas:template_detail", args=[other.pk, template.pk])).status_code == 404


def test_anonymous_visitors_are_sent_to_login(client, template):
    for url in (reverse("oas:templates", args=[template.oa_id]), detail_url(template)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_syncing_an_oa_without_credentials_records_an_error_instead_of_crashing(sb, db):
    oa = OfficialAccount.objects.create(name="Bare", zalo_oa_id="bare-oa")
    result = sync(oa)
    oa.refresh_from_db()
    assert not result.ok and oa.template_sync_error == result.error != ""
    assert not MessageTemplate.objects.filter(oa=oa).exists()
