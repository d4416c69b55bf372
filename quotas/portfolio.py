"""The portfolio: every OA on one screen with what decides whether it needs someone now.

Read-only and a fixed number of queries whatever the number of OAs (one per kind of figure, each
grouped by OA, from the rollups and small tables: never the message table). Sorting and filtering
happen over those rows in Python (1,000 OAs are a few milliseconds).

Attention: each OA gets the reasons it needs someone, each with a severity (3 act now, 2 today,
1 watch); the OA's attention is its highest severity, and the default order puts the worst first
(then the one closest to its violation threshold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from oas.models import MessageTemplate, OACredentials, OfficialAccount
from quotas import rules
from quotas.models import DailyQuotaUsage, OADailyStats, OAQuotaState, Policy, QualityAlert
from quotas.selectors import MarketingShare, _marketing_share
from quotas.services.policies import rules_policy
from quotas.services.state import limit_on
from zalo_admin.lib.dates import today_in_vietnam

ACT_NOW, TODAY, WATCH = 3, 2, 1
# At this share of the guardrail line an OA is "approaching" it (watch).
APPROACHING_GUARDRAIL = Decimal("0.5")


@dataclass(frozen=True)
class Reason:
    severity: int
    code: str
    text: str


@dataclass
class OARef:
    """The OA fields the portfolio shows (plain values: 1,000 model instances cost more than the
    page's whole budget)."""

    pk: int
    name: str
    zalo_oa_id: str
    owner_team: str
    provider: str
    sending_stopped: bool
    stop_reason: str

    def get_provider_display(self) -> str:
        return str(dict(OfficialAccount.Provider.choices).get(self.provider, self.provider))


OA_FIELDS = ("pk", "name", "zalo_oa_id", "owner_team", "provider", "sending_stopped", "stop_reason")


@dataclass
class PortfolioRow:
    oa: OARef
    has_state: bool
    policy_code: str = ""
    limit: int | None = None
    level: int | None = None  # 1-based position of the limit among the policy's levels
    levels: int = 0
    tier: str = rules.Tier.UNDEFINED.value
    sent_today: int = 0
    reserved_today: int = 0
    remaining_today: int | None = None  # None: unrestricted (or no state)
    bad_today: int = 0
    violation_threshold: Decimal | None = None
    guardrail_threshold: Decimal | None = None
    running_campaigns: int = 0
    paused_campaigns: int = 0
    templates_at_risk: int = 0  # enabled with LOW quality
    templates_disabled: int = 0
    open_alerts: int = 0
    needs_reauthorisation: bool = False
    marketing_share: MarketingShare | None = None
    reasons: list[Reason] = field(default_factory=list)

    @property
    def attention(self) -> int:
        return max((reason.severity for reason in self.reasons), default=0)

    @property
    def bad_share_of_threshold(self) -> Decimal | None:
        """Bad reports today as a share of the automatic-violation threshold (1 = at it)."""
        if not self.violation_threshold:
            return None
        return Decimal(self.bad_today) / self.violation_threshold

    @property
    def bad_percent_of_threshold(self) -> int | None:
        share = self.bad_share_of_threshold
        return None if share is None else int(share * 100)


SORTS = {
    "attention": lambda r: (-r.attention, -(r.bad_share_of_threshold or 0), r.oa.name.lower(), r.oa.pk),
    "name": lambda r: (r.oa.name.lower(), r.oa.pk),
    "bad": lambda r: (-(r.bad_share_of_threshold or 0), -r.bad_today, r.oa.name.lower()),
    "remaining": lambda r: (
        r.remaining_today is None,
        r.remaining_today if r.remaining_today is not None else 0,
        r.oa.name.lower(),
    ),
    "sent": lambda r: (-r.sent_today, r.oa.name.lower()),
    "tier": lambda r: (TIER_ORDER.get(r.tier, 9), r.oa.name.lower()),
    "campaigns": lambda r: (-r.running_campaigns, r.oa.name.lower()),
    "templates": lambda r: (-(r.templates_at_risk + r.templates_disabled), r.oa.name.lower()),
    "alerts": lambda r: (-r.open_alerts, r.oa.name.lower()),
}
TIER_ORDER = {"LOW": 0, "MEDIUM": 1, "UNDEFINED": 2, "HIGH": 3}
TIERS = ("HIGH", "MEDIUM", "LOW", "UNDEFINED")


@dataclass(frozen=True)
class Filters:
    q: str = ""
    tier: str = ""
    provider: str = ""
    attention: bool = False
    stopped: str = ""  # "yes" | "no" | ""

    @classmethod
    def from_query(cls, params) -> Filters:
        """Unknown values are ignored (a bookmarked URL never errors)."""
        tier = params.get("tier", "")
        provider = params.get("provider", "")
        stopped = params.get("stopped", "")
        return cls(
            q=params.get("q", "").strip()[:100],
            tier=tier if tier in TIERS else "",
            provider=provider if provider in OfficialAccount.Provider.values else "",
            attention=params.get("attention") == "1",
            stopped=stopped if stopped in ("yes", "no") else "",
        )

    def keeps(self, row: PortfolioRow) -> bool:
        if self.q and self.q.lower() not in f"{row.oa.name} {row.oa.zalo_oa_id} {row.oa.owner_team}".lower():
            return False
        if self.tier and row.tier != self.tier:
            return False
        if self.provider and row.oa.provider != self.provider:
            return False
        if self.attention and not row.reasons:
            return False
        if self.stopped == "yes" and not row.oa.sending_stopped:
            return False
        return not (self.stopped == "no" and row.oa.sending_stopped)


def _grouped(queryset, **aggregates) -> dict[int, dict]:
    return {row["oa_id"]: row for row in queryset.values("oa_id").order_by().annotate(**aggregates)}


def portfolio_rows(today: date | None = None) -> list[PortfolioRow]:
    """One row per OA, with its reasons for attention (9 queries for any number of OAs)."""
    today = today or today_in_vietnam()
    oas = [
        OARef(*values) for values in OfficialAccount.objects.order_by("name", "pk").values_list(*OA_FIELDS)
    ]
    policies = {policy.pk: (policy, rules_policy(policy)) for policy in Policy.objects.all()}
    states = {state.oa_id: state for state in OAQuotaState.objects.all()}
    today_stats = {
        row["oa_id"]: row
        for row in OADailyStats.objects.filter(day=today).values("oa_id", "sent", "bad_reports")
    }
    window = _grouped(
        OADailyStats.objects.filter(day__gte=today - timedelta(days=7), day__lt=today),
        sent=Sum("sent"),
        bad=Sum("bad_reports"),
    )
    reserved = {
        oa_id: (total, marketing)
        for oa_id, total, marketing in DailyQuotaUsage.objects.filter(day=today).values_list(
            "oa_id", "reserved", "marketing_reserved"
        )
    }
    alerts = _grouped(QualityAlert.objects.filter(resolved_at__isnull=True), n=Count("pk"))
    campaigns = _grouped(
        Campaign.objects.filter(status__in=(Campaign.Status.RUNNING, Campaign.Status.PAUSED)),
        running=Count("pk", filter=Q(status=Campaign.Status.RUNNING)),
        paused=Count("pk", filter=Q(status=Campaign.Status.PAUSED)),
    )
    templates = _grouped(
        MessageTemplate.objects.filter(
            Q(status=MessageTemplate.Status.DISABLED)
            | Q(status=MessageTemplate.Status.ENABLED, quality=MessageTemplate.Quality.LOW)
        ),
        at_risk=Count("pk", filter=Q(status=MessageTemplate.Status.ENABLED)),
        disabled=Count("pk", filter=Q(status=MessageTemplate.Status.DISABLED)),
    )
    reauth = set(OACredentials.objects.filter(needs_reauthorisation=True).values_list("oa_id", flat=True))
    rows = []
    for oa in oas:
        state = states.get(oa.pk)
        row = PortfolioRow(oa=oa, has_state=state is not None)
        row.running_campaigns = campaigns.get(oa.pk, {}).get("running", 0)
        row.paused_campaigns = campaigns.get(oa.pk, {}).get("paused", 0)
        row.templates_at_risk = templates.get(oa.pk, {}).get("at_risk", 0)
        row.templates_disabled = templates.get(oa.pk, {}).get("disabled", 0)
        row.open_alerts = alerts.get(oa.pk, {}).get("n", 0)
        row.needs_reauthorisation = oa.pk in reauth
        row.sent_today = today_stats.get(oa.pk, {}).get("sent", 0)
        row.bad_today = today_stats.get(oa.pk, {}).get("bad_reports", 0)
        if state is not None:
            policy_row, policy = policies[state.policy_id]
            row.policy_code = policy_row.code
            row.limit = limit_on(state, today)
            row.levels = len(policy.levels)
            row.level = policy.levels.index(row.limit) + 1 if row.limit in policy.levels else None
            totals = window.get(oa.pk, {})
            row.tier = rules.quality_tier(
                policy, rules.DayTotals(totals.get("sent") or 0, totals.get("bad") or 0)
            ).value
            row.reserved_today, marketing_reserved = reserved.get(oa.pk, (0, 0))
            row.marketing_share = _marketing_share(state, policy, today, marketing_reserved)
            row.remaining_today = None if row.limit is None else max(0, row.limit - row.reserved_today)
            row.violation_threshold = rules.violation_threshold(policy, row.limit)
            row.guardrail_threshold = rules.guardrail_threshold(policy, row.limit, state.guardrail_share)
        row.reasons = attention_reasons(row)
        rows.append(row)
    return rows


def attention_reasons(row: PortfolioRow) -> list[Reason]:
    """Why this OA needs someone, worst first (empty: nothing to do)."""
    reasons = []
    bad = row.bad_today
    if row.violation_threshold is not None and bad > row.violation_threshold:
        reasons.append(
            Reason(
                ACT_NOW,
                "violation",
                _("%(bad)s bad reports today: over the automatic-violation threshold (%(threshold)s)")
                % {"bad": bad, "threshold": _number(row.violation_threshold)},
            )
        )
    elif row.guardrail_threshold is not None and bad > 0 and bad >= row.guardrail_threshold:
        reasons.append(
            Reason(
                ACT_NOW,
                "guardrail",
                _("%(bad)s bad reports today: at the guardrail line (%(line)s)")
                % {"bad": bad, "line": _number(row.guardrail_threshold)},
            )
        )
    elif row.guardrail_threshold and bad >= APPROACHING_GUARDRAIL * row.guardrail_threshold and bad > 0:
        reasons.append(
            Reason(
                WATCH,
                "approaching",
                _("%(bad)s bad reports today: half-way to the guardrail line (%(line)s)")
                % {"bad": bad, "line": _number(row.guardrail_threshold)},
            )
        )
    if row.needs_reauthorisation:
        reasons.append(Reason(ACT_NOW, "reauthorise", _("Zalo authorisation broke: reconnect the OA")))
    if row.open_alerts:
        reasons.append(Reason(TODAY, "alerts", _("%(n)s open alert(s) to handle") % {"n": row.open_alerts}))
    if row.tier == rules.Tier.LOW:
        reasons.append(Reason(TODAY, "low_tier", _("LOW quality over 7 days: the next review downgrades it")))
    if row.oa.sending_stopped:
        reasons.append(
            Reason(
                TODAY,
                "stopped",
                _("Sending stopped (kill switch): %(reason)s") % {"reason": row.oa.stop_reason or "—"},
            )
        )
    if row.remaining_today == 0 and row.limit is not None:
        reasons.append(Reason(TODAY, "quota", _("Today's quota is used up")))
    if row.templates_disabled:
        reasons.append(
            Reason(
                TODAY, "templates_disabled", _("%(n)s template(s) disabled") % {"n": row.templates_disabled}
            )
        )
    if row.templates_at_risk:
        reasons.append(
            Reason(
                WATCH,
                "templates_at_risk",
                _("%(n)s template(s) rated LOW: Zalo may disable them") % {"n": row.templates_at_risk},
            )
        )
    if not row.has_state:
        reasons.append(Reason(WATCH, "no_state", _("No quota state yet")))
    return sorted(reasons, key=lambda reason: -reason.severity)


def _number(value: Decimal) -> str:
    """A threshold for a sentence: whole numbers without decimals, else one decimal."""
    value = Decimal(value)
    return f"{value:.0f}" if value == value.to_integral_value() else f"{value:.1f}"


@dataclass
class Portfolio:
    rows: list[PortfolioRow]  # the page's rows
    total: int  # OAs after filtering
    all_oas: int
    needing_attention: int  # among every OA, unfiltered
    act_now: int
    page: int
    pages: int
    sort: str
    order: str


PAGE_SIZE = 50  # an operator's 50 OAs on one screen; more OAs page, worst first


def portfolio(params, today: date | None = None, page_size: int = PAGE_SIZE) -> Portfolio:
    """The portfolio page's rows from its query parameters: filters, `sort` (a key of SORTS,
    default attention), `order` (asc | desc: reverses the sort's natural order) and `page`."""
    every = portfolio_rows(today)
    filters = Filters.from_query(params)
    sort = params.get("sort", "attention")
    sort = sort if sort in SORTS else "attention"
    order = "desc" if params.get("order") == "desc" else "asc"
    kept = sorted((row for row in every if filters.keeps(row)), key=SORTS[sort], reverse=order == "desc")
    pages = max(1, -(-len(kept) // page_size))
    try:
        page = min(max(1, int(params.get("page", 1))), pages)
    except (TypeError, ValueError):
        page = 1
    return Portfolio(
        rows=kept[(page - 1) * page_size : page * page_size],
        total=len(kept),
        all_oas=len(every),
        needing_attention=sum(1 for row in every if row.reasons),
        act_now=sum(1 for row in every if row.attention == ACT_NOW),
        page=page,
        pages=pages,
        sort=sort,
        order=order,
    )
