"""Property-based tests of the campaign builder's forms (issue 15, "Bad input everywhere"): random
POST data as a marketer (any field given any text, unicode, huge, missing, out-of-range numbers,
malformed or impossible dates and times, unknown choices, repeated values) to the new, edit and
autosave endpoints. Never a 500; an invalid post to new or edit saves nothing (no campaign created,
the campaign row unchanged, no audit entry); every refusal names the field and says why, and the
page shows that reason; autosave keeps the stored value of every field it refuses."""

from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import composer
from campaigns.models import Campaign
from compliance.models import AuditEvent

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Every field the compose form posts.
FIELDS = [
    "name", "oa", "template", "audience_lists", "audience_segments", "time_zone", "send_at_date",
    "send_at_time", "sending_speed_limit_amount", "sending_speed_limit_time_unit", "delivery_days",
    "delivery_from", "delivery_to", "validity_period_amount", "validity_period_time_unit",
    "sms_failover_enabled", "sms_failover_sender", "sms_failover_text", "sms_failover_validity_amount",
    "sms_failover_validity_time_unit", "sms_failover_max", "encrypted", "platform_entity_id",
    "platform_application_id", "notify_url", "callback_data", "staged_release", "stage_percent",
    "stage_min_recipients", "stage_wait_minutes", "stage_bad_report_threshold",
    "map-customer_name-source", "map-customer_name-key", "map-order_code-source", "map-order_code-value",
    "map-amount-format", "map-due_date-source", "smsmap-x-source",
]  # fmt: skip
# The refusals are keyed by these (plus "mapping", the whole mapping checked over the audience).
ERROR_KEYS = {name for name in FIELDS if not name.startswith(("map-", "smsmap-"))} | {"mapping"}
# No NUL and no lone surrogate (a browser cannot send one: the test client cannot even encode it).
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40)
VALUES = (
    TEXT
    | st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1",
            "30",
            "48",
            "172801",
            "2147483648",
            "99999999999999999999",
            "1e3",
            "0.5",
            "2.555",
            "NaN",
            "Infinity",
            "100.01",
            "١٢",
            "२",
            "MINUTE",
            "HOUR",
            "DAY",
            "SECONDS",
            "HOURS",
            "WEEKS",
            "MONDAY",
            "SUNDAY",
            "FUNDAY",
            "07:00",
            "21:30",
            "24:00",
            "7:5",
            "23:59:59",
            "2026-02-30",
            "2026-13-01",
            "9999-12-31",
            "0001-01-01",
            "2027-01-01",
            "Asia/Ho_Chi_Minh",
            "Mars/Olympus",
            "UTC",
            "../../etc",
            "https://example.com/dlr",
            "ftp://x",
            "https://" + "a" * 2100,
            "on",
            "true",
            "constant",
            "field",
            "attribute",
            "currency",
            "date",
            "x" * 5000,
            "Nguyễn Văn A 🙂",
            "<script>alert(1)</script>",
        ]
    )  # fmt: skip
)


def _posts(valid: dict):
    """The valid form with fields replaced, dropped, repeated or added."""
    changes = st.dictionaries(
        st.sampled_from(FIELDS),
        st.none() | st.lists(VALUES, min_size=1, max_size=3),
        min_size=1,
        max_size=6,
    )

    def apply(change):
        post = {key: value for key, value in valid.items()}
        for key, values in change.items():
            if values is None:
                post.pop(key, None)
            else:
                post[key] = values
        return post

    return changes.map(apply)


def _assert_refusal_explained(errors: dict, page: str | None = None) -> None:
    assert errors, "refused without a reason"
    for key, messages in errors.items():
        assert key in ERROR_KEYS, (key, messages)
        assert messages and all(str(message).strip() for message in messages), (key, messages)
        if page is not None:
            for message in messages:
                assert escape(message) in page, (key, message)  # the reason is on the page


def _row(campaign: Campaign) -> dict:
    fresh = Campaign.objects.get(pk=campaign.pk)
    state = {field.attname: getattr(fresh, field.attname) for field in Campaign._meta.concrete_fields}
    state["lists"] = sorted(fresh.audience_lists.values_list("pk", flat=True))
    state["segments"] = sorted(fresh.audience_segments.values_list("pk", flat=True))
    return state


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def test_new_answers_any_post_with_a_draft_or_its_reasons_and_saves_nothing_when_refused(marketer, form_data):
    client = _client(marketer)
    outcomes = {"saved": 0, "refused": 0}

    @FUZZ
    @given(post=_posts(form_data))
    def submit(post):
        campaigns, audit = Campaign.objects.count(), AuditEvent.objects.count()
        response = client.post(reverse("campaigns:new"), post)
        assert response.status_code in (302, 400), response.status_code
        if response.status_code == 302:
            outcomes["saved"] += 1
            assert Campaign.objects.count() == campaigns + 1
            return
        outcomes["refused"] += 1
        assert (Campaign.objects.count(), AuditEvent.objects.count()) == (campaigns, audit)
        errors = composer.create_draft(actor=marketer, data=response.wsgi_request.POST).errors
        _assert_refusal_explained(errors, response.content.decode())

    submit()
    assert outcomes["saved"] >= 3 and outcomes["refused"] >= 10, outcomes


def test_edit_answers_any_post_and_a_refused_one_leaves_the_campaign_as_it_was(marketer, form_data):
    client = _client(marketer)
    campaign = composer.create_draft(actor=marketer, data=form_data).campaign

    @FUZZ
    @given(post=_posts(form_data))
    def submit(post):
        before, audit = _row(campaign), AuditEvent.objects.count()
        response = client.post(reverse("campaigns:edit", args=[campaign.pk]), post)
        assert response.status_code in (302, 400), response.status_code
        if response.status_code == 400:
            assert _row(campaign) == before
            assert AuditEvent.objects.count() == audit
            errors = composer.update_draft(
                campaign.pk, actor=marketer, data=response.wsgi_request.POST
            ).errors
            _assert_refusal_explained(errors, response.content.decode())
            assert _row(campaign) == before

    submit()


def test_autosave_answers_any_post_with_json_and_keeps_every_refused_field(marketer, form_data):
    client = _client(marketer)
    campaign = composer.create_draft(actor=marketer, data=form_data).campaign
    columns = {field.name: field.attname for field in Campaign._meta.concrete_fields}

    @FUZZ
    @given(post=_posts(form_data))
    def save(post):
        before, audit = _row(campaign), AuditEvent.objects.count()
        response = client.post(reverse("campaigns:autosave", args=[campaign.pk]), post)
        assert response.status_code == 200, response.status_code
        body = response.json()
        assert body["saved"] is True
        after = _row(campaign)
        for key in body["errors"]:
            assert key in ERROR_KEYS, key
            if key in columns:
                column = columns[key]
                assert after[column] == before[column], key  # a refused field keeps its stored value
        if body["errors"]:
            _assert_refusal_explained(body["errors"])
        assert (AuditEvent.objects.count() > audit) == bool(body["changed"])

    save()
