from django.core.management.base import BaseCommand

from zalo_admin.demo import ensure_demo_data, ensure_demo_users
from zalo_admin.health import settle_job_mode


class Command(BaseCommand):
    help = "Create demo data and one demo user per role (idempotent). Prints passwords it sets."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords", action="store_true", help="give the demo users new passwords"
        )

    def handle(self, *args, reset_passwords, **options):
        switched = settle_job_mode()  # the demo campaign's start is a job
        if switched:
            self.stdout.write(self.style.WARNING(switched))
        # Users first: the demo campaigns have an author and an approver.
        users = ensure_demo_users(reset_passwords=reset_passwords)
        ensure_demo_data()
        self.stdout.write(self.style.SUCCESS("Demo users (log in at http://127.0.0.1:8000/login/):"))
        for user in users:
            secret = user.password or "(unchanged; run `manage.py seed_demo --reset-passwords` for a new one)"
            self.stdout.write(f"  {user.role:<20} {user.username:<10} {secret}")
