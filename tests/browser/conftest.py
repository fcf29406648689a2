"""Browser tests: Playwright's sync API driving Debian's Chromium, offline.

Chromium comes from Debian (`scripts/install-system-deps.sh`), never from `playwright
install`; axe-core comes from inside the axe-playwright-python wheel. Fixtures:

- ``browser`` (session): one headless Chromium per pytest(-xdist) worker process.
- ``context`` / ``page`` (function): a fresh context per test, 1280x800, en-US.

Helpers, imported with ``from browser.conftest import screenshot, ...``:

- ``screenshot(page, name)`` writes ``build/screenshots/<name>.png`` and returns its path.
- ``check_accessibility(page, *, context_name)`` runs axe-core's WCAG 2.0/2.1 A and AA
  rules and returns the violations, so that a test can ``assert not violations``.
- ``tab_order(page, count)`` presses Tab ``count`` times and describes each focused element.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "build" / "screenshots"
INSTALL_HINT = "run scripts/install-system-deps.sh (as root, or with sudo) to install Chromium"

CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Tests reach only loopback: no other host name even gets a DNS query.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]",
]
VIEWPORT = {"width": 1280, "height": 800}
DEFAULT_TIMEOUT_MS = 10_000

# axe-core tags of the WCAG 2.0 and 2.1 level A and AA success criteria.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_IMPACT_ORDER = {"critical": 0, "serious": 1, "moderate": 2, "minor": 3}


def chromium_path() -> str:
    """Debian's Chromium, or fail the test with how to install it (never skip)."""
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
    if path is None:
        pytest.fail(f"Chromium is not installed: {INSTALL_HINT}", pytrace=False)
    return path


@dataclass
class _PlaywrightSession:
    playwright: Playwright
    browser: Browser
    loop: asyncio.AbstractEventLoop | None


@pytest.fixture(scope="session")
def _playwright_session() -> Iterator[_PlaywrightSession]:
    executable = chromium_path()
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
    except PlaywrightError as error:
        playwright.stop()
        pytest.fail(f"could not start {executable}: {error.message}\n{INSTALL_HINT}", pytrace=False)
    # Between its calls the sync API leaves its event loop marked as running in this thread,
    # so that asyncio.run() in a later test on this xdist worker would refuse to start.
    # Mark it running only while a browser test runs (see _playwright_loop).
    session = _PlaywrightSession(playwright, browser, asyncio._get_running_loop())
    asyncio._set_running_loop(None)
    try:
        yield session
    finally:
        asyncio._set_running_loop(session.loop)
        browser.close()
        playwright.stop()
        asyncio._set_running_loop(None)


@pytest.fixture(autouse=True)
def _playwright_loop(_playwright_session: _PlaywrightSession) -> Iterator[None]:
    """Give the sync API its event loop back for the length of each browser test."""
    asyncio._set_running_loop(_playwright_session.loop)
    try:
        yield
    finally:
        asyncio._set_running_loop(None)


@pytest.fixture(scope="session")
def browser(_playwright_session: _PlaywrightSession) -> Browser:
    """Headless Debian Chromium, one per worker process."""
    return _playwright_session.browser


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser context (cookies, storage) for each test."""
    ctx = browser.new_context(
        viewport=VIEWPORT,  # type: ignore[arg-type]
        locale="en-US",
        timezone_id="UTC",
        color_scheme="light",
        reduced_motion="reduce",
    )
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# --- screenshots -------------------------------------------------------------------------

_SCREENSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_taken: set[str] = set()


def screenshot(page: Page, name: str) -> Path:
    """Write a full-page PNG to build/screenshots/<name>.png and return its path.

    Tests run in parallel (pytest -n auto), so each name must be unique across the suite:
    name it after the test, e.g. ``"login-form-error"``. A name used twice in one process
    is an error; the file is written atomically, so no reader sees half a PNG.
    """
    if not _SCREENSHOT_NAME.fullmatch(name):
        raise ValueError(f"screenshot name {name!r}: use letters, digits, '.', '_', '-'")
    if name in _taken:
        raise ValueError(f"screenshot name {name!r} already used in this test session")
    _taken.add(name)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    data = page.screenshot(full_page=True, animations="disabled")
    fd, tmp = tempfile.mkstemp(dir=SCREENSHOT_DIR, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private to its owner
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --- accessibility (axe-core) ------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One axe-core rule that failed, with where it failed first."""

    rule: str
    impact: str
    target: str
    help: str
    nodes: int
    help_url: str

    def __str__(self) -> str:
        more = f" (+{self.nodes - 1} more)" if self.nodes > 1 else ""
        return f"{self.rule} [{self.impact}] at {self.target}{more}: {self.help}"


