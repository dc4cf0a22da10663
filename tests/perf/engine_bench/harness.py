"""`make bench`: start the engine's stack once, run every scenario against it, stop it, write
bench-results.json and the table in docs/performance.md (between marker comments).

    .venv/bin/python -m tests.perf.engine_bench.harness [--quick] [--workers 4]
        [--json bench-results.json] [--doc docs/performance.md | --no-doc] [--only name,...]

`--quick` is the smoke mode (tiny counts, a minute or two): it proves the harness works, its
numbers mean nothing. Every count and duration is bounded; the run stops by itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

from tests.perf.engine_bench import report, scenarios
from tests.perf.engine_bench.launcher import ROOT, start_engine

FULL = {
    "rates": [100, 500, 1000],
    "saturation": 2500,
    "duration": 5,
    "signal_rate": 50,
    "signal_seconds": 10,
    "floor_orders": 200,
    "tick_groups": [1000, 5000],
    "tick_samples": 100,
    "monitor_ms": 25,
    "queued": 10_000,
    "queue_ops": 2000,
    "risk_groups": 5000,
    "risk_rounds": 100,  # a p99 needs 100 (each round ~0.1 s with the panel read beside it)
    "api_groups": 5000,
    "api_requests": 50,
}
QUICK = {
    "rates": [20],
    "saturation": 100,
    "duration": 1,
    "signal_rate": 5,
    "signal_seconds": 1,
    "floor_orders": 5,
    "tick_groups": [3, 6],
    "tick_per_user": 3,
    "tick_samples": 2,
    "monitor_ms": 50,
    "queued": 100,
    "queue_ops": 50,
    "risk_groups": 50,
    "risk_rounds": 2,
    "api_groups": 50,
    "api_requests": 5,
}
# signal_to_order before tick_to_close: it sets BTCUSDT to 64,250.5, which would cross the
# take-profit triggers of most of tick_to_close's 5,000 groups (bands from 66,000 down to
# ~41,000) and measure the signal path while ~4,000 closes compete with it. This way round,
# tick_to_close's first price (66,000) crosses signal_to_order's 500 groups while its first
# band opens, before anything is measured.
ORDER = (
    "signal_to_order",
    "tick_to_close",
    "webhook_ingest",
    "api_read",
    "queue_promote",
    "risk_eval",
)


def run_scenarios(run, p: dict, only: set[str]) -> tuple[list[dict], list[dict]]:
    calls = {
        "tick_to_close": lambda: scenarios.tick_to_close(
            run, p["tick_groups"], p["tick_samples"], p["monitor_ms"], p.get("tick_per_user", 1000)
        ),
        "signal_to_order": lambda: scenarios.signal_to_order(
            run, p["signal_rate"], p["signal_seconds"], p["floor_orders"]
        ),
        "webhook_ingest": lambda: scenarios.webhook_ingest(
            run, p["rates"], p["saturation"], p["duration"]
        ),
        "api_read": lambda: scenarios.api_read(run, p["api_groups"], p["api_requests"]),
        "queue_promote": lambda: scenarios.queue_promote(run, p["queued"], p["queue_ops"]),
        "risk_eval": lambda: scenarios.risk_eval(run, p["risk_groups"], p["risk_rounds"]),
    }
    rows, failed = [], []
    for name in ORDER:
        if only and name not in only:
            continue
        quiet_s = scenarios.wait_quiet(run)
        started = time.monotonic()
        print(f"[bench] {name} … (engine quiet after {quiet_s} s)", flush=True)
        try:
            got = calls[name]()
        except Exception as exc:  # one broken scenario is reported, the rest still run
            traceback.print_exc()
            failed.append({"name": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        for r in got:
            r["seconds"] = round(time.monotonic() - started, 1)
            r["quiet_wait_s"] = quiet_s
            brief = {k: r[k] for k in ("name", "p50", "p99", "throughput", "met")}
            print(f"[bench]   {json.dumps(brief)}", flush=True)
        rows += got
    rows += scenarios.peak_rss(run)
    return rows, failed


def merge_previous(results: dict, previous: dict, only: list[str]) -> None:
    """Rows of the scenarios not rerun come from the previous run (its date kept with them)."""
    rerun = (*only, "peak_rss")
    kept = [
        {"from_run": previous["machine"]["date"]} | r
        for r in previous["scenarios"]
        if not r["name"].startswith(rerun)
    ]
    results["scenarios"] = kept + results["scenarios"]
    results["failed"] = [f for f in previous.get("failed", []) if f["name"] not in rerun] + (
        results["failed"]
    )
    results["merged_from"] = previous.get("merged_from", previous["machine"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", default=str(ROOT / "bench-results.json"))
    parser.add_argument("--doc", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override one setting, e.g. --set 'tick_groups=[300]' (recorded in the results)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="with --only: keep the other scenarios' rows from the existing --json file",
    )
    args = parser.parse_args(argv)
    p = dict(QUICK if args.quick else FULL)
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in p and key != "tick_per_user":
            parser.error(f"unknown setting {key!r}")
        p[key] = json.loads(value)
    results = {
        "machine": report.machine(),
        "mode": "quick" if args.quick else "full",
        "settings": p | {"workers": args.workers},
    }
    run = start_engine(workers=args.workers, monitor_ms=p["monitor_ms"])
    try:
        results["scenarios"], results["failed"] = run_scenarios(
            run, p, {s for s in args.only.split(",") if s}
        )
    finally:
        run.close(keep_logs=args.keep_logs)
    if args.merge and args.only and Path(args.json).exists():
        merge_previous(results, json.loads(Path(args.json).read_text()), args.only.split(","))
    Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    table = report.bench_table(results)
    print(table)
    if not args.no_doc:
        report.write_between_markers(Path(args.doc), "engine-bench", table)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
