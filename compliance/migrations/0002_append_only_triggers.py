from django.db import migrations

# Row-level UPDATE/DELETE are refused. TRUNCATE is left to the table owner (and the test
# runner's flush); the hash chain still reveals a truncated log against the chain head.

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION compliance_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'compliance_auditevent is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER compliance_auditevent_append_only
    BEFORE UPDATE OR DELETE ON compliance_auditevent
    FOR EACH ROW EXECUTE FUNCTION compliance_audit_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS compliance_auditevent_append_only ON compliance_auditevent;
DROP FUNCTION IF EXISTS compliance_audit_append_only();
"""
SQLITE_UP = [
    "CREATE TRIGGER compliance_auditevent_no_update BEFORE UPDATE ON compliance_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'compliance_auditevent is append-only (UPDATE refused)'); END;",
    "CREATE TRIGGER compliance_auditevent_no_delete BEFORE DELETE ON compliance_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'compliance_auditevent is append-only (DELETE refused)'); END;",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS compliance_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS compliance_auditevent_no_delete;",
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
    dependencies = [("compliance", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
