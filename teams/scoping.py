"""The one place that decides which rows of a team-owned model a user may see.

Every view and action that lists, opens, changes, exports or stops something passes its queryset
through `visible(user, queryset)` (or loads one object with `get_visible_or_404`), as Zulip scopes
every query by realm. A row of another team is simply not there: 404, never 403, so ids do not
leak. Superusers and members whose membership is marked `all_teams` see every team.

What belongs to a team is a path from the model to `teams.Team` (below). A campaign's team is its
OA's team; messages, templates, quota rows and alerts follow their OA or campaign. Contacts are
global (one person, one consent record, one do-not-contact list for every team): a team member
sees the contacts reachable through their team's lists and imports. A model missing from the table
raises instead of showing everything, so a new view cannot forget its scope silently.
"""

from collections.abc import Callable

from django.apps import apps
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

# model label -> the lookup from the model to its team
TEAM_PATHS: dict[str, str] = {
    "oas.officialaccount": "team",
    "oas.messagetemplate": "oa__team",
    "oas.rsakey": "oa__team",
    "oas.providerreading": "oa__team",
    "audiences.contactlist": "team",
    "audiences.segment": "team",
    "audiences.contactimport": "team",
    "audiences.contactlistmember": "contact_list__team",
    "audiences.importrejection": "contact_import__team",
    "campaigns.campaign": "oa__team",
    "campaigns.campaignmessage": "campaign__oa__team",
    "campaigns.campaignmessageevent": "message__campaign__oa__team",
    "campaigns.preflightrun": "campaign__oa__team",
    "campaigns.campaignapproval": "campaign__oa__team",
    "quotas.oaquotastate": "oa__team",
    "quotas.levelchange": "oa__team",
    "quotas.qualityalert": "oa__team",
    "quotas.oadailystats": "oa__team",
    "providers.provideralert": "oa__team",
    "providers.webhookevent": "oa__team",
}


def _alert_rows(user, team_ids) -> Q:
    # An alert names its OA, its campaign (whose OA names the team), or neither (about the system).
    return (
        Q(oa__team__in=team_ids)
        | Q(oa__isnull=True, campaign__oa__team__in=team_ids)
        | Q(oa__isnull=True, campaign__isnull=True)
    )


def _contact_reach(team_ids=None) -> Q:
    """Contacts in a list, an import or a follower status of the teams (of any team: None)."""
    member = apps.get_model("audiences", "ContactListMember").objects.filter(contact=OuterRef("pk"))
    imported = apps.get_model("audiences", "ContactImport").objects.filter(source=OuterRef("source_id"))
    follows = apps.get_model("audiences", "FollowerStatus").objects.filter(contact=OuterRef("pk"))
    if team_ids is not None:
        member = member.filter(contact_list__team__in=team_ids)
        imported = imported.filter(team__in=team_ids)
        follows = follows.filter(oa__team__in=team_ids)
    return Q(Exists(member)) | Q(Exists(imported)) | Q(Exists(follows))


def _contact_rows(user, team_ids) -> Q:
    # Reachable through the team's lists, imports or OAs; a contact no team reaches (typed in by
    # hand, never listed) is everyone's. Another team's contacts stay hidden.
    return _contact_reach(team_ids) | ~_contact_reach()


def _log_export_rows(user, team_ids) -> Q:
    # An export holds rows of every team its requester saw: only the requester opens it.
    return Q(requested_by=user)


def _evidence_pack_rows(user, team_ids) -> Q:
    # A campaign pack belongs to the campaign's team; phone and period packs cover every team.
    campaign = apps.get_model("campaigns", "Campaign")
    return Q(scope="campaign", campaign_id__in=campaign.objects.filter(oa__team__in=team_ids).values("pk"))


# model label -> a filter built from the user and their team ids, for rows whose owner is not a path
TEAM_FILTERS: dict[str, Callable[..., Q]] = {
    "alerts.alert": _alert_rows,
    "audiences.contact": _contact_rows,
    "campaigns.logexport": _log_export_rows,
    "compliance.evidencepack": _evidence_pack_rows,
}

_SCOPE_CACHE = "_teams_scope"


def sees_all_teams(user) -> bool:
    """Superusers and users with an `all_teams` membership see every team's objects."""
    return _scope(user) is None


def team_ids(user) -> frozenset[int] | None:
    """The ids of the teams whose objects the user sees; None means every team."""
    return _scope(user)


def _scope(user) -> frozenset[int] | None:
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, _SCOPE_CACHE, False)
    if cached is not False:
        return cached
    if user.is_superuser:
        scope = None
    else:
        membership = apps.get_model("teams", "Membership")
        rows = list(membership.objects.filter(user=user).values_list("team_id", "all_teams"))
        scope = None if any(all_teams for _team, all_teams in rows) else frozenset(team for team, _ in rows)
    setattr(user, _SCOPE_CACHE, scope)  # one lookup per request (the user object lives as long)
    return scope


def forget_scope(user) -> None:
    """Drop the cached scope (after a membership change in the same request or test)."""
    if hasattr(user, _SCOPE_CACHE):
        delattr(user, _SCOPE_CACHE)


def team_filter(user, model: type[Model]) -> Q | None:
    """The filter that keeps the rows of `model` the user sees (None: every row)."""
    scope = _scope(user)
    if scope is None:
        return None
    label = model._meta.label_lower
    if label in TEAM_PATHS:
        return Q(**{f"{TEAM_PATHS[label]}__in": scope})
    if label in TEAM_FILTERS:
        return TEAM_FILTERS[label](user, scope)
    raise LookupError(f"{label} has no team path in teams.scoping: add one (or keep it out of team scope)")


def visible(user, queryset: QuerySet | type[Model]) -> QuerySet:
    """The rows of `queryset` (or of a model's default manager) the user may see."""
    if not isinstance(queryset, QuerySet):
        queryset = queryset._default_manager.all()
    condition = team_filter(user, queryset.model)
    return queryset if condition is None else queryset.filter(condition)


def get_visible_or_404(user, queryset: QuerySet | type[Model], **lookup):
    """One object the user may see, or 404 (also for another team's object: ids do not leak)."""
    return get_object_or_404(visible(user, queryset), **lookup)


def check_visible(user, obj: Model) -> None:
    """404 unless the user sees `obj` (for an object loaded some other way, e.g. from the session)."""
    if not visible(user, type(obj)._default_manager.filter(pk=obj.pk)).exists():
        raise Http404("not found")


def creation_teams(user) -> QuerySet:
    """The teams a new OA, list, segment or import of this user may belong to: their own teams
    (seeing all teams is not owning them); superusers may pick any team."""
    team = apps.get_model("teams", "Team")
    if user.is_superuser:
        return team.objects.all()
    return team.objects.filter(
        pk__in=apps.get_model("teams", "Membership").objects.filter(user=user).values("team")
    )


def user_in_team(user, team_id) -> bool:
    """Whether the user may put a new object in this team (see `creation_teams`)."""
    return team_id is not None and creation_teams(user).filter(pk=team_id).exists()
