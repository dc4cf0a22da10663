"""Signal jobs (queue `signals`): drive the lane of an accepted signal, and the lane sweep."""

from __future__ import annotations

from server.services import signal_lanes
from workers.bootstrap import job


@job
def process_signal(signal_id: str, lane: str | None = None) -> int:
    """Drive the lane of an accepted signal (returns how many signals this job handled; 0 when
    another worker holds the lane's baton and will reach this signal itself)."""
    return signal_lanes.drive_signal(signal_id, lane)


@job
def drive_lane(lane: str) -> int:
    """Drive one lane (enqueued by the lane sweep and when a long lane hands its baton on)."""
    return signal_lanes.drive(lane)


@job
def sweep_lanes() -> dict[str, int]:
    """Re-join stuck signals and drive lanes nobody holds (scheduled)."""
    return signal_lanes.sweep()
