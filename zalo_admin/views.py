import inspect
from functools import wraps

import redis
from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_rq import views as rq_views
from django_rq.queues import get_queue_by_index
from django_rq.settings import get_queues_list
from django_rq.utils import get_statistics
from rq.exceptions import NoSuchJobError
from rq.job import Job

from alerts.services import alert_path, alert_text, alert_title, home_alerts
from providers.models import ProviderAlert
from quotas.charts import messages_per_day_figure
from quotas.models import OADailyStats, QualityAlert
from teams.scoping import visible
from zalo_admin.health import check_health
from zalo_admin.roles import has_capability, public_view, require_capability


@require_capability("view_dashboard")
def home(request):
    # Every figure and list here is of the user's teams (teams.scoping).
    context = {"messages_chart": messages_per_day_figure(stats=visible(request.user, OADailyStats))}
    # What a person must act on, shown to those who can act: quality alerts and OAs whose Zalo
    # authorisation broke.
    if has_capability(request.user, "view_quality"):
        context["quality_alerts"] = visible(
            request.user, QualityAlert.objects.filter(resolved_at=None).select_related("oa")
        )[:10]
    if has_capability(request.user, "manage_oas"):
        context["provider_alerts"] = visible(
            request.user, ProviderAlert.objects.filter(resolved_at=None).select_related("oa")
        )[:10]
    # The open alerts of the kinds this person keeps on the dashboard (alerts/settings/).
    alerts, context["alerts_open"] = home_alerts(request.user)
    context["alerts"] = [
        {"alert": a, "title": alert_title(a), "text": alert_text(a), "path": alert_path(a)} for a in alerts
    ]
    return render(request, "home.html", context)


@public_view("probed by the load balancer and monitoring, without a session")
@never_cache
def healthz(request):
    healthy, parts = check_health()
    return JsonResponse({"status": "ok" if healthy else "error", **parts}, status=200 if healthy else 503)


# The code object of Django's require_http_methods guard (require_POST, require_GET...): every view it
# wraps shares it, with the allowed methods in its closure.
_METHOD_GUARD_CODE = require_http_methods(["POST"])(lambda request: None).__code__

# django-rq actions that change state and that its pages reach only by POST, though django-rq itself
# answers GET with a confirmation page (a "delete" one for requeue and enqueue). Deleting a job and
# emptying or requeueing a queue keep their GET confirmation pages (their only way in from the
# dashboard); those views act on POST only.
_RQ_POST_ONLY = frozenset(
    inspect.unwrap(view)
    for view in (rq_views.stop_job, rq_views.requeue_job_view, rq_views.enqueue_job, rq_views.actions)
)


def _allowed_methods(view) -> list[str] | None:
    """The methods a (decorated) django-rq view accepts, or None for any."""
    layer = view
    while layer is not None:
        if getattr(layer, "__code__", None) is _METHOD_GUARD_CODE:
            closure = dict(zip(layer.__code__.co_freevars, layer.__closure__, strict=True))
            return list(closure["request_method_list"].cell_contents)
        layer = getattr(layer, "__wrapped__", None)
    return ["POST"] if inspect.unwrap(view) in _RQ_POST_ONLY else None


def _missing_rq_objects_are_404(view):
    """An unknown queue index or job id is a 404, not django-rq's IndexError / NoSuchJobError (500)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return _rq_view(request, *args, **kwargs)
        except redis.ConnectionError:  # `make run` without Redis: a page that says so, not a 500
            where = settings.REDIS_URL.rsplit("@", 1)[-1]  # never a password on a page
            context = {"redis_url": where, "in_process": settings.JOBS_IN_PROCESS}
            return render(request, "jobs_unavailable.html", context, status=503)

    def _rq_view(request, *args, **kwargs):
        if "queue_index" in kwargs:
            if not 0 <= kwargs["queue_index"] < len(get_queues_list()):
                raise Http404("No such queue")
            if "job_id" in kwargs:
                queue = get_queue_by_index(kwargs["queue_index"])
                if not Job.exists(kwargs["job_id"], connection=queue.connection):
                    raise Http404("No such job")
        try:
            return view(request, *args, **kwargs)
        except NoSuchJobError:
            raise Http404("No such job") from None

    return wrapped


@never_cache
@require_capability("view_jobs")
def jobs_statistics_json(request, token=None):
    """The RQ dashboard's "View as JSON": django-rq's own view checks is_staff (or its URL token)
    in its body, so the capability decides here, and a URL token never does."""
    return JsonResponse(get_statistics())


def jobs_dashboard_view(view):
    """Wrap an RQ dashboard view: our capability check replaces django-rq's is_staff check.

    Unwrapping drops django-rq's decorators (staff_member_required, but also never_cache and
    require_POST); the method restriction is put back, with our own for the actions above.
    """
    guarded = _missing_rq_objects_are_404(inspect.unwrap(view))
    methods = _allowed_methods(view)
    if methods:
        guarded = require_http_methods(methods)(guarded)
    return never_cache(require_capability("view_jobs")(guarded))
