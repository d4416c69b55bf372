"""The campaign builder's send-time check of a template's values: the pure rules
(oas.template_rules) with the OA's active RSA key when the send is encrypted."""

from oas.models import MessageTemplate
from oas.services.keys import active_public_key
from oas.template_rules import ParameterError, validate_template_data, validate_with_key_text


def validate_for_send(
    template: MessageTemplate, data: dict, *, encrypted: bool = False
) -> list[ParameterError]:
    """`validate_template_data`, with the OA's active RSA key when the send is encrypted; a missing or
    unreadable key is one error (param "") instead of an exception."""
    if not encrypted:
        return validate_template_data(template, data)
    return validate_with_key_text(template, data, active_public_key(template.oa_id))
