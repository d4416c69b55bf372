"""A lean WSGI front for the hot send endpoints: the same views, without Django's request handling.

A send is a few hundred microseconds of our own work; Django's handler around it (WSGIRequest,
URL resolution, the middleware chain, request signals) cost about as much again. For the POST send
paths below the front builds a small request object, runs what the middleware would (the cache
sync, the fault injection, the Content-Security-Policy header) and calls the view itself; every
other request goes to Django unchanged. The views, their checks and their error codes are the same
objects either way.
"""

import atexit
import cProfile
import logging
import os
import threading
import time
from functools import cached_property

from django.db import connection
from django.http import QueryDict

from sandbox import runtime
from sandbox.middleware import fault_response

log = logging.getLogger(__name__)

CSP = ("Content-Security-Policy", "")  # filled from the product's CSP middleware at import


class Headers:
    """request.headers as Django exposes it: case-insensitive, `-` and `_` alike."""

    __slots__ = ("environ",)

    def __init__(self, environ):
        self.environ = environ

    def get(self, name: str, default=None):
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        return self.environ.get(key, default)

    def __getitem__(self, name: str):
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None


class LeanRequest:
    """What the send views read from a request: method, path, headers, body (and GET, META)."""

    def __init__(self, environ):
        self.environ = self.META = environ
        self.method = environ["REQUEST_METHOD"].upper()
        self.path = self.path_info = environ.get("PATH_INFO", "/")
        self.headers = Headers(environ)

    @cached_property
    def body(self) -> bytes:
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        return self.environ["wsgi.input"].read(length) if length > 0 else b""

    @cached_property
    def GET(self):  # noqa: N802 (Django's name)
        return QueryDict(self.environ.get("QUERY_STRING", ""))


def _routes() -> dict:
    from sandbox import infobip_views, sms_views, zalo_views

    return {
        "/zalo/message/template": zalo_views.send_template,
        "/zalo/message/template/dev": zalo_views.send_template_dev,
        "/zalo/message/template/hashphone": zalo_views.send_hashphone,
        "/zalo/message/template/hash_phone": zalo_views.send_hashphone,
        "/zalo/message/template/rsa": zalo_views.send_rsa,
        "/zalo/rsa/message/template": zalo_views.send_rsa,
        "/zalo/v3.0/oa/message/template": zalo_views.send_uid,
        "/infobip/zalo/2/messages": infobip_views.send_messages,
        "/infobip/sms/3/messages": sms_views.send_sms,
    }


def wrap(django_application):
    """The sandbox's WSGI application: hot POST sends served here, everything else by Django."""
    from zalo_admin.middleware import CONTENT_SECURITY_POLICY

    application = _front(django_application, _routes(), (CSP[0], CONTENT_SECURITY_POLICY))
    if os.environ.get("SANDBOX_PROFILE_DIR"):
        return _profiled(application, os.environ["SANDBOX_PROFILE_DIR"])
    return application


def _front(django_application, routes: dict, csp: tuple):
    from sandbox.urls import server_error

    def application(environ, start_response):
        view = routes.get(environ.get("PATH_INFO", ""))
        if view is None or environ.get("REQUEST_METHOD") != "POST" or environ.get("SCRIPT_NAME"):
            return django_application(environ, start_response)
        request = LeanRequest(environ)
        try:
            runtime.sync()
            response = fault_response(request.path, environ)
            if response is None:
                response = view(request)
        except Exception:
            log.exception("sandbox %s failed", request.path)
            connection.close_if_unusable_or_obsolete()
            response = server_error(request)
        headers = list(response.items())
        if "Content-Security-Policy" not in response:
            headers.append(csp)
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return [response.content]

    return application


def _profiled(application, directory: str):
    """SANDBOX_PROFILE_DIR=<dir>: every request (fast or Django) runs under its thread's cProfile
    profile, timed in thread CPU time; each process writes <dir>/<pid>-<thread>.prof at exit (read
    with pstats)."""
    local = threading.local()
    profiles = []

    def profiled(environ, start_response):
        profile = getattr(local, "profile", None)
        if profile is None:
            profile = local.profile = cProfile.Profile(time.thread_time)  # CPU, not waits
            profiles.append((threading.get_ident(), profile))
        profile.enable()
        try:
            return application(environ, start_response)
        finally:
            profile.disable()

    @atexit.register
    def _dump():
        for ident, profile in profiles:
            profile.dump_stats(os.path.join(directory, f"{os.getpid()}-{ident}.prof"))

    return profiled
