"""Seed a dedicated benchmark database: OAs with 90 days of history and 10,000,000 message rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_dashboard python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_dashboard python manage.py seed_bench

What it writes (everything it wrote before is replaced; the audit log and users are kept): OAs on
both policies with their quota state, three templates each (one per tag), campaigns spread over
the days (most completed, the newest of every tenth OA running), their dispatch records, the
messages (COPY in text format, the table's secondary indexes and foreign keys dropped during the
copy and rebuilt after it), and the rollups computed from those messages in one pass (OA, campaign
and template, daily and hourly), the daily level reviews, level changes, automatic violations and
open alerts. Message events are not seeded (a timeline is one recipient's page). Refuses any
database whose name does not start with `bench` or `test` (it truncates what it seeds).
"""

import random
import sys
import time
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from campaigns.models import Campaign, CampaignMessage
from oas.models import MessageTemplate, OfficialAccount
from quotas.models import OAQuotaState, Policy
from zalo_admin.lib.dates import VIETNAM, today_in_vietnam

ALLOWED_PREFIXES = ("bench", "test")
MESSAGE_TABLE = CampaignMessage._meta.db_table
COPY_BATCH = 20_000
# State of a finished campaign's message, per 1,000 (the rest delivered).
FINAL_MIX = (("failed", 40), ("accepted", 30), ("expired", 8), ("failed_over", 8), ("unconfirmed", 4))
ERRORS = (  # (ours, the provider's, its message) for failed rows
    ("PHONE_INVALID", "-108", "Phone number is invalid"),
    ("USER_NOT_FOLLOWER", "-124", "The user does not follow the OA"),
    ("QUOTA_EXCEEDED", "-1441", "Daily quota exceeded"),
    ("USER_BLOCKED", "-118", "The user blocked messages"),
    ("TEMPLATE_DISABLED", "-131", "Template is disabled"),
)
COPY_COLUMNS = (
    "id",
    "campaign_id",
    "contact_id",
    "phone",
    "tracking_id",
    "state",
    "template_data",
    "valid_until",
    "attempts",
    "not_before",
    "claimed_by",
    "lease_until",
    "provider_message_id",
    "error_code",
    "provider_error_code",
    "provider_error_message",
    "in_first_slice",
    "created_at",
    "claimed_at",
    "sending_at",
    "accepted_at",
    "delivered_at",
    "failed_at",
    "expired_at",
    "failed_over_at",
    "unconfirmed_at",
    "updated_at",
)


class BadInput(Exception):
    pass


class Command(BaseCommand):
    requires_system_checks = []  # a data tool: the URL and view checks are not its business
    help = "Fill a dedicated benchmark database (name starting with 'bench') with OAs, history and messages."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=10_000_000, help="message rows (10,000,000)")
        parser.add_argument("--oas", type=int, default=1000, help="Official Accounts (1,000)")
        parser.add_argument("--days", type=int, default=90, help="days of history (90)")
        parser.add_argument("--campaigns-per-oa", type=int, default=10, help="campaigns per OA (10)")
        parser.add_argument("--random-seed", type=int, default=14)

    def handle(self, *args, messages, oas, days, campaigns_per_oa, random_seed, **options):
        try:
            _check(messages, oas, days, campaigns_per_oa)
        except BadInput as error:
            self.stderr.write(f"seed_bench: {error}")
            sys.exit(2)
        seeder = Seeder(messages, oas, days, campaigns_per_oa, random.Random(random_seed), self.stdout)
        started = time.perf_counter()
        seeder.run()
        self.stdout.write(
            f"seed_bench: {oas:,} OAs, {seeder.campaign_count:,} campaigns, {messages:,} messages, "
            f"{days} days in {time.perf_counter() - started:.1f} s"
        )


