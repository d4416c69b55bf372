"""Segments (audiences.segments, audiences.selectors): validation naming the bad part, compiled
filters counted against a brute-force Python count, the trigger-kept current consent and
do-not-contact state against the ledger derivation, and the audience union."""

import json
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from audiences import imports, lists, segments, services
from audiences.data_requests import erase_person
from audiences.models import (
    ConsentEvent,
    Contact,
    ContactConsentState,
    ContactFacts,
    ContactSource,
    FollowerStatus,
    Purpose,
    SuppressionState,
    phone_digest,
)
from audiences.segments import SegmentError, validate
from audiences.selectors import (
    audience_contacts,
    audience_count,
    consent_counts,
    segment_contacts,
    segment_count,
    suppressed_among,
)
from oas.models import OfficialAccount
from providers.jobs import process_webhook_event
from providers.models import WebhookEvent

ACTOR = "system:test"
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
CITIES = ("Hà Nội", "Huế", "Đà Nẵng", "Cần Thơ")
TIERS = ("gold", "silver", "bronze")


@pytest.fixture
def source(db):
    return ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="desk", created_by=ACTOR)


@pytest.fixture
def oa(db):
    return OfficialAccount.objects.create(name="Shop", zalo_oa_id="oa-1")


def _contact(source, n, **attributes):
    return services.create_contact(
        actor=ACTOR, phone=f"8491{n:07d}", source=source, name=f"C{n}", attributes=attributes
    )


def _grant(contact, purpose=Purpose.MARKETING, at=None):
    return services.grant_consent(
        actor=ACTOR,
        contact=contact,
        purpose=purpose,
        source="web",
        collector="staff",
        wording="Đồng ý",
        evidence_text=f"form {contact.pk}",
        occurred_at=at,
    )


def _withdraw(contact, purpose=Purpose.MARKETING, at=None):
    return services.withdraw_consent(
        actor=ACTOR, contact=contact, purpose=purpose, channel="manual", occurred_at=at
    )


def _states():
    return {
        (row.contact_id, row.purpose): (row.granted, row.event_id)
        for row in ContactConsentState.objects.all()
    }


def _ledger_states():
    derived = {}
    for contact in Contact.objects.all():
        for purpose in Purpose.values:
            state = services.current_consent(contact, purpose)
            if state.event is not None:
                derived[(contact.pk, purpose)] = (state.granted, state.event.pk)
    return derived


# Validation ----------------------------------------------------------------------------------------


def _rule(field, op, **params):
    return {"field": field, "op": op, **params}


def test_a_valid_definition_is_cleaned(oa):
    cleaned = validate(
        {
            "rules": [
                _rule("attribute", "in", key="tier", values=[" gold", "silver", "gold"]),
                _rule("follower", "follows", oa=str(oa.pk)),
                _rule("last_sent", "within_days", days="30"),
            ]
        }
    )
    assert cleaned == {
        "match": "all",
        "rules": [
            _rule("attribute", "in", key="tier", values=["gold", "silver"]),
            _rule("follower", "follows", oa=oa.pk),
            _rule("last_sent", "within_days", days=30),
        ],
    }


