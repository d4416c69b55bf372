"""Segments: a small filter language over contacts, stored as JSON, validated, compiled to a Q.

A definition is `{"match": "all" | "any", "rules": [rule, ...]}` (1 to MAX_RULES rules). A rule is
`{"field": ..., "op": ..., <its parameters>}`:

| field             | op                                        | parameters                        |
|-------------------|-------------------------------------------|-----------------------------------|
| `attribute`       | `equals`, `contains`                      | `key`, `value` (text)             |
| `attribute`       | `in`                                      | `key`, `values` (list of texts)   |
| `attribute`       | `is_set`, `is_not_set`                    | `key`                             |
| `consent`         | `granted`, `withdrawn`, `none`            | `purpose`                         |
| `follower`        | `follows`, `does_not_follow`, `unknown`   | `oa` (OA id)                      |
| `last_sent`       | `before`, `after`                         | `date` (YYYY-MM-DD, Vietnam day)  |
| `last_sent`       | `within_days`, `not_within_days`          | `days` (1-3650)                   |
| `last_sent`       | `never`                                   |                                   |
| `last_bad_report` | `within_days`, `not_within_days`, `never` | `days` (not for `never`)          |
| `list`            | `member`, `not_member`                    | `list` (list id)                  |
| `suppression`     | `not_suppressed`, `suppressed`            |                                   |

`before` a day means earlier than its 00:00 in Asia/Ho_Chi_Minh, `after` a day from the next day's
00:00; `not_within_days` includes "never". Consent and do-not-contact come from the trigger-kept
current-state tables (`ContactConsentState`, `SuppressionState`; do-not-contact matched by phone
digest, so an erased then re-imported person is caught), follower status from `FollowerStatus`
("unknown": no row saying follows or does not), last sent / last bad report from the contact's
columns. Each rule is one predicate, one uncorrelated `IN (SELECT …)` (a hash semi-join under AND, a
hashed subplan under OR) or, for the negative ones (no consent record, follower status unknown, not
in the list), a `NOT EXISTS` (an anti-join under AND, a hashed subplan under OR), so a count is one
query.
Attribute `equals` / `in` compile to JSON containment (`@>`) on PostgreSQL, served by the GIN index
of migration 0005; attribute values compare as texts, exactly (contains: case-insensitive).
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Exists, Min, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audiences.models import (
    Contact,
    ContactConsentState,
    ContactList,
    ContactListMember,
    DataRequest,
    FollowerStatus,
    Purpose,
    SuppressionState,
    phone_digest,
)

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_RULES = 20
MAX_VALUES = 100
MAX_DAYS = 3650
KEY_PATTERN = re.compile(r"^[\w .\-]{1,64}$")

FIELDS = {
    "attribute": _("attribute"),
    "consent": _("consent"),
    "follower": _("follower status"),
    "last_sent": _("last sent"),
    "last_bad_report": _("last bad report"),
    "list": _("list"),
    "suppression": _("do-not-contact"),
}
# (field, op) -> its parameters, in order; also the choices of the builder's "condition".
OPERATIONS = {
    ("attribute", "equals"): ("key", "value"),
    ("attribute", "in"): ("key", "values"),
    ("attribute", "contains"): ("key", "value"),
    ("attribute", "is_set"): ("key",),
    ("attribute", "is_not_set"): ("key",),
    ("consent", "granted"): ("purpose",),
    ("consent", "withdrawn"): ("purpose",),
    ("consent", "none"): ("purpose",),
    ("follower", "follows"): ("oa",),
    ("follower", "does_not_follow"): ("oa",),
    ("follower", "unknown"): ("oa",),
    ("last_sent", "before"): ("date",),
    ("last_sent", "after"): ("date",),
    ("last_sent", "within_days"): ("days",),
    ("last_sent", "not_within_days"): ("days",),
    ("last_sent", "never"): (),
    ("last_bad_report", "within_days"): ("days",),
    ("last_bad_report", "not_within_days"): ("days",),
    ("last_bad_report", "never"): (),
    ("list", "member"): ("list",),
    ("list", "not_member"): ("list",),
    ("suppression", "not_suppressed"): (),
    ("suppression", "suppressed"): (),
}
CONDITION_LABELS = {
    ("attribute", "equals"): _("attribute equals"),
    ("attribute", "in"): _("attribute is one of (comma-separated)"),
    ("attribute", "contains"): _("attribute contains"),
    ("attribute", "is_set"): _("attribute is set"),
    ("attribute", "is_not_set"): _("attribute is not set"),
    ("consent", "granted"): _("has current consent for"),
    ("consent", "withdrawn"): _("withdrew consent for"),
    ("consent", "none"): _("has no consent record for"),
    ("follower", "follows"): _("follows the OA"),
    ("follower", "does_not_follow"): _("does not follow the OA"),
    ("follower", "unknown"): _("follower status unknown for the OA"),
    ("last_sent", "before"): _("last sent before the day (YYYY-MM-DD)"),
    ("last_sent", "after"): _("last sent after the day (YYYY-MM-DD)"),
    ("last_sent", "within_days"): _("sent within the last N days"),
    ("last_sent", "not_within_days"): _("not sent within the last N days"),
    ("last_sent", "never"): _("never sent"),
    ("last_bad_report", "within_days"): _("bad report within the last N days"),
    ("last_bad_report", "not_within_days"): _("no bad report within the last N days"),
    ("last_bad_report", "never"): _("never reported a message as bad"),
    ("list", "member"): _("is in the list"),
    ("list", "not_member"): _("is not in the list"),
    ("suppression", "not_suppressed"): _("is not on the do-not-contact list"),
    ("suppression", "suppressed"): _("is on the do-not-contact list"),
}
MATCHES = {"all": _("all filters (AND)"), "any": _("any filter (OR)")}


@dataclass(frozen=True)
class RuleError:
    """One refusal: which rule (1-based; 0 for the definition itself), which part, and why."""

    rule: int
    part: str
    message: str

    def __str__(self):
        if not self.rule:
            return f"{self.part}: {self.message}"
        return str(_("Filter %(number)s, %(part)s: %(message)s")) % {
            "number": self.rule,
            "part": self.part,
            "message": self.message,
        }


class SegmentError(ValueError):
    """A definition that cannot be saved or counted; `errors` names every bad part."""

    def __init__(self, errors: list[RuleError]):
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


def condition_value(field: str, op: str) -> str:
    return f"{field}.{op}"


def condition_choices() -> list[tuple[str, str]]:
    return [(condition_value(*key), str(label)) for key, label in CONDITION_LABELS.items()]


# Validation ----------------------------------------------------------------------------------------


def _text(value, part, number, errors, *, limit=200):
    if not isinstance(value, str) or not value.strip():
        errors.append(RuleError(number, part, str(_("a value is required"))))
        return None
    if len(value) > limit:
        errors.append(RuleError(number, part, str(_("at most %(limit)s characters")) % {"limit": limit}))
        return None
    return value.strip()


def _id(value, part, number, errors, model, label):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        errors.append(RuleError(number, part, str(_("choose one"))))
        return None
    if not model.objects.filter(pk=value).exists():
        errors.append(RuleError(number, part, str(_("no %(what)s #%(id)s")) % {"what": label, "id": value}))
        return None
    return value


def _parameter(name, value, number, errors):
    if name == "key":
        key = _text(value, name, number, errors, limit=64)
        # "__" would be read as a nested path and a number as an array index by the ORM.
        if key is not None and (not KEY_PATTERN.fullmatch(key) or "__" in key or key.isdigit()):
            errors.append(
                RuleError(
                    number,
                    name,
                    str(_("letters, digits, spaces, dots, dashes and single underscores, not only digits")),
                )
            )
            return None
        return key
    if name == "value":
        return _text(value, name, number, errors)
    if name == "values":
        if isinstance(value, str):  # typed in the builder: comma-separated, blanks ignored
            value = [part for part in value.split(",") if part.strip()]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(item, str) and item.strip() for item in value)
        ):
            errors.append(RuleError(number, name, str(_("one or more texts, separated by commas"))))
            return None
        if len(value) > MAX_VALUES:
            errors.append(RuleError(number, name, str(_("at most %(limit)s values")) % {"limit": MAX_VALUES}))
            return None
        return list(dict.fromkeys(item.strip() for item in value))
    if name == "purpose":
        if value not in Purpose.values:
            errors.append(RuleError(number, name, str(_("choose a purpose"))))
            return None
        return value
    if name == "oa":
        from oas.models import OfficialAccount

        return _id(value, name, number, errors, OfficialAccount, "OA")
    if name == "list":
        return _id(value, name, number, errors, ContactList, str(_("list")))
    if name == "date":
        try:
            return date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            errors.append(RuleError(number, name, str(_("a day as YYYY-MM-DD"))))
            return None
    if name == "days":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
            errors.append(
                RuleError(
                    number, name, str(_("a whole number of days from 1 to %(max)s")) % {"max": MAX_DAYS}
                )
            )
            return None
        return value
    raise AssertionError(name)


def validate(definition) -> dict:
    """The cleaned definition (only the parameters each rule takes), or SegmentError naming every
    bad part. Checks that the OAs and lists named exist."""
    errors: list[RuleError] = []
    if not isinstance(definition, dict):
        raise SegmentError([RuleError(0, "definition", str(_("must be an object with match and rules")))])
    unknown = sorted(set(definition) - {"match", "rules"})
    if unknown:
        errors.append(
            RuleError(0, "definition", str(_("unexpected %(keys)s")) % {"keys": ", ".join(unknown)})
        )
    match = definition.get("match", "all")
    if match not in MATCHES:
        errors.append(RuleError(0, "match", str(_("either all or any"))))
    rules = definition.get("rules")
    if not isinstance(rules, list) or not rules:
        errors.append(RuleError(0, "rules", str(_("add at least one filter"))))
        rules = []
    elif len(rules) > MAX_RULES:
        errors.append(RuleError(0, "rules", str(_("at most %(limit)s filters")) % {"limit": MAX_RULES}))
        rules = []
    cleaned_rules = []
    for number, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict):
            errors.append(RuleError(number, "rule", str(_("must be an object"))))
            continue
        key = (rule.get("field"), rule.get("op"))
        if key not in OPERATIONS:
            part = "field" if rule.get("field") not in FIELDS else "op"
            errors.append(
                RuleError(number, part, str(_("unknown condition %(value)s")) % {"value": rule.get(part)})
            )
            continue
        params = OPERATIONS[key]
        extra = sorted(set(rule) - {"field", "op", *params})
        if extra:
            errors.append(
                RuleError(number, "rule", str(_("unexpected %(keys)s")) % {"keys": ", ".join(extra)})
            )
            continue
        cleaned = {"field": key[0], "op": key[1]}
        before = len(errors)
        for name in params:
            cleaned[name] = _parameter(name, rule.get(name), number, errors)
        if len(errors) == before:
            cleaned_rules.append(cleaned)
    if errors:
        raise SegmentError(errors)
    return {"match": match, "rules": cleaned_rules}


# Compilation ---------------------------------------------------------------------------------------


def _day_start(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.min, tzinfo=VIETNAM)


def _attribute_equals(key: str, value: str, prefix: str = "") -> Q:
    if connection.vendor == "postgresql":
        return Q(**{f"{prefix}attributes__contains": {key: value}})  # @>, GIN jsonb_path_ops
    return Q(**{f"{prefix}attributes__{key}": value})


def _time_rule(column: str, op: str, rule: dict, now: datetime) -> Q:
    if op == "never":
        return Q(**{f"{column}__isnull": True})
    if op == "before":
        return Q(**{f"{column}__lt": _day_start(rule["date"])})
    if op == "after":
        return Q(**{f"{column}__gte": _day_start(rule["date"]) + timedelta(days=1)})
    since = now - timedelta(days=rule["days"])
    if op == "within_days":
        return Q(**{f"{column}__gte": since})
    return Q(**{f"{column}__isnull": True}) | Q(**{f"{column}__lt": since})  # not_within_days


def _absent(rows) -> Q:
    """Contacts with no row in `rows` (a queryset with `contact_id`): `NOT EXISTS`, which PostgreSQL
    runs as an anti-join under AND (a `NOT IN` over ~700,000 ids is a hashed subplan probed once per
    contact, and cannot be an anti-join because of NULL semantics)."""
    return ~Q(Exists(rows.filter(contact_id=OuterRef("pk"))))


# An erased person's re-imported contact can be created at most this much before the erasure's
# recorded time and still be looked at (clocks of the app and the database, a late commit).
ERASURE_MARGIN = timedelta(days=1)


def suppressed_contacts() -> Q:
    """Contacts whose phone is on the do-not-contact list now, matched by digest like
    `services.may_send` / `selectors.suppressed_among`.

    A state still holding the plain phone matches by phone (one hashed subplan over the list). A
    state whose phone was blanked by an erasure (`data_requests.erase_person`) can only be matched
    by the digest of a contact's phone: a contact with that phone can only have been created after
    the erasure (the erased contact itself got a pseudonym), so only the contacts created since the
    earliest such erasure are digested (none when nobody on the list was erased)."""
    suppressed = SuppressionState.objects.filter(suppressed=True)
    by_phone = Q(phone__in=suppressed.exclude(phone="").values("phone"))
    matched = erased_digest_matches()
    return (by_phone | Q(pk__in=matched)) if matched else by_phone


def erased_digest_matches() -> list[int]:
    """The contacts (ids) whose phone is on the do-not-contact list only by digest: entries whose
    plain phone an erasure blanked, caught again when the person comes back (see
    `suppressed_contacts`). Usually none; the facts' `suppressed` covers the plain phones."""
    suppressed = SuppressionState.objects.filter(suppressed=True)
    erased = set(suppressed.filter(phone="").values_list("phone_hash", flat=True))
    if not erased:
        return []
    requests = DataRequest.objects.filter(kind=DataRequest.Kind.ERASURE, phone_hash__in=erased)
    since = requests.aggregate(at=Min(Coalesce("completed_at", "received_at")))["at"]
    candidates = Contact.objects.filter(erased_at__isnull=True)
    if since is not None and set(requests.values_list("phone_hash", flat=True)) == erased:
        candidates = candidates.filter(created_at__gte=since - ERASURE_MARGIN)
    return [
        pk for pk, phone in candidates.values_list("pk", "phone").iterator() if phone_digest(phone) in erased
    ]


