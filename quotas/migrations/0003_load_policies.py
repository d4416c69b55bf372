"""Load the two policies of the spec (quota-rules.md) as data; later versions are added in the admin.

The numbers live in `quotas.policy_data`, which the sandbox and the tests read too.
"""

from django.db import migrations

from quotas.policy_data import load_policies, unload_policies


class Migration(migrations.Migration):
    dependencies = [("quotas", "0002_quota_engine")]

    operations = [migrations.RunPython(load_policies, unload_policies)]
