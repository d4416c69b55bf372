"""Logging filters that keep webhook secrets out of the logs.

The Infobip webhook URL `/webhooks/infobip/<token>/` is itself the secret (Infobip signs nothing), and
Django writes request paths to its logs: `django.request` on every 4xx/5xx ("Not Found:
/webhooks/infobip/<token>/"), `django.server` for every request runserver answers. The filter
rewrites the token segment in a record's message and arguments before any handler formats it.
Installed in settings.LOGGING on the console handler and on those two loggers (a logger's filter runs
before the record reaches any handler, including the ones Django attaches by itself).
"""

import logging
import re

REDACTED = "[redacted]"
INFOBIP_TOKEN_IN_PATH = re.compile(r"(/webhooks/infobip/)[^/?#\s\"'<>]+", re.IGNORECASE)


def redact(text: str) -> str:
    return INFOBIP_TOKEN_IN_PATH.sub(rf"\g<1>{REDACTED}", text)


def _redacted_arg(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value  # keeps %d / %.1f formatting working
    try:
        text = str(value)  # e.g. a WSGIRequest, whose repr holds the path
    except Exception:
        return value
    cleaned = redact(text)
    return cleaned if cleaned != text else value


class RedactInfobipWebhookToken(logging.Filter):
    """Replace the token of `/webhooks/infobip/<token>/` with `[redacted]`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redacted_arg(record.msg)  # a str, or e.g. an exception logged as the message
        if isinstance(record.args, dict):
            record.args = {key: _redacted_arg(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redacted_arg(value) for value in record.args)
        return True
