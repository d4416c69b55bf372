"""JSON typed or uploaded by a person, parsed within bounds.

`json.loads` alone turns some bad input into errors nobody handles: deep nesting raises
RecursionError, a number of more than 4,300 digits ValueError (Python's int conversion limit), and
`"\\ud800"` gives a string that cannot be encoded as UTF-8 and only fails later, while rendering or
saving. `loads()` refuses all of these up front with one exception type that says what is wrong.
"""

import json
import re
from typing import Any

INVALID, TOO_LARGE, TOO_DEEP, NUMBER_TOO_LONG, NOT_UTF8 = (
    "invalid",
    "too_large",
    "too_deep",
    "number_too_long",
    "not_utf8",
)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JSONInputError(ValueError):
    """Why the text was refused: `problem` is one of the constants above; `params` fill a message."""

    def __init__(self, problem: str, message: str, **params):
        super().__init__(message)
        self.problem = problem
        self.params = params


def nesting_depth(text: str, stop_after: int | None = None) -> int:
    """How deeply arrays and objects nest (brackets inside strings do not count); counting stops
    once `stop_after` is exceeded."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub('""', text)):
        if bracket.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if stop_after is not None and deepest > stop_after:
                break
        else:
            depth -= 1
    return deepest


def loads(text: str, *, max_depth: int, max_digits: int, max_chars: int | None = None) -> Any:
    """The parsed value; JSONInputError when the text is too long, nested deeper than `max_depth`,
    has a number longer than `max_digits` characters, is not JSON (NaN and Infinity included) or
    holds a string that is not valid Unicode (a lone surrogate escape)."""
    if max_chars is not None and len(text) > max_chars:
        raise JSONInputError(TOO_LARGE, f"more than {max_chars} characters", limit=max_chars)
    if nesting_depth(text, stop_after=max_depth) > max_depth:
        raise JSONInputError(TOO_DEEP, f"nested deeper than {max_depth} levels", limit=max_depth)

    def number(kind):
        def parse(token: str):
            if len(token) > max_digits:
                raise JSONInputError(
                    NUMBER_TOO_LONG, f"a number longer than {max_digits} characters", limit=max_digits
                )
            return kind(token)

        return parse

    def constant(name: str):
        raise JSONInputError(INVALID, f"{name} is not a JSON value", line=1, col=1)

    try:
        value = json.loads(text, parse_int=number(int), parse_float=number(float), parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise JSONInputError(
            INVALID,
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            line=exc.lineno,
            col=exc.colno,
        ) from None
    except RecursionError:  # cannot happen within max_depth, but never let it escape
        raise JSONInputError(TOO_DEEP, f"nested deeper than {max_depth} levels", limit=max_depth) from None
    where = _first_unencodable(value)
    if where is not None:
        raise JSONInputError(NOT_UTF8, f"a string that is not valid Unicode at {where}", where=where)
    return value


def _first_unencodable(value: Any) -> str | None:
    """Where the first string (key or value) that UTF-8 cannot encode is, as a short path, or None."""
    stack = [("$", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                if not _encodable(key):
                    return f"{path} (a key)"
                stack.append((f"{path}.{key}"[:80], child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]"[:80], child) for index, child in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
