"""Benchmark: every dashboard page and the message log on 10,000,000 messages and 1,000 OAs with 90
days of history (target p95 < 150 ms), and the CSV export of 1,000,000 rows (rows/s, memory).

Uses its own database (bench_dashboard), seeded by `manage.py seed_bench` when it holds fewer
messages than asked (BENCH_MESSAGES, default 10,000,000; BENCH_OAS 1,000; BENCH_DAYS 90;
BENCH_RESEED=1 to seed again). Serves it with gunicorn (2 sync workers, production settings) on a
free port, logs in as each role over HTTP and requests every page BENCH_PAGE_REQUESTS times (30)
after one warm-up request. Prints figures; not a test.
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests
from _benchdb import ROOT, SERVER, setup_django

DATABASE = os.environ.get("BENCH_DASHBOARD_DATABASE", "bench_dashboard")
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000000"))
OAS = int(os.environ.get("BENCH_OAS", "1000"))
DAYS = int(os.environ.get("BENCH_DAYS", "90"))
REQUESTS = int(os.environ.get("BENCH_PAGE_REQUESTS", "30"))
EXPORT_ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "1000000"))
TARGET_P95_MS = 150
PASSWORD = "bench-password-not-for-production"  # noqa: S105 (a throwaway benchmark database)


def seed() -> None:
    from django.core.management import call_command

    from campaigns.models import CampaignMessage

    have = CampaignMessage.objects.count() if not os.environ.get("BENCH_RESEED") else -1
    if have >= MESSAGES:
        print(f"bench database {DATABASE}: {have:,} messages already seeded")
        return
    started = time.perf_counter()
    call_command("seed_bench", messages=MESSAGES, oas=OAS, days=DAYS)
    print(
        f"seed_bench ({MESSAGES:,} messages, {OAS:,} OAs, {DAYS} days): {time.perf_counter() - started:.1f} s"
    )


def users() -> dict[str, str]:
    from django.contrib.auth.models import Group, User

    from zalo_admin.roles import COMPLIANCE_AUDITOR, MARKETER, QUALITY_ADMIN

    names = {"marketer": MARKETER, "quality": QUALITY_ADMIN, "auditor": COMPLIANCE_AUDITOR}
    for username, group in names.items():
        user, _created = User.objects.get_or_create(username=f"bench-{username}")
        user.set_password(PASSWORD)
        user.save()
        user.groups.set([Group.objects.get(name=group)])
    return {role: f"bench-{role}" for role in names}


def pages() -> list[tuple[str, str, str]]:
    """(label, role, path) for every dashboard page; pages of issue 14 that do not exist yet are left out."""
    from django.urls import NoReverseMatch, reverse

    from campaigns import logs
    from campaigns.models import Campaign, CampaignMessage
    from quotas.models import QualityAlert

    busy_oa = QualityAlert.objects.values_list("oa_id", flat=True).first() or Campaign.objects.first().oa_id
    campaign = Campaign.objects.filter(oa_id=busy_oa, status="completed").order_by("-id").first()
    message = CampaignMessage.objects.filter(campaign=campaign, state="failed").first()
    deep = logs.page(logs.LogFilter())
    for _ in range(20):  # 20 pages down
        deep = logs.page(logs.LogFilter(), after=deep.next_after)
    wanted = [
        ("home", "quality", "home", []),
        ("OAs", "quality", "oas:list", []),
        ("OA page", "quality", "oas:detail", [busy_oa]),
        ("quality portfolio /quality/", "quality", "quotas:index", []),
        ("quality portfolio, sorted by bad reports", "quality", "quotas:index", [], "?sort=bad"),
        ("OA quality page", "quality", "quotas:oa_detail", [busy_oa]),
        ("quota policies", "quality", "quotas:policies", []),
        ("campaigns", "marketer", "campaigns:index", []),
        ("campaign page", "marketer", "campaigns:detail", [campaign.pk]),
        ("campaign analytics", "quality", "campaigns:analytics", [campaign.pk]),
        ("OA bad-report attribution", "quality", "campaigns:oa_attribution", [busy_oa]),
        ("campaign recipients", "marketer", "campaigns:recipients", [campaign.pk]),
        ("recipient timeline", "marketer", "campaigns:timeline", [campaign.pk, message.pk if message else 0]),
        ("alerts", "quality", "alerts:index", []),
        ("message log", "auditor", "campaigns:logs", []),
        ("message log, page 21", "auditor", "campaigns:logs", [], f"?after={deep.next_after}"),
        ("message log, OA", "marketer", "campaigns:logs", [], f"?oa={busy_oa}"),
        ("message log, OA + failed", "marketer", "campaigns:logs", [], f"?oa={busy_oa}&state=failed"),
        ("message log, campaign", "marketer", "campaigns:logs", [], f"?campaign={campaign.pk}"),
        ("message log, failed", "quality", "campaigns:logs", [], "?state=failed"),
        ("message log, error code", "quality", "campaigns:logs", [], "?error_code=-124"),
        ("message log, phone", "marketer", "campaigns:logs", [], "?phone=" + _a_phone()),
        ("message log, 3 days", "auditor", "campaigns:logs", [], "?" + _days(3)),
        ("message log, failed + 3 days", "auditor", "campaigns:logs", [], "?state=failed&" + _days(3)),
    ]
    found = []
    # e.g. "message log": only the pages whose label has it; "home,alerts": has one of them
    only = [part for part in os.environ.get("BENCH_PAGES", "").split(",") if part]
    for label, role, name, args, *query in wanted:
        if only and not any(part in label for part in only):
            continue
        try:
            found.append((label, role, reverse(name, args=args) + (query[0] if query else "")))
        except NoReverseMatch:
            print(f"  (no page {name} yet: {label} left out)")
    return found


def _a_phone() -> str:
    from campaigns.models import CampaignMessage

    phone = CampaignMessage.objects.order_by("-id").values_list("phone", flat=True).first()
    return "0" + phone[2:]


def _days(count: int, back: int = 10) -> str:
    from datetime import timedelta

    from zalo_admin.lib.dates import today_in_vietnam

    end = today_in_vietnam() - timedelta(days=back)
    return f"date_from={end - timedelta(days=count - 1)}&date_to={end}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=f"{SERVER}/{DATABASE}",
        DEBUG="0",
        SECURE_HTTPS="0",
        STATIC_MANIFEST="0",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret-key-not-for-production"),
        AUDIT_SIGNING_KEY=os.environ.get("AUDIT_SIGNING_KEY", "bench-audit-key-not-for-production"),
        FIELD_ENCRYPTION_KEY=os.environ.get(
            "FIELD_ENCRYPTION_KEY",
            "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",  # the tests' key
        ),
        LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "zalo_admin.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--timeout",
            "600",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(200):
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            return server
        except requests.RequestException:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def login(base: str, username: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    answer = session.post(
        f"{base}/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=30,
    )
    if "sessionid" not in session.cookies:
        raise SystemExit(f"login as {username} failed: {answer.status_code}")
    return session


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _worker_pids(server: subprocess.Popen) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.pid)], capture_output=True, text=True)  # noqa: S603, S607
    return [int(pid) for pid in out.stdout.split()]


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def bench_pages(base: str, sessions: dict, found) -> list[tuple[str, float, float, int]]:
    results = []
    for label, role, path in found:
        session = sessions[role]
        first = session.get(base + path, timeout=120)  # warm-up (and a check the page answers)
        if first.status_code != 200:
            print(f"  {label}: HTTP {first.status_code} as {role}, left out")
            continue
        timings = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            response = session.get(base + path, timeout=120)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        p50, p95 = statistics.median(timings), _percentile(timings, 0.95)
        results.append((label, p50, p95, len(first.content)))
        print(
            f"  {label:42s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
            f"{'ok' if p95 < TARGET_P95_MS else 'SLOW'}  ({role}, {len(first.content) // 1024} KiB)",
            flush=True,
        )
    return results


def bench_export(base: str, session: requests.Session, server: subprocess.Popen) -> None:
    """The streamed CSV of a filter of about EXPORT_ROWS rows (a date range), with worker memory."""
    from datetime import timedelta

    from campaigns import logs
    from zalo_admin.lib.dates import today_in_vietnam

    per_day = MESSAGES / DAYS
    days = max(1, round(EXPORT_ROWS / per_day))
    end = today_in_vietnam() - timedelta(days=5)
    query = {"date_from": str(end - timedelta(days=days - 1)), "date_to": str(end)}
    expected = logs.count_up_to(logs.LogFilter.from_dict(query), 100_000_000)
    workers = _worker_pids(server)
    before = {pid: _rss_kb(pid) for pid in workers}
    peak = dict(before)
    started = time.perf_counter()
    rows = size = 0
    with session.get(f"{base}/campaigns/logs/export.csv", params=query, stream=True, timeout=600) as response:
        for block in response.iter_content(chunk_size=1 << 20):
            size += len(block)
            rows += block.count(b"\n")
            for pid in workers:
                peak[pid] = max(peak[pid], _rss_kb(pid))
    seconds = time.perf_counter() - started
    rows -= 1  # the header
    grown = max(peak[pid] - before[pid] for pid in workers)
    busiest = max(workers, key=lambda pid: peak[pid] - before[pid])
    print(
        f"CSV export, {rows:,} rows ({expected:,} expected, {days} days, {size / 1e6:.0f} MB): "
        f"{seconds:.1f} s, "
        f"{rows / seconds:,.0f} rows/s; gunicorn worker RSS {before[busiest] // 1024} MB before, peak "
        f"{peak[busiest] // 1024} MB (+{grown // 1024} MB)"
    )


def main() -> None:
    setup_django(DATABASE)
    seed()
    roles = users()
    found = pages()
    port = _free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    try:
        sessions = {role: login(base, username) for role, username in roles.items()}
        print(
            f"{len(found)} pages x {REQUESTS} requests through gunicorn (2 workers), "
            f"load {os.getloadavg()[0]:.1f}"
        )
        results = bench_pages(base, sessions, found)
        slow = [label for label, _p50, p95, _size in results if p95 >= TARGET_P95_MS]
        print(
            f"pages with p95 >= {TARGET_P95_MS} ms: {', '.join(slow) if slow else 'none'} "
            f"({len(results) - len(slow)} of {len(results)} met)"
        )
        bench_export(base, sessions["auditor"], server)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
