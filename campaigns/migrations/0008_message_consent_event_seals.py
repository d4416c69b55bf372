import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audiences", "0006_import_write_cost"),
        ("campaigns", "0007_analytics_rollups"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaignmessage",
            name="consent_event",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="audiences.consentevent",
            ),
        ),
        migrations.CreateModel(
            name="CampaignSeal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sealed_at", models.DateTimeField(verbose_name="sealed")),
                ("messages", models.PositiveIntegerField(verbose_name="messages")),
                ("events", models.PositiveIntegerField(verbose_name="timeline events")),
                ("last_event_id", models.BigIntegerField(default=0, verbose_name="last event sealed")),
                ("blocks", models.JSONField(default=list)),
                ("root", models.CharField(max_length=64, verbose_name="root hash (SHA-256)")),
                ("audit_event_id", models.BigIntegerField(null=True, verbose_name="audit entry")),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="seals",
                        to="campaigns.campaign",
                    ),
                ),
            ],
            options={"verbose_name": "campaign seal", "ordering": ["-sealed_at", "-id"]},
        ),
    ]
