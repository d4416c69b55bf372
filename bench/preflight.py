"""Benchmark: the campaign pre-flight (`campaigns.preflight.run_preflight`) on 100,000 recipients
(target: under 5 s).

Uses its own database (bench_preflight), dropped and created anew. Seeds by COPY a realistic mix for
a marketing (tag 3) ZNS campaign on an OA at 50,000 a day: 100,000 contacts in one list, 80 %
marketing grants then 6 % of them withdrawn (the ledger; current state kept by the trigger), 2,000
on the do-not-contact list, follower statuses (45 % follow, 35 % do not, 20 % unknown), 3 % at
Zalo's 4-a-month cap on this OA, 2 % with 3 marketing messages today across two other OAs (Decree
91's 24-hour cap), 0.1 % landline numbers, 60 days of daily stats (the quota plan and the level
forecast) and one campaign scheduled before on the same OA. Runs the pre-flight 3 times after
ANALYZE and prints the best and the worst, with the figures. Not a test. BENCH_PREFLIGHT_CONTACTS
changes the size.
"""

import json
import os
import random
import sys
import time
from datetime import date, timedelta

import psycopg
from _benchdb import SERVER, setup_django

DATABASE = "bench_preflight"
CONTACTS = int(os.environ.get("BENCH_PREFLIGHT_CONTACTS", "100000"))
TARGET_SECONDS = 5.0