# Where a compiled rule is evaluated (`compile_rule(..., base=)`):
# - CONTACT: a Q on Contact reading the source tables (consent state, follower statuses, the
#   do-not-contact state) through semi-joins: SQLite, and the reference the facts are tested against;
# - CONTACT_FACTS: a Q on Contact reading consent, follower status and do-not-contact from the
#   contact's `ContactFacts` row (`facts__…`, a join): what the audience's contacts are read with on
#   PostgreSQL;
# - FACTS: a Q on ContactFacts, attributes through `contact__…`: the counts on PostgreSQL, which then
#   read one narrow table unless an attribute rule needs the contact's row.
CONTACT, CONTACT_FACTS, FACTS = "contact", "contact_facts", "facts"
# Rules the facts answer; attribute rules need the contact row, the others are on both.
FACTS_FIELDS = frozenset({"consent", "follower", "suppression"})


def facts_available() -> bool:
    """PostgreSQL keeps `ContactFacts` (migration 0007's triggers); SQLite leaves it empty."""
    return connection.vendor == "postgresql"


def default_base() -> str:
    return CONTACT_FACTS if facts_available() else CONTACT


def _attribute_rule(rule: dict, prefix: str) -> Q:
    key, op = rule["key"], rule["op"]
    if op == "equals":
        return _attribute_equals(key, rule["value"], prefix)
    if op == "in":
        combined = Q()
        for value in rule["values"]:
            combined |= _attribute_equals(key, value, prefix)
        return combined
    if op == "contains":
        return Q(**{f"{prefix}attributes__{key}__icontains": rule["value"]})
    has_key = Q(**{f"{prefix}attributes__has_key": key})
    return has_key if op == "is_set" else ~has_key


