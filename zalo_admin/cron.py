"""rq cron configuration, in UTC: `manage.py rqcron zalo_admin/cron.py`.

Registers every job of `zalo_admin.periodic.PERIODIC_JOBS`, the list the in-process loop
(`run_periodic_jobs --loop`, used when Redis is unreachable) runs too.
"""

from django.utils.module_loading import import_string
from rq import cron

from zalo_admin.periodic import PERIODIC_JOBS

for job in PERIODIC_JOBS:
    cron.register(import_string(job.func), job.queue, cron=job.cron, name=job.func)
