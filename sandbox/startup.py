"""Start-up of the sandbox process (shared by the WSGI module and tests)."""

import json
import os
import sys

from sandbox import runtime, worker


def prepare() -> None:
    """Apply SANDBOX_RESET / SANDBOX_SEED / SANDBOX_CONFIG to the sandbox database."""
    from sandbox import admin_views, seed
    from sandbox.models import SandboxSetting, SandboxWebhook

    if os.environ.get("SANDBOX_RESET") == "1" or not SandboxSetting.objects.filter(key="config").exists():
        admin_views.reset_state(seed_demo=False)
    else:
        # The run-time configuration (faults, clock…) is the start-up one on every start; the state
        # (OAs, tokens, ledger…) persists.
        runtime.set_config(runtime.initial_config())
        # Webhooks in flight when the previous process stopped are tried again.
        SandboxWebhook.objects.filter(state="sending").update(state="pending")
    if os.environ.get("SANDBOX_SEED") == "1":
        creds = seed.seed_demo()
        if os.environ.get("SANDBOX_PRINT_SEED") == "1":
            sys.stdout.write("Sandbox demo credentials: " + json.dumps(creds, indent=2) + "\n")
            sys.stdout.flush()


def ensure_database() -> None:
    """Create the sandbox's PostgreSQL database when it does not exist yet (SQLite files create
    themselves): SANDBOX_DATABASE_URL may name a dedicated database such as .../sandbox."""
    from django.db import OperationalError, connection

    if connection.vendor != "postgresql":
        return
    try:
        connection.ensure_connection()
        return
    except OperationalError:
        connection.close()
    import psycopg
    from psycopg import sql

    params = connection.get_connection_params()
    name = params.pop("dbname", None) or connection.settings_dict["NAME"]
    params = {k: v for k, v in params.items() if k in ("host", "port", "user", "password")}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def start_worker() -> None:
    worker.start()