@pytest.mark.parametrize(
    ("definition", "rule", "part"),
    [
        ([], 0, "definition"),
        ({"rules": []}, 0, "rules"),
        ({"match": "some", "rules": [_rule("suppression", "suppressed")]}, 0, "match"),
        ({"rules": [_rule("suppression", "suppressed")], "extra": 1}, 0, "definition"),
        ({"rules": [_rule("suppression", "suppressed")] * (segments.MAX_RULES + 1)}, 0, "rules"),
        ({"rules": ["consent"]}, 1, "rule"),
        ({"rules": [_rule("colour", "equals")]}, 1, "field"),
        ({"rules": [_rule("attribute", "like", key="a", value="b")]}, 1, "op"),
        ({"rules": [_rule("attribute", "equals", value="b")]}, 1, "key"),
        ({"rules": [_rule("attribute", "equals", key="a__b", value="x")]}, 1, "key"),
        ({"rules": [_rule("attribute", "equals", key="12", value="x")]}, 1, "key"),
        ({"rules": [_rule("attribute", "equals", key="a;drop", value="x")]}, 1, "key"),
        ({"rules": [_rule("attribute", "equals", key="a", value="  ")]}, 1, "value"),
        ({"rules": [_rule("attribute", "in", key="a", values=[])]}, 1, "values"),
        ({"rules": [_rule("attribute", "in", key="a", values=["x", 3])]}, 1, "values"),
        ({"rules": [_rule("attribute", "is_set", key="a", value="x")]}, 1, "rule"),
        ({"rules": [_rule("consent", "granted", purpose="sales")]}, 1, "purpose"),
        ({"rules": [_rule("follower", "follows", oa=999999)]}, 1, "oa"),
        ({"rules": [_rule("follower", "follows", oa=True)]}, 1, "oa"),
        ({"rules": [_rule("last_sent", "before", date="31/01/2026")]}, 1, "date"),
        ({"rules": [_rule("last_sent", "within_days", days=0)]}, 1, "days"),
        ({"rules": [_rule("last_bad_report", "within_days", days=segments.MAX_DAYS + 1)]}, 1, "days"),
        ({"rules": [_rule("list", "member", list=999999)]}, 1, "list"),
        ({"rules": [_rule("suppression", "suppressed"), _rule("list", "member")]}, 2, "list"),
    ],
)
def test_validation_names_the_bad_part(db, definition, rule, part):
    with pytest.raises(SegmentError) as refused:
        validate(definition)
    assert (refused.value.errors[0].rule, refused.value.errors[0].part) == (rule, part)
    if rule:
        assert f"Filter {rule}, {part}:" in str(refused.value)


def test_every_bad_rule_is_named(db):
    with pytest.raises(SegmentError) as refused:
        validate(
            {"rules": [_rule("consent", "granted"), _rule("suppression", "suppressed"), _rule("list", "x")]}
        )
    assert [(error.rule, error.part) for error in refused.value.errors] == [(1, "purpose"), (3, "op")]


def test_a_bad_definition_saves_nothing(db):
    with pytest.raises(SegmentError):
        lists.create_segment(actor=ACTOR, name="Bad", definition={"rules": [_rule("consent", "granted")]})
    from audiences.models import Segment

    assert not Segment.objects.exists()


# Compilation against a brute-force count -----------------------------------------------------------


def _python_match(rule, contact, facts, now) -> bool:
    field, op = rule["field"], rule["op"]
    attributes = contact.attributes
    if field == "attribute":
        value = attributes.get(rule["key"])
        return {
            "equals": lambda: value == rule.get("value"),
            "in": lambda: value in rule.get("values", ()),
            "contains": lambda: isinstance(value, str) and rule.get("value", "").lower() in value.lower(),
            "is_set": lambda: rule["key"] in attributes,
            "is_not_set": lambda: rule["key"] not in attributes,
        }[op]()
    if field == "consent":
        state = services.current_consent(contact, rule["purpose"]).status
        return state == {"granted": "granted", "withdrawn": "withdrawn", "none": "none"}[op]
    if field == "follower":
        status = facts["followers"].get((contact.pk, rule["oa"]), "unknown")
        return status == op if op != "unknown" else status == "unknown"
    if field in ("last_sent", "last_bad_report"):
        at = contact.last_sent_at if field == "last_sent" else contact.last_bad_report_at
        if op == "never":
            return at is None
        if op == "before":
            day = datetime.fromisoformat(rule["date"]).replace(tzinfo=VIETNAM)
            return at is not None and at < day
        if op == "after":
            day = datetime.fromisoformat(rule["date"]).replace(tzinfo=VIETNAM) + timedelta(days=1)
            return at is not None and at >= day
        since = now - timedelta(days=rule["days"])
        if op == "within_days":
            return at is not None and at >= since
        return at is None or at < since
    if field == "list":
        member = (rule["list"], contact.pk) in facts["members"]
        return member if op == "member" else not member
    if field == "suppression":
        suppressed = services.current_suppression(contact.phone) is not None
        return suppressed if op == "suppressed" else not suppressed
    raise AssertionError(field)