def _facts_rule(rule: dict, *, now: datetime, base: str) -> Q:
    """A rule over the facts: `base` FACTS (a Q on ContactFacts) or CONTACT_FACTS (on Contact)."""
    field, op = rule["field"], rule["op"]
    on_facts = base == FACTS
    fact = "" if on_facts else "facts__"  # a ContactFacts column
    own = "contact__" if on_facts else ""  # a Contact column
    pk = "contact_id" if on_facts else "pk"
    if field == "attribute":
        return _attribute_rule(rule, own)
    if field == "consent":
        column = f"{fact}consent_{rule['purpose']}"
        if op == "none":
            return Q(**{f"{column}__isnull": True})
        return Q(**{column: op == "granted"})
    if field == "follower":
        marker = f",{int(rule['oa'])},"
        follows = Q(**{f"{fact}follows__contains": marker})
        does_not = Q(**{f"{fact}does_not_follow__contains": marker})
        return {"follows": follows, "does_not_follow": does_not}.get(op, ~follows & ~does_not)
    if field in ("last_sent", "last_bad_report"):
        return _time_rule(f"{field}_at", op, rule, now)  # a column of both tables
    if field == "list":
        members = ContactListMember.objects.filter(contact_list_id=rule["list"])
        if op == "member":
            return Q(**{f"{pk}__in": members.values("contact_id")})
        return ~Q(Exists(members.filter(contact_id=OuterRef(pk))))
    if field == "suppression":
        suppressed = Q(**{f"{fact}suppressed": True})
        matched = erased_digest_matches()
        if matched:
            suppressed |= Q(**{f"{pk}__in": matched})
        return ~suppressed if op == "not_suppressed" else suppressed
    raise AssertionError(field)


