"""The engine's whole stack for a harness run: a fresh PostgreSQL database (on the shared
server, or on a private cluster of its own for drills that restart PostgreSQL), a Redis database
(or a private redis-server on its own port, for drills that restart Redis), the exchange
simulator, migrations, then web (gunicorn + gevent), the worker pool, scheduler and price
monitor through tests/stack.py — the launcher the integration tests use too."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg2
import redis

from tests.sim_support import free_port, start_simulator, stop
from tests.stack import Stack, start_stack

ROOT = Path(__file__).resolve().parents[3]
ADMIN_PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# The harness's Redis database on the shared server (one of its own; only this run's key
# prefix is touched and deleted afterwards). ENGINE_HARNESS_REDIS_URL overrides it (the smoke
# tests pass theirs) — not BENCH_REDIS_URL, which bench_signal_to_order defaults on import.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"


def pg(sql: str, url: str = ADMIN_PG, args: tuple = ()):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


class PrivateRedis:
    """A redis-server of the harness's own on a free loopback port, no persistence: the
    `redis_restart` drill kills it and starts it again empty (the shared 6379 is never
    touched)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url).ping():
                    return
            time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def postgres_bindir() -> Path:
    """Where initdb and pg_ctl live: POSTGRES_BINDIR, else the newest Debian/Ubuntu
    /usr/lib/postgresql/<major>/bin, else the folder of an `initdb` on PATH."""
    if os.environ.get("POSTGRES_BINDIR"):
        return Path(os.environ["POSTGRES_BINDIR"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("initdb not found: install PostgreSQL's server or set POSTGRES_BINDIR")


class PrivatePostgres:
    """A PostgreSQL cluster of the harness's own: initdb into a temporary folder, its own
    loopback port, trust auth. The `postgres_restart` drill stops this server and starts it
    again (the shared 5432 is never touched). PostgreSQL refuses to run as root, so under
    root its programs run as the `postgres` system user (runuser) and the folder is theirs."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="engine-pg-"))
        self.data = self.dir / "data"
        self.bindir = postgres_bindir()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / program), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text()[-1500:] if log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed: {done.stderr.strip()}\n{tail}")
        return done

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\n"
                "max_connections = 200\n"
            )
        self.start()

    def start(self) -> None:
        """Start the server and wait until it accepts connections (after crash recovery)."""
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"),
                 "-w", "-t", "120", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast`: a clean shutdown (what a service restart does); `immediate`: the server
        quits without a shutdown checkpoint, as in a crash, and recovers at the next start."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                 check=False)  # fmt: skip

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class EngineRun:
    """Everything one run started; `close()` stops it and drops the database."""

    stack: Stack
    simulator: subprocess.Popen
    sim_port: int
    db_name: str
    db_url: str
    redis_url: str
    prefix: str
    tmp: Path
    private_redis: PrivateRedis | None = None
    private_postgres: PrivatePostgres | None = None
    extra: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    @property
    def sim_base(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    def sim(self) -> httpx.Client:
        return httpx.Client(base_url=self.sim_base, timeout=30)

    def restart_simulator(self, down_seconds: float = 0) -> None:
        """Stop the simulator (its book is in memory, so balances are set again) and start it
        on the same port after `down_seconds`."""
        stop(self.simulator)
        time.sleep(down_seconds)
        self.simulator = start_simulator(self.sim_port)

    def close(self, keep_logs: bool = False) -> None:
        self.stack.stop()
        stop(self.simulator)
        if self.private_redis is not None:
            self.private_redis.kill()
        else:
            forget_redis_keys(self.redis_url, self.prefix)
        if self.private_postgres is not None:
            self.private_postgres.destroy()
        else:
            with contextlib.suppress(psycopg2.Error):
                pg(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        if not keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)


def forget_redis_keys(url: str, prefix: str) -> None:
    """Delete this run's keys (its prefix, its RQ jobs, its rate-limit windows)."""
    client = redis.Redis.from_url(url)
    doomed = []
    for pattern in (f"{prefix}*", f"rq:*{prefix}*", f"LIMITS:LIMITER/{prefix}*"):
        doomed += list(client.scan_iter(match=pattern, count=1000))
    for key in client.scan_iter(match="rq:job:*", count=1000):
        origin = client.hget(key, "origin") if client.type(key) == b"hash" else None
        if origin and origin.decode().startswith(prefix):
            job_id = key.decode().removeprefix("rq:job:")
            doomed += [key, f"rq:results:{job_id}".encode()]
    for start in range(0, len(doomed), 500):
        client.delete(*doomed[start : start + 500])


def stop_partial_stack(tmp: Path) -> None:
    """An interrupted start (Ctrl-C while waiting for health) leaves processes that
    start_stack started: stop those whose environment points at this run's directory."""
    import signal

    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if f"ENGINE_MASTER_KEY_FILE={tmp}/".encode() in environ:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(proc.name), signal.SIGKILL)


def engine_env(db_url: str, redis_url: str, prefix: str, var: Path) -> dict[str, str]:
    """The settings every engine a benchmark starts shares: its database, its Redis and key
    prefix, its master key and mail outbox under `var`, warnings only."""
    return {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "RQ_QUEUE_PREFIX": prefix,
        "EVENTS_CHANNEL": f"{prefix}events",
        "ENGINE_MASTER_KEY_FILE": str(var / "master.key"),
        "MAIL_OUTBOX": str(var / "outbox.jsonl"),
        "LOG_LEVEL": "WARNING",
    }


def start_engine(
    workers: int = 4,
    web_workers: int = 1,
    private_redis: bool = False,
    private_postgres: bool = False,
    monitor_ms: int | None = 100,
    extra_env: dict | None = None,
    redis_url: str | None = None,
) -> EngineRun:
    """Start the whole stack. `monitor_ms` None keeps the engine's own price-monitor period;
    `redis_url` is the shared Redis database to use (the benchmark scripts pass their
    BENCH_REDIS_URL), else ENGINE_HARNESS_REDIS_URL or database 7. `private_postgres` puts the
    database on a cluster of the run's own (PrivatePostgres) instead of the shared server."""
    run_id = secrets.token_hex(3)
    db_name = f"engine_harness_{run_id}"
    own_pg = None
    admin_pg = ADMIN_PG
    if private_postgres:
        own_pg = PrivatePostgres()
        try:
            own_pg.init()
        except BaseException:
            own_pg.destroy()
            raise
        admin_pg = own_pg.admin_url
    db_url = f"{admin_pg.rsplit('/', 1)[0]}/{db_name}"
    prefix = f"eh{run_id}:"
    tmp = Path(tempfile.mkdtemp(prefix="engine-harness-"))
    own_redis = None
    redis_url = redis_url or os.environ.get("ENGINE_HARNESS_REDIS_URL", DEFAULT_REDIS_URL)
    if private_redis:
        own_redis = PrivateRedis(tmp)
        own_redis.start()
        redis_url = own_redis.url
    pg(f'CREATE DATABASE "{db_name}"', admin_pg)
    sim_port = free_port()
    simulator = start_simulator(sim_port)
    env = {
        **engine_env(db_url, redis_url, prefix, tmp),
        "ENGINE_ENV": "development",
        "SECRET_KEY": "harness-" + secrets.token_hex(16),
        "SIMULATOR_URL": f"http://127.0.0.1:{sim_port}",
        "WEBHOOK_RATE_LIMIT_ADDRESS": "10000000 per minute",
        "WEBHOOK_RATE_LIMIT_USER": "10000000 per minute",
        "REGISTER_RATE_LIMIT": "1000 per minute",  # the scenarios register several traders
        "LOGIN_RATE_LIMIT": "1000 per minute",
        **({"PRICE_MONITOR_MS": str(monitor_ms)} if monitor_ms is not None else {}),
        **(extra_env or {}),
    }
    try:
        subprocess.run(
            [sys.executable, "-m", "server.persistence.migrate"],
            env=os.environ | env | {"PYTHONPATH": str(ROOT)},
            check=True,
            capture_output=True,
        )
        stack = start_stack(str(ROOT), env, tmp, workers=workers, web_workers=web_workers)
    except BaseException:
        stop_partial_stack(tmp)
        stop(simulator)
        if own_redis:
            own_redis.kill()
        if own_pg:
            own_pg.destroy()
        else:
            pg(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        raise
    return EngineRun(
        stack, simulator, sim_port, db_name, db_url, redis_url, prefix, tmp, own_redis, own_pg
    )
