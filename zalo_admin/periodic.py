"""Periodic jobs, in UTC cron syntax: one list for rq's cron scheduler and for the in-process loop."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    func: str  # dotted path of a job function that takes no arguments
    cron: str  # UTC
    queue: str = "default"


PERIODIC_JOBS: list[PeriodicJob] = [
    PeriodicJob("quotas.jobs.check_violations_hourly", "0 * * * *", "high"),  # the end of every hour
    PeriodicJob("quotas.jobs.review_levels_daily", "0 17 * * *", "high"),  # 00:00 in Vietnam (UTC+7)
    PeriodicJob("oas.jobs.refresh_expiring_tokens", "*/30 * * * *", "high"),
    PeriodicJob("providers.jobs.requeue_unprocessed_webhook_events", "*/5 * * * *", "high"),
    PeriodicJob("campaigns.jobs.recover_dispatch", "* * * * *"),  # leases, due starts, stalled workers
    PeriodicJob("campaigns.jobs.poll_missing_reports", "*/5 * * * *"),  # Zalo status, Infobip logs
    PeriodicJob("campaigns.jobs.run_sms_failover", "* * * * *"),  # Zalo-direct: no report by validity
    PeriodicJob("oas.jobs.sync_all_templates", "15 * * * *"),  # message templates of every active OA
    PeriodicJob("oas.jobs.refresh_all_provider_readings", "*/15 * * * *"),  # quota/quality for the OA page
    PeriodicJob("campaigns.jobs.seal_campaigns", "*/15 * * * *"),  # message evidence into the chain
    PeriodicJob("campaigns.jobs.purge_log_exports", "40 * * * *"),  # message-log CSVs past their time
    PeriodicJob("alerts.jobs.deliver_due", "* * * * *"),  # lost fan-outs, retries, report relays
    PeriodicJob("compliance.jobs.checkpoint_audit_log", "*/15 * * * *", "high"),
    PeriodicJob("compliance.jobs.verify_audit_log_full", "30 20 * * *"),  # 03:30 in Vietnam
    PeriodicJob("compliance.jobs.apply_retention", "0 19 * * *"),  # 02:00 in Vietnam
]
