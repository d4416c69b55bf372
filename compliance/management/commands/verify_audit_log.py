from django.core.management.base import BaseCommand, CommandError

from compliance.integrity import checkpoint_dir, verify_audit_log


class Command(BaseCommand):
    help = (
        "Verify the audit log's signatures against the newest checkpoint file; "
        "exit status 1 when it has been tampered with."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="check only the entries after the newest checkpoint (and every checkpoint's anchor)",
        )

    def handle(self, *args, incremental=False, **options):
        result = verify_audit_log(incremental=incremental)
        if not result.intact:
            where = f" at entry #{result.first_broken_id}" if result.first_broken_id else ""
            raise CommandError(f"audit log NOT intact{where}: {result.reason}")
        anchor = (
            f"newest {result.checkpoint.describe()} at position {result.checkpoint.entry_count}"
            if result.checkpoint
            else f"no checkpoint yet in {checkpoint_dir()} (run audit_checkpoint)"
        )
        scope = "since the newest checkpoint" if incremental else "in all"
        self.stdout.write(
            self.style.SUCCESS(
                f"audit log intact: {result.checked} entries verified {scope}, "
                f"{result.entry_count} in the log; {anchor}"
            )
        )
