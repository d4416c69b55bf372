"""quota_simulate: the seeds' worked examples as fixtures, and one-line errors for malformed input."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = sorted(
    path.name.removesuffix(".json") for path in FIXTURES.glob("*.json") if ".expected" not in path.name
)
MANAGE = Path(settings.BASE_DIR) / "manage.py"


def simulate(scenario_path: str, stdin: str | None = None) -> dict:
    out = StringIO()
    if stdin is not None:
        sys.stdin, saved = StringIO(stdin), sys.stdin
        try:
            call_command("quota_simulate", scenario_path, stdout=out)
        finally:
            sys.stdin = saved
    else:
        call_command("quota_simulate", scenario_path, stdout=out)
    return json.loads(out.getvalue())


def run_manage(stdin: str | bytes) -> subprocess.CompletedProcess:
    database = settings.DATABASES["default"]
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    raw = stdin if isinstance(stdin, bytes) else stdin.encode("utf-8", "surrogatepass")
    result = subprocess.run(
        [sys.executable, str(MANAGE), "quota_simulate", "-"],
        input=raw,
        capture_output=True,
        env=env,
        timeout=60,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode("utf-8", "replace")
    )


def test_there_are_four_worked_examples():
    assert EXAMPLES == [
        "zbs_2026_example_1",
        "zbs_2026_example_2",
        "zns_2024_example_1",
        "zns_2024_example_2",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("example", EXAMPLES)
def test_it_reproduces_the_worked_example_of_the_seeds(example):
    expected = json.loads((FIXTURES / f"{example}.expected.json").read_text())
    assert simulate(str(FIXTURES / f"{example}.json")) == expected


@pytest.mark.django_db
def test_it_reads_the_scenario_from_standard_input():
    scenario = (FIXTURES / "zbs_2026_example_1.json").read_text()
    assert simulate("-", stdin=scenario)["final_limit"] == 50000


@pytest.mark.django_db
def test_it_prints_the_spec_example_output_for_the_first_day():
    scenario = {
        "policy": "zbs-2026",
        "initial_limit": 20000,
        "days": [
            {"sent": 10000, "bad_reports": 3},
            {
                "sent": 10000,
                "bad_reports": 40,
                "bad_reports_by_hour": [0] * 9 + [10, 30] + [0] * 13,
            },
        ],
    }
    output = simulate("-", stdin=json.dumps(scenario))
    assert list(output) == ["policy", "final_limit", "days"]
    assert output["days"][0] == {
        "day": 1,
        "limit": 20000,
        "limit_end": 20000,
        "sent": 10000,
        "rejected": 0,
        "bad_reports": 3,
        "quality_7d": "UNDEFINED",
        "review": None,
        "violation_hour": None,
    }
    # 40 bad reports do not exceed 2 % of 20,000 (400): no violation.
    assert output["days"][1]["violation_hour"] is None


@pytest.mark.django_db
def test_it_reports_the_hour_whose_end_triggered_a_violation():
    hourly = [0] * 24
    hourly[9], hourly[10] = 300, 101  # 401 > 400 at the end of hour 10
    scenario = {
        "policy": "zbs-2026",
        "days": [{"sent": 20000, "bad_reports": 401, "bad_reports_by_hour": hourly}],
    }
    day = simulate("-", stdin=json.dumps(scenario))["days"][0]
    assert (day["limit"], day["limit_end"], day["violation_hour"]) == (20000, 10000, 10)


@pytest.mark.django_db
def test_it_rejects_sends_above_the_limit_at_midnight():
    scenario = {"policy": "zns-2024", "initial_limit": 500, "days": [{"sent": 800, "bad_reports": 0}]}
    day = simulate("-", stdin=json.dumps(scenario))["days"][0]
    assert (day["sent"], day["rejected"]) == (500, 300)


@pytest.mark.django_db
def test_it_accepts_null_as_the_unrestricted_initial_limit_of_zbs():
    scenario = {"policy": "zbs-2026", "initial_limit": None, "days": [{"sent": 900000, "bad_reports": 0}]}
    output = simulate("-", stdin=json.dumps(scenario))
    assert output["days"][0]["limit"] is None
    assert output["days"][0]["sent"] == 900000
    assert output["final_limit"] is None


@pytest.mark.django_db
def test_an_explicit_review_clock_start_overrides_the_default():
    scenario = json.loads((FIXTURES / "zbs_2026_example_2.json").read_text())
    scenario["review_clock_start"] = None  # a new OA: the clock starts the day after the first send
    output = simulate("-", stdin=json.dumps(scenario))
    assert [day["review"] for day in output["days"]][6:] == [None, "upgrade"]


MALFORMED = {
    "unknown_policy": ({"policy": "zns-1999", "days": []}, "unknown policy"),
    "policy_not_a_string": ({"policy": 2024, "days": []}, "policy"),
    "sent_as_a_string": ({"policy": "zbs-2026", "days": [{"sent": "10", "bad_reports": 0}]}, "day 1 sent"),
    "sent_as_a_float": ({"policy": "zbs-2026", "days": [{"sent": 1.5, "bad_reports": 0}]}, "day 1 sent"),
    "sent_as_a_boolean": ({"policy": "zbs-2026", "days": [{"sent": True, "bad_reports": 0}]}, "day 1 sent"),
    "negative_sent": ({"policy": "zbs-2026", "days": [{"sent": -1, "bad_reports": 0}]}, "negative"),
    "negative_bad_reports": ({"policy": "zbs-2026", "days": [{"sent": 1, "bad_reports": -2}]}, "negative"),
    "missing_bad_reports": ({"policy": "zbs-2026", "days": [{"sent": 1}]}, "missing bad_reports"),
    "days_not_a_list": ({"policy": "zbs-2026", "days": {"sent": 1}}, "days must be a list"),
    "missing_days": ({"policy": "zbs-2026"}, "days is missing"),
    "hourly_list_23_long": (
        {"policy": "zbs-2026", "days": [{"sent": 1, "bad_reports": 0, "bad_reports_by_hour": [0] * 23}]},
        "24",
    ),
    "hourly_list_not_summing_to_total": (
        {"policy": "zbs-2026", "days": [{"sent": 1, "bad_reports": 5, "bad_reports_by_hour": [1] * 24}]},
        "sums to 24",
    ),
    "negative_hourly_value": (
        {
            "policy": "zbs-2026",
            "days": [{"sent": 1, "bad_reports": 0, "bad_reports_by_hour": [-1, 1] + [0] * 22}],
        },
        "negative",
    ),
    "initial_limit_not_a_level": ({"policy": "zbs-2026", "initial_limit": 30000, "days": []}, "not a level"),
    "null_limit_without_unrestricted_level": (
        {"policy": "zns-2024", "initial_limit": None, "days": []},
        "null",
    ),
    "unknown_key": ({"policy": "zbs-2026", "days": [], "limit": 5}, "unknown keys"),
    "not_an_object": ([1, 2], "JSON object"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_it_rejects_a_malformed_scenario_with_a_one_line_error(case, capsys):
    scenario, message = MALFORMED[case]
    sys.stdin, saved = StringIO(json.dumps(scenario)), sys.stdin
    try:
        with pytest.raises(SystemExit) as exit_info:
            call_command("quota_simulate", "-")
    finally:
        sys.stdin = saved
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert error.strip().count("\n") == 0


@pytest.mark.django_db(transaction=True)
def test_it_rejects_an_hourly_list_that_is_not_24_long():
    scenario = {
        "policy": "zbs-2026",
        "days": [{"sent": 1, "bad_reports": 0, "bad_reports_by_hour": [0] * 25}],
    }
    result = run_manage(json.dumps(scenario))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "24" in result.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "stdin",
    [
        "{not json",
        json.dumps({"policy": "nope", "days": []}),
        json.dumps({"policy": "zns-2024", "initial_limit": None, "days": []}),
        json.dumps({"policy": "zbs-2026", "days": [{"sent": -5, "bad_reports": 0}]}),
    ],
    ids=["invalid_json", "unknown_policy", "null_on_zns", "negative_sent"],
)
def test_the_command_exits_with_status_2_on_malformed_input(stdin):
    result = run_manage(stdin)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.django_db(transaction=True)
def test_the_command_prints_json_and_exits_0_on_a_valid_scenario():
    result = run_manage((FIXTURES / "zns_2024_example_2.json").read_text())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(
        (FIXTURES / "zns_2024_example_2.expected.json").read_text()
    )


@pytest.mark.django_db
def test_it_says_which_file_it_cannot_read(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("quota_simulate", str(tmp_path / "missing.json"))
    assert exit_info.value.code == 2
    assert "missing.json" in capsys.readouterr().err


def _scenario(**overrides) -> str:
    return json.dumps({"policy": "zbs-2026", "days": [{"sent": 10, "bad_reports": 0}], **overrides})


def _day(sent: str) -> str:
    return '{"policy": "zbs-2026", "days": [{"sent": ' + sent + ', "bad_reports": 0}]}'


# Every one used to end in a traceback (or a database error), or was accepted though absurd.
HOSTILE = {
    "nul_in_the_policy": (_scenario(policy="zbs-2026\u0000"), "policy must be a policy code"),
    "huge_policy_name": (_scenario(policy="z" * 100_000), "policy must be a policy code"),
    "lone_surrogate_in_the_policy": ('{"policy": "\\ud800", "days": []}', "not valid Unicode"),
    "deep_nesting": (
        '{"policy": "zbs-2026", "days": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "nested deeper",
    ),
    "a_5000_digit_number": (_day("9" * 5000), "a number longer than 30 characters"),
    "a_5000_digit_number_in_an_unknown_key": ('{"x": ' + "1" * 5000 + "}", "a number longer"),
    "sent_beyond_any_platform": (_day(str(10**13)), "at most 1,000,000,000,000"),
    "sent_infinite": (_day("1e999"), "must be a whole number, got inf"),
    "sent_nan": (_day("NaN"), "NaN is not a JSON value"),
    "review_clock_start_negative": (
        _scenario(review_clock_start=-5),
        "review_clock_start must be a day number",
    ),
    "review_clock_start_zero": (_scenario(review_clock_start=0), "from 1 to 2"),
    "review_clock_start_far_future": (_scenario(review_clock_start=10**12), "got 1000000000000"),
    "review_clock_start_float": (_scenario(review_clock_start=1.5), "got 1.5"),
    "review_clock_start_string": (_scenario(review_clock_start="3"), "got '3'"),
    "review_clock_start_boolean": (_scenario(review_clock_start=True), "got True"),
    "review_clock_start_list": (_scenario(review_clock_start=[1]), "got a list"),
    "too_many_days": (
        json.dumps({"policy": "zbs-2026", "days": [{"sent": 0, "bad_reports": 0}] * 3661}),
        "at most 3660",
    ),
    "too_large": ('{"policy": "zbs-2026", "days": []' + " " * (8 * 1024 * 1024) + "}", "larger than 8 MB"),
    "not_utf8": (b'{"policy": "zbs-2026\xff", "days": []}', "cannot read -"),
    "unknown_key_with_a_newline": (_scenario(**{"a\nb": 1}), "unknown keys: 'a\\nb'"),
    "a_long_string_where_a_count_goes": (_day(json.dumps("x" * 10_000)), "got 'xxxxxxxx"),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_every_malformed_scenario_is_one_line_on_stderr_and_exit_status_2(case):
    stdin, message = HOSTILE[case]
    result = run_manage(stdin)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("quota_simulate: "), result.stderr[-2000:]
    assert len(lines[0]) < 300
    assert message in lines[0]


@pytest.mark.django_db
def test_a_file_name_with_a_nul_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("quota_simulate", "scenario\x00.json")
    assert exit_info.value.code == 2
    assert "cannot read 'scenario\\x00.json'" in capsys.readouterr().err


@pytest.mark.django_db
def test_the_review_clock_may_start_on_any_day_up_to_the_day_after_the_last():
    days = [{"sent": 10, "bad_reports": 0}] * 3
    for start in (1, 4):
        output = simulate(
            "-", stdin=json.dumps({"policy": "zbs-2026", "days": days, "review_clock_start": start})
        )
        assert len(output["days"]) == 3
