"""Re-encrypt every EncryptedTextField value under the first key of FIELD_ENCRYPTION_KEYS.

Key rotation without downtime: deploy with the new key first and the old key(s) after it (everything
still decrypts), run this command, then drop the old key. It works in batches, touches only values
not already under the current key (so it is idempotent and resumable), and writes each value with
a conditional UPDATE so a concurrent change (e.g. a token refresh) is never overwritten.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from zalo_admin.lib.crypto import InvalidToken, encrypted_fields, is_current, reencrypt_str


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields under the current (first) FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")

    def handle(self, *args, batch_size, dry_run, **options):
        undecryptable = 0
        for model, fields in encrypted_fields():
            stats = self.rotate_model(model, fields, batch_size, dry_run)
            undecryptable += stats["undecryptable"]
            self.stdout.write(
                f"{model._meta.label}: {stats['rows']} rows, {stats['rotated']} values re-encrypted, "
                f"{stats['current']} already current, {stats['raced']} changed meanwhile, "
                f"{stats['undecryptable']} undecryptable" + (" (dry run)" if dry_run else "")
            )
        if undecryptable:
            raise CommandError(f"{undecryptable} values fit none of FIELD_ENCRYPTION_KEYS; re-add old keys")

    def rotate_model(self, model, fields, batch_size, dry_run) -> dict:
        q = connection.ops.quote_name
        table, pk = q(model._meta.db_table), q(model._meta.pk.column)
        columns = [model._meta.get_field(name).column for name in fields]
        select = (
            f"SELECT {pk}, {', '.join(q(c) for c in columns)} FROM {table} "  # noqa: S608 - names are quoted identifiers
            f"WHERE {pk} > %s ORDER BY {pk} LIMIT %s"
        )
        stats = {"rows": 0, "rotated": 0, "current": 0, "raced": 0, "undecryptable": 0}
        last = None
        while True:
            with connection.cursor() as cursor:
                if last is None:
                    cursor.execute(select.replace(f"WHERE {pk} > %s ", ""), [batch_size])
                else:
                    cursor.execute(select, [last, batch_size])
                rows = cursor.fetchall()
            if not rows:
                return stats
            with transaction.atomic():
                for row in rows:
                    stats["rows"] += 1
                    for column, value in zip(columns, row[1:], strict=True):
                        self.rotate_value(table, pk, row[0], q(column), value, stats, dry_run)
            last = rows[-1][0]

    def rotate_value(self, table, pk, pk_value, column, value, stats, dry_run):
        if not value:
            return
        if is_current(value):
            stats["current"] += 1
            return
        try:
            new = reencrypt_str(value)
        except InvalidToken:
            stats["undecryptable"] += 1
            return
        if dry_run:
            stats["rotated"] += 1
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",  # noqa: S608
                [new, pk_value, value],
            )
            stats["rotated" if cursor.rowcount == 1 else "raced"] += 1
