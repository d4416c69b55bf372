"""Two-factor sign-in pages: the code step of the login, enrolment, recovery codes, resets.

The login: a correct password of a user with an authenticator does not sign in yet. The session
(with a new key) remembers who, for TWO_FACTOR_PENDING_SECONDS, and the code step signs in once a
code matches. Wrong codes are failed logins for django-axes (`user_login_failed`): with the wrong
passwords of the same username and address they lock the pair out, and the lockout page follows.
"""

import io
import time
from base64 import b32encode

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from twofactor import services
from twofactor.forms import CodeForm, EnrolForm, ResetForm, SelfResetForm
from zalo_admin.login_security import lockout_response
from zalo_admin.roles import public_view, require_capability

PENDING_KEY = "twofactor_pending"  # {"user_id", "backend", "since", "next"}
SETUP_SESSION_KEY = "twofactor_setup_secret"  # noqa: S105 - a session key name, not a secret
SHOW_CODES_KEY = "twofactor_show_codes"


# --- the login --------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login; for a user with an authenticator the password is only the first step."""

    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if not services.is_enrolled(user):
            return super().form_valid(form)  # signed in; the gate sends a required user to enrolment
        self.request.session.cycle_key()  # no fixation of the half-signed-in session
        self.request.session[PENDING_KEY] = {
            "user_id": user.pk,
            "backend": user.backend,
            "since": int(time.time()),
            "next": self.get_success_url(),
        }
        return redirect("twofactor:verify")


