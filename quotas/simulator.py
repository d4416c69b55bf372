"""The `quota_simulate` scenario format (spec: quota-rules.md) on top of `rules.simulate`.

The policy comes from its `quotas.Policy` row, so the simulator runs exactly the product's rules.
"""

import re
from typing import Any

from quotas import rules
from quotas.models import Policy
from zalo_admin.lib import jsoninput

HOURS = 24
SCENARIO_KEYS = {"policy", "initial_limit", "days", "review_clock_start"}
DAY_KEYS = {"sent", "bad_reports", "bad_reports_by_hour", "marketing"}
# Bounds of a scenario: ten years of days, counts no platform reaches, a file of a few megabytes
# (3,660 days with hourly lists are about 1.5 MB), and no deeper nesting than the format has (3).
MAX_DAYS = 3660
MAX_COUNT = 10**12
MAX_SCENARIO_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 5
MAX_NUMBER_CHARS = 30
POLICY_CODE = re.compile(r"[-a-zA-Z0-9_]{1,40}")  # quotas.Policy.code is a slug


class ScenarioError(ValueError):
    """A malformed scenario; the message is one line for standard error."""


def _show(value: Any) -> str:
    """A value for an error message: short, one line, whatever it is."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_scenario(text: str) -> Any:
    """The scenario document from JSON text, within the bounds above (ScenarioError otherwise)."""
    try:
        return jsoninput.loads(
            text, max_depth=MAX_DEPTH, max_digits=MAX_NUMBER_CHARS, max_chars=MAX_SCENARIO_BYTES
        )
    except jsoninput.JSONInputError as error:
        if error.problem == jsoninput.INVALID:
            raise ScenarioError(str(error)) from None
        raise ScenarioError(f"scenario refused: {error}") from None


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where} must be a whole number, got {_show(value)}")
    if value < 0:
        raise ScenarioError(f"{where} must not be negative, got {value}")
    if value > MAX_COUNT:
        raise ScenarioError(f"{where} must be at most {MAX_COUNT:,}, got {value}")
    return value


def _day_inputs(days: Any) -> tuple[list[int], list[list[int]], list[int] | None]:
    """Each day's requested sends, hourly bad reports and, when any day gives `marketing` (the part
    of `sent` that is tag 3), every day's marketing sends (0 where left out); else None."""
    if not isinstance(days, list):
        raise ScenarioError("days must be a list")
    if len(days) > MAX_DAYS:
        raise ScenarioError(f"days has {len(days)} entries; at most {MAX_DAYS} (ten years) are simulated")
    requested, hourly, marketing = [], [], []
    for number, day in enumerate(days, start=1):
        where = f"day {number}"
        if not isinstance(day, dict):
            raise ScenarioError(f"{where} must be an object")
        unknown = set(day) - DAY_KEYS
        if unknown:
            raise ScenarioError(f"{where} has unknown keys: {_keys(unknown)}")
        for key in ("sent", "bad_reports"):
            if key not in day:
                raise ScenarioError(f"{where} is missing {key}")
        requested.append(_count(day["sent"], f"{where} sent"))
        marketing.append(_count(day.get("marketing", 0), f"{where} marketing"))
        if marketing[-1] > requested[-1]:
            raise ScenarioError(
                f"{where} marketing ({marketing[-1]}) must not be more than its sent ({requested[-1]})"
            )
        bad_reports = _count(day["bad_reports"], f"{where} bad_reports")
        by_hour = day.get("bad_reports_by_hour")
        if by_hour is None:
            by_hour = [0] * (HOURS - 1) + [bad_reports]  # only the total known: all in hour 23
        else:
            if not isinstance(by_hour, list) or len(by_hour) != HOURS:
                raise ScenarioError(f"{where} bad_reports_by_hour must be a list of {HOURS} numbers")
            by_hour = [
                _count(value, f"{where} bad_reports_by_hour[{hour}]") for hour, value in enumerate(by_hour)
            ]
            if sum(by_hour) != bad_reports:
                raise ScenarioError(
                    f"{where} bad_reports_by_hour sums to {sum(by_hour)}, not bad_reports {bad_reports}"
                )
        hourly.append(by_hour)
    with_marketing = any("marketing" in day for day in days)
    return requested, hourly, marketing if with_marketing else None


