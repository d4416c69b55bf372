from django.urls import path

from quotas import views

app_name = "quotas"
urlpatterns = [
    path("", views.index, name="index"),
]
