"""Run the quota jobs by hand: the hourly violation check and/or the daily reviews."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from quotas.services import levels
from zalo_admin.lib.dates import today_in_vietnam


class Command(BaseCommand):
    help = "Run the hourly automatic-violation check and/or the daily level reviews (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--hourly", action="store_true", help="check violations for the last complete hour"
        )
        parser.add_argument("--daily", action="store_true", help="run the 00:00 (Vietnam) level reviews")
        parser.add_argument("--at", help="pretend it is this ISO 8601 moment (default: now; naive = UTC)")

    def handle(self, *args, hourly, daily, at, **options):
        if not (hourly or daily):
            raise CommandError("choose --hourly, --daily or both")
        moment = timezone.now()
        if at:
            try:
                moment = datetime.fromisoformat(at)
            except ValueError as error:
                raise CommandError(f"--at is not an ISO 8601 moment: {at}") from error
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=UTC)
        if hourly:
            day, hour = levels.last_complete_hour(moment)
            violations = levels.run_violation_checks(moment)
            self.stdout.write(f"violation check for {day} hour {hour}: {len(violations)} new violation(s)")
        if daily:
            reviewed = levels.run_daily_reviews(moment)
            self.stdout.write(f"daily reviews for {today_in_vietnam(moment)}: {reviewed} review(s)")
