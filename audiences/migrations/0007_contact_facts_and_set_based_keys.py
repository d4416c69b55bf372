# ruff: noqa: S608 (the SQL is built from this file's own constants)
# Issue 11, the two performance goals:
#
# 1. The import merge (a million contacts and as many consent grants in one transaction) paid two
#    deferred foreign-key checks per contact at commit: ledger -> contact and contact -> source. On
#    PostgreSQL both keys are replaced by set-based checks in statement-level triggers (one
#    anti-join per statement, SQLSTATE 23503 like the key), and deleting a contact that has ledger
#    rows, or a source that contacts name, is refused (the keys' PROTECT). The ledger's index on
#    occurred_at alone, which nothing reads, goes too (both vendors).
# 2. Segment counts read one narrow table, `audiences_contactfacts` (one row per contact: current
#    consent per purpose, the OAs followed / not followed, on the do-not-contact list by plain
#    phone, erased, last sent, last bad report), kept by statement-level triggers on the contact,
#    the consent ledger (after its current state, migration 0005), follower statuses and the
#    do-not-contact state, so it equals what those tables say after every statement. PostgreSQL
#    only: SQLite (`make run`, small data) counts from the source tables and leaves it empty.
#
# Column order of the facts, and what each is computed from, is `_FACTS_SELECT`: the insert trigger,
# the backfill and `audiences_refresh_contact_facts` read the same sources; the other triggers update
# the columns their table decides.
#
# The contact import's merge (`audiences.imports`) writes a million contacts and grants in one
# statement: the contact trigger would insert their facts, then the ledger's trigger update every
# one of them again (a second write of each row). Instead the merge sets `audiences.facts =
# 'deferred'` for its transaction (SET LOCAL), which makes the triggers skip the facts (never the
# integrity checks), then calls `audiences_refresh_contact_facts(stage)`, which writes the facts of
# every contact whose phone is in the stage once, from the same sources, before the commit.

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact

_CONSENT_AGG = """
    SELECT contact_id,
        bool_or(granted) FILTER (WHERE purpose = 'transactional') AS t,
        bool_or(granted) FILTER (WHERE purpose = 'customer_care') AS cc,
        bool_or(granted) FILTER (WHERE purpose = 'marketing') AS m
    FROM audiences_contactconsentstate {where} GROUP BY contact_id"""
_FOLLOW_AGG = """
    SELECT contact_id,
        ',' || string_agg(oa_id::text, ',' ORDER BY oa_id) FILTER (WHERE status = 'follows') || ',' AS f,
        ',' || string_agg(oa_id::text, ',' ORDER BY oa_id)
            FILTER (WHERE status = 'does_not_follow') || ',' AS d
    FROM audiences_followerstatus {where} GROUP BY contact_id"""
_FACTS_COLUMNS = (
    "contact_id, erased, suppressed, consent_transactional, consent_customer_care, consent_marketing,"
    " follows, does_not_follow, last_sent_at, last_bad_report_at"
)
_FACTS_SELECT = """
    SELECT n.id, n.erased_at IS NOT NULL, ss.phone IS NOT NULL, st.t, st.cc, st.m,
        COALESCE(fo.f, ''), COALESCE(fo.d, ''), n.last_sent_at, n.last_bad_report_at
    FROM {contacts} n
    LEFT JOIN (SELECT DISTINCT phone FROM audiences_suppressionstate WHERE suppressed AND phone <> '') ss
        ON ss.phone = n.phone
    LEFT JOIN ({consent}) st ON st.contact_id = n.id
    LEFT JOIN ({follow}) fo ON fo.contact_id = n.id"""


def _facts_select(contacts: str, where: str) -> str:
    return _FACTS_SELECT.format(
        contacts=contacts, consent=_CONSENT_AGG.format(where=where), follow=_FOLLOW_AGG.format(where=where)
    )


_DEFERRED = "current_setting('audiences.facts', true) = 'deferred'"
_SKIP_WHEN_DEFERRED = f"""IF {_DEFERRED} THEN
        RETURN NULL;
    END IF;"""


