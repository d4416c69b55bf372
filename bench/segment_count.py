"""Benchmark: segment and audience counts (`audiences.selectors.audience_count`) on 1,000,000
contacts (target: each count well under 1 s).

Uses its own database (bench_segments, or BENCH_SEGMENT_DATABASE), dropped and created anew.
Seeds by COPY: contacts with two attributes (city of 63, tier of 4) and last sent / last bad
report times, 70 % marketing grants then 5 % withdrawals written to the consent ledger (the
current-state table and the contact facts are kept by the migrations' triggers: the COPY times
are printed), follower statuses for one OA (40 % follow, 30 % do
not, 30 % unknown), 5,000 do-not-contact entries and two overlapping lists (100,000 and 50,000).
Each count is run 3 times after ANALYZE; the best and the worst are printed, with the load average.
Counts whose segment reads consent, follower status or do-not-contact read the per-contact facts
(`ContactFacts`, kept by the seeding's own triggers). Not a test.
BENCH_SEGMENT_CONTACTS changes the size.
"""

import json
import os
import random
import sys
import time
from datetime import timedelta

import psycopg
from _benchdb import SERVER, setup_django

DATABASE = os.environ.get("BENCH_SEGMENT_DATABASE", "bench_segments")
CONTACTS = int(os.environ.get("BENCH_SEGMENT_CONTACTS", "1000000"))
TARGET_SECONDS = 1.0
TIERS = ("gold", "silver", "bronze", "basic")


def _fresh_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def _copy(cursor, table: str, columns: tuple[str, ...], rows) -> float:
    started = time.monotonic()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    return time.monotonic() - started


