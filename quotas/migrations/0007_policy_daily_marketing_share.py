"""The daily marketing share (quota-rules.md, "Daily marketing share"): two policy fields, set on the
spec's policies from `quotas.policy_data` (zns-2024: 25 % of the limit, 512,000 a day when
unrestricted; zbs-2026: none) and on the versions made from them in the admin."""

import django.core.validators
from django.db import migrations, models

from quotas.policy_data import load_daily_marketing_share


class Migration(migrations.Migration):
    dependencies = [("quotas", "0006_create_missing_quota_states")]

    operations = [
        migrations.AddField(
            model_name="policy",
            name="marketing_daily_share",
            field=models.DecimalField(
                blank=True,
                decimal_places=6,
                help_text=(
                    "Marketing (tag 3) sent in one Vietnam day at most this share of the daily limit in "
                    "force, rounded down (0.25 = 25 %). Empty: no daily share."
                ),
                max_digits=7,
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(0),
                    django.core.validators.MaxValueValidator(1),
                ],
                verbose_name="daily marketing share of the limit",
            ),
        ),
        migrations.AddField(
            model_name="policy",
            name="marketing_daily_cap_unrestricted",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Marketing messages a day at most when the daily limit is unrestricted. Empty: no cap.",
                null=True,
                verbose_name="daily marketing cap at an unrestricted limit",
            ),
        ),
        migrations.RunPython(load_daily_marketing_share, migrations.RunPython.noop),
    ]
