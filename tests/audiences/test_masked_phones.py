"""Masked phones on every audience page (issue 11): every GET route of the `audiences` namespace,
found by walking the URL conf as the access matrix does (so a page added later is covered by itself),
rendered for every role that may open it with a contact present, never shows the full number in any
of its forms. The one exception: the contact page right after an audited "Show number", for a role
holding reveal_phones, and only once.

Route parameters and the rows they name come from the access matrix (`PARAM_VALUES`,
`MatrixObjects`): a new route needs its entry there anyway.
"""

import re
from functools import cached_property
from io import BytesIO

import pytest
from django.urls import reverse

from audiences import services
from audiences.models import ContactSource, FollowerStatus, Purpose
from compliance import actions
from compliance.models import AuditEvent
from oas.models import OfficialAccount
from tests.zalo_admin.test_access_matrix import (
    PARAM_VALUES,
    ROUTES,
    MatrixObjects,
    _access,
    _method_guard,
    _url,
)
from zalo_admin.roles import has_capability

ROLES = ("marketer", "quality_admin", "auditor", "superuser")
# Not the matrix's 0912 345 678: help texts use that one as their example.
PHONE = "84986123457"
NATIONAL = "0986123457"
FORMS = (PHONE, NATIONAL, "0986 123 457", "+84986123457")
MASKED = "0986***457"
# The national significant number with any separators between its digits: catches 84912345678,
# 0912345678, +84 912 345 678, 0912.345.678, 0912-345-678...
_SEPARATOR = r"[ .\-\u00a0]?"
FULL_NUMBER = re.compile(r"(?<!\d)(?:\+?84|0)?" + _SEPARATOR + _SEPARATOR.join(PHONE[2:]) + r"(?!\d)")


def _get_routes():
    for route in ROUTES:
        if not (route.name or "").startswith("audiences:"):
            continue
        allowed, _guard_first = _method_guard(route.callback)
        if allowed is None or "GET" in allowed:
            yield route


GET_ROUTES = list(_get_routes())

# (route name, role) -> why the full number legitimately shows there, expected to fail (strict).
KNOWN_LEAKS: dict[tuple[str, str], str] = {}


def _leaks(text: str) -> list[str]:
    return [match.group(0) for match in FULL_NUMBER.finditer(text)]


def test_the_detector_finds_every_form_of_the_number_and_not_the_mask():
    for form in (*FORMS, "0986.123.457", "0986-123-457", "+84 986 123 457", "986123457"):
        assert _leaks(f'<td data-x="1">{form}</td>') == [form], form
    assert not _leaks(f"<code>{MASKED}</code>")
    assert not _leaks("id 109861234579 and 9861234570")  # longer digit runs are other numbers


def test_the_walk_finds_the_audience_pages():
    names = {route.name for route in GET_ROUTES}
    assert {
        "audiences:index",
        "audiences:contact",
        "audiences:data_requests",
        "audiences:data_request",
    } <= names
    assert "audiences:reveal_phone" not in names  # POST only


class PersonObjects(MatrixObjects):
    """The matrix's rows, about one person: the contact (in the matrix's list), its data request and
    an uploaded import whose file holds the number."""

    @cached_property
    def contact(self):
        source = ContactSource.objects.create(
            kind=ContactSource.Kind.MANUAL, label="Masked phones", created_by="system:test"
        )
        return services.create_contact(
            actor="system:test", phone=PHONE, source=source, name="Lan", attributes={"city": "Huế"}
        )

    @cached_property
    def data_request(self):
        from audiences.data_requests import receive_request

        return receive_request(actor="system:test", phone=PHONE, kind="erasure")

    @cached_property
    def contact_import(self):
        from audiences.imports import create_import

        csv = f"phone,name,note\n{NATIONAL},Lan,call {NATIONAL}\n+84 986 123 457,Lan again,\n"
        return create_import(
            actor="system:test", uploaded_file=BytesIO(csv.encode()), original_name="people.csv"
        )


