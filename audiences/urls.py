from django.urls import path

from audiences import import_views, list_views, request_views, views

app_name = "audiences"
urlpatterns = [
    path("", views.index, name="index"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact"),
    path("contacts/<int:contact_id>/show-number/", views.reveal_phone, name="reveal_phone"),
    path("do-not-contact/", views.suppress, name="suppress"),
    path("do-not-contact/lift/", views.lift_suppression, name="lift_suppression"),
    path("lists/", list_views.lists_index, name="lists"),
    path("lists/new/", list_views.list_create, name="list_create"),
    path("lists/<int:list_id>/", list_views.list_detail, name="list"),
    path("lists/<int:list_id>/edit/", list_views.list_edit, name="list_edit"),
    path("lists/<int:list_id>/delete/", list_views.list_delete, name="list_delete"),
    path("lists/<int:list_id>/add/", list_views.list_add, name="list_add"),
    path("lists/<int:list_id>/remove/", list_views.list_remove, name="list_remove"),
    path("segments/new/", list_views.segment_create, name="segment_create"),
    path("segments/<int:segment_id>/", list_views.segment_detail, name="segment"),
    path("segments/<int:segment_id>/edit/", list_views.segment_edit, name="segment_edit"),
    path("segments/<int:segment_id>/delete/", list_views.segment_delete, name="segment_delete"),
    path("imports/", import_views.import_list, name="imports"),
    path("imports/upload/", import_views.import_upload, name="import_upload"),
    path("imports/<int:import_id>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:import_id>/map/", import_views.import_map, name="import_map"),
    path("imports/<int:import_id>/progress/", import_views.import_progress, name="import_progress"),
    path("imports/<int:import_id>/cancel/", import_views.import_cancel, name="import_cancel"),
    path("imports/<int:import_id>/rejections.csv", import_views.import_rejections, name="import_rejections"),
    path("data-requests/", request_views.request_list, name="data_requests"),
    path("data-requests/<int:request_id>/", request_views.request_detail, name="data_request"),
]
