"""Start a sandbox for tests: `with running_sandbox() as sb: requests.post(sb.zalo_base + "/…", …)`.

The sandbox runs as a gunicorn subprocess on a free port with its own throw-away SQLite file (the test
database of pytest-django is never touched). Nothing here imports Django, so any test can use it.

    from sandbox.testing import running_sandbox

    with running_sandbox(config={"delay_factor": 0}) as sb:
        sb.reset()                               # wipe + demo data (fast)
        sb.configure(faults={"error_rate": 1})   # deep-merge into the run-time configuration
        sb.set_clock(advance_seconds=3600)
        sb.drain()                               # run everything due now, wait for webhooks
        sb.ledger(tracking_id="t1")              # accepted messages
        sb.settings_env()                        # ZALO_API_BASE / ZALO_OAUTH_BASE / INFOBIP_BASE_URL
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from sandbox.server import gunicorn_argv, sandbox_env

DEMO_APP_ID = "demo-app-1"
DEMO_APP_SECRET = "demo-app-1-secret-key"  # noqa: S105 (sandbox demo data)
DEMO_INFOBIP_KEY = "demo-infobip-api-key"
DEMO_TOKENS = {
    "demo-oa-1": "demo-oa-1-access-token",
    "demo-oa-2": "demo-oa-2-access-token",
    "demo-oa-3": "demo-oa-3-access-token",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Sandbox:
    """A running sandbox: its URLs and a small client of its admin API."""

    base_url: str
    process: subprocess.Popen | None = None
    session: requests.Session = field(default_factory=requests.Session)
    database_url: str = ""  # its ledger (benches and query-plan tests read it directly)

    @property
    def zalo_base(self) -> str:
        return f"{self.base_url}/zalo"

    @property
    def oauth_base(self) -> str:
        return f"{self.base_url}/oauth"

    @property
    def infobip_base(self) -> str:
        return f"{self.base_url}/infobip"

    def settings_env(self) -> dict:
        """Environment / settings values that point the product at this sandbox."""
        return {
            "ZALO_API_BASE": self.zalo_base,
            "ZALO_OAUTH_BASE": self.oauth_base,
            "INFOBIP_BASE_URL": self.infobip_base,
        }

    # --- admin API ------------------------------------------------------------------------------

    def admin(self, method: str, path: str, body=None, **params):
        response = self.session.request(
            method,
            f"{self.base_url}/sandbox/admin/{path.lstrip('/')}",
            json=body,
            params=params or None,
            timeout=30,
        )
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox admin {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def reset(self, seed: bool = True, config: dict | None = None) -> dict:
        """Wipe all state, restore the start-up configuration (+ `config`), recreate the demo data."""
        return self.admin("POST", "reset", {"seed": seed, "config": config or {}})

    def configure(self, **patch) -> dict:
        return self.admin("POST", "config", patch)

    def faults(self, **faults) -> dict:
        return self.admin("POST", "faults", faults)

    def set_clock(self, **kwargs) -> dict:
        """at="2026-01-01T00:00:00+07:00" (jump, keeps flowing) | advance_seconds= | offset_seconds=
        | fixed="…" (frozen) | real=True."""
        return self.admin("POST", "clock", kwargs)

    def clock(self) -> dict:
        return self.admin("GET", "clock")

    def drain(self, timeout: float = 10) -> bool:
        return self.admin("POST", "drain", {"timeout": timeout})["idle"]

    def ledger(self, **filters) -> list[dict]:
        return self.admin("GET", "ledger", **filters)["results"]

    def ledger_summary(self) -> dict:
        return self.admin("GET", "ledger/summary")

    def webhooks(self, **filters) -> list[dict]:
        return self.admin("GET", "webhooks", **filters)["results"]

    def mint_tokens(self, oa_id: str) -> dict:
        return self.admin("POST", "tokens", {"oa_id": oa_id})

    def expire_tokens(self, **kwargs) -> dict:
        return self.admin("POST", "tokens/expire", kwargs)

    def oa(self, oa_id: str, **patch) -> dict:
        return self.admin("POST" if patch else "GET", f"oas/{oa_id}", patch or None)

    def set_history(self, oa_id: str, days: list[dict]) -> dict:
        return self.admin("POST", f"oas/{oa_id}/history", {"days": days})

    def app(self, app_id: str, **fields) -> dict:
        return self.admin("POST", f"apps/{app_id}", fields)

    def template(self, template_id: str, **fields) -> dict:
        return self.admin("POST", f"templates/{template_id}", fields)

    def create_oa(self, oa_id: str, **fields) -> dict:
        """fields: app_id, infobip_api_key, policy_code, initial_limit, first_day, admin_phones, name."""
        return self.admin("POST", "oas", {"oa_id": oa_id, **fields})

    def create_template(self, oa_id: str, template_id: str, **fields) -> dict:
        """fields: name, tag (1-3), status, params [{name, type, require, maxLength…}], price."""
        return self.admin("POST", "templates", {"oa_id": oa_id, "template_id": template_id, **fields})

    def infobip_account(self, api_key: str, senders=(), inbound_url: str | None = None) -> dict:
        body = {"api_key": api_key, "senders": list(senders)}
        if inbound_url is not None:
            body["inbound_url"] = inbound_url
        return self.admin("POST", "infobip-accounts", body)

    def pin_recipient(self, key: str, **profile) -> dict:
        return self.admin("POST", "recipients", {"key": key, "profile": profile})

    def recipient(self, key: str) -> dict:
        return self.admin("GET", f"recipients/{key}")["profile"]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@contextlib.contextmanager
def running_sandbox(
    *,
    config: dict | None = None,
    seed: bool = True,
    threads: int = 16,
    workers: int | None = None,
    database_url: str | None = None,
    startup_timeout: float = 30.0,
    log_path: str | os.PathLike | None = None,
) -> Iterator[Sandbox]:
    """Start the sandbox on a free port, wait until it answers, yield it, stop it and delete its files.

    `config` patches the start-up configuration (kept across `reset()`), e.g. {"delay_factor": 0,
    "webhook_retry_factor": 0.001}. `workers`: gunicorn processes (default SANDBOX_WORKERS or 1).
    `database_url` defaults to a fresh SQLite file in a temp directory.
    """
    workdir = Path(tempfile.mkdtemp(prefix="zalo-sandbox-"))
    db = database_url or f"sqlite:///{workdir / 'sandbox.sqlite3'}"
    log_file = open(log_path or workdir / "sandbox.log", "ab")  # noqa: SIM115
    sandbox = None
    try:
        for _attempt in range(3):
            port = free_port()
            env = sandbox_env(db, reset=True, seed=seed, config=config)
            env.pop("SANDBOX_ZALO_WEBHOOK_URL", None)  # tests set webhook URLs themselves
            process = subprocess.Popen(
                gunicorn_argv("127.0.0.1", port, threads, workers=workers),
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            sandbox = Sandbox(f"http://127.0.0.1:{port}", process, database_url=db)
            if wait_ready(sandbox, startup_timeout):
                break
            sandbox.stop()
            sandbox = None
        if sandbox is None:
            log_file.flush()
            tail = (workdir / "sandbox.log").read_text(errors="replace")[-3000:] if not log_path else ""
            raise RuntimeError(f"the sandbox did not start; log tail:\n{tail}")
        yield sandbox
    finally:
        if sandbox is not None:
            sandbox.stop()
            sandbox.session.close()
        log_file.close()
        shutil.rmtree(workdir, ignore_errors=True)


def sandbox_fixture(name: str = "zalo_sandbox", scope: str = "session", **kwargs):
    """A pytest fixture that runs one sandbox for its scope; in a conftest.py:

    from sandbox.testing import sandbox_fixture
    zalo_sandbox = sandbox_fixture(config={"delay_factor": 0.001, "webhook_retry_factor": 0.0001})

    @pytest.fixture
    def provider_urls(zalo_sandbox, settings):
        zalo_sandbox.reset()
        for key, value in zalo_sandbox.settings_env().items():
            setattr(settings, key, value)
        return zalo_sandbox
    """
    import pytest

    @pytest.fixture(scope=scope, name=name)
    def _sandbox():
        with running_sandbox(**kwargs) as sandbox:
            yield sandbox

    return _sandbox


def wait_ready(sandbox: Sandbox, timeout: float) -> bool:
    """Poll /sandbox/health until it answers 200 (True), the process exits or the time is up (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sandbox.process.poll() is not None:
            return False
        try:
            if requests.get(f"{sandbox.base_url}/sandbox/health", timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return False
