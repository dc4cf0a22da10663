"""`price_monitor` process: the take-profit trigger watch and unrealised PnL for every user
(`server/services/price_monitor.py`). Run one; a second one is harmless but wasteful."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from server import create_app
from server.config import load_config
from server.logging_setup import configure_logging
from server.services.price_monitor import run_forever

log = logging.getLogger(__name__)


def main() -> None:
    cfg = load_config()
    configure_logging(cfg.LOG_LEVEL)
    # The unrealised-PnL thread does bulk work; a short GIL switch interval keeps the price
    # loop (the latency path) from waiting behind it.
    sys.setswitchinterval(0.0005)
    app = create_app(cfg, web=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("price monitor started (every %d ms)", cfg.PRICE_MONITOR_MS)
    run_forever(app, cfg.PRICE_MONITOR_MS, stop)
    log.info("price monitor stopped")


if __name__ == "__main__":
    main()
