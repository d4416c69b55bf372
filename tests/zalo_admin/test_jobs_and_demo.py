import io

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction

from campaigns.models import Campaign
from oas.models import OfficialAccount
from zalo_admin.jobs import enqueue

CALLS = []


def record_call(value, *, label):
    CALLS.append((value, label))


@pytest.mark.django_db(transaction=True)
def test_jobs_reach_the_real_queue_only_after_commit(settings):
    settings.JOBS_IN_PROCESS = False
    queue = django_rq.get_queue("default")
    with transaction.atomic():
        enqueue(record_call, 7, label="x")
        assert queue.count == 0
    assert queue.count == 1
    job = queue.jobs[0]
    assert (job.func_name, job.args, job.kwargs) == (
        "tests.zalo_admin.test_jobs_and_demo.record_call",
        (7,),
        {"label": "x"},
    )


@pytest.mark.django_db(transaction=True)
def test_jobs_run_in_process_when_redis_is_unavailable(settings):
    settings.JOBS_IN_PROCESS = True
    CALLS.clear()
    enqueue(record_call, [1, 2], label="in-process")
    assert CALLS == [([1, 2], "in-process")]


@pytest.mark.django_db(transaction=True)
def test_a_job_named_by_its_dotted_path_runs_in_process_and_reaches_the_queue_by_name(settings):
    settings.JOBS_IN_PROCESS = True
    CALLS.clear()
    enqueue("tests.zalo_admin.test_jobs_and_demo.record_call", 3, label="by name")
    assert CALLS == [(3, "by name")]
    settings.JOBS_IN_PROCESS = False
    queue = django_rq.get_queue("default")
    enqueue("tests.zalo_admin.test_jobs_and_demo.record_call", 4, label="queued")
    assert queue.jobs[0].func_name == "tests.zalo_admin.test_jobs_and_demo.record_call"


@pytest.mark.django_db
def test_a_payload_that_cannot_cross_to_a_worker_fails_at_once():
    with pytest.raises(TypeError):
        enqueue(record_call, object(), label="x")


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_passwords_only_when_it_sets_them():
    first, second = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=first)
    counts = (OfficialAccount.objects.count(), Campaign.objects.count(), get_user_model().objects.count())
    call_command("seed_demo", stdout=second)
    assert counts == (
        OfficialAccount.objects.count(),
        Campaign.objects.count(),
        get_user_model().objects.count(),
    )
    assert counts[2] == 3
    assert first.getvalue().count("unchanged") == 0
    assert second.getvalue().count("unchanged") == 3
    for line in first.getvalue().splitlines()[1:]:
        username, password = line.split()[-2:]
        assert get_user_model().objects.get(username=username).check_password(password)


def test_the_dashboard_shows_open_alerts_to_those_who_can_act(client, quality_admin, auditor):
    from datetime import date

    from providers.models import ProviderAlert
    from quotas.models import QualityAlert

    oa = OfficialAccount.objects.create(name="Shop", zalo_oa_id="shop-1")
    QualityAlert.objects.create(
        oa=oa, day=date(2026, 11, 23), kind="guardrail", message="75 % of the threshold"
    )
    ProviderAlert.objects.create(oa=oa, kind="reauthorisation", message="refresh token refused")
    client.force_login(quality_admin)
    page = client.get("/").content.decode()
    assert "75 % of the threshold" in page and "refresh token refused" in page
    client.force_login(auditor)
    page = client.get("/").content.decode()
    assert "Needs attention" not in page