def _python_count(definition, facts, now) -> int:
    combine = all if definition["match"] == "all" else any
    return sum(
        1
        for contact in Contact.objects.filter(erased_at__isnull=True)
        if combine(_python_match(rule, contact, facts, now) for rule in definition["rules"])
    )


@pytest.fixture
def population(source, oa):
    """60 contacts with random attributes, consent histories, follower statuses, send and report
    times, list memberships and do-not-contact entries (seeded: the same every run)."""
    rng = random.Random(11)
    now = timezone.now()
    other_oa = OfficialAccount.objects.create(name="Other", zalo_oa_id="oa-2")
    lists_made = [lists.create_list(actor=ACTOR, name=f"L{n}") for n in range(2)]
    followers, members = {}, set()
    for n in range(60):
        attributes = {}
        if rng.random() < 0.8:
            attributes["city"] = rng.choice(CITIES)
        if rng.random() < 0.6:
            attributes["tier"] = rng.choice(TIERS)
        contact = _contact(source, n, **attributes)
        for purpose in Purpose.values:
            for _step in range(rng.randrange(3)):
                at = now - timedelta(days=rng.randrange(1, 50), seconds=rng.randrange(3))
                (_grant if rng.random() < 0.6 else _withdraw)(contact, purpose, at)
        for account in (oa, other_oa):
            roll = rng.random()
            if roll < 0.75:
                status = rng.choice(FollowerStatus.Status.values)
                services.set_follower_status(actor=ACTOR, contact=contact, oa=account, status=status)
                followers[(contact.pk, account.pk)] = status
        fields = {}
        if rng.random() < 0.7:
            fields["last_sent_at"] = now - timedelta(hours=rng.randrange(1, 24 * 60))
        if rng.random() < 0.3:
            fields["last_bad_report_at"] = now - timedelta(hours=rng.randrange(1, 24 * 60))
        Contact.objects.filter(pk=contact.pk).update(**fields)
        for contact_list in lists_made:
            if rng.random() < 0.4:
                lists.add_members(actor=ACTOR, contact_list=contact_list, contact_ids=[contact.pk])
                members.add((contact_list.pk, contact.pk))
        if rng.random() < 0.15:
            services.suppress_phone(actor=ACTOR, phone=contact.phone, reason="asked", source="manual")
            if rng.random() < 0.3:
                services.lift_suppression(actor=ACTOR, phone=contact.phone, reason="asked again")
    erased = Contact.objects.order_by("pk").first()
    erase_person(erased.phone, ACTOR)
    # The erased person comes back (a later import): their do-not-contact entry, whose plain phone
    # the erasure blanked, must still catch them (matched by digest).
    services.suppress_phone(actor=ACTOR, phone="84919999999", reason="asked", source="manual")
    _contact(source, 9999999, city=CITIES[0])
    erase_person("84919999999", ACTOR)
    _contact(source, 9999999, city=CITIES[1])
    return {
        "rng": rng,
        "oas": (oa, other_oa),
        "lists": lists_made,
        "followers": followers,
        "members": members,
    }


def _random_rule(rng, facts, now):
    field, op = rng.choice(list(segments.OPERATIONS))
    rule = {"field": field, "op": op}
    for name in segments.OPERATIONS[(field, op)]:
        rule[name] = {
            "key": lambda: rng.choice(("city", "tier", "missing")),
            "value": lambda: rng.choice((*CITIES, *TIERS, "à", "n", "Gold")),
            "values": lambda: rng.sample((*CITIES, *TIERS), 2),
            "purpose": lambda: rng.choice(Purpose.values),
            "oa": lambda: rng.choice(facts["oas"]).pk,
            "list": lambda: rng.choice(facts["lists"]).pk,
            "date": lambda: (
                (now - timedelta(days=rng.randrange(1, 60))).astimezone(VIETNAM).date().isoformat()
            ),
            "days": lambda: rng.randrange(1, 60),
        }[name]()
    return rule


