"""Run a quota scenario through the product's rules engine: JSON in, JSON out (spec: quota-rules.md)."""

import json
import sys

from django.core.management.base import BaseCommand

from quotas.simulator import MAX_SCENARIO_BYTES, ScenarioError, parse_scenario, run_scenario


class Command(BaseCommand):
    help = "Simulate an OA's quota level day by day from a JSON scenario (FILE, or - for standard input)."
    # A filter-style tool: skip the project-wide system checks (they import every view and URL).
    requires_system_checks = []

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = self._fail  # a usage error is one line and exit status 2 too, not a usage page
        return parser

    def add_arguments(self, parser):
        parser.add_argument("file", help="scenario JSON file, or - for standard input")

    def handle(self, *args, file, **options):
        """Every malformed scenario ends here with one line on standard error and exit status 2."""
        try:
            text = _read(file)
        except ScenarioError as error:
            self._fail(str(error))
        except (OSError, ValueError) as error:  # missing, unreadable, not UTF-8, a NUL in the name
            self._fail(f"cannot read {_shown_name(file)}: {error}")
        try:
            output = run_scenario(parse_scenario(text))
        except ScenarioError as error:
            self._fail(str(error))
        self.stdout.write(json.dumps(output))

    def _fail(self, message: str):
        self.stderr.write("quota_simulate: " + " ".join(message.split()))
        sys.exit(2)


def _read(file: str) -> str:
    """The scenario text, refusing more than MAX_SCENARIO_BYTES (the rest is never read)."""
    if file == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stream (call_command in tests): count characters instead
            data = sys.stdin.read(MAX_SCENARIO_BYTES + 1)
            _check_size(len(data))
            return data
    else:
        stream = open(file, "rb")  # noqa: SIM115 - closed below; ValueError for a NUL in the name
    try:
        data = stream.read(MAX_SCENARIO_BYTES + 1)
    finally:
        if file != "-":
            stream.close()
    _check_size(len(data))
    return data.decode("utf-8")


def _check_size(size: int) -> None:
    if size > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"the scenario is larger than {MAX_SCENARIO_BYTES // (1024 * 1024)} MB")


def _shown_name(file: str) -> str:
    return repr(file) if not file.isprintable() else file
