"""`python -m server.simulator [--host H] [--port P] [--open-keys]`: run the exchange simulator.

Host and port default to SIMULATOR_HOST / SIMULATOR_PORT from `server.config.load_config()`;
`--open-keys` (or SIMULATOR_OPEN_KEYS=1) accepts any well-formed API key, otherwise only keys
given a balance through `POST /__sim/balances` are valid. SIMULATOR_CONTROL_ALLOW lists extra
addresses/networks allowed on the loopback-only control API (e.g. a docker network).
"""

from __future__ import annotations

import argparse
import os

from server.config import load_config
from server.simulator.http import serve


def main(argv: list[str] | None = None) -> None:
    cfg = load_config()
    parser = argparse.ArgumentParser(prog="python -m server.simulator", description=__doc__)
    parser.add_argument("--host", default=cfg.SIMULATOR_HOST)
    parser.add_argument("--port", type=int, default=cfg.SIMULATOR_PORT)
    parser.add_argument(
        "--open-keys",
        action="store_true",
        default=os.environ.get("SIMULATOR_OPEN_KEYS", "") in ("1", "true", "yes"),
        help="accept any well-formed API key (secret: sim-secret-<key> unless registered)",
    )
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.open_keys)


if __name__ == "__main__":
    main()
