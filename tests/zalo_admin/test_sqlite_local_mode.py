"""`make run` on a fresh machine: the embedded SQLite database and no Redis.

Tests otherwise run on PostgreSQL, so the SQLite branches of the set-based statements are proved
here: in subprocesses with a SQLite DATABASE_URL in a temporary folder, Redis unreachable and local
mode (DEBUG=1), `migrate`, `seed_demo` (which must say that jobs run in-process), then a small CSV
import, and a campaign of the demo data approved and dispatched to completion against a sandbox
started here, with the jobs in-process and the rate limits in the local file.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.testing import running_sandbox

BASE_DIR = Path(__file__).resolve().parents[2]

# Runs in the subprocess (`manage.py shell -c`): prints one JSON line of figures.
DRIVER = """
import json
from pathlib import Path
from django.conf import settings
from django.contrib.auth import get_user_model
from audiences import imports
from audiences.models import ContactImport, ContactList
from campaigns import approval, dispatch
from campaigns.models import Campaign, CampaignMessage
from oas.models import MessageTemplate
from zalo_admin import demo, jobs

csv = Path(settings.CONTACT_IMPORT_DIR).parent / "small.csv"
rows = ["phone,name,order", "0912 345 678,Ngọc Anh,A1", "+84 98 765 4321,Bảo,A2", "not a phone,X,A3"]
csv.write_text("\\n".join(rows) + "\\n", "utf-8")
job = imports.create_import(actor="system:test", uploaded_file=str(csv))
imports.map_columns(job, actor="system:test", phone="phone", name="name", attributes=["order"])
imports.start_import(job, actor="system:test")
job = ContactImport.objects.get(pk=job.pk)

users = get_user_model().objects
template = MessageTemplate.objects.get(oa__zalo_oa_id="demo-oa-1", template_id="100002")
audience = ContactList.objects.get(name=demo.DEMO_ORDER_LISTS[demo.DEMO_LIVE][0])
author = users.get(username="marketer")
campaign = demo._demo_campaign("SQLite check", template.oa, template, author, audience)
approval.approve_campaign(campaign.pk, user=users.get(username="quality"))
jobs.enqueue(dispatch.START_JOB, campaign.pk)  # in-process: starts and sends to the end
# Marketing recipient caps: the per-recipient upsert and its give-back.
from quotas.models import RecipientMarketingUsage
from quotas.services import reservations
held = reservations.reserve(template.oa, 2, 3, ["84900000001", "84900000002"])
reservations.release(held, ["84900000002"])
usage = dict(RecipientMarketingUsage.objects.values_list("recipient", "count"))
states = {}
for row in CampaignMessage.objects.filter(campaign=campaign).values_list("state", flat=True):
    states[row] = states.get(row, 0) + 1
print("FIGURES " + json.dumps({
    "import_status": job.status, "rows": [job.rows_done, job.rows_rejected],
    "campaign_status": Campaign.objects.get(pk=campaign.pk).status, "states": states,
    "tracking_ids": list(CampaignMessage.objects.filter(campaign=campaign, state="accepted")
                         .values_list("tracking_id", flat=True)),
    "in_process": settings.JOBS_IN_PROCESS, "usage": usage, "granted": held.granted,
    "ratelimit_file": Path(settings.LOCAL_RATELIMIT_FILE).exists(),
}))
"""


def _manage(env, *argv, timeout=300):
    return subprocess.run(  # noqa: S603 (our own manage.py)
        [sys.executable, str(BASE_DIR / "manage.py"), *argv],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.django_db  # not used here; the conftest's autouse fixtures need a database test
def test_make_run_works_on_sqlite_without_redis(tmp_path):
    with running_sandbox(config={"delay_factor": 0}) as sb:
        # A fresh machine's `make run`: local mode, no keys, no queue.
        drop = {"JOBS_IN_PROCESS", "SECRET_KEY", "FIELD_ENCRYPTION_KEY", "AUDIT_SIGNING_KEY", "DATABASE_URL"}
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(
            DEBUG="1",
            DATABASE_URL=f"sqlite:///{tmp_path / 'zalo_admin.sqlite3'}",
            REDIS_URL="redis://127.0.0.1:9/0",  # nothing listens on the discard port
            AUDIT_CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
            CONTACT_IMPORT_DIR=str(tmp_path / "imports"),
            LOCAL_RATELIMIT_FILE=str(tmp_path / "ratelimit.json"),
            DISPATCH_JOB_SECONDS="5",
            **sb.settings_env(),
        )
        migrate = _manage(env, "migrate", "--noinput")
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        seed = _manage(env, "seed_demo")
        assert seed.returncode == 0, seed.stderr[-3000:]
        assert "unreachable" in seed.stdout and "jobs run in-process" in seed.stdout
        assert "marketer" in seed.stdout and "quality" in seed.stdout and "auditor" in seed.stdout
        again = _manage(env, "seed_demo")  # idempotent
        assert again.returncode == 0, again.stderr[-3000:]

        # What run_stack hands its children (web, job loop) after its own probe.
        run = _manage({**env, "JOBS_IN_PROCESS": "1"}, "shell", "-c", DRIVER)
        assert run.returncode == 0, (run.stdout[-2000:], run.stderr[-3000:])
        line = next(line for line in run.stdout.splitlines() if line.startswith("FIGURES "))
        figures = json.loads(line.removeprefix("FIGURES "))
        ledger = {entry.get("tracking_id") for entry in sb.ledger()}

    assert figures["in_process"] is True and figures["ratelimit_file"] is True
    assert figures["granted"] == 2 and figures["usage"] == {"84900000001": 1, "84900000002": 0}, figures
    assert figures["import_status"] == "done" and figures["rows"] == [3, 1], figures
    states = figures["states"]
    assert sum(states.values()) == 120, states  # the demo list of the live demo campaign
    assert not set(states) & {"queued", "claimed", "sending", "unconfirmed"}, states
    assert states.get("accepted", 0) >= 100, states  # the sandbox refuses a few recipients
    assert figures["campaign_status"] in ("running", "completed"), figures  # reports come later
    assert set(figures["tracking_ids"]) <= ledger  # every accepted message reached the sandbox
