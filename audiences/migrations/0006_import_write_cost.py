# The contact import's merge writes every imported contact, one consent grant each and the current
# consent state each (issue 11: 1,000,000 rows in at most 60 s). This migration removes what that
# write paid for and nothing reads:
#
# - the varchar_pattern_ops ("_like") index Django adds next to a unique CharField: phones are looked
#   up by equality only (the unique index serves that); the uniqueness becomes a UniqueConstraint of
#   the same name, so the database keeps its index and the import's ON CONFLICT (phone) its arbiter;
# - the full indexes on last_sent_at / last_bad_report_at, replaced by partial ones on the set times
#   (segments ask for a range, which implies a set time): a new contact has neither;
# - the consent ledger's index on contact_id alone (the (contact, purpose, occurred_at) index leads
#   with it);
# - the foreign keys of the derived state tables (ContactConsentState to the contact and to the
#   event, SuppressionState to its ledger row) and their indexes. PostgreSQL checks a deferred
#   foreign key row by row at commit: for an import, 2 checks per contact on top of the ledger's
#   own. They cannot be broken: only the triggers of migration 0005 write these tables, copying ids
#   from the ledger rows being inserted; ledger rows are never updated (but for the erasure's
#   blanking of a phone) nor deleted (migration 0002), the ledger's own foreign key keeps the
#   contact, and contacts are never deleted (erasure pseudonymises the row). Django still knows the
#   relations (db_constraint=False), so joins and related names work as before.
#
# SQLite (`make run` without DATABASE_URL) drops the same indexes; its foreign keys are part of the
# table definitions there and stay (harmless: there is no million-row import to slow down).

from django.db import migrations, models

# (table, column) of the single-column indexes Django made for db_index / ForeignKey fields.
DROPPED_INDEXES = (
    ("audiences_contact", "last_sent_at"),
    ("audiences_contact", "last_bad_report_at"),
    ("audiences_consentevent", "contact_id"),
    ("audiences_contactconsentstate", "contact_id"),
    ("audiences_contactconsentstate", "event_id"),
    ("audiences_suppressionstate", "suppression_id"),
)
# (table, column, referenced table) of the foreign keys dropped on PostgreSQL.
DROPPED_FOREIGN_KEYS = (
    ("audiences_contactconsentstate", "contact_id", "audiences_contact"),
    ("audiences_contactconsentstate", "event_id", "audiences_consentevent"),
    ("audiences_suppressionstate", "suppression_id", "audiences_suppression"),
)


def _foreign_key_name(schema_editor, table: str, column: str) -> str:
    return schema_editor._create_index_name(table, [column], suffix="_fk")


def forwards(apps, schema_editor):
    quote = schema_editor.quote_name
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        with schema_editor.connection.cursor() as cursor:
            for table, column, _target in DROPPED_FOREIGN_KEYS:
                constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
                for name, info in constraints.items():
                    if info["foreign_key"] and info["columns"] == [column]:
                        schema_editor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        like = schema_editor._create_index_name("audiences_contact", ["phone"], suffix="_like")
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(like)}")
    for table, column in DROPPED_INDEXES:
        name = schema_editor._create_index_name(table, [column])
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def backwards(apps, schema_editor):
    quote = schema_editor.quote_name
    postgres = schema_editor.connection.vendor == "postgresql"
    for table, column in DROPPED_INDEXES:
        name = schema_editor._create_index_name(table, [column])
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} ({quote(column)})")
    if postgres:
        like = schema_editor._create_index_name("audiences_contact", ["phone"], suffix="_like")
        schema_editor.execute(f"CREATE INDEX {quote(like)} ON audiences_contact (phone varchar_pattern_ops)")
        for table, column, target in DROPPED_FOREIGN_KEYS:
            name = _foreign_key_name(schema_editor, table, column)
            schema_editor.execute(
                f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} FOREIGN KEY ({quote(column)}) "
                f"REFERENCES {quote(target)} (id) DEFERRABLE INITIALLY DEFERRED"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("audiences", "0005_lists_segments_and_current_state"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="phone",
                    field=models.CharField(
                        help_text="84 followed by 9 digits", max_length=11, verbose_name="phone"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="contact",
                    constraint=models.UniqueConstraint(fields=("phone",), name="audiences_contact_phone_key"),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="last_sent_at",
                    field=models.DateTimeField(blank=True, null=True, verbose_name="last sent"),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="last_bad_report_at",
                    field=models.DateTimeField(blank=True, null=True, verbose_name="last bad report"),
                ),
                migrations.AlterField(
                    model_name="consentevent",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="consent_events",
                        to="audiences.contact",
                    ),
                ),
                migrations.AlterField(
                    model_name="contactconsentstate",
                    name="contact",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="consent_states",
                        to="audiences.contact",
                    ),
                ),
                migrations.AlterField(
                    model_name="contactconsentstate",
                    name="event",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to="audiences.consentevent",
                    ),
                ),
                migrations.AlterField(
                    model_name="suppressionstate",
                    name="suppression",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to="audiences.suppression",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("last_sent_at__isnull", False)),
                fields=["last_sent_at"],
                name="audiences_contact_sent",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("last_bad_report_at__isnull", False)),
                fields=["last_bad_report_at"],
                name="audiences_contact_bad_report",
            ),
        ),
    ]
