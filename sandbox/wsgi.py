"""WSGI entry of the sandbox process: migrate its own database, apply start-up flags, start the worker.

Environment: SANDBOX_DATABASE_URL, SANDBOX_CONFIG (JSON patch of the configuration),
SANDBOX_RESET=1 (wipe state), SANDBOX_SEED=1 (create the demo data).
"""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from sandbox import startup  # noqa: E402

call_command("migrate", "sandbox", verbosity=0, interactive=False)
startup.prepare()
application = get_wsgi_application()
startup.start_worker()
