from django.core.management.base import BaseCommand, CommandError

from compliance.integrity import create_checkpoint


class Command(BaseCommand):
    help = (
        "Verify the audit log since the newest checkpoint, then sign and write the next checkpoint "
        "(database row and one file under AUDIT_CHECKPOINT_DIR)."
    )

    def handle(self, *args, **options):
        try:
            outcome = create_checkpoint()
        except OSError as exc:
            raise CommandError(f"cannot write the checkpoint file: {exc}") from None
        verification = outcome.verification
        if not verification.intact:
            where = f" at entry #{verification.first_broken_id}" if verification.first_broken_id else ""
            raise CommandError(f"audit log NOT intact{where}, no checkpoint written: {verification.reason}")
        if outcome.checkpoint is None:
            newest = verification.checkpoint
            self.stdout.write(
                f"nothing new since {newest.describe()}"
                if newest
                else "the audit log is empty: nothing to anchor"
            )
            return
        checkpoint = outcome.checkpoint
        self.stdout.write(
            self.style.SUCCESS(
                f"checkpoint #{checkpoint.number}: {checkpoint.entry_count} entries up to entry "
                f"#{checkpoint.last_entry_id}, written to {outcome.path}"
            )
        )
