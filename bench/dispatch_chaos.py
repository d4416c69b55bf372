"""Chaos benchmark of the dispatcher (issue 13): during a campaign (BENCH_CHAOS_MESSAGES, default
20,000, Zalo direct) worker processes are killed with SIGKILL at random moments (BENCH_CHAOS_KILLS,
default 12) and restarted, the Redis they share is restarted once, and the sandbox injects read
timeouts (the client gives up: outcome unknown) then HTTP 5xx (500: ambiguous; 503: not processed).
Then the sandbox's ledger is compared with our message rows:

- 0 tracking ids accepted twice by the sandbox;
- 0 recipients without a final state (queued, claimed or sending) once the leases are recovered;
  `unconfirmed` is reported apart: it is final only once the validity has passed (or a delivery
  report resolves it), and it is never re-sent;
- every message the sandbox accepted is recorded as accepted (or later) or unconfirmed; none is
  recorded as failed or queued; every message recorded as accepted is in the ledger.

The workers use a Redis server of their own (`redis-server --port <free> --save ''`, started and
restarted here), never the machine's Redis on 6379. Its own database: bench_chaos. A reduced run
(1,000 messages, 3 kills) is tests/campaigns/test_chaos.py, which calls `run_chaos` below.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER = r"""
import sys, time, django
django.setup()
from campaigns import dispatch
campaign_id = int(sys.argv[1])
while True:
    outcome = dispatch.run_batch(campaign_id)
    if outcome.kind in ("done", "stop"):
        break
    if outcome.kind == "wait":
        time.sleep(min(1.0, max(0.01, outcome.wait_until.timestamp() - time.time())))
    elif outcome.kind == "idle":
        time.sleep(0.05)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A throw-away redis-server on a free loopback port (no persistence)."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed: the chaos run needs its own Redis")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="chaos-redis-")
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("own redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        time.sleep(0.5)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_chaos(
    campaign_id: int,
    sandbox,
    database_url: str,
    *,
    kills: int = 12,
    workers: int = 2,
    fault_seconds: float = 6.0,
    budget_seconds: float = 900.0,
    seed: int | None = None,
    log=print,
) -> dict:
    """Run the campaign with `workers` processes under chaos until no message is open; returns the
    ledger comparison (see the module text). The campaign must be running (started) already."""
    from django.utils import timezone

    from campaigns import dispatch
    from campaigns.models import CampaignMessage

    rng = random.Random(seed)
    redis = OwnRedis()
    redis.start()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url,
        "DEBUG": "1",
        "JOBS_IN_PROCESS": "0",
        "DJANGO_SETTINGS_MODULE": "zalo_admin.settings",
        "DISPATCH_BATCH_SIZE": "50",
        "DISPATCH_ZALO_CONCURRENCY": "4",
        "DISPATCH_LEASE_SECONDS": "3",
        "DISPATCH_PAUSE_AFTER_ERRORS": "100000",
        "PROVIDER_READ_TIMEOUT_MS": "1500",
        **sandbox.settings_env(),
    }
    env.pop("TEST_DATABASE_NAME", None)

    def spawn():
        return subprocess.Popen([sys.executable, "-c", WORKER, str(campaign_id)], env=env, cwd=ROOT)

    total = CampaignMessage.objects.filter(campaign_id=campaign_id).count()
    procs = [spawn() for _ in range(workers)]
    killed = 0
    redis_restarted = False
    phase = "none"
    started = time.monotonic()
    # Kills at random points of the progress (5 %..90 % sent), each on a worker that has been up
    # long enough to be sending (Django starts in about 2 s).
    kill_at = sorted(rng.uniform(0.05, 0.9) for _ in range(kills))
    born = [time.monotonic()] * workers
    faults_from = started + 4.0
    events = []
    try:
        while time.monotonic() - started < budget_seconds:
            now = time.monotonic()
            open_rows = CampaignMessage.objects.filter(
                campaign_id=campaign_id, state__in=dispatch.OPEN
            ).count()
            done_share = 1 - open_rows / max(1, total)
            # Faults: read timeouts, then 500s, then 503s, then none.
            want = "none"
            if faults_from <= now < faults_from + fault_seconds:
                third = (now - faults_from) / fault_seconds
                want = "timeout" if third < 1 / 3 else ("500" if third < 2 / 3 else "503")
            if want != phase:
                faults = {"scope": ["zalo"], "timeout_rate": 0, "error_rate": 0}
                if want == "timeout":
                    faults.update(timeout_rate=0.05, timeout_seconds=2)
                elif want in ("500", "503"):
                    faults.update(error_rate=0.05, error_status=int(want))
                else:
                    faults["scope"] = []
                sandbox.faults(**faults)
                events.append((round(now - started, 1), f"faults {want}"))
                phase = want
            if not redis_restarted and done_share >= 0.4:
                redis.restart()
                redis_restarted = True
                events.append((round(now - started, 1), "redis restarted"))
            ready = [k for k in range(len(procs)) if procs[k].poll() is None and now - born[k] > 2.5]
            if killed < kills and done_share >= kill_at[killed] and open_rows and ready:
                victim = rng.choice(ready)
                os.kill(procs[victim].pid, signal.SIGKILL)
                procs[victim].wait()
                killed += 1
                events.append((round(now - started, 1), f"SIGKILL worker {victim} at {done_share:.0%}"))
                procs[victim], born[victim] = spawn(), time.monotonic()
            # The periodic job's part: expired leases (claimed -> queued, sending -> unconfirmed).
            dispatch.recover_expired_leases(timezone.now())
            if not open_rows:
                break
            for k, proc in enumerate(procs):
                if proc.poll() is not None:
                    procs[k], born[k] = (
                        spawn(),
                        time.monotonic(),
                    )  # it finished while rows were still held by a killed one
            time.sleep(0.1)
    finally:
        sandbox.faults(scope=[], timeout_rate=0, error_rate=0)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        redis.close()
    # Leases of the last kills run out; then recovery settles every held row.
    time.sleep(3.5)
    dispatch.recover_expired_leases(timezone.now())
    elapsed = time.monotonic() - started
    return compare(campaign_id, sandbox) | {
        "kills": killed,
        "redis_restarted": redis_restarted,
        "seconds": round(elapsed, 1),
        "events": events,
    }


