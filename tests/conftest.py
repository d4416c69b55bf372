"""Fixtures shared by the whole suite: one user per role, a clean Redis database per test."""

import os
from urllib.parse import urlparse

import pytest
import redis
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group

from quotas.policy_data import load_policies
from sandbox.testing import sandbox_fixture
from teams.defaults import default_team_pk
from teams.models import Membership
from zalo_admin.roles import COMPLIANCE_AUDITOR, MARKETER, QUALITY_ADMIN

# Browser tests (in several folders) use Playwright's sync API, which runs an event loop in the
# test's thread; the ORM calls their fixtures make are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery-staple"


def _make_user(django_user_model, username, role=None, all_teams=False, **extra):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    # Members of the team that rows made without one belong to (teams.defaults), as the migration
    # put every existing user: role tests see the objects they create (tests/teams for other teams).
    # The auditor sees all teams, as compliance auditors are meant to (phone and period packs).
    Membership.objects.create(user=user, team_id=default_team_pk(), all_teams=all_teams)
    return user


@pytest.fixture
def marketer(db, django_user_model):
    return _make_user(django_user_model, "marketer", MARKETER)


@pytest.fixture
def quality_admin(db, django_user_model):
    return _make_user(django_user_model, "quality", QUALITY_ADMIN)


@pytest.fixture
def auditor(db, django_user_model):
    return _make_user(django_user_model, "auditor", COMPLIANCE_AUDITOR, all_teams=True)


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser(
        username="root", password=PASSWORD, email="root@example.com"
    )


@pytest.fixture
def role_users(marketer, quality_admin, auditor, superuser):
    return {"marketer": marketer, "quality_admin": quality_admin, "auditor": auditor, "superuser": superuser}


# One local Zalo/Infobip sandbox process for the session, started by the first test that needs it.
sandbox_server = sandbox_fixture("sandbox_server", scope="session", config={"delay_factor": 0.001})


@pytest.fixture
def sb(sandbox_server, settings):
    """The sandbox, freshly seeded, with the product's provider URLs pointing at it."""
    sandbox_server.reset()
    for key, value in sandbox_server.settings_env().items():
        setattr(settings, key, value)
    return sandbox_server


@pytest.fixture(autouse=True)
def quota_policies(django_db_setup, django_db_blocker):
    """The data migration's quota policies, present for every test. Transactional tests flush the
    whole database, data migrations included (roles come back by themselves through post_migrate);
    loading outside the test's transaction keeps them for the tests that follow."""
    with django_db_blocker.unblock():
        load_policies(apps)


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with an empty Redis database (never index 0, which local runs use)."""
    db_index = int((urlparse(settings.REDIS_URL).path or "/0").lstrip("/") or 0)
    if db_index == 0:
        raise RuntimeError("Tests must use a dedicated Redis database index: set REDIS_URL=redis://…/15")
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(autouse=True)
def audit_checkpoint_dir(settings, tmp_path):
    """Checkpoint files belong to the database they anchor: one folder per test database state."""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"
    return settings.AUDIT_CHECKPOINT_DIR


@pytest.fixture(autouse=True)
def contact_import_dir(settings, tmp_path):
    """Uploaded contact files of a test stay in its own folder, never in var/."""
    settings.CONTACT_IMPORT_DIR = tmp_path / "contact-imports"
    return settings.CONTACT_IMPORT_DIR


@pytest.fixture(autouse=True)
def evidence_pack_dir(settings, tmp_path):
    """Evidence packs built by a test stay in its own folder, never in var/."""
    settings.EVIDENCE_PACK_DIR = tmp_path / "evidence-packs"
    return settings.EVIDENCE_PACK_DIR


def _flush_past_the_truncate_guard():
    """The audit tables refuse TRUNCATE (a trigger). Transactional tests flush the database
    between tests with TRUNCATE, as the superuser the tests connect as: only for that flush,
    session_replication_role = replica (superuser-only) lets it past the triggers."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    flush = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with self.connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            flush(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")

    DatabaseOperations.execute_sql_flush = execute_sql_flush


def pytest_configure(config):
    _flush_past_the_truncate_guard()
    # Password hashing dominates fixture time; tests do not need a slow hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Assertions read English; the Vietnamese catalog is exercised by the browser tests.
    settings.LANGUAGE_CODE = "en"
    # The live server answers in short-lived threads: persistent connections would outlive them
    # and keep the test database busy at teardown.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
