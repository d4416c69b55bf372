"""Recompute the campaign analytics rollups (funnel states, latency, sends and bad reports per
audience source and send hour) from the message rows."""

import sys
import time

from django.core.management.base import BaseCommand

from campaigns import analytics_rollups
from campaigns.models import Campaign


class Command(BaseCommand):
    help = (
        "Rebuild the campaign analytics rollups from the message rows and their bad-report entries "
        "(every campaign, or those named with --campaign)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--campaign", action="append", default=[], metavar="ID", help="only this campaign (repeatable)"
        )

    def handle(self, *args, campaign, **options):
        ids = None
        if campaign:
            try:
                ids = sorted({int(value) for value in campaign})
            except ValueError:
                self._fail(f"--campaign takes a campaign id (a whole number), not {campaign!r}")
            missing = sorted(set(ids) - set(Campaign.objects.filter(pk__in=ids).values_list("pk", flat=True)))
            if missing:
                self._fail(f"no campaign with id {', '.join(str(pk) for pk in missing)}")
        started = time.monotonic()
        written = analytics_rollups.rebuild(ids)
        self.stdout.write(
            f"rebuilt campaign analytics in {time.monotonic() - started:.1f} s: "
            f"{written['states']} state count(s), {written['latency']} latency bucket(s), "
            f"{written['sources']} source/hour row(s)"
        )

    def _fail(self, message: str):
        self.stderr.write("rebuild_campaign_analytics: " + message)
        sys.exit(2)
