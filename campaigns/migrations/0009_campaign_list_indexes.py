# The campaign list (/campaigns/): newest first in keyset pages of 50, all or by status.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0008_message_consent_event_seals")]

    operations = [
        migrations.AddIndex(
            model_name="campaign",
            index=models.Index(fields=["created_at", "id"], name="campaigns_list_time_idx"),
        ),
        migrations.AddIndex(
            model_name="campaign",
            index=models.Index(fields=["status", "created_at", "id"], name="campaigns_list_status_idx"),
        ),
    ]
