"""`worker` process: a pool of RQ SimpleWorkers on the engine's queues, in priority order.

    python -m workers.run [--workers N] [--burst]

SimpleWorker runs jobs in the worker process (no fork per job: ~4 ms instead of ~13 ms per
job, see STACK.md); the pool supervises N of them and restarts any that dies.
"""

from __future__ import annotations

import argparse
import os

from rq.worker import SimpleWorker
from rq.worker_pool import WorkerPool

from server.config import load_config
from server.queues import PRIORITY_ORDER
from server.state.connection import rq_redis_for


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="run the engine's RQ workers")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)
    cfg = load_config()
    names = [f"{cfg.RQ_QUEUE_PREFIX}{name}" for name in PRIORITY_ORDER]
    pool = WorkerPool(
        names,
        connection=rq_redis_for(cfg.REDIS_URL),
        num_workers=args.workers,
        worker_class=SimpleWorker,
    )
    pool.start(burst=args.burst, logging_level=cfg.LOG_LEVEL)


if __name__ == "__main__":
    main()
