"""Cross-app events without upward imports: a lower layer announces, a higher layer reacts.

oas and quotas must not import campaigns, yet "OA stopped", "template can no longer send" and
"guardrail tripped" must pause campaigns in the same transaction. The announcing service calls
`emit(EVENT, **payload)`; the reacting app connects its receiver in its AppConfig.ready():

    hooks.connect(hooks.OA_SENDS_STOPPED, pause_campaigns_of_stopped_oa)

Receivers run synchronously, inside the caller's transaction, in connection order; `emit` returns
their results so the announcer can record what happened (e.g. how many campaigns were paused).
Payloads are plain values (ids, strings), never model instances of the receiving app.
"""

from collections import defaultdict
from collections.abc import Callable

# The events, named once (payload keys in the comment).
OA_SENDS_STOPPED = "oa.sends_stopped"  # oa_id, reason, actor
TEMPLATE_UNSENDABLE = "template.unsendable"  # template_id, reason, actor
GUARDRAIL_TRIPPED = "quotas.guardrail_tripped"  # oa_id, day, reason, actor
# Announcements that people should hear about (alerts connects to them; receivers return []).
# oa_id, day, kind ("guardrail" | "violation"), message, campaigns_paused
QUALITY_ALERT_RAISED = "quotas.quality_alert"
LEVEL_CHANGED = "quotas.level_changed"  # oa_id, change_id, day, old_limit, new_limit, reason, note
OA_NEEDS_REAUTHORISATION = "oas.needs_reauthorisation"  # oa_id, reason
CAMPAIGN_PAUSED = "campaigns.paused"  # campaign_id, reason, actor
CAMPAIGN_FINISHED = "campaigns.finished"  # campaign_id, status, counts (state -> messages)
EVENTS = frozenset(
    {
        OA_SENDS_STOPPED,
        TEMPLATE_UNSENDABLE,
        GUARDRAIL_TRIPPED,
        QUALITY_ALERT_RAISED,
        LEVEL_CHANGED,
        OA_NEEDS_REAUTHORISATION,
        CAMPAIGN_PAUSED,
        CAMPAIGN_FINISHED,
    }
)

_receivers: dict[str, list[Callable]] = defaultdict(list)


def connect(event: str, receiver: Callable) -> None:
    """Register `receiver(**payload)` for `event`; connecting the same receiver twice is a no-op."""
    if event not in EVENTS:
        raise ValueError(f"unknown hook event {event!r}")
    if receiver not in _receivers[event]:
        _receivers[event].append(receiver)


def emit(event: str, **payload) -> list:
    """Call every receiver of `event` with `payload`; their results, in connection order."""
    if event not in EVENTS:
        raise ValueError(f"unknown hook event {event!r}")
    return [receiver(**payload) for receiver in list(_receivers[event])]
