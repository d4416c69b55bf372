"""Test URLconf: the providers webhooks mounted as zalo_admin/urls.py is asked to mount them."""

from django.urls import include, path

urlpatterns = [path("webhooks/", include("providers.urls"))]
