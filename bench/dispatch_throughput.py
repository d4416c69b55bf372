"""Benchmark: the real dispatcher (2 worker processes) against the sandbox, next to a raw `requests`
loop sending the same requests to the same sandbox at the same concurrency, in the same run, for an
Infobip OA (100 messages a request) and a Zalo-direct OA (one a request).

    .venv/bin/python bench/dispatch_throughput.py
    BENCH_DISPATCH_MESSAGES=5000 .venv/bin/python bench/dispatch_throughput.py   # while iterating
    BENCH_DISPATCH_PROVIDERS=infobip .venv/bin/python bench/dispatch_throughput.py  # one path only

Uses its own database (bench_dispatch, dropped and created anew) and REDIS_URL (default db 14). For
each provider: N message rows of a running campaign (transactional OTP template, unlimited quota),
then the raw loop first (the request bodies the dispatcher's client builds for those rows, by the
client's own body builders, ids prefixed "raw-"; so the dispatcher meets the fuller ledger), then,
once the sandbox has simulated what the raw loop sent (deliveries, reads, reports: no phase pays
for the one before), 2 worker processes that each run one dispatch job
(`campaigns.dispatch.dispatch_batches`: DISPATCH_JOB_LANES lanes sharing one send gate, so one
batch in flight per worker) until the campaign completes. Same concurrency: Zalo, each worker's
DISPATCH_ZALO_CONCURRENCY connections vs 2 x that many raw threads; Infobip, 2 raw threads of
100-message requests. Prints msg/s of both, the ratio, the
workers' CPU ms per message (user + system, all threads), their peak RSS and RSS sampled along the
run (flat or growing), and checks the sandbox's ledger: every tracking id once. Goals (issue 13):
Infobip >= 1,000 msg/s, ratio >= 0.5 on both, worker RSS flat and < 300 MB. Exit 1 only when a
message was sent twice or left without a final state.
"""

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests
from _benchdb import ROOT, SERVER, setup_django

DATABASE = "bench_dispatch"
MESSAGES = int(os.environ.get("BENCH_DISPATCH_MESSAGES", "100000"))
WORKERS = 2
# The sandbox as several processes (bench/sandbox_raw.py measures it alone with 3).
SANDBOX_WORKERS = int(os.environ.get("BENCH_SANDBOX_WORKERS", "3"))
ZALO_CONCURRENCY = int(os.environ.get("BENCH_DISPATCH_ZALO_CONCURRENCY", "8"))
PROVIDERS = os.environ.get("BENCH_DISPATCH_PROVIDERS", "infobip,zalo").split(",")
BATCH = {"infobip": int(os.environ.get("BENCH_DISPATCH_INFOBIP_BATCH", "500")), "zalo": 200}
UNLIMITED = {"levels": [10**9], "starting_level": 10**9, "penalty_zone": 10**9, "marketing_min_level": None}
SANDBOX_CONFIG = {
    "delay_factor": 0.001,
    "webhook_retry_factor": 0.01,
    "rates": {"not_on_zalo": 0, "opted_out": 0, "bad_report": 0},
}
GOAL_INFOBIP, GOAL_RATIO, GOAL_RSS_MB = 1000.0, 0.5, 300.0

WORKER = r"""
import json, os, resource, sys, threading, time
import django
django.setup()
from campaigns import dispatch

campaign_id, start_at, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

def peak_rss_mb():
    # VmHWM: this image's own high-water mark (ru_maxrss also counts the forked copy of the bench)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024

dispatch.message_counts(campaign_id)  # connections open before the clock starts
while time.time() < start_at:
    time.sleep(0.005)
t0, r0 = time.time(), resource.getrusage(resource.RUSAGE_SELF)
samples, running = [rss_mb()], True

def sample():
    while running:
        time.sleep(1.0)
        samples.append(rss_mb())

threading.Thread(target=sample, daemon=True).start()
while True:  # one dispatch job (its lanes) for as long as it takes
    outcome = dispatch.dispatch_batches(campaign_id, seconds=3600)
    if outcome.kind in ("done", "stop"):
        break
running = False
t1, r1 = time.time(), resource.getrusage(resource.RUSAGE_SELF)
samples.append(rss_mb())
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
json.dump({"t0": t0, "t1": t1, "cpu_s": cpu,
           "peak_rss_mb": peak_rss_mb(), "rss_samples": samples, "last": outcome.kind}, open(out, "w"))
"""


