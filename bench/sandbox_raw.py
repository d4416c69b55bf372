"""Raw throughput of the local sandbox at an empty ledger and at a 1,000,000-message ledger.

    .venv/bin/python bench/sandbox_raw.py                      # both ends, 5 s per measurement
    .venv/bin/python bench/sandbox_raw.py --ledger 0 --seconds 3

For each ledger size a fresh sandbox starts (gunicorn, its own SQLite file); the ledger is filled
by bulk INSERTs straight into its database (half Zalo, half Infobip rows of the demo account, with
messageIds, so the duplicate check has a full index to search), never by HTTP. Then a `requests`
loop (one keep-alive Session per client thread) sends:
- Zalo: `POST /zalo/message/template`, one message per request, ZALO_THREADS client threads;
- Infobip: `POST /infobip/zalo/2/messages` with 100 destinations per request, INFOBIP_THREADS threads.
Only HTTP 200 answers count (Zalo: error 0 or a person's own refusal, -118/-141). Printed: messages
per second, requests per second, p95 latency, the sandbox processes' CPU milliseconds per message
(until the drain after the cell: deliveries, reads, reports and webhooks included), the client's
(this process: requests, the report sink), "idle cap" = 2,000 ms / (both), the rate two idle cores
would allow, the 1-minute load average, and, after the drain, whether every accepted Infobip
message got exactly one delivery report. The machine is shared: msg/s falls with the load
average; CPU ms per message is the figure that compares across runs.
"""

import argparse
import http.server
import itertools
import json
import os
import sqlite3
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.testing import DEMO_INFOBIP_KEY, DEMO_TOKENS, Sandbox, running_sandbox  # noqa: E402

ZALO_THREADS = 16
WORKERS = 3  # sandbox gunicorn processes (one of them also runs the simulation)
THREADS = 8  # threads per process
INFOBIP_THREADS = 4
PER_REQUEST = 100
LEDGER_SIZES = (0, 1_000_000)
# No daily limit, and bad reports (1 % of people) never lower a template's quality or the OA's level:
# every message of the bench is sent and delivered, none refused as DISABLE (-146) half-way.
UNLIMITED = {
    "levels": [10**9],
    "starting_level": 10**9,
    "penalty_zone": 10**9,
    "marketing_min_level": None,
    "high_max_rate": "1",
    "medium_max_rate": "1",
    "violation_rate": "1",
}


