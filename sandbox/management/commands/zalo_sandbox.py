"""`python manage.py zalo_sandbox --port 8600`: serve the local Zalo + Infobip sandbox with gunicorn."""

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand

from sandbox.server import DEFAULT_DB, gunicorn_argv, sandbox_env

DASHBOARD_WEBHOOK = "http://127.0.0.1:8000/webhooks/zalo/"


class Command(BaseCommand):
    help = "Serve the local Zalo Open API / Zalo OAuth v4 / Infobip Zalo API sandbox (gunicorn, gthread)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8600)
        parser.add_argument("--threads", type=int, default=8, help="threads per process")
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("SANDBOX_WORKERS") or 2),
            help="gunicorn processes sharing the database (one runs the simulation)",
        )
        parser.add_argument("--database-url", default=os.environ.get("SANDBOX_DATABASE_URL") or DEFAULT_DB)
        parser.add_argument("--reset", action="store_true", help="wipe the sandbox state before serving")
        parser.add_argument(
            "--no-seed", action="store_true", help="do not create the demo OAs, apps, templates"
        )
        parser.add_argument("--people-seed", help="seed of the simulated people's outcomes")
        parser.add_argument("--config", help="JSON patch of the run-time configuration (see README)")
        parser.add_argument("--error-rate", type=float, help="share of provider requests answered 5xx")
        parser.add_argument("--error-status", type=int, help="status of injected errors (default 503)")
        parser.add_argument("--latency-ms", type=int, help="latency added to every provider request")
        parser.add_argument("--timeout-rate", type=float, help="share of requests that hang timeout-seconds")
        parser.add_argument("--timeout-seconds", type=float)
        parser.add_argument("--reset-rate", type=float, help="share of connections reset")
        parser.add_argument("--quota-exhausted", action="store_true", help="every OA answers -144")
        parser.add_argument("--clock-offset", type=float, help="sandbox clock offset in seconds")
        parser.add_argument("--access-token-lifetime", type=int, help="seconds (default 90000 = 25 h)")
        parser.add_argument("--webhook-retry-factor", type=float, help="time factor of webhook retries")
        parser.add_argument("--access-log", action="store_true")
        parser.add_argument(
            "--zalo-webhook-url",
            default=os.environ.get("SANDBOX_ZALO_WEBHOOK_URL", DASHBOARD_WEBHOOK),
            help=f"the demo app's webhook URL (default {DASHBOARD_WEBHOOK}: `make run`'s dashboard; '' none)",
        )

    def handle(self, *args, **o):
        config = json.loads(o["config"]) if o["config"] else {}
        faults = {
            key: o[name]
            for key, name in (
                ("error_rate", "error_rate"),
                ("error_status", "error_status"),
                ("latency_ms", "latency_ms"),
                ("timeout_rate", "timeout_rate"),
                ("timeout_seconds", "timeout_seconds"),
                ("reset_rate", "reset_rate"),
            )
            if o[name] is not None
        }
        if faults:
            config.setdefault("faults", {}).update(faults)
        for key, name in (
            ("people_seed", "people_seed"),
            ("clock_offset_seconds", "clock_offset"),
            ("access_token_lifetime", "access_token_lifetime"),
            ("webhook_retry_factor", "webhook_retry_factor"),
        ):
            if o[name] is not None:
                config[key] = o[name]
        if o["quota_exhausted"]:
            config["quota_exhausted"] = True
        if o["database_url"].startswith("sqlite:///"):
            Path(o["database_url"][len("sqlite://") :]).parent.mkdir(parents=True, exist_ok=True)
        env = sandbox_env(
            o["database_url"],
            reset=o["reset"],
            seed=not o["no_seed"],
            config=config,
            print_seed=not o["no_seed"],
        )
        env["SANDBOX_ZALO_WEBHOOK_URL"] = o["zalo_webhook_url"]
        argv = gunicorn_argv(o["host"], o["port"], o["threads"], o["access_log"], workers=o["workers"])
        self.stdout.write(
            f"Zalo/Infobip sandbox on http://{o['host']}:{o['port']}/ (database {o['database_url']})"
        )
        self.stdout.flush()
        os.execve(argv[0], argv, env)  # noqa: S606 (gunicorn replaces this process)
