"""Who of a campaign's audience may get it: a registry of named rules, each refusal with its rule and
reason (issue 12, "Pre-flight").

A rule has a code, a title, the campaigns it applies to (`applies`) and a set-based check over the
recipients still eligible after the rules before it (`check`: one query or one pass over the whole
batch, never one query per recipient) that returns the refused phones with their reason. A recipient
is counted under the first rule that refuses it. New rules plug into the same list with `@rule(...)`.

The rules, in order:
- per recipient: invalid phone, duplicate, do-not-contact, consent for the template's purpose (from
  its tag), Zalo's per-recipient marketing caps for this OA (the policy's numbers: ZNS 4 a calendar
  month, ZBS 1 a day and 30 a month), Decree 91's 3 marketing messages per phone per 24 hours across
  all OAs;
- per campaign (they refuse everyone): the tag not allowed at the OA's level, Decree 91's delivery
  hours (07:00–22:00 Vietnam time) on the schedule, the advertising label ([QC]) and the opt-out
  instruction in the template text.

The Decree 91/2020/ND-CP presets apply to marketing (tag 3) and are on by default; each can be turned
off for the workspace in settings (`MARKETING_RULES`).

What the 24-hour rule counts: the marketing messages of every OA that left (a request made) in the
24 hours before the send, from the message rows; and, for sends without message rows of ours, what
the quota engine recorded per recipient, OA and Vietnam day (`RecipientMarketingUsage`): 3 or more
on the send's Vietnam day make this one the 4th within 24 hours.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audiences.models import ContactConsentState, FollowerStatus, Purpose, SuppressionState
from audiences.selectors import audience_contacts
from campaigns.models import Campaign, CampaignMessage
from oas.models import MessageTemplate
from quotas import rules
from quotas.models import OAQuotaState, RecipientMarketingUsage
from quotas.services.policies import rules_policy
from quotas.services.state import limit_on
from zalo_admin.lib.dates import VIETNAM, vietnam_day
from zalo_admin.lib.phones import PhoneRejected, parse_vietnamese_mobile

PURPOSE_BY_TAG = {
    MessageTemplate.Tag.TRANSACTION: Purpose.TRANSACTIONAL,
    MessageTemplate.Tag.CUSTOMER_CARE: Purpose.CUSTOMER_CARE,
    MessageTemplate.Tag.MARKETING: Purpose.MARKETING,
}
# The temporary table of the batch under evaluation (`_load_batch`).
BATCH = "campaign_preflight_batch"
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
# How far ahead the schedule rule and the quota plan look for delivery time.
HORIZON_DAYS = 400

# Decree 91 presets (the workspace turns each off in settings.MARKETING_RULES).
DEFAULT_MARKETING_RULES = {
    "delivery_hours": True,
    "from_hour": 7,
    "to_hour": 22,
    "daily_cap": True,
    "max_per_24h": 3,
    "ad_label": True,
    "opt_out": True,
}
# "[QC]" or "QC" as a word, or the words "quảng cáo" (accents optional).
AD_LABEL = re.compile(r"\[\s*QC\s*\]|\bQC\b|quang cao", re.IGNORECASE)
# An opt-out instruction: "từ chối", "hủy/huỷ đăng ký", "ngừng nhận", "soạn TC/HUY", STOP, unsubscribe…
OPT_OUT = re.compile(
    r"tu choi|huy (dang ky|nhan)|ngung nhan|khong (muon )?nhan|soan (tc|huy|tu choi)|\bstop\b|"
    r"unsubscribe|opt[ -]?out",
    re.IGNORECASE,
)


def marketing_rules() -> dict:
    """The workspace's Decree 91 presets: the defaults, with settings.MARKETING_RULES over them."""
    return {**DEFAULT_MARKETING_RULES, **getattr(settings, "MARKETING_RULES", {})}


class Recipient(NamedTuple):
    contact_id: int
    phone: str


