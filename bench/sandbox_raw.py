"""Raw throughput of the local sandbox: requests per second at 1, 8 and 32 client threads.

    .venv/bin/python bench/sandbox_raw.py              # starts its own sandbox on a free port
    .venv/bin/python bench/sandbox_raw.py --url http://127.0.0.1:8600 --seconds 5

Each client thread has its own `requests.Session` (keep-alive) and loops until the time is up; only
HTTP 200 answers count. Sends go to distinct phones and tracking ids, so each one writes the ledger.
"""

import argparse
import itertools
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.testing import DEMO_INFOBIP_KEY, DEMO_TOKENS, Sandbox, running_sandbox  # noqa: E402

CONCURRENCY = (1, 8, 32)
UNLIMITED = {"levels": [10**9], "starting_level": 10**9, "penalty_zone": 10**9, "marketing_min_level": None}


def scenarios(base: str):
    counter = itertools.count()
    zalo_headers = {"access_token": DEMO_TOKENS["demo-oa-1"]}
    infobip_headers = {"Authorization": f"App {DEMO_INFOBIP_KEY}"}

    def zalo_send(session):
        n = next(counter)
        return session.post(
            f"{base}/zalo/message/template",
            json={
                "phone": f"8491{n % 10**7:07d}",
                "template_id": "100004",
                "template_data": {"otp": "123456"},
                "tracking_id": f"bench-{n}",
            },
            headers=zalo_headers,
            timeout=30,
        )

    def zalo_quota(session):
        return session.get(f"{base}/zalo/message/quota", headers=zalo_headers, timeout=30)

    def infobip_send(session):
        n = next(counter)
        return session.post(
            f"{base}/infobip/zalo/2/messages",
            json={
                "messages": [
                    {
                        "sender": "demo-oa-2",
                        "destinations": [{"to": f"8498{n % 10**7:07d}", "messageId": f"bench-ib-{n}"}],
                        "content": {
                            "templateName": 200001,
                            "templateData": {"otp": "123456"},
                            "type": "TEMPLATE",
                        },
                    }
                ]
            },
            headers=infobip_headers,
            timeout=30,
        )

    return {
        "POST /zalo/message/template": zalo_send,
        "GET /zalo/message/quota": zalo_quota,
        "POST /infobip/zalo/2/messages": infobip_send,
    }


def measure(call, threads: int, seconds: float) -> tuple[float, float, int]:
    """(requests per second, p95 latency in ms, non-200 answers)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client():
        session = requests.Session()
        mine, bad = [], 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = call(session)
            elapsed = time.perf_counter() - started
            if response.status_code == 200:
                mine.append(elapsed)
            else:
                bad += 1
        session.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.monotonic()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.monotonic() - started
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000 if len(latencies) >= 20 else float("nan")
    return len(latencies) / wall, p95, errors[0]


def run(sandbox: Sandbox, seconds: float) -> None:
    sandbox.oa("demo-oa-1", policy_overrides=UNLIMITED, initial_limit=10**9)
    sandbox.oa("demo-oa-2", policy_overrides=UNLIMITED, initial_limit=10**9)
    header = f"{'endpoint':<32}" + "".join(f"{f'c={c} rps':>12}{'p95 ms':>9}" for c in CONCURRENCY)
    print(f"Sandbox raw throughput ({seconds:g} s per cell, requests loop, keep-alive) at {sandbox.base_url}")
    print(header)
    print("-" * len(header))
    for name, call in scenarios(sandbox.base_url).items():
        cells = []
        failures = 0
        for threads in CONCURRENCY:
            rps, p95, errors = measure(call, threads, seconds)
            failures += errors
            cells.append(f"{rps:>12.0f}{p95:>9.1f}")
        suffix = f"  ({failures} non-200)" if failures else ""
        print(f"{name:<32}" + "".join(cells) + suffix, flush=True)
    summary = sandbox.ledger_summary()
    print(f"ledger: {summary['received']} messages received, {summary['accepted']} accepted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an already running sandbox (default: start one on a free port)")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement")
    args = parser.parse_args()
    if args.url:
        run(Sandbox(args.url.rstrip("/")), args.seconds)
        return
    with running_sandbox(threads=32) as sandbox:
        run(sandbox, args.seconds)


if __name__ == "__main__":
    main()
