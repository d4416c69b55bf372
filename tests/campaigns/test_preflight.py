"""The pre-flight (issue 12): eligibility rule by rule, Decree 91 boundaries, the quota plan on a known
OA state, the cost, the stored run and its page, and the CSV of exclusions."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from audiences.models import Contact, ContactList, ContactListMember, FollowerStatus
from audiences.services import grant_consent, suppress_phone, withdraw_consent
from campaigns import eligibility, preflight
from campaigns.eligibility import Recipient
from campaigns.models import Campaign, CampaignApproval, PreflightRun
from compliance.models import AuditEvent
from oas.models import MessageTemplate, OfficialAccount
from quotas.models import DailyQuotaUsage, OADailyStats, Policy, RecipientMarketingUsage
from quotas.services.state import create_quota_state
from zalo_admin.lib.dates import VIETNAM

# Wednesday 2 December 2026, 10:00 Vietnam time.
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
TODAY = date(2026, 12, 2)
MARKETING_PARAMS = [{"name": "customer_name", "type": "CUSTOMER_NAME", "require": True, "maxLength": 30}]
MAPPING = {"customer_name": {"source": "field", "key": "name", "format": "none"}}


def vn(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VIETNAM)


@pytest.fixture
def zns_oa(db):
    oa = OfficialAccount.objects.create(name="ZNS OA", zalo_oa_id="oa-preflight-zns")
    create_quota_state(oa, Policy.objects.get(code="zns-2024"), current_limit=20000)
    return oa


@pytest.fixture
def other_oa(db):
    oa = OfficialAccount.objects.create(name="Other OA", zalo_oa_id="oa-preflight-other")
    create_quota_state(oa, Policy.objects.get(code="zns-2024"), current_limit=20000)
    return oa


@pytest.fixture
def marketing_template(zns_oa):
    return MessageTemplate.objects.create(
        oa=zns_oa,
        template_id="390001",
        name="[QC] Ưu đãi tháng 12",
        tag=MessageTemplate.Tag.MARKETING,
        params=MARKETING_PARAMS,
        sample_data={"customer_name": "Nguyễn Văn A", "footer": "Từ chối nhận tin: soạn TC gửi 8079"},
        price="200",
    )


def make_contact(source, phone, name="Khách", *, marketing=True, audience=None):
    contact = Contact.objects.create(phone=phone, name=name, source=source)
    if marketing:
        grant_consent(
            actor="system:test",
            contact=contact,
            purpose="marketing",
            source="web form",
            collector="shop",
            wording="Đồng ý nhận tin khuyến mãi",
            evidence_text="form #1",
            occurred_at=NOW - timedelta(days=30),
        )
    if audience is not None:
        ContactListMember.objects.create(contact_list=audience, contact=contact, added_by="system:test")
    return contact


@pytest.fixture
def audience(db):
    return ContactList.objects.create(name="Preflight audience", created_by="system:test")


def make_campaign(oa, template, audience, **options):
    campaign = Campaign.objects.create(oa=oa, template=template, name="Tết sale", mapping=MAPPING, **options)
    campaign.audience_lists.set([audience])
    return campaign


def usage(oa, phone, day, count):
    RecipientMarketingUsage.objects.create(oa=oa, recipient=phone, day=day, count=count)


# --- eligibility, rule by rule --------------------------------------------------------------------


def _granted(ctx, contact):
    pass  # consent granted by make_contact


def _no_consent(ctx, contact):
    pass  # no ledger entry


def _withdrawn(ctx, contact):
    withdraw_consent(actor="system:test", contact=contact, purpose="marketing", channel="manual")


def _suppressed(ctx, contact):
    suppress_phone(actor="system:test", phone=contact.phone, reason="asked", source="manual")


def _zns_month_cap(ctx, contact):
    usage(ctx["oa"], contact.phone, TODAY - timedelta(days=1), 4)  # 4 this month on this OA


def _zns_three_this_month(ctx, contact):
    usage(ctx["oa"], contact.phone, TODAY - timedelta(days=1), 3)


def _last_month_does_not_count(ctx, contact):
    usage(ctx["oa"], contact.phone, date(2026, 11, 30), 4)


def _three_today_two_oas(ctx, contact):
    usage(ctx["oa"], contact.phone, TODAY, 2)
    usage(ctx["other"], contact.phone, TODAY, 1)  # the 4th in 24 h across two OAs


def _two_today_two_oas(ctx, contact):
    usage(ctx["oa"], contact.phone, TODAY, 1)
    usage(ctx["other"], contact.phone, TODAY, 1)  # this one is the 3rd: allowed


def _three_yesterday(ctx, contact):
    usage(ctx["other"], contact.phone, TODAY - timedelta(days=1), 3)  # not provably within 24 h


def sent_marketing(ctx, contact, at, oa_key, count):
    """`count` marketing messages of another campaign (on ctx[oa_key]) that left at `at`."""
    from campaigns.models import CampaignMessage

    template = MessageTemplate.objects.create(
        oa=ctx[oa_key], template_id=f"39{CampaignMessage.objects.count():04d}{oa_key}", name="[QC] Khác",
        tag=MessageTemplate.Tag.MARKETING,
    )  # fmt: skip
    for n in range(count):  # one message per campaign and phone
        earlier = Campaign.objects.create(oa=ctx[oa_key], template=template, name=f"Earlier {n}")
        CampaignMessage.objects.create(
            campaign=earlier, contact=contact, phone=contact.phone, tracking_id=f"t{earlier.pk}-{n}",
            state=CampaignMessage.State.DELIVERED, sending_at=at, accepted_at=at,
        )  # fmt: skip


def _three_in_the_last_24_hours_two_oas(ctx, contact):
    # Yesterday 20:00 Vietnam time (another Vietnam day, 14 h before NOW): 2 + 1 across two OAs.
    sent_marketing(ctx, contact, NOW - timedelta(hours=14), "oa", 2)
    sent_marketing(ctx, contact, NOW - timedelta(hours=14), "other", 1)


def _three_25_hours_ago(ctx, contact):
    sent_marketing(ctx, contact, NOW - timedelta(hours=25), "other", 3)  # outside the 24 hours


MARKETING_TABLE = [
    # (phone, consent granted, setup, expected rule or None = eligible)
    ("84912000001", True, _granted, None),
    ("84912000002", False, _no_consent, "consent"),
    ("84912000003", True, _withdrawn, "consent"),
    ("84912000004", True, _suppressed, "do_not_contact"),
    ("84912000005", True, _zns_month_cap, "zalo_recipient_caps"),
    ("84912000006", True, _zns_three_this_month, None),
    ("84912000007", True, _last_month_does_not_count, None),
    ("84912000008", True, _three_today_two_oas, "decree91_daily_cap"),
    ("84912000009", True, _two_today_two_oas, None),
    ("84912000010", True, _three_yesterday, None),
    ("84912000011", True, _three_in_the_last_24_hours_two_oas, "decree91_daily_cap"),
    ("84912000012", True, _three_25_hours_ago, None),
    ("84241234567", True, _granted, "invalid_phone"),  # a Hà Nội landline: passes the column check
]


def test_marketing_eligibility_table(source, zns_oa, other_oa, marketing_template, audience):
    ctx = {"oa": zns_oa, "other": other_oa}
    for phone, consent, setup, _expected in MARKETING_TABLE:
        setup(ctx, make_contact(source, phone, marketing=consent, audience=audience))
    campaign = make_campaign(zns_oa, marketing_template, audience)

    evaluation = eligibility.evaluate(campaign, NOW)

    found = {e.phone: e.rule for e in evaluation.exclusions}
    for phone, _consent, setup, expected in MARKETING_TABLE:
        assert found.get(phone) == expected, (phone, setup.__name__)
    assert evaluation.total == len(MARKETING_TABLE)
    assert evaluation.eligible_phones == sorted(p for p, _c, _s, rule in MARKETING_TABLE if rule is None)
    assert preflight.eligible_phones(campaign, NOW) == evaluation.eligible_phones
    reasons = {e.phone: e.reason for e in evaluation.exclusions}
    assert "4" in reasons["84912000005"] and "12/2026" in reasons["84912000005"]
    assert "more than 3 within 24 hours" in reasons["84912000008"]
    assert "3 marketing message(s) from all OAs in the 24 hours" in reasons["84912000011"]
    assert evaluation.counts["consent"] == 2 and evaluation.counts["tag_level"] == 0
    assert set(evaluation.applied) == {r.code for r in eligibility.RULES}


def test_non_marketing_needs_no_opt_in_but_honours_withdrawals(source, zns_oa, audience):
    template = MessageTemplate.objects.create(
        oa=zns_oa,
        template_id="190001",
        name="Order",
        tag=MessageTemplate.Tag.TRANSACTION,
        params=MARKETING_PARAMS,
    )
    keep = make_contact(source, "84912000021", marketing=False, audience=audience)
    gone = make_contact(source, "84912000022", marketing=False, audience=audience)
    withdraw_consent(actor="system:test", contact=gone, purpose="transactional", channel="manual")
    usage(zns_oa, keep.phone, TODAY, 5)  # marketing counts do not touch a transactional send
    campaign = make_campaign(zns_oa, template, audience, send_at=vn(TODAY, 23, 30))

    evaluation = eligibility.evaluate(campaign, NOW)

    assert evaluation.eligible_phones == [keep.phone]
    assert [(e.phone, e.rule) for e in evaluation.exclusions] == [(gone.phone, "consent")]
    assert "decree91_delivery_hours" in evaluation.skipped and "zalo_recipient_caps" in evaluation.skipped


@pytest.mark.parametrize(
    ("today_count", "month_count", "refused"),
    [(0, 29, False), (1, 1, True), (0, 30, True)],
)
def test_zbs_caps_one_a_day_and_thirty_a_month(source, audience, today_count, month_count, refused):
    oa = OfficialAccount.objects.create(name="ZBS OA", zalo_oa_id="oa-preflight-zbs")
    create_quota_state(oa, Policy.objects.get(code="zbs-2026"), current_limit=20000)
    template = MessageTemplate.objects.create(
        oa=oa, template_id="391", name="[QC] Sale — từ chối nhận tin: STOP", tag=3, params=MARKETING_PARAMS
    )
    contact = make_contact(source, "84912000031", audience=audience)
    if today_count:
        usage(oa, contact.phone, TODAY, today_count)
    if month_count - today_count:
        usage(oa, contact.phone, TODAY - timedelta(days=1), month_count - today_count)
    evaluation = eligibility.evaluate(make_campaign(oa, template, audience), NOW)
    assert [e.rule for e in evaluation.exclusions] == (["zalo_recipient_caps"] if refused else [])


def test_duplicates_keep_the_first(source, zns_oa, marketing_template, audience):
    contact = make_contact(source, "84912000041", audience=audience)
    campaign = make_campaign(zns_oa, marketing_template, audience)
    recipients = [Recipient(contact.pk, contact.phone), Recipient(contact.pk + 10**6, contact.phone)]
    evaluation = eligibility.evaluate(campaign, NOW, recipients=recipients)
    assert [(e.contact_id, e.rule) for e in evaluation.exclusions] == [(contact.pk + 10**6, "duplicate")]


# --- Decree 91 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "allowed"),
    [(6, 59, False), (7, 0, True), (21, 59, True), (22, 0, False)],
)
def test_decree_91_delivery_hours_boundaries(
    source, zns_oa, marketing_template, audience, hour, minute, allowed
):
    make_contact(source, "84912000051", audience=audience)
    campaign = make_campaign(
        zns_oa, marketing_template, audience, send_at=vn(date(2026, 12, 3), hour, minute)
    )
    evaluation = eligibility.evaluate(campaign, NOW)
    assert [e.rule for e in evaluation.exclusions] == ([] if allowed else ["decree91_delivery_hours"])
    assert eligibility.in_decree_hours(vn(TODAY, hour, minute)) is allowed


def test_decree_91_hours_follow_vietnam_time_whatever_the_campaign_zone(
    source, zns_oa, marketing_template, audience
):
    make_contact(source, "84912000052", audience=audience)
    # 06:30 in Tokyo is 04:30 in Vietnam.
    tokyo = datetime(2026, 12, 3, 6, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    campaign = make_campaign(zns_oa, marketing_template, audience, send_at=tokyo, time_zone="Asia/Tokyo")
    assert [e.rule for e in eligibility.evaluate(campaign, NOW).exclusions] == ["decree91_delivery_hours"]


def test_a_delivery_window_outside_the_decree_hours_refuses_the_send(
    source, zns_oa, marketing_template, audience
):
    make_contact(source, "84912000053", audience=audience)
    campaign = make_campaign(
        zns_oa,
        marketing_template,
        audience,
        delivery_days=["MONDAY", "TUESDAY"],
        delivery_from_hour=22,
        delivery_from_minute=30,
        delivery_to_hour=23,
        delivery_to_minute=30,
    )
    evaluation = eligibility.evaluate(campaign, NOW)
    assert [e.rule for e in evaluation.exclusions] == ["decree91_delivery_hours"]
    assert "no time within 07:00–22:00" in evaluation.exclusions[0].reason


def test_each_decree_91_preset_can_be_turned_off(settings, source, zns_oa, other_oa, audience):
    template = MessageTemplate.objects.create(
        oa=zns_oa, template_id="392", name="Sale", tag=3, params=MARKETING_PARAMS
    )
    contact = make_contact(source, "84912000054", audience=audience)
    usage(other_oa, contact.phone, TODAY, 3)
    campaign = make_campaign(zns_oa, template, audience, send_at=vn(TODAY, 22, 0))
    rules_hit = [e.rule for e in eligibility.evaluate(campaign, NOW).exclusions]
    assert rules_hit == ["decree91_daily_cap"]  # the first rule that refuses: the others come after
    evaluation = eligibility.evaluate(campaign, NOW, recipients=[])
    assert {"decree91_delivery_hours", "decree91_ad_label", "decree91_opt_out"} <= set(evaluation.applied)

    settings.MARKETING_RULES = {**settings.MARKETING_RULES, "daily_cap": False}
    assert [e.rule for e in eligibility.evaluate(campaign, NOW).exclusions] == ["decree91_delivery_hours"]
    settings.MARKETING_RULES = {**settings.MARKETING_RULES, "delivery_hours": False}
    assert [e.rule for e in eligibility.evaluate(campaign, NOW).exclusions] == ["decree91_ad_label"]
    settings.MARKETING_RULES = {**settings.MARKETING_RULES, "ad_label": False}
    assert [e.rule for e in eligibility.evaluate(campaign, NOW).exclusions] == ["decree91_opt_out"]
    settings.MARKETING_RULES = {**settings.MARKETING_RULES, "opt_out": False}
    assert eligibility.evaluate(campaign, NOW).eligible_phones == [contact.phone]


@pytest.mark.parametrize(
    ("name", "sample", "rule"),
    [
        ("[QC] Sale", {"x": "Từ chối nhận tin, soạn TC"}, None),
        ("QC - Sale", {"x": "Để ngừng nhận tin, trả lời STOP"}, None),
        ("Sale", {"x": "Từ chối nhận tin, soạn TC"}, "decree91_ad_label"),
        ("[QC] Sale", {"x": "Cảm ơn quý khách"}, "decree91_opt_out"),
    ],
)
def test_advertising_label_and_opt_out_in_the_template_text(source, zns_oa, audience, name, sample, rule):
    template = MessageTemplate.objects.create(
        oa=zns_oa, template_id="393", name=name, tag=3, params=MARKETING_PARAMS, sample_data=sample
    )
    make_contact(source, "84912000055", audience=audience)
    evaluation = eligibility.evaluate(make_campaign(zns_oa, template, audience), NOW)
    assert [e.rule for e in evaluation.exclusions] == ([rule] if rule else [])


def test_marketing_is_refused_below_the_policy_level(source, zns_oa, marketing_template, audience):
    zns_oa.quota.current_limit = 10000
    zns_oa.quota.save()
    make_contact(source, "84912000061", audience=audience)
    evaluation = eligibility.evaluate(make_campaign(zns_oa, marketing_template, audience), NOW)
    assert [e.rule for e in evaluation.exclusions] == ["tag_level"]
    assert "20000" in evaluation.exclusions[0].reason


def test_rules_are_set_based_not_one_query_per_recipient(
    source, zns_oa, marketing_template, audience, django_assert_max_num_queries
):
    campaign = make_campaign(zns_oa, marketing_template, audience)
    make_contact(source, "84912000071", audience=audience)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        eligibility.evaluate(campaign, NOW)
    for n in range(2, 40):
        make_contact(source, f"849120001{n:02d}", audience=audience)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(eligibility.evaluate(campaign, NOW).eligible) == 39


# --- quota plan, cost -----------------------------------------------------------------------------


@pytest.fixture
def known_state(zns_oa):
    """ZNS at 20,000 a day; 30,000 tag 1+2 sent in October and in November (December's marketing
    quota 10,000, January's 5,000); first marketing in September (no bonus); 1,000 marketing reserved
    today; the last 7 days 10,000 sent a day with 20 bad reports (0.2 %: MEDIUM)."""
    state = zns_oa.quota
    state.first_marketing_day = date(2026, 9, 10)
    state.save()
    OADailyStats.objects.create(oa=zns_oa, day=date(2026, 10, 5), sent=30000, transactional_sent=30000)
    OADailyStats.objects.create(oa=zns_oa, day=date(2026, 11, 5), sent=30000, transactional_sent=30000)
    for back in range(1, 8):
        OADailyStats.objects.create(oa=zns_oa, day=TODAY - timedelta(days=back), sent=10000, bad_reports=20)
    DailyQuotaUsage.objects.create(oa=zns_oa, day=TODAY, reserved=1000, marketing_reserved=1000)
    return state


def test_quota_plan_on_a_known_oa_state(known_state, zns_oa, marketing_template, audience):
    campaign = make_campaign(
        zns_oa,
        marketing_template,
        audience,
        sending_speed_limit_amount=100,
        sending_speed_limit_time_unit="MINUTE",
    )
    ctx = eligibility.build_context(campaign, NOW)

    plan = preflight.quota_plan(ctx, 12000)

    assert (plan.limit_today, plan.remaining_today) == (20000, 19000)
    assert plan.marketing_share_remaining == 4000  # 25 % of 20,000 less 1,000
    assert plan.monthly_marketing_remaining == 9000  # 60,000 / 6 less 1,000
    first, second = plan.days[0], plan.days[1]
    assert (first.day, first.sent, first.limited_by, first.throughput) == (
        TODAY,
        4000,
        "daily_marketing_share",
        72000,
    )
    assert (second.day, second.sent, second.throughput) == (
        date(2026, 12, 3),
        5000,
        90000,
    )  # 07-22 at 100/min
    assert {d.sent for d in plan.days[2:-1]} == {0}  # the December quota is spent
    assert plan.days[-1].day == date(2027, 1, 1) and plan.days[-1].sent == 3000
    assert plan.finished and plan.days_needed == 3
    assert plan.finish_at == vn(date(2027, 1, 1), 7, 30)  # 3,000 at 100 a minute from 07:00
    assert plan.first_delivery_at == NOW
    assert any("MEDIUM" in warning for warning in plan.warnings)
    assert plan.bad_report_rate == Decimal("0.002") and plan.expected_bad_reports == 24


def test_quota_plan_counts_the_campaigns_scheduled_before(known_state, zns_oa, marketing_template, audience):
    ahead = make_campaign(zns_oa, marketing_template, audience, status=Campaign.Status.SCHEDULED)
    CampaignApproval.objects.create(
        campaign=ahead, approver_name="q", approved_at=NOW, approval_hash="a" * 64, recipients=1000
    )
    campaign = make_campaign(
        zns_oa,
        marketing_template,
        audience,
        sending_speed_limit_amount=6000,
        sending_speed_limit_time_unit="HOUR",
    )
    plan = preflight.quota_plan(eligibility.build_context(campaign, NOW), 12000)
    assert [o.id for o in plan.others] == [ahead.pk]
    assert (plan.days[0].others, plan.days[0].sent) == (1000, 3000)
    assert plan.days[1].sent == 5000 and plan.days[-1].sent == 4000
    assert plan.finish_at == vn(date(2027, 1, 1), 7, 40)


def test_a_delivery_window_and_a_day_speed_spread_the_send(known_state, zns_oa, audience):
    template = MessageTemplate.objects.create(
        oa=zns_oa, template_id="194", name="Order", tag=1, params=MARKETING_PARAMS
    )
    campaign = make_campaign(
        zns_oa,
        template,
        audience,
        send_at=vn(TODAY, 12, 0),
        sending_speed_limit_amount=600,
        sending_speed_limit_time_unit="HOUR",
        delivery_days=["WEDNESDAY", "THURSDAY"],
        delivery_from_hour=9,
        delivery_from_minute=0,
        delivery_to_hour=11,
        delivery_to_minute=0,
    )
    plan = preflight.quota_plan(eligibility.build_context(campaign, NOW), 2500)
    # Wednesday's window is over at noon; Thursday 9-11 gives 1,200; next Wednesday and Thursday.
    assert [(d.day, d.sent) for d in plan.days if d.sent] == [
        (date(2026, 12, 3), 1200),
        (date(2026, 12, 9), 1200),
        (date(2026, 12, 10), 100),
    ]
    assert plan.finish_at == vn(date(2026, 12, 10), 9, 10)
    assert plan.first_delivery_at == vn(date(2026, 12, 3), 9, 0)


def test_cost_is_price_times_eligible_plus_the_sms_ceiling(settings, zns_oa, marketing_template, audience):
    settings.SMS_FAILOVER_PRICE_VND = 750
    campaign = make_campaign(
        zns_oa,
        marketing_template,
        audience,
        sms_failover_enabled=True,
        sms_failover_text="Sale",
        sms_failover_max=40,
    )
    cost = preflight.estimate_cost(campaign, 100)
    assert (cost.price, cost.price_from_template, cost.messages_cost) == (Decimal(200), True, Decimal(20000))
    assert (cost.sms_at_most, cost.sms_cost_at_most, cost.total_at_most) == (
        40,
        Decimal(30000),
        Decimal(50000),
    )
    marketing_template.price = ""
    settings.CAMPAIGN_TEMPLATE_PRICE_VND = 300
    assert preflight.estimate_cost(campaign, 10).price_from_template is False
    assert preflight.estimate_cost(campaign, 10).total_at_most == Decimal(3000 + 7500)


# --- the run, its page, the CSV -------------------------------------------------------------------


@pytest.fixture
def ready_campaign(source, zns_oa, marketing_template, audience):
    for n in range(1, 6):
        contact = make_contact(source, f"8491200080{n}", name=f"Khách {n}", audience=audience)
        FollowerStatus.objects.create(
            contact=contact, oa=zns_oa, status="follows" if n <= 2 else "does_not_follow"
        )
    make_contact(source, "84912000809", marketing=False, audience=audience)
    return make_campaign(zns_oa, marketing_template, audience)


def test_run_preflight_gives_counts_split_previews_and_plan(ready_campaign):
    result = preflight.run_preflight(ready_campaign, NOW)
    assert (result.total, result.eligible, result.excluded) == (6, 5, 1)
    assert {r.code: r.refused for r in result.rules}["consent"] == 1
    assert result.split == {"follows": 2, "does_not_follow": 3, "unknown": 0}
    assert len(result.previews) == 3
    card = result.previews[0]
    assert "***" in card.phone and card.rows[0][0] == "customer_name" and card.rows[0][1].startswith("Khách")
    assert result.plan.available and result.plan.finished and result.plan.days_needed == 1
    assert result.cost.total_at_most == Decimal(1000)


def client_for(client, user):
    client.force_login(user)
    return client


def test_page_access_run_and_stored_result(client, ready_campaign, marketer, quality_admin, auditor):
    url = reverse("campaigns:preflight", args=[ready_campaign.pk])
    run_url = reverse("campaigns:run_preflight", args=[ready_campaign.pk])
    assert client.get(url).status_code == 302  # anonymous: to the login page
    for user in (quality_admin, auditor):
        c = client_for(client, user)
        assert c.get(url).status_code == 200
        assert c.post(run_url).status_code == 403
        c.logout()
    c = client_for(client, marketer)
    page = c.get(url)
    assert page.status_code == 200 and "data-run-preflight" in page.text
    assert c.get(run_url).status_code == 405
    response = c.post(run_url)
    assert response.status_code == 302
    run = PreflightRun.objects.get(campaign=ready_campaign)
    assert (run.audience, run.eligible, run.ran_by) == (6, 5, "user:marketer")
    assert "84912000801" not in str(run.summary)  # no plain phone kept
    event = AuditEvent.objects.filter(action="campaign.preflight").latest("id")
    assert event.details["eligible"] == 5
    page = c.get(url)
    assert PreflightRun.objects.count() == 1  # a GET shows the stored run, never a new one
    assert "data-eligible><strong>5</strong>" in page.text
    assert "84912000801" not in page.text and "0912000801" not in page.text


def test_exclusions_csv_masked_or_full_and_audited(client, ready_campaign, marketer, quality_admin):
    url = reverse("campaigns:preflight_csv", args=[ready_campaign.pk])
    response = client_for(client, quality_admin).get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][:2] == ["0912***809", "consent"] and len(rows) == 3
    assert (
        AuditEvent.objects.filter(action="campaign.preflight_export").latest("id").details["phones"]
        == "masked"
    )
    client.logout()
    response = client_for(client, marketer).get(url)
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][0] == "0912000809"
    assert (
        AuditEvent.objects.filter(action="campaign.preflight_export").latest("id").details["phones"] == "full"
    )


def test_phone_digests_are_the_audiences_digest():
    from audiences.models import phone_digest

    phones = ["84912345678", "84987654321"]
    assert eligibility.phone_digests(phones) == {phone_digest(p): p for p in phones}


def test_an_erased_person_added_again_stays_on_the_do_not_contact_list(
    source, zns_oa, marketing_template, audience
):
    from audiences.data_requests import erase_person
    from audiences.models import SuppressionState

    first = make_contact(source, "84912000091", audience=audience)
    erase_person(first.phone, "system:test")
    assert SuppressionState.objects.get(suppressed=True).phone == ""  # only the digest is left
    again = make_contact(source, "84912000091", audience=audience)  # imported again later
    evaluation = eligibility.evaluate(make_campaign(zns_oa, marketing_template, audience), NOW)
    assert [(e.contact_id, e.rule) for e in evaluation.exclusions] == [(again.pk, "do_not_contact")]


def test_a_campaign_without_an_audience_has_no_one_eligible(zns_oa, marketing_template):
    campaign = Campaign.objects.create(oa=zns_oa, template=marketing_template, name="Empty", mapping=MAPPING)
    result = preflight.run_preflight(campaign, NOW)
    assert (result.total, result.eligible, result.previews) == (0, 0, [])
    assert result.plan.finished and result.plan.days_needed == 0
