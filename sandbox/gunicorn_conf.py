"""Gunicorn hooks of the sandbox (`-c python:sandbox.gunicorn_conf`).

The application is preloaded: the master migrates the sandbox database and applies the start-up
flags once (sandbox.wsgi), then forks the worker processes; each starts its background thread,
and one of them (the holder of the worker lock) runs the simulation.
"""


def post_fork(server, worker):
    from sandbox import startup

    startup.start_worker()
