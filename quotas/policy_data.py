"""The numbers of the spec's two quota policies (quota-rules.md), in one place.

Pure data plus its loader: the data migration 0003 loads it into the product's `Policy` rows, the
test suite reloads it after a flush, and the sandbox (its own database) reads the numbers from here.
Later versions are added in the admin, never here.
"""

from decimal import Decimal

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
        # Zalo Cloud's tag 3 notice, in force from 2024-11-01 (quota-rules.md, "Daily marketing share").
        "marketing_daily_share": Decimal("0.25"),
        "marketing_daily_cap_unrestricted": 512000,
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
        "marketing_daily_share": None,  # none published for ZBS [reading]
        "marketing_daily_cap_unrestricted": None,
    },
]
# Shared by both policies.
COMMON = {
    "high_max_rate": Decimal("0.001"),
    "medium_max_rate": Decimal("0.005"),
    "review_window_days": 7,
    "wait_days": 7,
    "upgrade_multiplier": 2,
    "violation_rate": Decimal("0.02"),
}


# Added after the first policies were loaded (migration 0007 sets them on the rows already there).
DAILY_MARKETING_SHARE_FIELDS = ("marketing_daily_share", "marketing_daily_cap_unrestricted")


def load_policies(apps, schema_editor=None) -> None:
    """Create or refresh the two policies' rows (`apps`: a migration's or the live app registry).

    Only the fields the given model has are written, so an early migration (0003) loads what its
    historical model knows and a later one adds the rest."""
    Policy = apps.get_model("quotas", "Policy")
    known = {field.name for field in Policy._meta.concrete_fields}
    for values in POLICIES:
        defaults = {name: value for name, value in {**values, **COMMON}.items() if name in known}
        Policy.objects.update_or_create(code=values["code"], defaults=defaults)


def load_daily_marketing_share(apps, schema_editor=None) -> None:
    """Set the daily marketing share of the spec's policies on their rows and on the versions made
    from them in the admin (`zns-2024-v2`…), which were copied before the fields existed."""
    Policy = apps.get_model("quotas", "Policy")
    for values in POLICIES:
        share = {name: values[name] for name in DAILY_MARKETING_SHARE_FIELDS}
        versions = Policy.objects.filter(code__regex=rf"^{values['code']}(-v[0-9]+)?$")
        versions.update(**share)


def unload_policies(apps, schema_editor=None) -> None:
    apps.get_model("quotas", "Policy").objects.filter(code__in=[p["code"] for p in POLICIES]).delete()
