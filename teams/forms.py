"""The team choice of a creation form: the creator's own teams (`teams.scoping.creation_teams`).
Left out of a post (an API client, an older form), it is the first of them, so a user in one team
never has to think about it; a user in no team cannot create anything team-owned."""

from django import forms
from django.utils.translation import gettext_lazy as _

from teams.scoping import creation_teams


class TeamChoiceField(forms.ModelChoiceField):
    def __init__(self, user, *, fallback=None, **extra):
        self.fallback = fallback  # the team when none is posted (an edit: the object's own)
        teams = creation_teams(user).order_by("name", "id")
        first = teams.first()
        extra.setdefault("label", _("Team"))
        extra.setdefault("help_text", _("Who sees and uses it."))
        super().__init__(
            queryset=teams, required=False, empty_label=None, initial=first.pk if first else None, **extra
        )

    def clean(self, value):
        team = super().clean(value)
        if team is None:
            team = self.fallback or self.queryset.first()
        if team is None:
            raise forms.ValidationError(_("You are in no team: ask an administrator to add you to one."))
        return team


def team_choice_field(user, **extra) -> TeamChoiceField:
    return TeamChoiceField(user, **extra)


def chosen_team(user, value):
    """The team a raw form value names among the user's own teams (the first one when empty);
    None when the value names no team of theirs."""
    teams = creation_teams(user).order_by("name", "id")
    if value in (None, ""):
        return teams.first()
    try:
        return teams.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        return None
