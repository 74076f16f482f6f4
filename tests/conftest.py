"""Fixtures: one app per test session (SQLite in memory, or PostgreSQL with TEST_DATABASE_URL), every
table emptied after each test, and a client that can sign in as anyone."""
import os
import socket
import tempfile

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from flask.testing import FlaskClient

os.environ.setdefault("PORTAL_INSTANCE_DIR", tempfile.mkdtemp(prefix="yishi-test-instance-"))

from portal import create_app  # noqa: E402
from portal.config import TestConfig  # noqa: E402
from portal.extensions import db  # noqa: E402
from tests.factories import DEFAULT_PASSWORD  # noqa: E402


class RequestIsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production: the test's own context (and its `g`,
    its database session, Flask-Login's cached user, Flask-Babel's cached locale) does not leak into it."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app():
    app = create_app(TestConfig())
    app.test_client_class = RequestIsolatedClient
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_database(request, app):
    if "browser" in request.keywords:
        yield
        return
    with app.app_context():
        yield
        db.session.rollback()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, user_or_login, password=DEFAULT_PASSWORD, remember=False):
        from tests.csrf import csrf_token
        login = getattr(user_or_login, "login_name", user_or_login)
        data = {"login": login, "password": password, "csrf_token": csrf_token(self.client, "/login")}
        if remember:
            data["remember"] = "y"
        return self.client.post("/login", data=data)

    def logout(self):
        from tests.csrf import csrf_token
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")})


@pytest.fixture
def auth(client):
    return Auth(client)


# --- A real SMTP server for the e-mail channel -------------------------------------------------

class Inbox(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_inbox(app):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    saved = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    yield inbox
    app.config.update(saved)
    controller.stop()


# --- Uploaded files in a folder of their own -------------------------------------------------------------

@pytest.fixture
def upload_dir(app, tmp_path):
    """Photos and attachments go to a fresh folder for the test (returned), not the instance's."""
    saved = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = saved
