"""Signal jobs (queue `signals`)."""

from __future__ import annotations

from server.services import placeholder_groups
from workers.bootstrap import job


@job
def process_signal(signal_id: str) -> str | None:
    """Turn an accepted signal into a position group (thin slice: a `waiting` placeholder)."""
    group = placeholder_groups.open_placeholder_group(signal_id)
    return str(group.id) if group is not None else None