def compile_rule(rule: dict, *, now: datetime, base: str = CONTACT) -> Q:
    if base != CONTACT:
        return _facts_rule(rule, now=now, base=base)
    field, op = rule["field"], rule["op"]
    if field == "attribute":
        return _attribute_rule(rule, "")
    if field == "consent":
        states = ContactConsentState.objects.filter(purpose=rule["purpose"])
        if op == "none":
            return _absent(states)
        return Q(pk__in=states.filter(granted=op == "granted").values("contact_id"))
    if field == "follower":
        rows = FollowerStatus.objects.filter(oa_id=rule["oa"])
        if op == "unknown":
            known = [FollowerStatus.Status.FOLLOWS, FollowerStatus.Status.DOES_NOT_FOLLOW]
            return _absent(rows.filter(status__in=known))
        return Q(pk__in=rows.filter(status=op).values("contact_id"))
    if field == "last_sent":
        return _time_rule("last_sent_at", op, rule, now)
    if field == "last_bad_report":
        return _time_rule("last_bad_report_at", op, rule, now)
    if field == "list":
        members = ContactListMember.objects.filter(contact_list_id=rule["list"])
        if op == "member":
            return Q(pk__in=members.values("contact_id"))
        return _absent(members)
    if field == "suppression":
        suppressed = suppressed_contacts()
        return ~suppressed if op == "not_suppressed" else suppressed
    raise AssertionError(field)


