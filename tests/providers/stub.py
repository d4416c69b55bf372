"""A tiny local HTTP server standing in for Zalo/Infobip in unit tests (127.0.0.1, free port).

Routes answer from a script: `stub.on("POST", "/zalo/message/template", [resp1, resp2])` answers the
listed responses in turn (the last one repeats); a response is a `Reply` or a callable taking the
`Recorded` request and returning one.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from providers.base import MessageRequest


@dataclass
class Reply:
    body: object = None
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (for read timeouts)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    client_port: int

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def form(self) -> dict:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


class StubServer:
    def __init__(self):
        self.routes: dict[tuple[str, str], list] = {}
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    self.command,
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    self.client_address[1],
                )
                reply = stub._reply_for(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = (
                    b""
                    if reply.body is None
                    else (reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode())
                )
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def on(self, method: str, path: str, replies):
        self.routes[(method, path)] = list(replies) if isinstance(replies, list) else [replies]

    def _reply_for(self, recorded: Recorded) -> Reply:
        with self.lock:
            self.requests.append(recorded)
            queue = self.routes.get((recorded.method, recorded.path))
            if not queue:
                return Reply({"error": "no route"}, status=404)
            item = queue.pop(0) if len(queue) > 1 else queue[0]
        reply = item(recorded) if callable(item) else item
        return reply if isinstance(reply, Reply) else Reply(reply)

    def calls(self, method: str, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]


def zalo_ok(data) -> Reply:
    return Reply({"error": 0, "message": "Success", "data": data})


def zalo_error(code: int, message: str) -> Reply:
    return Reply({"error": code, "message": message, "data": None})


def token_pair(access: str, refresh: str, expires_in: str = "90000") -> Reply:
    return Reply({"access_token": access, "refresh_token": refresh, "expires_in": expires_in})


def zalo_message(n: int, **extra) -> MessageRequest:
    """A template message to recipient number n, as the Zalo client tests send it."""
    return MessageRequest(
        tracking_id=f"t{n}",
        template_id="7895417a7d3f9461cd2e",
        template_data={"customer": "Nguyễn Thị Hoàng Anh", "amount": 100000},
        phone=f"8498765432{n}",
        **extra,
    )


def zalo_accepted(msg_id="a4d0243feee163bd3af2") -> Reply:
    """Zalo's answer to an accepted template send."""
    return zalo_ok(
        {
            "msg_id": msg_id,
            "sent_time": "1626926349402",
            "sending_mode": "1",
            "quota": {"dailyQuota": "500", "remainingQuota": "499"},
        }
    )
