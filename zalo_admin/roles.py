"""Roles, capabilities and the one permission helper every view uses.

A role is a Django group; a capability is a permission on the model-less `zalo_admin.Access`
content type. The mapping below is the single source of truth: the roles migration applies it,
`sync_roles` re-applies it, views check capabilities, and the navigation is derived from them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

# Group names are stored untranslated; templates translate them for display.
MARKETER = gettext_noop("Marketer")
QUALITY_ADMIN = gettext_noop("Quality admin")
COMPLIANCE_AUDITOR = gettext_noop("Compliance auditor")
ROLES = (MARKETER, QUALITY_ADMIN, COMPLIANCE_AUDITOR)
# With settings.TWO_FACTOR_REQUIRED on, members of these roles (and superusers, who hold their
# capabilities) must sign in with a second factor: they can change quotas, approve sends and read
# or export the audit evidence.
TWO_FACTOR_REQUIRED_ROLES = (QUALITY_ADMIN, COMPLIANCE_AUDITOR)

# capability codename -> (description, roles that hold it)
CAPABILITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "view_dashboard": ("See the home dashboard", ROLES),
    "view_oas": ("See Official Accounts and templates", ROLES),
    "manage_oas": ("Create, edit, connect, disable and resume Official Accounts", (QUALITY_ADMIN,)),
    "stop_sends": ("Stop all sends of an OA at once (kill switch)", (MARKETER, QUALITY_ADMIN)),
    "use_templates": ("Preview and use message templates", (MARKETER, QUALITY_ADMIN)),
    "view_audience_counts": ("See how many contacts, suppressions and consents there are", ROLES),
    "view_audiences": ("See contacts, lists and consent", (MARKETER, COMPLIANCE_AUDITOR)),
    "reveal_phones": ("Show a contact's full phone number (audited)", (MARKETER,)),
    "add_suppressions": ("Put a phone on the do-not-contact list", (MARKETER, COMPLIANCE_AUDITOR)),
    "lift_suppressions": ("Take a phone off the do-not-contact list", (COMPLIANCE_AUDITOR,)),
    "manage_audiences": ("Import contacts, edit lists, record consent", (MARKETER,)),
    "view_campaigns": ("See campaigns and their messages", ROLES),
    "manage_campaigns": ("Build, schedule and send campaigns", (MARKETER,)),
    "approve_campaigns": ("Approve, pause and resume campaigns", (QUALITY_ADMIN,)),
    "view_quality": ("See quality tiers, quotas and forecasts", (MARKETER, QUALITY_ADMIN)),
    "manage_quality": ("Correct levels, set guardrails and policies", (QUALITY_ADMIN,)),
    "view_audit": ("Read the audit log and consent evidence", (COMPLIANCE_AUDITOR,)),
    "export_audit": ("Export audit and consent evidence", (COMPLIANCE_AUDITOR,)),
    "handle_data_requests": (
        "Register and answer data-subject requests (export, erasure)",
        (COMPLIANCE_AUDITOR,),
    ),
    "view_jobs": ("Open the RQ job dashboard", (QUALITY_ADMIN,)),
    "manage_alert_webhooks": ("Add, edit and test the webhooks alerts are posted to", (QUALITY_ADMIN,)),
    "use_two_factor": ("Turn on, use and reset one's own two-factor sign-in", ROLES),
    # Held by no role: superusers only (they hold every capability).
    "reset_two_factor": ("Reset another user's two-factor sign-in (audited)", ()),
}


def has_capability(user, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    return bool(user.is_authenticated and user.is_active and user.has_perm(f"zalo_admin.{capability}"))


def require_capability(capability: str) -> Callable:
    """View decorator: anonymous users go to the login page, users without the capability get 403.

    The view it returns carries `required_capability` (copied onto any decorator applied over it with
    functools.wraps, and found through `__wrapped__` otherwise: see `declared_access`).
    """
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")

    def decorator(view):
        if declared_access(view).public_reason:
            raise ValueError(f"{view.__qualname__} is a public view; it cannot also require {capability}")

        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_capability(request.user, capability):
                raise PermissionDenied(f"Missing capability {capability}")
            return view(request, *args, **kwargs)

        wrapped.required_capability = capability
        return wrapped

    return decorator


def public_view(reason: str) -> Callable:
    """View decorator for a view deliberately not behind a capability (login, health check, webhooks
    authenticated by signature...): it changes nothing but records why, so that a view declaring
    neither a capability nor this marker is a failure of the access matrix test."""
    if not reason or not reason.strip():
        raise ValueError("a public view needs a reason")

    def decorator(view):
        if declared_access(view).capabilities:
            raise ValueError(f"{view.__qualname__} requires a capability; it cannot also be public")

        @wraps(view)
        def wrapped(request, *args, **kwargs):
            return view(request, *args, **kwargs)

        wrapped.public_reason = reason
        return wrapped

    return decorator


@dataclass(frozen=True)
class Access:
    """What a view declares: the capabilities it requires (all of them), or why it is public."""

    capabilities: frozenset[str]
    public_reason: str = ""

    @property
    def declared(self) -> bool:
        return bool(self.capabilities or self.public_reason)


def declared_access(view) -> Access:
    """The declaration of a (decorated) view, read on every layer down its `__wrapped__` chain."""
    capabilities: set[str] = set()
    reason = ""
    layer, seen = view, set()
    while layer is not None and id(layer) not in seen:
        seen.add(id(layer))
        layer_dict = getattr(layer, "__dict__", {})
        if "required_capability" in layer_dict:
            capabilities.add(layer_dict["required_capability"])
        reason = reason or layer_dict.get("public_reason", "")
        layer = getattr(layer, "__wrapped__", None)
    return Access(frozenset(capabilities), reason)


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    capability: str


NAVIGATION = (
    NavItem(_("Official Accounts"), "oas:list", "view_oas"),
    NavItem(_("Audiences"), "audiences:index", "view_audience_counts"),
    NavItem(_("Campaigns"), "campaigns:index", "view_campaigns"),
    NavItem(_("Quality & quota"), "quotas:index", "view_quality"),
    NavItem(_("Compliance"), "compliance:index", "view_audit"),
    NavItem(_("Alerts"), "alerts:index", "view_dashboard"),
)


def navigation(request):
    """Context processor: the navigation entries this user may use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "can_view_jobs": False}
    path = request.path
    items = []
    for item in NAVIGATION:
        if has_capability(user, item.capability):
            url = reverse(item.url_name)
            items.append({"label": item.label, "url": url, "active": path.startswith(url)})
    return {"nav_items": items, "can_view_jobs": has_capability(user, "view_jobs")}
