"""WSGI entry of the sandbox: migrate its own database and apply the start-up flags (in the gunicorn master).

Environment: SANDBOX_DATABASE_URL, SANDBOX_CONFIG (JSON patch of the configuration),
SANDBOX_RESET=1 (wipe state), SANDBOX_SEED=1 (create the demo data).
"""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connections  # noqa: E402

from sandbox import fastpath, startup  # noqa: E402

# Loaded once by the gunicorn master (--preload): migrate and prepare here, then fork the workers,
# which start their background threads in gunicorn_conf.post_fork (no thread survives a fork).
startup.ensure_database()
call_command("migrate", "sandbox", verbosity=0, interactive=False)
startup.prepare()
# The hot send paths skip Django's request handling (sandbox.fastpath); the rest is plain Django.
application = fastpath.wrap(get_wsgi_application())
connections.close_all()  # each forked worker opens its own connections