# The three ways a definition is evaluated: from the source tables, from the contact's facts row
# (joined), and over the facts table alone (the counts on PostgreSQL): each must equal brute force.
BASES = [segments.CONTACT, segments.CONTACT_FACTS, segments.FACTS]


def _count(definition, base) -> int:
    if base == segments.FACTS:
        compiled = segments.compile_definition(definition, base=base)
        return ContactFacts.objects.filter(erased=False).filter(compiled).count()
    return segment_contacts(definition, base=base).count()


@pytest.mark.parametrize("base", BASES)
def test_every_condition_counts_what_a_brute_force_count_finds(population, base):
    rng, now = population["rng"], timezone.now()
    for (field, op), _params in segments.OPERATIONS.items():
        for _attempt in range(3):
            rule = _random_rule(rng, population, now)
            while (rule["field"], rule["op"]) != (field, op):
                rule = _random_rule(rng, population, now)
            definition = validate({"rules": [rule]})
            got = _count(definition, base)
            assert got == _python_count(definition, population, now), rule


@pytest.mark.parametrize("base", BASES)
def test_random_combinations_count_what_a_brute_force_count_finds(population, base):
    rng = population["rng"]
    checked = nonzero = 0
    for _attempt in range(60):
        now = timezone.now()
        definition = validate(
            {
                "match": rng.choice(("all", "any")),
                "rules": [_random_rule(rng, population, now) for _ in range(rng.randrange(1, 4))],
            }
        )
        expected = _python_count(definition, population, now)
        assert _count(definition, base) == expected, definition
        checked += 1
        nonzero += expected > 0
    assert checked == 60 and nonzero > 20  # the cases are not all empty


def test_attribute_values_compare_exactly_and_contains_ignores_case(source):
    _contact(source, 1, city="Hà Nội", code="5")
    _contact(source, 2, city="hà nội")
    _contact(source, 3)
    count = lambda rule: segment_contacts(validate({"rules": [rule]})).count()  # noqa: E731
    assert count(_rule("attribute", "equals", key="city", value="Hà Nội")) == 1
    assert count(_rule("attribute", "contains", key="city", value="HÀ")) == 2
    assert count(_rule("attribute", "contains", key="city", value="%")) == 0
    assert count(_rule("attribute", "in", key="city", values=["Hà Nội", "hà nội"])) == 2
    assert count(_rule("attribute", "equals", key="code", value="5")) == 1
    assert count(_rule("attribute", "is_not_set", key="city")) == 1


def test_last_sent_days_are_vietnam_days(source):
    contact = _contact(source, 1)
    # 23:30 Vietnam time on 2026-03-09 is 16:30 UTC the same day.
    Contact.objects.filter(pk=contact.pk).update(last_sent_at=datetime(2026, 3, 9, 23, 30, tzinfo=VIETNAM))
    count = lambda op, day: segment_contacts(validate({"rules": [_rule("last_sent", op, date=day)]})).count()  # noqa: E731
    assert count("before", "2026-03-10") == 1
    assert count("before", "2026-03-09") == 0
    assert count("after", "2026-03-08") == 1
    assert count("after", "2026-03-09") == 0


# The current-state tables against the ledger -------------------------------------------------------


