"""Real-browser fixtures: the app served on a loopback port, Chromium via Playwright.

Playwright cannot download browsers here, so we launch Playwright's own Chromium
if one is installed and otherwise Debian's /usr/bin/chromium (``make test``
installs it when missing). LOTSA_CHROMIUM overrides the path.
"""

from __future__ import annotations

import glob
import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

pytestmark = pytest.mark.e2e

# Browser tests check what a person sees and does; the database under the app
# changes none of that, except where a journey races its own saves (autosave,
# conflicts, a questionnaire submitted twice). Those journeys run on both
# databases; the rest run once per CI matrix, on the SQLite pass, which keeps
# the PostgreSQL pass for what PostgreSQL can change.
BOTH_DATABASES = {"test_patient_journey.py", "test_questionnaire_journey.py", "test_clinician_journey.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.parent == Path(__file__).parent and item.path.name not in BOTH_DATABASES:
            item.add_marker(pytest.mark.once_per_matrix)


def chromium_path() -> str | None:
    """None means Playwright's own browser; otherwise the executable to launch."""
    if os.environ.get("LOTSA_CHROMIUM"):
        return os.environ["LOTSA_CHROMIUM"]
    if glob.glob(os.path.expanduser("~/.cache/ms-playwright/chromium-*/chrome-linux*/chrome")):
        return None
    return shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = dict(browser_type_launch_args)
    path = chromium_path()
    if path:
        args["executable_path"] = path
    # This machine has no network: keep Chromium from trying to phone home.
    args["args"] = [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]
    return args


def buffered(app):
    """The app with each response body read whole before the server writes it.

    Werkzeug's development server does not close a response whose client went
    away mid-transfer (a browser stops loading an audio file as soon as it knows
    its length), which leaves the file open and fails the test with a
    ResourceWarning. Reading and closing the body first removes that race;
    Range requests still work, as the app answers them itself.
    """
    def wsgi(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return wsgi


class LiveServer:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, buffered(app), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live_server(app, db):
    """The test's app served over HTTP; seed data first, then close the session.

    With SQLite's BEGIN IMMEDIATE an open transaction in the test would block
    the server, so the test's session is closed before each browser step.
    """
    with LiveServer(app) as server:
        app.config["BASE_URL"] = server.url  # links in e-mail point at this server
        yield server


# axe's "incomplete" results: what it could not decide (text over an image, say), for a
# person to look at. They are listed at the end of the run, rule by rule (issue 26).
AXE_INCOMPLETE: dict[str, dict] = {}


@pytest.fixture
def axe():
    from axe_playwright_python.sync_playwright import Axe

    checker = Axe()

    def check(page, label: str = "") -> None:
        results = checker.run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}, "resultTypes": ["violations", "incomplete"]})
        for rule in results.response.get("incomplete", []):
            seen = AXE_INCOMPLETE.setdefault(rule["id"], {"help": rule.get("help", ""), "pages": set(), "targets": set()})
            seen["pages"].add(label.split(" at ")[0])
            for node in rule.get("nodes", [])[:3]:
                seen["targets"].add(" ".join(str(t) for t in node.get("target", [])))
        assert results.violations_count == 0, f"{label}\n{results.generate_report()}"

    return check


def pytest_terminal_summary(terminalreporter):
    if not AXE_INCOMPLETE:
        return
    terminalreporter.section("axe: incomplete results (for a person to check)")
    for rule_id, seen in sorted(AXE_INCOMPLETE.items()):
        terminalreporter.write_line(f"{rule_id}: {seen['help']} — on {len(seen['pages'])} page(s)")
        for target in sorted(seen["targets"])[:5]:
            terminalreporter.write_line(f"    {target}")


@pytest.fixture(autouse=True)
def _short_timeouts(page):
    """Fail in seconds, not half a minute, when something is not on the page."""
    page.set_default_timeout(10_000)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A Swedish browser, like most of our users'."""
    return {**browser_context_args, "locale": "sv-SE", "timezone_id": "Europe/Stockholm"}
