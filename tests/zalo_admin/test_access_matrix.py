"""The access matrix, generated from the URL conf: every route x every role and anonymous, GET and POST.

Each route is found by walking the resolver; the view behind it must declare either the capability
it requires (`require_capability`) or why it is public (`public_view`): a route with neither fails,
naming the route. Who holds a capability comes from `zalo_admin.roles` (`has_capability`), never
from a table here. The expectations:

- anonymous: GET and POST -> redirect to the login page;
- a role without the capability: GET and POST -> 403;
- a role with it: GET -> 200, POST -> anything but 403, 404, 405, a login redirect or a 500;
- a method the view refuses (`require_POST`...) -> 405 for whoever reaches that guard: holders, and
  everyone when the method guard is applied outside the capability check;
- public views: never a 500 (what they answer depends on their own authentication).

The explicit exceptions, each with its reason, are the tables below the fixtures. The Django admin
(`admin` namespace) has its own permission model and its own tests at the end of this file.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

import django_rq
import pytest
from django.conf import settings
from django.urls import URLResolver, get_resolver, resolve, reverse
from django.urls.converters import IntConverter
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_rq.cron import DjangoCronScheduler
from django_rq.settings import get_queues_list
from rq import SimpleWorker, Worker
from rq.job import JobStatus

from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET, DEMO_TOKENS
from zalo_admin.roles import CAPABILITIES, declared_access, has_capability, public_view, require_capability

ROLES = ("marketer", "quality_admin", "auditor", "superuser")
ANONYMOUS = "anonymous"
PRINCIPALS = (*ROLES, ANONYMOUS)
METHODS = ("GET", "POST")
# Namespaces with their own permission model, tested on their own.
EXCLUDED_NAMESPACES = {"admin"}
LOGIN_URL = reverse("login")
MATRIX_PHONE = "84912345678"


# --- the routes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str  # the full route, prefixes included
    name: str | None  # namespaced url name
    callback: object = field(compare=False)
    converters: dict = field(compare=False)  # parameter -> converter (regex routes: none)
    params: tuple[str, ...] = ()  # every named parameter, prefixes included

    @property
    def key(self) -> str:
        return f"{self.name}({','.join(self.params)})" if self.params else str(self.name)


def _walk(resolver, prefix="", namespaces=(), converters=None, params=()):
    for entry in resolver.url_patterns:
        entry_params = (*params, *entry.pattern.regex.groupindex)
        entry_converters = {**(converters or {}), **getattr(entry.pattern, "converters", {})}
        if isinstance(entry, URLResolver):
            if entry.namespace in EXCLUDED_NAMESPACES:
                continue
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from _walk(entry, prefix + str(entry.pattern), inner, entry_converters, entry_params)
        else:
            name = ":".join((*namespaces, entry.name)) if entry.name else None
            yield Route(prefix + str(entry.pattern), name, entry.callback, entry_converters, entry_params)


ROUTES = list(_walk(get_resolver()))
assert len({route.key for route in ROUTES}) == len(ROUTES), "two routes share a name and parameters"


# The guard code objects that every decorated view shares, to tell which check runs first.
_METHOD_GUARD_CODE = require_http_methods(["POST"])(lambda request: None).__code__
_CAPABILITY_CHECK_CODE = require_capability("view_dashboard")(lambda request: None).__code__


def _layers(view):
    while view is not None:
        yield view
        view = getattr(view, "__wrapped__", None)


def _method_guard(view) -> tuple[list[str] | None, bool]:
    """The methods the view's guard allows (None: any), and whether it runs before the capability check."""
    capability_seen = False
    for layer in _layers(view):
        code = getattr(layer, "__code__", None)
        if code is _CAPABILITY_CHECK_CODE:
            capability_seen = True
        elif code is _METHOD_GUARD_CODE:
            closure = dict(zip(code.co_freevars, layer.__closure__, strict=True))
            return list(closure["request_method_list"].cell_contents), not capability_seen
    return None, False


def _access(route: Route):
    access = declared_access(route.callback)
    if not access.declared:
        pytest.fail(
            f"Route {route.route!r} ({route.name}) declares no access: decorate its view with "
            "require_capability(...) or, if it is deliberately open, public_view(reason)."
        )
    return access


# --- the rows the routes' parameters point at --------------------------------------------------------


