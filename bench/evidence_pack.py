"""Benchmark: an evidence pack of a campaign of 10,000 and of 100,000 messages (3 timeline entries and
one consent grant each): build time and the building process's peak memory, which should stay flat.

Uses its own database (bench_evidence), seeded once. Each build runs in a fresh child process
(`--build CAMPAIGN_ID`) so its peak RSS is its own. Prints figures; not a test.
BENCH_EVIDENCE_MESSAGES changes the large size.
"""

import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

from _benchdb import ROOT, setup_django

LARGE = int(os.environ.get("BENCH_EVIDENCE_MESSAGES", "100000"))
SIZES = (LARGE // 10, LARGE)


def seed(size: int, offset: int) -> int:
    """A finished campaign of `size` messages; its id (reused when already seeded)."""
    from django.utils import timezone

    from audiences.models import ConsentEvent, Contact, ContactSource
    from campaigns.models import Campaign, CampaignMessage, CampaignMessageEvent
    from oas.models import MessageTemplate, OfficialAccount

    name = f"bench evidence {size}"
    existing = Campaign.objects.filter(name=name).first()
    if existing and existing.messages.count() == size:
        return existing.pk
    started = time.monotonic()
    oa, _ = OfficialAccount.objects.get_or_create(zalo_oa_id="bench-evidence", defaults={"name": "Bench"})
    template, _ = MessageTemplate.objects.get_or_create(
        oa=oa, template_id="900001", defaults={"name": "Orders", "tag": MessageTemplate.Tag.TRANSACTION}
    )
    campaign = Campaign.objects.create(oa=oa, template=template, name=name, status=Campaign.Status.COMPLETED)
    source, _ = ContactSource.objects.get_or_create(
        kind=ContactSource.Kind.MANUAL, label="bench", created_by="bench"
    )
    now = timezone.now()
    phones = [f"849{offset + i:08d}" for i in range(size)]
    Contact.objects.bulk_create(
        [Contact(phone=p, name=f"Khách {i}", source=source) for i, p in enumerate(phones)],
        batch_size=5000, ignore_conflicts=True,
    )  # fmt: skip
    contacts = dict(Contact.objects.filter(phone__in=phones).values_list("phone", "id"))
    evidence = hashlib.sha256(b"bench form").hexdigest()
    ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(
                contact_id=contacts[p], purpose="transactional", kind="granted",
                occurred_at=now - timedelta(days=2), recorded_by="bench", source="bench", collector="bench",
                wording="Nhận tin", evidence_text="bench form", evidence_sha256=evidence,
            )
            for p in phones
        ],
        batch_size=5000,
    )  # fmt: skip
    CampaignMessage.objects.bulk_create(
        [
            CampaignMessage(
                campaign=campaign, contact_id=contacts[p], phone=p, tracking_id=f"b{campaign.pk}-{i}",
                state="delivered", template_data={"customer_name": f"Khách {i}", "order_code": f"DH{i}"},
                provider_message_id=f"zmsg-{i}", sending_at=now, accepted_at=now, delivered_at=now,
            )
            for i, p in enumerate(phones)
        ],
        batch_size=5000,
    )  # fmt: skip
    ids = list(CampaignMessage.objects.filter(campaign=campaign).values_list("id", flat=True))
    for start in range(0, len(ids), 5000):
        CampaignMessageEvent.objects.bulk_create(
            [
                CampaignMessageEvent(
                    message_id=pk, from_state=old, to_state=new, at=now, actor="system:dispatcher"
                )
                for pk in ids[start : start + 5000]
                for old, new in (("queued", "claimed"), ("claimed", "sending"), ("sending", "accepted"))
            ]
        )
    print(
        f"seeded campaign #{campaign.pk}: {size:,} messages in {time.monotonic() - started:.1f} s", flush=True
    )
    return campaign.pk


def build(campaign_id: int) -> None:
    """In the child process: build one pack, print its figures and this process's peak RSS."""
    from django.conf import settings

    from compliance import evidence
    from compliance.models import EvidencePack

    settings.EVIDENCE_PACK_DIR = tempfile.mkdtemp(prefix="bench-evidence-")
    pack = EvidencePack.objects.create(requested_by_name="system:bench", reason="bench", scope="campaign",
                                       campaign_id=campaign_id)  # fmt: skip
    started = time.monotonic()
    built = evidence.build_pack(pack.pk)
    seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    verify_started = time.monotonic()
    intact = evidence.verify_pack(evidence.pack_path(built.file_name)).intact
    print(
        f"pack of campaign #{campaign_id}: {built.rows_written:,} rows, {built.size_bytes / 1e6:.1f} MB ZIP "
        f"in {seconds:.1f} s ({built.rows_written / seconds:,.0f} rows/s); peak RSS {peak_mb:.0f} MB; "
        f"verified ({intact}) in {time.monotonic() - verify_started:.1f} s",
        flush=True,
    )
    evidence.pack_path(built.file_name).unlink()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--build":
        # Already migrated by the parent: no `migrate` here, whose own memory would hide the build's.
        import django

        sys.path.insert(0, str(ROOT))
        django.setup()
        build(int(sys.argv[2]))
        return
    setup_django("bench_evidence")
    campaign_ids = [seed(size, offset=size) for size in SIZES]
    from django.db import connections

    connections.close_all()
    for campaign_id in campaign_ids:
        subprocess.run([sys.executable, __file__, "--build", str(campaign_id)], check=True, env=os.environ)


if __name__ == "__main__":
    main()
