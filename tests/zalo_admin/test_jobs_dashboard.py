"""The RQ dashboard at /jobs/: actions that change state act on POST only, missing jobs are 404s.

Jobs are real ones in the test Redis database; nothing of django-rq or rq is mocked.
"""

import django_rq
import pytest
from django_rq.settings import get_queues_list
from rq import SimpleWorker
from rq.command import PUBSUB_CHANNEL_TEMPLATE
from rq.job import Job, JobStatus

QUEUE_INDEX = {config["name"]: index for index, config in enumerate(get_queues_list())}
DEFAULT = QUEUE_INDEX["default"]


def sample_job():
    return "done"


def failing_job():
    raise RuntimeError("this job fails on purpose")


@pytest.fixture
def admin_client(client, quality_admin):
    client.force_login(quality_admin)
    return client


@pytest.fixture
def queue():
    # Straight to Redis (the test runs inside a transaction that never commits).
    return django_rq.get_queue("default", commit_mode="auto")


@pytest.fixture
def failed_job(queue):
    job = queue.enqueue(failing_job)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert job.get_status(refresh=True) == JobStatus.FAILED
    return job


def url(action, job_id=None, queue_index=DEFAULT):
    base = f"/jobs/queues/{queue_index}/"
    return base + (f"{job_id}/{action}/" if job_id else f"{action}/")


def test_stop_acts_on_post_only(admin_client, queue, clean_redis):
    job = queue.enqueue(sample_job)
    job.worker_name = "worker-1"  # as if a worker were running it: stop is then a pub/sub command
    job.save()
    listener = clean_redis.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(PUBSUB_CHANNEL_TEMPLATE % "worker-1")
    listener.get_message(timeout=1)  # the subscription itself

    response = admin_client.get(url("stop", job.id))
    assert response.status_code == 405
    assert listener.get_message(timeout=0.5) is None  # no stop command was sent

    response = admin_client.post(url("stop", job.id))
    assert response.status_code == 302
    command = listener.get_message(timeout=2)
    assert command is not None and b"stop-job" in command["data"] and job.id.encode() in command["data"]
    listener.close()


def test_requeue_acts_on_post_only(admin_client, queue, failed_job):
    assert admin_client.get(url("requeue", failed_job.id)).status_code == 405
    assert failed_job.get_status(refresh=True) == JobStatus.FAILED
    assert queue.count == 0

    assert admin_client.post(url("requeue", failed_job.id)).status_code == 302
    assert failed_job.get_status(refresh=True) == JobStatus.QUEUED
    assert queue.count == 1


def test_enqueue_and_bulk_actions_refuse_get(admin_client, queue):
    job = queue.enqueue(sample_job)
    assert admin_client.get(url("enqueue", job.id)).status_code == 405
    response = admin_client.get(f"/jobs/queues/actions/{DEFAULT}/", {"action": "delete", "job_ids": job.id})
    assert response.status_code == 405
    assert Job.exists(job.id, connection=queue.connection) and queue.count == 1


def test_delete_and_empty_show_a_confirmation_on_get_and_act_on_post(admin_client, queue, failed_job):
    job = queue.enqueue(sample_job)
    for action_url in (url("delete", job.id), url("empty"), url("failed/clear"), url("requeue-all")):
        response = admin_client.get(action_url)
        assert response.status_code == 200, action_url
        assert b"Are you sure" in response.content
    assert Job.exists(job.id, connection=queue.connection) and queue.count == 1
    assert failed_job.get_status(refresh=True) == JobStatus.FAILED

    assert admin_client.post(url("delete", job.id)).status_code == 302
    assert not Job.exists(job.id, connection=queue.connection)
    queue.enqueue(sample_job)
    assert admin_client.post(url("empty")).status_code == 302
    assert queue.count == 0


@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("get", ""),
        ("get", "delete"),
        ("post", "delete"),
        ("post", "requeue"),
        ("post", "enqueue"),
        ("post", "stop"),
    ],
)
def test_a_missing_job_is_a_404(admin_client, queue, method, action):
    queue.enqueue(sample_job)  # the queue exists and holds another job
    path = f"/jobs/queues/{DEFAULT}/no-such-job/" + (f"{action}/" if action else "")
    response = getattr(admin_client, method)(path)
    assert response.status_code == 404


def test_bulk_delete_of_a_missing_job_is_a_404(admin_client):
    response = admin_client.post(
        f"/jobs/queues/actions/{DEFAULT}/", {"action": "delete", "job_ids": ["no-such-job"]}
    )
    assert response.status_code == 404


def test_a_missing_queue_is_a_404(admin_client):
    missing = len(get_queues_list())
    assert admin_client.get(f"/jobs/queues/{missing}/").status_code == 404
    assert admin_client.get(f"/jobs/queues/{missing}/some-job/").status_code == 404


def test_actions_still_need_the_jobs_capability(client, marketer, queue):
    job = queue.enqueue(sample_job)
    assert client.post(url("delete", job.id)).status_code == 302  # anonymous: to the login page
    assert client.post(url("delete", job.id))["Location"].startswith("/login/")
    client.force_login(marketer)
    assert client.post(url("delete", job.id)).status_code == 403
    assert client.get(url("stop", job.id)).status_code == 403
    assert Job.exists(job.id, connection=queue.connection)
