"""RQ entry points of the dispatcher: thin, take ids, safe to run twice (campaigns.dispatch)."""

from campaigns import dispatch, exports, failover, reports, seals


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


def poll_missing_reports() -> dict:
    """Periodic: ask the providers about messages whose report is missing (Zalo message status,
    Infobip logs within their rate), then mark unconfirmed rows past their validity as final."""
    return {
        "zalo": reports.poll_zalo_status(),
        "infobip": reports.poll_infobip_logs(),
        "unconfirmed_final": reports.finalise_unconfirmed(),
    }


def run_sms_failover() -> dict:
    """Periodic: Zalo-direct messages without a delivery report after their validity go out as SMS
    (once each, within the campaign's ceiling)."""
    return failover.run_failover()


def seal_campaigns() -> dict:
    """Periodic: seal the message evidence of every campaign with timeline events since its last seal
    (the root of each seal goes into the audit chain)."""
    sealed = [seal.campaign_id for cid in seals.campaigns_to_seal() if (seal := seals.seal_campaign(cid))]
    return {"sealed": len(sealed), "campaigns": sealed}


def purge_log_exports() -> int:
    """Periodic (hourly): delete message-log exports older than LOG_EXPORT_KEEP_HOURS (files and rows)."""
    return exports.purge_expired_exports()
