"""Incoming provider webhooks: verify, store once, answer 200 fast, process in a job.

The signature arithmetic and the payload checks are pure functions in providers.signatures; this
module finds the OA they are checked against and stores the event.

Zalo (`POST /webhooks/zalo/`): header `X-ZEvent-Signature: mac=<hex>` where
mac = sha256(app_id + raw body + timestamp + OA secret key) — plain SHA-256, not HMAC — and
`timestamp` is the body's own field (epoch ms). The secret is the OA's `oa_secret_key` (the key on
the app's Webhook page), falling back to the app secret; the first term is the app id unless
settings.ZALO_WEBHOOK_SIGNATURE_FIRST_TERM = "oa_id" (sources disagree, §1.14). Events older than
settings.WEBHOOK_MAX_AGE_SECONDS (default 2 h: Zalo's last retry comes 1 h after the first try, and
replays are harmless because each event is stored once) or as far in the future are refused as stale.

Binding: an event acts on exactly one OA, the one whose own credentials verified its signature
(`WebhookEvent.oa`); handlers use that and never look an OA up from the payload. An event that
names another OA (or two different ones) is refused with 403, stored nowhere and logged, even when
its signature is valid for some OA of the same app: one OA's key is no proof for another OA.

Infobip (`POST /webhooks/infobip/<token>/`): Infobip signs nothing, so the URL itself is the secret:
a random per-OA token (issued by `oas.services.report_urls`), looked up by its hash; the token
alone decides the OA, and a body whose results name another sender is refused (403, not stored). The
token is redacted from every log line (providers/log_filters.py). Infobip reports carry no send
timestamp and are retried for hours, so there is no age window there.

Both: a replayed or redelivered event maps to the same `unique_key` and is answered 200 without
being processed again.
"""

import hashlib
import json
import logging
import re
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from oas.models import OACredentials
from providers import handlers
from providers.jobs import process_webhook_event
from providers.models import WebhookEvent
from providers.signatures import (
    infobip_named_senders,
    infobip_token_hash,
    presented_zalo_signature,
    zalo_event_time,
    zalo_named_oa_ids,
    zalo_signature_matches,
)
from zalo_admin.jobs import enqueue
from zalo_admin.roles import public_view

log = logging.getLogger(__name__)


class Rejected(Exception):
    def __init__(self, status: int, reason: str, detail: str = ""):
        super().__init__(reason)
        self.status = status
        self.reason = reason  # answered to the caller
        self.detail = detail  # for our log only (never a secret)


def max_age_seconds() -> int:
    return settings.WEBHOOK_MAX_AGE_SECONDS


def _listed(values: set[str]) -> str:
    """Ids from a payload, quoted (no forged log lines) and bounded, for a log message."""
    return repr(sorted(value[:64] for value in values)[:5])


def _parse(raw: bytes) -> dict:
    try:
        payload = json.loads(raw.decode("utf-8"))  # strict UTF-8: the raw body is stored as text
    except (ValueError, UnicodeDecodeError):
        raise Rejected(400, "body is not UTF-8 JSON") from None
    if not isinstance(payload, dict):
        raise Rejected(400, "body is not a JSON object")
    if _unstorable(payload):
        # PostgreSQL text cannot hold U+0000 nor a lone surrogate (\\ud800-\\udfff, valid JSON
        # escapes but no character), and no provider sends them: refuse rather than fail later.
        raise Rejected(400, "body contains a NUL character or a lone surrogate")
    return payload


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable(value) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(item) for item in value)
    return False


def verify_zalo(raw: bytes, signature: str, now: datetime | None = None) -> tuple[dict, OACredentials]:
    """The payload and the credentials whose secret signed it, which belong to the one OA the event
    may act on; Rejected otherwise (also when the event names an OA those credentials are not for)."""
    payload = _parse(raw)
    app_id = str(payload.get("app_id") or "")
    timestamp = str(payload.get("timestamp") or "")
    if not app_id or not timestamp.isdigit():
        raise Rejected(400, "app_id or timestamp missing")
    given = presented_zalo_signature(signature)
    named = zalo_named_oa_ids(payload)
    candidates = list(OACredentials.objects.select_related("oa").filter(app_id=app_id))
    # Several OAs can share one app (and one key, when it is the app secret): the OA the event names
    # is tried first, so its own credentials bind the event when they verify it.
    candidates.sort(key=lambda c: (c.oa.zalo_oa_id not in named, c.pk))
    first_term_kind = settings.ZALO_WEBHOOK_SIGNATURE_FIRST_TERM
    matched = None
    for creds in candidates:
        secret = creds.oa_secret_key or creds.app_secret
        if not secret:
            continue
        first = creds.oa.zalo_oa_id if first_term_kind == "oa_id" else app_id
        if zalo_signature_matches(given, first_term=first, raw_body=raw, timestamp=timestamp, secret=secret):
            matched = creds
            break
    if matched is None:
        raise Rejected(403, "signature does not match")
    if named and named != {matched.oa.zalo_oa_id}:
        raise Rejected(
            403,
            "the event names an OA its signature does not belong to",
            f"event {str(payload.get('event_name'))[:64]!r} of app {app_id[:64]!r} was verified by the key "
            f"of OA #{matched.oa_id} ({matched.oa.zalo_oa_id}) but names {_listed(named)}",
        )
    now = now or timezone.now()
    try:
        sent = zalo_event_time(timestamp)
    except ValueError:
        raise Rejected(400, "timestamp out of range") from None
    age = (now - sent).total_seconds()
    if abs(age) > max_age_seconds():
        raise Rejected(400, f"stale event ({int(age)} s old)")
    return payload, matched