def _missing(what: str) -> str:
    return f"RAISE EXCEPTION '{what}' USING ERRCODE = 'foreign_key_violation';"


CONTACT_INSERT = f"""
CREATE OR REPLACE FUNCTION audiences_contact_inserted() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT source_id FROM audiences_new_contacts) n
               WHERE NOT EXISTS (SELECT 1 FROM audiences_contactsource s WHERE s.id = n.source_id)) THEN
        {_missing("audiences_contact: a contact names a contact source that does not exist")}
    END IF;
    {_SKIP_WHEN_DEFERRED}
    INSERT INTO audiences_contactfacts AS f ({_FACTS_COLUMNS})
    {_facts_select("audiences_new_contacts", "WHERE contact_id IN (SELECT id FROM audiences_new_contacts)")}
    ON CONFLICT (contact_id) DO UPDATE SET
        erased = EXCLUDED.erased, suppressed = EXCLUDED.suppressed,
        consent_transactional = EXCLUDED.consent_transactional,
        consent_customer_care = EXCLUDED.consent_customer_care,
        consent_marketing = EXCLUDED.consent_marketing,
        follows = EXCLUDED.follows, does_not_follow = EXCLUDED.does_not_follow,
        last_sent_at = EXCLUDED.last_sent_at, last_bad_report_at = EXCLUDED.last_bad_report_at;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
CONTACT_UPDATE = f"""
CREATE OR REPLACE FUNCTION audiences_contact_updated() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audiences_new_contacts n JOIN audiences_old_contacts o ON o.id = n.id
               WHERE n.source_id <> o.source_id
                 AND NOT EXISTS (SELECT 1 FROM audiences_contactsource s WHERE s.id = n.source_id)) THEN
        {_missing("audiences_contact: a contact names a contact source that does not exist")}
    END IF;
    {_SKIP_WHEN_DEFERRED}
    UPDATE audiences_contactfacts f SET
        erased = n.erased_at IS NOT NULL,
        last_sent_at = n.last_sent_at,
        last_bad_report_at = n.last_bad_report_at,
        suppressed = CASE WHEN n.phone = o.phone THEN f.suppressed ELSE EXISTS (
            SELECT 1 FROM audiences_suppressionstate s WHERE s.phone = n.phone AND s.suppressed) END
    FROM audiences_new_contacts n JOIN audiences_old_contacts o ON o.id = n.id
    WHERE f.contact_id = n.id AND (n.phone <> o.phone
        OR (f.erased, f.last_sent_at, f.last_bad_report_at)
            IS DISTINCT FROM (n.erased_at IS NOT NULL, n.last_sent_at, n.last_bad_report_at));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
