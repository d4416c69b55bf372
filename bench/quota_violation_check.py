"""Benchmark: the hourly automatic-violation check over 1,000 OAs with 30 days of rollups (target < 1 s).

Uses its own database (bench_quotas), created and migrated here. Prints figures; not a test.
"""

import time
from datetime import timedelta

from _benchdb import setup_django

OAS = 1000
DAYS = 30
TARGET_SECONDS = 1.0


def seed(today) -> None:
    """1,000 OAs on both policies, 30 days of daily and hourly rollups; a tenth over the threshold today."""
    from django.db import connection

    from oas.models import OfficialAccount
    from quotas.models import AutomaticViolation, LevelChange, OAQuotaState, Policy, QualityAlert

    AutomaticViolation.objects.all().delete()
    QualityAlert.objects.all().delete()
    LevelChange.objects.all().delete()
    if OfficialAccount.objects.filter(zalo_oa_id__startswith="bench-").count() != OAS:
        OfficialAccount.objects.filter(zalo_oa_id__startswith="bench-").delete()
        OfficialAccount.objects.bulk_create(
            OfficialAccount(name=f"Bench OA {i:04d}", zalo_oa_id=f"bench-{i:04d}") for i in range(OAS)
        )
    accounts = list(OfficialAccount.objects.filter(zalo_oa_id__startswith="bench-").order_by("pk"))
    policies = list(Policy.objects.order_by("code"))
    OAQuotaState.objects.filter(oa__in=accounts).delete()
    OAQuotaState.objects.bulk_create(
        OAQuotaState(oa=oa, policy=policies[i % 2], current_limit=policies[i % 2].starting_level)
        for i, oa in enumerate(accounts)
    )
    ids = [oa.pk for oa in accounts]
    start = today - timedelta(days=DAYS - 1)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM quotas_oadailystats WHERE oa_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM quotas_oahourlystats WHERE oa_id = ANY(%s)", [ids])
        # Every OA sends in every hour of every day; one in ten gets 20 bad reports an hour today
        # (over 2 % of its limit within the day), the rest one report every other hour.
        cursor.execute(
            """
            INSERT INTO quotas_oahourlystats (oa_id, day, hour, sent, bad_reports)
            SELECT oa_id, d::date, h, 150,
                   CASE WHEN d::date = %(today)s AND oa_id %% 10 = 0 THEN 20 ELSE (oa_id + h) %% 2 END
            FROM unnest(%(ids)s::bigint[]) AS oa_id,
                 generate_series(%(start)s::date, %(today)s::date, interval '1 day') AS d,
                 generate_series(0, 23) AS h
            """,
            {"ids": ids, "start": start, "today": today},
        )
        cursor.execute(
            """
            INSERT INTO quotas_oadailystats (oa_id, day, sent, bad_reports, transactional_sent)
            SELECT oa_id, day, SUM(sent), SUM(bad_reports), SUM(sent)
            FROM quotas_oahourlystats WHERE oa_id = ANY(%s) GROUP BY oa_id, day
            """,
            [ids],
        )


def main() -> None:
    setup_django()
    from quotas.models import AutomaticViolation, OAHourlyStats
    from quotas.services import levels
    from zalo_admin.lib.dates import today_in_vietnam, vietnam_midnight

    today = today_in_vietnam() - timedelta(days=1)
    started = time.perf_counter()
    seed(today)
    print(
        f"seeded {OAS} OAs x {DAYS} days ({OAHourlyStats.objects.count():,} hourly rows) "
        f"in {time.perf_counter() - started:.1f}s"
    )
    # The end of hour 23 of `today` (00:00 the next Vietnam day): the whole day's reports count.
    at = vietnam_midnight(today + timedelta(days=1))
    timings = []
    for run in range(3):
        started = time.perf_counter()
        violations = levels.run_violation_checks(at)
        timings.append(time.perf_counter() - started)
        print(f"run {run + 1}: {timings[-1] * 1000:.0f} ms, {len(violations)} new violation(s)")
    first = timings[0]
    print(
        f"hourly violation check, {OAS} OAs: first run {first * 1000:.0f} ms (with violations applied), "
        f"repeat runs {min(timings[1:]) * 1000:.0f} ms; violations recorded: "
        f"{AutomaticViolation.objects.count()}; target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if max(timings) < TARGET_SECONDS else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
