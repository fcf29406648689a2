"""The browser harness itself, on two static pages served from 127.0.0.1: no app needed."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page

from browser.conftest import check_accessibility, screenshot, tab_order

GOOD_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Harness: an accessible page</title>
<style>body { font-family: sans-serif; color: #111; background: #fff; }</style></head>
<body>
<main>
  <h1>Sign in</h1>
  <form action="/good.html">
    <label for="email">Email address</label>
    <input id="email" name="email" type="email" autocomplete="email">
    <p id="skipped" tabindex="-1">Not in the tab order.</p>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password">
    <button id="submit" type="submit">Sign in</button>
  </form>
  <p><a id="help" href="/broken.html">Help with signing in</a></p>
</main>
</body>
</html>
"""

# Every flaw is a WCAG 2 A/AA failure; the page has no best-practice-only flaw either way:
# it has no landmark and no h1, which axe reports only when not limited to WCAG rules.
BROKEN_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Harness: a broken page</title></head>
<body style="background: #fff">
  <div>
    <p id="faint" style="color: #ccc">Hard to read grey on white.</p>
    <input id="unlabelled" type="text">
    <img id="logo" src="/logo.svg" width="10" height="10">
  </div>
</body>
</html>
"""

# A small image that loads, so that only its missing alt text is wrong.
LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<rect width="10" height="10"/></svg>'
)

PAGES = {
    "/good.html": ("text/html; charset=utf-8", GOOD_PAGE.encode()),
    "/broken.html": ("text/html; charset=utf-8", BROKEN_PAGE.encode()),
    "/logo.svg": ("image/svg+xml", LOGO),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = PAGES.get(self.path.split("?")[0])
        if found is None:
            self.send_error(404)
            return
        content_type, body = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_runs_debian_chromium_headless(browser: Browser) -> None:
    assert browser.browser_type.name == "chromium"
    assert browser.is_connected()
    assert browser.version.split(".")[0].isdigit()


def test_accessible_page_has_no_violations(page: Page, site: str) -> None:
    page.goto(f"{site}/good.html")

    violations = check_accessibility(page, context_name="harness good page")

    assert not violations
    assert "no accessibility violations on harness good page" in repr(violations)


def test_broken_page_reports_exactly_its_wcag_failures(page: Page, site: str) -> None:
    page.goto(f"{site}/broken.html")

    violations = check_accessibility(page, context_name="harness broken page")

    # Exactly these: the best-practice rules (region, landmark-one-main,
    # page-has-heading-one) that the page also breaks must not be run.
    assert violations.rule_ids == {"label", "color-contrast", "image-alt"}
    by_rule = {violation.rule: violation for violation in violations}
    assert by_rule["label"].target == "#unlabelled"
    assert by_rule["color-contrast"].target == "#faint"
    assert by_rule["image-alt"].target == "#logo"
    assert all(violation.impact in {"critical", "serious"} for violation in violations)
    report = repr(violations)
    assert report.startswith("3 accessibility violation(s) on harness broken page")
    assert "image-alt [critical] at #logo: Images must have alternative text" in report
    assert "color-contrast [serious] at #faint" in report


def test_tab_order_follows_the_focusable_elements_in_dom_order(page: Page, site: str) -> None:
    page.goto(f"{site}/good.html")

    order = tab_order(page, 4)

    assert order == [
        'input#email "Email address"',
        'input#password "Password"',
        'button#submit "Sign in"',
        'a#help "Help with signing in"',
    ]


def test_screenshot_writes_a_full_page_png(page: Page, site: str) -> None:
    page.goto(f"{site}/good.html")
    page.add_style_tag(content="main { min-height: 1500px; }")  # taller than the viewport

    path = screenshot(page, "harness-good-page")

    assert path.name == "harness-good-page.png"
    assert path.parent.parts[-2:] == ("build", "screenshots")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert width == 1280
    assert height > 800  # the whole page, not just the viewport
    with pytest.raises(ValueError, match="already used"):
        screenshot(page, "harness-good-page")
    with pytest.raises(ValueError, match="use letters"):
        screenshot(page, "../escape")
