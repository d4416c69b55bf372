"""Simulated recipients: every outcome is a pure function of (people seed, recipient key).

Mapping (documented in sandbox/README.md): h = SHA-256("<seed>:<key>") as bytes. Each decision
reads its own 4 bytes as an unsigned big-endian integer u and compares u / 2**32 with a rate:

| bytes  | decision     | true when u/2**32 < rates[...]                             |
|--------|--------------|-------------------------------------------------------------|
| 0–3    | not on Zalo  | not_on_zalo  (send answers -118)                            |
| 4–7    | opted out    | opted_out    (send answers -141)                            |
| 8–11   | unreachable  | unreachable  (accepted, never delivered; Infobip: EXPIRED)  |
| 12–15  | follower     | follower     (marketing goes to the inbox, else Business Box)|
| 16–19  | reads        | read                                                        |
| 20–23  | bad report   | bad_report   (reports the message as bad after delivery)    |
| 24–27  | delivery delay: lo + u % (hi - lo) ms from delivery_delay_ms, times delay_factor |
| 28–31  | read / bad-report delay, the same way from read_delay_ms / bad_report_delay_ms   |

A pinned SandboxRecipient row overrides any of these fields for its key.
"""

import hashlib

FIELDS = ("not_on_zalo", "opted_out", "unreachable", "follower", "read", "bad_report")


def _unit(digest: bytes, index: int) -> float:
    return int.from_bytes(digest[index * 4 : index * 4 + 4], "big") / 2**32


def _delay(digest: bytes, index: int, bounds, factor: float) -> float:
    lo, hi = int(bounds[0]), int(bounds[1])
    span = max(1, hi - lo)
    value = int.from_bytes(digest[index * 4 : index * 4 + 4], "big")
    return (lo + value % span) * factor / 1000.0


def derive(seed: str, key: str, cfg: dict) -> dict:
    """The profile of one recipient under the configuration `cfg` (rates, delays, seed)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    rates = cfg["rates"]
    factor = float(cfg.get("delay_factor", 1.0))
    profile = {name: _unit(digest, index) < float(rates.get(name, 0)) for index, name in enumerate(FIELDS)}
    profile["delivery_delay"] = _delay(digest, 6, cfg["delivery_delay_ms"], factor)
    profile["read_delay"] = _delay(digest, 7, cfg["read_delay_ms"], factor)
    profile["bad_report_delay"] = _delay(digest, 7, cfg["bad_report_delay_ms"], factor)
    return profile


_derived: dict = {}
_derived_cfg: list = [None]  # the configuration the memo was computed under (held: never reused)


def profile_for(key: str, cfg: dict) -> dict:
    from sandbox import runtime
    from sandbox.models import SandboxRecipient

    if _derived_cfg[0] is not cfg or len(_derived) > 200_000:
        _derived.clear()
        _derived_cfg[0] = cfg
    derived = _derived.get(key)
    if derived is None:
        derived = _derived[key] = derive(cfg["people_seed"], key, cfg)
    profile = dict(derived)
    pinned = runtime.cached(
        "recipients", "all", lambda: dict(SandboxRecipient.objects.values_list("key", "profile"))
    )
    profile.update(pinned.get(key, {}))
    return profile