def zalo_unique_key(payload: dict, raw: bytes, oa_pk: int) -> str:
    """One key per event and bound OA: the msg id for per-message events (survives a re-signed retry),
    else the body. The OA is part of it, so one OA's events can never pass for another's redelivery."""
    event_name = str(payload.get("event_name") or "")
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    msg_id = message.get("msg_id") or payload.get("msg_id")
    if msg_id and event_name in ("user_received_message", "user_feedback", "user_click_response_button"):
        extra = str(message.get("submit_time") or "") if event_name == "user_click_response_button" else ""
        basis = f"zalo|{oa_pk}|{event_name}|{msg_id}|{extra}".encode()
    else:
        basis = f"zalo|{oa_pk}|body|".encode() + raw
    return hashlib.sha256(basis).hexdigest()


def _store_and_queue(*, provider, oa, event_name, key, raw, event_timestamp) -> bool:
    """Store the event once; True when it is new. Queue its processing after commit."""
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                provider=provider,
                oa=oa,
                event_name=event_name[:64],
                unique_key=key,
                raw_body=raw.decode("utf-8"),
                event_timestamp=event_timestamp,
            )
    except IntegrityError:
        return False
    try:
        enqueue(process_webhook_event, event.pk, queue="high")
    except Exception:
        # The row is safe in the database; requeue_unprocessed_webhook_events picks it up later.
        log.exception("could not enqueue webhook event #%s", event.pk)
    return True


def _answer(new: bool) -> JsonResponse:
    return JsonResponse({"ok": True, "duplicate": not new})


@public_view("called by Zalo, authenticated by the event's signature (X-ZEvent-Signature)")
@csrf_exempt
@require_POST
def zalo_webhook(request):
    raw = request.body
    try:
        payload, creds = verify_zalo(raw, request.headers.get("X-ZEvent-Signature", ""))
    except Rejected as exc:
        log.warning("refused Zalo webhook: %s%s", exc.reason, f" ({exc.detail})" if exc.detail else "")
        return JsonResponse({"ok": False, "error": exc.reason}, status=exc.status)
    new = _store_and_queue(
        provider=WebhookEvent.Provider.ZALO,
        oa=creds.oa,  # the OA whose key verified the event, and no other
        event_name=str(payload.get("event_name") or "unknown"),
        key=zalo_unique_key(payload, raw, creds.oa_id),
        raw=raw,
        event_timestamp=zalo_event_time(payload["timestamp"]),
    )
    return _answer(new)


def infobip_event_name(payload: dict) -> str:
    results = payload.get("results")
    first = results[0] if isinstance(results, list) and results and isinstance(results[0], dict) else {}
    if "message" in first or "integrationType" in first:
        return handlers.INFOBIP_INBOUND_MESSAGE
    return handlers.INFOBIP_DELIVERY_REPORT


def infobip_sender_of(creds: OACredentials) -> str:
    """The sender Infobip knows the OA by (as providers.infobip.InfobipClient sends with)."""
    return creds.infobip_sender or creds.oa.zalo_oa_id


@public_view("called by Infobip, authenticated by the secret per-OA token in its URL")
@csrf_exempt
@require_POST
def infobip_webhook(request, token: str):
    creds = (
        OACredentials.objects.select_related("oa")
        .filter(infobip_webhook_token_hash=infobip_token_hash(token))
        .first()
        if token
        else None
    )
    if creds is None:
        log.warning("refused Infobip webhook with an unknown URL token")
        return JsonResponse({"ok": False, "error": "unknown webhook"}, status=404)
    raw = request.body
    try:
        payload = _parse(raw)
    except Rejected as exc:
        return JsonResponse({"ok": False, "error": exc.reason}, status=exc.status)
    if not isinstance(payload.get("results"), list):
        return JsonResponse({"ok": False, "error": "no results"}, status=400)
    foreign = infobip_named_senders(payload) - {infobip_sender_of(creds)}
    if foreign:
        log.warning(
            "refused Infobip webhook for OA #%s: its results name sender %s, not the OA's own",
            creds.oa_id,
            _listed(foreign),
        )
        return JsonResponse({"ok": False, "error": "the results name another sender"}, status=403)
    new = _store_and_queue(
        provider=WebhookEvent.Provider.INFOBIP,
        oa=creds.oa,
        event_name=infobip_event_name(payload),
        key=hashlib.sha256(b"infobip|" + str(creds.oa_id).encode() + b"|" + raw).hexdigest(),
        raw=raw,
        event_timestamp=None,
    )
    return _answer(new)