def _sample_job():
    return "done"


def _failing_job():
    raise RuntimeError("this job fails on purpose")


class MatrixObjects:
    """What the routes' parameters name, created on first use: an OA with the sandbox's demo
    credentials (so provider actions reach the sandbox), its template, a quality alert, and in Redis a
    failed job with its result, a registered worker and a cron scheduler. Every team-owned row is of
    team A (the default team, `teams.defaults`, of the role users); `owner` is the team A user whose
    own rows (a log export) the routes name."""

    def __init__(self, owner=None):
        self.owner = owner

    @cached_property
    def oa(self):
        from oas.models import OACredentials, OfficialAccount
        from quotas.models import OAQuotaState, Policy

        oa = OfficialAccount.objects.create(
            name="Matrix OA", zalo_oa_id="demo-oa-1", provider=OfficialAccount.Provider.ZALO
        )
        OACredentials.objects.create(
            oa=oa,
            app_id=DEMO_APP_ID,
            app_secret=DEMO_APP_SECRET,
            oa_secret_key=DEMO_APP_SECRET,
            access_token=DEMO_TOKENS["demo-oa-1"],
            refresh_token="demo-oa-1-refresh-token",
            access_expires_at=timezone.now() + timedelta(hours=25),
        )
        OAQuotaState.objects.create(oa=oa, policy=Policy.objects.get(code="zns-2024"), current_limit=20000)
        return oa

    @cached_property
    def template(self):
        from oas.models import MessageTemplate

        return MessageTemplate.objects.create(
            oa=self.oa, template_id="100001", name="Matrix template", tag=MessageTemplate.Tag.TRANSACTION
        )

    @cached_property
    def alert(self):
        from quotas.models import QualityAlert

        return QualityAlert.objects.create(
            oa=self.oa, day=timezone.localdate(), kind=QualityAlert.Kind.GUARDRAIL, message="Matrix alert"
        )

    @cached_property
    def contact(self):
        from audiences.models import Contact, ContactSource

        source = ContactSource.objects.create(
            kind=ContactSource.Kind.MANUAL, label="Access matrix", created_by="system:test"
        )
        return Contact.objects.create(phone=MATRIX_PHONE, name="Matrix contact", source=source)

    @cached_property
    def contact_import(self):
        """An uploaded, not yet mapped import with one good and one bad row rejected."""
        from io import BytesIO

        from audiences.imports import create_import
        from audiences.models import ImportRejection

        item = create_import(
            actor="system:test",
            uploaded_file=BytesIO(b"phone,name\n0912345678,Lan\nabc,Bad\n"),
            original_name="m.csv",
        )
        ImportRejection.objects.create(
            contact_import=item, line=3, raw="abc,Bad", code="letters", message="Bad"
        )
        return item

    @cached_property
    def contact_list(self):
        from audiences.lists import add_members, create_list

        contact_list = create_list(actor="system:test", name="Matrix list")
        add_members(actor="system:test", contact_list=contact_list, contact_ids=[self.contact.pk])
        return contact_list

    @cached_property
    def segment(self):
        from audiences.lists import create_segment

        return create_segment(
            actor="system:test",
            name="Matrix segment",
            definition={"rules": [{"field": "consent", "op": "granted", "purpose": "marketing"}]},
        )

    @cached_property
    def data_request(self):
        from audiences.data_requests import receive_request

        return receive_request(actor="system:test", phone=MATRIX_PHONE, kind="export")

    @cached_property
    def campaign(self):
        """A campaign awaiting approval (no author), so every action of its page has something to do."""
        from campaigns.models import Campaign

        campaign = Campaign.objects.create(
            oa=self.oa,
            template=self.template,
            name="Matrix campaign",
            status=Campaign.Status.AWAITING_APPROVAL,
        )
        return campaign

    @cached_property
    def two_factor_user(self):
        """A marketer with an authenticator and recovery codes (superusers may reset them)."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from zalo_admin.roles import MARKETER

        user = get_user_model().objects.create_user(username="matrix-2fa", password="matrix-2fa-password")
        user.groups.add(Group.objects.get(name=MARKETER))
        TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
        StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
        return user

    @cached_property
    def queue(self):
        # Straight to Redis (the test runs inside a transaction that never commits).
        return django_rq.get_queue("default", commit_mode="auto")

    @property
    def queue_index(self) -> int:
        return [config["name"] for config in get_queues_list()].index(self.queue.name)

    @cached_property
    def job(self):
        """A failed job: it has a result, and can be shown, requeued, enqueued, stopped and deleted."""
        job = self.queue.enqueue(_failing_job)
        SimpleWorker([self.queue], connection=self.queue.connection).work(burst=True)
        assert job.get_status(refresh=True) == JobStatus.FAILED
        return job

    @cached_property
    def result(self):
        return self.job.latest_result()

    @cached_property
    def worker(self):
        worker = Worker([self.queue], connection=self.queue.connection, name="matrix-worker")
        worker.register_birth()
        return worker

    @cached_property
    def cron_scheduler(self):
        scheduler = DjangoCronScheduler(connection=self.queue.connection, name="matrix-cron")
        scheduler.load_config_from_file(str(settings.BASE_DIR / "zalo_admin" / "cron.py"))
        scheduler.register_birth()
        return scheduler


def _campaign_message(objs):
    """One recipient row of the matrix campaign (its timeline page)."""
    from campaigns.models import CampaignMessage

    return CampaignMessage.objects.get_or_create(
        campaign=objs.campaign, phone=MATRIX_PHONE, defaults={"tracking_id": "c0-matrix"}
    )[0]


def _log_export(objs):
    """A finished message log export with masked phones (open to every reader of the log) and its file."""
    from campaigns import exports
    from campaigns.models import LogExport

    export = LogExport.objects.create(
        requested_by=objs.owner,  # an export is its requester's (teams.scoping)
        requested_by_name="system:test",
        status=LogExport.Status.DONE,
        file_name="matrix-export.csv",
    )
    exports.export_dir().mkdir(parents=True, exist_ok=True)
    exports.export_path(export).write_text("\ufeffmatrix\n", encoding="utf-8")
    return export.pk


def _dashboard_alert(objs):
    """An open alert every role may see (campaign kinds are for every reader of campaigns)."""
    from alerts.models import Alert, Kind

    alert, _created = Alert.objects.get_or_create(
        dedup_key="matrix",
        defaults={
            "kind": Kind.CAMPAIGN_PAUSED,
            "params": {"campaign_name": "Matrix"},
            "campaign": objs.campaign,  # of team A (teams.scoping)
        },
    )
    return alert.pk


def _webhook_endpoint(objs):
    from alerts.models import WebhookEndpoint

    endpoint, _created = WebhookEndpoint.objects.get_or_create(
        name="Matrix webhook",
        defaults={"url": "https://chat.example.com/matrix", "secret": "whsec_matrix", "kinds": ["guardrail"]},
    )
    return endpoint.pk


def _evidence_pack(objs):
    """A built evidence pack of the matrix campaign, its ZIP on disk (downloadable)."""
    from compliance import evidence
    from compliance.models import EvidencePack

    pack = EvidencePack.objects.create(
        requested_by_name="system:test",
        reason="Access matrix",
        scope="campaign",
        campaign_id=objs.campaign.pk,
    )
    return evidence.build_pack(pack.pk).pk


# Parameter name -> its value. A new parameter without an entry fails the test, naming it.
PARAM_VALUES = {
    "oa_id": lambda objs: objs.oa.pk,
    "chart": lambda objs: "tier_timeline",  # quotas:oa_chart_csv
    "table": lambda objs: "sources",  # campaigns:analytics_csv, campaigns:oa_attribution_csv
    "pk": lambda objs: objs.template.pk,  # oas:template_detail
    "alert_id": lambda objs: objs.alert.pk,
    "contact_id": lambda objs: (objs.contact_list, objs.contact)[1].pk,  # reached through team A's list
    "campaign_id": lambda objs: objs.campaign.pk,
    "message_id": lambda objs: _campaign_message(objs).pk,  # campaigns:timeline
    "pack_id": _evidence_pack,  # compliance:evidence_*
    "export_id": _log_export,  # campaigns:log_export*
    "import_id": lambda objs: objs.contact_import.pk,
    "request_id": lambda objs: objs.data_request.pk,
    "list_id": lambda objs: objs.contact_list.pk,
    "segment_id": lambda objs: objs.segment.pk,
    "token": lambda objs: "matrix_url_token",  # Infobip webhook, django-rq's stats token (\w+)
    "queue_index": lambda objs: objs.queue_index,
    "job_id": lambda objs: objs.job.id,
    "result_id": lambda objs: objs.result.id,
    "key": lambda objs: objs.worker.key,
    "scheduler_index": lambda objs: objs.queue_index,
    "connection_index": lambda objs: 0,
    "scheduler_name": lambda objs: objs.cron_scheduler.name,
    "cron_job_name": lambda objs: objs.cron_scheduler.get_jobs()[0].name,
    "dashboard_alert_id": _dashboard_alert,  # alerts:acknowledge
    "endpoint_id": _webhook_endpoint,  # alerts:webhook_*
    "user_id": lambda objs: objs.two_factor_user.pk,  # twofactor:reset_user
}

# Route name -> what its POST sends, so that the action really runs.
POST_DATA = {
    "oas:stop": lambda objs: {"reason": "Access matrix: stop"},
    "oas:resume": lambda objs: {"reason": "Access matrix: resume"},
    "quotas:portfolio_stop": lambda objs: {"reason": "Access matrix: stop", "next": "/quality/?sort=bad"},
    "quotas:portfolio_resume": lambda objs: {"reason": "Access matrix: resume"},
    "oas:template_detail": lambda objs: {"action": "preview", "data": "{}"},
    "audiences:suppress": lambda objs: {"phone": "0912 345 678", "reason": "Access matrix: suppress"},
    "audiences:lift_suppression": lambda objs: {"phone": "0912 345 678", "reason": "Access matrix: lift"},
    "audiences:import_map": lambda objs: {"phone": "phone", "name": "name"},
    "audiences:list_create": lambda objs: {"name": "Matrix new list"},
    "audiences:list_edit": lambda objs: {"name": "Matrix list renamed"},
    "audiences:list_add": lambda objs: {"phones": "0912 345 678"},
    "audiences:list_remove": lambda objs: {"contact": [objs.contact.pk]},
    "audiences:segment_create": lambda objs: {
        "action": "count",
        "rows": "1",
        "rule-0-condition": "suppression.not_suppressed",
    },
    "audiences:segment_edit": lambda objs: {
        "action": "count",
        "rows": "1",
        "rule-0-condition": "suppression.not_suppressed",
    },
    "audiences:data_requests": lambda objs: {
        "phone": "0912 345 678",
        "kind": "erasure",
        "received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    },
    "audiences:data_request": lambda objs: {"phone": "0912 345 678"},  # an export: its JSON file
    "compliance:evidence_packs": lambda objs: {
        "scope": "campaign",
        "campaign": objs.campaign.pk,
        "reason": "Access matrix: evidence pack",
    },
    "campaigns:reject": lambda objs: {"reason": "Access matrix: reject"},
    "campaigns:test_send": lambda objs: {"phones": "0912 345 678"},
    "campaigns:pause": lambda objs: {"reason": "Access matrix: pause"},
    "campaigns:cancel": lambda objs: {"confirm": "yes"},
    "campaigns:autosave": lambda objs: {"name": "Matrix campaign (autosaved)"},
    "django_rq:actions": lambda objs: {"action": "requeue", "job_ids": [objs.job.id]},
    "twofactor:manage": lambda objs: {"action": "recovery_codes"},
    "twofactor:setup": lambda objs: {"code": "000000"},
    "twofactor:reset_user": lambda objs: {"reason": "Access matrix: reset"},
    "django_rq:confirm_action": lambda objs: {"action": "requeue", "_selected_action": [objs.job.id]},
    "alerts:settings": lambda objs: {"pref": ["guardrail:email", "campaign_paused:dashboard"]},
    "alerts:webhooks": lambda objs: {
        "name": "Matrix hook",
        "url": "https://chat.example.com/x",
        "kinds": ["guardrail"],
    },
    "alerts:webhook_edit": lambda objs: {
        "name": "Matrix hook renamed",
        "url": "https://chat.example.com/y",
        "kinds": ["violation"],
        "is_active": "on",
    },
}


def _stopped(objs):
    objs.oa.sending_stopped = True
    objs.oa.stop_reason = "Access matrix"
    objs.oa.save(update_fields=["sending_stopped", "stop_reason"])


def _suppressed(objs):
    from audiences.services import suppress_phone

    suppress_phone(actor="system:test", phone=MATRIX_PHONE, reason="Access matrix", source="manual")


# Route name -> state to set up first, so that the action has something to act on.
SETUP = {
    "oas:resume": _stopped,
    "quotas:portfolio_resume": _stopped,
    "audiences:lift_suppression": _suppressed,
}


# --- the explicit exceptions ---------------------------------------------------------------------

# (route name, method) -> capabilities the view checks inside, on top of its declaration.
INNER_CAPABILITIES = {
    # Anyone who may see an OA sees its templates; previewing and validating values is "use".
    ("oas:template_detail", "POST"): ({"use_templates"}, "preview and validation need use_templates too"),
}

# (route name, method) -> what a holder legitimately gets without further input, and why.
HOLDER_ANSWERS = {
    ("oas:connect", "GET"): ({302}, "starts Zalo's OAuth: a redirect to the provider's permission page"),
    ("oas:connect", "POST"): ({302}, "starts Zalo's OAuth: a redirect to the provider's permission page"),
    ("oas:oauth_callback", "GET"): ({400}, "no authorisation was started in this session: refused"),
    ("django_rq:confirm_action", "GET"): (
        {302},
        "no jobs selected to confirm an action on: back to the queue",
    ),
}

# (route key, method, principal) -> a known defect, expected to fail (strict: once fixed, the case
# fails until its entry goes) with this exception. None today.
KNOWN_DEFECTS: dict[tuple[str, str, str], tuple[str, type[BaseException]]] = {}


# --- the matrix ------------------------------------------------------------------------------------


def _url(route: Route, objs: MatrixObjects) -> str:
    kwargs = {}
    for param in route.params:
        if param not in PARAM_VALUES:
            pytest.fail(
                f"Route {route.route!r} ({route.name}): no value for parameter {param!r} in PARAM_VALUES"
            )
        value = PARAM_VALUES[param](objs)
        if isinstance(route.converters.get(param), IntConverter):
            assert isinstance(value, int), f"{route.route}: {param} takes an int"
        kwargs[param] = value
    if route.name is None:
        pytest.fail(f"Route {route.route!r} has no name: give it one")
    url = reverse(route.name, kwargs=kwargs)
    assert resolve(url).func is route.callback, f"{url} does not reach the view of {route.route!r}"
    return url


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN_URL)


def _describe(response) -> str:
    where = f" -> {response['Location']}" if response.has_header("Location") else ""
    return f"{response.status_code}{where}"


def _cases():
    for route in ROUTES:
        for principal in PRINCIPALS:
            for method in METHODS:
                marks = []
                defect = KNOWN_DEFECTS.get((route.key, method, principal))
                if defect:
                    reason, raises = defect
                    marks.append(pytest.mark.xfail(strict=True, reason=reason, raises=raises))
                yield pytest.param(
                    route, principal, method, marks=marks, id=f"{route.key}-{principal}-{method}"
                )


def test_every_known_defect_names_a_route():
    keys = {route.key for route in ROUTES}
    assert {key for key, _method, _principal in KNOWN_DEFECTS} <= keys
    names = {route.name for route in ROUTES}
    assert {name for name, _method in INNER_CAPABILITIES | HOLDER_ANSWERS} <= names


def test_the_walk_covers_every_app_and_leaves_out_the_django_admin():
    names = {route.name for route in ROUTES}
    namespaces = {name.split(":")[0] for name in names if ":" in name}
    assert {"oas", "audiences", "campaigns", "quotas", "compliance", "providers", "django_rq"} <= namespaces
    assert {"home", "login", "healthz", "oas:detail", "django_rq:home"} <= names
    assert not any(route.route.startswith("admin/") for route in ROUTES)


@pytest.mark.parametrize("route", ROUTES, ids=[route.key for route in ROUTES])
def test_every_route_declares_a_capability_or_why_it_is_public(route):
    access = _access(route)
    assert access.capabilities <= CAPABILITIES.keys(), route.route
    assert not (access.capabilities and access.public_reason), f"{route.route}: both guarded and public"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "principal", "method"), list(_cases()))
def test_access_matrix(request, client, role_users, route, principal, method):
    access = _access(route)
    user = None if principal == ANONYMOUS else role_users[principal]
    objs = MatrixObjects(owner=user)
    required = set(access.capabilities)
    extra, _why = INNER_CAPABILITIES.get((route.name, method), (set(), ""))
    required |= extra
    holds = user is not None and all(has_capability(user, capability) for capability in required)
    if holds or access.public_reason:
        request.getfixturevalue("sb")  # provider calls go to the local sandbox, never the internet
    if route.name in SETUP:
        SETUP[route.name](objs)
    url = _url(route, objs)
    if user is not None:
        client.force_login(user)
    data = POST_DATA[route.name](objs) if method == "POST" and route.name in POST_DATA else None
    response = client.post(url, data or {}) if method == "POST" else client.get(url)
    answer = _describe(response)

    if access.public_reason:
        assert response.status_code < 500, f"public {route.route}: {answer}"
        return

    allowed, guard_first = _method_guard(route.callback)
    refused_method = allowed is not None and method not in allowed
    if refused_method and (guard_first or holds):
        assert response.status_code == 405, f"{method} {url} as {principal}: {answer}, expected 405"
    elif user is None:
        assert _is_login_redirect(response), f"{method} {url} anonymously: {answer}, expected the login page"
    elif not holds:
        assert response.status_code == 403, f"{method} {url} as {principal}: {answer}, expected 403"
    elif (route.name, method) in HOLDER_ANSWERS:
        statuses, _why = HOLDER_ANSWERS[(route.name, method)]
        assert response.status_code in statuses, f"{method} {url} as {principal}: {answer}"
    elif method == "GET":
        assert response.status_code == 200, f"GET {url} as {principal}: {answer}, expected 200"
    else:
        assert response.status_code not in (403, 404, 405), f"POST {url} as {principal}: {answer}"
        assert not _is_login_redirect(response), f"POST {url} as {principal}: {answer}"
        assert response.status_code < 500, f"POST {url} as {principal}: {answer}"


# --- the team dimension (teams.scoping) ---------------------------------------------------------------

# Parameters that name a team-owned row (every one of team A here). Data requests, alert webhooks and
# users are not team-owned: they stay out of this dimension.
TEAM_OWNED_PARAMS = {
    "oa_id",
    "pk",
    "alert_id",
    "contact_id",
    "campaign_id",
    "message_id",
    "pack_id",
    "export_id",
    "import_id",
    "list_id",
    "segment_id",
    "dashboard_alert_id",
}
TEAM_ROUTES = [route for route in ROUTES if TEAM_OWNED_PARAMS & set(route.params)]
OTHER_TEAM = ("marketer", "quality_admin", "auditor")  # members of team B only
ALL_TEAMS = ("marketer", "auditor")  # members of team B whose membership sees every team


@pytest.fixture
def team_b_users(db, django_user_model):
    from django.contrib.auth.models import Group

    from teams.models import Membership, Team
    from zalo_admin.roles import COMPLIANCE_AUDITOR, MARKETER, QUALITY_ADMIN

    team = Team.objects.create(name="Matrix team B")
    roles = {"marketer": MARKETER, "quality_admin": QUALITY_ADMIN, "auditor": COMPLIANCE_AUDITOR}
    users = {}
    for scope, names in (("other", OTHER_TEAM), ("all", ALL_TEAMS)):
        for name in names:
            user = django_user_model.objects.create_user(username=f"{name}-{scope}-teams")
            user.groups.add(Group.objects.get(name=roles[name]))
            Membership.objects.create(user=user, team=team, all_teams=scope == "all")
            users[(scope, name)] = user
    return users


def _team_cases():
    for route in TEAM_ROUTES:
        for scope, names in (("other", OTHER_TEAM), ("all", ALL_TEAMS)):
            for principal in names:
                for method in METHODS:
                    yield pytest.param(
                        route, scope, principal, method, id=f"{route.key}-{principal}-{scope}-team-{method}"
                    )


def test_the_team_dimension_covers_every_kind_of_team_owned_route():
    names = {route.name for route in TEAM_ROUTES}
    assert len(TEAM_ROUTES) > 50
    assert {"oas:stop", "campaigns:detail", "campaigns:pause", "campaigns:log_export_download"} <= names
    assert {"audiences:list", "audiences:import_detail", "quotas:oa_detail", "compliance:story"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "scope", "principal", "method"), list(_team_cases()))
def test_access_matrix_across_teams(
    request, client, role_users, team_b_users, route, scope, principal, method
):
    """Team A's rows asked for by a member of team B: whoever holds the capability gets 404 (never 403:
    ids do not leak), GET and POST alike; whoever does not, 403 as in the matrix above. A member
    whose membership sees all teams gets what team A's own members get."""
    access = _access(route)
    user = team_b_users[(scope, principal)]
    objs = MatrixObjects(owner=role_users[principal])  # e.g. a log export of team A's marketer
    required = set(access.capabilities) | INNER_CAPABILITIES.get((route.name, method), (set(), ""))[0]
    holds = all(has_capability(user, capability) for capability in required)
    # The view loads its object before the checks inside it (INNER_CAPABILITIES): another team's is
    # not found first.
    passes_declaration = all(has_capability(user, capability) for capability in access.capabilities)
    if holds:
        request.getfixturevalue("sb")
    if route.name in SETUP:
        SETUP[route.name](objs)
    url = _url(route, objs)
    client.force_login(user)
    data = POST_DATA[route.name](objs) if method == "POST" and route.name in POST_DATA else None
    response = client.post(url, data or {}) if method == "POST" else client.get(url)
    answer = _describe(response)
    who = f"{principal} of {'another team' if scope == 'other' else 'all teams'}"

    allowed, guard_first = _method_guard(route.callback)
    refused_method = allowed is not None and method not in allowed
    if refused_method and (guard_first or holds):
        assert response.status_code == 405, f"{method} {url} as {who}: {answer}, expected 405"
    elif scope == "other" and passes_declaration:
        assert response.status_code == 404, f"{method} {url} as {who}: {answer}, expected 404"
    elif not holds:
        assert response.status_code == 403, f"{method} {url} as {who}: {answer}, expected 403"
    elif (route.name, method) in HOLDER_ANSWERS:
        statuses, _why = HOLDER_ANSWERS[(route.name, method)]
        assert response.status_code in statuses, f"{method} {url} as {who}: {answer}"
    elif method == "GET":
        assert response.status_code == 200, f"GET {url} as {who}: {answer}, expected 200"
    else:
        assert response.status_code not in (403, 404, 405), f"POST {url} as {who}: {answer}"
        assert not _is_login_redirect(response), f"POST {url} as {who}: {answer}"
        assert response.status_code < 500, f"POST {url} as {who}: {answer}"


