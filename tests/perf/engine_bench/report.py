"""bench-results.json and the markdown tables written between marker comments in
docs/performance.md and docs/reliability.md (a rerun replaces its own table, nothing else)."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from tests.perf.engine_bench.launcher import ROOT


def machine() -> dict:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "uname": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": commit,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def bench_table(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['uname']}, {m['cpus']} CPUs, Python {m['python']}; "
        f"{m['date']}; commit {m['git_commit']}; load average at start {m['loadavg']}. "
        f"Mode: {results['mode']}."
        + (
            f" Rows marked † are from the run of {results['merged_from']['date']} "
            f"(load average {results['merged_from']['loadavg']})."
            if results.get("merged_from")
            else ""
        ),
        "",
        "| scenario | unit | p50 | p95 | p99 | max | throughput/s | n | errors "
        "| floor p99 | ratio to floor | target | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["scenarios"]:
        floor = (r.get("floor") or {}).get("p99")
        met = {True: "met", False: "**missed**", None: "–"}[r.get("met")]
        lines.append(
            "| "
            + " | ".join(
                _fmt(x)
                for x in (
                    r["name"] + (" †" if r.get("from_run") else ""),
                    r["unit"],
                    r["p50"],
                    r["p95"],
                    r["p99"],
                    r["max"],
                    r["throughput"],
                    r["n"],
                    r["errors"],
                    floor,
                    r["ratio_to_floor"],
                    r["target"],
                )
            )
            + f" | {met} |"
        )
    for failure in results.get("failed", []):
        lines.append(f"\nScenario `{failure['name']}` failed: {failure['error']}")
    return "\n".join(lines)


def chaos_table(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['uname']}, {m['cpus']} CPUs, Python {m['python']}; {m['date']}; "
        f"commit {m['git_commit']}; load average at start {m['loadavg']}. "
        f"Mode: {results['mode']}.",
        "",
        "| drill | signals | orders | duplicates | lost | repaired | result | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in results["drills"]:
        lines.append(
            f"| {d['drill']} | {d['signals']} | {d['orders']} | {d['duplicates']} | "
            f"{d['lost']} | {d['repaired']} | {'pass' if d['ok'] else '**FAIL**'} | "
            f"{'; '.join(d['violations'] + d.get('notes', [])) or '–'} |"
        )
    return "\n".join(lines)


def write_between_markers(path: Path, name: str, body: str) -> None:
    """Replace the text between `<!-- name:start -->` and `<!-- name:end -->` in `path`
    (appended at the end the first time)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else ""
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
