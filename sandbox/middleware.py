"""Fault injection on the provider paths (/zalo, /oauth, /infobip), driven by the run-time configuration."""

import random
import socket
import struct
import time

from sandbox import runtime
from sandbox.http import json_response

_rng = random.SystemRandom()


class FaultInjectionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        runtime.sync()  # another process may have changed the configuration or cached rows
        injected = fault_response(request.path, request.environ)
        return injected if injected is not None else self.get_response(request)


def fault_response(path: str, environ: dict):
    """The injected answer for this request (a JsonResponse), or None to serve it normally. Shared
    by the middleware and the lean front of the hot send paths (sandbox.fastpath)."""
    scope = path.strip("/").split("/", 1)[0]
    faults = runtime.config()["faults"]
    if scope not in faults.get("scope", ()):
        return None
    if faults.get("latency_ms"):
        time.sleep(float(faults["latency_ms"]) / 1000)
    if _hit(faults.get("reset_rate")):
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # RST to the client; gunicorn's later write fails, which is the point
        return json_response({"error": "connection reset"}, status=500)
    if _hit(faults.get("timeout_rate")):
        time.sleep(float(faults.get("timeout_seconds", 30)))
        return json_response({"error": "gateway timeout"}, status=504)
    if _hit(faults.get("error_rate")):
        status = int(faults.get("error_status", 503))
        return json_response({"error": -100, "message": f"Injected HTTP {status}"}, status=status)
    return None


def _hit(rate) -> bool:
    rate = float(rate or 0)
    return rate >= 1 or (rate > 0 and _rng.random() < rate)
