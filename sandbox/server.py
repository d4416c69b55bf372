"""How the sandbox is started: gunicorn (gthread workers) on sandbox.wsgi, preloaded by the master.

`workers` processes share the sandbox database, the write lock and a cache generation counter
(sandbox.runtime); one of them runs the simulation (sandbox.worker). SANDBOX_WORKERS sets the
default number of processes.
"""

import json
import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = f"sqlite:///{BASE_DIR / 'var' / 'sandbox.sqlite3'}"


def default_workers() -> int:
    return max(1, int(os.environ.get("SANDBOX_WORKERS") or 1))


def gunicorn_argv(
    host: str, port: int, threads: int = 16, access_log: bool = False, workers: int | None = None
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "sandbox.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers or default_workers()),
        "--preload",  # the master migrates and applies the start-up flags once, then forks
        "--config",
        "python:sandbox.gunicorn_conf",
        "--threads",
        str(threads),
        "--timeout",
        "120",
        "--graceful-timeout",
        "3",
        "--keep-alive",
        "5",
        "--backlog",
        "2048",
        "--chdir",
        str(BASE_DIR),
        "--log-level",
        "warning",
        # Zalo's own headers are `access_token` and `secret_key`: keep underscored header names.
        "--header-map",
        "dangerous",
    ]
    if access_log:
        argv += ["--access-logfile", "-"]
    return argv


def sandbox_env(
    database_url: str | None = None,
    *,
    reset: bool = False,
    seed: bool = False,
    config: dict | None = None,
    print_seed: bool = False,
) -> dict:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"
    env["SANDBOX_DATABASE_URL"] = database_url or env.get("SANDBOX_DATABASE_URL") or DEFAULT_DB
    env["SANDBOX_RESET"] = "1" if reset else "0"
    env["SANDBOX_SEED"] = "1" if seed else "0"
    env["SANDBOX_PRINT_SEED"] = "1" if print_seed else "0"
    env["SANDBOX_CONFIG"] = json.dumps(config or {})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BASE_DIR), env.get("PYTHONPATH", "")) if p)
    return env
