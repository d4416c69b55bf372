from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog, set_language
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

from twofactor import views as twofactor_views
from zalo_admin import views
from zalo_admin.roles import public_view

rq_api_patterns = get_api_urlpatterns()
for pattern in rq_api_patterns:  # the stats JSON is session-authenticated here too, never token-only
    pattern.callback = views.jobs_statistics_json
# The scheduler page is for rq-scheduler, which is not used (rq's own scheduler runs in the worker).
rq_admin_patterns = [
    pattern
    for pattern in get_admin_urlpatterns(view_wrapper=views.jobs_dashboard_view)
    if pattern.name != "scheduler_jobs"
]
rq_patterns = (rq_api_patterns + rq_admin_patterns, "django_rq")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "login/",
        # The password step; a user with an authenticator then gives a code (twofactor:verify).
        public_view("the way in: anyone may open the login form")(twofactor_views.LoginView.as_view()),
        name="login",
    ),
    path(
        "logout/",
        public_view("ends whatever session there is")(auth_views.LogoutView.as_view()),
        name="logout",
    ),
    # What django.conf.urls.i18n holds, marked: the login page offers the language switch too.
    path(
        "i18n/setlang/",
        public_view("the language switch, offered on the login page too")(set_language),
        name="set_language",
    ),
    path(
        "jsi18n/",
        public_view("the JavaScript translation catalog, static text")(JavaScriptCatalog.as_view()),
        name="javascript-catalog",
    ),
    path("oas/", include("oas.urls")),
    path("audiences/", include("audiences.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("quality/", include("quotas.urls")),
    path("compliance/", include("compliance.urls")),
    path("alerts/", include("alerts.urls")),
    path("webhooks/", include("providers.urls")),
    path("account/two-factor/", include("twofactor.urls")),
    path("jobs/", include(rq_patterns)),
    path("admin/", admin.site.urls),
]