@dataclass
class Context:
    """What every rule may read about the campaign, computed once."""

    campaign: Campaign
    template: MessageTemplate
    tag: int
    purpose: str
    marketing: bool
    now: datetime
    scheduled: bool  # send_at set
    send_at: datetime  # the moment the send starts (now when not scheduled)
    start: datetime  # when sending can start: send_at, or now when that is past or not set
    send_day: date  # the Vietnam day of start
    state: OAQuotaState | None
    policy: rules.Policy | None
    limit: int | None  # the OA's limit on send_day
    presets: dict

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.campaign.time_zone or "Asia/Ho_Chi_Minh")
        except (KeyError, ValueError):
            return VIETNAM


@dataclass(frozen=True)
class Rule:
    code: str
    title: str  # lazy text
    check: Callable[[Context, list[Recipient]], dict[int, str]]
    applies: Callable[[Context], bool] = lambda ctx: True
    per_campaign: bool = False  # refuses everyone or no one


RULES: list[Rule] = []


def rule(code: str, title, *, applies=None, per_campaign: bool = False):
    """Register a rule (decorator on its check); the order of registration is the order of checking."""

    def register(check):
        if any(existing.code == code for existing in RULES):
            raise ValueError(f"rule {code!r} is registered twice")
        RULES.append(Rule(code, title, check, applies or (lambda ctx: True), per_campaign=per_campaign))
        return check

    return register


def rule_titles() -> dict[int, str]:
    return {r.code: str(r.title) for r in RULES}


# --- helpers --------------------------------------------------------------------------------------


def _phones(recipients: list[Recipient]) -> list[str]:
    return [r.phone for r in recipients]


def _all(recipients: list[Recipient], reason: str) -> dict[int, str]:
    return {r.contact_id: reason for r in recipients}


def _plain(text: str) -> str:
    """Lower case without accents (đ -> d), spaces collapsed: what the text rules match on."""
    text = unicodedata.normalize("NFD", str(text or "")).replace("đ", "d").replace("Đ", "D")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text).strip()


def template_text(template: MessageTemplate) -> str:
    """The template's text as far as we hold it: the provider gives no body text (only a preview
    URL), so its name, its sample data and its buttons' titles."""
    parts = [template.name]
    parts += [str(value) for value in (template.sample_data or {}).values()]
    for button in template.buttons or []:
        if isinstance(button, dict):
            parts += [str(button.get(key, "")) for key in ("title", "content", "name")]
    return "\n".join(part for part in parts if part)


def _marketing(ctx: Context) -> bool:
    return ctx.marketing


def _preset(name: str) -> Callable[[Context], bool]:
    return lambda ctx: ctx.marketing and bool(ctx.presets.get(name))


def _month_bounds(day: date) -> tuple[date, date]:
    start = rules.month_of(day)
    return start, rules.month_of(start + timedelta(days=32))


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- delivery time --------------------------------------------------------------------------------


