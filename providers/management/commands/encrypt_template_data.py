"""Encrypt template values the way Zalo/Infobip `encrypted: true` sends need them.

    python manage.py encrypt_template_data --public-key-file key.pem < data.json

Reads a JSON object from stdin, prints it with every value RSA-OAEP encrypted and Base64-encoded.
Bad input gets a one-line error on stderr and exit status 2.
"""

import json
import sys

from django.core.management.base import BaseCommand

from zalo_admin.lib.rsa import EncryptionError, encrypt_template_data, load_public_key


class Command(BaseCommand):
    help = "Encrypt a JSON object of template values (stdin) with an RSA public key (PEM or Base64 DER)."
    # A filter-style tool: skip the project-wide system checks (they import every view and URL).
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--public-key-file", required=True, help="PEM or Base64-DER RSA public key")

    def handle(self, *args, public_key_file, **options):
        try:
            with open(public_key_file, "rb") as fh:
                key = load_public_key(fh.read())
        except OSError as exc:
            self._fail(f"cannot read public key file {public_key_file}: {exc.strerror or exc}")
        except EncryptionError as exc:
            self._fail(f"bad public key file {public_key_file}: {exc}")
        try:
            data = json.loads(sys.stdin.read())
        except (ValueError, UnicodeDecodeError) as exc:
            self._fail(f"stdin is not valid JSON: {exc}")
        if not isinstance(data, dict):
            self._fail("stdin must be a JSON object of template values")
        try:
            encrypted = encrypt_template_data(key, data)
        except EncryptionError as exc:
            self._fail(str(exc))
        self.stdout.write(json.dumps(encrypted, ensure_ascii=False))

    def _fail(self, message: str):
        sys.stderr.write(f"encrypt_template_data: {' '.join(message.split())}\n")
        sys.stderr.flush()
        raise SystemExit(2)