def _pending(request):
    """(user, next URL) of a password accepted by LoginView and still waiting for its code."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None, ""
    if int(time.time()) - int(pending.get("since", 0)) > settings.TWO_FACTOR_PENDING_SECONDS:
        del request.session[PENDING_KEY]
        return None, ""
    user = get_user_model()._default_manager.filter(pk=pending.get("user_id"), is_active=True).first()
    return user, str(pending.get("next") or "")


def _safe_next(request, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def _client_address(request) -> str | None:
    return getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")


@public_view("the code step of signing in: only a session whose password was just accepted gets further")
def verify(request):
    if request.user.is_authenticated:  # signed in elsewhere (admin login, older session) without a code
        if request.user.is_verified() or not services.is_enrolled(request.user):
            return redirect(_safe_next(request, request.GET.get("next", "")))
        user, next_url = request.user, request.GET.get("next", "")
    else:
        user, next_url = _pending(request)
        if user is None or not services.is_enrolled(user):
            request.session.pop(PENDING_KEY, None)
            messages.info(request, _("Please log in again."))
            return redirect("login")
    credentials = {"username": user.get_username()}
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        if not AxesProxyHandler.is_allowed(request, credentials):
            _end_attempt(request)
            return lockout_response(request, credentials=credentials)
        result = None
        if form.is_valid():
            result = services.verify_sign_in(
                user=user, code=form.cleaned_data["code"], ip_address=_client_address(request)
            )
        if result is not None:
            if not request.user.is_authenticated:
                backend = request.session[PENDING_KEY]["backend"]
                request.session.pop(PENDING_KEY, None)
                auth_login(request, user, backend=backend)  # user_logged_in: axes resets the failures
            otp_login(request, result.device)
            if result.recovery_code:
                messages.warning(
                    request,
                    ngettext(
                        "You signed in with a recovery code; %(count)d code is left. "
                        "Create new ones on the two-factor page.",
                        "You signed in with a recovery code; %(count)d codes are left. "
                        "Create new ones on the two-factor page.",
                        result.remaining_codes,
                    )
                    % {"count": result.remaining_codes},
                )
            return redirect(_safe_next(request, next_url))
        # A wrong code is a failed login: counted and audited like a wrong password.
        user_login_failed.send(
            sender=__name__, credentials={**credentials, "two_factor": True}, request=request
        )
        if getattr(request, "axes_locked_out", False):
            _end_attempt(request)
            return lockout_response(request, credentials=credentials)
        wait = services.seconds_until_next_try(user)
        form = CodeForm({"code": "-"})  # the typed code is not shown again
        form.is_valid()
        form.data = {"code": ""}
        form.add_error(
            "code",
            _("That code is not valid. Try the code your app shows now.")
            if not wait
            else ngettext(
                "That code is not valid. Wait %(seconds)d second before the next try.",
                "That code is not valid. Wait %(seconds)d seconds before the next try.",
                wait,
            )
            % {"seconds": wait},
        )
    return render(request, "twofactor/verify.html", {"form": form, "username": user.get_username()})


def _end_attempt(request):
    """A locked-out sign-in starts over from the password (which is refused while the lock lasts)."""
    request.session.pop(PENDING_KEY, None)
    if request.user.is_authenticated:
        logout(request)


# --- enrolment and the account page ------------------------------------------------------------------


def _setup_secret(request) -> str:
    """The secret of the set-up in progress, kept in the session until a code proves the app has it."""
    secret = request.session.get(SETUP_SESSION_KEY)
    if not isinstance(secret, str) or not secret:
        secret = request.session[SETUP_SESSION_KEY] = services.new_secret()
    return secret


def _unsaved_device(request) -> TOTPDevice:
    return TOTPDevice(user=request.user, key=_setup_secret(request), name=services.TOTP_DEVICE_NAME)


def _grouped(text: str) -> str:
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@require_capability("use_two_factor")
def setup(request):
    if services.is_enrolled(request.user):
        messages.info(request, _("Two-factor sign-in is already on."))
        return redirect("twofactor:manage")
    device = _unsaved_device(request)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            enrolment = services.enrol(user=request.user, secret=device.key, code=form.cleaned_data["code"])
        except services.TwoFactorError as error:
            form.add_error("code", str(error))
        else:
            request.session.pop(SETUP_SESSION_KEY, None)
            otp_login(request, enrolment.device)  # this session has just proven the second factor
            request.session[SHOW_CODES_KEY] = enrolment.recovery_codes
            messages.success(request, _("Two-factor sign-in is on."))
            return redirect("twofactor:recovery_codes")
    context = {
        "form": form,
        "manual_key": _grouped(b32encode(device.bin_key).decode()),
        "issuer": settings.OTP_TOTP_ISSUER,
        "required": services.two_factor_required(request.user),
    }
    return render(request, "twofactor/setup.html", context)


@require_capability("use_two_factor")
@require_GET
def setup_qr(request):
    """The set-up's otpauth:// URL as an SVG QR code (an image from our origin: no inline script)."""
    if services.is_enrolled(request.user):
        raise Http404("two-factor sign-in is already on")
    image = qrcode.make(
        _unsaved_device(request).config_url,
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=8,
        border=2,
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return HttpResponse(buffer.getvalue(), content_type="image/svg+xml")


@require_capability("use_two_factor")
def recovery_codes(request):
    """The recovery codes just created, shown once: reloading the page does not show them again."""
    codes = request.session.pop(SHOW_CODES_KEY, None) or []
    return render(request, "twofactor/recovery_codes.html", {"codes": codes})


@require_capability("use_two_factor")
def manage(request):
    user = request.user
    reset_form = SelfResetForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "recovery_codes":
            if not user.is_verified():
                messages.error(request, _("Sign in with your code first."))
                return redirect("twofactor:manage")
            try:
                request.session[SHOW_CODES_KEY] = services.regenerate_recovery_codes(user=user)
            except services.TwoFactorError as error:
                messages.error(request, str(error))
                return redirect("twofactor:manage")
            return redirect("twofactor:recovery_codes")
        if action == "reset":
            reset_form = SelfResetForm(request.POST)
            if reset_form.is_valid() and user.check_password(reset_form.cleaned_data["password"]):
                # Stored untranslated: the audit entry's parameters are language-neutral.
                removed = services.reset_two_factor(
                    actor=user, user=user, reason="reset by the user on the two-factor page"
                )
                if removed:
                    messages.success(request, _("Two-factor sign-in is off. You can set it up again."))
                return redirect("twofactor:manage")
            if reset_form.is_valid():
                reset_form.add_error("password", _("That is not your password."))
        else:
            messages.error(request, _("Choose an action."))
            return redirect("twofactor:manage")
    device = services.totp_device(user)
    context = {
        "device": device,
        "remaining_codes": services.remaining_recovery_codes(user) if device else 0,
        "required": services.two_factor_required(user),
        "reset_form": reset_form,
    }
    return render(request, "twofactor/manage.html", context)


# --- superusers: another user's reset -----------------------------------------------------------------


@require_capability("reset_two_factor")
@require_GET
def users(request):
    user_model = get_user_model()
    enrolled = dict(TOTPDevice.objects.filter(confirmed=True).values_list("user_id", "last_used_at"))
    people = [
        {"user": person, "enrolled": person.pk in enrolled, "last_used_at": enrolled.get(person.pk)}
        for person in user_model._default_manager.filter(is_active=True)
        .order_by(user_model.USERNAME_FIELD)
        .prefetch_related("groups")
    ]
    return render(request, "twofactor/users.html", {"people": people, "form": ResetForm()})


@require_capability("reset_two_factor")
@require_POST
def reset_user(request, user_id):
    target = get_object_or_404(get_user_model(), pk=user_id)
    form = ResetForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason for the reset."))
        return redirect("twofactor:users")
    removed = services.reset_two_factor(actor=request.user, user=target, reason=form.cleaned_data["reason"])
    if removed:
        messages.success(
            request, _("Two-factor sign-in of %(username)s is reset.") % {"username": target.get_username()}
        )
    else:
        messages.info(
            request,
            _("%(username)s had no two-factor sign-in; nothing changed.")
            % {"username": target.get_username()},
        )
    return redirect("twofactor:users")
