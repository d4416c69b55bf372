"""rq cron configuration, in UTC: `manage.py rqcron zalo_admin/cron.py`.

Registers every job of `zalo_admin.periodic.PERIODIC_JOBS` and the quota engine's jobs (once each).
"""

from django.utils.module_loading import import_string
from rq import cron

from zalo_admin.periodic import PERIODIC_JOBS, PeriodicJob

# Until they join PERIODIC_JOBS (which the in-process loop also runs), the quota jobs are listed here.
QUOTA_JOBS = [
    PeriodicJob("quotas.jobs.check_violations_hourly", "0 * * * *", "high"),  # the end of every hour
    PeriodicJob("quotas.jobs.review_levels_daily", "0 17 * * *", "high"),  # 00:00 in Vietnam (UTC+7)
]

_registered: set[str] = set()
for job in [*PERIODIC_JOBS, *QUOTA_JOBS]:
    if job.func not in _registered:
        _registered.add(job.func)
        cron.register(import_string(job.func), job.queue, cron=job.cron, name=job.func)
