"""Run the periodic jobs in this process: for `make run` when Redis is unreachable, or by hand."""

import time
from datetime import UTC, datetime

from croniter import croniter
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from zalo_admin.periodic import PERIODIC_JOBS


class Command(BaseCommand):
    help = "Run every periodic job once (default) or keep running them on their UTC cron schedule (--loop)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep running on schedule until stopped")

    def handle(self, *args, loop, **options):
        if not loop:
            for job in PERIODIC_JOBS:
                self._run(job)
            return
        now = datetime.now(UTC)
        schedule = {job: croniter(job.cron, now).get_next(datetime) for job in PERIODIC_JOBS}
        try:
            while True:
                now = datetime.now(UTC)
                for job, due in schedule.items():
                    if due <= now:
                        self._run(job)
                        schedule[job] = croniter(job.cron, now).get_next(datetime)
                time.sleep(5)
        except KeyboardInterrupt:
            return

    def _run(self, job):
        started = time.monotonic()
        try:
            import_string(job.func)()
        except Exception as exc:  # a failing job must not stop the others
            self.stderr.write(f"{job.func} failed: {exc.__class__.__name__}: {exc}")
            return
        self.stdout.write(f"{job.func} done in {time.monotonic() - started:.2f}s")
