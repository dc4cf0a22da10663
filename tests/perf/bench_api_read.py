"""Benchmark of the two reads the SPA makes with 5,000 open groups (run as a script; not
collected): `GET /api/positions` and `GET /api/dashboard`, in process through Flask's test
client (the engine bench's `api_read` measures the same reads through gunicorn).

    .venv/bin/python tests/perf/bench_api_read.py [--groups 5000] [--rounds 30]
                                                   [--profile /api/positions] [--json out.json]

Per path, over `--rounds` requests after three warm ones: wall clock and the process's CPU
time (p50/p95/max, ms; CPU time is what other load on a shared machine hardly moves), the
SQL statements one request runs and the size of the body. The groups are seeded exactly as
the engine bench seeds them (`engine_bench.scenarios.seed_groups`: one trader, 7 symbols,
bench_risk's figures). `--profile PATH` prints one request's pyinstrument profile,
`--explain` the plan PostgreSQL runs for the list, `--sql PATH` the statements of one request.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.perf.bench_risk import ADMIN_PG, _count_statements, _pg, summary  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
PATHS = ("/api/positions", "/api/dashboard")


def run(args, db_url: str) -> dict:
    from flask_jwt_extended import create_access_token

    from server import create_app
    from server.domain.enums import Role
    from server.persistence.db import db
    from server.persistence.migrate import upgrade
    from server.services.users import create_user
    from tests.perf.engine_bench.scenarios import seed_groups
    from tests.signal_support import make_account

    app = create_app("test")
    upgrade(db.obj)
    with app.app_context():
        user = create_user("reader@example.com", "reader", "Bench-Passw0rd", Role.TRADER)
        make_account(app, user)
        token = create_access_token(identity=str(user.id))
    seed_groups(db_url, "reader", args.groups)
    http = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    statements = _count_statements(db.obj)
    result: dict = {"groups": args.groups}
    for path in PATHS:
        for _ in range(3):  # warm: caches, the connection, the first imports
            assert http.get(path, headers=headers).status_code == 200
    wall: dict = {p: [] for p in PATHS}
    cpu: dict = {p: [] for p in PATHS}
    for _ in range(args.rounds):
        for path in PATHS:  # alternate, so both see the same moments of the machine
            before = statements[0]
            t0, c0 = time.perf_counter(), time.process_time()
            response = http.get(path, headers=headers)
            wall[path].append((time.perf_counter() - t0) * 1000)
            cpu[path].append((time.process_time() - c0) * 1000)
            result[path] = {
                "sql_statements": statements[0] - before,
                "body_bytes": len(response.data),
                "items": len(response.json.get("items", [])) or None,
            }
    for path in PATHS:
        result[path] |= {"wall_ms": summary(wall[path]), "cpu_ms": summary(cpu[path])}
    if args.sql:
        seen: list[str] = []
        original = db.obj.execute_sql

        def tracing(sql, params=None, *rest, **kwargs):
            seen.append(sql[:160])
            return original(sql, params, *rest, **kwargs)

        db.obj.execute_sql = tracing
        http.get(args.sql, headers=headers)
        db.obj.execute_sql = original
        print("\n".join(f"{n}. {sql}" for n, sql in enumerate(seen, 1)))
    if args.explain:
        from server.services.group_list import written_query

        sql, params = db.obj.get_sql_context().sql(written_query(user.id, None)).query()
        plan = db.obj.execute_sql(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
        print("\n".join(line for (line,) in plan))
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        with profiler:
            http.get(args.profile, headers=headers)
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--profile", choices=PATHS, help="print one request's profile")
    parser.add_argument("--sql", choices=PATHS, help="print the SQL one request runs")
    parser.add_argument("--explain", action="store_true", help="print the list query's plan")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    name = f"engine_bench_api_{secrets.token_hex(3)}"
    _pg(f'CREATE DATABASE "{name}"')
    db_url = f"{ADMIN_PG.rsplit('/', 1)[0]}/{name}"
    var = Path(tempfile.mkdtemp(prefix="bench-api-"))
    prefix = f"ba{secrets.token_hex(3)}:"
    os.environ.update(
        {
            "ENGINE_ENV": "test",
            "DATABASE_URL": db_url,
            "REDIS_URL": REDIS_URL,
            "RQ_QUEUE_PREFIX": prefix,
            "EVENTS_CHANNEL": f"{prefix}events",
            "ENGINE_MASTER_KEY_FILE": str(var / "master.key"),
            "MAIL_OUTBOX": str(var / "outbox.jsonl"),
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-" + name,
            "LOG_LEVEL": "WARNING",
        }
    )
    load_before = os.getloadavg()
    try:
        result = run(args, db_url)
    finally:
        from server.persistence.db import db

        if db.obj is not None:
            db.obj.close_all()
        _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    result["machine"] = {
        "uname": " ".join(platform.uname()),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
