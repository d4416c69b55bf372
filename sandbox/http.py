"""Small JSON helpers shared by the sandbox views."""

import json

from django.http import JsonResponse


def json_response(data, status=200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def read_json(request):
    """The request body as JSON; raises ValueError('empty') or ValueError('invalid')."""
    if not request.body or not request.body.strip():
        raise ValueError("empty")
    try:
        return json.loads(request.body, parse_constant=_not_json)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("invalid") from None


def _not_json(constant: str):
    """NaN, Infinity and -Infinity are Python's extension, not JSON (the providers refuse them, and
    the ledger's JSON columns cannot hold them)."""
    raise json.JSONDecodeError(f"{constant} is not JSON", constant, 0)
