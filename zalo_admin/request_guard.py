"""Refuse, once for every view, request parameters no field can hold.

A NUL character (`%00`) in a query-string or form parameter reaches filters and saves as text that
PostgreSQL refuses ("A string literal cannot contain NUL (0x00) characters"): a 500 for what is only
bad input. `RejectNulCharactersMiddleware` answers such a request 400 before the view runs.
"""

from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _


def _holds_nul(params) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in params.lists())


class RejectNulCharactersMiddleware:
    """400 for a NUL in the key or value of a GET parameter or, except for views that read their raw
    body themselves (CSRF-exempt webhooks, whose body must stay unread), of a POST parameter."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        suspect = _holds_nul(request.GET)
        if not suspect and request.method == "POST" and not getattr(view_func, "csrf_exempt", False):
            suspect = _holds_nul(request.POST)
        if suspect:
            message = _("The request holds a NUL character (code 0), which no field accepts. Remove it.")
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return None
