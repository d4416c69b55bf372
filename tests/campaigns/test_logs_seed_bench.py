"""`manage.py seed_bench` on a small scale: what it writes, that the log reads it, and its bad input."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from campaigns import logs
from campaigns.models import Campaign, CampaignDispatch, CampaignMessage
from oas.models import MessageTemplate, OfficialAccount
from quotas.models import CampaignDailyStats, LevelReview, OADailyStats, OAHourlyStats, OAQuotaState


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s", [CampaignMessage._meta.db_table]
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_a_small_seed_writes_every_table_consistently():
    before = _indexes()
    out = io.StringIO()
    call_command("seed_bench", messages=3000, oas=6, days=10, campaigns_per_oa=5, stdout=out)
    assert "6 OAs, 30 campaigns, 3,000 messages, 10 days" in out.getvalue()
    assert OfficialAccount.objects.count() == 6
    assert OAQuotaState.objects.count() == 6
    assert MessageTemplate.objects.count() == 18
    assert Campaign.objects.count() == CampaignDispatch.objects.count() == 30
    assert CampaignMessage.objects.count() == 3000
    assert Campaign.objects.filter(status="running").count() == 1  # the newest of every tenth OA
    # One row per recipient, tracking ids unique: the constraints were rebuilt and hold.
    assert _indexes() == before
    # The rollups are the messages, counted: sent per OA per day equals the hourly sum and the
    # campaign rollups.
    daily = sum(OADailyStats.objects.values_list("sent", flat=True))
    assert daily == sum(OAHourlyStats.objects.values_list("sent", flat=True))
    assert daily == sum(CampaignDailyStats.objects.values_list("sent", flat=True))
    assert daily == CampaignMessage.objects.filter(state__in=["accepted", "delivered", "unconfirmed"]).count()
    assert LevelReview.objects.count() == 6 * 10
    # The log reads it: every page of one campaign, each row once.
    campaign = Campaign.objects.first()
    seen, after = [], None
    while True:
        page = logs.page(logs.LogFilter(campaign=campaign.pk), after=after, size=40)
        seen += [row["id"] for row in page.rows]
        if not page.next_after:
            break
        after = page.next_after
    assert sorted(seen) == sorted(
        CampaignMessage.objects.filter(campaign=campaign).values_list("id", flat=True)
    )
    assert len(seen) == 100
    # A new message still gets an id after the copied ones (the sequence was moved on).
    new = CampaignMessage.objects.create(campaign=campaign, phone="84999999999", tracking_id="after-seed")
    assert new.pk > 3000


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"oas": 0}, "--oas must be between 1 and 100000, not 0"),
        ({"messages": -5}, "--messages must be between 0 and 100000000, not -5"),
        ({"days": 0}, "--days must be between 1 and 3650, not 0"),
        ({"campaigns_per_oa": 0}, "--campaigns-per-oa must be between 1 and 1000, not 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(db, options, message):
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("seed_bench", stderr=err, **options)
    assert exit_info.value.code == 2
    assert err.getvalue().strip() == f"seed_bench: {message}"
    assert not CampaignMessage.objects.exists()
