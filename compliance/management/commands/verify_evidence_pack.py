"""Say whether an evidence pack is complete and untouched: exit 0 intact, 1 tampered or incomplete
(the reason per file), 2 bad input (no file given, no such file, not a ZIP). One line, no traceback."""

import sys

from django.core.management.base import BaseCommand

from compliance.evidence import BadPackFile, verify_pack


class Command(BaseCommand):
    help = (
        "Check an evidence pack (ZIP): the manifest's signature under AUDIT_SIGNING_KEY, then every "
        "file's size and SHA-256; exit status 1 when it is incomplete or altered, 2 on bad input."
    )
    # Needs the audit key only, not the database: skip the project-wide system checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="the evidence pack's ZIP file")

    def handle(self, *args, file=None, **options):
        if not file:
            self._exit(2, "verify_evidence_pack: give the pack's file: manage.py verify_evidence_pack FILE")
        try:
            result = verify_pack(file)
        except BadPackFile as error:
            self._exit(2, f"verify_evidence_pack: {error}")
        except (OSError, ValueError) as error:  # unreadable, a NUL in the name
            self._exit(2, f"verify_evidence_pack: cannot read {file!r}: {error}")
        if not result.intact:
            self._exit(1, "evidence pack NOT intact: " + "; ".join(result.problems))
        manifest = result.manifest
        covers = manifest.get("covers", {})
        self.stdout.write(
            self.style.SUCCESS(
                f"evidence pack intact: pack #{manifest.get('pack_id')} ({covers.get('scope')} "
                f"{covers.get('subject')}), {result.files_checked} files and the manifest's signature "
                f"verified; created {manifest.get('created_at')} by {manifest.get('created_by')}"
            )
        )

    def _exit(self, status: int, message: str):
        self.stderr.write(" ".join(message.split()))
        sys.exit(status)
