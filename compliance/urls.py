from django.urls import path

from compliance import evidence_views, story_views, views

app_name = "compliance"
urlpatterns = [
    path("", views.index, name="index"),
    path("verify/", views.verify_now, name="verify"),
    path("evidence/", evidence_views.pack_list, name="evidence_packs"),
    path("evidence/<int:pack_id>/", evidence_views.pack_detail, name="evidence_pack"),
    path("evidence/<int:pack_id>/progress/", evidence_views.pack_progress, name="evidence_progress"),
    path("evidence/<int:pack_id>/download/", evidence_views.pack_download, name="evidence_download"),
    path("messages/", story_views.messages, name="messages"),
    path("messages/<int:message_id>/", story_views.story, name="story"),
]
