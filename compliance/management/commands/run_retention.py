"""Apply the retention settings now (what the daily job does), or only count with --dry-run."""

from django.core.management.base import BaseCommand

from compliance.retention import run_retention


class Command(BaseCommand):
    help = (
        "Clear old template data, pseudonymise old message phones, trim old webhook payloads and "
        "delete old evidence pack files, as the RETENTION_* settings say (audited as system:retention)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be removed, change nothing"
        )

    def handle(self, *args, dry_run=False, **options):
        report = run_retention(dry_run=dry_run)
        for line in report.lines():
            self.stdout.write(line)
        if dry_run:
            self.stdout.write(f"dry run: nothing changed ({report.total} would be removed)")
        else:
            self.stdout.write(self.style.SUCCESS(f"retention applied: {report.total} removed (audited)"))
