"""`simulator` process placeholder: answers health and says plainly that it is not built yet.

The exchange issue replaces this with a simulator speaking Binance and Bybit REST dialects.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from server.config import load_config


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        status = 200 if self.path == "/__sim/health" else 501
        body = json.dumps(
            {"status": "placeholder", "message": "exchange simulator not built yet"}
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = _answer

    def log_message(self, *_args) -> None:
        pass


def main() -> None:
    cfg = load_config()
    server = ThreadingHTTPServer((cfg.SIMULATOR_HOST, cfg.SIMULATOR_PORT), _Handler)
    print(f"simulator placeholder on http://127.0.0.1:{cfg.SIMULATOR_PORT}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
