"""A small, fast HTTP/1.1 server for the simulator: one thread per keep-alive connection.

Why not http.server: its header parsing (email.parser) costs more than the whole order
handling, and it writes headers and body in separate sends. Here every response goes out in
ONE `sendall` on a socket with TCP_NODELAY, which avoids the ~40 ms Nagle/delayed-ACK stall
ccxt's keep-alive requests otherwise hit (STACK.md "Simulator pitfall").

Per request: control paths go to control.Control; exchange paths are looked up in the installed
dialects' route tables, faults are applied (faults.py), the handler runs, order-creating
requests are logged with their nanosecond `received_at` (taken when the request has been
read completely, before any injected latency).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import sys
import threading
import time
import traceback
from http import HTTPStatus

from server.simulator.control import Control
from server.simulator.core import ApiError, Request, Response, Route, Simulator, json_response

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
REASONS = {s.value: s.phrase for s in HTTPStatus}
UNKNOWN = {"code": -1000, "msg": "An unknown error occurred while processing the request."}


def make_simulator(open_keys: bool = False) -> Simulator:
    """A simulator with every dialect installed (Binance spot and USDⓈ-M futures, Bybit v5)."""
    from server.simulator.binance import BinanceSpot
    from server.simulator.binance_futures import BinanceFutures
    from server.simulator.bybit import Bybit
    from server.simulator.replay import Replays

    sim = Simulator(open_keys=open_keys)
    sim.install(BinanceSpot)
    sim.install(BinanceFutures)
    sim.install(Bybit)
    sim.replays = Replays(sim)
    return sim


def encode(resp: Response, keep_alive: bool) -> bytes:
    head = [
        f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Unknown')}",
        f"Content-Type: {resp.content_type}",
        f"Content-Length: {len(resp.body)}",
        "Connection: keep-alive" if keep_alive else "Connection: close",
    ]
    head.extend(f"{k}: {v}" for k, v in resp.headers)
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + resp.body


class SimServer:
    """Accept loop plus per-connection threads around one `Simulator`."""

    def __init__(self, sim: Simulator, host: str, port: int, control_allow: list | None = None):
        self.sim = sim
        self.control = Control(sim, control_allow)
        self.sock = socket.create_server((host, port), backlog=1024, reuse_port=False)
        self.port = self.sock.getsockname()[1]
        self._closing = threading.Event()

    # --- request handling ------------------------------------------------------------------
    def handle(self, req: Request) -> Response | None:
        """The response to send, or None to close the connection without answering."""
        if req.path.startswith("/__sim/"):
            return self.control.dispatch(req)
        route = self.sim.routes.get((req.method, req.path))
        if route is None:
            if any(path == req.path for _, path in self.sim.routes):
                return json_response(UNKNOWN, 405)
            return Response(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        fault = self.sim.faults.pick(req.method, req.path)
        if fault is None:
            return self.execute(route, req)
        if fault.kind == "latency":
            time.sleep(fault.ms / 1000)
            return self.execute(route, req)
        if fault.kind == "timeout":
            released = self.sim.faults.released
            if fault.execute:
                self.execute(route, req)
            released.wait(fault.ms / 1000)
            return None
        resp = route.dialect.fault_for(req, fault.kind, fault.ms)
        if route.order_fields is not None:
            error = {"fault": fault.kind, "status": resp.status}
            with self.sim.lock:
                self.sim.log_order(req, self._venue(route), route.order_fields(req), error)
        return resp

    @staticmethod
    def _venue(route: Route) -> str:
        return getattr(route.dialect, "venue_name", route.dialect.name)

    def execute(self, route: Route, req: Request) -> Response:
        error = None
        try:
            resp = route.handler(req)
        except ApiError as exc:
            resp, error = exc.response(), exc.body
        except Exception:
            traceback.print_exc()
            resp, error = json_response(UNKNOWN, 500), UNKNOWN
        if route.order_fields is not None:
            with self.sim.lock:
                self.sim.log_order(req, self._venue(route), route.order_fields(req), error)
        return resp

    # --- connections -----------------------------------------------------------------------
    def connection(self, conn: socket.socket, addr) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = addr[0]
        buf = b""
        try:
            while True:
                while (end := buf.find(b"\r\n\r\n")) < 0:
                    chunk = conn.recv(65536)
                    if not chunk or len(buf) > MAX_HEAD:
                        return
                    buf += chunk
                head, buf = buf[:end], buf[end + 4 :]
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                if length > MAX_BODY:
                    return
                while len(buf) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                body, buf = buf[:length], buf[length:]
                path, _, query = target.partition("?")
                req = Request(method, path, query, body, headers, client, time.time_ns())
                conn_hdr = headers.get("connection", "").lower()
                keep = conn_hdr != "close" if version == "HTTP/1.1" else conn_hdr == "keep-alive"
                resp = self.handle(req)
                if resp is None:
                    return
                conn.sendall(encode(resp, keep))
                if not keep:
                    return
        except (OSError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def serve_forever(self) -> None:
        while not self._closing.is_set():
            try:
                conn, addr = self.sock.accept()
            except OSError:
                if self._closing.is_set():
                    return
                continue
            threading.Thread(target=self.connection, args=(conn, addr), daemon=True).start()

    def shutdown(self) -> None:
        self._closing.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def control_allow_from_env() -> list:
    """Extra networks allowed on the control API: SIMULATOR_CONTROL_ALLOW=ip[/bits],..."""
    raw = os.environ.get("SIMULATOR_CONTROL_ALLOW", "")
    return [ipaddress.ip_network(p.strip(), strict=False) for p in raw.split(",") if p.strip()]


def serve(host: str, port: int, open_keys: bool) -> None:
    """Run the simulator until SIGTERM/SIGINT."""
    sim = make_simulator(open_keys)
    server = SimServer(sim, host, port, control_allow_from_env())

    def _stop(*_args) -> None:
        server.shutdown()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    keys = "open keys" if open_keys else "registered keys"
    print(f"simulator listening on http://{host}:{server.port} ({keys})", flush=True)
    server.serve_forever()
    sys.stdout.flush()
