"""Housekeeping jobs (queue `default`, scheduled daily)."""

from __future__ import annotations

from server.services import logs
from workers.bootstrap import job


@job
def purge_logs() -> dict[str, int]:
    """Delete log lines past their retention (SPEC §8: system 30 days, audit 90, per user)."""
    return logs.purge_expired().as_dict()
