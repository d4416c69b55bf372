"""Run a quota scenario through the product's rules engine: JSON in, JSON out (spec: quota-rules.md)."""

import json
import sys

from django.core.management.base import BaseCommand

from quotas.simulator import ScenarioError, run_scenario


class Command(BaseCommand):
    help = "Simulate an OA's quota level day by day from a JSON scenario (FILE, or - for standard input)."
    # A filter-style tool: skip the project-wide system checks (they import every view and URL).
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file", help="scenario JSON file, or - for standard input")

    def handle(self, *args, file, **options):
        try:
            if file == "-":
                text = sys.stdin.read()
            else:
                with open(file, encoding="utf-8") as handle:
                    text = handle.read()
            output = run_scenario(json.loads(text))
        except (OSError, UnicodeDecodeError) as error:
            self._fail(f"cannot read {file}: {error}")
        except json.JSONDecodeError as error:
            self._fail(f"not valid JSON: {error}")
        except ScenarioError as error:
            self._fail(str(error))
        self.stdout.write(json.dumps(output))

    def _fail(self, message: str):
        self.stderr.write("quota_simulate: " + " ".join(message.split()))
        sys.exit(2)
