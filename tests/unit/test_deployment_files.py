"""The deployment files agree with each other: Procfile, docker-compose.yml, .env.example."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from server.config import BaseConfig

ROOT = Path(__file__).resolve().parents[2]


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_procfile_has_every_process():
    """web, worker, scheduler, price monitor, simulator and release are all declared."""
    assert set(_procfile()) == {
        "web",
        "worker",
        "scheduler",
        "price_monitor",
        "simulator",
        "release",
    }
    assert "-k gevent" in _procfile()["web"]


def test_compose_is_valid_yaml_with_healthchecked_services():
    """docker-compose.yml parses, runs every process, and gates them on healthy databases."""
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    expected = {"postgres", "redis", "web", "worker", "scheduler", "price_monitor", "simulator"}
    assert expected | {"release"} <= set(services)
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name], name
    assert "pgdata" in doc["volumes"]
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["web"]["depends_on"]["release"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["release"]["command"][-1] == "server.persistence.migrate"


def test_env_example_lists_every_setting_the_config_reads():
    """Every environment variable config.py reads is documented in .env.example."""
    source = (ROOT / "server" / "config.py").read_text()
    read = set(re.findall(r'_env(?:_int|_list)?\("([A-Z_]+)"', source))
    read |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', source))
    documented = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert read, "config.py reads no variables?"
    assert read <= documented, read - documented
    assert isinstance(BaseConfig().PORT, int)
