"""Load the two policies of the spec (quota-rules.md) as data; later versions are added in the admin."""

from decimal import Decimal

from django.db import migrations

POLICIES = [
    {
        "code": "zns-2024",
        "name": "Zalo ZNS rules (from 2024-03-12)",
        "effective_from": "2024-03-12",
        "levels": [500, 2000, 5000, 10000, 20000, 50000, 100000, 500000],
        "starting_level": 5000,
        "penalty_zone": 500,
        "marketing_min_level": 20000,
        "recipient_marketing_per_day": None,
        "recipient_marketing_per_month": 4,
        "marketing_quota_divisor": 6,
        "marketing_quota_months": 2,
        "first_marketing_month_bonus": 10000,
    },
    {
        "code": "zbs-2026",
        "name": "Zalo ZBS rules (OAs registered from 2026-01-16)",
        "effective_from": "2026-01-16",
        "levels": [1000, 10000, 20000, 50000, None],
        "starting_level": 20000,
        "penalty_zone": 1000,
        "marketing_min_level": None,
        "recipient_marketing_per_day": 1,
        "recipient_marketing_per_month": 30,
        "marketing_quota_divisor": None,
        "marketing_quota_months": 2,
        "first_marketing_month_bonus": 0,
    },
]
COMMON = {
    "high_max_rate": Decimal("0.001"),
    "medium_max_rate": Decimal("0.005"),
    "review_window_days": 7,
    "wait_days": 7,
    "upgrade_multiplier": 2,
    "violation_rate": Decimal("0.02"),
}


def load_policies(apps, schema_editor):
    Policy = apps.get_model("quotas", "Policy")
    for values in POLICIES:
        Policy.objects.update_or_create(code=values["code"], defaults={**values, **COMMON})


def unload_policies(apps, schema_editor):
    apps.get_model("quotas", "Policy").objects.filter(code__in=[p["code"] for p in POLICIES]).delete()


class Migration(migrations.Migration):
    dependencies = [("quotas", "0002_quota_engine")]

    operations = [migrations.RunPython(load_policies, unload_policies)]
