"""Template preview and validation take JSON typed by a person: bad input is a form error (or a 400
for an oversized body), never a 500."""

import pytest
from django.urls import reverse

from oas.models import MessageTemplate
from tests.providers.conftest import make_oa
from zalo_admin.lib import jsoninput


@pytest.fixture
def template(db):
    return MessageTemplate.objects.create(
        oa=make_oa("demo-oa-1"),
        template_id="100001",
        name="Order confirmation",
        tag=MessageTemplate.Tag.TRANSACTION,
        params=[
            {"name": "customer_name", "type": "STRING", "require": True, "maxLength": 30, "minLength": 1},
            {"name": "amount", "type": "NUMBER", "require": True, "maxLength": 12, "minLength": 1},
        ],
    )


def post(client, template, data, action="validate"):
    url = reverse("oas:template_detail", args=[template.oa_id, template.pk])
    return client.post(url, {"action": action, "data": data})


BAD_INPUT = {
    "deep_nesting": ('{"customer_name": "A", "x": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    "one_level_too_deep": ('{"x": ' + "[" * 20 + "]" * 20 + "}", "at most 20 levels"),
    "deep_nesting_beyond_the_length_bound": ("[" * 50_000 + "]" * 50_000, "at most 20000 characters"),
    "number_of_5000_digits": ('{"customer_name": "A", "amount": ' + "9" * 5000 + "}", "too long"),
    "lone_surrogate_value": ('{"customer_name": "\\ud800", "amount": 1}', "lone surrogate"),
    "lone_surrogate_key": ('{"\\udfff": "A"}', "lone surrogate"),
    "a_list": ("[1, 2]", "Enter a JSON object"),
    "a_string": ('"customer_name"', "Enter a JSON object"),
    "nan": ('{"customer_name": "A", "amount": NaN}', "not valid JSON"),
    "not_json": ("{customer_name: A}", "not valid JSON (line 1, column 2)"),
    "huge": ('{"customer_name": "' + "A" * 30_000 + '"}', "at most 20000 characters"),
}


@pytest.mark.parametrize("action", ["validate", "preview"])
@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_json_gets_a_form_error_not_a_500(client, marketer, template, case, action):
    data, message = BAD_INPUT[case]
    client.force_login(marketer)
    response = post(client, template, data, action)
    assert response.status_code == 200
    errors = response.context["form"].errors["data"]
    assert any(message in error for error in errors), errors
    assert response.context["preview"] is None


def test_a_body_beyond_the_upload_limit_is_a_400(client, marketer, template, settings):
    client.force_login(marketer)
    response = post(client, template, "{}" + " " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10))
    assert response.status_code == 400


def test_a_contact_record_with_some_nesting_is_still_previewed(client, marketer, template):
    client.force_login(marketer)
    contact = '{"customer_name": "Trần Thị B", "amount": 99000, "address": {"city": {"name": "Huế"}}}'
    response = post(client, template, contact, action="preview")
    assert response.context["form"].errors == {}
    assert response.context["preview"].ok


def test_the_parser_counts_brackets_inside_strings_as_text():
    assert jsoninput.nesting_depth('{"a": "[[[[[[", "b": [{"c": "]]]"}]}') == 3
    assert jsoninput.loads('{"a": "[[[[[["}', max_depth=1, max_digits=5) == {"a": "[[[[[["}
