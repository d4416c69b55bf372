"""A NUL character in a request parameter gets a clear 400 on every page (PostgreSQL refuses NUL in
text, so it used to be a 500 wherever a parameter reached a query)."""

from django.urls import reverse

NUL_MESSAGE = "NUL character"


def assert_refused(response):
    assert response.status_code == 400
    assert NUL_MESSAGE in response.content.decode()


def test_the_audit_filter_refuses_a_nul_in_the_action(client, auditor):
    client.force_login(auditor)
    assert_refused(client.get("/compliance/?action=%00"))
    assert_refused(client.get("/compliance/?action=oa.create%00"))
    assert_refused(client.get("/compliance/?%00=1"))
    assert client.get("/compliance/?action=oa.create").status_code == 200


def test_other_pages_refuse_a_nul_in_a_query_or_form_parameter(client, marketer):
    client.force_login(marketer)
    assert_refused(client.get(reverse("oas:list") + "?q=%00"))
    assert_refused(client.get(reverse("campaigns:index") + "?page=1%00"))
    client.logout()
    assert_refused(client.post(reverse("login"), {"username": "marketer\x00", "password": "x"}))


def test_a_webhook_body_is_left_to_the_webhook(client, db):
    """CSRF-exempt webhooks read their raw body themselves: the guard does not parse it."""
    response = client.post(
        reverse("providers:zalo_webhook"),
        "event_name=user_received_message&x=%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code != 400 or NUL_MESSAGE not in response.content.decode()
