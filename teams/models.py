"""Teams: who owns an OA, a contact list, a segment or an import, and who may see it.

A user sees the objects of the teams they are a member of (`teams.scoping`); a membership marked
`all_teams` (meant for compliance auditors) and superusers see every team's objects. Contacts, the
consent ledger and the do-not-contact list are not owned by a team: one person has one consent
record, and a suppression applies to every team.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from teams.defaults import DEFAULT_TEAM_NAME  # noqa: F401 -- re-exported: the team's name lives there


class Team(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("team")

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user in a team. `all_teams` lets the user see (never more than their role allows) the
    objects of every team: for compliance auditors, who answer for the whole installation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="memberships")
    all_teams = models.BooleanField(
        _("sees all teams"), default=False, help_text=_("sees the OAs, audiences and campaigns of every team")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["team__name", "user_id"]
        verbose_name = _("team membership")
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="teams_membership_once")]

    def __str__(self):
        return f"{self.user} in {self.team}"
