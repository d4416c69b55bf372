"""`make run`: the dashboard, its job worker and scheduler, and the local sandbox, stopped together."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from zalo_admin.health import settle_job_mode

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
CRON_CONFIG = Path(settings.BASE_DIR) / "zalo_admin" / "cron.py"


class Command(BaseCommand):
    help = "Serve the dashboard with its RQ worker, cron scheduler and the local Zalo sandbox until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="address:port for the dashboard")
        parser.add_argument("--sandbox-port", type=int, default=settings.SANDBOX_PORT)

    def handle(self, *args, addr, sandbox_port, **options):
        switched = settle_job_mode()
        env = dict(os.environ)
        commands = [
            # The sandbox's delivery reports and user events go to this dashboard, whatever its port.
            (
                "sandbox",
                [
                    MANAGE,
                    "zalo_sandbox",
                    "--port",
                    str(sandbox_port),
                    "--zalo-webhook-url",
                    f"http://{addr}/webhooks/zalo/",
                ],
            ),  # fmt: skip
        ]
        if not settings.JOBS_IN_PROCESS:
            commands.append(("worker", [MANAGE, "rqworker", "high", "default", "--with-scheduler"]))
            if CRON_CONFIG.exists():
                commands.append(("cron", [MANAGE, "rqcron", str(CRON_CONFIG)]))
        else:
            if switched:
                self.stdout.write(self.style.WARNING(switched))
            # No worker and no scheduler: this loop runs the periodic jobs, among them the dispatch
            # recovery that starts due campaigns and keeps running ones sending (campaigns.dispatch).
            commands.append(("periodic", [MANAGE, "run_periodic_jobs", "--loop"]))
        commands.append(("web", [MANAGE, "runserver", addr, "--noreload"]))

        children = []
        for name, argv in commands:
            children.append((name, subprocess.Popen([sys.executable, *argv], env=env)))
        self.stdout.write(
            self.style.SUCCESS(f"Dashboard: http://{addr}/  ·  sandbox: http://127.0.0.1:{sandbox_port}/")
        )
        self.stdout.write("Press Ctrl-C to stop everything.")
        self._supervise(children)

    def _supervise(self, children):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in children:
                    if process.poll() is not None:
                        self.stderr.write(
                            f"{name} exited with status {process.returncode}; stopping the rest."
                        )
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            for _name, process in children:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for _name, process in children:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
            self.stdout.write("Stopped.")
