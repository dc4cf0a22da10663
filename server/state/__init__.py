"""Fast shared state in Redis (pool, queue, locks, caches, token blocklist) — all rebuildable."""