def test_the_consent_state_equals_the_ledger_after_grants_withdrawals_and_imports(source, tmp_path, settings):
    settings.CONTACT_IMPORT_DIR = tmp_path / "imports"
    rng = random.Random(5)
    now = timezone.now()
    contacts = [_contact(source, n) for n in range(12)]
    same_instant = now - timedelta(days=3)
    _grant(contacts[0], at=same_instant)
    _withdraw(contacts[0], at=same_instant)  # the same instant: the withdrawal wins
    _grant(contacts[0], at=same_instant)  # a later row at that instant does not win over it
    _withdraw(contacts[1], at=now - timedelta(days=1))
    _grant(contacts[1], at=now - timedelta(days=5))  # back-dated: older than the withdrawal
    for contact in contacts[2:]:
        for _step in range(rng.randrange(1, 5)):
            at = now - timedelta(days=rng.randrange(1, 30))
            (_grant if rng.random() < 0.5 else _withdraw)(contact, rng.choice(Purpose.values), at)
    assert _states() == _ledger_states()
    assert _states()[(contacts[0].pk, Purpose.MARKETING)][0] is False
    assert _states()[(contacts[1].pk, Purpose.MARKETING)][0] is False

    csv = "phone,name\n" + "".join(f"{c.phone[2:].rjust(10, '0')},N\n" for c in contacts) + "0987654321,New\n"
    path = tmp_path / "c.csv"
    path.write_text(csv, encoding="utf-8")
    item = imports.create_import(actor=ACTOR, uploaded_file=path)
    item = imports.map_columns(
        item,
        actor=ACTOR,
        phone="phone",
        name="name",
        consent_purpose=Purpose.MARKETING,
        consent_collector="staff",
        consent_wording="Đồng ý",
        consent_evidence_text="signed forms",
    )
    imports.run_import(item.pk)
    item.refresh_from_db()
    assert item.status == "done" and item.consents_granted > 0
    assert _states() == _ledger_states()
    new = Contact.objects.get(phone="84987654321")
    assert ContactConsentState.objects.get(contact=new, purpose=Purpose.MARKETING).granted


def test_the_consent_state_follows_raw_sql_inserts_too(source):
    contact = _contact(source, 1)
    event = _grant(contact, at=timezone.now() - timedelta(days=2))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audiences_consentevent (contact_id, purpose, kind, occurred_at, recorded_at,"
            " recorded_by, source, collector, wording, evidence_text, evidence_file_name,"
            " evidence_sha256, channel)"
            " VALUES (%s, 'marketing', 'withdrawn', %s, %s, 'system:test', '', '', '', '', '', '', 'manual')",
            [contact.pk, timezone.now() - timedelta(days=1), timezone.now()],
        )
    state = ContactConsentState.objects.get(contact=contact, purpose=Purpose.MARKETING)
    assert state.granted is False and state.event_id != event.pk
    assert _states() == _ledger_states()


def test_an_erased_then_reimported_person_is_still_on_the_do_not_contact_list(source):
    kept = _contact(source, 1)
    _contact(source, 2)
    erase_person(kept.phone, ACTOR)
    back = _contact(source, 1, city="Huế")  # the same number, imported again after the erasure
    assert SuppressionState.objects.get(phone_hash=phone_digest(back.phone)).phone == ""
    suppressed = validate({"rules": [_rule("suppression", "suppressed")]})
    assert list(segment_contacts(suppressed).values_list("pk", flat=True)) == [back.pk]
    not_suppressed = validate({"rules": [_rule("suppression", "not_suppressed")]})
    assert segment_contacts(not_suppressed).count() == 1
    mixed = validate(
        {"match": "any", "rules": [_rule("suppression", "suppressed"), _rule("attribute", "is_set", key="x")]}
    )
    assert segment_contacts(mixed).count() == 1


def test_consent_counts_equal_the_ledger(population):
    derived = {purpose: {"granted": 0, "withdrawn": 0} for purpose in Purpose.values}
    for contact in Contact.objects.all():  # erased contacts too: their ledger stays
        for purpose in Purpose.values:
            status = services.current_consent(contact, purpose).status
            if status in ("granted", "withdrawn"):
                derived[purpose][status] += 1
    got = {row.purpose: {"granted": row.granted, "withdrawn": row.withdrawn} for row in consent_counts()}
    assert got == derived
    assert sum(counts["granted"] for counts in got.values()) > 10


def _suppression_states():
    return {row.phone_hash: row.suppression_id for row in SuppressionState.objects.filter(suppressed=True)}


