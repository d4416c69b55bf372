from django.urls import path

from quotas import views

app_name = "quotas"
urlpatterns = [
    path("", views.index, name="index"),
    path("policies/", views.policies, name="policies"),
    path("oa/<int:oa_id>/stop/", views.portfolio_stop, name="portfolio_stop"),
    path("oa/<int:oa_id>/resume/", views.portfolio_resume, name="portfolio_resume"),
    path("oa/<int:oa_id>/", views.oa_detail, name="oa_detail"),
    path("oa/<int:oa_id>/charts/<slug:chart>.csv", views.oa_chart_csv, name="oa_chart_csv"),
    path("oa/<int:oa_id>/correct/", views.correct_level, name="correct_level"),
    path("oa/<int:oa_id>/guardrail/", views.update_guardrail, name="update_guardrail"),
    path("alerts/<int:alert_id>/resolve/", views.resolve_alert, name="resolve_alert"),
]
