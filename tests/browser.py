"""Central's pages in a real headless Chromium (Debian's, driven by Playwright), as the dashboard
tests use it: one browser per test module (conftest's `chromium`), and pages in browser contexts of
their own (their own cookies and localStorage), logged in through central's own login API, that
collect every CSP violation and script error so a test can assert there were none."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.central_web import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")


def open_page(browser: Browser, url: str, user: str | None, viewport: dict, problems: list[str]
              ) -> tuple[BrowserContext, Page]:
    """A page in a context of its own, logged in to central at `url` as `user` (if given); CSP
    violations and uncaught script errors are appended to `problems`."""
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and "Content Security Policy" in m.text
            and problems.append(m.text))
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    if user:
        answer = context.request.post(url + "/api/login", data={"username": user, "password": PASSWORD})
        assert answer.ok, answer.text()
    return context, page
