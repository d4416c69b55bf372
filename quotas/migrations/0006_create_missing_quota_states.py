"""Every OA has a quota state from its creation on (reads no longer create one): give one to the
OAs that have none yet, on the policy the product would have picked for them.

The choice is `quotas.services.policies.policy_for_new_oa`, frozen here on historical models: the
latest policy in force on the OA's registration day in Vietnam (the newest row among versions in
force from the same day), the oldest policy when none was yet; the limit is its starting level.
"""

from django.db import migrations

from zalo_admin.lib.dates import vietnam_day


def create_missing_states(apps, schema_editor):
    OfficialAccount = apps.get_model("oas", "OfficialAccount")
    OAQuotaState = apps.get_model("quotas", "OAQuotaState")
    Policy = apps.get_model("quotas", "Policy")
    oldest = Policy.objects.order_by("effective_from", "-pk").first()
    if oldest is None:
        return
    for oa in OfficialAccount.objects.filter(quota__isnull=True).order_by("pk").iterator():
        in_force = Policy.objects.filter(effective_from__lte=vietnam_day(oa.created_at))
        policy = in_force.order_by("-effective_from", "-pk").first() or oldest
        OAQuotaState.objects.get_or_create(
            oa_id=oa.pk, defaults={"policy": policy, "current_limit": policy.starting_level}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("oas", "0005_provider_reading"),
        ("quotas", "0005_reservation_tracks_recipient_caps"),
    ]

    # Reversing leaves the states in place: they are every OA's, not only the ones created here.
    operations = [migrations.RunPython(create_missing_states, migrations.RunPython.noop)]
