"""The layering of ARCHITECTURE.md, checked on the import statements themselves."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server"
DOMAIN_FORBIDDEN = (
    "flask",
    "peewee",
    "playhouse",
    "redis",
    "rq",
    "ccxt",
    "httpx",
    "requests",
    "psycopg2",
    "socket",
    "server.persistence",
    "server.state",
    "server.services",
    "server.exchange",
    "server.api",
    "server.runtime",
    "server.clock",
)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations(paths, forbidden) -> list[str]:
    return [
        f"{p.relative_to(SERVER.parent)} imports {name}"
        for p in paths
        for name in _imports(p)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_domain_is_pure():
    """server/domain touches no clock, database, Redis, network or outer layer."""
    assert _violations(sorted((SERVER / "domain").rglob("*.py")), DOMAIN_FORBIDDEN) == []


def test_server_never_imports_workers():
    """The server enqueues jobs by dotted path and never imports workers/."""
    assert _violations(sorted(SERVER.rglob("*.py")), ("workers",)) == []


def test_only_the_exchange_layer_imports_ccxt():
    """ccxt is imported in server/exchange only."""
    outside = [p for p in SERVER.rglob("*.py") if "exchange" not in p.relative_to(SERVER).parts]
    assert _violations(sorted(outside), ("ccxt",)) == []


def test_only_events_module_emits_socketio_events():
    """Only server/events.py calls `.emit(` (sockets.py only joins rooms)."""
    emitters = [
        p.relative_to(SERVER).as_posix() for p in SERVER.rglob("*.py") if ".emit(" in p.read_text()
    ]
    assert emitters == ["events.py"]
