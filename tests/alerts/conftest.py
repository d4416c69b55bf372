"""Alerts fixtures: a real local HTTP server that records what it is posted and answers scripted
statuses, users with e-mail addresses per role, and jobs in-process unless a test asks for RQ."""

import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import Group

from quotas.models import OAQuotaState, Policy
from teams.defaults import default_team_pk
from teams.models import Membership
from tests.conftest import PASSWORD
from tests.providers.conftest import make_oa
from zalo_admin.roles import COMPLIANCE_AUDITOR, MARKETER, QUALITY_ADMIN


class Receiver:
    """What an operator's chat tool or relay would be: it records every POST and answers the next
    scripted status (200 once the script runs out)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True  # the local server is on loopback
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def in_process_jobs(settings):
    settings.JOBS_IN_PROCESS = True


def _user(django_user_model, name, role, email):
    user = django_user_model.objects.create_user(username=name, password=PASSWORD, email=email)
    user.groups.add(Group.objects.get(name=role))
    Membership.objects.create(user=user, team_id=default_team_pk())  # the team rows made without one get
    return user


@pytest.fixture
def people(db, django_user_model):
    return {
        "quality": _user(django_user_model, "q-admin", QUALITY_ADMIN, "quality@example.com"),
        "marketer": _user(django_user_model, "mkt", MARKETER, "marketer@example.com"),
        "auditor": _user(django_user_model, "aud", COMPLIANCE_AUDITOR, "auditor@example.com"),
    }


@pytest.fixture
def oa(db):
    oa = make_oa()
    OAQuotaState.objects.create(oa=oa, policy=Policy.objects.get(code="zns-2024"), current_limit=20000)
    return oa


@pytest.fixture
def today() -> date:
    from zalo_admin.lib.dates import today_in_vietnam

    return today_in_vietnam()
