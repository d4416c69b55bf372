"""rq cron configuration (UTC): `manage.py rqcron zalo_admin/cron.py`."""

from rq import cron

from quotas.jobs import check_violations_hourly, review_levels_daily

# The end of every hour: automatic-violation check for the hour that just ended.
cron.register(check_violations_hourly, "high", cron="0 * * * *", name="quotas-hourly-violation-check")
# 00:00 in Vietnam (UTC+7) is 17:00 UTC: the daily level reviews.
cron.register(review_levels_daily, "high", cron="0 17 * * *", name="quotas-daily-level-review")