def seed(rng: random.Random) -> dict:
    from django.db import connection
    from django.utils import timezone

    from audiences.models import ContactList, ContactSource, phone_digest
    from oas.models import OfficialAccount

    now = timezone.now()
    source = ContactSource.objects.create(kind="import", label="bench", created_by="system:bench")
    oa = OfficialAccount.objects.create(name="Bench OA", zalo_oa_id="bench-oa")
    lists = [
        ContactList.objects.create(name="Bench list A", created_by="system:bench"),
        ContactList.objects.create(name="Bench list B", created_by="system:bench"),
    ]
    figures = {}

    def contacts():
        for n in range(CONTACTS):
            sent = now - timedelta(minutes=rng.randrange(90 * 24 * 60)) if rng.random() < 0.6 else None
            bad = now - timedelta(days=rng.randrange(60)) if rng.random() < 0.01 else None
            attributes = {"city": f"Thành phố {n % 63}", "tier": TIERS[n % 4]}
            yield (f"849{n:08d}", f"Khách hàng {n}", json.dumps(attributes), source.pk, now, sent, bad)

    grant_at = now - timedelta(days=100)
    withdraw_at = now - timedelta(days=10)
    with connection.cursor() as cursor:
        figures["COPY contacts"] = _copy(
            cursor,
            "audiences_contact",
            ("phone", "name", "attributes", "source_id", "created_at", "last_sent_at", "last_bad_report_at"),
            contacts(),
        )
        first_id = cursor.execute("SELECT min(id) FROM audiences_contact").fetchone()[0]
        ids = range(first_id, first_id + CONTACTS)
        granted = [contact_id for contact_id in ids if rng.random() < 0.7]
        grant_rows = (
            (
                contact_id,
                "marketing",
                "granted",
                grant_at,
                now,
                "system:bench",
                "bench form",
                "bench",
                "Đồng ý nhận tin",
                "",
                "",
                "0" * 64,
                "",
            )
            for contact_id in granted
        )
        columns = (
            "contact_id",
            "purpose",
            "kind",
            "occurred_at",
            "recorded_at",
            "recorded_by",
            "source",
            "collector",
            "wording",
            "evidence_text",
            "evidence_file_name",
            "evidence_sha256",
            "channel",
        )
        figures[f"COPY {len(granted):,} grants (ledger + trigger)"] = _copy(
            cursor, "audiences_consentevent", columns, grant_rows
        )
        withdrawn = [contact_id for contact_id in granted if rng.random() < 0.07]
        withdraw_rows = (
            (
                contact_id,
                "marketing",
                "withdrawn",
                withdraw_at,
                now,
                "system:bench",
                "",
                "",
                "",
                "",
                "",
                "",
                "manual",
            )
            for contact_id in withdrawn
        )
        figures[f"COPY {len(withdrawn):,} withdrawals (ledger + trigger)"] = _copy(
            cursor, "audiences_consentevent", columns, withdraw_rows
        )

        def followers():
            for contact_id in ids:
                roll = rng.random()
                status = "follows" if roll < 0.4 else "does_not_follow" if roll < 0.7 else "unknown"
                yield contact_id, oa.pk, status, now

        figures["COPY follower statuses"] = _copy(
            cursor, "audiences_followerstatus", ("contact_id", "oa_id", "status", "updated_at"), followers()
        )
        suppressed = rng.sample(range(CONTACTS), min(5000, CONTACTS))
        suppression_rows = (
            (f"849{n:08d}", phone_digest(f"849{n:08d}"), "added", "bench", "manual", now, "system:bench")
            for n in suppressed
        )
        figures["COPY 5,000 do-not-contact entries (ledger + trigger)"] = _copy(
            cursor,
            "audiences_suppression",
            ("phone", "phone_hash", "kind", "reason", "source", "occurred_at", "recorded_by"),
            suppression_rows,
        )
        members = [(lists[0].pk, contact_id) for contact_id in ids[: min(100000, CONTACTS)]]
        members += [(lists[1].pk, contact_id) for contact_id in ids[CONTACTS // 2 : CONTACTS // 2 + 50000]]
        members += [(lists[1].pk, contact_id) for contact_id in ids[:1000]]  # overlap with list A
        _copy(
            cursor,
            "audiences_contactlistmember",
            ("contact_list_id", "contact_id", "added_at", "added_by"),
            ((list_id, contact_id, now, "system:bench") for list_id, contact_id in members),
        )
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load
    return {"oa": oa, "lists": lists, "figures": figures}


def segments(oa, lists) -> list[tuple[str, dict | None, list]]:
    def rule(field, op, **params):
        return {"field": field, "op": op, **params}

    return [
        (
            "attribute equals (city)",
            {"rules": [rule("attribute", "equals", key="city", value="Thành phố 7")]},
            [],
        ),
        (
            "attribute in (tier gold, silver)",
            {"rules": [rule("attribute", "in", key="tier", values=["gold", "silver"])]},
            [],
        ),
        (
            "attribute contains (city '1')",
            {"rules": [rule("attribute", "contains", key="city", value="1")]},
            [],
        ),
        ("attribute is set (tier)", {"rules": [rule("attribute", "is_set", key="tier")]}, []),
        (
            "marketing consent + follows OA + not suppressed",
            {
                "rules": [
                    rule("consent", "granted", purpose="marketing"),
                    rule("follower", "follows", oa=oa.pk),
                    rule("suppression", "not_suppressed"),
                ]
            },
            [],
        ),
        ("consent withdrawn", {"rules": [rule("consent", "withdrawn", purpose="marketing")]}, []),
        ("follower status unknown", {"rules": [rule("follower", "unknown", oa=oa.pk)]}, []),
        (
            "not sent within 30 days (or never)",
            {"rules": [rule("last_sent", "not_within_days", days=30)]},
            [],
        ),
        (
            "sent within 7 days, never a bad report",
            {"rules": [rule("last_sent", "within_days", days=7), rule("last_bad_report", "never")]},
            [],
        ),
        (
            "city equals + consent granted + sent before a day",
            {
                "rules": [
                    rule("attribute", "equals", key="city", value="Thành phố 7"),
                    rule("consent", "granted", purpose="marketing"),
                    rule("last_sent", "before", date=(time_now() - timedelta(days=20)).date().isoformat()),
                ]
            },
            [],
        ),
        ("union of two lists (deduplicated)", None, [lists[0].pk, lists[1].pk]),
        (
            "union: two lists + consent/follower segment",
            {
                "rules": [
                    rule("consent", "granted", purpose="marketing"),
                    rule("follower", "follows", oa=oa.pk),
                ]
            },
            [lists[0].pk, lists[1].pk],
        ),
    ]


def time_now():
    from django.utils import timezone

    return timezone.now()


def _reuse():
    """BENCH_SEGMENT_REUSE=1: count again on the database a previous run seeded."""
    from audiences.models import ContactList, Segment
    from oas.models import OfficialAccount

    Segment.objects.filter(name__startswith="bench ").delete()
    lists = list(ContactList.objects.filter(name__startswith="Bench list").order_by("name"))
    return {"oa": OfficialAccount.objects.get(zalo_oa_id="bench-oa"), "lists": lists, "figures": {}}


def main() -> int:
    reuse = os.environ.get("BENCH_SEGMENT_REUSE") == "1"
    if not reuse:
        _fresh_database()
    setup_django(DATABASE)
    from audiences.lists import create_segment
    from audiences.selectors import audience_count

    rng = random.Random(13)
    started = time.monotonic()
    seeded = _reuse() if reuse else seed(rng)
    print(f"seeded {CONTACTS:,} contacts in {time.monotonic() - started:.1f} s", flush=True)
    for label, seconds in seeded["figures"].items():
        print(f"  {label}: {seconds:.1f} s", flush=True)
    slowest = 0.0
    for number, (label, definition, list_ids) in enumerate(segments(seeded["oa"], seeded["lists"]), start=1):
        segment_ids = []
        if definition is not None:
            segment_ids = [
                create_segment(actor="system:bench", name=f"bench {number}", definition=definition).pk
            ]
        timings = []
        for _run in range(3):
            begun = time.monotonic()
            count = audience_count(list_ids=list_ids, segment_ids=segment_ids)
            timings.append(time.monotonic() - begun)
        slowest = max(slowest, min(timings))
        print(
            f"{label:52} {count:>9,} contacts  "
            f"best {min(timings) * 1000:6.0f} ms  worst {max(timings) * 1000:6.0f} ms  "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    verdict = "OK" if slowest < TARGET_SECONDS else "SLOW"
    print(
        f"slowest count (best of 3): {slowest * 1000:.0f} ms, "
        f"target under {TARGET_SECONDS * 1000:.0f} ms: {verdict}"
    )
    return 0 if slowest < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