def _fresh_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def _copy(cursor, table: str, columns: tuple[str, ...], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _phone(n: int) -> str:
    # 0.1 % are Hà Nội landlines (84 24…): they pass the column check, not the mobile ranges.
    return f"8424{n:07d}" if n % 1000 == 999 else f"849{n:08d}"


def seed(rng: random.Random):
    from django.db import connection
    from django.utils import timezone

    from audiences.models import ContactList, ContactSource, phone_digest
    from campaigns.models import Campaign, CampaignApproval
    from oas.models import MessageTemplate, OfficialAccount
    from quotas.models import Policy
    from quotas.services.state import create_quota_state
    from zalo_admin.lib.dates import today_in_vietnam

    now = timezone.now()
    today = today_in_vietnam()
    zns = Policy.objects.get(code="zns-2024")
    oa = OfficialAccount.objects.create(name="Bench OA", zalo_oa_id="bench-preflight-oa")
    others = [
        OfficialAccount.objects.create(name=f"Other OA {i}", zalo_oa_id=f"bench-other-{i}") for i in (1, 2)
    ]
    state = create_quota_state(oa, zns, current_limit=50000)
    state.first_marketing_day = date(2026, 1, 5)
    state.save()
    template = MessageTemplate.objects.create(
        oa=oa,
        template_id="990001",
        name="[QC] Ưu đãi cuối năm",
        tag=3,
        params=[
            {"name": "customer_name", "type": "CUSTOMER_NAME", "require": True, "maxLength": 30},
            {"name": "city", "type": "STRING", "require": False, "maxLength": 40},
        ],
        sample_data={"customer_name": "Nguyễn Văn A", "note": "Từ chối nhận tin: soạn TC gửi 8079"},
        price="300",
    )
    source = ContactSource.objects.create(kind="import", label="bench", created_by="system:bench")
    audience = ContactList.objects.create(name="Bench preflight list", created_by="system:bench")
    with connection.cursor() as cursor:
        _copy(
            cursor,
            "audiences_contact",
            ("phone", "name", "attributes", "source_id", "created_at"),
            (
                (_phone(n), f"Khách hàng {n}", json.dumps({"city": f"Thành phố {n % 63}"}), source.pk, now)
                for n in range(CONTACTS)
            ),
        )
        first_id = cursor.execute("SELECT min(id) FROM audiences_contact").fetchone()[0]
        ids = range(first_id, first_id + CONTACTS)
        columns = (
            "contact_id", "purpose", "kind", "occurred_at", "recorded_at", "recorded_by", "source",
            "collector", "wording", "evidence_text", "evidence_file_name", "evidence_sha256", "channel",
        )  # fmt: skip
        granted = [contact_id for contact_id in ids if rng.random() < 0.8]
        grant_at, withdraw_at = now - timedelta(days=100), now - timedelta(days=5)
        _copy(
            cursor,
            "audiences_consentevent",
            columns,
            (
                (cid, "marketing", "granted", grant_at, now, "system:bench", "form", "bench",
                 "Đồng ý nhận tin", "", "", "0" * 64, "")
                for cid in granted
            ),
        )  # fmt: skip
        _copy(
            cursor,
            "audiences_consentevent",
            columns,
            (
                (
                    cid,
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
                for cid in granted
                if rng.random() < 0.06
            ),
        )
        suppressed = rng.sample(range(CONTACTS), min(2000, CONTACTS))
        _copy(
            cursor,
            "audiences_suppression",
            ("phone", "phone_hash", "kind", "reason", "source", "occurred_at", "recorded_by"),
            (
                (_phone(n), phone_digest(_phone(n)), "added", "bench", "manual", now, "system:bench")
                for n in suppressed
            ),
        )

        def followers():
            for contact_id in ids:
                roll = rng.random()
                yield (
                    contact_id,
                    oa.pk,
                    "follows" if roll < 0.45 else "does_not_follow" if roll < 0.8 else "unknown",
                    now,
                )

        _copy(
            cursor, "audiences_followerstatus", ("contact_id", "oa_id", "status", "updated_at"), followers()
        )

        def usage():
            month_day = max(today.replace(day=1), today - timedelta(days=3))
            for n in range(CONTACTS):
                roll = rng.random()
                if roll < 0.03:
                    yield oa.pk, _phone(n), month_day, 4  # Zalo's cap on this OA
                elif roll < 0.05:
                    yield others[0].pk, _phone(n), today, 2  # Decree 91: 3 today across OAs
                    yield others[1].pk, _phone(n), today, 1
                elif roll < 0.25:
                    yield oa.pk, _phone(n), month_day, 1

        _copy(cursor, "quotas_recipientmarketingusage", ("oa_id", "recipient", "day", "count"), usage())
        _copy(
            cursor,
            "quotas_oadailystats",
            ("oa_id", "day", "sent", "bad_reports", "transactional_sent"),
            ((oa.pk, today - timedelta(days=back), 30000, 15, 25000) for back in range(1, 61)),
        )
        _copy(
            cursor,
            "audiences_contactlistmember",
            ("contact_list_id", "contact_id", "added_at", "added_by"),
            ((audience.pk, contact_id, now, "system:bench") for contact_id in ids),
        )
        cursor.execute("ANALYZE")
    ahead = Campaign.objects.create(oa=oa, template=template, name="Scheduled before", status="scheduled")
    CampaignApproval.objects.create(
        campaign=ahead, approver_name="bench", approved_at=now, approval_hash="b" * 64, recipients=20000
    )
    campaign = Campaign.objects.create(
        oa=oa,
        template=template,
        name="Bench campaign",
        mapping={
            "customer_name": {"source": "field", "key": "name", "format": "none"},
            "city": {"source": "attribute", "key": "city", "format": "none"},
        },
        sending_speed_limit_amount=500,
        sending_speed_limit_time_unit="MINUTE",
        sms_failover_enabled=True,
        sms_failover_text="Ưu đãi cho <customer_name>",
        sms_failover_max=5000,
    )
    campaign.audience_lists.set([audience])
    return campaign


def main() -> int:
    _fresh_database()
    setup_django(DATABASE)
    from campaigns.models import Campaign
    from campaigns.preflight import run_preflight

    rng = random.Random(12)
    started = time.monotonic()
    campaign = seed(rng)
    print(f"seeded {CONTACTS:,} recipients in {time.monotonic() - started:.1f} s")
    timings, result = [], None
    for _run in range(3):
        campaign = Campaign.objects.select_related("oa", "template").get(pk=campaign.pk)
        begun = time.monotonic()
        result = run_preflight(campaign)
        timings.append(time.monotonic() - begun)
    print(f"audience {result.total:,}, eligible {result.eligible:,}, excluded {result.excluded:,}")
    for rule in result.rules:
        print(f"  {rule.code:28} {rule.refused:>8,} refused")
    if result.split:
        business_box = result.split["does_not_follow"] + result.split["unknown"]
        print(f"  inbox {result.split['follows']:,}, Business Box {business_box:,}")
    plan = result.plan
    print(
        f"  plan: {plan.days_needed} day(s), finish {plan.finish_at}, share left today "
        f"{plan.marketing_share_remaining}, monthly left {plan.monthly_marketing_remaining}"
    )
    print(f"  cost at most {result.cost.total_at_most:,} VND; warnings: {len(plan.warnings)}")
    best, worst = min(timings), max(timings)
    verdict = "OK" if best < TARGET_SECONDS else "SLOW"
    print(
        f"pre-flight of {CONTACTS:,} recipients: best {best:.2f} s, worst {worst:.2f} s, "
        f"target under {TARGET_SECONDS:.0f} s: {verdict}"
    )
    return 0 if best < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
