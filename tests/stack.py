"""Start and stop the engine's real processes for integration and end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    base_url: str
    log_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.read_text()[-4000:]}" for p in sorted(self.log_dir.glob("*.log"))
        )

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_stack(root: str, env_overrides: dict, log_dir: Path, workers: int = 2) -> Stack:
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = (
        os.environ
        | env_overrides
        | {
            "PORT": str(port),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SOCKETIO_ASYNC_MODE": "gevent",
            "PYTHONPATH": root,
            "PYTHONUNBUFFERED": "1",
        }
    )
    commands = {
        "web": [
            str(bin_dir / "gunicorn"),
            "-k",
            "gevent",
            "--no-control-socket",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "server.wsgi:app",
        ],
        "worker": [sys.executable, "-m", "workers.run", "--workers", str(workers)],
        "scheduler": [sys.executable, "-m", "workers.scheduler"],
    }
    stack = Stack(base_url=f"http://127.0.0.1:{port}", log_dir=log_dir)
    for name, command in commands.items():
        log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 - lives as long as the process
        stack.processes[name] = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    last = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"{stack.base_url}/api/health", timeout=2)
            if last.status_code == 200:
                return stack
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.3)
    stack.stop()
    raise RuntimeError(f"stack did not become healthy: {last!r}\n{stack.logs()}")
