"""Reset a user's two-factor sign-in (a lost phone and no recovery code left): audited as this command."""

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from twofactor.services import TwoFactorError, reset_two_factor

ACTOR = "system:manage-reset_two_factor"


class Command(BaseCommand):
    help = (
        "Remove a user's authenticator app and recovery codes, so that they sign in with the password alone."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = self._fail  # a usage error is one line and exit status 2 too, not a usage page
        return parser

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", default="")
        parser.add_argument("--reason", default="", help="why (written to the audit log; required)")
        parser.add_argument(
            "--by", default="", help="who asked for the reset (recorded in the audit entry's reason)"
        )

    def handle(self, *args, username, reason, by, **options):
        if not username.strip():
            self._fail("name the user: reset_two_factor USERNAME --reason '…'")
        if not reason.strip():
            self._fail("give a reason with --reason '…' (it goes to the audit log)")
        user_model = get_user_model()
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            self._fail(f"no user named {username!r}")
        reason = " ".join(reason.split())
        if by.strip():
            reason = f"{reason} (asked by {' '.join(by.split())})"
        try:
            removed = reset_two_factor(actor=ACTOR, user=user, reason=reason)
        except TwoFactorError as error:
            self._fail(str(error))
        if removed:
            self.stdout.write(f"Two-factor sign-in of {username} reset: {removed} device(s) removed.")
        else:
            self.stdout.write(f"{username} had no two-factor sign-in; nothing changed.")

    def _fail(self, message: str):
        self.stderr.write("reset_two_factor: " + " ".join(message.split()))
        sys.exit(2)