def _fresh_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def make_campaign(provider: str, sandbox, n: int):
    """A running campaign of `n` queued messages (rows bulk-inserted as `start_campaign` would)."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns import dispatch
    from campaigns.models import Campaign, CampaignDispatch, CampaignMessage
    from oas.models import MessageTemplate, OACredentials, OfficialAccount
    from quotas.models import OAQuotaState
    from quotas.services.state import create_quota_state
    from sandbox.testing import DEMO_APP_ID, DEMO_APP_SECRET, DEMO_INFOBIP_KEY, DEMO_TOKENS

    now = timezone.now()
    if provider == "infobip":
        oa = OfficialAccount.objects.create(
            name="Bench Infobip", zalo_oa_id="demo-oa-2", provider=OfficialAccount.Provider.INFOBIP
        )
        OACredentials.objects.create(
            oa=oa, infobip_base_url=sandbox.infobip_base, infobip_api_key=DEMO_INFOBIP_KEY,
            infobip_sender="demo-oa-2",
        )  # fmt: skip
        template_id, prefix = "200001", "8498"
    else:
        oa = OfficialAccount.objects.create(name="Bench Zalo", zalo_oa_id="demo-oa-1")
        OACredentials.objects.create(
            oa=oa, app_id=DEMO_APP_ID, app_secret=DEMO_APP_SECRET, access_token=DEMO_TOKENS["demo-oa-1"],
            refresh_token="demo-oa-1-refresh-token", access_expires_at=now + timedelta(hours=24),
        )  # fmt: skip
        template_id, prefix = "100004", "8491"
    state = create_quota_state(oa.pk)
    OAQuotaState.objects.filter(pk=state.pk).update(current_limit=10**9)
    template = MessageTemplate.objects.create(
        oa=oa, template_id=template_id, name="OTP", tag=MessageTemplate.Tag.TRANSACTION,
        params=[{"name": "otp", "type": "STRING", "require": True, "maxLength": 10}],
        status=MessageTemplate.Status.ENABLED,
    )  # fmt: skip
    campaign = Campaign.objects.create(oa=oa, template=template, name=f"Bench {provider}", status="running")
    valid_until = now + timedelta(hours=47)
    for start in range(0, n, 5000):
        CampaignMessage.objects.bulk_create(
            CampaignMessage(
                campaign_id=campaign.pk, phone=f"{prefix}{i:07d}",
                tracking_id=dispatch.tracking_id(campaign.pk, f"{prefix}{i:07d}"),
                template_data={"otp": f"{i % 1000000:06d}"}, valid_until=valid_until,
            )
            for i in range(start, min(n, start + 5000))
        )  # fmt: skip
    CampaignDispatch.objects.create(campaign=campaign, started_at=now, recipients=n)
    return campaign


# --- the raw loop ------------------------------------------------------------------------------------


def raw_bodies(provider: str, campaign) -> list[dict]:
    """The request bodies the dispatcher's client builds for the campaign's messages (same phones,
    template data and options, by the client's own body builders), with "raw-" before each id so
    that the sandbox does not refuse them as repeats."""
    from django.utils import timezone

    from campaigns import mapping
    from campaigns.models import CampaignMessage
    from oas.services.clients import client_for
    from providers.base import MessageRequest

    client = client_for(campaign.oa).client()
    options = mapping.infobip_message_options(campaign, timezone.now()) if provider == "infobip" else None
    requests_ = [
        MessageRequest(
            tracking_id=f"raw-{tracking_id}", template_id=str(campaign.template.template_id),
            template_data=data, phone=phone, options=options,
        )
        for phone, tracking_id, data in CampaignMessage.objects.filter(campaign=campaign)
        .order_by("pk").values_list("phone", "tracking_id", "template_data")
    ]  # fmt: skip
    if provider == "infobip":
        return [
            {"messages": [client._message_body(m) for m in requests_[k : k + 100]]}
            for k in range(0, len(requests_), 100)
        ]
    return [client._send_request(m)[1] for m in requests_]


def raw_loop(provider: str, sandbox, campaign) -> dict:
    """The dispatcher's own requests, at the same concurrency, with nothing else: only HTTP 200s."""
    from sandbox.testing import DEMO_INFOBIP_KEY, DEMO_TOKENS

    bodies = raw_bodies(provider, campaign)
    if provider == "infobip":
        threads, n = WORKERS, sum(len(b["messages"]) for b in bodies)
        url = f"{sandbox.infobip_base}/zalo/2/messages"
        headers = {"Authorization": f"App {DEMO_INFOBIP_KEY}"}
    else:
        threads, n = WORKERS * ZALO_CONCURRENCY, len(bodies)
        url = f"{sandbox.zalo_base}/message/template"
        headers = {"access_token": DEMO_TOKENS["demo-oa-1"]}
    counter = itertools.count()
    bad = [0]
    lock = threading.Lock()
    requests_needed = len(bodies)

    def client():
        session = requests.Session()
        while True:
            k = next(counter)
            if k >= requests_needed:
                break
            response = session.post(url, json=bodies[k], headers=headers, timeout=60)
            if response.status_code != 200:
                with lock:
                    bad[0] += 1
        session.close()

    started = time.monotonic()
    pool = [threading.Thread(target=client) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.monotonic() - started
    return {"msg_s": n / wall, "seconds": wall, "non_200": bad[0], "threads": threads}


# --- the dispatcher -----------------------------------------------------------------------------------


def run_workers(provider: str, sandbox, campaign_id: int, redis_url: str) -> dict:
    out_dir = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{DATABASE}",
        "REDIS_URL": redis_url,
        "DEBUG": "1",
        "JOBS_IN_PROCESS": "0",
        "DJANGO_SETTINGS_MODULE": "zalo_admin.settings",
        "DISPATCH_BATCH_SIZE": str(BATCH[provider]),
        "DISPATCH_ZALO_CONCURRENCY": str(ZALO_CONCURRENCY),
        **sandbox.settings_env(),
    }
    start_at = time.time() + 6  # after Django has started in both
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(campaign_id), str(start_at), str(out_dir / f"w{k}.json")],
            env=env,
            cwd=ROOT,
        )
        for k in range(WORKERS)
    ]
    for proc in procs:
        proc.wait()
    results = [json.loads((out_dir / f"w{k}.json").read_text()) for k in range(WORKERS)]
    return {"workers": results, "exit": [p.returncode for p in procs]}


