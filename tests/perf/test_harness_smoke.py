"""Smoke tests of the whole-engine harnesses (`make bench`, `make chaos`) in `--quick` mode:
they start the real stack, run tiny counts and must hand back well-formed results. They prove
the harness still works; they assert structure, never timing (the machine is shared)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.conftest import TEST_REDIS

pytestmark = pytest.mark.harness

BENCH_KEYS = {
    "name",
    "unit",
    "p50",
    "p95",
    "p99",
    "max",
    "throughput",
    "n",
    "errors",
    "floor",
    "ratio_to_floor",
    "target",
    "met",
}


@pytest.fixture
def harness_redis(monkeypatch):
    monkeypatch.setenv("ENGINE_HARNESS_REDIS_URL", TEST_REDIS)
    return TEST_REDIS


def test_bench_quick_writes_every_scenario(tmp_path, harness_redis):
    from tests.perf.engine_bench import harness

    out, doc = tmp_path / "bench.json", tmp_path / "performance.md"
    doc.write_text("# Performance\n\nbefore\n")
    code = harness.main(["--quick", "--workers", "2", "--json", str(out), "--doc", str(doc)])
    results = json.loads(out.read_text())
    assert code == 0, results["failed"]
    assert {"uname", "cpus", "date", "git_commit"} <= set(results["machine"])
    names = [r["name"] for r in results["scenarios"]]
    for prefix in (
        "webhook_ingest@",
        "webhook_ingest@saturation",
        "signal_to_order@",
        "tick_to_close@",
        "queue_promote@",
        "risk_eval@",
        "api_read /api/positions",
        "api_read /api/dashboard",
        "peak_rss web",
        "peak_rss worker",
    ):
        assert any(n.startswith(prefix) for n in names), (prefix, names)
    for r in results["scenarios"]:
        assert set(r) >= BENCH_KEYS, r["name"]
        assert r["n"] > 0, r["name"]
        assert r["met"] in (True, False, None)
    ingest = [r for r in results["scenarios"] if r["name"].startswith("webhook_ingest")]
    assert all(r["floor"]["n"] > 0 and r["ratio_to_floor"] is not None for r in ingest)
    text = doc.read_text()
    assert text.startswith("# Performance\n\nbefore\n")
    assert text.count("<!-- engine-bench:start -->") == 1 and "| scenario |" in text
    # A rerun replaces its table instead of adding a second one.
    from tests.perf.engine_bench.report import write_between_markers

    write_between_markers(doc, "engine-bench", "second")
    assert (
        doc.read_text().count("engine-bench:start") == 1 and "| scenario |" not in doc.read_text()
    )
    assert os.environ["ENGINE_HARNESS_REDIS_URL"] == harness_redis


def test_chaos_quick_drills_report_every_invariant(tmp_path, harness_redis):
    """Three short drills (a worker killed mid-stream, the web process restarted, the run's
    private PostgreSQL server stopped and started again) against the real stack: each row
    carries the summary columns and the run passes or names why not."""
    from tests.perf.engine_bench import chaos

    out, doc = tmp_path / "chaos.json", tmp_path / "reliability.md"
    clusters_before = set(Path(tempfile.gettempdir()).glob("engine-pg-*"))
    code = chaos.main(
        [
            "--quick",
            "--workers",
            "2",
            "--only",
            "worker_kill9,web_restart,postgres_restart",
            "--json",
            str(out),
            "--doc",
            str(doc),
        ]
    )
    results = json.loads(out.read_text())
    drills = results["drills"]
    assert [d["drill"] for d in drills] == ["worker_kill9", "web_restart", "postgres_restart"]
    for d in drills:
        assert {"signals", "orders", "duplicates", "lost", "repaired", "ok", "violations"} <= set(d)
        assert d["signals"] > 0, d
        assert d["ok"] == (not d["violations"])
    assert code == (0 if all(d["ok"] for d in drills) else 1)
    restart = drills[2]["detail"]
    assert restart["restarts"] == ["fast", "immediate"], restart
    # the server was really down: webhooks were refused meanwhile (503, exempt from the rule)
    assert restart["webhook_5xx_exempt"] > 0, restart
    left = set(Path(tempfile.gettempdir()).glob("engine-pg-*")) - clusters_before
    assert not left, f"private cluster left behind: {left}"
    assert "| drill | signals | orders | duplicates | lost | repaired | result |" in doc.read_text()
