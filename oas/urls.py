from django.urls import path

from oas import views

app_name = "oas"
urlpatterns = [
    path("", views.account_list, name="list"),
]
