import inspect

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from providers.models import ProviderAlert
from quotas.charts import messages_per_day_figure
from quotas.models import QualityAlert
from zalo_admin.health import check_health
from zalo_admin.roles import has_capability, require_capability


@require_capability("view_dashboard")
def home(request):
    context = {"messages_chart": messages_per_day_figure()}
    # What a person must act on, shown to those who can act: quality alerts and OAs whose Zalo
    # authorisation broke.
    if has_capability(request.user, "view_quality"):
        context["quality_alerts"] = QualityAlert.objects.filter(resolved_at=None).select_related("oa")[:10]
    if has_capability(request.user, "manage_oas"):
        context["provider_alerts"] = ProviderAlert.objects.filter(resolved_at=None).select_related("oa")[:10]
    return render(request, "home.html", context)


@never_cache
def healthz(request):
    healthy, parts = check_health()
    return JsonResponse({"status": "ok" if healthy else "error", **parts}, status=200 if healthy else 503)


def jobs_dashboard_view(view):
    """Wrap an RQ dashboard view: our capability check replaces django-rq's is_staff check."""
    return never_cache(require_capability("view_jobs")(inspect.unwrap(view)))
