"""Property-based tests of the quota simulator (issue 15, "Bad input everywhere"): any scenario text,
well-formed or not, and any command line. `run_scenario` either returns the output document (whose
figures are consistent with the input) or refuses with a ScenarioError of one line;
`python manage.py quota_simulate`, run as a process, either prints JSON with exit status 0 or one
line on standard error with exit status 2, never a traceback."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from quotas.models import Policy
from quotas.simulator import ScenarioError, parse_scenario, run_scenario
from tests.quotas.test_simulator import MANAGE

pytestmark = pytest.mark.django_db
FUZZ = hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROCESS_FUZZ = hypothesis_settings(FUZZ, max_examples=6)  # about 2 s a process

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from([0, 1, 23, 24, 5000, 20000, 10**12, 10**12 + 1, -1, 1.5, "10", "zbs-2026", "zns-2024"])
)
ANY_JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
)
COUNTS = st.integers(0, 60_000) | LEAVES
POLICIES = st.sampled_from(["zbs-2026", "zns-2024"])


@st.composite
def days(draw):
    day = {"sent": draw(COUNTS), "bad_reports": draw(st.integers(0, 500) | LEAVES)}
    if draw(st.integers(0, 3)) == 0:
        day["marketing"] = draw(COUNTS)
    if draw(st.integers(0, 4)) == 0:
        day["bad_reports_by_hour"] = draw(st.lists(st.integers(0, 50) | LEAVES, min_size=22, max_size=25))
    for key in draw(st.lists(st.sampled_from(["sent", "bad_reports", "extra"]), max_size=1)):
        if key == "extra":
            day[draw(st.text(max_size=8))] = draw(LEAVES)
        else:
            day.pop(key, None)
    return day


@st.composite
def scenarios(draw):
    """Close to the format (so that the rules run), with any field now and then of any kind."""
    scenario = {"policy": draw(POLICIES | st.text(max_size=12)), "days": draw(st.lists(days(), max_size=40))}
    if draw(st.booleans()):
        scenario["initial_limit"] = draw(st.sampled_from([None, 500, 1000, 5000, 20000, 50000, 3]) | LEAVES)
    if draw(st.booleans()):
        scenario["review_clock_start"] = draw(st.integers(-2, 45) | LEAVES)
    if draw(st.integers(0, 5)) == 0:
        scenario[draw(st.text(max_size=10))] = draw(ANY_JSON)
    return draw(st.just(scenario) | ANY_JSON) if draw(st.integers(0, 5)) == 0 else scenario


@st.composite
def valid_scenarios(draw):
    code = draw(POLICIES)
    levels = list(Policy.objects.get(code=code).to_rules().levels)
    count = draw(st.integers(1, 40))
    day_list = []
    for _ in range(count):
        sent = draw(st.integers(0, 120_000))
        hourly = draw(st.lists(st.integers(0, 30), min_size=24, max_size=24))
        day = {"sent": sent, "bad_reports": sum(hourly), "bad_reports_by_hour": hourly}
        if draw(st.booleans()):
            day["marketing"] = draw(st.integers(0, sent))
        day_list.append(day)
    scenario = {"policy": code, "initial_limit": draw(st.sampled_from(levels)), "days": day_list}
    if draw(st.booleans()):
        scenario["review_clock_start"] = draw(st.none() | st.integers(1, count + 1))
    return scenario, levels


def _one_line(message: str) -> None:
    assert message.strip() and "\n" not in message and "Traceback" not in message, message
    assert len(message) < 400, message


def _texts():
    """Scenario text: JSON of the format or of any shape, or any text at all."""
    return (
        scenarios().map(json.dumps)
        | ANY_JSON.map(json.dumps)
        | st.text(max_size=200)
        | st.sampled_from(['{"policy": "zbs-2026", "days": [', "[" * 50_000, "1" * 5000, '"\\ud800"', "{}"])
    )


@FUZZ
@given(text=_texts())
def test_any_scenario_text_gives_an_output_or_a_one_line_refusal(text):
    try:
        output = run_scenario(parse_scenario(text))
    except ScenarioError as refusal:
        _one_line(str(refusal))
        return
    assert set(output) == {"policy", "final_limit", "days"}
    json.dumps(output)


@FUZZ
@given(case=valid_scenarios())
def test_a_well_formed_scenario_gives_figures_consistent_with_it(case):
    scenario, levels = case
    output = run_scenario(scenario)
    assert len(output["days"]) == len(scenario["days"])
    for given_day, day in zip(scenario["days"], output["days"], strict=True):
        assert day["sent"] + day["rejected"] == given_day["sent"]
        assert day["bad_reports"] == given_day["bad_reports"]
        assert day["limit"] in levels and day["limit_end"] in levels
        assert day["limit"] is None or day["sent"] <= day["limit"]
        assert day["violation_hour"] is None or 0 <= day["violation_hour"] <= 23
    # A review at 00:00 of day r changes the limit at 00:00 of day r + 1; nothing else moves it overnight.
    changing = ("upgrade", "downgrade")
    for before, after in zip(output["days"], output["days"][1:], strict=False):
        assert after["limit"] == before["limit_end"] or before["review"] in changing, (before, after)
    last = output["days"][-1]
    assert output["final_limit"] == last["limit_end"] or last["review"] in changing
    assert output["final_limit"] in levels


# As a process -----------------------------------------------------------------------------------

ARGUMENTS = st.lists(
    st.sampled_from(["-v", "9", "--bogus", "--traceback", "extra", "--settings=nowhere", "-h", "--", "-"]),
    max_size=3,
)


def _run(arguments: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    database = settings.DATABASES["default"]
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    return subprocess.run(
        [sys.executable, str(MANAGE), "quota_simulate", *arguments],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": url},
        check=False,
    )


def test_the_command_answers_any_file_and_arguments_with_json_or_one_line_and_status_2(tmp_path):
    @PROCESS_FUZZ
    @given(
        content=_texts().map(lambda text: text.encode("utf-8", "surrogatepass")) | st.binary(max_size=200),
        where=st.sampled_from(["file", "stdin", "missing", "directory"]),
        arguments=ARGUMENTS,
    )
    def run(content, where, arguments):
        path = tmp_path / "scenario.json"
        path.write_bytes(content)
        target = {
            "file": str(path),
            "stdin": "-",
            "missing": str(tmp_path / "nope.json"),
            "directory": str(tmp_path),
        }
        result = _run([target[where], *arguments], content)
        stderr = result.stderr.decode("utf-8", "replace")
        if "-h" in arguments and "--" not in arguments[: arguments.index("-h")]:
            # The help page, unless an argument before it is refused first (-v without its value,
            # an unknown --settings module): then one line and status 2, as for any bad argument.
            assert result.returncode in (0, 2) and "Traceback" not in stderr, stderr
            assert (
                b"usage" in result.stdout if result.returncode == 0 else len(stderr.strip().splitlines()) == 1
            )
            return
        assert result.returncode in (0, 2), (result.returncode, stderr)
        assert "Traceback" not in stderr, stderr
        if result.returncode == 0:
            assert set(json.loads(result.stdout)) == {"policy", "final_limit", "days"}
        else:
            _one_line(stderr.rstrip("\n"))
            assert stderr.startswith(("quota_simulate: ", "manage.py: ")), stderr

    run()
