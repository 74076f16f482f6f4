"""Browser tests: Debian's Chromium, driven by Playwright's sync API, against the portal served by a
real WSGI server.

The server (`live_server`, one per test session):
- werkzeug's threaded `make_server` bound to 127.0.0.1 on a free port, serving in a daemon thread.
  The socket is bound first, so the app is created knowing its own address: `PORTAL_BASE_URL` is the
  live URL, and links the portal mails or notifies (password resets) open in the browser.
- A separate `create_app()` from the root conftest's `app`, with CSRF on (the browser sends real
  forms) and TESTING off (error pages as in production). Unhandled errors the app logs are collected
  and fail the test during which they happened.
- Always its own SQLite file in a temporary directory, tables made with `db.create_all()`, even when
  TEST_DATABASE_URL is set. Browser tests keep their data for the whole session (the root conftest's
  per-test cleaning skips them) and share it between the server's threads and the test's thread; a
  throwaway file keeps them off the database the rest of the suite empties after every test. Each
  test makes its own accounts and places with unique names, so tests do not depend on each other.
- Translations are compiled from `portal/translations/*/LC_MESSAGES/messages.po` into the temporary
  directory (nothing is written into the source tree), so Chinese shows without `make translations`.
- Mail goes over SMTP to a local aiosmtpd server; `live_server.mailbox.messages` holds what arrived.

Tests reach the server's database through `live_server.app` inside `live_server.app.app_context()`:
to seed a committee with `tests.factories`, or to read the notification outbox for an e-mailed link.

Pages run in a phone-sized context (390×844, scale 1, en-US). `screens.capture()` saves a screenshot
into tests/browser/screenshots/ and notes a page that scrolls sideways at 390px; a test fails when any
page it captured does, when the server logged an unhandled error, or when a page had a script or
console error (CSP refusals and failed loads show there).

Run: `.venv/bin/python -m pytest tests/browser` (or `-m browser`). Refresh the docs/screen-*.png
pictures with `UPDATE_DOCS_SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser`.
"""
import logging
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from portal import ROOT, create_app
from portal.config import TestConfig
from portal.extensions import db
from tests.browser import screens
from tests.conftest import Inbox, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "locale": "en-US"}

expect.set_options(timeout=10_000)


class LiveServer:
    def __init__(self, app, url, server):
        self.app = app
        self.url = url
        self.server = server
        self.errors: list[str] = []
        self.mailbox = Inbox()


class _ErrorCollector(logging.Handler):
    def __init__(self, errors: list[str]):
        super().__init__(level=logging.ERROR)
        self.errors = errors

    def emit(self, record):
        self.errors.append(self.format(record))


class _AppSlot:
    """The WSGI callable the server is bound with before the app exists (the app needs the port)."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def compile_translations(target: Path) -> str:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    source = ROOT / "portal" / "translations"
    for po_path in source.glob("*/LC_MESSAGES/*.po"):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)
    return str(target)


@pytest.fixture(scope="session")
def live_server():
    workdir = Path(tempfile.mkdtemp(prefix="yishi-browser-"))
    slot = _AppSlot()
    server = make_server("127.0.0.1", 0, slot, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"

    config = TestConfig(database_url=f"sqlite:///{workdir / 'portal.sqlite3'}")
    config.TESTING = False
    config.WTF_CSRF_ENABLED = True
    config.PORTAL_BASE_URL = url
    config.UPLOAD_DIR = str(workdir / "uploads")
    config.BABEL_TRANSLATION_DIRECTORIES = compile_translations(workdir / "translations")
    config.MAIL_SERVER, config.MAIL_PORT = "127.0.0.1", free_port()
    app = create_app(config)
    with app.app_context():
        db.create_all()
    slot.app = app

    live = LiveServer(app, url, server)
    smtp = Controller(live.mailbox, hostname=config.MAIL_SERVER, port=config.MAIL_PORT)
    smtp.start()
    collector = _ErrorCollector(live.errors)
    app.logger.addHandler(collector)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    thread = threading.Thread(target=server.serve_forever, name="yishi-live-server", daemon=True)
    thread.start()
    yield live
    server.shutdown()
    thread.join(timeout=10)
    smtp.stop()
    app.logger.removeHandler(collector)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser, live_server):
    """Open another browser context (another person, or JavaScript off), closed after the test.

    Any page's script error or console error (a CSP refusal shows there) fails the test."""
    contexts = []
    problems = []

    def on_console(message):
        if message.type == "error":
            problems.append(f"console error on {message.page.url if message.page else '?'}: {message.text}")

    def open_context(**options):
        context = browser.new_context(base_url=live_server.url, **{**PHONE, **options})
        context.on("console", on_console)
        context.on("weberror", lambda error: problems.append(f"page error: {error.error}"))
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture(autouse=True)
def _no_server_errors(live_server):
    live_server.errors.clear()
    yield
    assert not live_server.errors, "the server logged errors:\n" + "\n\n".join(live_server.errors)


@pytest.fixture(autouse=True)
def _every_page_fits_a_phone():
    screens.overflowing.clear()
    yield
    assert not screens.overflowing, "pages scroll sideways on a 390px phone:\n" + "\n".join(screens.overflowing)