class ReportSink:
    """Counts the Infobip delivery reports the sandbox pushes (answers 200)."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with sink.lock:
                    for result in body.get("results", []):
                        sink.counts[result["messageId"]] = sink.counts.get(result["messageId"], 0) + 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/reports"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def seed_ledger(db_path: str, rows: int) -> float:
    """Fill the sandbox's SQLite ledger with `rows` delivered messages (10 days old) in one
    INSERT … SELECT over a generated series: SQLite builds the rows itself, no Python per row."""
    if rows <= 0:
        return 0.0
    started = time.monotonic()
    db = sqlite3.connect(db_path, timeout=60)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")  # 400 MB for the index builds of the seed
    oa1, oa2, account = _ids(db)
    at = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%d %H:%M:%S.%f")
    options = json.dumps({"webhooks": {}})
    report = json.dumps({"status": {"groupId": 3, "groupName": "DELIVERED", "id": 5}})
    # Odd n: a Zalo message of demo-oa-1; even n: an Infobip message of demo-oa-2 with a messageId,
    # so the duplicate check has a full unique index to search. msg_id: 20 hex characters, unique.
    sql = """
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
        INSERT INTO sandbox_sandboxmessage (provider, channel, oa_id, template_id, tag, recipient,
            tracking_id, msg_id, message_id, bulk_id, template_data, encrypted, mode, accepted,
            sent_to_user, error, state, box, accepted_at, sent_at, delivered_at, options, report,
            report_pulled, report_waiting, infobip_account_id)
        SELECT
            CASE WHEN i % 2 THEN 'zalo' ELSE 'infobip' END, 'phone',
            CASE WHEN i % 2 THEN ? ELSE ? END,
            CASE WHEN i % 2 THEN '100004' ELSE '200001' END, 1,
            printf('849%08d', i % 100000000),
            CASE WHEN i % 2 THEN printf('seed-%d', i) ELSE printf('seed-ib-%d', i) END,
            printf('5eed%016x', i),
            CASE WHEN i % 2 THEN '' ELSE printf('seed-ib-%d', i) END,
            CASE WHEN i % 2 THEN '' ELSE 'seed-bulk' END,
            '{}', 0, '', 1, 1, 0, 'delivered', 'inbox', ?, ?, ?, ?,
            CASE WHEN i % 2 THEN NULL ELSE ? END, 1, 0,
            CASE WHEN i % 2 THEN NULL ELSE ? END
        FROM n
    """
    with db:
        db.execute(sql, (rows - 1, oa1, oa2, at, at, at, options, report, account))
    # Fold the seed out of the WAL (readers would otherwise wade through it) and give the planner
    # statistics for the new rows.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()
    return time.monotonic() - started


def _ids(db):
    oa = dict(db.execute("SELECT oa_id, id FROM sandbox_sandboxoa"))
    (account,) = db.execute(
        "SELECT id FROM sandbox_sandboxinfobipaccount WHERE api_key = ?", (DEMO_INFOBIP_KEY,)
    ).fetchone()
    return oa["demo-oa-1"], oa["demo-oa-2"], account


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the gunicorn master and its worker process."""
    total = 0.0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids += [int(p) for p in children.read().split()]
    except OSError:
        pass
    for one in pids:
        try:
            with open(f"/proc/{one}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime in clock ticks of 10 ms
    return total


def measure(call, threads: int, seconds: float) -> tuple[float, float, float, int]:
    """(messages per second, requests per second, p95 latency ms, non-200 answers)."""
    latencies: list[float] = []
    counted = [0, 0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client():
        session = requests.Session()
        mine, messages, bad = [], 0, 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response, count = call(session)
            elapsed = time.perf_counter() - started
            if response.status_code == 200:
                mine.append(elapsed)
                messages += count
            else:
                bad += 1
        session.close()
        with lock:
            latencies.extend(mine)
            counted[0] += messages
            counted[1] += bad

    started = time.monotonic()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.monotonic() - started
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000 if len(latencies) >= 20 else float("nan")
    return counted[0] / wall, len(latencies) / wall, p95, counted[1]


def scenarios(base: str, sink_url: str, tag: str):
    counter = itertools.count()
    zalo_headers = {"access_token": DEMO_TOKENS["demo-oa-1"]}
    infobip_headers = {"Authorization": f"App {DEMO_INFOBIP_KEY}"}

    def zalo_send(session):
        n = next(counter)
        response = session.post(
            f"{base}/zalo/message/template",
            json={
                "phone": f"8491{n % 10**7:07d}",
                "template_id": "100004",
                "template_data": {"otp": "123456"},
                "tracking_id": f"bench-{tag}-{n}",
            },
            headers=zalo_headers,
            timeout=30,
        )
        ok = response.status_code == 200 and response.json().get("error") in (0, -118, -141)
        return (response if ok else _Bad()), 1

    def infobip_send(session):
        n = next(counter)
        destinations = [
            {"to": f"8498{(n * PER_REQUEST + i) % 10**7:07d}", "messageId": f"bench-{tag}-{n}-{i}"}
            for i in range(PER_REQUEST)
        ]
        response = session.post(
            f"{base}/infobip/zalo/2/messages",
            json={
                "messages": [
                    {
                        "sender": "demo-oa-2",
                        "destinations": destinations,
                        "content": {
                            "templateName": 200001,
                            "templateData": {"otp": "123456"},
                            "type": "TEMPLATE",
                        },
                        "webhooks": {"delivery": {"url": sink_url}},
                    }
                ]
            },
            headers=infobip_headers,
            timeout=60,
        )
        return response, PER_REQUEST

    return zalo_send, infobip_send


class _Bad:
    status_code = 599


def run_one(ledger: int, seconds: float) -> dict:
    sink = ReportSink()
    # Simulated people act within 10-800 ms (delay_factor 0.1): the drain after each cell ends soon,
    # so the CPU counted until then is the simulation of the cell, not the drain polling.
    config = {"webhook_retry_factor": 0.01, "delay_factor": 0.1}
    with running_sandbox(threads=THREADS, workers=WORKERS, config=config) as sandbox:
        db_path = _db_path(sandbox)
        seeded = seed_ledger(db_path, ledger)
        sandbox.oa("demo-oa-1", policy_overrides=UNLIMITED, initial_limit=10**9)
        sandbox.oa("demo-oa-2", policy_overrides=UNLIMITED, initial_limit=10**9)
        zalo_send, infobip_send = scenarios(sandbox.base_url, sink.url, f"l{ledger}")
        pid = sandbox.process.pid
        out = {"ledger": ledger, "seeded_s": seeded}
        for name, call, threads in (
            ("zalo", zalo_send, ZALO_THREADS),
            ("infobip", infobip_send, INFOBIP_THREADS),
        ):
            cpu0, client0 = process_cpu(pid), time.process_time()
            rate, rps, p95, bad = measure(call, threads, seconds)
            load = os.getloadavg()[0]
            client = time.process_time() - client0
            # The sandbox's CPU until the simulation of these messages is done (deliveries,
            # reads, reports, webhooks), not only while the requests were answered.
            drained = _drain(sandbox)
            cpu = process_cpu(pid) - cpu0
            sent = max(1.0, rate * seconds)
            out[name] = {
                "load": load,
                "msg_s": rate,
                "req_s": rps,
                "p95_ms": p95,
                "non_200": bad,
                "threads": threads,
                "cpu_ms_per_msg": 1000 * cpu / sent,
                "client_ms_per_msg": 1000 * client / sent,
                "drained": drained,
            }
        accepted = _accepted_infobip(db_path, f"bench-l{ledger}-")
        with sink.lock:
            counts = dict(sink.counts)
        out["reports"] = {
            "accepted": len(accepted),
            "reported_once": sum(1 for m in accepted if counts.get(m) == 1),
            "missing": sum(1 for m, state in accepted.items() if m not in counts and state != "sent"),
            # unreachable people (rate 0.02): sent to Zalo, never delivered, reported at the validity end
            "awaiting_validity": sum(
                1 for m, state in accepted.items() if m not in counts and state == "sent"
            ),
            "twice": sum(1 for c in counts.values() if c > 1),
        }
        out["received"] = sandbox.ledger_summary()["received"]
    sink.server.shutdown()
    return out


def _db_path(sandbox: Sandbox) -> str:
    if not sandbox.database_url.startswith("sqlite:///"):
        raise RuntimeError("the bench seeds a SQLite sandbox only")
    return sandbox.database_url.removeprefix("sqlite:///")


def _drain(sandbox: Sandbox) -> bool:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if sandbox.drain(timeout=60):
            return True
    return False


def _accepted_infobip(db_path: str, prefix: str) -> dict[str, str]:
    """messageId -> state of the bench's accepted Infobip messages, read from the sandbox's ledger."""
    db = sqlite3.connect(db_path, timeout=60)
    try:
        rows = db.execute(
            "SELECT message_id, state FROM sandbox_sandboxmessage WHERE provider = 'infobip'"
            " AND channel = 'phone' AND accepted = 1 AND message_id LIKE ?",
            (prefix + "%",),
        )
        return dict(rows)
    finally:
        db.close()


def main() -> None:
    global WORKERS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement")
    parser.add_argument(
        "--ledger", type=int, action="append", help="ledger size(s) (default 0 and 1,000,000)"
    )
    parser.add_argument("--workers", type=int, default=WORKERS, help="sandbox gunicorn processes")
    args = parser.parse_args()
    WORKERS = args.workers
    print(
        f"Sandbox raw throughput: requests loop, keep-alive, {args.seconds:g} s per cell; Zalo 1 message"
        f" per request at {ZALO_THREADS} client threads, Infobip {PER_REQUEST} per request at"
        f" {INFOBIP_THREADS} client threads; sandbox: {WORKERS} gunicorn gthread processes of {THREADS}"
        " threads, SQLite (WAL)"
    )
    header = (
        f"{'ledger':>10} {'endpoint':<28}{'msg/s':>9}{'req/s':>8}{'p95 ms':>9}{'CPU ms/msg':>12}"
        f"{'client':>8}{'idle cap':>10}{'load':>6}  reports"
    )
    print(header)
    print("-" * len(header))
    for ledger in args.ledger or LEDGER_SIZES:
        result = run_one(ledger, args.seconds)
        for name, label in (
            ("zalo", "POST /zalo/message/template"),
            ("infobip", "POST /infobip/zalo/2/messages"),
        ):
            r = result[name]
            extra = ""
            if name == "infobip":
                rep = result["reports"]
                extra = (
                    f"  {rep['reported_once']}/{rep['accepted']} accepted got exactly one report"
                    f" ({rep['awaiting_validity']} unreachable wait for their validity; missing"
                    f" {rep['missing']}, twice {rep['twice']})"
                )
            bad = f" ({r['non_200']} non-200)" if r["non_200"] else ""
            cap = 2000 / (r["cpu_ms_per_msg"] + r["client_ms_per_msg"])
            print(
                f"{ledger:>10,} {label:<28}{r['msg_s']:>9.0f}{r['req_s']:>8.0f}{r['p95_ms']:>9.1f}"
                f"{r['cpu_ms_per_msg']:>12.2f}{r['client_ms_per_msg']:>8.2f}"
                f"{cap:>10.0f}{r['load']:>6.1f}{extra}{bad}",
                flush=True,
            )
        print(
            f"{'':>10} (ledger seeded by bulk INSERT in {result['seeded_s']:.1f} s;"
            f" {result['received']:,} rows at the end)"
        )


if __name__ == "__main__":
    main()
