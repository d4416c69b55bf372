"""The gate: a signed-in session without its second factor reaches only the way to get it.

A session is signed in but not verified when the password was accepted somewhere that does not ask
for the code itself (the Django admin login), when it began before its user enrolled, or when two-
factor sign-in is required for the user (settings.TWO_FACTOR_REQUIRED and the role) and no device is
enrolled yet. Such a session may open public views (logout, language switch, the code step...) and
its own step (the code, or the enrolment), and is redirected there from everything else.
Sits after django-otp's OTPMiddleware (request.user.is_verified) and the session idle timeout.
"""

from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode

from twofactor import services
from zalo_admin.roles import declared_access

VERIFY, ENROL = "twofactor:verify", "twofactor:setup"
# What each step may open besides the public views.
STEP_VIEWS = {VERIFY: frozenset(), ENROL: frozenset({ENROL, "twofactor:setup_qr"})}


def pending_step(user) -> str | None:
    """The step this signed-in, unverified user must take first, or None (nothing owed)."""
    if services.is_enrolled(user):
        return VERIFY
    if services.two_factor_required(user):
        return ENROL
    return None


class TwoFactorGateMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not user.is_verified():
            step = pending_step(user)
            if step is not None and not _open_during(step, request.path_info):
                url = reverse(step)
                if request.method == "GET":
                    url += "?" + urlencode({"next": request.get_full_path()})
                return redirect(url)
        return self.get_response(request)


def _open_during(step: str, path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return True  # a 404 either way
    return bool(declared_access(match.func).public_reason) or match.view_name in STEP_VIEWS[step]
