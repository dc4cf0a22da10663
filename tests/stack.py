"""Start and stop the engine's real processes for integration and end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
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
    root: str = ""
    env: dict = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)

    def add_web(self, name: str) -> str:
        """Start one more web process on its own port against the same database and Redis
        (a second replica, e.g. to race two web processes); returns its base URL."""
        port = free_port()
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 - lives with the process
        self.processes[name] = subprocess.Popen(
            web_command(port),
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{port}"
        wait_healthy(base_url, self)
        return base_url

    def kill(self, name: str) -> None:
        """SIGKILL one process and everything it started (the worker pool's workers too):
        a crash, with no chance to clean up."""
        proc = self.processes[name]
        _signal_group(proc, signal.SIGKILL)
        proc.wait(timeout=10)

    def start(self, name: str) -> None:
        """(Re)start one of the stack's processes with its original command."""
        log = open(self.log_dir / f"{name}.log", "a")  # noqa: SIM115 - lives with the process
        self.processes[name] = subprocess.Popen(
            self.commands[name],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.read_text()[-4000:]}" for p in sorted(self.log_dir.glob("*.log"))
        )

    def stop(self) -> None:
        """Stop every process *group* (the worker pool's children included, so no worker of
        this stack outlives it and keeps listening on its queues)."""
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGTERM)
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def web_command(port: int, web_workers: int = 1) -> list[str]:
    """The Procfile's web process (gunicorn, gevent worker) on a loopback port."""
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "-k",
        "gevent",
        "--no-control-socket",
        "-w",
        str(web_workers),
        "-b",
        f"127.0.0.1:{port}",
        "server.wsgi:app",
    ]


def wait_healthy(base_url: str, stack: Stack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"{base_url}/api/health", timeout=2)
            if last.status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.3)
    stack.stop()
    raise RuntimeError(f"stack did not become healthy: {last!r}\n{stack.logs()}")


def start_stack(
    root: str, env_overrides: dict, log_dir: Path, workers: int = 2, web_workers: int = 1
) -> Stack:
    port = free_port()
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
        "web": web_command(port, web_workers),
        "worker": [sys.executable, "-m", "workers.run", "--workers", str(workers)],
        "scheduler": [sys.executable, "-m", "workers.scheduler"],
        "price_monitor": [sys.executable, "-m", "workers.price_monitor"],
    }
    stack = Stack(
        base_url=f"http://127.0.0.1:{port}", log_dir=log_dir, root=root, env=env, commands=commands
    )
    for name, command in commands.items():
        log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 - lives as long as the process
        stack.processes[name] = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_healthy(stack.base_url, stack)
    return stack
