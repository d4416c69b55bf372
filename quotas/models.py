from django.db import models

from oas.models import OfficialAccount


class OADailyStats(models.Model):
    """Messages sent and bad reports of one OA on one Vietnam calendar day (a rollup)."""

    oa = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    sent = models.PositiveIntegerField(default=0)
    bad_reports = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["oa", "day"], name="unique_daily_stats_per_oa")]