class Violations(list[Violation]):
    """The violations on one page; its repr is a readable report for assertion messages."""

    def __init__(self, items: list[Violation], *, context_name: str, url: str) -> None:
        super().__init__(items)
        self.context_name = context_name
        self.url = url

    @property
    def rule_ids(self) -> set[str]:
        return {violation.rule for violation in self}

    def __repr__(self) -> str:
        if not self:
            return f"no accessibility violations on {self.context_name} ({self.url})"
        lines = [f"{len(self)} accessibility violation(s) on {self.context_name} ({self.url}):"]
        lines += [f"  - {violation}" for violation in self]
        return "\n".join(lines)

    __str__ = __repr__


def _selector(target: list[Any]) -> str:
    # A target is a list of selectors, nested lists for frames and shadow roots.
    return " >>> ".join(
        " ".join(str(part) for part in item) if isinstance(item, list) else str(item)
        for item in target
    )


_AXE = Axe()  # its script is the axe.min.js inside the wheel: nothing is fetched


def check_accessibility(page: Page, *, context_name: str) -> Violations:
    """Run axe-core's WCAG 2.0/2.1 A and AA rules on the page as it is now.

    ``context_name`` names the page or state in the report ("login form, after a bad
    password"). Returns the violations, most severe first; ``assert not violations``
    prints them with rule id, impact, the first failing element and axe's help text.
    """
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    results = _AXE.run(page, options=options)
    items = [
        Violation(
            rule=raw["id"],
            impact=raw.get("impact") or "unknown",
            target=_selector(raw["nodes"][0]["target"]) if raw["nodes"] else "(page)",
            help=raw["help"],
            nodes=len(raw["nodes"]),
            help_url=raw.get("helpUrl", ""),
        )
        for raw in results.response["violations"]
    ]
    items.sort(key=lambda v: (_IMPACT_ORDER.get(v.impact, len(_IMPACT_ORDER)), v.rule))
    return Violations(items, context_name=context_name, url=page.url)


# --- keyboard focus order ----------------------------------------------------------------

_DESCRIBE_FOCUSED = """
() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body || el === document.documentElement) return "body";
  const squash = (text) => (text || "").replace(/\\s+/g, " ").trim();
  const attr = (name) => squash(el.getAttribute(name));
  const texts = (nodes) => squash([...nodes].map((node) => node.textContent).join(" "));
  const labelledBy = (attr("aria-labelledby") || "").split(" ").filter(Boolean)
    .map((id) => document.getElementById(id)).filter(Boolean);
  const isInputButton = el.tagName === "INPUT" && ["button", "submit", "reset"].includes(el.type);
  let name = attr("aria-label") || texts(labelledBy) || texts(el.labels || [])
    || (isInputButton ? squash(el.value) : "")
    || attr("alt") || squash(el.innerText) || attr("title") || attr("placeholder");
  if (name.length > 40) name = name.slice(0, 39) + "\\u2026";
  const tag = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "");
  return name ? `${tag} "${name}"` : tag;
}
"""


def tab_order(page: Page, count: int) -> list[str]:
    """Press Tab ``count`` times; describe each element that gets focus.

    Each description reads ``tag#id "accessible name"`` (the id and the name only when
    present), e.g. ``input#email "Email address"`` or ``button "Sign in"``; ``"body"``
    means focus left the page's controls. Start from a freshly loaded page, or focus an
    element first to start after it.
    """
    order: list[str] = []
    for _ in range(count):
        page.keyboard.press("Tab")
        order.append(page.evaluate(_DESCRIBE_FOCUSED))
    return order
