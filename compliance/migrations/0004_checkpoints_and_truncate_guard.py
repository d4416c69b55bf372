from django.db import migrations, models

# TRUNCATE is refused too (it bypasses row triggers). Only a superuser who deliberately sets
# session_replication_role = replica (the test runner's flush between tests) gets past them; in
# production the runtime role is no superuser and may only INSERT/SELECT (README, "Database roles").

POSTGRES_UP = """
CREATE TRIGGER compliance_auditevent_no_truncate
    BEFORE TRUNCATE ON compliance_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION compliance_audit_append_only();
CREATE TRIGGER compliance_auditcheckpoint_append_only
    BEFORE UPDATE OR DELETE ON compliance_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION compliance_audit_append_only();
CREATE TRIGGER compliance_auditcheckpoint_no_truncate
    BEFORE TRUNCATE ON compliance_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION compliance_audit_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS compliance_auditevent_no_truncate ON compliance_auditevent;
DROP TRIGGER IF EXISTS compliance_auditcheckpoint_append_only ON compliance_auditcheckpoint;
DROP TRIGGER IF EXISTS compliance_auditcheckpoint_no_truncate ON compliance_auditcheckpoint;
"""
SQLITE_UP = [
    "CREATE TRIGGER compliance_auditcheckpoint_no_update BEFORE UPDATE ON compliance_auditcheckpoint "
    "BEGIN SELECT RAISE(ABORT, 'compliance_auditcheckpoint is append-only (UPDATE refused)'); END;",
    "CREATE TRIGGER compliance_auditcheckpoint_no_delete BEFORE DELETE ON compliance_auditcheckpoint "
    "BEGIN SELECT RAISE(ABORT, 'compliance_auditcheckpoint is append-only (DELETE refused)'); END;",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS compliance_auditcheckpoint_no_update;",
    "DROP TRIGGER IF EXISTS compliance_auditcheckpoint_no_delete;",
]


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0003_keyed_chain")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(
                help_text="1 for the first entry, then +1", unique=True, verbose_name="position"
            ),
        ),
        migrations.AlterModelOptions(name="auditevent", options={"ordering": ["seq"]}),
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField(unique=True)),
                ("created_at", models.DateTimeField()),
                ("entry_count", models.BigIntegerField()),
                ("last_entry_id", models.BigIntegerField(null=True)),
                ("last_hash", models.CharField(max_length=64)),
                ("prev_signature", models.CharField(blank=True, max_length=64)),
                ("signature", models.CharField(max_length=64, unique=True)),
            ],
            options={"ordering": ["number"]},
        ),
        migrations.CreateModel(
            name="AuditVerification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField()),
                ("finished_at", models.DateTimeField()),
                (
                    "scope",
                    models.CharField(
                        choices=[("full", "whole log"), ("incremental", "since the last good checkpoint")],
                        max_length=16,
                    ),
                ),
                ("intact", models.BooleanField()),
                ("entries_checked", models.BigIntegerField()),
                ("entry_count", models.BigIntegerField()),
                ("first_broken_id", models.BigIntegerField(null=True)),
                ("reason", models.TextField(blank=True)),
                ("checkpoint_number", models.PositiveIntegerField(null=True)),
            ],
            options={"ordering": ["-finished_at"]},
        ),
        migrations.RunPython(install, uninstall),
    ]
