from django.urls import path

from twofactor import views

app_name = "twofactor"

urlpatterns = [
    path("", views.manage, name="manage"),
    path("setup/", views.setup, name="setup"),
    path("setup/qr.svg", views.setup_qr, name="setup_qr"),
    path("recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("code/", views.verify, name="verify"),
    path("users/", views.users, name="users"),
    path("users/<int:user_id>/reset/", views.reset_user, name="reset_user"),
]
