"""Headless Chromium (Debian's package) driven by Playwright, against the real stack."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items) -> None:
    """Every test in this folder is an end-to-end test: `pytest -m e2e` (make test-e2e) selects
    them (without the mark it selected none)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail("Chromium is not installed: `apt-get install -y chromium` (.ci/run does it)")
    return found


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, stack, tmp_path):
    dist = Path(__file__).resolve().parents[2] / "webapp" / "dist" / "index.html"
    if not dist.exists():
        pytest.fail("the web app is not built: run `make setup` (npm run build in webapp/)")
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def shots_dir() -> Path:
    path = Path(__file__).resolve().parents[2] / "test-results"
    path.mkdir(exist_ok=True)
    return path
