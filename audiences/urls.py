from django.urls import path

from audiences import request_views, views

app_name = "audiences"
urlpatterns = [
    path("", views.index, name="index"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact"),
    path("contacts/<int:contact_id>/show-number/", views.reveal_phone, name="reveal_phone"),
    path("do-not-contact/", views.suppress, name="suppress"),
    path("do-not-contact/lift/", views.lift_suppression, name="lift_suppression"),
    path("data-requests/", request_views.request_list, name="data_requests"),
    path("data-requests/<int:request_id>/", request_views.request_detail, name="data_request"),
]
