"""Every OA belongs to a team (`teams.scoping`): the existing ones to the "Default" team, which the
teams migration created with every existing user in it, so nobody loses sight of anything."""

import django.db.models.deletion
from django.db import migrations, models

import teams.defaults


def existing_oas_to_the_default_team(apps, schema_editor):
    team = apps.get_model("teams", "Team").objects.get_or_create(name="Default")[0]
    apps.get_model("oas", "OfficialAccount").objects.filter(team__isnull=True).update(team=team)


class Migration(migrations.Migration):
    dependencies = [
        ("oas", "0006_issue_infobip_webhook_tokens"),
        ("teams", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="officialaccount",
            name="team",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="oas",
                to="teams.team",
                verbose_name="team",
            ),
        ),
        migrations.RunPython(existing_oas_to_the_default_team, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="officialaccount",
            name="team",
            field=models.ForeignKey(
                default=teams.defaults.default_team_pk,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="oas",
                to="teams.team",
                verbose_name="team",
            ),
        ),
    ]
