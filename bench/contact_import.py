"""Benchmark: `audiences.imports.run_import` on a 1,000,000-row CSV against a raw PostgreSQL COPY of
the same file into a bare table (goal: at most 3x the COPY, under 60 s, memory flat).

Uses its own database (bench_audiences, or BENCH_IMPORT_DATABASE), emptied of contacts first. The
file (phone, name, two attributes; 2 % bad phones, 5 % duplicates of earlier rows) is written to a
temporary folder. The import states a marketing consent basis, so the merge also appends one
ledger grant per contact (BENCH_IMPORT_CONSENT=0: no basis, contacts only). Prints the figures,
with the job's two phases (reading + staging, the merge) timed apart, the CPU seconds of the job and
of its PostgreSQL backend (comparable across loads) and the load average; not a test.
BENCH_IMPORT_ROWS changes the size.
"""

import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

from _benchdb import setup_django

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
TARGET_RATIO = 3.0
TARGET_SECONDS = 60.0
CONSENT = os.environ.get("BENCH_IMPORT_CONSENT", "1") != "0"
PREFIXES = ["090", "091", "093", "094", "096", "097", "098", "032", "035", "070", "077", "081", "086"]
BAD = ["abc", "12345", "024 3826 1234", "+1 202 555 0100", "0912-345", ""]


def _timed(function, phases: dict, name: str):
    def timed(*args, **kwargs):
        started = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.monotonic() - started

    return timed


def generate(path: Path, rows: int) -> tuple[int, int]:
    rng = random.Random(11)
    bad = duplicates = 0
    recent: list[str] = []
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("phone,name,city,tier\n")
        for n in range(rows):
            roll = rng.random()
            if roll < 0.02:
                phone, bad = rng.choice(BAD), bad + 1
            elif roll < 0.07 and recent:
                phone, duplicates = rng.choice(recent), duplicates + 1
            else:
                phone = f"{PREFIXES[n % len(PREFIXES)]}{n:07d}"
                if len(recent) < 10000:
                    recent.append(phone)
                else:
                    recent[n % 10000] = phone
            out.write(f"{phone},Khách hàng {n},Thành phố {n % 63},tier-{n % 4}\n")
    return bad, duplicates


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a local process (the PostgreSQL backend: same machine); 0 when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_copy(path: Path) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_contacts")
        cursor.execute("CREATE TABLE bench_raw_contacts (phone text, name text, city text, tier text)")
    started = time.monotonic()
    with (
        connection.cursor() as cursor,
        cursor.copy("COPY bench_raw_contacts FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        open(path, "rb") as data,
    ):
        for block in iter(lambda: data.read(1 << 20), b""):
            copy.write(block)
    seconds = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_contacts")
    return seconds


def main() -> None:
    setup_django(os.environ.get("BENCH_IMPORT_DATABASE", "bench_audiences"))
    from django.conf import settings
    from django.db import connection

    from audiences import imports
    from audiences.models import Contact

    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    settings.CONTACT_IMPORT_DIR = folder / "imports"
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE audiences_importrejection, audiences_contactimport, audiences_consentevent, "
                "audiences_followerstatus, audiences_contact, audiences_contactsource, "
                "audiences_contactconsentstate, audiences_contactfacts CASCADE"
            )
        path = folder / "contacts.csv"
        started = time.monotonic()
        bad, duplicates = generate(path, ROWS)
        size = path.stat().st_size
        print(
            f"generated {ROWS:,} rows ({size / 1e6:.0f} MB; {bad:,} bad, {duplicates:,} duplicates) "
            f"in {time.monotonic() - started:.1f} s"
        )
        copy_seconds = raw_copy(path)
        print(f"raw COPY into a bare table: {copy_seconds:.1f} s (load average {os.getloadavg()[0]:.1f})")

        item = imports.create_import(actor="system:bench", uploaded_file=path)
        consent = {}
        if CONSENT:
            consent = {
                "consent_purpose": "marketing",
                "consent_collector": "bench",
                "consent_wording": "Nhận tin khuyến mãi?",
                "consent_evidence_text": "generated file",
            }
        item = imports.map_columns(
            item, actor="system:bench", phone="phone", name="name", attributes=["city", "tier"], **consent
        )
        phases = {}
        for phase in ("_read_file", "_merge"):
            setattr(imports, phase, _timed(getattr(imports, phase), phases, phase))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        backend = _backend_pid()
        load_before = os.getloadavg()[0]
        cpu_before, db_cpu_before = _cpu_seconds(), _process_cpu_seconds(backend)
        started = time.monotonic()
        outcome = imports.run_import(item.pk)
        seconds = time.monotonic() - started
        cpu, db_cpu = _cpu_seconds() - cpu_before, _process_cpu_seconds(backend) - db_cpu_before
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        item.refresh_from_db()
        print(f"run_import: {outcome} in {seconds:.1f} s ({item.rows_done / seconds:,.0f} rows/s)")
        print(
            f"  rows {item.rows_total:,}, rejected {item.rows_rejected:,}, merged {item.rows_merged:,}, "
            f"consents granted {item.consents_granted:,}, contacts now {Contact.objects.count():,}"
        )
        print(
            f"  phases: reading, parsing and staging {phases.get('_read_file', 0):.1f} s; "
            f"merge (contacts{', ledger' if CONSENT else ''}) {phases.get('_merge', 0):.1f} s"
        )
        ratio = seconds / copy_seconds
        print(
            f"ratio run_import / raw COPY: {ratio:.1f}x (goal <= {TARGET_RATIO:.0f}x; "
            f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}); "
            f"time goal <= {TARGET_SECONDS:.0f} s: {'met' if seconds <= TARGET_SECONDS else 'NOT met'}"
        )
        print(
            f"CPU: import process {cpu:.1f} s, its PostgreSQL backend {db_cpu:.1f} s; load average "
            f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores: above 2, wall time "
            "waits for a core)"
        )
        print(
            f"peak RSS: {rss_before / 1024:.0f} MB before the job, {rss_after / 1024:.0f} MB after "
            f"(+{(rss_after - rss_before) / 1024:.0f} MB while importing a {size / 1e6:.0f} MB file)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