def test_a_route_whose_view_declares_nothing_fails_naming_the_route():
    def undeclared(request):
        return None

    route = Route(
        "reports/<int:oa_id>/", "reports:detail", never_cache(require_POST(undeclared)), {}, ("oa_id",)
    )
    with pytest.raises(
        pytest.fail.Exception, match=r"'reports/<int:oa_id>/' \(reports:detail\) declares no access"
    ):
        _access(route)


def test_declarations_are_found_under_other_decorators():
    guarded = never_cache(require_POST(require_capability("manage_oas")(lambda request: None)))
    assert declared_access(guarded).capabilities == {"manage_oas"}
    assert _method_guard(guarded) == (["POST"], True)
    public = require_POST(public_view("probed by monitoring")(lambda request: None))
    assert declared_access(public).public_reason == "probed by monitoring"
    with pytest.raises(ValueError, match="cannot also"):
        require_capability("view_oas")(public)
    with pytest.raises(ValueError, match="cannot also"):
        public_view("open")(guarded)
    with pytest.raises(ValueError, match="needs a reason"):
        public_view("  ")


# --- beyond the matrix ---------------------------------------------------------------------------


def test_navigation_shows_only_what_the_role_may_use(client, role_users):
    client.force_login(role_users["auditor"])
    html = client.get(reverse("home")).content.decode()
    assert reverse("compliance:index") in html
    assert reverse("quotas:index") not in html
    assert reverse("django_rq:home") not in html


def test_quality_admins_reach_the_policy_admin_without_staff_status(client, quality_admin, marketer):
    assert not quality_admin.is_staff
    client.force_login(quality_admin)
    assert client.get("/admin/quotas/policy/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403
    client.force_login(marketer)
    assert client.get("/admin/quotas/policy/").status_code == 302  # to the admin login
