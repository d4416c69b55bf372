"""Benchmark: quota_simulate of a 3,650-day scenario (target < 1 s). Prints figures; not a test.

Uses its own database (bench_quotas), created and migrated here, for the policy rows.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from io import StringIO

from _benchdb import ROOT, setup_django

DAYS = 3650
TARGET_SECONDS = 1.0


def scenario() -> dict:
    """Ten years of a growing OA with bad weeks and a few bursts of bad reports within a day."""
    rng = random.Random(2026)
    days = []
    for number in range(DAYS):
        sent = rng.randrange(0, 60000) if number % 90 < 80 else rng.randrange(0, 500)
        bad_weeks = number % 60 >= 45
        bad = rng.randrange(0, max(1, sent // (150 if bad_weeks else 2500)))
        day = {"sent": sent, "bad_reports": bad}
        if number % 7 == 3:
            hourly = [0] * 24
            for _ in range(bad):
                hourly[rng.randrange(24)] += 1
            day["bad_reports_by_hour"] = hourly
        days.append(day)
    return {"policy": "zbs-2026", "days": days}


def main() -> None:
    setup_django()
    from django.core.management import call_command

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(scenario(), handle)
        path = handle.name
    try:
        timings = []
        for _ in range(5):
            out = StringIO()
            started = time.perf_counter()
            call_command("quota_simulate", path, stdout=out)
            timings.append(time.perf_counter() - started)
        output = json.loads(out.getvalue())
        changes = sum(
            day["limit"] != day["limit_end"] or day["review"] in ("upgrade", "downgrade")
            for day in output["days"]
        )
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "quota_simulate", path],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ,
        )
        whole_process = time.perf_counter() - started
        assert json.loads(process.stdout) == output
        empty = {"policy": "zbs-2026", "days": []}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "quota_simulate", "-"],
            input=json.dumps(empty),
            capture_output=True,
            text=True,
            check=True,
            env=os.environ,
        )
        startup = time.perf_counter() - started
    finally:
        os.unlink(path)
    best = min(timings)
    print(
        f"quota_simulate {DAYS} days: in-process best {best * 1000:.0f} ms, median "
        f"{sorted(timings)[2] * 1000:.0f} ms ({changes} level events, final limit {output['final_limit']}); "
        f"whole `manage.py quota_simulate` process {whole_process * 1000:.0f} ms "
        f"(of which Python + Django start-up, measured with an empty scenario: {startup * 1000:.0f} ms); "
        f"target < {TARGET_SECONDS:.0f} s: {'met' if max(timings) < TARGET_SECONDS else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
