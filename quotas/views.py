"""Quality and quota pages: parse input, check the capability, call one service, render."""

from decimal import Decimal

from django.contrib import messages
from django.http import Http404, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from oas.forms import ReasonForm
from oas.models import OfficialAccount
from oas.services import accounts
from quotas import charts, portfolio, rules, selectors
from quotas.forms import CorrectionForm, ForecastForm, GuardrailForm, parse_level
from quotas.models import OAQuotaState, Policy, QualityAlert
from quotas.services import levels
from quotas.services.policies import rules_policy
from quotas.services.state import limit_on
from teams.scoping import get_visible_or_404, visible
from zalo_admin.lib import figures
from zalo_admin.lib.dates import today_in_vietnam
from zalo_admin.roles import has_capability, require_capability


@require_capability("view_quality")
def index(request):
    """The portfolio: every OA with what needs attention, sorted and filtered by query parameters."""
    board = portfolio.portfolio(request.GET, accounts=visible(request.user, OfficialAccount))
    here = request.get_full_path()
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    for key in ("sort", "order"):
        sort_query.pop(key, None)
    return render(
        request,
        "quotas/index.html",
        {
            "board": board,
            "filters": portfolio.Filters.from_query(request.GET),
            "tiers": portfolio.TIERS,
            "sort_choices": [
                ("attention", _("Attention (worst first)")),
                ("bad", _("Bad reports against the threshold")),
                ("remaining", _("Quota left today (least first)")),
                ("tier", _("Quality (LOW first)")),
                ("campaigns", _("Running campaigns")),
                ("templates", _("Templates at risk")),
                ("alerts", _("Open alerts")),
                ("sent", _("Sent today")),
                ("name", _("Name")),
            ],
            "providers": OfficialAccount.Provider.choices,
            "page_query": query.urlencode(),
            "sort_query": sort_query.urlencode(),
            "here": here,
            "rows_html": portfolio.table_rows_html(
                board.rows,
                csrf_token=get_token(request),
                here=here,
                can_stop=has_capability(request.user, "stop_sends"),
                can_resume=has_capability(request.user, "manage_oas"),
            ),
            "alerts": visible(
                request.user, QualityAlert.objects.filter(resolved_at__isnull=True)
            ).select_related("oa")[:100],
            "can_manage": has_capability(request.user, "manage_quality"),
            "can_stop": has_capability(request.user, "stop_sends"),
            "can_resume": has_capability(request.user, "manage_oas"),
        },
    )


def _back_to_portfolio(request):
    """Back to the portfolio view the form was posted from (only a /quality/ path of this site)."""
    target = request.POST.get("next", "")
    index_url = reverse("quotas:index")
    if target.startswith(index_url) and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return redirect(target)
    return redirect(index_url)


def _kill_switch(request, oa_id: int, action, done: str):
    oa = get_visible_or_404(request.user, OfficialAccount, pk=oa_id)
    form = ReasonForm(request.POST)
    if form.is_valid():
        action(actor=request.user, oa_id=oa.pk, reason=form.cleaned_data["reason"])
        messages.success(request, done % {"name": oa.name})
    else:
        messages.error(request, _("Nothing changed: %(error)s") % {"error": form.errors["reason"][0]})
    return _back_to_portfolio(request)


@require_capability("stop_sends")
@require_POST
def portfolio_stop(request, oa_id: int):
    """The kill switch from the portfolio (the OA page's service: audited, pauses its campaigns)."""
    done = _("All sends of %(name)s are stopped. A quality admin must resume them.")
    return _kill_switch(request, oa_id, accounts.stop_sending, done)


@require_capability("manage_oas")
@require_POST
def portfolio_resume(request, oa_id: int):
    done = _("Sends of %(name)s resumed. Paused campaigns stay paused until someone resumes them.")
    return _kill_switch(request, oa_id, accounts.resume_sending, done)


@require_capability("view_quality")
def policies(request):
    versions = Policy.objects.order_by("-effective_from", "-pk")  # newest version first
    return render(request, "quotas/policies.html", {"policies": versions})


def _oa_and_state(request, oa_id: int) -> tuple[OfficialAccount, OAQuotaState]:
    """The OA and its quota state; 404 for an unknown OA, another team's, or one without a state
    (never created here)."""
    # The OA with its state and policy in one query (quota_state's select_related, by the OA).
    oa = get_visible_or_404(request.user, OfficialAccount.objects.select_related("quota__policy"), pk=oa_id)
    try:
        return oa, oa.quota
    except OAQuotaState.DoesNotExist:
        raise Http404("This Official Account has no quota state.") from None


