"""django-otp registers its device models in the admin, where staff could read TOTP secrets and
delete devices without an audit entry. Devices change only through twofactor.services (the
account page, the superusers' reset page, `manage.py reset_two_factor`), so they leave the admin."""

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
