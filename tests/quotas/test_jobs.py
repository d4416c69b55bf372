"""The quota jobs: RQ entry points and the rq cron configuration (UTC)."""

import runpy
from datetime import timedelta

import pytest
from django.conf import settings
from django_rq.cron import DjangoCronScheduler
from rq import cron

from quotas import jobs
from quotas.models import AutomaticViolation, LevelReview
from quotas.services import rollups
from tests.quotas.conftest import vn_moment
from tests.quotas.test_services import DAY


def test_the_cron_config_runs_the_check_hourly_and_the_reviews_at_midnight_in_vietnam():
    cron._job_data_registry.clear()
    runpy.run_path(str(settings.BASE_DIR / "zalo_admin" / "cron.py"))
    registered = {entry["func"]: entry["cron"] for entry in cron._job_data_registry}
    cron._job_data_registry.clear()
    expected = {jobs.check_violations_hourly: "0 * * * *", jobs.review_levels_daily: "0 17 * * *"}
    assert registered.items() >= expected.items()


def test_the_rqcron_command_can_load_the_config():
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file(str(settings.BASE_DIR / "zalo_admin" / "cron.py"))
    assert {"0 * * * *", "0 17 * * *"} <= {job.cron for job in scheduler.get_jobs()}


@pytest.mark.django_db
def test_the_jobs_take_iso_moments_and_are_safe_to_run_twice(oa):
    rollups.record_sent(oa.pk, vn_moment(DAY), count=40000)
    rollups.record_bad_report(oa.pk, vn_moment(DAY + timedelta(days=7), 3), count=401)
    review_at = vn_moment(DAY + timedelta(days=7), 0).isoformat()
    assert jobs.review_levels_daily(review_at) == 1
    assert jobs.review_levels_daily(review_at) == 0
    check_at = vn_moment(DAY + timedelta(days=7), 4).isoformat()
    assert jobs.check_violations_hourly(check_at) == 1
    assert jobs.check_violations_hourly(check_at) == 0
    assert LevelReview.objects.get().cancelled_by_violation
    assert AutomaticViolation.objects.count() == 1
