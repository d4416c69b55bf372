"""Recompute the daily and hourly quota rollups from the raw events."""

from django.core.management.base import BaseCommand

from quotas.services import rollups


class Command(BaseCommand):
    help = "Rebuild every quota rollup (per OA, campaign and template; daily and hourly) from the raw events."

    def handle(self, *args, **options):
        written = rollups.rebuild_rollups()
        self.stdout.write(f"rebuilt {written} rollup row(s)")
