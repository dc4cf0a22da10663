"""Precision jobs (queue `default`, scheduled)."""

from __future__ import annotations

from server.services import precision
from workers.bootstrap import job


@job
def refresh_precision() -> dict[str, int]:
    """Reload market rules of every traded venue into the Redis cache."""
    return precision.refresh_all()
