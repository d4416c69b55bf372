import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

DEFAULT_TEAM_NAME = "Default"  # teams.defaults.DEFAULT_TEAM_NAME, frozen here


def default_team_with_every_user(apps, schema_editor):
    """Everyone who could see everything before teams existed keeps seeing it: one "Default" team
    (the OAs and audiences move into it in their own migrations) with every existing user in it."""
    team_model = apps.get_model("teams", "Team")
    membership = apps.get_model("teams", "Membership")
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    team, _created = team_model.objects.get_or_create(name=DEFAULT_TEAM_NAME)
    membership.objects.bulk_create(
        [membership(user_id=pk, team=team) for pk in user_model.objects.values_list("pk", flat=True)],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Team',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True, verbose_name='name')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
            ],
            options={
                'verbose_name': 'team',
                'ordering': ['name', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Membership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('all_teams', models.BooleanField(default=False, help_text='sees the OAs, audiences and campaigns of every team', verbose_name='sees all teams')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='team_memberships', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='memberships', to='teams.team')),
            ],
            options={
                'verbose_name': 'team membership',
                'ordering': ['team__name', 'user_id'],
                'constraints': [models.UniqueConstraint(fields=('user', 'team'), name='teams_membership_once')],
            },
        ),
        migrations.RunPython(default_team_with_every_user, migrations.RunPython.noop),
    ]
