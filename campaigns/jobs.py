"""RQ entry points of the dispatcher: thin, take ids, safe to run twice (campaigns.dispatch)."""

from campaigns import dispatch


def start_campaign(campaign_id: int) -> str:
    """At `send at`: re-check the approval, create the message rows, start the workers."""
    outcome = dispatch.start_campaign(campaign_id)
    return "started" if outcome.started else outcome.reason


def dispatch_batch(campaign_id: int) -> str:
    """Send the campaign's due messages for a while; re-enqueues itself while work remains."""
    return dispatch.dispatch_batches(campaign_id).kind


def evaluate_stage_gate(campaign_id: int) -> str:
    """After the staged release's first slice and its wait: release the rest or pause."""
    return dispatch.evaluate_stage_gate(campaign_id)


def recover_dispatch() -> dict:
    """Periodic: expired leases, due scheduled campaigns, finished campaigns, stalled workers."""
    return dispatch.recover_and_kick()
