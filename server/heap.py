"""The garbage collector around large, short-lived work (the risk evaluation, SPEC §6).

CPython's collector runs by allocation counts: every ~700 new container objects a young pass,
and now and then a *full* pass over every tracked object of the process. A worker or web
process holds ~240,000 of them after start-up (Flask, the models, ccxt's exchange classes),
so a full pass costs 90–300 ms on this machine — and one evaluation over 5,000 groups builds
enough objects to trigger one every few evaluations (docs/performance.md, "Risk evaluation
over 5,000 open groups"). Two tools, both process-wide and both safe to skip:

- `freeze_startup_heap()` once the process is set up: what exists then moves to the
  permanent generation, never walked again (still freed when nothing refers to it);
- `collector_paused()` around work that builds many objects and no reference cycles: no
  pass of any generation runs inside it; the allocations are counted and the next pass runs
  after it, outside the timed work.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused", "freeze_startup_heap"]

_paused = 0  # how many `collector_paused` blocks are open (greenlets may overlap them)
_reenable = False  # the collector was on when the first of them began


def freeze_startup_heap() -> int:
    """Collect once, then freeze everything alive now. Imports the exchange layer first (every
    process loads it soon; its classes are a third of the heap). Returns how many objects are
    frozen."""
    import server.exchange.ccxt_client  # noqa: F401

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection inside the block. Blocks may overlap (greenlets of the web
    process): the first to enter switches the collector off, the last to leave switches it
    back on — only if it was on before."""
    global _paused, _reenable
    if _paused == 0:
        _reenable = gc.isenabled()
        gc.disable()
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0 and _reenable:
            gc.enable()