def compare(campaign_id: int, sandbox) -> dict:
    from campaigns import dispatch
    from campaigns.models import CampaignMessage

    S = CampaignMessage.State
    prefix = f"c{campaign_id}-"
    ledger, since = [], 0
    while True:
        page = sandbox.ledger(since_id=since, limit=100000)
        if not page:
            break
        ledger += [r["tracking_id"] for r in page if (r.get("tracking_id") or "").startswith(prefix)]
        since = page[-1]["id"]
    state_of = dict(
        CampaignMessage.objects.filter(campaign_id=campaign_id).values_list("tracking_id", "state")
    )
    accepted_states = {S.ACCEPTED, S.DELIVERED, S.FAILED_OVER}
    in_ledger = set(ledger)
    counts = {k: v for k, v in dispatch.message_counts(campaign_id).items() if v}
    return {
        "messages": len(state_of),
        "states": counts,
        "ledger_accepted": len(in_ledger),
        "sent_twice": len(ledger) - len(in_ledger),
        "without_final_state": sum(1 for s in state_of.values() if s in dispatch.OPEN),
        "unconfirmed": counts.get(S.UNCONFIRMED, 0),
        "unconfirmed_but_accepted": sum(1 for t in in_ledger if state_of.get(t) == S.UNCONFIRMED),
        "accepted_by_sandbox_recorded_otherwise": sum(
            1 for t in in_ledger if state_of.get(t) not in accepted_states | {S.UNCONFIRMED}
        ),
        "recorded_accepted_not_in_ledger": sum(
            1 for t, s in state_of.items() if s in accepted_states and t not in in_ledger
        ),
    }


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import psycopg
    from _benchdb import SERVER, setup_django

    messages = int(os.environ.get("BENCH_CHAOS_MESSAGES", "20000"))
    kills = int(os.environ.get("BENCH_CHAOS_KILLS", "12"))
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
        server.execute('DROP DATABASE IF EXISTS "bench_chaos" WITH (FORCE)')
    setup_django("bench_chaos")
    from dispatch_throughput import SANDBOX_CONFIG, UNLIMITED, make_campaign

    from sandbox.testing import running_sandbox

    with running_sandbox(threads=32, config=SANDBOX_CONFIG) as sandbox:
        sandbox.oa("demo-oa-1", policy_overrides=UNLIMITED, initial_limit=10**9)
        campaign = make_campaign("zalo", sandbox, messages)
        print(
            f"Chaos: {messages:,} messages (Zalo direct), {kills} SIGKILLs, 1 Redis restart, faults",
            flush=True,
        )
        result = run_chaos(campaign.pk, sandbox, f"{SERVER}/bench_chaos", kills=kills, seed=13)
    print(json.dumps(result, indent=1))
    ok = (
        result["sent_twice"] == 0
        and result["without_final_state"] == 0
        and result["accepted_by_sandbox_recorded_otherwise"] == 0
        and result["recorded_accepted_not_in_ledger"] == 0
        and result["kills"] >= min(kills, 10)
        and result["redis_restarted"]
    )
    print(
        f"sent twice {result['sent_twice']}; without a final state {result['without_final_state']}; "
        f"accepted by the sandbox but recorded otherwise {result['accepted_by_sandbox_recorded_otherwise']}; "
        f"unconfirmed {result['unconfirmed']} "
        f"(of which the sandbox accepted {result['unconfirmed_but_accepted']}); "
        f"{result['kills']} kills, Redis restarted: {result['redis_restarted']}, {result['seconds']} s: "
        f"{'OK' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
