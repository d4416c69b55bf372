"""Every page x every role: anonymous -> login redirect, wrong role -> 403, right role -> 200.

Later views join by adding a row to PAGES.
"""

import pytest
from django.urls import reverse

ROLES = ("marketer", "quality_admin", "auditor", "superuser")

# Pages about one object open these rows (created by `page_objects` below).
OA_PK, TEMPLATE_PK = 9001, 9002

# url name (args) -> roles that may open it
PAGES = {
    ("home", ()): {"marketer", "quality_admin", "auditor", "superuser"},
    ("oas:list", ()): {"marketer", "quality_admin", "auditor", "superuser"},
    ("audiences:index", ()): {"marketer", "auditor", "superuser"},
    ("campaigns:index", ()): {"marketer", "quality_admin", "auditor", "superuser"},
    ("quotas:index", ()): {"marketer", "quality_admin", "superuser"},
    ("quotas:policies", ()): {"marketer", "quality_admin", "superuser"},
    ("compliance:index", ()): {"auditor", "superuser"},
    ("django_rq:home", ()): {"quality_admin", "superuser"},
    # The OA page reads the stored provider reading, never the provider itself.
    ("oas:detail", (OA_PK,)): {"marketer", "quality_admin", "auditor", "superuser"},
    ("oas:templates", (OA_PK,)): {"marketer", "quality_admin", "auditor", "superuser"},
    ("oas:template_detail", (OA_PK, TEMPLATE_PK)): {"marketer", "quality_admin", "auditor", "superuser"},
}


@pytest.fixture(autouse=True)
def page_objects(db):
    from oas.models import MessageTemplate, OfficialAccount

    oa = OfficialAccount.objects.create(pk=OA_PK, name="Matrix OA", zalo_oa_id="matrix-oa")
    MessageTemplate.objects.create(
        pk=TEMPLATE_PK, oa=oa, template_id="1", name="Matrix template", tag=MessageTemplate.Tag.TRANSACTION
    )


def _cases():
    for (name, args), allowed in PAGES.items():
        for role in ROLES:
            yield pytest.param(name, args, role, role in allowed, id=f"{name}-{role}")


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "args"), list(PAGES))
def test_anonymous_users_are_sent_to_login(client, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "args", "role", "allowed"), list(_cases()))
def test_each_role_gets_exactly_its_pages(client, role_users, name, args, role, allowed):
    client.force_login(role_users[role])
    response = client.get(reverse(name, args=args))
    assert response.status_code == (200 if allowed else 403)


def test_navigation_shows_only_what_the_role_may_use(client, role_users):
    client.force_login(role_users["auditor"])
    html = client.get(reverse("home")).content.decode()
    assert reverse("compliance:index") in html
    assert reverse("quotas:index") not in html
    assert reverse("django_rq:home") not in html


def test_quality_admins_reach_the_policy_admin_without_staff_status(client, quality_admin, marketer):
    assert not quality_admin.is_staff
    client.force_login(quality_admin)
    assert client.get("/admin/quotas/policy/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403
    client.force_login(marketer)
    assert client.get("/admin/quotas/policy/").status_code == 302  # to the admin login
