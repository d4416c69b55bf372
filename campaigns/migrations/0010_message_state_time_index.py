# The message log's campaign + state and OA + state filters in page order: (campaign, state) becomes
# (campaign, state, created_at, id), which still serves a campaign's counts by state as its prefix.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0009_campaign_list_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="campaignmessage",
            index=models.Index(
                fields=["campaign", "state", "created_at", "id"], name="campaigns_msg_state_time_idx"
            ),
        ),
        migrations.RemoveIndex(model_name="campaignmessage", name="campaigns_msg_state_idx"),
    ]