def test_the_do_not_contact_state_equals_the_ledger_after_adds_lifts_and_erasure(source):
    phones = [f"8498{n:07d}" for n in range(6)]
    _contact(source, 99)  # a contact whose number is never suppressed
    contact = services.create_contact(actor=ACTOR, phone=phones[0], source=source)
    for phone in phones:
        services.suppress_phone(actor=ACTOR, phone=phone, reason="asked", source="manual")
    services.lift_suppression(actor=ACTOR, phone=phones[1], reason="came back")
    services.lift_suppression(actor=ACTOR, phone=phones[2], reason="came back")
    services.suppress_phone(actor=ACTOR, phone=phones[2], reason="asked again", source="manual")
    erase_person(phones[0], ACTOR)
    expected = {
        phone_digest(phone): services.current_suppression(phone).pk
        for phone in phones
        if services.current_suppression(phone) is not None
    }
    assert _suppression_states() == expected
    assert phone_digest(phones[1]) not in expected
    erased_state = SuppressionState.objects.get(phone_hash=phone_digest(phones[0]))
    assert erased_state.phone == "" and erased_state.suppressed  # no plain phone kept after erasure
    contact.refresh_from_db()
    assert contact.erased_at is not None
    assert suppressed_among([*phones, "84912000099"]) == {
        phones[0],
        phones[2],
        phones[3],
        phones[4],
        phones[5],
    }


# The audience: lists and segments, deduplicated ----------------------------------------------------


def test_the_audience_is_the_union_each_contact_once_never_erased(source, oa):
    contacts = [_contact(source, n, city="Huế" if n % 2 else "Hà Nội") for n in range(6)]
    first = lists.create_list(actor=ACTOR, name="First")
    second = lists.create_list(actor=ACTOR, name="Second")
    lists.add_members(actor=ACTOR, contact_list=first, contact_ids=[c.pk for c in contacts[:3]])
    lists.add_members(actor=ACTOR, contact_list=second, contact_ids=[c.pk for c in contacts[2:4]])
    segment = lists.create_segment(
        actor=ACTOR, name="Huế", definition={"rules": [_rule("attribute", "equals", key="city", value="Huế")]}
    )
    assert audience_count(list_ids=[first.pk]) == 3
    assert audience_count(list_ids=[first.pk, second.pk]) == 4
    union = audience_contacts(list_ids=[first.pk, second.pk], segment_ids=[segment.pk])
    assert sorted(union.values_list("pk", flat=True)) == sorted(c.pk for c in [*contacts[:4], contacts[5]])
    assert audience_count(list_ids=[first.pk, second.pk], segment_ids=[segment.pk]) == 5
    erase_person(contacts[1].phone, ACTOR)
    assert audience_count(list_ids=[first.pk, second.pk], segment_ids=[segment.pk]) == 4
    assert audience_count() == 0
    with pytest.raises(ValueError, match="segment #999999"):
        audience_contacts(segment_ids=[999999])


# Last sent and last bad report ---------------------------------------------------------------------


def test_record_contact_sent_and_bad_report_only_move_forward(source):
    contacts = [_contact(source, n) for n in range(3)]
    now = timezone.now()
    assert services.record_contact_sent([c.phone for c in contacts[:2]], now) == 2
    assert services.record_contact_sent([contacts[0].phone], now - timedelta(days=1)) == 0
    assert services.record_contact_bad_report(contacts[0].phone, now) == 1
    assert services.record_contact_bad_report(contacts[0].phone, now - timedelta(hours=1)) == 0
    with pytest.raises(ValueError):
        services.record_contact_sent(["0912345678"], now)
    rows = {c.pk: (c.last_sent_at, c.last_bad_report_at) for c in Contact.objects.all()}
    assert rows[contacts[0].pk] == (now, now)
    assert rows[contacts[2].pk] == (None, None)


def _webhook(oa, provider, name, payload, key):
    return WebhookEvent.objects.create(
        provider=provider, oa=oa, event_name=name, unique_key=key, raw_body=json.dumps(payload)
    )