@pytest.fixture
def objs(db):
    """Every row a page could show, with a contact that has attributes, consent evidence, a follower
    status, a do-not-contact entry and a data request."""
    objs = PersonObjects()
    contact = objs.contact
    oa = OfficialAccount.objects.create(name="Masked OA", zalo_oa_id="masked-oa")
    services.set_follower_status(
        actor="system:test", contact=contact, oa=oa, status=FollowerStatus.Status.FOLLOWS
    )
    services.grant_consent(
        actor="system:test",
        contact=contact,
        purpose=Purpose.MARKETING,
        source="web form",
        collector="shop staff",
        wording="Tôi đồng ý nhận tin khuyến mãi qua Zalo.",
        evidence_text="form submission #42",
    )
    services.suppress_phone(actor="system:test", phone=PHONE, reason="complaint", source="manual")
    # Every row a route parameter names exists before any page is rendered (list pages show them too).
    for param in {param for route in GET_ROUTES for param in route.params}:
        if param in PARAM_VALUES:
            PARAM_VALUES[param](objs)
    return objs


def _text(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode(response.charset or "utf-8", errors="replace")


def _cases():
    for route in GET_ROUTES:
        for role in ROLES:
            marks = []
            reason = KNOWN_LEAKS.get((route.name, role))
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            yield pytest.param(route, role, marks=marks, id=f"{route.key}-{role}")


@pytest.mark.parametrize(("route", "role"), list(_cases()))
def test_no_audience_page_shows_the_full_number(client, role_users, objs, route, role):
    user = role_users[role]
    if not all(has_capability(user, capability) for capability in _access(route).capabilities):
        return  # this role cannot open the page: the access matrix checks its 403
    client.force_login(user)
    url = _url(route, objs)
    response = client.get(url)
    assert response.status_code < 400, f"GET {url} as {role}: {response.status_code}"
    text = _text(response)
    assert not _leaks(text), f"GET {url} as {role} shows the full number: {_leaks(text)}"


def test_every_audience_page_is_opened_by_some_role(role_users, objs):
    for route in GET_ROUTES:
        capabilities = _access(route).capabilities
        assert any(
            all(has_capability(user, capability) for capability in capabilities)
            for user in role_users.values()
        ), route.name


@pytest.mark.parametrize("role", ROLES)
def test_the_number_shows_only_right_after_an_audited_show_number(client, role_users, objs, role):
    user = role_users[role]
    contact = objs.contact
    client.force_login(user)
    detail = reverse("audiences:contact", args=[contact.pk])
    response = client.post(reverse("audiences:reveal_phone", args=[contact.pk]))
    reveals = AuditEvent.objects.filter(action=actions.CONTACT_PHONE_REVEAL)
    if not has_capability(user, "reveal_phones"):
        assert response.status_code == 403
        assert not reveals.exists()
        if has_capability(user, "view_audiences"):
            assert not _leaks(_text(client.get(detail)))
        return
    assert response.status_code == 302 and response["Location"] == detail
    [event] = reveals
    assert event.actor == f"user:{user.get_username()}" and event.details["contact_id"] == contact.pk
    # Other pages opened meanwhile still show the number masked...
    for route in GET_ROUTES:
        if route.name == "audiences:contact":
            continue
        if all(has_capability(user, capability) for capability in _access(route).capabilities):
            url = _url(route, objs)
            assert not _leaks(_text(client.get(url))), f"GET {url} as {role} after Show number"
    # ...the contact page shows it, once, in the national form.
    html = _text(client.get(detail))
    assert _leaks(html) == [NATIONAL] and f">{NATIONAL}<" in html
    assert not _leaks(_text(client.get(detail)))


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("audiences:index", "marketer"),
        ("audiences:contact", "auditor"),
        ("audiences:data_requests", "auditor"),
    ],
)
def test_the_pages_do_show_the_person_masked(client, role_users, objs, name, role):
    """The check above is not vacuous: the person is on these pages, masked."""
    [route] = [route for route in GET_ROUTES if route.name == name]
    client.force_login(role_users[role])
    html = _text(client.get(_url(route, objs)))
    assert MASKED in html and not _leaks(html)