def accepted_ids(sandbox, prefix: str) -> list[str]:
    """The tracking id (Zalo) or messageId (Infobip) of every message the sandbox accepted whose id
    starts with `prefix`, read from its SQLite ledger directly (the admin API pages JSON through the
    ORM: 100,000 rows take longer than its timeout)."""
    db = sqlite3.connect(sandbox.database_url.removeprefix("sqlite:///"), timeout=60)
    try:
        rows = db.execute(
            "SELECT CASE WHEN tracking_id != '' THEN tracking_id ELSE message_id END FROM"
            " sandbox_sandboxmessage WHERE accepted = 1 AND (tracking_id LIKE ? OR message_id LIKE ?)",
            (prefix + "%", prefix + "%"),
        )
        return [t for (t,) in rows if t and t.startswith(prefix)]
    finally:
        db.close()


def settle(sandbox) -> None:
    """Let the sandbox simulate what the previous phase sent (deliveries, reads, reports), so a phase
    never pays for the one before it."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not sandbox.drain(timeout=20):
        pass


def quiet_database() -> None:
    """Vacuum, analyse and checkpoint after the bulk insert of the rows, so that neither phase shares
    the machine with the autovacuum and checkpoint the insert would otherwise set off."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE campaigns_campaignmessage")
        cursor.execute("CHECKPOINT")


