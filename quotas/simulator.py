"""The `quota_simulate` scenario format (spec: quota-rules.md) on top of `rules.simulate`.

The policy comes from its `quotas.Policy` row, so the simulator runs exactly the product's rules.
"""

from typing import Any

from quotas import rules
from quotas.models import Policy

HOURS = 24
SCENARIO_KEYS = {"policy", "initial_limit", "days", "review_clock_start"}
DAY_KEYS = {"sent", "bad_reports", "bad_reports_by_hour"}


class ScenarioError(ValueError):
    """A malformed scenario; the message is one line for standard error."""


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where} must be a whole number, got {value!r}")
    if value < 0:
        raise ScenarioError(f"{where} must not be negative, got {value}")
    return value


def _day_inputs(days: Any) -> tuple[list[int], list[list[int]]]:
    if not isinstance(days, list):
        raise ScenarioError("days must be a list")
    requested, hourly = [], []
    for number, day in enumerate(days, start=1):
        where = f"day {number}"
        if not isinstance(day, dict):
            raise ScenarioError(f"{where} must be an object")
        unknown = set(day) - DAY_KEYS
        if unknown:
            raise ScenarioError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
        for key in ("sent", "bad_reports"):
            if key not in day:
                raise ScenarioError(f"{where} is missing {key}")
        requested.append(_count(day["sent"], f"{where} sent"))
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
    return requested, hourly


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


def _review_clock_start(scenario: dict, initial_limit: int | None, policy: rules.Policy) -> int | None:
    """S as a day number. Default: a new OA (clock from its first send) at the starting level; an OA
    given another initial limit has just had a level change, so its clock starts on day 1."""
    if "review_clock_start" not in scenario:
        return None if initial_limit == policy.starting_level else 1
    start = scenario["review_clock_start"]
    if start is None:
        return None
    if isinstance(start, bool) or not isinstance(start, int):
        raise ScenarioError(f"review_clock_start must be a whole day number or null, got {start!r}")
    return start


def run_scenario(scenario: Any) -> dict:
    """Validate a scenario and return the simulator's output document."""
    if not isinstance(scenario, dict):
        raise ScenarioError("the scenario must be a JSON object")
    unknown = set(scenario) - SCENARIO_KEYS
    if unknown:
        raise ScenarioError(f"unknown keys: {', '.join(sorted(unknown))}")
    code = scenario.get("policy")
    if not isinstance(code, str):
        raise ScenarioError("policy must be a policy code such as zbs-2026")
    row = Policy.objects.filter(code=code).first()
    if row is None:
        known = ", ".join(Policy.objects.order_by("code").values_list("code", flat=True))
        raise ScenarioError(f"unknown policy {code!r} (known: {known})")
    policy = row.to_rules()
    if "days" not in scenario:
        raise ScenarioError("days is missing")
    requested, hourly = _day_inputs(scenario["days"])
    initial_limit = _initial_limit(scenario, policy)
    result = rules.simulate(
        policy,
        requested,
        hourly,
        initial_limit=initial_limit,
        review_clock_start=_review_clock_start(scenario, initial_limit, policy),
    )
    return {
        "policy": policy.code,
        "final_limit": result.final_limit,
        "days": [
            {
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
            for day in result.days
        ],
    }
