"""The portfolio: every OA on one screen with what decides whether it needs someone now.

Read-only and two queries whatever the number of OAs (the policies, and one statement with each
kind of figure grouped by OA, from the rollups and small tables: never the message table).
Sorting and filtering happen over those rows in Python (1,000 OAs are a few milliseconds).

Attention: each OA gets the reasons it needs someone, each with a severity (3 act now, 2 today,
1 watch); the OA's attention is its highest severity, and the default order puts the worst first
(then the one closest to its violation threshold).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property

from django.contrib.humanize.templatetags.humanize import intcomma
from django.db import connection
from django.template.defaultfilters import floatformat
from django.templatetags.l10n import unlocalize
from django.urls import reverse
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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


GUARDRAIL_PLACES = Decimal(1).scaleb(-OAQuotaState._meta.get_field("guardrail_share").decimal_places)


@dataclass(slots=True)
class StateValues:
    """The quota-state fields the portfolio reads (limit_on and the thresholds), as plain values."""

    policy_id: int
    current_limit: int | None
    pending_limit: int | None
    pending_from_day: date | None
    guardrail_share: Decimal


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

    # Cached: the sort keys, the filters and the page's counts read them for every OA.
    @cached_property
    def attention(self) -> int:
        return max((reason.severity for reason in self.reasons), default=0)

    @cached_property
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


def _figures_sql(accounts_sql: str) -> str:
    """One statement for every OA of `accounts_sql` (a subquery of OA ids) with its quota state and
    today's figures: each kind of figure grouped by OA in a derived table, LEFT JOINed (the OA's
    daily stats, usage and credentials are unique per OA and day). One round trip instead of nine
    (each query cost ~0.8 ms of ORM time, and a wait for PostgreSQL on a busy machine)."""
    t = {
        model.__name__: connection.ops.quote_name(model._meta.db_table)
        for model in (
            OfficialAccount,
            OAQuotaState,
            OADailyStats,
            DailyQuotaUsage,
            QualityAlert,
            Campaign,
            MessageTemplate,
            OACredentials,
        )
    }
    return f"""
        SELECT oa.id, oa.name, oa.zalo_oa_id, oa.owner_team, oa.provider, oa.sending_stopped, oa.stop_reason,
               s.policy_id, s.current_limit, s.pending_limit, s.pending_from_day, s.guardrail_share,
               d.sent, d.bad_reports, w.sent, w.bad, u.reserved, u.marketing_reserved,
               a.n, c.running, c.paused, m.at_risk, m.disabled, cr.needs_reauthorisation
        FROM {t["OfficialAccount"]} oa
        LEFT JOIN {t["OAQuotaState"]} s ON s.oa_id = oa.id
        LEFT JOIN {t["OADailyStats"]} d ON d.oa_id = oa.id AND d.day = %s
        LEFT JOIN (
            SELECT oa_id, SUM(sent) AS sent, SUM(bad_reports) AS bad FROM {t["OADailyStats"]}
            WHERE day >= %s AND day < %s GROUP BY oa_id
        ) w ON w.oa_id = oa.id
        LEFT JOIN {t["DailyQuotaUsage"]} u ON u.oa_id = oa.id AND u.day = %s
        LEFT JOIN (
            SELECT oa_id, COUNT(*) AS n FROM {t["QualityAlert"]} WHERE resolved_at IS NULL GROUP BY oa_id
        ) a ON a.oa_id = oa.id
        LEFT JOIN (
            SELECT oa_id, COUNT(*) FILTER (WHERE status = %s) AS running,
                   COUNT(*) FILTER (WHERE status = %s) AS paused
            FROM {t["Campaign"]} WHERE status IN (%s, %s) GROUP BY oa_id
        ) c ON c.oa_id = oa.id
        LEFT JOIN (
            SELECT oa_id, COUNT(*) FILTER (WHERE status = %s) AS at_risk,
                   COUNT(*) FILTER (WHERE status = %s) AS disabled
            FROM {t["MessageTemplate"]} WHERE status = %s OR (status = %s AND quality = %s) GROUP BY oa_id
        ) m ON m.oa_id = oa.id
        LEFT JOIN {t["OACredentials"]} cr ON cr.oa_id = oa.id
        WHERE oa.id IN ({accounts_sql})
        ORDER BY oa.name, oa.id
    """  # noqa: S608 (table names from the models, values as parameters)


def _figure_rows(today: date, accounts) -> list[tuple]:
    accounts_sql, accounts_params = accounts.order_by().values("pk").query.sql_with_params()
    running, paused = Campaign.Status.RUNNING, Campaign.Status.PAUSED
    enabled, disabled = MessageTemplate.Status.ENABLED, MessageTemplate.Status.DISABLED
    params = [
        today,
        today - timedelta(days=7),
        today,
        today,
        running,
        paused,
        running,
        paused,
        enabled,
        disabled,
        disabled,
        enabled,
        MessageTemplate.Quality.LOW,
        *accounts_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_figures_sql(accounts_sql), params)
        return cursor.fetchall()


def portfolio_rows(today: date | None = None, accounts=None) -> list[PortfolioRow]:
    """One row per OA of `accounts` (a queryset of OAs, by default every OA: the views pass the
    user's, teams.scoping), with its reasons for attention (2 queries for any number of OAs: the
    policies, and the OAs with their states and figures)."""
    today = today or today_in_vietnam()
    accounts = OfficialAccount.objects.all() if accounts is None else accounts
    policies = {policy.pk: (policy, rules_policy(policy)) for policy in Policy.objects.all()}
    # What depends only on the policy and the limit (or on the window's totals) is worked out once
    # per distinct value, not per OA: most OAs share a few levels.
    by_limit: dict[tuple, tuple] = {}
    tiers: dict[tuple, str] = {}
    shares: dict[tuple, MarketingShare] = {}
    rows = []
    width = len(OA_FIELDS)
    for values in _figure_rows(today, accounts):
        oa = OARef(*values[:width])
        oa.sending_stopped = bool(oa.sending_stopped)  # (0 / 1 from SQLite)
        state = StateValues(*values[width : width + 5]) if values[width] is not None else None
        if state is not None and not isinstance(state.guardrail_share, Decimal):  # (a float from SQLite)
            state.guardrail_share = Decimal(str(state.guardrail_share)).quantize(GUARDRAIL_PLACES)
        (
            sent_today,
            bad_today,
            window_sent,
            window_bad,
            reserved_today,
            marketing_reserved,
            open_alerts,
            running,
            paused,
            at_risk,
            templates_disabled,
            reauthorise,
        ) = values[width + 5 :]
        row = PortfolioRow(oa=oa, has_state=state is not None)
        row.running_campaigns = running or 0
        row.paused_campaigns = paused or 0
        row.templates_at_risk = at_risk or 0
        row.templates_disabled = templates_disabled or 0
        row.open_alerts = open_alerts or 0
        row.needs_reauthorisation = bool(reauthorise)
        row.sent_today = sent_today or 0
        row.bad_today = bad_today or 0
        if state is not None:
            policy_row, policy = policies[state.policy_id]
            row.policy_code = policy_row.code
            row.limit = limit = limit_on(state, today)
            key = (state.policy_id, limit, state.guardrail_share)
            if key not in by_limit:
                by_limit[key] = (
                    len(policy.levels),
                    policy.levels.index(limit) + 1 if limit in policy.levels else None,
                    rules.violation_threshold(policy, limit),
                    rules.guardrail_threshold(policy, limit, state.guardrail_share),
                )
            row.levels, row.level, row.violation_threshold, row.guardrail_threshold = by_limit[key]
            key = (state.policy_id, window_sent or 0, window_bad or 0)
            if key not in tiers:
                tiers[key] = rules.quality_tier(policy, rules.DayTotals(key[1], key[2])).value
            row.tier = tiers[key]
            row.reserved_today = reserved_today or 0
            marketing_reserved = marketing_reserved or 0
            key = (state.policy_id, limit, marketing_reserved)
            if key not in shares:  # (a frozen value: rows may share one)
                shares[key] = _marketing_share(state, policy, today, marketing_reserved)
            row.marketing_share = shares[key]
            row.remaining_today = None if limit is None else max(0, limit - row.reserved_today)
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


def portfolio(params, today: date | None = None, page_size: int = PAGE_SIZE, accounts=None) -> Portfolio:
    """The portfolio page's rows from its query parameters: filters, `sort` (a key of SORTS,
    default attention), `order` (asc | desc: reverses the sort's natural order) and `page`."""
    every = portfolio_rows(today, accounts)
    filters = Filters.from_query(params)
    sort = params.get("sort", "attention")
    sort = sort if sort in SORTS else "attention"
    order = "desc" if params.get("order") == "desc" else "asc"
    kept = every if filters == Filters() else [row for row in every if filters.keeps(row)]
    kept = sorted(kept, key=SORTS[sort], reverse=order == "desc")
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


# --- the table's rows as HTML ---------------------------------------------------------------------
# Built in Python, not by the template's loop: 50 rows of eight cells through Django's template
# engine (some 2,700 variable and translation nodes) took 40–130 ms, most of the page's budget;
# this takes 2–5 ms. The markup is the one the template had (data-testid and data-label attributes
# included: the phone layout shows each cell's data-label). Every text that is not ours goes
# through `esc` (OA names, stop reasons, the page's own URL).


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def _text(message: str, **values) -> str:
    """A translated sentence with its values escaped (what {% blocktranslate %} renders)."""
    return message % {key: esc(value) for key, value in values.items()}


def _labels() -> dict:
    """The page's fixed texts, translated and escaped once per page."""
    t = {
        key: esc(text)
        for key, text in {
            "attention": _("Attention"),
            "oa": _("Official Account"),
            "quality": _("Quality (7 days)"),
            "remaining": _("Quota left today"),
            "bad": _("Bad reports today"),
            "marketing": _("Marketing today"),
            "counts": _("Campaigns, templates, alerts"),
            "kill": _("Kill switch"),
            "undefined": _("Undefined (nothing sent)"),
            "oa_page": _("OA page"),
            "sources": _("Bad-report sources"),
            "unrestricted": _("Unrestricted"),
            "no_share": _("No daily share under this policy"),
            "no_marketing": _("Marketing not allowed at this level"),
            "stopped": _("Stopped"),
            "resume": _("Resume sends"),
            "resume_why": _("Why resume (recorded in the audit log)"),
            "stop": _("Stop all sends"),
            "stop_why": _("Why stop (recorded in the audit log)"),
            "stop_now": _("Stop all sends now"),
            "sending": _("Sending"),
        }.items()
    }
    # (gettext calls stay outside the f-strings: xgettext cannot read them inside one)
    act_now, today, watch, ok = _("Act now"), _("Today"), _("Watch"), _("OK")
    t["badges"] = {
        ACT_NOW: f'<span class="badge attention-badge sev-3">{esc(act_now)}</span>',
        TODAY: f'<span class="badge attention-badge sev-2">{esc(today)}</span>',
        WATCH: f'<span class="badge attention-badge sev-1">{esc(watch)}</span>',
        0: f'<span class="badge ok">{esc(ok)}</span>',
    }
    t["tiers"] = {"HIGH": esc(_("High")), "MEDIUM": esc(_("Medium")), "LOW": esc(_("Low"))}
    t["providers"] = {value: esc(label) for value, label in OfficialAccount.Provider.choices}
    t["group"] = _grouper()
    return t


def _grouper():
    """intcomma for ints, with the active language's separator looked up once per page (intcomma
    looks up three formats per call). Anything but a plain int goes to intcomma."""
    separator = get_format("THOUSAND_SEPARATOR")
    if get_format("NUMBER_GROUPING") != 3:
        return intcomma

    def group(value) -> str:
        if type(value) is not int:
            return intcomma(value)
        return f"{value:,}".replace(",", separator) if abs(value) >= 1000 else str(value)

    return group


def _threshold(value) -> str:
    return esc(floatformat(value, "-1"))


def _bad_cell(row: PortfolioRow, group) -> str:
    if row.violation_threshold is None:
        return esc(group(row.bad_today))
    percent = row.bad_percent_of_threshold
    title = _text(_("%(percent)s %% of the automatic-violation threshold"), percent=percent)
    meta = _text(
        _("guardrail at %(line)s, automatic violation above %(threshold)s"),
        line=floatformat(row.guardrail_threshold, "-1"),
        threshold=floatformat(row.violation_threshold, "-1"),
    )
    guardrail = unlocalize(row.guardrail_threshold)
    return (
        f"<strong>{esc(group(row.bad_today))}</strong> / {_threshold(row.violation_threshold)}\n"
        f'<meter class="threshold" min="0" max="{unlocalize(row.violation_threshold)}" low="{guardrail}" '
        f'high="{guardrail}" optimum="0" value="{row.bad_today}" title="{title}">{percent} %</meter>\n'
        f'<div class="meta">{meta}</div>'
    )


def _marketing_cell(row: PortfolioRow, labels) -> str:
    share = row.marketing_share
    if not share:
        return "—"
    if not share.applies:
        return labels["no_share"]
    if not share.marketing_allowed:
        return labels["no_marketing"]
    return (
        f'<span data-testid="marketing-share-used">{esc(labels["group"](share.used))}</span> / '
        f'<span data-testid="marketing-share-allowance">{esc(labels["group"](share.allowance))}</span>'
    )


def _counts_cell(row: PortfolioRow) -> str:
    running = _text(
        ngettext("%(n)s campaign running", "%(n)s campaigns running", row.running_campaigns),
        n=row.running_campaigns,
    )
    if row.paused_campaigns:
        running += ", " + _text(
            ngettext("%(n)s paused", "%(n)s paused", row.paused_campaigns), n=row.paused_campaigns
        )
    items = [f"<li>{running}</li>"]
    if n := row.templates_at_risk:
        text = ngettext("%(n)s template at risk (LOW)", "%(n)s templates at risk (LOW)", n)
        items.append(f'<li class="sev-1">{_text(text, n=n)}</li>')
    if n := row.templates_disabled:
        text = ngettext("%(n)s template disabled", "%(n)s templates disabled", n)
        items.append(f'<li class="sev-2">{_text(text, n=n)}</li>')
    n = row.open_alerts
    text = _text(ngettext("%(n)s open alert", "%(n)s open alerts", n), n=n)
    items.append(f'<li class="sev-2">{text}</li>' if n else f"<li>{text}</li>")
    return f'<ul class="counts">{"".join(items)}</ul>'


def _kill_switch_cell(row: PortfolioRow, labels, urls, csrf_input, here, can_stop, can_resume) -> str:
    def form(kind, testid, summary, why, button_class, button):
        return (
            f'<details class="kill-switch"{testid}><summary>{summary}</summary>\n'
            f'<form method="post" action="{urls[kind]}">{csrf_input}\n'
            f'<input type="hidden" name="next" value="{here}">\n'
            f'<label for="{kind}-{row.oa.pk}">{why}</label>\n'
            f'<textarea id="{kind}-{row.oa.pk}" name="reason" rows="2" required maxlength="1000">'
            "</textarea>\n"
            f'<button type="submit"{button_class}>{button}</button>\n'
            "</form>\n</details>"
        )

    if row.oa.sending_stopped:
        stopped = f'<span class="badge danger">{labels["stopped"]}</span>'
        if not can_resume:
            return stopped
        return stopped + form("resume", "", labels["resume"], labels["resume_why"], "", labels["resume"])
    if can_stop:
        return form(
            "stop",
            ' data-testid="kill-switch"',
            labels["stop"],
            labels["stop_why"],
            ' class="danger"',
            labels["stop_now"],
        )
    return f'<span class="meta">{labels["sending"]}</span>'


def table_rows_html(
    rows: list[PortfolioRow], *, csrf_token: str, here: str, can_stop: bool, can_resume: bool
) -> SafeString:
    """The <tr>s of the portfolio table for `rows` (the page's rows)."""
    labels = _labels()
    group = labels["group"]
    # Each row's links from one reversed URL per kind (reverse() per row and kind costs more than
    # the rest of a row).
    patterns = {
        "quality": reverse("quotas:oa_detail", args=[0]),
        "oa": reverse("oas:detail", args=[0]),
        "sources": reverse("campaigns:oa_attribution", args=[0]),
        "stop": reverse("quotas:portfolio_stop", args=[0]),
        "resume": reverse("quotas:portfolio_resume", args=[0]),
    }
    csrf_input = f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(csrf_token)}">'
    here = esc(here)
    out = []
    for row in rows:
        oa = row.oa
        urls = {name: esc(url.replace("/0/", f"/{oa.pk}/", 1)) for name, url in patterns.items()}
        reasons = (
            '<ul class="reasons" data-testid="reasons">'
            + "".join(
                f'<li class="sev-{r.severity}" data-code="{esc(r.code)}">{esc(r.text)}</li>'
                for r in row.reasons
            )
            + "</ul>"
            if row.reasons
            else ""
        )
        if not row.has_state:
            remaining = "—"
        elif row.remaining_today is None:
            remaining = labels["unrestricted"]
        else:
            remaining = f"<strong>{esc(group(row.remaining_today))}</strong> / {esc(group(row.limit))}"
        level = (
            _text(_("level %(level)s of %(levels)s"), level=row.level, levels=row.levels) + " · "
            if row.level
            else ""
        )
        sent = _text(_("%(sent)s sent"), sent=group(row.sent_today))
        policy = f" · {esc(row.policy_code)}" if row.policy_code else ""
        provider = labels["providers"].get(oa.provider) or esc(oa.provider)
        tier = labels["tiers"].get(row.tier, labels["undefined"])
        kill = _kill_switch_cell(row, labels, urls, csrf_input, here, can_stop, can_resume)
        out.append(
            f'<tr data-testid="portfolio-row" data-oa="{oa.pk}" data-attention="{row.attention}">\n'
            f'<td data-label="{labels["attention"]}">{labels["badges"][row.attention]}{reasons}</td>\n'
            f'<td data-label="{labels["oa"]}">'
            f'<a class="oa-name" href="{urls["quality"]}">{esc(oa.name)}</a>\n'
            f'<div class="meta">{provider}{policy}</div>\n'
            f'<div class="oa-links"><a href="{urls["oa"]}">{labels["oa_page"]}</a>'
            f'<a href="{urls["sources"]}">{labels["sources"]}</a></div></td>\n'
            f'<td data-label="{labels["quality"]}">'
            f'<span class="badge tier-{esc(row.tier)}">{tier}</span></td>\n'
            f'<td data-label="{labels["remaining"]}" data-testid="remaining">{remaining}\n'
            f'<div class="meta">{level}{sent}</div></td>\n'
            f'<td data-label="{labels["bad"]}" data-testid="bad-today">{_bad_cell(row, group)}</td>\n'
            f'<td data-label="{labels["marketing"]}" data-testid="marketing-share">'
            f"{_marketing_cell(row, labels)}</td>\n"
            f'<td data-label="{labels["counts"]}">{_counts_cell(row)}</td>\n'
            f'<td data-label="{labels["kill"]}">{kill}</td>\n'
            "</tr>\n"
        )
    return mark_safe("".join(out))  # noqa: S308 (every value above escaped by esc)
