"""Official Accounts: list, create, edit, connect with Zalo OAuth, provider reading, kill switch.

No page calls a provider while rendering: the OA page shows the stored `ProviderReading`, which the
Refresh and Test connection buttons (POST) and a periodic job write.
"""

from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns.models import Campaign
from campaigns.services import PAUSABLE_STATUSES
from oas.forms import OfficialAccountForm, ReasonForm
from oas.models import MessageTemplate, OACredentials, OfficialAccount
from oas.services import accounts as service
from oas.services import readings
from providers.base import ProviderError
from providers.http import interactive_client
from quotas.models import OAQuotaState
from quotas.selectors import level_history, next_review_day
from quotas.services.state import limit_on, quota_state
from teams.scoping import get_visible_or_404, visible
from zalo_admin.lib.dates import today_in_vietnam
from zalo_admin.lib.keyset import keyset_page
from zalo_admin.roles import has_capability, require_capability

OAUTH_SESSION_KEY = "oa_oauth"


@require_capability("view_oas")
def account_list(request):
    accounts = visible(
        request.user, OfficialAccount.objects.select_related("credentials", "quota__policy", "team")
    ).order_by("name")
    # 50 a page by (name, id), narrowed by a search (a thousand OAs on one page cost a second).
    search = (request.GET.get("q") or "").strip()[:100]
    if search:
        accounts = accounts.filter(
            Q(name__icontains=search) | Q(zalo_oa_id__icontains=search) | Q(owner_team__icontains=search)
        )
    page = keyset_page(accounts, "name", after=request.GET.get("after"), before=request.GET.get("before"))
    query = {"q": search} if search else {}
    return render(
        request,
        "oas/list.html",
        {
            "accounts": page.rows,
            "search": search,
            "next_url": "?" + urlencode({**query, "after": page.next_after}) if page.next_after else "",
            "previous_url": "?" + urlencode({**query, "before": page.previous_before})
            if page.previous_before
            else "",
            "first_url": "?" + urlencode(query) if page.previous_before else "",
        },
    )


def _quota_state_or_none(oa_id: int) -> OAQuotaState | None:
    """The OA's quota state, None when it has none (a GET shows that, never creates one)."""
    try:
        return quota_state(oa_id)
    except OAQuotaState.DoesNotExist:
        return None


def _initial(oa: OfficialAccount) -> dict:
    creds = getattr(oa, "credentials", None)
    initial = {name: getattr(oa, name) for name in service.ACCOUNT_FIELDS}
    initial["team"] = oa.team_id
    state = _quota_state_or_none(oa.pk)
    if state is not None:  # without one, saving the form gives the OA the chosen policy
        initial["policy"] = state.policy.code
    if creds is not None:
        initial.update({name: getattr(creds, name) for name in service.CREDENTIAL_FIELDS})
    return initial


def _save(request, form, oa):
    try:
        with transaction.atomic():
            return service.save_official_account(
                actor=request.user, oa=oa, data=form.cleaned_data, policy=form.cleaned_data["policy"]
            )
    except service.CredentialsRefused as refused:  # a concurrent change the form could not see
        form.add_error(None, refused)
        return None
    except service.TeamChangeRefused as refused:
        form.add_error(
            "team",
            _("This OA has campaigns, whose lists and segments belong to %(team)s: it stays in that team.")
            % {"team": str(refused)},
        )
        return None
    except service.PolicyChangeRefused as refused:
        form.add_error(
            "policy",
            _(
                "This OA has already sent messages under %(policy)s, so it stays on that policy. "
                "Correct its level in Quality & quota instead."
            )
            % {"policy": str(refused)},
        )
        return None


@require_capability("manage_oas")
def account_create(request):
    form = OfficialAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        oa = _save(request, form, None)
        if oa is not None:
            messages.success(request, _("Official Account %(name)s created.") % {"name": oa.name})
            return redirect("oas:detail", oa.pk)
    return render(request, "oas/form.html", {"form": form, "oa": None})


