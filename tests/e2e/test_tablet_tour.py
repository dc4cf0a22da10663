"""The console on a tablet: a trader tours every page at iPad portrait (768×1024) and landscape
(1024×768) in headless Chromium against the real stack. On each page the document and the
console's scroll container are no wider than the window (wide tables scroll inside their own
box); the side menu is folded into a drawer that opens from the header — by pointer and by
keyboard — and navigates; the engine pause, the Close button of a position and the settings
preview are on screen and work. Screenshots go to test-results/ and are looked at."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_dashboard_tour import PAGE_MARKS, _entry, _sim_account, _webhook

TABLETS = {
    "portrait": {"width": 768, "height": 1024},
    "landscape": {"width": 1024, "height": 768},
}
TRADER_PAGES = ["dashboard", "positions", "queue", "risk", "logs", "performance", "settings"]
# With a position open the Positions page shows its table, not the empty state.
MARKS = PAGE_MARKS | {"positions": "positions-table"}

# Every element whose content is wider than its box and that is not allowed to scroll sideways:
# the document, and the console's scroll containers (the page scrolls inside the layout).
OVERFLOW = """() => {
  const boxes = [
    document.scrollingElement, ...document.querySelectorAll('.n-layout-scroll-container'),
  ];
  return boxes.filter((el) => el && el.scrollWidth > el.clientWidth + 1).map((el) => ({
    what: el.className || el.tagName, scroll: el.scrollWidth, client: el.clientWidth,
  }));
}"""

# Elements of the page sticking out past the right edge of the window (clipped, unreachable).
PAST_RIGHT_EDGE = """(root) => {
  const limit = window.innerWidth + 1;
  const out = [];
  for (const el of root.querySelectorAll('button, input, a, [data-testid]')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (el.closest('.n-data-table-base-table-body, .n-scrollbar-container, .v-vl')) continue;
    const name = el.dataset.testid || el.tagName;
    if (box.right > limit) out.push(`${name} right=${Math.round(box.right)}`);
  }
  return out.slice(0, 10);
}"""


def _fits_the_window(page, where: str) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), where
    assert page.evaluate(OVERFLOW) == [], f"{where}: wider than the window"
    content = page.locator(".n-layout-content").first
    assert content.evaluate(PAST_RIGHT_EDGE) == [], f"{where}: controls past the right edge"


def _in_view(page, locator) -> None:
    """On screen horizontally (not clipped by the window's right edge) and visible."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box


def _open_menu_and_go(page, key: str) -> None:
    toggle = page.get_by_test_id("nav-toggle")
    expect(toggle).to_be_visible()
    toggle.click()
    expect(page.get_by_test_id("nav-drawer")).to_be_visible()
    page.get_by_test_id(f"nav-{key}").click()
    expect(page.get_by_test_id(MARKS[key]).first).to_be_visible(timeout=15000)
    expect(page.get_by_test_id("nav-drawer")).to_be_hidden(timeout=5000)  # closed on arrival


def _login(page, user, size: dict) -> None:
    page.set_viewport_size(size)
    page.goto("/login")
    page.get_by_test_id("login-login").fill(user.username)
    page.get_by_test_id("login-password").fill("Passw0rd-ok")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("dashboard-page")).to_be_visible(timeout=15000)


