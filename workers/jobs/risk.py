"""Risk jobs: the periodic evaluation of every user that is due (SPEC §6). Thin."""

from __future__ import annotations

from server.services import risk
from workers.bootstrap import job


@job
def evaluate_due() -> dict[str, int]:
    """Evaluate each user whose `evaluation_interval_sec` has passed (scheduled)."""
    return risk.run_due()