@require_capability("manage_oas")
def account_edit(request, oa_id):
    oa = get_visible_or_404(request.user, OfficialAccount.objects.select_related("credentials"), pk=oa_id)
    form = OfficialAccountForm(request.POST or None, oa=oa, user=request.user, initial=_initial(oa))
    if request.method == "POST" and form.is_valid() and _save(request, form, oa) is not None:
        messages.success(request, _("Changes saved."))
        return redirect("oas:detail", oa.pk)
    return render(
        request,
        "oas/form.html",
        {"form": form, "oa": oa, "hints": _secret_hints(oa)},
    )


def _secret_hints(oa):
    creds = OACredentials.objects.filter(oa=oa).first()
    if creds is None:
        return {}
    return {name: service.secret_hint(getattr(creds, name)) for name in service.SECRET_FIELDS}


def _quality_labels(reading) -> dict:
    """The provider's quality words (HIGH, …, UNDEFINED) in the user's language."""
    if reading is None or not reading.quality_current:
        return {}
    labels = dict(MessageTemplate.Quality.choices)
    return {
        "current": labels.get(reading.quality_current, reading.quality_current),
        "last_7_days": labels.get(reading.quality_last_7_days, reading.quality_last_7_days),
    }


@require_capability("view_oas")
def account_detail(request, oa_id):
    oa = get_visible_or_404(
        request.user, OfficialAccount.objects.select_related("credentials", "stopped_by", "team"), pk=oa_id
    )
    state = _quota_state_or_none(oa.pk)
    today = today_in_vietnam()
    reading = readings.last_reading(oa.pk)  # stored: a hung provider cannot stall this page
    context = {
        "oa": oa,
        "creds": getattr(oa, "credentials", None),
        "state": state,
        "current_limit": limit_on(state, today) if state else None,
        "next_review": next_review_day(state, state.policy.to_rules(), today) if state else None,
        "history": level_history(oa.pk)[:20],
        "campaigns": Campaign.objects.filter(oa=oa, status__in=PAUSABLE_STATUSES),
        "reading": reading,
        "reading_error": reading.error_text(get_language() or "vi") if reading and not reading.ok else "",
        "quality_labels": _quality_labels(reading),
        "can_refresh": has_capability(request.user, "view_quality"),
        "rsa_keys": oa.rsa_keys.all()[:10],
        "reason_form": ReasonForm(),
        "can_manage": has_capability(request.user, "manage_oas"),
        "can_stop": has_capability(request.user, "stop_sends"),
    }
    return render(request, "oas/detail.html", context)


@require_capability("manage_oas")
@require_POST
def account_toggle_active(request, oa_id):
    oa = get_visible_or_404(request.user, OfficialAccount, pk=oa_id)
    service.set_account_active(actor=request.user, oa_id=oa.pk, active=not oa.is_active)
    messages.success(
        request, _("Official Account enabled.") if not oa.is_active else _("Official Account disabled.")
    )
    return redirect("oas:detail", oa.pk)


@require_capability("manage_oas")
@require_POST
def test_connection(request, oa_id):
    """Read the provider now (quota and quality), store the reading and say whether it worked."""
    oa = get_visible_or_404(request.user, OfficialAccount, pk=oa_id)
    reading = readings.refresh_provider_reading(oa.pk, http=interactive_client())
    if reading.ok:
        messages.success(
            request,
            _("Connection works. Daily quota %(daily)s, remaining %(remaining)s.")
            % {
                "daily": "∞" if reading.daily_quota is None else reading.daily_quota,
                "remaining": "—" if reading.remaining_quota is None else reading.remaining_quota,
            },
        )
    else:
        code = f" [{reading.provider_code}]" if reading.provider_code else ""
        messages.error(
            request,
            _("Connection failed%(code)s: %(error)s")
            % {"code": code, "error": reading.error_text(get_language() or "vi")},
        )
    return redirect("oas:detail", oa.pk)


@require_capability("view_quality")
@require_POST
def refresh_reading(request, oa_id):
    """The Refresh button of the OA page: read quota and quality from the provider now, store them."""
    oa = get_visible_or_404(request.user, OfficialAccount, pk=oa_id)
    reading = readings.refresh_provider_reading(oa.pk, http=interactive_client())
    if reading.ok:
        messages.success(request, _("Read from the provider just now."))
    else:
        code = f" [{reading.provider_code}]" if reading.provider_code else ""
        messages.error(
            request,
            _("The provider could not be read%(code)s: %(error)s")
            % {"code": code, "error": reading.error_text(get_language() or "vi")},
        )
    return redirect("oas:detail", oa.pk)


