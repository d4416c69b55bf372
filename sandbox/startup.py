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


def start_worker() -> None:
    worker.start()
