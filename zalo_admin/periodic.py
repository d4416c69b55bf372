"""Periodic jobs, in UTC cron syntax: one list for rq's cron scheduler and for the in-process loop."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    func: str  # dotted path of a job function that takes no arguments
    cron: str  # UTC
    queue: str = "default"


PERIODIC_JOBS: list[PeriodicJob] = []