def test_a_bad_report_feedback_sets_last_bad_report(source, oa):
    contact = services.create_contact(actor=ACTOR, phone="84912345678", source=source)
    rating = {
        "results": [
            {
                "sender": "0912345678",
                "message": {"type": "USER_FEEDBACK", "rate": 5, "note": "Tốt", "feedbacks": ["Nhanh"]},
            }
        ]
    }
    assert (
        process_webhook_event(_webhook(oa, "infobip", "infobip_inbound_message", rating, "i1").pk)
        == "processed"
    )
    contact.refresh_from_db()
    assert contact.last_bad_report_at is None  # a good rating is no bad report
    report = {
        "results": [
            {
                "sender": "0912345678",
                "message": {"type": "USER_FEEDBACK", "rate": 1, "note": "xấu", "feedbacks": ["spam"]},
            }
        ]
    }
    assert (
        process_webhook_event(_webhook(oa, "infobip", "infobip_inbound_message", report, "i2").pk)
        == "processed"
    )
    contact.refresh_from_db()
    assert contact.last_bad_report_at is not None
    zalo = {
        "event_name": "user_feedback",
        "recipient": {"id": "84912345678"},
        "message": {"rating_type": "report", "option": "bad_report", "rate": 1, "msg_id": "m1"},
    }
    before = contact.last_bad_report_at
    assert process_webhook_event(_webhook(oa, "zalo", "user_feedback", zalo, "z1").pk) == "processed"
    contact.refresh_from_db()
    assert contact.last_bad_report_at >= before
    assert not ConsentEvent.objects.filter(contact=contact).exists()  # a report is not an opt-out


# The facts table against its sources ---------------------------------------------------------------


def _derived_facts():
    """Each contact's facts as the ledgers and tables say them (the reference for ContactFacts)."""
    followers = {}
    for row in FollowerStatus.objects.all():
        followers.setdefault(row.contact_id, {}).setdefault(row.status, []).append(row.oa_id)

    def listed(contact_id, status):
        oas = sorted(followers.get(contact_id, {}).get(status, []))
        return f",{','.join(map(str, oas))}," if oas else ""

    derived = {}
    for contact in Contact.objects.all():
        consent = {}
        for purpose in Purpose.values:
            status = services.current_consent(contact, purpose).status
            consent[purpose] = {"granted": True, "withdrawn": False}.get(status)
        suppression = None if contact.erased_at else services.current_suppression(contact.phone)
        derived[contact.pk] = (
            contact.erased_at is not None,
            suppression is not None and suppression.phone != "",  # by plain phone (digests: Python)
            consent["transactional"],
            consent["customer_care"],
            consent["marketing"],
            listed(contact.pk, "follows"),
            listed(contact.pk, "does_not_follow"),
            contact.last_sent_at,
            contact.last_bad_report_at,
        )
    return derived


def _facts():
    return {
        row.contact_id: (
            row.erased,
            row.suppressed,
            row.consent_transactional,
            row.consent_customer_care,
            row.consent_marketing,
            row.follows,
            row.does_not_follow,
            row.last_sent_at,
            row.last_bad_report_at,
        )
        for row in ContactFacts.objects.all()
    }


needs_facts = pytest.mark.skipif(not segments.facts_available(), reason="facts are kept on PostgreSQL")