def _detail_context(request, oa: OfficialAccount, state: OAQuotaState, **forms) -> dict:
    policy = rules_policy(state.policy)
    today = today_in_vietnam()
    forecast_form = ForecastForm(request.GET or None)
    forecast = None
    if forecast_form.is_valid():
        rate = forecast_form.cleaned_data["bad_report_rate_percent"]
        forecast = selectors.forecast_level(
            oa.pk,
            forecast_form.cleaned_data["planned_daily_volume"],
            days=forecast_form.cleaned_data["days"],
            bad_report_rate=None if rate is None else rate / 100,
        )
    limit = limit_on(state, today)
    quality = charts.load_oa_quality(oa.pk, state=state)
    # selectors.level_history (the last 100, newest first) from the changes the charts read.
    history = sorted(quality.changes, key=lambda change: (change.created_at, change.pk), reverse=True)[:100]
    return {
        "oa": oa,
        "state": state,
        "limit": limit,
        "violation_threshold": rules.violation_threshold(policy, limit),
        "guardrail_threshold": rules.guardrail_threshold(policy, limit, state.guardrail_share),
        "can_send_marketing": rules.can_send_tag(policy, limit, rules.MARKETING_TAG),
        # From the rows load_oa_quality read (selectors.marketing_share_today's figure, without
        # reading the state and today's usage again).
        "marketing_share": selectors._marketing_share(
            state, policy, quality.today, quality.marketing_by_day.get(quality.today, 0)
        ),
        "in_penalty_zone": rules.is_in_penalty_zone(policy, limit),
        "next_review": selectors.next_review_day(state, policy, today),
        "quality": quality,
        "charts": quality.charts,
        "chart_csv": {
            name: reverse("quotas:oa_chart_csv", kwargs={"oa_id": oa.pk, "chart": name})
            for name in quality.charts
        },
        "history": history,
        "alerts": oa.quality_alerts.filter(resolved_at__isnull=True),
        "forecast_form": forecast_form,
        "forecast": forecast,
        "can_manage": has_capability(request.user, "manage_quality"),
        "correction_form": forms.get("correction_form") or CorrectionForm(levels=state.policy.levels),
        "guardrail_form": forms.get("guardrail_form")
        or GuardrailForm(
            initial={
                "share_percent": (state.guardrail_share * 100).quantize(Decimal("0.1")),
                "action": state.guardrail_action,
            }
        ),
    }


@require_capability("view_quality")
def oa_detail(request, oa_id: int):
    oa, state = _oa_and_state(request, oa_id)
    return render(request, "quotas/oa_detail.html", _detail_context(request, oa, state))


@require_capability("view_quality")
def oa_chart_csv(request, oa_id: int, chart: str):
    """The table behind one chart of the OA's quality page, as CSV (the same rollup rows)."""
    oa, _state = _oa_and_state(request, oa_id)
    figure = charts.load_oa_quality(oa.pk).charts.get(chart)
    if figure is None:
        raise Http404("No such chart.")
    response = StreamingHttpResponse(
        figures.table_csv(figure["table"]), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="oa-{oa.pk}-{chart}-{today_in_vietnam():%Y-%m-%d}.csv"'
    )
    return response


@require_capability("manage_quality")
@require_POST
def correct_level(request, oa_id: int):
    oa, state = _oa_and_state(request, oa_id)
    form = CorrectionForm(request.POST, levels=state.policy.levels)
    if form.is_valid():
        try:
            levels.correct_level(
                oa.pk, parse_level(form.cleaned_data["new_limit"]), form.cleaned_data["reason"], request.user
            )
        except levels.CorrectionRejected as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The level was corrected and the reason recorded."))
            return redirect("quotas:oa_detail", oa_id=oa.pk)
    context = _detail_context(request, oa, state, correction_form=form)
    return render(request, "quotas/oa_detail.html", context, status=400)


@require_capability("manage_quality")
@require_POST
def update_guardrail(request, oa_id: int):
    oa, state = _oa_and_state(request, oa_id)
    form = GuardrailForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, oa, state, guardrail_form=form)
        return render(request, "quotas/oa_detail.html", context, status=400)
    levels.update_guardrail(
        oa.pk,
        form.cleaned_data["share_percent"] / Decimal(100),
        form.cleaned_data["action"],
        actor=request.user,
    )
    messages.success(request, _("Guardrail settings saved."))
    return redirect("quotas:oa_detail", oa_id=oa.pk)


@require_capability("manage_quality")
@require_POST
def resolve_alert(request, alert_id: int):
    alert = get_visible_or_404(request.user, QualityAlert, pk=alert_id)
    levels.resolve_alert(alert.pk, request.user)
    messages.success(request, _("Alert marked as handled."))
    return redirect("quotas:index")
