"""One sandbox process for the whole session, reset (wiped + demo data) before every test."""

import http.server
import json
import threading

import pytest
import requests

from sandbox import people
from sandbox.testing import DEMO_INFOBIP_KEY, DEMO_TOKENS, sandbox_fixture

FAST = {"delay_factor": 0.001, "webhook_retry_factor": 0.0001}


sandbox_server = sandbox_fixture("sandbox_server", config=FAST)


@pytest.fixture
def sb(sandbox_server):
    sandbox_server.reset()
    return sandbox_server


class Receiver:
    """A tiny local HTTP server that records webhook requests and answers with scripted statuses."""

    def __init__(self):
        self.requests = []
        self.statuses = []  # popped per request; 200 when empty
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):  # an OAuth callback in a browser test
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": b""})
                body = b"<!DOCTYPE html><title>callback</title><p>ok</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def json_bodies(self):
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


class ZaloClient:
    def __init__(self, sandbox, token):
        self.sandbox = sandbox
        self.token = token

    def post(self, path, body, token=None, raw=None):
        headers = {"access_token": token or self.token, "Content-Type": "application/json"}
        data = raw if raw is not None else json.dumps(body)
        return requests.post(f"{self.sandbox.zalo_base}{path}", data=data, headers=headers, timeout=10).json()

    def get(self, path, token=None, **params):
        headers = {"access_token": token or self.token}
        return requests.get(
            f"{self.sandbox.zalo_base}{path}", params=params, headers=headers, timeout=10
        ).json()

    def send(self, phone, template_id="100001", data=None, tracking_id="t-1", **extra):
        body = {
            "phone": phone,
            "template_id": template_id,
            "template_data": data
            if data is not None
            else {"customer_name": "Nguyễn Văn A", "order_code": "DH1", "amount": "150000"},
            "tracking_id": tracking_id,
            **extra,
        }
        return self.post("/message/template", body)


@pytest.fixture
def zalo(sb):
    return ZaloClient(sb, DEMO_TOKENS["demo-oa-1"])


class InfobipClient:
    def __init__(self, sandbox, key=DEMO_INFOBIP_KEY):
        self.sandbox = sandbox
        self.headers = {"Authorization": f"App {key}"}

    def send(self, body):
        return requests.post(
            f"{self.sandbox.infobip_base}/zalo/2/messages", json=body, headers=self.headers, timeout=10
        )

    def get(self, path, **params):
        return requests.get(
            f"{self.sandbox.infobip_base}{path}", params=params, headers=self.headers, timeout=10
        )

    def post(self, path):
        return requests.post(f"{self.sandbox.infobip_base}{path}", headers=self.headers, timeout=10)


@pytest.fixture
def infobip(sb):
    return InfobipClient(sb)


def reachable_phone(sb, start=84912000000, **want):
    """The first phone (from `start` up) whose derived profile is on Zalo, not opted out, reachable,
    plus any extra wanted flags (e.g. follower=False)."""
    base = {"not_on_zalo": False, "opted_out": False, "unreachable": False, "bad_report": False, **want}
    cfg = sb.admin("GET", "config")
    for number in range(start, start + 5000):
        phone = str(number)
        profile = people.derive(cfg["people_seed"], phone, cfg)
        if all(profile[k] == v for k, v in base.items()):
            return phone
    raise AssertionError("no phone with that profile")
