"""Incoming provider webhooks: verify, store once, answer 200 fast, process in a job.

Zalo (`POST /webhooks/zalo/`): header `X-ZEvent-Signature: mac=<hex>` where
mac = sha256(app_id + raw body + timestamp + OA secret key) — plain SHA-256, not HMAC — and
`timestamp` is the body's own field (epoch ms). The secret is the OA's `oa_secret_key` (the key on
the app's Webhook page), falling back to the app secret; the first term is the app id unless
settings.ZALO_WEBHOOK_SIGNATURE_FIRST_TERM = "oa_id" (sources disagree, §1.14). Events older than
settings.WEBHOOK_MAX_AGE_SECONDS (default 2 h: Zalo's last retry comes 1 h after the first try, and
replays are harmless because each event is stored once) or as far in the future are refused as stale.

Infobip (`POST /webhooks/infobip/<token>/`): Infobip signs nothing, so the URL itself is the secret:
a random per-OA token (see `providers.services.issue_infobip_webhook_token`), stored hashed. Infobip
reports carry no send timestamp and are retried for hours, so there is no age window there.

Both: a replayed or redelivered event maps to the same `unique_key` and is answered 200 without
being processed again.
"""

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from oas.models import OACredentials, OfficialAccount
from providers import handlers
from providers.jobs import process_webhook_event
from providers.models import WebhookEvent
from zalo_admin.jobs import enqueue

log = logging.getLogger(__name__)


class Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def max_age_seconds() -> int:
    return settings.WEBHOOK_MAX_AGE_SECONDS


def zalo_signature(first_term: str, raw_body: bytes, timestamp: str, secret: str) -> str:
    digest = hashlib.sha256(first_term.encode() + raw_body + timestamp.encode() + secret.encode()).hexdigest()
    return f"mac={digest}"


def _parse(raw: bytes) -> dict:
    try:
        payload = json.loads(raw.decode("utf-8"))  # strict UTF-8: the raw body is stored as text
    except (ValueError, UnicodeDecodeError):
        raise Rejected(400, "body is not UTF-8 JSON") from None
    if not isinstance(payload, dict):
        raise Rejected(400, "body is not a JSON object")
    return payload


def _zalo_oa_id(payload: dict) -> str:
    sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
    return str(payload.get("oa_id") or payload.get("oaId") or sender.get("id") or "")


def verify_zalo(raw: bytes, signature: str, now: datetime | None = None) -> tuple[dict, OACredentials]:
    """The payload and the credentials whose secret signed it; Rejected otherwise."""
    payload = _parse(raw)
    app_id = str(payload.get("app_id") or "")
    timestamp = str(payload.get("timestamp") or "")
    if not app_id or not timestamp.isdigit():
        raise Rejected(400, "app_id or timestamp missing")
    given = signature.strip().lower()
    if not given.startswith("mac="):
        given = f"mac={given}"
    oa_id = _zalo_oa_id(payload)
    candidates = list(OACredentials.objects.select_related("oa").filter(app_id=app_id))
    # Several OAs can share one app: prefer the one the event is about, but any matching key is proof.
    candidates.sort(key=lambda c: c.oa.zalo_oa_id != oa_id)
    first_term_kind = settings.ZALO_WEBHOOK_SIGNATURE_FIRST_TERM
    matched = None
    for creds in candidates:
        secret = creds.oa_secret_key or creds.app_secret
        if not secret:
            continue
        first = creds.oa.zalo_oa_id if first_term_kind == "oa_id" else app_id
        if hmac.compare_digest(zalo_signature(first, raw, timestamp, secret), given):
            matched = creds
            break
    if matched is None:
        raise Rejected(403, "signature does not match")
    now = now or timezone.now()
    try:
        sent = datetime.fromtimestamp(int(timestamp) / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise Rejected(400, "timestamp out of range") from None
    age = (now - sent).total_seconds()
    if abs(age) > max_age_seconds():
        raise Rejected(400, f"stale event ({int(age)} s old)")
    return payload, matched


def zalo_unique_key(payload: dict, raw: bytes) -> str:
    """One key per event: the msg id for per-message events (survives a re-signed retry), else the body."""
    event_name = str(payload.get("event_name") or "")
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    msg_id = message.get("msg_id") or payload.get("msg_id")
    if msg_id and event_name in ("user_received_message", "user_feedback", "user_click_response_button"):
        extra = str(message.get("submit_time") or "") if event_name == "user_click_response_button" else ""
        basis = f"zalo|{event_name}|{msg_id}|{extra}".encode()
    else:
        basis = b"zalo|body|" + raw
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


@csrf_exempt
@require_POST
def zalo_webhook(request):
    raw = request.body
    try:
        payload, creds = verify_zalo(raw, request.headers.get("X-ZEvent-Signature", ""))
    except Rejected as exc:
        log.warning("refused Zalo webhook: %s", exc.reason)
        return JsonResponse({"ok": False, "error": exc.reason}, status=exc.status)
    oa_id = _zalo_oa_id(payload)
    oa = OfficialAccount.objects.filter(zalo_oa_id=oa_id).first() if oa_id else None
    new = _store_and_queue(
        provider=WebhookEvent.Provider.ZALO,
        oa=oa or creds.oa,
        event_name=str(payload.get("event_name") or "unknown"),
        key=zalo_unique_key(payload, raw),
        raw=raw,
        event_timestamp=datetime.fromtimestamp(int(payload["timestamp"]) / 1000, tz=UTC),
    )
    return _answer(new)


def infobip_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def infobip_event_name(payload: dict) -> str:
    results = payload.get("results")
    first = results[0] if isinstance(results, list) and results and isinstance(results[0], dict) else {}
    if "message" in first or "integrationType" in first:
        return handlers.INFOBIP_INBOUND_MESSAGE
    return handlers.INFOBIP_DELIVERY_REPORT


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
    new = _store_and_queue(
        provider=WebhookEvent.Provider.INFOBIP,
        oa=creds.oa,
        event_name=infobip_event_name(payload),
        key=hashlib.sha256(b"infobip|" + str(creds.oa_id).encode() + b"|" + raw).hexdigest(),
        raw=raw,
        event_timestamp=None,
    )
    return _answer(new)