CONTACT_DELETE = f"""
CREATE OR REPLACE FUNCTION audiences_contact_deleted() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audiences_consentevent e
               WHERE e.contact_id IN (SELECT id FROM audiences_old_contacts)) THEN
        {_missing("audiences_contact: a contact with consent ledger rows cannot be deleted")}
    END IF;
    DELETE FROM audiences_contactfacts WHERE contact_id IN (SELECT id FROM audiences_old_contacts);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
SOURCE_DELETE = f"""
CREATE OR REPLACE FUNCTION audiences_contactsource_deleted() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audiences_contact c
               WHERE c.source_id IN (SELECT id FROM audiences_old_sources)) THEN
        {_missing("audiences_contactsource: a source that contacts name cannot be deleted")}
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
# Migration 0005's function, plus the ledger's contact check and the facts' consent columns.
CONSENT_STATE_SYNC = f"""
CREATE OR REPLACE FUNCTION audiences_consent_state_sync() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audiences_new_consent_events n
               WHERE NOT EXISTS (SELECT 1 FROM audiences_contact c WHERE c.id = n.contact_id)) THEN
        {_missing("audiences_consentevent: a ledger row names a contact that does not exist")}
    END IF;
    IF {_DEFERRED} THEN
        INSERT INTO audiences_contactconsentstate AS s (contact_id, purpose, granted, event_id, changed_at)
        SELECT DISTINCT ON (contact_id, purpose) contact_id, purpose, kind = 'granted', id, occurred_at
        FROM audiences_new_consent_events
        ORDER BY contact_id, purpose, occurred_at DESC, kind DESC, id DESC
        ON CONFLICT (contact_id, purpose) DO UPDATE
            SET granted = EXCLUDED.granted, event_id = EXCLUDED.event_id, changed_at = EXCLUDED.changed_at
            WHERE (EXCLUDED.changed_at, NOT EXCLUDED.granted, EXCLUDED.event_id)
                > (s.changed_at, NOT s.granted, s.event_id);
        RETURN NULL;
    END IF;
    -- The states the upsert changed feed the facts: a purpose absent from the batch keeps its value.
    WITH changed AS (
        INSERT INTO audiences_contactconsentstate AS s (contact_id, purpose, granted, event_id, changed_at)
        SELECT DISTINCT ON (contact_id, purpose) contact_id, purpose, kind = 'granted', id, occurred_at
        FROM audiences_new_consent_events
        ORDER BY contact_id, purpose, occurred_at DESC, kind DESC, id DESC
        ON CONFLICT (contact_id, purpose) DO UPDATE
            SET granted = EXCLUDED.granted, event_id = EXCLUDED.event_id, changed_at = EXCLUDED.changed_at
            WHERE (EXCLUDED.changed_at, NOT EXCLUDED.granted, EXCLUDED.event_id)
                > (s.changed_at, NOT s.granted, s.event_id)
        RETURNING contact_id, purpose, granted
    ), per_contact AS (
        SELECT contact_id,
            bool_or(purpose = 'transactional') AS has_t,
            bool_or(granted) FILTER (WHERE purpose = 'transactional') AS t,
            bool_or(purpose = 'customer_care') AS has_cc,
            bool_or(granted) FILTER (WHERE purpose = 'customer_care') AS cc,
            bool_or(purpose = 'marketing') AS has_m,
            bool_or(granted) FILTER (WHERE purpose = 'marketing') AS m
        FROM changed GROUP BY contact_id
    )
    UPDATE audiences_contactfacts f SET
        consent_transactional = CASE WHEN p.has_t THEN p.t ELSE f.consent_transactional END,
        consent_customer_care = CASE WHEN p.has_cc THEN p.cc ELSE f.consent_customer_care END,
        consent_marketing = CASE WHEN p.has_m THEN p.m ELSE f.consent_marketing END
    FROM per_contact p
    WHERE f.contact_id = p.contact_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
REFRESH = f"""
CREATE OR REPLACE FUNCTION audiences_refresh_contact_facts(stage regclass) RETURNS bigint AS $$
DECLARE
    written bigint;