def _initial_limit(scenario: dict, policy: rules.Policy) -> int | None:
    if "initial_limit" not in scenario:
        return policy.starting_level
    limit = scenario["initial_limit"]
    if limit is None:
        if not policy.has_unrestricted_level:
            raise ScenarioError(f"initial_limit null (unrestricted) is not a level of {policy.code}")
        return None
    limit = _count(limit, "initial_limit")
    if limit not in policy.levels:
        levels = ", ".join("null" if level is None else str(level) for level in policy.levels)
        raise ScenarioError(f"initial_limit {limit} is not a level of {policy.code} ({levels})")
    return limit


def _review_clock_start(
    scenario: dict, initial_limit: int | None, policy: rules.Policy, day_count: int
) -> int | None:
    """S as a day number of the scenario: 1 (a change on day 1) to the day after the last (a first
    send on the last day), or null. Default: a new OA (clock from its first send) at the starting
    level; an OA given another initial limit has just had a level change, so its clock starts on day 1."""
    if "review_clock_start" not in scenario:
        return None if initial_limit == policy.starting_level else 1
    start = scenario["review_clock_start"]
    if start is None:
        return None
    last = day_count + 1
    if isinstance(start, bool) or not isinstance(start, int) or not 1 <= start <= last:
        raise ScenarioError(
            f"review_clock_start must be a day number from 1 to {last} (the day after the last) "
            f"or null, got {_show(start)}"
        )
    return start


def _keys(keys) -> str:
    shown = [_show(key) if not POLICY_CODE.fullmatch(key) else key for key in sorted(keys)[:5]]
    return ", ".join(shown) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def run_scenario(scenario: Any) -> dict:
    """Validate a scenario and return the simulator's output document."""
    if not isinstance(scenario, dict):
        raise ScenarioError("the scenario must be a JSON object")
    unknown = set(scenario) - SCENARIO_KEYS
    if unknown:
        raise ScenarioError(f"unknown keys: {_keys(unknown)}")
    code = scenario.get("policy")
    if not isinstance(code, str):
        raise ScenarioError("policy must be a policy code such as zbs-2026")
    if not POLICY_CODE.fullmatch(code):  # a NUL or a 1 MB string never reaches the database
        raise ScenarioError(f"policy must be a policy code such as zbs-2026, got {_show(code)}")
    row = Policy.objects.filter(code=code).first()
    if row is None:
        known = ", ".join(Policy.objects.order_by("code").values_list("code", flat=True))
        raise ScenarioError(f"unknown policy {code!r} (known: {known})")
    policy = row.to_rules()
    if "days" not in scenario:
        raise ScenarioError("days is missing")
    requested, hourly, marketing = _day_inputs(scenario["days"])
    initial_limit = _initial_limit(scenario, policy)
    result = rules.simulate(
        policy,
        requested,
        hourly,
        initial_limit=initial_limit,
        review_clock_start=_review_clock_start(scenario, initial_limit, policy, len(requested)),
        marketing_requested=marketing,
    )
    return {
        "policy": policy.code,
        "final_limit": result.final_limit,
        "days": [_day_output(day, with_marketing=marketing is not None) for day in result.days],
    }


def _day_output(day: rules.SimulationDay, *, with_marketing: bool) -> dict:
    """One day of the output; `marketing_sent` / `marketing_rejected` only for scenarios that give
    marketing sends (the spec's format otherwise stays exactly as it is)."""
    out = {
        "day": day.day,
        "limit": day.limit,
        "limit_end": day.limit_end,
        "sent": day.sent,
        "rejected": day.rejected,
        "bad_reports": day.bad_reports,
        "quality_7d": day.quality_7d.value,
        "review": day.review.value if day.review else None,
        "violation_hour": day.violation_hour,
    }
    if with_marketing:
        out["marketing_sent"] = day.marketing_sent
        out["marketing_rejected"] = day.marketing_rejected
    return out
