"""Every quota and quality state change, one module per concern; read models are in quotas.selectors.

- `policies`: policy rows and their versions.
- `state`: an OA's quota state (read it, create it) and the limit in force on a day.
- `rollups`: raw events and their daily/hourly rollups.
- `reservations`: today's sends granted under the OA's row lock, and their release.
- `levels`: reviews, automatic violations, corrections, the guardrail and quality alerts.

The rules themselves live in `quotas.rules` (pure); these modules feed them from the database and
store their results. Days are Vietnam calendar days; counters change only through atomic SQL.
"""
