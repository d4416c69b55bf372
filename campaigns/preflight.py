"""The pre-flight: a dry run of a campaign before anything leaves (issue 12).

`run_preflight(campaign)` gives who will get it and who will not and why (`campaigns.eligibility`,
counts per rule), where marketing lands (inbox for followers, Business Box for the others), the
quota plan (how many days, the projected finish within the delivery window and the speed limit, the
effect on the next level review), the estimated cost, and rendered previews for a few random eligible
recipients. `eligible_phones(campaign)` is the audience snapshot the approval hash is bound to.
`record_preflight` stores a run (`PreflightRun`, audited) so the page shows it without recomputing.

Nothing here calls a provider or changes a campaign.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audiences.models import Contact
from campaigns import eligibility, mapping
from campaigns.eligibility import Context, Evaluation, Recipient
from campaigns.models import Campaign, CampaignApproval, PreflightRun
from compliance import actions
from compliance.services import actor_name, record_audit_event
from oas import template_rules
from quotas import rules
from quotas.models import DailyQuotaUsage, OADailyStats
from quotas.selectors import forecast_level, remaining_marketing_share_today
from quotas.services.state import limit_on
from zalo_admin.lib.dates import VIETNAM, vietnam_day, vietnam_midnight
from zalo_admin.lib.phones import mask_phone

TARGET_TYPE = "campaigns.campaign"
PREVIEW_COUNT = 3
EXCLUSION_SAMPLE = 20  # masked exclusions kept with a stored run (the CSV has them all)
FORECAST_DAYS = 14
# Campaigns that will send on the OA and take their share of its quota first.
SENDING_STATUSES = (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING)

eligible_phones = eligibility.eligible_phones
evaluate = eligibility.evaluate


# --- quota plan -----------------------------------------------------------------------------------


@dataclass
class PlanDay:
    day: date
    limit: int | None
    capacity: int | None  # what the quota leaves this campaign that day (None: unbounded)
    throughput: int  # what the delivery window and the speed allow that day
    sent: int
    limited_by: str  # the smallest of the day's rooms
    others: int  # taken by the other campaigns on the OA first


@dataclass
class OtherCampaign:
    id: int
    name: str
    recipients: int
    starts: datetime
    marketing: bool


@dataclass
class QuotaPlan:
    available: bool
    note: str = ""
    policy: str = ""
    limit_today: int | None = None
    remaining_today: int | None = None
    marketing_share_remaining: int | None = None
    monthly_marketing_remaining: int | None = None
    rate_per_minute: float = 0.0
    rate_from_campaign: bool = False
    others: list[OtherCampaign] = field(default_factory=list)
    days: list[PlanDay] = field(default_factory=list)
    days_needed: int | None = None
    first_delivery_at: datetime | None = None  # the first moment the window and the quota allow
    finish_at: datetime | None = None
    finished: bool = False
    baseline_daily: int = 0
    campaign_daily: int = 0
    bad_report_rate: Decimal = Decimal(0)
    expected_bad_reports: int = 0
    next_upgrade_without: tuple[date, int | None] | None = None
    next_upgrade_with: tuple[date, int | None] | None = None
    reviews_with: list[tuple[date, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _rate(campaign: Campaign) -> tuple[float, int | None, bool]:
    """Messages per minute, a daily cap (speed limit per DAY), and whether the campaign set it."""
    amount, unit = campaign.sending_speed_limit_amount, campaign.sending_speed_limit_time_unit
    default = float(settings.CAMPAIGN_DISPATCH_RATE_PER_MINUTE)
    if not amount:
        return default, None, False
    if unit == "HOUR":
        return amount / 60, None, True
    if unit == "DAY":
        return default, amount, True
    return float(amount), None, True


def _transactional_before(oa_id: int, policy: rules.Policy, month: date) -> int:
    months = rules.previous_months(month, policy.marketing_quota_months)
    if not months:
        return 0
    return OADailyStats.objects.filter(oa_id=oa_id, day__gte=min(months), day__lt=month).aggregate(
        total=Sum("transactional_sent", default=0)
    )["total"]


def _marketing_used_in(oa_id: int, month: date) -> int:
    next_month = rules.month_of(month + timedelta(days=32))
    return DailyQuotaUsage.objects.filter(oa_id=oa_id, day__gte=month, day__lt=next_month).aggregate(
        total=Sum("marketing_reserved", default=0)
    )["total"]


def _other_campaigns(ctx: Context) -> list[OtherCampaign]:
    """Scheduled and running campaigns of the same OA that start no later than this one, with the
    recipients they were approved for (they take the OA's quota first)."""
    rows = (
        Campaign.objects.filter(oa_id=ctx.campaign.oa_id, status__in=SENDING_STATUSES)
        .exclude(pk=ctx.campaign.pk)
        .select_related("template")
        .order_by("send_at", "pk")
    )
    approved = dict(
        CampaignApproval.objects.filter(campaign__in=rows, voided_at__isnull=True).values_list(
            "campaign_id", "recipients"
        )
    )
    others = []
    for other in rows:
        starts = max(other.send_at, ctx.now) if other.send_at else ctx.now
        if starts > ctx.start:
            continue
        others.append(
            OtherCampaign(
                other.pk,
                other.name,
                approved.get(other.pk, 0),
                starts,
                int(other.template.tag) == rules.MARKETING_TAG,
            )
        )
    return others


def _smallest(rooms: dict[str, int | None]) -> tuple[str, int | None]:
    bounded = {name: room for name, room in rooms.items() if room is not None}
    if not bounded:
        return "", None
    name = min(bounded, key=lambda key: bounded[key])
    return name, bounded[name]


def quota_plan(ctx: Context, eligible_count: int) -> QuotaPlan:
    """Day by day from the send's start: what the OA's quota (daily limit, daily marketing share,
    monthly marketing quota, less what the other scheduled campaigns take first) and the delivery
    window at the speed limit allow, until every eligible recipient is sent to."""
    if ctx.state is None:
        return QuotaPlan(available=False, note=_("The OA has no quota state yet: no quota plan."))
    state, policy, oa_id = ctx.state, ctx.policy, ctx.campaign.oa_id
    today = vietnam_day(ctx.now)
    reserved, marketing_reserved = (
        DailyQuotaUsage.objects.filter(oa_id=oa_id, day=today)
        .values_list("reserved", "marketing_reserved")
        .first()
    ) or (0, 0)
    plan = QuotaPlan(available=True, policy=policy.code)
    plan.limit_today = limit_on(state, today)
    plan.remaining_today = None if plan.limit_today is None else max(0, plan.limit_today - reserved)
    if ctx.marketing:
        plan.marketing_share_remaining = remaining_marketing_share_today(oa_id, today)
    rate, daily_cap, plan.rate_from_campaign = _rate(ctx.campaign)
    plan.rate_per_minute = rate
    plan.others = _other_campaigns(ctx)
    others_left = [[o.recipients, o.marketing] for o in plan.others]

    first_marketing = state.first_marketing_day
    month_room: dict[date, int | None] = {}

    def monthly_room(month: date) -> int | None:
        if month not in month_room:
            quota = rules.monthly_marketing_quota(
                policy, _transactional_before(oa_id, policy, month), first_marketing, month
            )
            month_room[month] = None if quota is None else max(0, quota - _marketing_used_in(oa_id, month))
        return month_room[month]

    if ctx.marketing:
        plan.monthly_marketing_remaining = monthly_room(rules.month_of(ctx.send_day))

    horizon_end = ctx.start + timedelta(days=eligibility.HORIZON_DAYS)
    intervals = eligibility.delivery_intervals(ctx, ctx.start, horizon_end)
    by_day: dict[date, list[tuple[datetime, datetime]]] = {}
    for opens, closes in intervals:
        day = vietnam_day(opens)
        while opens < closes:  # split at Vietnam midnight: quota days are Vietnam days
            midnight = vietnam_midnight(day + timedelta(days=1))
            by_day.setdefault(day, []).append((opens, min(closes, midnight)))
            opens, day = midnight, day + timedelta(days=1)

    remaining = eligible_count
    day = ctx.send_day
    last_day = vietnam_day(horizon_end)
    while remaining > 0 and day <= last_day:
        limit = limit_on(state, day)
        rooms: dict[str, int | None] = {
            "daily_limit": None if limit is None else max(0, limit - (reserved if day == today else 0))
        }
        if ctx.marketing:
            share = rules.daily_marketing_share_room(policy, limit, marketing_reserved if day == today else 0)
            rooms["daily_marketing_share"] = share
            rooms["monthly_marketing_quota"] = monthly_room(rules.month_of(day))
        # The campaigns ahead take their part of the shared rooms first.
        taken = 0
        for other in others_left:
            if other[0] <= 0:
                continue
            room_for_other = [rooms["daily_limit"]]
            if other[1]:
                room_for_other += [rooms.get("daily_marketing_share"), rooms.get("monthly_marketing_quota")]
            bounded = [room for room in room_for_other if room is not None]
            take = min([other[0], *bounded])
            other[0] -= take
            taken += take
            if rooms["daily_limit"] is not None:
                rooms["daily_limit"] -= take
            if other[1] and ctx.marketing:
                for name in ("daily_marketing_share", "monthly_marketing_quota"):
                    if rooms.get(name) is not None:
                        rooms[name] -= take
        limited_by, capacity = _smallest(rooms)
        minutes = sum((closes - opens).total_seconds() / 60 for opens, closes in by_day.get(day, []))
        throughput = math.floor(rate * minutes + 1e-9)
        if daily_cap is not None:
            throughput = min(throughput, daily_cap)
        sendable = throughput if capacity is None else min(capacity, throughput)
        if capacity is None or throughput < capacity:
            limited_by = "delivery_window" if minutes == 0 else "speed_limit"
        sent = min(remaining, sendable)
        if sent == remaining:
            limited_by = "done"
        if ctx.marketing and rooms.get("monthly_marketing_quota") is not None:
            month_room[rules.month_of(day)] = rooms["monthly_marketing_quota"] - sent
        if ctx.marketing and sent and first_marketing is None:
            first_marketing = day  # the bonus month is this one; later months have none
            month_room = {m: room for m, room in month_room.items() if m <= rules.month_of(day)}
        if sent or plan.days or minutes:
            plan.days.append(PlanDay(day, limit, capacity, throughput, sent, limited_by, taken))
        if sent and plan.first_delivery_at is None:
            plan.first_delivery_at = by_day[day][0][0]
        remaining -= sent
        if remaining == 0 and sent:
            plan.finish_at = _finish_time(by_day.get(day, []), sent, rate)
        day += timedelta(days=1)
    plan.finished = remaining == 0
    plan.days_needed = sum(1 for d in plan.days if d.sent) if plan.finished else None
    if eligible_count == 0:
        plan.finished, plan.days_needed = True, 0
    elif not plan.finished:
        plan.warnings.append(
            _("The send does not finish within %(days)s days at the OA's quota and delivery window.")
            % {"days": eligibility.HORIZON_DAYS}
        )
    _level_effect(ctx, plan, eligible_count)
    return plan


def _finish_time(intervals, count: int, rate: float) -> datetime | None:
    """When the count-th message of the day goes out, walking the day's delivery intervals."""
    minutes_needed = count / rate if rate else 0
    for opens, closes in intervals:
        span = (closes - opens).total_seconds() / 60
        if minutes_needed <= span:
            return opens + timedelta(minutes=minutes_needed)
        minutes_needed -= span
    return intervals[-1][1] if intervals else None


def _level_effect(ctx: Context, plan: QuotaPlan, eligible_count: int) -> None:
    """The effect on the next level reviews (quotas.selectors.forecast_level) with and without this
    send, and warnings at the OA's recent bad-report rate."""
    state, policy, oa_id = ctx.state, ctx.policy, ctx.campaign.oa_id
    today = vietnam_day(ctx.now)
    window = OADailyStats.objects.filter(
        oa_id=oa_id, day__gte=today - timedelta(days=policy.review_window_days), day__lt=today
    ).aggregate(sent=Sum("sent", default=0))
    plan.baseline_daily = window["sent"] // policy.review_window_days
    sending_days = [d for d in plan.days if d.sent]
    plan.campaign_daily = math.ceil(eligible_count / len(sending_days)) if sending_days else 0
    without = forecast_level(oa_id, plan.baseline_daily, days=FORECAST_DAYS, today=today)
    with_send = forecast_level(
        oa_id, plan.baseline_daily + plan.campaign_daily, days=FORECAST_DAYS, today=today
    )
    if without.next_upgrade_day:
        plan.next_upgrade_without = (without.next_upgrade_day, without.next_upgrade_limit)
    if with_send.next_upgrade_day:
        plan.next_upgrade_with = (with_send.next_upgrade_day, with_send.next_upgrade_limit)
    plan.reviews_with = [(d.day, d.review) for d in with_send.days if d.review in ("downgrade", "upgrade")]
    rate = Decimal(with_send.bad_report_rate)
    plan.bad_report_rate = rate
    plan.expected_bad_reports = math.ceil(rate * eligible_count)
    percent = f"{rate * 100:.2f}"
    if rate > policy.medium_max_rate:
        plan.warnings.append(
            _(
                "At the OA's recent bad-report rate (%(rate)s %%) the quality is LOW: the next review "
                "downgrades the OA, and this send adds about %(bad)s bad reports."
            )
            % {"rate": percent, "bad": plan.expected_bad_reports}
        )
    elif rate > policy.high_max_rate:
        plan.warnings.append(
            _(
                "At the OA's recent bad-report rate (%(rate)s %%) the quality is MEDIUM, above the "
                "%(high)s %% of HIGH: this send (about %(bad)s bad reports) moves the OA toward a "
                "downgrade and earns no upgrade."
            )
            % {
                "rate": percent,
                "high": f"{policy.high_max_rate * 100:.1f}",
                "bad": plan.expected_bad_reports,
            }
        )
    daily_bad = rate * (plan.baseline_daily + plan.campaign_daily)
    limit = plan.limit_today
    if daily_bad > rules.violation_threshold(policy, limit):
        plan.warnings.append(
            _(
                "About %(bad)s bad reports a day while sending: above the automatic violation threshold "
                "of %(threshold)s; the level would drop at once."
            )
            % {"bad": math.ceil(daily_bad), "threshold": rules.violation_threshold(policy, limit)}
        )
    elif daily_bad > rules.guardrail_threshold(policy, limit, state.guardrail_share):
        plan.warnings.append(
            _("About %(bad)s bad reports a day while sending: the OA's guardrail (%(threshold)s) would trip.")
            % {
                "bad": math.ceil(daily_bad),
                "threshold": math.floor(rules.guardrail_threshold(policy, limit, state.guardrail_share)),
            }
        )
    for day, review in plan.reviews_with:
        if review == "downgrade":
            plan.warnings.append(
                _("The forecast with this send has a downgrade at the review of %(day)s.")
                % {"day": day.strftime("%d/%m/%Y")}
            )
            break


# --- cost -----------------------------------------------------------------------------------------


@dataclass
class Cost:
    price: Decimal
    price_from_template: bool
    messages: int
    messages_cost: Decimal
    sms_price: Decimal
    sms_at_most: int
    sms_cost_at_most: Decimal
    total_at_most: Decimal


def template_price(template) -> tuple[Decimal, bool]:
    """The template's price in VND (its `price` as the provider gave it), else the workspace's
    default (settings.CAMPAIGN_TEMPLATE_PRICE_VND); and whether it came from the template."""
    text = str(template.price or "").strip().replace(" ", "").replace(",", "")
    try:
        price = Decimal(text)
    except InvalidOperation:
        price = None
    if price is not None and price.is_finite() and price >= 0 and text:
        return price, True
    return Decimal(settings.CAMPAIGN_TEMPLATE_PRICE_VND), False


def estimate_cost(campaign: Campaign, eligible_count: int) -> Cost:
    price, from_template = template_price(campaign.template)
    sms_at_most = 0
    if campaign.sms_failover_enabled:
        sms_at_most = eligible_count
        if campaign.sms_failover_max is not None:
            sms_at_most = min(sms_at_most, max(0, campaign.sms_failover_max - campaign.sms_failover_sent))
    sms_price = Decimal(settings.SMS_FAILOVER_PRICE_VND)
    messages_cost = price * eligible_count
    sms_cost = sms_price * sms_at_most
    return Cost(
        price,
        from_template,
        eligible_count,
        messages_cost,
        sms_price,
        sms_at_most,
        sms_cost,
        messages_cost + sms_cost,
    )


# --- previews -------------------------------------------------------------------------------------


@dataclass
class PreviewCard:
    phone: str  # masked
    name: str
    rows: list[tuple[str, str, str]]  # parameter, value, problem
    sms: str = ""


def previews(campaign: Campaign, eligible: list[Recipient], count: int = PREVIEW_COUNT) -> list[PreviewCard]:
    """The template rendered for a few random eligible recipients (phones masked)."""
    if not eligible:
        return []
    chosen = random.SystemRandom().sample(eligible, min(count, len(eligible)))
    contacts = Contact.objects.filter(pk__in=[r.contact_id for r in chosen]).values(
        "pk", "phone", "name", "attributes"
    )
    by_id = {row["pk"]: row for row in contacts}
    types = {p["name"]: p["type"] for p in template_rules.normalise_params(campaign.template.params)}
    cards = []
    for recipient in chosen:
        contact = by_id.get(recipient.contact_id)
        if contact is None:
            continue
        data, problems = mapping.render_values(campaign.mapping or {}, contact, types)
        preview = template_rules.build_preview(campaign.template, data)
        rows = []
        for row in preview.rows:
            problem = problems.get(row.name) or "; ".join(str(error) for error in row.errors)
            rows.append((row.name, row.value, problem))
        sms = ""
        if campaign.sms_failover_enabled and campaign.sms_failover_text:
            values = {**data, **mapping.render_values(campaign.sms_failover_mapping or {}, contact, {})[0]}
            sms = mapping.render_text(campaign.sms_failover_text, values)
        cards.append(PreviewCard(mask_phone(contact["phone"]), contact["name"], rows, sms))
    return cards


# --- the pre-flight -------------------------------------------------------------------------------


@dataclass
class RuleCount:
    code: str
    title: str
    refused: int
    per_campaign: bool


@dataclass
class PreflightResult:
    campaign_id: int
    ran_at: datetime
    seconds: float
    total: int
    eligible: int
    rules: list[RuleCount]
    skipped_rules: list[RuleCount]
    split: dict[str, int] | None  # marketing: follows (inbox), does_not_follow / unknown (Business Box)
    plan: QuotaPlan
    cost: Cost
    previews: list[PreviewCard]
    evaluation: Evaluation = field(repr=False)

    @property
    def excluded(self) -> int:
        return self.total - self.eligible

    @property
    def exclusions(self):
        return self.evaluation.exclusions

    @property
    def eligible_phones(self) -> list[str]:
        return self.evaluation.eligible_phones

    def summary(self) -> dict:
        """The JSON kept with a stored run (no plain phones: the exclusion sample is masked)."""
        return _jsonable(
            {
                "total": self.total,
                "eligible": self.eligible,
                "excluded": self.excluded,
                "seconds": round(self.seconds, 3),
                "rules": [asdict(r) for r in self.rules],
                "skipped_rules": [asdict(r) for r in self.skipped_rules],
                "split": self.split,
                "plan": asdict(self.plan),
                "cost": asdict(self.cost),
                "previews": [asdict(p) for p in self.previews],
                "exclusion_sample": [
                    {"phone": mask_phone(e.phone), "rule": e.rule, "reason": e.reason}
                    for e in self.exclusions[:EXCLUSION_SAMPLE]
                ],
                "send_start": self.evaluation.context.start,
            }
        )


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def run_preflight(campaign: Campaign, now: datetime | None = None) -> PreflightResult:
    """The dry run: eligibility rule by rule, the inbox / Business Box split, the quota plan, the
    cost and previews. Read-only."""
    started = time.monotonic()
    now = now or timezone.now()
    evaluation = eligibility.evaluate(campaign, now)
    ctx = evaluation.context
    by_code = {r.code: r for r in eligibility.RULES}
    counts = [
        RuleCount(code, str(by_code[code].title), evaluation.counts.get(code, 0), by_code[code].per_campaign)
        for code in evaluation.applied
    ]
    skipped = [
        RuleCount(code, str(by_code[code].title), 0, by_code[code].per_campaign)
        for code in evaluation.skipped
    ]
    eligible_count = len(evaluation.eligible)
    split = eligibility.follower_split(evaluation) if ctx.marketing else None
    plan = quota_plan(ctx, eligible_count)
    return PreflightResult(
        campaign_id=campaign.pk,
        ran_at=now,
        seconds=time.monotonic() - started,
        total=evaluation.total,
        eligible=eligible_count,
        rules=counts,
        skipped_rules=skipped,
        split=split,
        plan=plan,
        cost=estimate_cost(campaign, eligible_count),
        previews=previews(campaign, evaluation.eligible),
        evaluation=evaluation,
    )


def record_preflight(campaign_id: int, *, actor, now: datetime | None = None) -> PreflightRun:
    """Run the pre-flight of a campaign and store it (the page shows the last run), audited."""
    campaign = Campaign.objects.select_related("template", "oa").get(pk=campaign_id)
    result = run_preflight(campaign, now)
    with transaction.atomic():
        run = PreflightRun.objects.create(
            campaign=campaign,
            ran_at=result.ran_at,
            ran_by=actor_name(actor),
            audience=result.total,
            eligible=result.eligible,
            seconds=Decimal(f"{result.seconds:.3f}"),
            summary=result.summary(),
        )
        record_audit_event(
            actor=actor_name(actor),
            action=actions.CAMPAIGN_PREFLIGHT,
            target_type=TARGET_TYPE,
            target_id=campaign.pk,
            details={
                "campaign_id": campaign.pk,
                "eligible": result.eligible,
                "total": result.total,
                "run_id": run.pk,
            },
        )
    return run


def last_run(campaign: Campaign) -> PreflightRun | None:
    return campaign.preflight_runs.order_by("-ran_at", "-pk").first()


def record_exclusions_export(campaign: Campaign, *, actor, count: int, masked: bool) -> None:
    record_audit_event(
        actor=actor_name(actor),
        action=actions.CAMPAIGN_PREFLIGHT_EXPORT,
        target_type=TARGET_TYPE,
        target_id=campaign.pk,
        details={"campaign_id": campaign.pk, "count": count, "phones": "masked" if masked else "full"},
    )


def vietnam_time(moment: datetime | None) -> datetime | None:
    return moment.astimezone(VIETNAM) if moment else None
