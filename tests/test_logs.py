"""Request ids and the JSON request log; the id also lands in the audit log."""
import json
import logging
import re

import pytest

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.observability import JsonFormatter, request_id_from
from tests.csrf import csrf_token
from tests.factories import DEFAULT_PASSWORD, gen_user


@pytest.fixture
def request_log(app):
    app.config["REQUEST_LOG"] = True
    yield
    app.config["REQUEST_LOG"] = False


def log_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_every_response_carries_a_new_request_id(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_a_sane_incoming_request_id_is_kept_and_an_odd_one_replaced(client):
    assert client.get("/healthz", headers={"X-Request-ID": "4f2a9c1e0b7d4e55"}).headers["X-Request-ID"] == \
        "4f2a9c1e0b7d4e55"
    for odd in ("short", "x" * 65, "has spaces in it", "quote\"and<tag>", "日志编号日志编号日志编号"):
        answered = client.get("/healthz", headers={"X-Request-ID": odd}).headers["X-Request-ID"]
        assert answered != odd and re.fullmatch(r"[0-9a-f]{32}", answered)


def test_request_ids_from_headers():
    assert request_id_from("abc-DEF_1.2:3") == "abc-DEF_1.2:3"
    assert request_id_from(None) != request_id_from(None)


def test_one_json_line_per_request(client, request_log, capsys):
    capsys.readouterr()
    client.get("/healthz", headers={"X-Request-ID": "req-0000-0001"})
    client.get("/no/such/page")
    first, second = log_lines(capsys.readouterr().err)
    assert first["request_id"] == "req-0000-0001" and first["level"] == "INFO"
    assert (first["method"], first["path"], first["endpoint"], first["status"]) == \
        ("GET", "/healthz", "home.healthz", 200)
    assert first["duration_ms"] >= 0 and first["user_id"] is None and first["time"].endswith("+00:00")
    assert (second["endpoint"], second["status"]) == ("unmatched", 404)


def test_the_log_line_names_the_signed_in_person(client, auth, request_log, capsys):
    user = gen_user()
    db.session.commit()
    auth.login(user)
    capsys.readouterr()
    client.get("/")
    (line,) = log_lines(capsys.readouterr().err)
    assert line["user_id"] == user.id and line["path"] == "/"


def test_no_request_lines_unless_asked(client, capsys):
    capsys.readouterr()
    client.get("/healthz")
    assert log_lines(capsys.readouterr().err) == []


def test_audit_entries_carry_the_request_id(client):
    user = gen_user(email="ops@example.org")
    db.session.commit()
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"login": "ops@example.org", "password": DEFAULT_PASSWORD,
                                           "csrf_token": token}, headers={"X-Request-ID": "login-req-42"})
    assert response.status_code == 302 and response.headers["X-Request-ID"] == "login-req-42"
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "account.login",
                                                          AuditEntry.actor_id == user.id))
    assert entry.request_id == "login-req-42"


def test_audit_entries_outside_requests_have_no_request_id(app):
    from portal.audit.services import record
    user = gen_user()
    entry = record(user, "account.test", user)
    db.session.commit()
    assert entry.request_id is None


def test_admins_filter_the_audit_log_by_request_id(client, auth):
    admin = gen_user(is_admin=True)
    db.session.add_all([AuditEntry(action="demo.one", request_id="abcdef0123456789", details={}),
                        AuditEntry(action="demo.two", request_id="fedcba9876543210", details={})])
    db.session.commit()
    auth.login(admin)
    page = client.get("/admin/audit/?request_id=abcdef0123456789").text
    assert "demo.one" in page and "demo.two" not in page


def test_app_messages_are_json_lines_too():
    record = logging.LogRecord("portal", logging.WARNING, __file__, 1, "outbox %s", ("stuck",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "outbox stuck" and line["level"] == "WARNING" and line["request_id"] is None