BEGIN
    EXECUTE format($sql$
        WITH touched AS MATERIALIZED (
            SELECT id, phone, erased_at, last_sent_at, last_bad_report_at FROM audiences_contact
            WHERE phone IN (SELECT phone FROM %1$s)
        )
        INSERT INTO audiences_contactfacts AS f ({_FACTS_COLUMNS})
        {_facts_select("touched", "WHERE contact_id IN (SELECT id FROM touched)")}
        ON CONFLICT (contact_id) DO UPDATE SET
            erased = EXCLUDED.erased, suppressed = EXCLUDED.suppressed,
            consent_transactional = EXCLUDED.consent_transactional,
            consent_customer_care = EXCLUDED.consent_customer_care,
            consent_marketing = EXCLUDED.consent_marketing,
            follows = EXCLUDED.follows, does_not_follow = EXCLUDED.does_not_follow,
            last_sent_at = EXCLUDED.last_sent_at, last_bad_report_at = EXCLUDED.last_bad_report_at
        WHERE (f.erased, f.suppressed, f.consent_transactional, f.consent_customer_care,
               f.consent_marketing, f.follows, f.does_not_follow, f.last_sent_at, f.last_bad_report_at)
            IS DISTINCT FROM (EXCLUDED.erased, EXCLUDED.suppressed, EXCLUDED.consent_transactional,
               EXCLUDED.consent_customer_care, EXCLUDED.consent_marketing, EXCLUDED.follows,
               EXCLUDED.does_not_follow, EXCLUDED.last_sent_at, EXCLUDED.last_bad_report_at)
    $sql$, stage);
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END;
$$ LANGUAGE plpgsql;
"""
OLD_CONSENT_STATE_SYNC = """
CREATE OR REPLACE FUNCTION audiences_consent_state_sync() RETURNS trigger AS $$
BEGIN
    INSERT INTO audiences_contactconsentstate AS s (contact_id, purpose, granted, event_id, changed_at)
    SELECT DISTINCT ON (contact_id, purpose) contact_id, purpose, kind = 'granted', id, occurred_at
    FROM audiences_new_consent_events
    ORDER BY contact_id, purpose, occurred_at DESC, kind DESC, id DESC
    ON CONFLICT (contact_id, purpose) DO UPDATE
        SET granted = EXCLUDED.granted, event_id = EXCLUDED.event_id, changed_at = EXCLUDED.changed_at
        WHERE (EXCLUDED.changed_at, NOT EXCLUDED.granted, EXCLUDED.event_id)
            > (s.changed_at, NOT s.granted, s.event_id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def _follower_function(name: str, ids: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    UPDATE audiences_contactfacts f SET follows = x.f, does_not_follow = x.d
    FROM (
        SELECT a.contact_id,
            COALESCE(',' || string_agg(s.oa_id::text, ',' ORDER BY s.oa_id)
                FILTER (WHERE s.status = 'follows') || ',', '') AS f,
            COALESCE(',' || string_agg(s.oa_id::text, ',' ORDER BY s.oa_id)
                FILTER (WHERE s.status = 'does_not_follow') || ',', '') AS d
        FROM (SELECT DISTINCT contact_id FROM ({ids}) changed) a
        LEFT JOIN audiences_followerstatus s ON s.contact_id = a.contact_id
        GROUP BY a.contact_id
    ) x
    WHERE f.contact_id = x.contact_id AND (f.follows, f.does_not_follow) IS DISTINCT FROM (x.f, x.d);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def _suppression_function(name: str, phones: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    UPDATE audiences_contactfacts f SET suppressed = x.suppressed
    FROM (
        SELECT c.id, EXISTS (
            SELECT 1 FROM audiences_suppressionstate s WHERE s.phone = c.phone AND s.suppressed
        ) AS suppressed
        FROM audiences_contact c WHERE c.phone IN ({phones})
    ) x
    WHERE f.contact_id = x.id AND f.suppressed IS DISTINCT FROM x.suppressed;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


# (trigger, table, event, REFERENCING, function)
TRIGGERS = (
    ("audiences_contact_facts_insert", "audiences_contact", "INSERT",
     "NEW TABLE AS audiences_new_contacts", "audiences_contact_inserted"),
    ("audiences_contact_facts_update", "audiences_contact", "UPDATE",
     "OLD TABLE AS audiences_old_contacts NEW TABLE AS audiences_new_contacts", "audiences_contact_updated"),
    ("audiences_contact_facts_delete", "audiences_contact", "DELETE",
     "OLD TABLE AS audiences_old_contacts", "audiences_contact_deleted"),
    ("audiences_contactsource_delete", "audiences_contactsource", "DELETE",
     "OLD TABLE AS audiences_old_sources", "audiences_contactsource_deleted"),
    ("audiences_follower_facts_insert", "audiences_followerstatus", "INSERT",
     "NEW TABLE AS audiences_new_followers", "audiences_follower_inserted"),
    ("audiences_follower_facts_update", "audiences_followerstatus", "UPDATE",
     "OLD TABLE AS audiences_old_followers NEW TABLE AS audiences_new_followers",
     "audiences_follower_updated"),
    ("audiences_follower_facts_delete", "audiences_followerstatus", "DELETE",
     "OLD TABLE AS audiences_old_followers", "audiences_follower_deleted"),
    ("audiences_suppression_facts_insert", "audiences_suppressionstate", "INSERT",
     "NEW TABLE AS audiences_new_states", "audiences_suppression_state_inserted"),
    ("audiences_suppression_facts_update", "audiences_suppressionstate", "UPDATE",
     "OLD TABLE AS audiences_old_states NEW TABLE AS audiences_new_states",
     "audiences_suppression_state_updated"),
)  # fmt: skip
FUNCTIONS = (
    CONTACT_INSERT,
    CONTACT_UPDATE,
    CONTACT_DELETE,
    SOURCE_DELETE,
    CONSENT_STATE_SYNC,
    REFRESH,
    _follower_function("audiences_follower_inserted", "SELECT contact_id FROM audiences_new_followers"),
    _follower_function(
        "audiences_follower_updated",
        "SELECT contact_id FROM audiences_new_followers UNION SELECT contact_id FROM audiences_old_followers",
    ),
    _follower_function("audiences_follower_deleted", "SELECT contact_id FROM audiences_old_followers"),
    _suppression_function(
        "audiences_suppression_state_inserted", "SELECT phone FROM audiences_new_states WHERE phone <> ''"
    ),
    _suppression_function(
        "audiences_suppression_state_updated",
        "SELECT phone FROM audiences_new_states WHERE phone <> ''"
        " UNION SELECT phone FROM audiences_old_states WHERE phone <> ''",
    ),
)
BACKFILL = f"INSERT INTO audiences_contactfacts ({_FACTS_COLUMNS}) {_facts_select('audiences_contact', '')}"

# (table, column, referenced table) of the foreign keys replaced by the triggers on PostgreSQL.
DROPPED_FOREIGN_KEYS = (
    ("audiences_consentevent", "contact_id", "audiences_contact"),
    ("audiences_contact", "source_id", "audiences_contactsource"),
)
DROPPED_INDEX = ("audiences_consentevent", "occurred_at")

# The check constraints of the rows an import writes by the million, the same sets of strings
# without a bounded regex repetition (7 µs a ledger row in PostgreSQL's regex engine). PostgreSQL
# only; SQLite keeps the equivalent old ones.
GRANT_COMPLETE = models.CheckConstraint(
    condition=(
        Q(kind="granted")
        & ~Q(wording="")
        & Q(Exact(Length("evidence_sha256"), 64))
        & Q(evidence_sha256__regex="^[0-9a-f]+$")
        & Q(channel="")
    )
    | (Q(kind="withdrawn") & ~Q(channel="")),
    name="audiences_consent_event_complete",
)
OLD_GRANT_COMPLETE = models.CheckConstraint(
    condition=(
        Q(kind="granted") & ~Q(wording="") & Q(evidence_sha256__regex="^[0-9a-f]{64}$") & Q(channel="")
    )
    | (Q(kind="withdrawn") & ~Q(channel="")),
    name="audiences_consent_event_complete",
)
PHONE_NORMALISED = models.CheckConstraint(
    condition=(Q(erased_at__isnull=True) & Q(Exact(Length("phone"), 11)) & Q(phone__regex="^84[0-9]+$"))
    | (Q(erased_at__isnull=False) & Q(phone__regex="^x[0-9a-f]{10}$")),
    name="audiences_contact_phone_normalised",
    violation_error_message="The phone must be 84 followed by 9 digits.",
)
OLD_PHONE_NORMALISED = models.CheckConstraint(
    condition=(Q(erased_at__isnull=True) & Q(phone__regex="^84[0-9]{9}$") & Q(phone__startswith="84"))
    | (Q(erased_at__isnull=False) & Q(phone__regex="^x[0-9a-f]{10}$")),
    name="audiences_contact_phone_normalised",
    violation_error_message="The phone must be 84 followed by 9 digits.",
)


def _replace_checks(apps, schema_editor, checks) -> None:
    quote = schema_editor.quote_name
    for model_name, constraint in checks:
        model = apps.get_model("audiences", model_name)
        table = quote(model._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(constraint.name)}")
        schema_editor.add_constraint(model, constraint)


def forwards(apps, schema_editor):
    quote = schema_editor.quote_name
    table, column = DROPPED_INDEX
    schema_editor.execute(f"DROP INDEX IF EXISTS {quote(schema_editor._create_index_name(table, [column]))}")
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, column, _target in DROPPED_FOREIGN_KEYS:
            constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
            for name, info in constraints.items():
                if info["foreign_key"] and info["columns"] == [column]:
                    schema_editor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    _replace_checks(apps, schema_editor, [("consentevent", GRANT_COMPLETE), ("contact", PHONE_NORMALISED)])
    for function in FUNCTIONS:
        schema_editor.execute(function, params=None)
    for trigger, table, event, referencing, function in TRIGGERS:
        schema_editor.execute(
            f"CREATE TRIGGER {trigger} AFTER {event} ON {table} REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}();",
            params=None,
        )
    schema_editor.execute(BACKFILL, params=None)


def backwards(apps, schema_editor):
    quote = schema_editor.quote_name
    table, column = DROPPED_INDEX
    name = schema_editor._create_index_name(table, [column])
    schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} ({quote(column)})")
    if schema_editor.connection.vendor != "postgresql":
        return
    for trigger, table, _event, _referencing, function in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table};", params=None)
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}();", params=None)
    schema_editor.execute("DROP FUNCTION IF EXISTS audiences_refresh_contact_facts(regclass);", params=None)
    schema_editor.execute(OLD_CONSENT_STATE_SYNC, params=None)
    _replace_checks(
        apps, schema_editor, [("consentevent", OLD_GRANT_COMPLETE), ("contact", OLD_PHONE_NORMALISED)]
    )
    for table, column, target in DROPPED_FOREIGN_KEYS:
        name = schema_editor._create_index_name(table, [column], suffix="_fk")
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} FOREIGN KEY ({quote(column)}) "
            f"REFERENCES {quote(target)} (id) DEFERRABLE INITIALLY DEFERRED"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audiences", "0006_import_write_cost"),
    ]

    operations = [
        migrations.CreateModel(
            name="ContactFacts",
            fields=[
                (
                    "contact",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="facts",
                        serialize=False,
                        to="audiences.contact",
                    ),
                ),
                ("erased", models.BooleanField(default=False, verbose_name="erased")),
                ("suppressed", models.BooleanField(default=False, verbose_name="on the do-not-contact list")),
                (
                    "consent_transactional",
                    models.BooleanField(null=True, verbose_name="transactional consent"),
                ),
                (
                    "consent_customer_care",
                    models.BooleanField(null=True, verbose_name="customer care consent"),
                ),
                ("consent_marketing", models.BooleanField(null=True, verbose_name="marketing consent")),
                ("follows", models.TextField(blank=True, default="", verbose_name="follows the OAs")),
                (
                    "does_not_follow",
                    models.TextField(blank=True, default="", verbose_name="does not follow the OAs"),
                ),
                ("last_sent_at", models.DateTimeField(blank=True, null=True, verbose_name="last sent")),
                (
                    "last_bad_report_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="last bad report"),
                ),
            ],
            options={"verbose_name": "contact facts"},
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.AlterField(
                    model_name="consentevent",
                    name="contact",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="consent_events",
                        to="audiences.contact",
                    ),
                ),
                migrations.AlterField(
                    model_name="consentevent",
                    name="occurred_at",
                    field=models.DateTimeField(verbose_name="time"),
                ),
                migrations.RemoveConstraint(
                    model_name="consentevent", name="audiences_consent_event_complete"
                ),
                migrations.AddConstraint(model_name="consentevent", constraint=GRANT_COMPLETE),
                migrations.RemoveConstraint(model_name="contact", name="audiences_contact_phone_normalised"),
                migrations.AddConstraint(model_name="contact", constraint=PHONE_NORMALISED),
                migrations.AlterField(
                    model_name="contact",
                    name="source",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="contacts",
                        to="audiences.contactsource",
                    ),
                ),
            ],
        ),
    ]
