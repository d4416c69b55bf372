from django.urls import path

from campaigns import analytics_views, log_views, preflight_views, progress_views, views

app_name = "campaigns"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new, name="new"),
    path("logs/", log_views.log_page, name="logs"),
    path("logs/export.csv", log_views.log_csv, name="logs_csv"),
    path("logs/exports/", log_views.request_export, name="log_export_request"),
    path("logs/exports/<int:export_id>/", log_views.export_page, name="log_export"),
    path("logs/exports/<int:export_id>/progress/", log_views.export_progress, name="log_export_progress"),
    path("logs/exports/<int:export_id>/download/", log_views.export_download, name="log_export_download"),
    path("<int:campaign_id>/", views.detail, name="detail"),
    path("<int:campaign_id>/edit/", views.edit, name="edit"),
    path("<int:campaign_id>/autosave/", views.autosave, name="autosave"),
    path("<int:campaign_id>/submit/", views.submit, name="submit"),
    path("<int:campaign_id>/approve/", views.approve, name="approve"),
    path("<int:campaign_id>/reject/", views.reject, name="reject"),
    path("<int:campaign_id>/clone/", views.clone, name="clone"),
    path("<int:campaign_id>/test-send/", views.test_send, name="test_send"),
    path("<int:campaign_id>/preflight/", preflight_views.preflight_page, name="preflight"),
    path("<int:campaign_id>/preflight/run/", preflight_views.run_preflight, name="run_preflight"),
    path("<int:campaign_id>/preflight/excluded.csv", preflight_views.exclusions_csv, name="preflight_csv"),
    path("<int:campaign_id>/progress/", progress_views.progress, name="progress"),
    path("<int:campaign_id>/pause/", progress_views.pause, name="pause"),
    path("<int:campaign_id>/resume/", progress_views.resume, name="resume"),
    path("<int:campaign_id>/cancel/", progress_views.cancel, name="cancel"),
    path("<int:campaign_id>/start/", progress_views.start_now, name="start_now"),
    path("<int:campaign_id>/recipients/", progress_views.recipients, name="recipients"),
    path("<int:campaign_id>/recipients/<int:message_id>/", progress_views.timeline, name="timeline"),
    path("<int:campaign_id>/analytics/", analytics_views.campaign_analytics, name="analytics"),
    path(
        "<int:campaign_id>/analytics/<slug:table>.csv",
        analytics_views.campaign_analytics_csv,
        name="analytics_csv",
    ),
    path("analytics/oa/<int:oa_id>/", analytics_views.oa_attribution, name="oa_attribution"),
    path(
        "analytics/oa/<int:oa_id>/<slug:table>.csv",
        analytics_views.oa_attribution_csv,
        name="oa_attribution_csv",
    ),
]