def run_provider(provider: str, sandbox, redis_url: str) -> dict:
    from campaigns import dispatch
    from campaigns.models import CampaignMessage

    campaign = make_campaign(provider, sandbox, MESSAGES)
    quiet_database()
    settle(sandbox)
    raw = raw_loop(provider, sandbox, campaign)
    raw["load"] = os.getloadavg()[0]
    print(f"  {provider} raw loop: {raw['msg_s']:.0f} msg/s (load {os.getloadavg()[0]:.1f})", flush=True)
    settle(sandbox)  # the raw loop's deliveries and reports are simulated before the dispatcher runs
    run = run_workers(provider, sandbox, campaign.pk, redis_url)
    workers = run["workers"]
    wall = max(w["t1"] for w in workers) - min(w["t0"] for w in workers)
    print(f"  {provider} dispatcher: {MESSAGES / wall:.0f} msg/s (load {os.getloadavg()[0]:.1f})", flush=True)
    counts = {k: v for k, v in dispatch.message_counts(campaign.pk).items() if v}
    done = counts.get("accepted", 0) + counts.get("failed", 0)
    prefix = f"c{campaign.pk}-"
    mine = set(CampaignMessage.objects.filter(campaign=campaign).values_list("tracking_id", flat=True))
    ledger = accepted_ids(sandbox, prefix)
    sent = [t for t in ledger if t in mine]
    return {
        "provider": provider,
        "messages": MESSAGES,
        "raw": raw,
        "dispatcher_msg_s": MESSAGES / wall,
        "dispatcher_seconds": wall,
        "dispatcher_load": os.getloadavg()[0],
        "counts": counts,
        "open": MESSAGES - sum(counts.get(s, 0) for s in ("accepted", "failed", "unconfirmed", "expired")),
        "sent_twice": len(sent) - len(set(sent)),
        "ledger_ours": len(set(sent)),
        "done": done,
        "cpu_ms_per_msg": 1000 * sum(w["cpu_s"] for w in workers) / max(1, done),
        "peak_rss_mb": [round(w["peak_rss_mb"], 1) for w in workers],
        "rss_samples": [[round(x, 1) for x in w["rss_samples"]] for w in workers],
        "exit": run["exit"],
    }


def main() -> int:
    _fresh_database()
    setup_django(DATABASE)
    from sandbox.testing import running_sandbox

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    from django.conf import settings

    settings.REDIS_URL = redis_url
    print(
        f"Dispatcher vs raw requests loop: {MESSAGES:,} messages each, {WORKERS} worker processes, "
        f"Zalo {ZALO_CONCURRENCY} lanes per worker, Infobip batch {BATCH['infobip']} (100 per request)",
        flush=True,
    )
    rows = []
    with running_sandbox(threads=16, workers=SANDBOX_WORKERS, config=SANDBOX_CONFIG) as sandbox:
        sandbox.oa("demo-oa-1", policy_overrides=UNLIMITED, initial_limit=10**9)
        sandbox.oa("demo-oa-2", policy_overrides=UNLIMITED, initial_limit=10**9)
        for provider in PROVIDERS:
            result = run_provider(provider, sandbox, redis_url)
            rows.append(result)
            print(json.dumps(result), flush=True)
    header = (
        f"{'path':<9}{'dispatcher msg/s':>17}{'raw msg/s':>11}{'ratio':>7}{'CPU ms/msg':>12}"
        f"{'peak RSS MB':>14}{'load':>11}  RSS start->end MB"
    )
    print(header)
    print("-" * len(header))
    failures = 0
    for r in rows:
        ratio = r["dispatcher_msg_s"] / r["raw"]["msg_s"]
        r["ratio"] = ratio
        rss = ", ".join(f"{s[0]:.0f}->{s[-1]:.0f}" for s in r["rss_samples"])
        print(
            f"{r['provider']:<9}{r['dispatcher_msg_s']:>17.0f}{r['raw']['msg_s']:>11.0f}{ratio:>7.2f}"
            f"{r['cpu_ms_per_msg']:>12.2f}{max(r['peak_rss_mb']):>14.0f}"
            f"{r['dispatcher_load']:>6.1f}/{r['raw']['load']:<4.1f}  {rss}"
        )
        print(
            f"          states {r['counts']}; sent twice {r['sent_twice']}; "
            f"without a final state {r['open']}; raw non-200 {r['raw']['non_200']}"
        )
        failures += bool(r["sent_twice"] or r["open"])
    goals = []
    for infobip in (r for r in rows if r["provider"] == "infobip"):
        goals.append((f"Infobip >= {GOAL_INFOBIP:.0f} msg/s", infobip["dispatcher_msg_s"] >= GOAL_INFOBIP))
    for r in rows:
        goals.append((f"{r['provider']} ratio >= {GOAL_RATIO}", r["ratio"] >= GOAL_RATIO))
        growth = max(s[-1] - s[1] if len(s) > 2 else 0 for s in r["rss_samples"])
        goals.append(
            (f"{r['provider']} worker RSS < {GOAL_RSS_MB:.0f} MB, flat (+{growth:.0f} MB after warm-up)",
             max(r["peak_rss_mb"]) < GOAL_RSS_MB and growth < 30)
        )  # fmt: skip
    for name, ok in goals:
        print(f"goal {name}: {'met' if ok else 'MISSED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
