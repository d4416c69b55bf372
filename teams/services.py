"""Every change to teams and memberships, audited in the same transaction."""

from django.db import transaction

from compliance import actions
from compliance.services import actor_name, record_audit_event
from teams import scoping
from teams.models import Membership, Team


@transaction.atomic
def create_team(*, actor, name: str) -> Team:
    """A new team (its name is unique: ValueError when taken)."""
    name = name.strip()
    if not name:
        raise ValueError("a team needs a name")
    if Team.objects.filter(name=name).exists():
        raise ValueError(f"a team named {name!r} exists already")
    team = Team.objects.create(name=name)
    record_audit_event(
        actor=actor_name(actor),
        action=actions.TEAM_CREATE,
        target=team,
        details={"team_id": team.pk, "name": name},
    )
    return team


@transaction.atomic
def add_member(*, actor, user, team: Team, all_teams: bool = False) -> tuple[Membership, bool]:
    """Put `user` in `team` (idempotent: an existing membership keeps its flag unless it differs,
    which is then an audited update). Returns the membership and whether anything changed."""
    membership, created = Membership.objects.select_for_update().get_or_create(
        user=user, team=team, defaults={"all_teams": all_teams}
    )
    scoping.forget_scope(user)
    if created:
        record_audit_event(
            actor=actor_name(actor),
            action=actions.TEAM_MEMBER_ADD,
            target=membership,
            details={"username": user.get_username(), "team": team.name, "all_teams": all_teams},
        )
        return membership, True
    return membership, set_all_teams(actor=actor, membership=membership, all_teams=all_teams)


@transaction.atomic
def set_all_teams(*, actor, membership: Membership, all_teams: bool) -> bool:
    """Grant or withdraw the sight of every team; says whether it changed."""
    changed = (
        Membership.objects.filter(pk=membership.pk).exclude(all_teams=all_teams).update(all_teams=all_teams)
    )
    membership.all_teams = all_teams
    scoping.forget_scope(membership.user)
    if changed:
        record_audit_event(
            actor=actor_name(actor),
            action=actions.TEAM_MEMBER_UPDATE,
            target=membership,
            details={
                "username": membership.user.get_username(),
                "team": membership.team.name,
                "all_teams": all_teams,
            },
        )
    return bool(changed)


@transaction.atomic
def remove_member(*, actor, membership: Membership) -> None:
    details = {"username": membership.user.get_username(), "team": membership.team.name}
    record_audit_event(
        actor=actor_name(actor), action=actions.TEAM_MEMBER_REMOVE, target=membership, details=details
    )
    scoping.forget_scope(membership.user)
    membership.delete()
