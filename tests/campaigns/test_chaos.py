"""The reduced chaos run of bench/dispatch_chaos.py: 1,000 messages, 3 SIGKILLed workers, one Redis
restart (a redis-server of its own, never the machine's), injected read timeouts and 5xx; then the
sandbox's ledger against our rows."""

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest
from django.db import connection

from campaigns import dispatch
from tests.campaigns.test_dispatch_paths import build_campaign

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dispatch_chaos.py"


def _chaos_module():
    sys.path.insert(0, str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("dispatch_chaos", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
@pytest.mark.django_db(transaction=True)
def test_kills_a_redis_restart_and_faults_send_nothing_twice_and_lose_nothing(quality_admin, sb):
    sb.configure(rates={"not_on_zalo": 0, "opted_out": 0, "bad_report": 0})
    campaign = build_campaign(1000, quality_admin=quality_admin)
    assert dispatch.start_campaign(campaign.pk).started
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"
    result = _chaos_module().run_chaos(
        campaign.pk, sb, url, kills=3, fault_seconds=3.0, budget_seconds=240, seed=7, log=lambda *a: None
    )
    assert result["kills"] == 3 and result["redis_restarted"], result
    assert result["messages"] == 1000
    assert result["sent_twice"] == 0, result
    assert result["without_final_state"] == 0, result
    assert result["accepted_by_sandbox_recorded_otherwise"] == 0, result
    assert result["recorded_accepted_not_in_ledger"] == 0, result
    # Every recipient: accepted, or unconfirmed (never re-sent), or failed after its attempts.
    assert set(result["states"]) <= {"accepted", "unconfirmed", "failed"}, result
    assert (
        result["ledger_accepted"]
        + result["states"].get("failed", 0)
        + (result["unconfirmed"] - result["unconfirmed_but_accepted"])
        == 1000
    )