@pytest.mark.parametrize("orientation", list(TABLETS))
def test_trader_tours_every_page_on_a_tablet(page, stack, sim, make_user, shots_dir, orientation):
    """Every trader page at the tablet size fits the window; the menu is a drawer reached by
    pointer and keyboard; pause, close and the settings preview are reachable and answer."""
    size = TABLETS[orientation]
    sim.price("SOLUSDT", "150")
    trader, th = make_user("trader")
    _sim_account(stack, sim, th)
    url, secret = _webhook(stack, th)
    _entry(url, secret)  # one open position: the Positions page shows its table
    _login(page, trader, size)

    # Folded menu: not beside the page, opened from the header's button.
    expect(page.get_by_test_id("nav-positions")).to_have_count(0)
    expect(page.get_by_test_id("nav-toggle")).to_have_attribute("aria-expanded", "false")
    for key in TRADER_PAGES:
        _open_menu_and_go(page, key)
        page.wait_for_timeout(300)  # let charts and lists settle for the picture
        _fits_the_window(page, f"{key} at {orientation}")
        page.screenshot(path=str(shots_dir / f"tablet-{orientation}-{key}.png"))

    # The keyboard reaches the menu: focus the button, Enter opens the drawer, Tab to a page.
    page.get_by_test_id("nav-toggle").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("nav-drawer")).to_be_visible()
    expect(page.get_by_test_id("nav-toggle")).to_have_attribute("aria-expanded", "true")
    page.wait_for_timeout(400)  # the drawer's slide-in
    page.screenshot(path=str(shots_dir / f"tablet-{orientation}-menu.png"))
    for _ in range(15):
        if page.evaluate("() => document.activeElement?.dataset?.testid") == "nav-queue":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement?.dataset?.testid") == "nav-queue"
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("queue-page")).to_be_visible(timeout=15000)
    expect(page.get_by_test_id("nav-drawer")).to_be_hidden(timeout=5000)

    # Dashboard: the engine pause is on screen and asks for confirmation.
    _open_menu_and_go(page, "dashboard")
    pause = page.get_by_test_id("engine-pause")
    _in_view(page, pause)
    pause.click()
    confirm = page.get_by_test_id("engine-pause-confirm")
    _in_view(page, confirm)
    _in_view(page, page.locator(".n-popconfirm__body").first)  # its text wraps on screen
    page.wait_for_timeout(300)  # the dialog's fade-in
    page.screenshot(path=str(shots_dir / f"tablet-{orientation}-pause-confirm.png"))
    page.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_test_id("engine-banner")).to_have_attribute("data-state", "running")

    # Positions: the table is wider than the window and scrolls inside its own box; the Close
    # button stays on screen (pinned right) and opens its confirmation.
    _open_menu_and_go(page, "positions")
    row = page.get_by_test_id("position-row")
    expect(row).to_have_count(1, timeout=15000)
    body = page.locator("[data-testid=positions-table] .n-scrollbar-container").first
    scroll = body.evaluate("el => ({scroll: el.scrollWidth, client: el.clientWidth})")
    assert scroll["scroll"] > scroll["client"] + 100, scroll  # its own horizontal scroll
    _in_view(page, page.get_by_test_id("positions-table"))
    close = row.first.get_by_test_id("close-position")
    _in_view(page, close)
    body.evaluate("el => el.scrollTo({left: el.scrollWidth})")
    _in_view(page, close)
    _fits_the_window(page, f"positions scrolled at {orientation}")
    close.click()
    keep = page.get_by_role("button", name="Keep open")
    _in_view(page, keep)
    expect(page.get_by_test_id("close-position-confirm")).to_be_visible()
    _in_view(page, page.locator(".n-popconfirm__body").first)
    page.wait_for_timeout(300)  # the popover's fade-in
    page.screenshot(path=str(shots_dir / f"tablet-{orientation}-close-confirm.png"))
    keep.click()
    expect(page.get_by_test_id("close-position-confirm")).to_have_count(0)

    # The legs open from the keyboard and stay inside the table's box.
    page.locator("[data-testid^=position-expand-]").first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("legs-table").first).to_be_visible(timeout=15000)
    expect(page.get_by_test_id("leg-row").first).to_be_visible()
    _fits_the_window(page, f"positions expanded at {orientation}")
    page.screenshot(path=str(shots_dir / f"tablet-{orientation}-position-legs.png"))

    # Settings: the grid preview is filled in and shows its legs inside the window.
    _open_menu_and_go(page, "settings")
    symbol = page.get_by_test_id("preview-symbol")
    symbol.scroll_into_view_if_needed()
    _in_view(page, symbol)
    symbol.fill("BTCUSDT")
    page.get_by_test_id("preview-price").fill("64,250.5")
    legs = page.get_by_test_id("preview-leg")
    expect(legs).to_have_count(5, timeout=15000)
    preview = page.get_by_test_id("grid-preview")
    preview.scroll_into_view_if_needed()
    _in_view(page, preview)
    _in_view(page, legs.nth(4).get_by_test_id("preview-price"))
    _fits_the_window(page, f"settings preview at {orientation}")
    page.screenshot(path=str(shots_dir / f"tablet-{orientation}-settings-preview.png"))
