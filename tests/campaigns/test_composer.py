"""Composing campaigns: option boundaries (Infobip's names and limits), mapping validation naming the
parameter and an example recipient, autosave, clone, every edit audited."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import composer, mapping
from campaigns.models import Campaign
from compliance import actions
from compliance.models import AuditEvent
from oas.models import MessageTemplate

pytestmark = pytest.mark.django_db


def _create(marketer, form_data, **changes):
    data = {**form_data, **changes}
    return composer.create_draft(actor=marketer, data=data)


def test_a_valid_form_creates_an_audited_draft_with_its_options(marketer, form_data, contact_list):
    result = _create(marketer, form_data)
    assert result.ok, result.errors
    campaign = result.campaign
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.author == marketer
    assert campaign.sending_speed_limit_amount == 30 and campaign.sending_speed_limit_time_unit == "HOUR"
    assert campaign.delivery_days == ["MONDAY", "TUESDAY"]
    assert (campaign.delivery_from_hour, campaign.delivery_to_hour, campaign.delivery_to_minute) == (
        7,
        21,
        30,
    )
    assert campaign.validity_seconds == 30 * 60
    assert list(campaign.audience_lists.all()) == [contact_list]
    assert campaign.template_version == mapping.template_version(campaign.template)
    event = AuditEvent.objects.get(action=actions.CAMPAIGN_CREATE)
    assert event.actor == "user:marketer" and event.details["campaign_id"] == campaign.pk


@pytest.mark.parametrize(
    ("amount", "unit", "ok"),
    [
        ("172800", "SECONDS", True),
        ("172801", "SECONDS", False),
        ("2880", "MINUTES", True),
        ("2881", "MINUTES", False),
        ("48", "HOURS", True),
        ("49", "HOURS", False),
        ("0", "MINUTES", False),
        ("1", "DAYS", False),
    ],
)
def test_validity_period_is_at_most_48_hours_in_seconds_minutes_or_hours(
    marketer, form_data, amount, unit, ok
):
    result = _create(marketer, form_data, validity_period_amount=amount, validity_period_time_unit=unit)
    assert result.ok is ok
    if not ok:
        assert set(result.errors) & {"validity_period_amount", "validity_period_time_unit"}
        assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("unit", "ok"), [("MINUTE", True), ("HOUR", True), ("DAY", True), ("SECOND", False), ("WEEK", False)]
)
def test_sending_speed_units_are_minute_hour_day(marketer, form_data, unit, ok):
    result = _create(marketer, form_data, sending_speed_limit_time_unit=unit)
    assert result.ok is ok
    if not ok:
        assert "sending_speed_limit_time_unit" in result.errors


@pytest.mark.parametrize("amount", ["0", "-3", "abc", "2147483648"])
def test_sending_speed_amount_must_be_a_positive_int32(marketer, form_data, amount):
    result = _create(marketer, form_data, sending_speed_limit_amount=amount)
    assert "sending_speed_limit_amount" in result.errors


@pytest.mark.parametrize(
    ("start", "end", "days", "field"),
    [
        ("07:00", "08:00", ["MONDAY"], None),  # exactly one hour
        ("07:00", "07:59", ["MONDAY"], "delivery_to"),  # less than one hour
        ("22:00", "06:00", ["MONDAY"], "delivery_to"),  # across midnight
        ("24:00", "23:00", ["MONDAY"], "delivery_from"),
        ("07:60", "09:00", ["MONDAY"], "delivery_from"),
        ("07:00", "", ["MONDAY"], "delivery_to"),  # both or neither
        ("07:00", "21:00", [], "delivery_days"),  # at least one day
        ("07:00", "21:00", ["FUNDAY"], "delivery_days"),
        ("", "", [], None),  # no window
    ],
)
def test_delivery_window_rules(marketer, form_data, start, end, days, field):
    result = _create(marketer, form_data, delivery_from=start, delivery_to=end, delivery_days=days)
    if field is None:
        assert result.ok, result.errors
    else:
        assert field in result.errors, result.errors
        assert not Campaign.objects.exists()


def test_send_at_is_in_the_campaign_time_zone_and_at_most_180_days_ahead(marketer, form_data):
    now = timezone.now()
    later = (now + timedelta(days=3)).astimezone(timezone.get_current_timezone())
    result = _create(marketer, form_data, send_at_date=later.strftime("%Y-%m-%d"), send_at_time="09:15")
    assert result.ok, result.errors
    local = result.campaign.send_at.astimezone(timezone.get_current_timezone())
    assert (local.hour, local.minute) == (9, 15)
    too_far = (now + timedelta(days=181)).strftime("%Y-%m-%d")
    assert "send_at_date" in _create(marketer, form_data, send_at_date=too_far, send_at_time="09:00").errors
    past = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    assert "send_at_date" in _create(marketer, form_data, send_at_date=past, send_at_time="09:00").errors
    assert "time_zone" in _create(marketer, form_data, time_zone="Mars/Olympus").errors


def test_sms_failover_needs_text_and_a_cost_ceiling(marketer, form_data):
    result = _create(marketer, form_data, sms_failover_enabled="1")
    assert {"sms_failover_text", "sms_failover_max"} <= set(result.errors)
    result = _create(
        marketer,
        form_data,
        sms_failover_enabled="1",
        sms_failover_sender="SHOPVN",
        sms_failover_text="Don <order_code> cua <customer_name>: <promo>",
        sms_failover_max="500",
        sms_failover_validity_amount="2",
        sms_failover_validity_time_unit="HOURS",
    )
    assert "sms_failover_text" in result.errors  # <promo> is not a template parameter and has no mapping
    result = _create(
        marketer,
        form_data,
        sms_failover_enabled="1",
        sms_failover_sender="SHOPVN",
        sms_failover_text="Don <order_code> cua <customer_name>: <promo>",
        **{"smsmap-promo-source": "constant", "smsmap-promo-value": "GIAM10"},
        sms_failover_max="500",
        sms_failover_validity_amount="2",
        sms_failover_validity_time_unit="HOURS",
    )
    assert result.ok, result.errors
    assert result.campaign.sms_failover_mapping == {
        "promo": {"source": "constant", "format": "none", "value": "GIAM10"}
    }
    assert (
        "sms_failover_validity_amount"
        in _create(
            marketer, form_data, sms_failover_validity_amount="49", sms_failover_validity_time_unit="HOURS"
        ).errors
    )
    assert (
        "sms_failover_sender"
        in _create(marketer, form_data, sms_failover_sender="A sender far too long").errors
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("platform_entity_id", "e" * 256),
        ("platform_application_id", "a" * 256),
        ("callback_data", "c" * 4001),
        ("notify_url", "http://example.com/dlr"),
        ("notify_url", "not a url"),
        ("stage_percent", "0"),
        ("stage_percent", "100.5"),
        ("stage_bad_report_threshold", "101"),
    ],
)
def test_advanced_options_follow_the_api_limits(marketer, form_data, field, value):
    result = _create(marketer, form_data, **{field: value})
    assert field in result.errors
    assert not Campaign.objects.exists()


def test_advanced_options_at_their_limits_are_kept(marketer, form_data):
    result = _create(
        marketer,
        form_data,
        platform_entity_id="e" * 255,
        platform_application_id="clientTestEnvironment",
        callback_data="c" * 4000,
        notify_url="https://example.com/dlr",
        encrypted="",
        staged_release="on",
        stage_percent="2",
        stage_min_recipients="100",
        stage_wait_minutes="60",
        stage_bad_report_threshold="0.5",
    )
    assert result.ok, result.errors
    assert result.campaign.stage_percent == 2 and str(result.campaign.stage_bad_report_threshold) == "0.5"


def test_staged_release_needs_all_its_figures(marketer, form_data):
    result = _create(marketer, form_data, staged_release="on", stage_percent="2")
    assert {"stage_min_recipients", "stage_wait_minutes", "stage_bad_report_threshold"} <= set(result.errors)


def test_a_mapping_error_names_the_parameter_and_an_example_recipient(marketer, form_data, contacts):
    contacts[1].attributes = {**contacts[1].attributes, "order": "DH-TOO-LONG-CODE"}
    contacts[1].save()
    result = _create(marketer, form_data)
    assert not result.ok
    [message] = result.errors["mapping"]
    assert "order_code" in message and "0987***321" in message and "Lê Văn Cường" in message
    assert "1 of 3" in message
    assert not Campaign.objects.exists()


def test_a_missing_attribute_is_a_required_error_with_an_example(marketer, form_data, contacts):
    contacts[2].attributes = {"total": 5, "due": "2026-12-01"}
    contacts[2].save()
    result = _create(marketer, form_data)
    [message] = result.errors["mapping"]
    assert "order_code is required" in message and "0901***567" in message


def test_an_unreadable_date_names_the_parameter(marketer, form_data, contacts):
    contacts[0].attributes = {**contacts[0].attributes, "due": "next week"}
    contacts[0].save()
    [message] = _create(marketer, form_data).errors["mapping"]
    assert message.startswith("due_date") and "0912***678" in message


def test_an_unmapped_parameter_is_named(marketer, form_data):
    data = {k: v for k, v in form_data.items() if not k.startswith("map-order_code")}
    result = composer.create_draft(actor=marketer, data=data)
    assert any("order_code" in m for m in result.errors["mapping"])


def test_encryption_needs_an_active_key_and_checks_the_oaep_byte_limit(marketer, form_data, oa, contacts):
    result = _create(marketer, form_data, encrypted="1")
    assert "no active RSA key" in result.errors["mapping"][0]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from oas.models import RSAKey

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    import base64

    RSAKey.objects.create(
        oa=oa,
        public_key=base64.b64encode(der).decode(),
        fingerprint="f" * 64,
        key_bits=2048,
        origin="created",
    )
    assert _create(marketer, form_data, encrypted="1").ok
    # 2048-bit OAEP-SHA256 holds 190 bytes: 64 three-byte Vietnamese letters do not fit, 30 characters long.
    template = MessageTemplate.objects.get(pk=form_data["template"])
    template.params = [
        {**p, "maxLength": 200} if p["name"] == "customer_name" else p for p in template.params
    ]
    template.save()
    contacts[0].name = "ữ" * 64
    contacts[0].save()
    result = _create(marketer, form_data, encrypted="1")
    [message] = result.errors["mapping"]
    assert "customer_name" in message and "192 bytes" in message and "0912***678" in message


def test_vietnamese_formats():
    assert mapping.vietnamese_number(1500000) == "1.500.000"
    assert mapping.vietnamese_number("1234.5") == "1.234,5"
    assert mapping.vietnamese_number("1.500.000") == "1.500.000"
    assert mapping.format_value(1500000, "currency") == "1.500.000 ₫"
    assert mapping.format_value("1.500.000", "currency", "CURRENCY_VND") == "1500000"
    assert mapping.vietnamese_date("2026-11-20") == "20/11/2026"
    with pytest.raises(mapping.ValueProblem):
        mapping.vietnamese_date("tomorrow")
    with pytest.raises(mapping.ValueProblem):
        mapping.vietnamese_number("12abc")


def test_only_sendable_templates_can_be_chosen(marketer, form_data, template):
    template.status = MessageTemplate.Status.PENDING_REVIEW
    template.save()
    assert "template" in _create(marketer, form_data).errors


def test_a_full_save_with_an_error_changes_nothing(marketer, form_data):
    campaign = _create(marketer, form_data).campaign
    before = AuditEvent.objects.count()
    result = composer.update_draft(
        campaign.pk,
        actor=marketer,
        data={
            **form_data,
            "name": "New",
            "validity_period_amount": "49",
            "validity_period_time_unit": "HOURS",
        },
    )
    assert "validity_period_amount" in result.errors
    campaign.refresh_from_db()
    assert campaign.name == "December orders" and campaign.validity_period_amount == 30
    assert AuditEvent.objects.count() == before


def test_an_edit_is_audited_with_the_changed_fields(marketer, form_data):
    campaign = _create(marketer, form_data).campaign
    result = composer.update_draft(
        campaign.pk, actor=marketer, data={**form_data, "name": "Renamed", "validity_period_amount": "45"}
    )
    assert result.ok and result.changed == ["name", "validity_period_amount"]
    event = AuditEvent.objects.filter(action=actions.CAMPAIGN_UPDATE).get()
    assert event.details["fields"] == "name, validity_period_amount"


def test_autosave_keeps_what_parses_and_reports_the_rest(marketer, form_data):
    campaign = _create(marketer, form_data).campaign
    result = composer.autosave_draft(
        campaign.pk,
        actor=marketer,
        data={
            **form_data,
            "name": "Half typed",
            "validity_period_amount": "99",
            "validity_period_time_unit": "HOURS",
        },
    )
    assert "validity_period_amount" in result.errors
    campaign.refresh_from_db()
    assert campaign.name == "Half typed" and campaign.validity_period_amount == 30
    assert AuditEvent.objects.filter(action=actions.CAMPAIGN_AUTOSAVE).get().details["fields"] == "name"
    # Nothing changed: no new audit entry.
    composer.autosave_draft(campaign.pk, actor=marketer, data={**form_data, "name": "Half typed"})
    assert AuditEvent.objects.filter(action=actions.CAMPAIGN_AUTOSAVE).count() == 1


def test_clone_copies_what_is_sent_and_is_audited(marketer, form_data, contact_list):
    source = _create(marketer, form_data).campaign
    copy = composer.clone_campaign(source.pk, actor=marketer)
    assert copy.pk != source.pk and copy.status == Campaign.Status.DRAFT and copy.cloned_from == source
    assert copy.mapping == source.mapping and copy.validity_period_amount == source.validity_period_amount
    assert list(copy.audience_lists.all()) == [contact_list]
    assert copy.name == "December orders (copy)"
    event = AuditEvent.objects.get(action=actions.CAMPAIGN_CLONE)
    assert event.details == {"campaign_id": copy.pk, "source_id": source.pk}


def test_submit_needs_an_audience(marketer, form_data):
    campaign = _create(marketer, form_data, audience_lists=[]).campaign
    result = composer.submit_for_approval(campaign.pk, actor=marketer)
    assert "audience_lists" in result.errors
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_test_send_refuses_bad_phones_before_sending(marketer, form_data):
    campaign = _create(marketer, form_data).campaign
    outcomes, errors = composer.test_send(campaign.pk, actor=marketer, phones_text="0912 345 678, 12ab")
    assert outcomes == [] and errors and "12ab" in errors[0]
    assert not AuditEvent.objects.filter(action=actions.CAMPAIGN_TEST_SEND).exists()
