from django.db import migrations, models

# The chain becomes keyed: every entry is re-signed with HMAC-SHA256 under AUDIT_SIGNING_KEY
# and numbered. This is the one time entries are rewritten, by the migration owner, with the
# append-only triggers lifted for the duration; from here on the triggers refuse it.


def resign(apps, schema_editor):
    from compliance.services import GENESIS_HASH, entry_signature

    AuditEvent = apps.get_model("compliance", "AuditEvent")
    AuditChainHead = apps.get_model("compliance", "AuditChainHead")
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("ALTER TABLE compliance_auditevent DISABLE TRIGGER USER")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS compliance_auditevent_no_update")
    prev_hash, seq = GENESIS_HASH, 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        seq += 1
        digest = entry_signature(
            seq,
            prev_hash,
            event.occurred_at,
            event.actor,
            event.action,
            event.target_type,
            event.target_id,
            event.summary,
            event.details,
        )
        AuditEvent.objects.filter(pk=event.pk).update(seq=seq, prev_hash=prev_hash, hash=digest)
        prev_hash = digest
    if seq:
        AuditChainHead.objects.update_or_create(pk=1, defaults={"last_hash": prev_hash, "last_seq": seq})
    if vendor == "postgresql":
        schema_editor.execute("ALTER TABLE compliance_auditevent ENABLE TRIGGER USER")
    elif vendor == "sqlite":
        schema_editor.execute(
            "CREATE TRIGGER compliance_auditevent_no_update BEFORE UPDATE ON compliance_auditevent "
            "BEGIN SELECT RAISE(ABORT, 'compliance_auditevent is append-only (UPDATE refused)'); END;"
        )


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_append_only_triggers")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(null=True, verbose_name="position"),
        ),
        migrations.AddField(
            model_name="auditchainhead",
            name="last_seq",
            field=models.BigIntegerField(default=0),
        ),
        migrations.RunPython(resign, migrations.RunPython.noop),
    ]
