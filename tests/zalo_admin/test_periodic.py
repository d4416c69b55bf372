"""Every periodic job names a real job function, with a cron expression rq's scheduler accepts."""

from importlib import import_module

import pytest

from zalo_admin.periodic import PERIODIC_JOBS


@pytest.mark.parametrize("job", PERIODIC_JOBS, ids=lambda job: job.func)
def test_each_periodic_job_is_an_importable_function_with_a_valid_cron(job):
    module, _, name = job.func.rpartition(".")
    func = getattr(import_module(module), name)
    assert callable(func) and func.__doc__, "a periodic job says what it does"
    fields = job.cron.split()
    assert len(fields) == 5 and job.queue in ("high", "default")
    from croniter import croniter

    assert croniter.is_valid(job.cron)


def test_no_job_is_listed_twice():
    funcs = [job.func for job in PERIODIC_JOBS]
    assert len(funcs) == len(set(funcs))
