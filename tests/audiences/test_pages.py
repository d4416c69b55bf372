"""The audience pages: counts, masked phones for every role, "show number" audited, do-not-contact."""

import pytest
from django.urls import reverse

from audiences import services
from audiences.models import ContactSource, FollowerStatus, Purpose, Suppression
from audiences.views import REVEAL_SESSION_KEY
from compliance import actions
from compliance.models import AuditEvent
from oas.models import OfficialAccount
from zalo_admin.lib.phones import REASONS

ACTOR = "system:test"
PHONE = "84912345678"
NATIONAL = "0912345678"
MASKED = "0912***678"
OTHER = "84987654321"


@pytest.fixture
def oa(db):
    return OfficialAccount.objects.create(name="Shop", zalo_oa_id="oa-1")


@pytest.fixture
def contact(db, oa):
    source = ContactSource.objects.create(
        kind=ContactSource.Kind.MANUAL, label="front desk", created_by=ACTOR
    )
    contact = services.create_contact(
        actor=ACTOR, phone=PHONE, source=source, name="Lan", attributes={"city": "Hà Nội"}
    )
    services.set_follower_status(actor=ACTOR, contact=contact, oa=oa, status=FollowerStatus.Status.FOLLOWS)
    services.grant_consent(
        actor=ACTOR,
        contact=contact,
        purpose=Purpose.MARKETING,
        source="web form",
        collector="shop staff",
        wording="Tôi đồng ý nhận tin khuyến mãi qua Zalo.",
        evidence_text="form submission #42",
    )
    services.withdraw_consent(
        actor=ACTOR, contact=contact, purpose=Purpose.CUSTOMER_CARE, channel="opt_out_reply"
    )
    other = services.create_contact(actor=ACTOR, phone=OTHER, source=source, name="Minh")
    services.suppress_phone(actor=ACTOR, phone=OTHER, reason="asked on the phone", source="manual")
    services.grant_consent(
        actor=ACTOR,
        contact=other,
        purpose=Purpose.MARKETING,
        source="web form",
        collector="shop staff",
        wording="Đồng ý",
        evidence_text="form submission #43",
    )
    return contact


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.mark.parametrize("role", ["marketer", "auditor", "superuser"])
def test_the_list_and_the_detail_show_phones_masked_to_every_role(client, role_users, contact, role):
    client.force_login(role_users[role])
    for url in (reverse("audiences:index"), reverse("audiences:contact", args=[contact.pk])):
        html = _html(client.get(url))
        assert MASKED in html
        assert NATIONAL not in html and PHONE not in html
        assert "912 345 678" not in html


def test_quality_admins_read_counts_only(client, quality_admin, contact):
    client.force_login(quality_admin)
    html = _html(client.get(reverse("audiences:index")))
    assert 'data-testid="contact-count">2<' in html
    assert MASKED not in html
    assert client.get(reverse("audiences:contact", args=[contact.pk])).status_code == 403


def test_counts_are_current_consent_and_current_suppression(
    client, auditor, contact, django_assert_max_num_queries
):
    services.withdraw_consent(actor=ACTOR, contact=contact, purpose=Purpose.MARKETING, channel="manual")
    services.suppress_phone(actor=ACTOR, phone=PHONE, reason="complaint", source="manual")
    services.lift_suppression(actor=ACTOR, phone=PHONE, reason="mistake")
    client.force_login(auditor)
    response = client.get(reverse("audiences:index"))
    counts = {row.purpose: (row.granted, row.withdrawn) for row in response.context["consent_counts"]}
    assert counts == {"marketing": (1, 1), "customer_care": (0, 1), "transactional": (0, 0)}
    assert response.context["suppression_count"] == 1
    assert response.context["contact_count"] == 2


def test_search_parses_the_phone(client, marketer, contact):
    client.force_login(marketer)
    response = client.get(reverse("audiences:index"), {"q": "+84 912 345 678"})
    assert [row.pk for row, _masked in response.context["page"].object_list] == [contact.pk]
    html = _html(client.get(reverse("audiences:index"), {"q": "0912 345 67a"}))
    assert str(REASONS["letters"]) in html
    assert "Lan" not in html


def test_the_detail_shows_the_evidence_and_the_decisions(client, auditor, contact, oa):
    client.force_login(auditor)
    response = client.get(reverse("audiences:contact", args=[contact.pk]), {"oa": oa.pk})
    html = _html(response)
    event = contact.consent_events.get(kind="granted")
    assert event.evidence_sha256 in html
    assert "Tôi đồng ý nhận tin khuyến mãi qua Zalo." in html and "shop staff" in html
    assert "Hà Nội" in html and "Shop" in html
    decisions = {label: decision.allowed for label, decision in response.context["decisions"]}
    assert decisions == {"transactional": True, "customer care": False, "marketing": True}
    assert 'data-testid="not-suppressed"' in html
    assert 'data-testid="show-number"' not in html  # auditors do not reveal numbers


