"""Webhook authenticity, pure (no ORM, no settings): what providers.webhooks checks an event with.

- Zalo signs `X-ZEvent-Signature: mac=<hex>`, mac = sha256(first term + raw body + timestamp +
  secret) — plain SHA-256, not HMAC (provider-apis.md §1.14); the first term is the app id (or the
  OA id, where configured), the secret the OA's webhook key or the app secret.
- Infobip signs nothing: the per-OA token in the webhook URL is the secret, stored only as its hash.
- An event is bound to the one OA whose key verified it: the OA ids (Zalo) or senders (Infobip) the
  payload names must be that OA's.
"""

import hashlib
import hmac
from datetime import UTC, datetime


def zalo_signature(first_term: str, raw_body: bytes, timestamp: str, secret: str) -> str:
    """The `X-ZEvent-Signature` value Zalo sends for this body."""
    digest = hashlib.sha256(first_term.encode() + raw_body + timestamp.encode() + secret.encode()).hexdigest()
    return f"mac={digest}"


def presented_zalo_signature(header: str) -> str:
    """The header's signature in the form `zalo_signature` returns (a bare hex digest gets `mac=`)."""
    given = header.strip().lower()
    return given if given.startswith("mac=") else f"mac={given}"


def zalo_signature_matches(
    presented: str, *, first_term: str, raw_body: bytes, timestamp: str, secret: str
) -> bool:
    """Whether `presented` (see `presented_zalo_signature`) is the body's signature with `secret`,
    compared in constant time."""
    return hmac.compare_digest(zalo_signature(first_term, raw_body, timestamp, secret), presented)


def zalo_event_time(timestamp: str) -> datetime:
    """When Zalo says it sent the event (`timestamp`: epoch milliseconds); ValueError when it is not
    a time at all (too large, negative beyond range)."""
    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, tz=UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError("timestamp out of range") from exc


# Where a Zalo event names its OA (provider-apis.md §1.14): `oa_id` (template status and quality,
# user_feedback, user_click_response_button), `oaId` (change_oa_daily_quota), `sender.id` when the
# OA sent the message the event is about (user_received_message: `recipient.id` is then the phone),
# and `recipient.id` when a user wrote to the OA (`sender.id` is then the user; Zalo's OA-API
# convention for `user_send_*` and the two events below, not seen in the ZNS sources).
USER_TO_OA_EVENT_PREFIX = "user_send_"
USER_TO_OA_EVENTS = frozenset({"user_submit_info", "user_reacted_message"})


def zalo_named_oa_ids(payload: dict) -> set[str]:
    """Every OA id the event names; empty when it names none."""
    named = {str(payload[key]) for key in ("oa_id", "oaId") if payload.get(key) not in (None, "")}
    event_name = str(payload.get("event_name") or "")
    user_to_oa = event_name.startswith(USER_TO_OA_EVENT_PREFIX) or event_name in USER_TO_OA_EVENTS
    party = payload.get("recipient" if user_to_oa else "sender")
    if isinstance(party, dict) and party.get("id") not in (None, ""):
        named.add(str(party["id"]))
    return named


def infobip_token_hash(token: str) -> str:
    """What is stored of an OA's Infobip webhook URL token, and looked up when a report arrives."""
    return hashlib.sha256(token.encode()).hexdigest()


def infobip_named_senders(payload: dict) -> set[str]:
    """The OA senders the results name (zalo-openapi.json webhooks): an inbound message's `to` ("Sender
    provided during the activation process"; its `sender` is the user). A Zalo delivery report names
    none (`to` is the recipient), so a `sender` / `from` it carries anyway is taken as one; an SMS
    failover report's `sender` is the SMS sender id, not the OA's, and is left out."""
    named = set()
    for result in payload.get("results") or []:
        if not isinstance(result, dict):
            continue
        if "message" in result or "integrationType" in result:
            fields = ("to",)
        elif str(result.get("channel") or "").upper() == "SMS":
            fields = ()
        else:
            fields = ("sender", "from")
        named.update(str(result[f]) for f in fields if result.get(f) not in (None, ""))
    return named