def _check(messages: int, oas: int, days: int, campaigns_per_oa: int) -> None:
    if connection.vendor != "postgresql":
        raise BadInput("needs PostgreSQL (it uses COPY): set DATABASE_URL to a dedicated bench database")
    name = connection.settings_dict["NAME"] or ""
    if not name.startswith(ALLOWED_PREFIXES):
        raise BadInput(
            f"refusing database {name!r}: it truncates OAs, campaigns and messages, so it only writes "
            "into a dedicated database whose name starts with 'bench' (or a 'test' database)"
        )
    if not 0 <= messages <= 100_000_000:
        raise BadInput(f"--messages must be between 0 and 100000000, not {messages}")
    if not 1 <= oas <= 100_000:
        raise BadInput(f"--oas must be between 1 and 100000, not {oas}")
    if not 1 <= days <= 3650:
        raise BadInput(f"--days must be between 1 and 3650, not {days}")
    if not 1 <= campaigns_per_oa <= 1000:
        raise BadInput(f"--campaigns-per-oa must be between 1 and 1000, not {campaigns_per_oa}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [MESSAGE_TABLE])
        if cursor.fetchone()[0] is None:
            raise BadInput(f"database {name!r} is not migrated: run `manage.py migrate` on it first")


def _ts(moment: datetime | None) -> str:
    return "\\N" if moment is None else moment.isoformat()


class Seeder:
    def __init__(self, messages, oas, days, campaigns_per_oa, rnd: random.Random, out):
        self.messages, self.oas, self.days, self.per_oa = messages, oas, days, campaigns_per_oa
        self.rnd, self.out = rnd, out
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.today = today_in_vietnam(self.now)
        self.first_day = self.today - timedelta(days=days - 1)
        self.campaign_count = 0

    def step(self, label: str, started: float) -> None:
        self.out.write(f"  {label}: {time.perf_counter() - started:.1f} s")

    def run(self) -> None:
        started = time.perf_counter()
        self.clear()
        self.step("cleared", started)
        started = time.perf_counter()
        accounts, templates = self.accounts()
        campaigns = self.campaigns(accounts, templates)
        self.step(f"{len(accounts):,} OAs, {len(campaigns):,} campaigns", started)
        started = time.perf_counter()
        saved = self.drop_message_indexes()
        self.copy_messages(campaigns)
        self.step(f"COPY {self.messages:,} messages", started)
        started = time.perf_counter()
        self.restore_message_indexes(saved)
        self.step("message indexes and constraints rebuilt", started)
        started = time.perf_counter()
        self.dispatch_records()
        self.rollups()
        self.quality_history(accounts)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.step("dispatch records, rollups, reviews, level changes, analyze", started)

    # --- set-up --------------------------------------------------------------------------------------

    def clear(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE oas_officialaccount, campaigns_campaign, campaigns_campaignmessage, "
                "campaigns_logexport RESTART IDENTITY CASCADE"
            )

    def accounts(self) -> tuple[list[OfficialAccount], dict[int, list[MessageTemplate]]]:
        policies = list(Policy.objects.order_by("code"))
        with transaction.atomic():
            accounts = OfficialAccount.objects.bulk_create(
                OfficialAccount(
                    name=f"Bench OA {i:04d}",
                    zalo_oa_id=f"bench-{i:04d}",
                    provider=OfficialAccount.Provider.INFOBIP
                    if i % 3 == 2
                    else OfficialAccount.Provider.ZALO,
                    owner_team=f"Team {i % 7}",
                )
                for i in range(self.oas)
            )
            states = []
            for i, oa in enumerate(accounts):
                policy = policies[i % len(policies)]
                levels = policy.levels
                limit = levels[min(len(levels) - 1, 1 + i % 4)]
                states.append(
                    OAQuotaState(
                        oa=oa,
                        policy=policy,
                        current_limit=limit,
                        review_clock_start=self.first_day,
                        first_send_day=self.first_day,
                        first_marketing_day=self.first_day,
                    )
                )
            OAQuotaState.objects.bulk_create(states)
            rows = MessageTemplate.objects.bulk_create(
                MessageTemplate(
                    oa=oa,
                    template_id=f"{oa.pk}{tag}",
                    name=f"Bench template {tag}",
                    tag=tag,
                    quality=MessageTemplate.Quality.HIGH,
                    params=[{"name": "name", "type": "STRING", "require": True, "maxLength": 30}],
                    synced_at=self.now,
                )
                for oa in accounts
                for tag in (1, 2, 3)
            )
        templates: dict[int, list[MessageTemplate]] = {}
        for template in rows:
            templates.setdefault(template.oa_id, []).append(template)
        return accounts, templates

    def campaigns(self, accounts, templates) -> list[dict]:
        """Campaign k of an OA starts on day k * days / per_oa (Vietnam morning, hour by OA)."""
        total = len(accounts) * self.per_oa
        base, extra = divmod(self.messages, total)
        span = timedelta(days=self.days) / self.per_oa
        plans, objects = [], []
        start_of_history = datetime(
            self.first_day.year, self.first_day.month, self.first_day.day, 8, tzinfo=VIETNAM
        ).astimezone(UTC)
        index = 0
        for i, oa in enumerate(accounts):
            for k in range(self.per_oa):
                count = base + (1 if index < extra else 0)
                index += 1
                start = start_of_history + span * k + timedelta(minutes=(i * 7) % 600)
                running = k == self.per_oa - 1 and i % 10 == 0
                # Messages of a campaign over at most 6 hours, ending before now.
                duration = min(timedelta(hours=6), span * 0.8, max(self.now - start, timedelta(seconds=1)))
                start = min(start, self.now - duration)
                template = templates[oa.pk][k % 3]
                plans.append(
                    {
                        "oa": oa.pk,
                        "template": template.pk,
                        "tag": template.tag,
                        "count": count,
                        "start": start,
                        "step": duration / max(count, 1),
                        "running": running,
                    }
                )
                objects.append(
                    Campaign(
                        oa=oa,
                        template=template,
                        name=f"Bench campaign {i:04d}-{k:02d}",
                        status=Campaign.Status.RUNNING if running else Campaign.Status.COMPLETED,
                        mapping={"name": {"source": "field", "key": "name", "format": "none"}},
                    )
                )
        with transaction.atomic():
            created = Campaign.objects.bulk_create(objects, batch_size=2000)
        for plan, campaign in zip(plans, created, strict=True):
            plan["id"] = campaign.pk
        with connection.cursor() as cursor:  # created when they started, not now
            cursor.executemany(
                "UPDATE campaigns_campaign SET created_at = %s, updated_at = %s WHERE id = %s",
                [(plan["start"] - timedelta(days=1), plan["start"], plan["id"]) for plan in plans],
            )
        self.campaign_count = len(created)
        return plans

    # --- messages --------------------------------------------------------------------------------------

    def drop_message_indexes(self) -> list[str]:
        """Drop the secondary indexes, unique constraints and foreign keys of the message table (and of
        its events, which reference it); return the statements that recreate them."""
        restore: list[str] = []
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                FROM pg_constraint
                WHERE (conrelid = %s::regclass AND contype IN ('u', 'f'))
                   OR (confrelid = %s::regclass AND contype = 'f')
                """,
                [MESSAGE_TABLE, MESSAGE_TABLE],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                """
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                FROM pg_index i
                WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                """,
                [MESSAGE_TABLE],
            )
            indexes = cursor.fetchall()
            for table, name, definition in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for name, definition in indexes:
                cursor.execute(f"DROP INDEX {name}")
                restore.insert(0, definition)  # indexes before the constraints
        return restore

    def restore_message_indexes(self, statements: list[str]) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for statement in statements:
                cursor.execute(statement)
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{MESSAGE_TABLE}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {MESSAGE_TABLE}), false)"
            )
            cursor.execute(f"VACUUM (ANALYZE) {MESSAGE_TABLE}")

    def copy_messages(self, plans: list[dict]) -> None:
        columns = ", ".join(COPY_COLUMNS)
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY {MESSAGE_TABLE} ({columns}) FROM STDIN") as copy:  # noqa: S608
                lines: list[str] = []
                for line in self.message_lines(plans):
                    lines.append(line)
                    if len(lines) >= COPY_BATCH:
                        copy.write("".join(lines))
                        lines.clear()
                if lines:
                    copy.write("".join(lines))

    def message_lines(self, plans: list[dict]):
        rnd = self.rnd
        # A pool of recipients shared by the OAs (a phone gets several messages over the period).
        # Within a campaign the phones are distinct (one row per recipient): a stride coprime with the
        # pool from a random offset.
        pool = max(1000, self.messages // 5, max((plan["count"] for plan in plans), default=0))
        stride = next(p for p in (7919, 7927, 7933, 7937) if pool % p)
        phones = [f"84{900000000 + (n * 7919) % 99999999:09d}" for n in range(pool)]
        mix = [state for state, per_mille in FINAL_MIX for _ in range(per_mille)]
        mix += ["delivered"] * (1000 - len(mix))
        message_id = 0
        for plan in plans:
            start, step, count, running = plan["start"], plan["step"], plan["count"], plan["running"]
            campaign = plan["id"]
            queued_from = int(count * 0.7) if running else count
            offset = rnd.randrange(pool)
            for n in range(count):
                message_id += 1
                created = start + step * n
                accepted = delivered = failed = expired = failed_over = unconfirmed = None
                error = perror = pmessage = pid = ""
                if n >= queued_from:
                    state = "queued"
                else:
                    state = mix[rnd.randrange(1000)]
                    if state != "expired":
                        accepted = created + timedelta(seconds=1)
                        pid = f"p{message_id}"
                    if state == "delivered":
                        delivered = created + timedelta(seconds=3 + message_id % 40)
                    elif state == "failed":
                        error, perror, pmessage = ERRORS[message_id % len(ERRORS)]
                        failed = created + timedelta(seconds=2)
                        accepted, pid = None, ""
                    elif state == "expired":
                        expired = created + timedelta(hours=1)
                    elif state == "failed_over":
                        failed_over = created + timedelta(hours=1)
                    elif state == "unconfirmed":
                        unconfirmed = created + timedelta(minutes=10)
                        accepted, pid = None, ""
                changed = delivered or failed or expired or failed_over or unconfirmed or accepted or created
                sending = created if state != "queued" else None
                phone = phones[(offset + n * stride) % pool]
                yield (
                    f"{message_id}\t{campaign}\t\\N\t{phone}\tb{message_id:012d}\t"
                    f"{state}\t{{}}\t\\N\t{0 if state == 'queued' else 1}\t\\N\t\t\\N\t{pid}\t{error}\t"
                    f"{perror}\t{pmessage}\tf\t{created.isoformat()}\t{_ts(sending)}\t{_ts(sending)}\t"
                    f"{_ts(accepted)}\t{_ts(delivered)}\t{_ts(failed)}\t{_ts(expired)}\t{_ts(failed_over)}\t"
                    f"{_ts(unconfirmed)}\t{changed.isoformat()}\n"
                )

    # --- what the dashboards read ----------------------------------------------------------------------

    def dispatch_records(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO campaigns_campaigndispatch (campaign_id, started_at, finished_at, recipients,
                    wait_reason, consecutive_errors, stage, stage_slice, stage_decision, updated_at)
                SELECT c.id, COALESCE(m.first, c.updated_at),
                       CASE WHEN c.status = 'completed' THEN COALESCE(m.last, c.updated_at) END,
                       COALESCE(m.n, 0), '', 0, 'none', 0, '{{}}'::jsonb, now()
                FROM campaigns_campaign c
                LEFT JOIN (SELECT campaign_id, MIN(created_at) AS first, MAX(updated_at) AS last,
                                  COUNT(*) AS n
                           FROM {MESSAGE_TABLE} GROUP BY campaign_id) m ON m.campaign_id = c.id
                """  # noqa: S608
            )

    def rollups(self) -> None:
        """One pass over the messages into (campaign, Vietnam day, hour) counts, then every rollup from
        those. Bad reports: 0.05 % of the sent messages, 0.2 % for every tenth OA, 0.8 % for every
        fiftieth (so some OAs sit near their thresholds)."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                CREATE TEMPORARY TABLE bench_counts ON COMMIT DROP AS
                SELECT m.campaign_id, c.oa_id, c.template_id, t.tag,
                       (m.created_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day,
                       EXTRACT(HOUR FROM m.created_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::int AS hour,
                       COUNT(*) FILTER (WHERE m.state IN ('accepted', 'delivered', 'unconfirmed'))
                           AS sent,
                       COUNT(*) FILTER (WHERE m.state IN ('accepted', 'delivered')
                           AND (m.id * 7919) %% 10000 < CASE WHEN c.oa_id %% 50 = 0 THEN 80
                                                           WHEN c.oa_id %% 10 = 0 THEN 20 ELSE 5 END)
                           AS bad_reports
                FROM {MESSAGE_TABLE} m
                JOIN campaigns_campaign c ON c.id = m.campaign_id
                JOIN oas_messagetemplate t ON t.id = c.template_id
                GROUP BY 1, 2, 3, 4, 5, 6
                """,  # noqa: S608
                [],
            )
            for table, key, per_hour in (
                ("quotas_campaignhourlystats", "campaign_id", True),
                ("quotas_campaigndailystats", "campaign_id", False),
                ("quotas_templatehourlystats", "template_id", True),
                ("quotas_templatedailystats", "template_id", False),
                ("quotas_oahourlystats", "oa_id", True),
            ):
                hour = ", hour" if per_hour else ""
                cursor.execute(
                    f"INSERT INTO {table} ({key}, day{hour}, sent, bad_reports) "  # noqa: S608
                    f"SELECT {key}, day{hour}, SUM(sent), SUM(bad_reports) FROM bench_counts "
                    f"GROUP BY {key}, day{hour}"
                )
            cursor.execute(
                """
                INSERT INTO quotas_oadailystats (oa_id, day, sent, bad_reports, transactional_sent)
                SELECT oa_id, day, SUM(sent), SUM(bad_reports),
                       COALESCE(SUM(sent) FILTER (WHERE tag IN (1, 2)), 0)
                FROM bench_counts GROUP BY oa_id, day
                """
            )
            cursor.execute(
                """
                INSERT INTO quotas_dailyquotausage (oa_id, day, reserved, marketing_reserved)
                SELECT oa_id, day, SUM(sent), COALESCE(SUM(sent) FILTER (WHERE tag = 3), 0)
                FROM bench_counts GROUP BY oa_id, day
                """
            )

    def quality_history(self, accounts) -> None:
        """A review per OA per day (HIGH, held), an upgrade every 30 days, a downgrade for every
        fiftieth OA by an automatic violation three days ago, and today's guardrail alerts for them."""
        ids = [oa.pk for oa in accounts]
        violation_day = self.today - timedelta(days=min(3, self.days - 1))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO quotas_levelreview (oa_id, day, window_sent, window_bad_reports, tier,
                    decision, "limit", new_limit, cancelled_by_violation, created_at)
                SELECT s.oa_id, d::date, COALESCE(SUM(x.sent), 0), COALESCE(SUM(x.bad_reports), 0),
                       CASE WHEN COALESCE(SUM(x.sent), 0) = 0 THEN 'UNDEFINED'
                            WHEN s.oa_id %% 50 = 0 THEN 'MEDIUM' ELSE 'HIGH' END,
                       'hold', s.current_limit, s.current_limit, false, d
                FROM quotas_oaquotastate s
                CROSS JOIN generate_series(%(first)s::date, %(today)s::date, interval '1 day') AS d
                LEFT JOIN quotas_oadailystats x
                       ON x.oa_id = s.oa_id AND x.day > d::date - 7 AND x.day <= d::date
                WHERE s.oa_id = ANY(%(ids)s)
                GROUP BY s.oa_id, d, s.current_limit
                """,
                {"first": self.first_day, "today": self.today, "ids": ids},
            )
            cursor.execute(
                """
                INSERT INTO quotas_levelchange (oa_id, effective_day, old_limit, new_limit, reason, note,
                    created_at)
                SELECT s.oa_id, d::date, s.current_limit / 2, s.current_limit, 'review_upgrade',
                       'Bench: 7-day window HIGH, sent over 2 x the limit', d
                FROM quotas_oaquotastate s
                CROSS JOIN generate_series(%(first)s::date + 7, %(today)s::date, interval '30 days') AS d
                WHERE s.oa_id = ANY(%(ids)s)
                """,
                {"first": self.first_day, "today": self.today, "ids": ids},
            )
            cursor.execute(
                """
                INSERT INTO quotas_levelchange (oa_id, effective_day, old_limit, new_limit, reason, note,
                    created_at)
                SELECT oa_id, %(day)s, current_limit, current_limit, 'violation',
                       'Bench: bad reports over 2 %% of the limit', %(day)s::timestamptz + interval '14 hours'
                FROM quotas_oaquotastate WHERE oa_id = ANY(%(ids)s) AND oa_id %% 50 = 0
                """,
                {"day": violation_day, "ids": ids},
            )
            cursor.execute(
                """
                INSERT INTO quotas_automaticviolation (oa_id, day, hour, bad_reports, "limit", new_limit,
                    created_at)
                SELECT oa_id, %(day)s, 14, 45, current_limit, current_limit, %(day)s::timestamptz
                FROM quotas_oaquotastate WHERE oa_id = ANY(%(ids)s) AND oa_id %% 50 = 0
                """,
                {"day": violation_day, "ids": ids},
            )
            cursor.execute(
                """
                INSERT INTO quotas_qualityalert (oa_id, day, kind, message, campaigns_paused, created_at)
                SELECT oa_id, %(today)s, 'guardrail',
                       'Bench: bad reports today at 80 %% of the automatic-violation threshold', 0, now()
                FROM quotas_oaquotastate WHERE oa_id = ANY(%(ids)s) AND oa_id %% 50 = 0
                """,
                {"today": self.today, "ids": ids},
            )
