import inspect

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from quotas.charts import messages_per_day_figure
from zalo_admin.health import check_health
from zalo_admin.roles import require_capability


@require_capability("view_dashboard")
def home(request):
    figure = messages_per_day_figure()
    return render(request, "home.html", {"messages_chart": figure})


@never_cache
def healthz(request):
    healthy, parts = check_health()
    return JsonResponse({"status": "ok" if healthy else "error", **parts}, status=200 if healthy else 503)


def jobs_dashboard_view(view):
    """Wrap an RQ dashboard view: our capability check replaces django-rq's is_staff check."""
    return never_cache(require_capability("view_jobs")(inspect.unwrap(view)))
