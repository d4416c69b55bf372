from django.urls import path

from audiences import import_views, request_views, views

app_name = "audiences"
urlpatterns = [
    path("", views.index, name="index"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact"),
    path("contacts/<int:contact_id>/show-number/", views.reveal_phone, name="reveal_phone"),
    path("do-not-contact/", views.suppress, name="suppress"),
    path("do-not-contact/lift/", views.lift_suppression, name="lift_suppression"),
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
