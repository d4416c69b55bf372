"""Our middleware: Content-Security-Policy, the session idle timeout, no caching of signed-in pages."""

import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.utils.cache import add_never_cache_headers
from django.utils.translation import ngettext

logger = logging.getLogger("zalo_admin.auth")

# Content-Security-Policy: no inline scripts or styles, nothing loaded from other origins.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


# Unix time (seconds) of the session's latest request, kept in the session itself.
LAST_ACTIVITY_KEY = "zalo_admin_last_activity"
# The last activity is refreshed at most this often (a session may end this much early).
ACTIVITY_WRITE_SECONDS = 15


class SessionIdleTimeoutMiddleware:
    """Log out a session left idle longer than settings.SESSION_IDLE_TIMEOUT_SECONDS.

    Requests of a signed-in user refresh the session's last activity (at most every
    ACTIVITY_WRITE_SECONDS); the next request after a longer pause flushes the session (the user
    then meets the login page, with a message saying why).
    Sits after the authentication and message middleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        now = int(time.time())
        if request.user.is_authenticated:
            timeout = settings.SESSION_IDLE_TIMEOUT_SECONDS
            last_activity = request.session.get(LAST_ACTIVITY_KEY)
            if isinstance(last_activity, int) and now - last_activity > timeout:
                logger.info(
                    "Session of %r ended after %d s of inactivity",
                    request.user.get_username(),
                    now - last_activity,
                )
                logout(request)
                minutes = max(1, timeout // 60)
                messages.info(
                    request,
                    ngettext(
                        "You were logged out after %(minutes)d minute of inactivity. Please log in again.",
                        "You were logged out after %(minutes)d minutes of inactivity. Please log in again.",
                        minutes,
                    )
                    % {"minutes": minutes},
                )
        response = self.get_response(request)
        if request.user.is_authenticated:  # signed in before this request or by it
            # Written when it moved on by ACTIVITY_WRITE_SECONDS (or the session is saved anyway):
            # a session UPDATE and its commit on every page view cost more than many pages' queries.
            last_activity = request.session.get(LAST_ACTIVITY_KEY)
            step = min(ACTIVITY_WRITE_SECONDS, settings.SESSION_IDLE_TIMEOUT_SECONDS // 10)
            if not isinstance(last_activity, int) or now - last_activity >= step or request.session.modified:
                request.session[LAST_ACTIVITY_KEY] = now
        return response


class NoStoreForAuthenticatedMiddleware:
    """Pages answered to a signed-in user are never stored by the browser or a proxy
    (Cache-Control: no-store, private...): no dashboard data in a shared machine's cache or history."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