def compile_definition(definition: dict, *, now: datetime | None = None, base: str | None = None) -> Q:
    """The Q of a validated definition (`validate` first: this trusts its input): on Contact, or on
    ContactFacts for `base=FACTS`; `base` defaults to `default_base()`."""
    now = now or timezone.now()
    base = base or default_base()
    compiled = [compile_rule(rule, now=now, base=base) for rule in definition["rules"]]
    combined = compiled[0]
    for part in compiled[1:]:
        combined = (combined | part) if definition.get("match") == "any" else (combined & part)
    return combined


def describe_rule(rule: dict, *, oa_names=None, list_names=None) -> str:
    """One rule in words, for the segment pages."""
    label = str(CONDITION_LABELS[(rule["field"], rule["op"])])
    parts = []
    for name in OPERATIONS[(rule["field"], rule["op"])]:
        value = rule.get(name)
        if name == "purpose":
            value = Purpose(value).label
        elif name == "oa":
            value = (oa_names or {}).get(value, f"#{value}")
        elif name == "list":
            value = (list_names or {}).get(value, f"#{value}")
        elif name == "values":
            value = ", ".join(value)
        parts.append(f"{value}")
    if rule["field"] == "attribute":
        return f"{parts[0]}: {label} {' '.join(parts[1:])}".strip()
    return f"{label} {' '.join(str(part) for part in parts)}".strip()
