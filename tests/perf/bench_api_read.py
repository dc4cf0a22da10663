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
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.perf.bench_risk import _count_statements, summary  # noqa: E402
from tests.perf.common import emit, host, load_1m_before_after, throwaway_engine  # noqa: E402

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
    with throwaway_engine("api", REDIS_URL, "ba") as db_url:
        load_before = os.getloadavg()
        result = run(args, db_url)
    result["machine"] = host() | {
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_1m_before_after": load_1m_before_after(load_before),
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
