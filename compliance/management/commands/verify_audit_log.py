from django.core.management.base import BaseCommand, CommandError

from compliance.services import verify_audit_chain


class Command(BaseCommand):
    help = "Recompute the audit log's hash chain; exit status 1 when it has been tampered with."

    def handle(self, *args, **options):
        result = verify_audit_chain()
        if not result.intact:
            where = f" at entry #{result.first_broken_id}" if result.first_broken_id else ""
            raise CommandError(
                f"audit log NOT intact{where}: {result.reason} ({result.checked} entries verified)"
            )
        self.stdout.write(self.style.SUCCESS(f"audit log intact: {result.checked} entries verified"))