def _campaign_windows(ctx: Context, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The campaign's own delivery window (days, from/to in its time zone) between start and end."""
    campaign, zone = ctx.campaign, ctx.zone
    days = set(campaign.delivery_days or [])
    has_clock = campaign.delivery_from_hour is not None and campaign.delivery_to_hour is not None
    if not days and not has_clock:
        return [(start, end)]
    out = []
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    day = first
    while day <= last:
        if not days or WEEKDAYS[day.weekday()] in days:
            if has_clock:
                opens = datetime(
                    day.year, day.month, day.day, campaign.delivery_from_hour,
                    campaign.delivery_from_minute or 0, tzinfo=zone,
                )  # fmt: skip
                closes = datetime(
                    day.year, day.month, day.day, campaign.delivery_to_hour,
                    campaign.delivery_to_minute or 0, tzinfo=zone,
                )  # fmt: skip
                if closes <= opens:  # crosses midnight
                    closes += timedelta(days=1)
            else:
                opens = datetime(day.year, day.month, day.day, tzinfo=zone)
                closes = opens + timedelta(days=1)
            out.append((opens, closes))
        day += timedelta(days=1)
    return _clip(out, start, end)


def _decree_windows(ctx: Context, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    if not (ctx.marketing and ctx.presets.get("delivery_hours")):
        return [(start, end)]
    from_hour, to_hour = int(ctx.presets["from_hour"]), int(ctx.presets["to_hour"])
    out = []
    day = start.astimezone(VIETNAM).date() - timedelta(days=1)
    while day <= end.astimezone(VIETNAM).date():
        midnight = datetime(day.year, day.month, day.day, tzinfo=VIETNAM)
        out.append((midnight + timedelta(hours=from_hour), midnight + timedelta(hours=to_hour)))
        day += timedelta(days=1)
    return _clip(out, start, end)


def _clip(intervals, start, end):
    clipped = []
    for opens, closes in sorted(intervals):
        opens, closes = max(opens, start), min(closes, end)
        if opens < closes:
            if clipped and opens <= clipped[-1][1]:
                clipped[-1] = (clipped[-1][0], max(clipped[-1][1], closes))
            else:
                clipped.append((opens, closes))
    return clipped


def _intersect(a, b):
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        opens, closes = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if opens < closes:
            out.append((opens, closes))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return out


def delivery_intervals(ctx: Context, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """When the campaign may deliver between start and end: its own delivery window and, for
    marketing, Decree 91's hours (both at once), as sorted aware intervals."""
    return _intersect(_campaign_windows(ctx, start, end), _decree_windows(ctx, start, end))


def in_decree_hours(moment: datetime, presets: dict | None = None) -> bool:
    """Whether `moment` lies within Decree 91's delivery hours, Vietnam time: from 07:00 (allowed)
    to 22:00 (refused), by default."""
    presets = presets or marketing_rules()
    local = moment.astimezone(VIETNAM)
    minutes = local.hour * 60 + local.minute
    return int(presets["from_hour"]) * 60 <= minutes < int(presets["to_hour"]) * 60


# --- the rules ------------------------------------------------------------------------------------


@rule("invalid_phone", gettext_lazy("Invalid phone number"))
def _invalid_phone(ctx: Context, recipients: list[Recipient]) -> dict[int, str]:
    refused = {}
    for recipient in recipients:
        try:
            if parse_vietnamese_mobile(recipient.phone) != recipient.phone:
                refused[recipient.contact_id] = _("The phone is not in the normalised form 84 + 9 digits.")
        except PhoneRejected as exc:
            refused[recipient.contact_id] = _("The phone is not a Vietnamese mobile number (%(why)s).") % {
                "why": exc
            }
    return refused


@rule("duplicate", gettext_lazy("Duplicate phone"))
def _duplicate(ctx: Context, recipients: list[Recipient]) -> dict[int, str]:
    # Contacts are one per phone and the audience is deduplicated, so this finds nothing unless two
    # entries of the batch share a phone; the first (lowest contact id) is kept.
    seen, refused = set(), {}
    for recipient in recipients:
        if recipient.phone in seen:
            refused[recipient.contact_id] = _("The phone is already in this audience.")
        seen.add(recipient.phone)
    return refused


def phone_digests(phones: list[str]) -> dict[str, str]:
    """`audiences.models.phone_digest` of many phones at once ({digest: phone}): the same keyed
    HMAC-SHA256 (RFC 2104), its keyed inner and outer states computed once (a test holds the two
    equal)."""
    key = hashlib.sha256(b"audiences.phone_digest|" + str(settings.AUDIT_SIGNING_KEY).encode()).digest()
    block = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    digests = {}
    for phone in phones:
        state = inner.copy()
        state.update(phone.encode())
        final = outer.copy()
        final.update(state.digest())
        digests[final.hexdigest()] = phone
    return digests


@rule("do_not_contact", gettext_lazy("On the do-not-contact list"))
def _do_not_contact(ctx: Context, recipients: list[Recipient]) -> dict[int, str]:
    # The list's current state by plain phone (indexed), joined in the database; an erased person's
    # entry keeps only its digest (audiences.models.Suppression), so when there are such entries the
    # batch's digests are matched too, like audiences.selectors.suppressed_among.
    table = SuppressionState._meta.db_table
    refused = {
        contact_id
        for (contact_id,) in _rows(
            f"SELECT b.contact_id FROM {BATCH} b JOIN {table} s ON s.phone = b.phone WHERE s.suppressed",  # noqa: S608
            [],
        )
    }
    erased = {
        digest
        for (digest,) in _rows(f"SELECT phone_hash FROM {table} WHERE suppressed AND phone = ''", [])  # noqa: S608
    }
    if erased:
        by_digest = phone_digests(_phones(recipients))
        phones = {by_digest[digest] for digest in erased.intersection(by_digest)}
        refused.update(r.contact_id for r in recipients if r.phone in phones)
    reason = _("The phone is on the do-not-contact list.")
    return dict.fromkeys(refused, reason)


@rule("consent", gettext_lazy("Consent for the template's purpose"))
def _consent(ctx: Context, recipients: list[Recipient]) -> dict[int, str]:
    # Only the refusals come back: a withdrawal, or (marketing, an opt-in) no grant at all.
    states = dict(
        _rows(
            f"SELECT b.contact_id, s.granted FROM {BATCH} b "  # noqa: S608
            f"LEFT JOIN {ContactConsentState._meta.db_table} s "
            "ON s.contact_id = b.contact_id AND s.purpose = %s "
            "WHERE s.granted IS FALSE OR (s.granted IS NULL AND %s)",
            [ctx.purpose, ctx.purpose == Purpose.MARKETING],
        )
    )
    label = str(Purpose(ctx.purpose).label)
    withdrawn = _("The contact withdrew consent for %(purpose)s.") % {"purpose": label}
    missing = _("%(purpose)s needs the contact's consent, and none is recorded.") % {
        "purpose": label.capitalize()
    }
    return {contact_id: withdrawn if granted is False else missing for contact_id, granted in states.items()}


@rule(
    "zalo_recipient_caps", gettext_lazy("Zalo's marketing caps per recipient (this OA)"), applies=_marketing
)
def _zalo_caps(ctx: Context, recipients: list[Recipient]) -> dict[int, str]:
    if ctx.policy is None:
        return _all(recipients, _("The OA has no quota state: its recipient caps cannot be checked."))
    per_day, per_month = ctx.policy.recipient_marketing_per_day, ctx.policy.recipient_marketing_per_month
    if per_day is None and per_month is None:
        return {}
    month_start, next_month = _month_bounds(ctx.send_day)
    rows = _rows(
        f"SELECT b.contact_id, sum(u.count), sum(u.count) FILTER (WHERE u.day = %s) "  # noqa: S608
        f"FROM {BATCH} b JOIN {RecipientMarketingUsage._meta.db_table} u ON u.recipient = b.phone "
        "WHERE u.oa_id = %s AND u.day >= %s AND u.day < %s GROUP BY b.contact_id",
        [ctx.send_day, ctx.campaign.oa_id, month_start, next_month],
    )
    refused = {}
    for contact_id, month, today in rows:
        today = today or 0
        if per_day is not None and today >= per_day:
            refused[contact_id] = _(
                "Already got %(count)s marketing message(s) from this OA on %(day)s; Zalo allows "
                "%(cap)s a day."
            ) % {"count": today, "day": ctx.send_day.strftime("%d/%m/%Y"), "cap": per_day}
        elif per_month is not None and month >= per_month:
            refused[contact_id] = _(
                "Already got %(count)s marketing message(s) from this OA in %(month)s; Zalo allows "
                "%(cap)s a month."
            ) % {"count": month, "month": month_start.strftime("%m/%Y"), "cap": per_month}
    return refused


@rule(
    "decree91_daily_cap",
    gettext_lazy("Decree 91: at most 3 marketing messages per phone in 24 hours"),
    applies=_preset("daily_cap"),
)
def _decree_daily_cap(ctx: Context, recipients: list[Recipient]) -> dict[int, str]:
    cap = int(ctx.presets["max_per_24h"])
    refused = {}
    # The moments we know: marketing messages of every OA that left in the 24 hours before the send
    # (a request made counts, whatever its outcome, except those the provider refused outright).
    message, campaign = CampaignMessage._meta.db_table, Campaign._meta.db_table
    template = MessageTemplate._meta.db_table
    S = CampaignMessage.State
    counted = [S.SENDING, S.ACCEPTED, S.DELIVERED, S.UNCONFIRMED, S.FAILED_OVER]
    placeholders = ", ".join(["%s"] * len(counted))
    for contact_id, count in _rows(
        f"SELECT b.contact_id, count(*) FROM {BATCH} b "  # noqa: S608
        f"JOIN {message} m ON m.phone = b.phone JOIN {campaign} c ON c.id = m.campaign_id "
        f"JOIN {template} t ON t.id = c.template_id "
        f"WHERE t.tag = %s AND m.sending_at > %s AND m.sending_at <= %s AND m.state IN ({placeholders}) "
        "GROUP BY b.contact_id HAVING count(*) >= %s",
        [MessageTemplate.Tag.MARKETING, ctx.send_at - timedelta(hours=24), ctx.send_at, *counted, cap],
    ):
        refused[contact_id] = _(
            "Already got %(count)s marketing message(s) from all OAs in the 24 hours before this send: "
            "this one would be more than %(cap)s (Decree 91)."
        ) % {"count": count, "cap": cap}
    # And what the quota engine recorded per Vietnam day (sends without message rows of ours).
    rows = _rows(
        f"SELECT b.contact_id, sum(u.count) FROM {BATCH} b "  # noqa: S608
        f"JOIN {RecipientMarketingUsage._meta.db_table} u ON u.recipient = b.phone "
        "WHERE u.day = %s GROUP BY b.contact_id HAVING sum(u.count) >= %s",
        [ctx.send_day, cap],
    )
    for contact_id, count in rows:
        refused.setdefault(
            contact_id,
            _(
                "Already got %(count)s marketing message(s) from all OAs on %(day)s: this one would be "
                "more than %(cap)s within 24 hours (Decree 91)."
            )
            % {"count": count, "day": ctx.send_day.strftime("%d/%m/%Y"), "cap": cap},
        )
    return refused


@rule("tag_level", gettext_lazy("Tag not allowed at the OA's level"), per_campaign=True)
def _tag_level(ctx: Context, recipients: list[Recipient]) -> dict[int, str]:
    if not ctx.marketing:
        return {}
    if ctx.policy is None:
        return _all(recipients, _("The OA has no quota state: its level is unknown."))
    if rules.can_send_tag(ctx.policy, ctx.limit, ctx.tag):
        return {}
    return _all(
        recipients,
        _("Marketing (tag 3) needs a daily limit of at least %(min)s; the OA is at %(limit)s.")
        % {"min": ctx.policy.marketing_min_level, "limit": ctx.limit},
    )


@rule(
    "decree91_delivery_hours",
    gettext_lazy("Decree 91: delivery only 07:00–22:00 Vietnam time"),
    applies=_preset("delivery_hours"),
    per_campaign=True,
)
def _decree_hours(ctx: Context, recipients: list[Recipient]) -> dict[int, str]:
    hours = f"{int(ctx.presets['from_hour']):02d}:00–{int(ctx.presets['to_hour']):02d}:00"
    if ctx.scheduled and not in_decree_hours(ctx.send_at, ctx.presets):
        local = ctx.send_at.astimezone(VIETNAM)
        return _all(
            recipients,
            _("The send is scheduled at %(time)s Vietnam time, outside %(hours)s.")
            % {"time": local.strftime("%H:%M %d/%m/%Y"), "hours": hours},
        )
    if not delivery_intervals(ctx, ctx.start, ctx.start + timedelta(days=14)):
        return _all(
            recipients,
            _("The campaign's delivery window has no time within %(hours)s Vietnam time.") % {"hours": hours},
        )
    return {}


@rule(
    "decree91_ad_label",
    gettext_lazy("Decree 91: advertising label [QC] in the template"),
    applies=_preset("ad_label"),
    per_campaign=True,
)
def _ad_label(ctx: Context, recipients: list[Recipient]) -> dict[int, str]:
    if AD_LABEL.search(_plain(template_text(ctx.template))):
        return {}
    return _all(recipients, _("The template text has no advertising label such as [QC]."))


@rule(
    "decree91_opt_out",
    gettext_lazy("Decree 91: opt-out instruction in the template"),
    applies=_preset("opt_out"),
    per_campaign=True,
)
def _opt_out(ctx: Context, recipients: list[Recipient]) -> dict[int, str]:
    if OPT_OUT.search(_plain(template_text(ctx.template))):
        return {}
    return _all(recipients, _("The template text tells the recipient no way to refuse further messages."))


# --- evaluation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exclusion:
    contact_id: int
    phone: str
    rule: str
    reason: str


@dataclass
class Evaluation:
    context: Context
    total: int
    eligible: list[Recipient]
    exclusions: list[Exclusion]
    counts: dict[str, int]  # rule code -> refused (first refusal), every applied rule listed
    applied: list[str]
    skipped: list[str] = field(default_factory=list)
    followers: dict[int, str] = field(default_factory=dict)  # marketing: contact id -> known status

    @property
    def eligible_phones(self) -> list[str]:
        return sorted(r.phone for r in self.eligible)


def build_context(campaign: Campaign, now: datetime | None = None) -> Context:
    now = now or timezone.now()
    template = campaign.template
    tag = int(template.tag)
    start = max(campaign.send_at, now) if campaign.send_at is not None else now
    send_day = vietnam_day(start)
    state = OAQuotaState.objects.select_related("policy").filter(oa_id=campaign.oa_id).first()
    policy = rules_policy(state.policy) if state else None
    return Context(
        campaign=campaign,
        template=template,
        tag=tag,
        purpose=str(PURPOSE_BY_TAG[tag]),
        marketing=tag == rules.MARKETING_TAG,
        now=now,
        scheduled=campaign.send_at is not None,
        send_at=(campaign.send_at if campaign.send_at is not None else now).astimezone(UTC),
        start=start.astimezone(UTC),
        send_day=send_day,
        state=state,
        policy=policy,
        limit=limit_on(state, send_day) if state else None,
        presets=marketing_rules(),
    )


def _audience_sql(campaign: Campaign) -> tuple[str, list] | None:
    """The SQL of the campaign's audience (lists and segments, deduplicated, erased people left
    out): contact id and phone; None when it can have no one (nothing chosen)."""
    audience = audience_contacts(
        list_ids=campaign.audience_lists.values_list("pk", flat=True),
        segment_ids=campaign.audience_segments.values_list("pk", flat=True),
    )
    try:
        sql, params = audience.order_by().values_list("pk", "phone").query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, list(params)


def audience_recipients(campaign: Campaign) -> list[Recipient]:
    """The campaign's audience, by phone."""
    query = _audience_sql(campaign)
    if query is None:
        return []
    return [Recipient._make(row) for row in _rows(f"{query[0]} ORDER BY 2, 1", query[1])]


def _load_batch(campaign: Campaign, recipients: list[Recipient] | None) -> list[Recipient]:
    """The batch under evaluation as a temporary table (contact id, phone), dropped at the end of the
    transaction, that every rule joins in the database instead of shipping 100,000 values: the
    campaign's audience, filled by the database itself, or the given recipients (copied in)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {BATCH}")
        # PostgreSQL drops it at commit even if the evaluation fails; SQLite (`make run` without
        # DATABASE_URL) has no ON COMMIT clause: the DROP at the end of `evaluate` removes it.
        on_commit = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
        cursor.execute(
            f"CREATE TEMPORARY TABLE {BATCH} (contact_id bigint NOT NULL, phone varchar(11) NOT NULL)"
            + on_commit
        )
        query = _audience_sql(campaign) if recipients is None else None
        if recipients is None and query is None:
            recipients = []
        elif recipients is None:
            sql, params = query
            cursor.execute(
                f"INSERT INTO {BATCH} (contact_id, phone) {sql} RETURNING contact_id, phone",  # noqa: S608
                params,
            )
            recipients = sorted(map(Recipient._make, cursor.fetchall()), key=_by_phone_then_id)
        elif connection.vendor == "postgresql":
            with cursor.connection.cursor().copy(f"COPY {BATCH} (contact_id, phone) FROM STDIN") as copy:
                for recipient in recipients:
                    copy.write_row(recipient)
        else:
            cursor.executemany(f"INSERT INTO {BATCH} (contact_id, phone) VALUES (%s, %s)", recipients)  # noqa: S608
    return recipients


def _by_phone_then_id(recipient: Recipient) -> tuple[str, int]:
    return recipient.phone, recipient.contact_id


def evaluate(
    campaign: Campaign, now: datetime | None = None, recipients: Iterable[Recipient] | None = None
) -> Evaluation:
    """Run every rule over the audience: who is eligible, who is not and why (and, for marketing,
    the follower status of the audience, for the inbox / Business Box split)."""
    ctx = build_context(campaign, now)
    exclusions, counts, applied, skipped, followers = [], {}, [], [], {}
    with transaction.atomic():
        remaining = _load_batch(campaign, None if recipients is None else list(recipients))
        total = len(remaining)
        for entry in RULES:
            if not entry.applies(ctx):
                skipped.append(entry.code)
                continue
            applied.append(entry.code)
            refused = entry.check(ctx, remaining) if remaining else {}
            counts[entry.code] = 0
            if not refused:
                continue
            kept = []
            for recipient in remaining:
                reason = refused.get(recipient.contact_id)
                if reason is None:
                    kept.append(recipient)
                else:
                    exclusions.append(Exclusion(recipient.contact_id, recipient.phone, entry.code, reason))
                    counts[entry.code] += 1
            remaining = kept
        if ctx.marketing:
            followers = dict(
                _rows(
                    f"SELECT b.contact_id, f.status FROM {BATCH} b "  # noqa: S608
                    f"JOIN {FollowerStatus._meta.db_table} f ON f.contact_id = b.contact_id "
                    "WHERE f.oa_id = %s AND f.status <> %s",
                    [campaign.oa_id, FollowerStatus.Status.UNKNOWN],
                )
            )
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {BATCH}")
    return Evaluation(ctx, total, remaining, exclusions, counts, applied, skipped, followers)


def applied_rules(campaign: Campaign, now: datetime | None = None) -> list[str]:
    """The codes of the rules `evaluate` checks for the campaign now, in their order."""
    ctx = build_context(campaign, now)
    return [entry.code for entry in RULES if entry.applies(ctx)]


def eligible_phones(campaign: Campaign, now: datetime | None = None) -> list[str]:
    """The sorted phones of the campaign's eligible recipients (the approval hash's audience)."""
    return evaluate(campaign, now).eligible_phones


def follower_split(evaluation: Evaluation) -> dict[str, int]:
    """How many eligible recipients follow the OA (inbox), do not, or are unknown (Business Box)."""
    split = {status: 0 for status in FollowerStatus.Status.values}
    for recipient in evaluation.eligible:
        split[evaluation.followers.get(recipient.contact_id, FollowerStatus.Status.UNKNOWN)] += 1
    return split
