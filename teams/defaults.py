"""The team a row gets when it is created without one (a job, a webhook, a test fixture): the
"Default" team, made on first use (a flushed test database has none). The model is looked up in
the app registry, not imported, so that every app's models can name this default without importing
another app's models."""

from django.apps import apps

# Existing rows and users were moved into this team by the migrations that added the team keys.
DEFAULT_TEAM_NAME = "Default"


def default_team_pk() -> int:
    team_model = apps.get_model("teams", "Team")
    return team_model.objects.get_or_create(name=DEFAULT_TEAM_NAME)[0].pk