@needs_facts
def test_the_facts_equal_their_sources_after_every_kind_of_change(population, source, tmp_path, settings):
    assert _facts() == _derived_facts()
    oa, other_oa = population["oas"]
    contacts = list(Contact.objects.filter(erased_at__isnull=True).order_by("pk")[:12])
    now = timezone.now()
    # Withdrawal and a grant after it; a back-dated grant that does not win.
    _withdraw(contacts[0])
    _grant(contacts[1], purpose=Purpose.CUSTOMER_CARE)
    _grant(contacts[2], at=now - timedelta(days=400))
    # Suppression, lift, suppression by opt-out (which also withdraws marketing).
    services.suppress_phone(actor=ACTOR, phone=contacts[3].phone, reason="asked", source="manual")
    services.suppress_phone(actor=ACTOR, phone=contacts[4].phone, reason="asked", source="manual")
    services.lift_suppression(actor=ACTOR, phone=contacts[4].phone, reason="came back")
    services.record_opt_out(
        actor=ACTOR, phone=contacts[5].phone, channel="opt_out_reply", source="opt_out_reply", reason="STOP"
    )
    # Follow, unfollow, a row removed.
    services.set_follower_status(actor=ACTOR, contact=contacts[6], oa=oa, status="follows")
    services.set_follower_status(actor=ACTOR, contact=contacts[6], oa=other_oa, status="follows")
    services.set_follower_status(actor=ACTOR, contact=contacts[6], oa=oa, status="does_not_follow")
    FollowerStatus.objects.filter(contact=contacts[7]).delete()
    # Sends and bad reports; erasure (and a phone put on the list before the person is created).
    services.record_contact_sent([c.phone for c in contacts[8:10]], now)
    services.record_contact_bad_report(contacts[9].phone, now)
    erase_person(contacts[10].phone, ACTOR)
    services.suppress_phone(actor=ACTOR, phone="84917777777", reason="asked", source="manual")
    created = _contact(source, 7777777)
    assert ContactFacts.objects.get(contact=created).suppressed
    assert _facts() == _derived_facts()

    # An import: new and existing contacts, a consent basis, one contact whose withdrawal holds.
    settings.CONTACT_IMPORT_DIR = tmp_path / "imports"
    rows = [f"0{c.phone[2:]},N" for c in contacts[:6]] + ["0987654321,New", "0917777777,Back"]
    path = tmp_path / "c.csv"
    path.write_text("phone,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    item = imports.create_import(actor=ACTOR, uploaded_file=path)
    item = imports.map_columns(
        item,
        actor=ACTOR,
        phone="phone",
        name="name",
        consent_purpose=Purpose.MARKETING,
        consent_collector="staff",
        consent_wording="Đồng ý",
        consent_evidence_text="signed forms",
    )
    imports.run_import(item.pk)
    item.refresh_from_db()
    assert item.status == "done"
    assert _facts() == _derived_facts()
    new = ContactFacts.objects.get(contact__phone="84987654321")
    assert new.consent_marketing is True and not new.suppressed and new.follows == ""
    assert ContactFacts.objects.get(contact=contacts[0]).consent_marketing is False  # withdrawal holds


@needs_facts
def test_counts_over_the_facts_follow_withdrawal_suppression_follow_and_erasure(population):
    oa = population["oas"][0]
    definition = validate(
        {
            "rules": [
                _rule("consent", "granted", purpose="marketing"),
                _rule("follower", "follows", oa=oa.pk),
                _rule("suppression", "not_suppressed"),
            ]
        }
    )
    segment = lists.create_segment(actor=ACTOR, name="Reachable", definition=definition)
    now = timezone.now()

    def check():
        expected = _python_count(definition, population, now)
        assert segment_count(definition) == expected
        assert audience_count(segment_ids=[segment.pk]) == expected
        assert audience_count(segment_ids=[segment.pk], base=segments.CONTACT) == expected
        union = audience_count(list_ids=[population["lists"][0].pk], segment_ids=[segment.pk])
        assert union == audience_count(
            list_ids=[population["lists"][0].pk], segment_ids=[segment.pk], base=segments.CONTACT
        )
        return expected

    before = check()
    reachable = list(segment_contacts(definition).order_by("pk"))
    assert len(reachable) >= 3, "the population should give a few reachable contacts"
    _withdraw(reachable[0])
    services.suppress_phone(actor=ACTOR, phone=reachable[1].phone, reason="asked", source="manual")
    services.set_follower_status(actor=ACTOR, contact=reachable[2], oa=oa, status="does_not_follow")
    population["followers"][(reachable[2].pk, oa.pk)] = "does_not_follow"
    assert check() == before - 3
    erase_person(reachable[0].phone, ACTOR)  # already not counted: erasure changes nothing here
    assert check() == before - 3
    services.set_follower_status(actor=ACTOR, contact=reachable[2], oa=oa, status="follows")
    population["followers"][(reachable[2].pk, oa.pk)] = "follows"
    assert check() == before - 2