def test_a_missing_contact_is_404(client, marketer, db):
    client.force_login(marketer)
    assert client.get(reverse("audiences:contact", args=[999999])).status_code == 404
    assert client.post(reverse("audiences:reveal_phone", args=[999999])).status_code == 404


def test_show_number_is_audited_and_shows_the_number_once(client, marketer, contact):
    client.force_login(marketer)
    detail = reverse("audiences:contact", args=[contact.pk])
    assert 'data-testid="show-number"' in _html(client.get(detail))
    response = client.post(reverse("audiences:reveal_phone", args=[contact.pk]))
    assert response.status_code == 302 and response["Location"] == detail
    event = AuditEvent.objects.get(action=actions.CONTACT_PHONE_REVEAL)
    assert event.actor == f"user:{marketer.username}"
    assert event.details == {"contact_id": contact.pk, "phone": MASKED}
    assert PHONE not in str(event.details) and NATIONAL not in str(event.details)
    html = _html(client.get(detail))
    assert f'data-testid="revealed-phone">{NATIONAL}<' in html
    assert NATIONAL not in _html(client.get(detail))  # once


def test_an_old_reveal_flag_shows_nothing(client, marketer, contact):
    client.force_login(marketer)
    session = client.session
    session[REVEAL_SESSION_KEY] = {"contact_id": contact.pk, "at": 0}
    session.save()
    assert NATIONAL not in _html(client.get(reverse("audiences:contact", args=[contact.pk])))


def test_auditors_may_not_reveal(client, auditor, contact):
    client.force_login(auditor)
    assert client.post(reverse("audiences:reveal_phone", args=[contact.pk])).status_code == 403
    assert not AuditEvent.objects.filter(action=actions.CONTACT_PHONE_REVEAL).exists()


@pytest.mark.parametrize("role", ["marketer", "auditor"])
def test_do_not_contact_adds_the_phone(client, role_users, contact, role):
    client.force_login(role_users[role])
    response = client.post(reverse("audiences:suppress"), {"phone": "0912.345.678", "reason": "complaint"})
    assert response.status_code == 302
    row = services.current_suppression(PHONE)
    assert row is not None and row.source == Suppression.Source.MANUAL and row.reason == "complaint"
    assert not services.may_send(PHONE, Purpose.TRANSACTIONAL, None)
    html = _html(client.get(response["Location"]))
    assert MASKED in html and NATIONAL not in html


def test_do_not_contact_form_errors(client, marketer, db):
    client.force_login(marketer)
    html = _html(client.post(reverse("audiences:suppress"), {"phone": "024 3826 4567", "reason": "x"}))
    assert str(REASONS["landline"]) in html
    html = _html(client.post(reverse("audiences:suppress"), {"phone": "", "reason": "  "}))
    assert str(REASONS["empty"]) in html
    assert not Suppression.objects.exists()


def test_lifting_is_for_auditors(client, marketer, auditor, contact):
    client.force_login(marketer)
    assert (
        client.post(reverse("audiences:lift_suppression"), {"phone": OTHER, "reason": "x"}).status_code == 403
    )
    client.force_login(auditor)
    html = _html(client.post(reverse("audiences:lift_suppression"), {"phone": NATIONAL, "reason": "mistake"}))
    assert "not on the do-not-contact list" in html
    response = client.post(
        reverse("audiences:lift_suppression"), {"phone": "0987 654 321", "reason": "mistake"}
    )
    assert response.status_code == 302
    assert services.current_suppression(OTHER) is None


def test_the_contact_list_pages_by_phone_both_ways_without_counting(client, auditor, contact):
    import re

    source = ContactSource.objects.create(kind=ContactSource.Kind.MANUAL, label="bulk", created_by=ACTOR)
    for n in range(110):
        services.create_contact(actor=ACTOR, phone=f"8490{n * 7919 % 10000000:07d}", source=source)
    client.force_login(auditor)

    def ids(response):
        return [row.pk for row, _masked in response.context["page"].object_list]

    pages = [client.get(reverse("audiences:index"))]
    while pages[-1].context["page"].next_url:
        pages.append(client.get(reverse("audiences:index") + pages[-1].context["page"].next_url))
    from audiences.models import Contact

    assert [pk for page in pages for pk in ids(page)] == list(
        Contact.objects.order_by("phone", "pk").values_list("pk", flat=True)
    )
    assert len(pages) == 3 and not pages[0].context["page"].previous_url
    back = client.get(reverse("audiences:index") + pages[2].context["page"].previous_url)
    assert ids(back) == ids(pages[1])
    assert re.search(r'data-testid="next-page"', _html(pages[0]))