def _stop_or_resume(request, oa_id, action, done_message):
    oa = get_visible_or_404(request.user, OfficialAccount, pk=oa_id)
    form = ReasonForm(request.POST)
    if form.is_valid():
        action(actor=request.user, oa_id=oa.pk, reason=form.cleaned_data["reason"])
        messages.success(request, done_message)
    else:
        messages.error(request, _("Nothing changed: %(error)s") % {"error": form.errors["reason"][0]})
    return redirect("oas:detail", oa.pk)


@require_capability("stop_sends")
@require_POST
def stop_sending(request, oa_id):
    done = _("All sends of this OA are stopped. A quality admin must resume them.")
    return _stop_or_resume(request, oa_id, service.stop_sending, done)


@require_capability("manage_oas")
@require_POST
def resume_sending(request, oa_id):
    done = _("Sends resumed. Paused campaigns stay paused until someone resumes them.")
    return _stop_or_resume(request, oa_id, service.resume_sending, done)


@require_capability("manage_oas")
def connect(request, oa_id):
    """Start Zalo's OAuth v4 flow (PKCE); the verifier stays in the session, never in the URL."""
    oa = get_visible_or_404(request.user, OfficialAccount.objects.select_related("credentials"), pk=oa_id)
    creds = getattr(oa, "credentials", None)
    if oa.provider != OfficialAccount.Provider.ZALO or creds is None or not creds.app_id:
        messages.error(request, _("Only a Zalo-direct OA with an app id can be connected with Zalo OAuth."))
        return redirect("oas:detail", oa.pk)
    start = service.start_authorisation(oa, request.build_absolute_uri(reverse("oas:oauth_callback")))
    request.session[OAUTH_SESSION_KEY] = {
        "oa_id": oa.pk,
        "state": start.state,
        "verifier": start.code_verifier,
    }
    return redirect(start.url)


@require_capability("manage_oas")
def oauth_callback(request):
    pending = request.session.pop(OAUTH_SESSION_KEY, None)
    if pending is None or request.GET.get("state") != pending["state"]:
        return HttpResponseBadRequest(
            _("This authorisation link is unknown or was already used. Start again.")
        )
    oa = get_visible_or_404(request.user, OfficialAccount, pk=pending["oa_id"])
    code = request.GET.get("code", "")
    if not code:
        messages.error(
            request,
            _("Zalo did not grant access: %(reason)s")
            % {
                "reason": request.GET.get("error_reason") or request.GET.get("error") or _("no code returned")
            },
        )
        return redirect("oas:detail", oa.pk)
    if request.GET.get("oa_id") and request.GET["oa_id"] != oa.zalo_oa_id:
        messages.error(
            request,
            _("Zalo authorised OA %(got)s, but this page is for %(expected)s. Nothing was stored.")
            % {"got": request.GET["oa_id"], "expected": oa.zalo_oa_id},
        )
        return redirect("oas:detail", oa.pk)
    try:
        service.finish_authorisation(actor=request.user, oa=oa, code=code, code_verifier=pending["verifier"])
    except ProviderError as exc:
        messages.error(
            request,
            _("Zalo refused the authorisation: %(error)s") % {"error": service.provider_error_text(exc)},
        )
    else:
        messages.success(request, _("Connected: tokens stored, encrypted."))
    return redirect("oas:detail", oa.pk)


urlpatterns = [
    path("", account_list, name="list"),
    path("new/", account_create, name="create"),
    path("oauth/callback/", oauth_callback, name="oauth_callback"),
    path("<int:oa_id>/", account_detail, name="detail"),
    path("<int:oa_id>/edit/", account_edit, name="edit"),
    path("<int:oa_id>/active/", account_toggle_active, name="toggle_active"),
    path("<int:oa_id>/test/", test_connection, name="test_connection"),
    path("<int:oa_id>/refresh/", refresh_reading, name="refresh_reading"),
    path("<int:oa_id>/connect/", connect, name="connect"),
    path("<int:oa_id>/stop/", stop_sending, name="stop"),
    path("<int:oa_id>/resume/", resume_sending, name="resume"),
]
