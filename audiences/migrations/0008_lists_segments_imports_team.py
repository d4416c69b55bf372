"""Contact lists, segments and imports belong to a team (`teams.scoping`): the existing ones to the
"Default" team. List and segment names become unique per team (another team's names are not for
this team to learn). Contacts, consent and the do-not-contact list stay global."""

import django.db.models.deletion
from django.db import migrations, models

import teams.defaults

MODELS = ("contactimport", "contactlist", "segment")


def _team_field(**extra):
    return models.ForeignKey(
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to="teams.team",
        verbose_name="team",
        **extra,
    )


def existing_rows_to_the_default_team(apps, schema_editor):
    team = apps.get_model("teams", "Team").objects.get_or_create(name="Default")[0]
    for name in MODELS:
        apps.get_model("audiences", name).objects.filter(team__isnull=True).update(team=team)


class Migration(migrations.Migration):
    dependencies = [
        ("audiences", "0007_contact_facts_and_set_based_keys"),
        ("teams", "0001_initial"),
    ]

    operations = [
        *(migrations.AddField(model_name=name, name="team", field=_team_field(null=True)) for name in MODELS),
        migrations.RunPython(existing_rows_to_the_default_team, migrations.RunPython.noop),
        *(
            migrations.AlterField(
                model_name=name, name="team", field=_team_field(default=teams.defaults.default_team_pk)
            )
            for name in MODELS
        ),
        migrations.AlterField(
            model_name="contactlist", name="name", field=models.CharField(max_length=120, verbose_name="name")
        ),
        migrations.AlterField(
            model_name="segment", name="name", field=models.CharField(max_length=120, verbose_name="name")
        ),
        migrations.AddConstraint(
            model_name="contactlist",
            constraint=models.UniqueConstraint(fields=("team", "name"), name="audiences_list_name_per_team"),
        ),
        migrations.AddConstraint(
            model_name="segment",
            constraint=models.UniqueConstraint(
                fields=("team", "name"), name="audiences_segment_name_per_team"
            ),
        ),
    ]
