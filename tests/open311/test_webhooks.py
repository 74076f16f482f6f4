"""Telling the hotline (issue #20): each work_order_changed of an issue an integration created is written to the
webhook outbox and POSTed, signed, to a REAL local HTTP receiver that checks the signature and the timestamp
the way the hotline would (401 otherwise) and records what arrived: in order per request, exactly once, nothing
lost while it refuses or is down. The secret is shown once; the keys page shows the sender's figures."""
import hashlib
import hmac
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from portal import events
from portal.audit.models import AuditEntry
from portal.errors import DomainError
from portal.extensions import db
from portal.open311 import services, webhooks
from portal.open311.models import Open311Delivery, Open311Key
from tests.conftest import free_port
from tests.open311 import create_via_service
from tests.residents import post

T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
TOLERANCE = 300  # seconds: the hotline refuses a signature older than five minutes
SECRET_SHOWN = re.compile(r'id="webhook-secret"[^>]*value="(whsec_[^"]+)"')


class Hotline:
    """The hotline's end of the webhook: verifies X-Yishi-Signature over timestamp + "." + body with the shared
    secret (401 when wrong or older than TOLERANCE), ignores a delivery id it has already taken (idempotency),
    and may refuse (`refuse(delivery)` → True answers 500) or be down altogether (`stop()` / `start()`)."""

    def __init__(self, secret=None):
        self.secret = secret
        self.port = free_port()
        self.received = []      # the JSON documents taken, in arrival order
        self.repeats = 0        # deliveries that came again after being taken
        self.unauthorized = 0   # 401 answers
        self.refuse = lambda delivery: False
        self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/yishi/webhook"

    def verify(self, headers, body) -> bool:
        stamp, sent = headers.get("X-Yishi-Timestamp", ""), headers.get("X-Yishi-Signature", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE:
            return False
        expected = "sha256=" + hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, sent)

    def start(self):
        hotline = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not hotline.verify(self.headers, body):
                    hotline.unauthorized += 1
                    return self._answer(401)
                delivery = json.loads(body)
                if delivery["delivery_id"] != self.headers["X-Yishi-Delivery"]:
                    return self._answer(400)
                if hotline.refuse(delivery):
                    return self._answer(500)
                if any(d["delivery_id"] == delivery["delivery_id"] for d in hotline.received):
                    hotline.repeats += 1
                else:
                    hotline.received.append(delivery)
                self._answer(204)

            def _answer(self, status):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def of(self, request_id):
        return [(d["sequence"], d["event"]) for d in self.received if d["service_request_id"] == str(request_id)]


@pytest.fixture
def hotline(app):
    receiver = Hotline()
    yield receiver
    receiver.stop()


@pytest.fixture
def hooked(world, hotline):
    """The world's integration with a webhook to the local receiver, which knows its secret."""
    hotline.secret = services.set_webhook(world.admin, world.key, hotline.url)
    db.session.commit()
    return world


def change(issue, event, at, text=""):
    events.work_order_changed.send(issue, event=event, now=at, public_text=text)
    db.session.commit()


def pending():
    return db.session.scalar(db.select(db.func.count()).select_from(Open311Delivery)
                             .where(Open311Delivery.status == "pending"))


def test_a_change_is_written_in_the_same_transaction_and_arrives_signed(hooked, hotline):
    issue = create_via_service(hooked, now=T0)
    db.session.commit()
    events.work_order_changed.send(issue, event="signed_for", now=T0 + timedelta(minutes=5),
                                   public_text="物业已签收，今天下午维修。")
    db.session.rollback()  # the change was undone: so is its delivery
    assert pending() == 0
    change(issue, "signed_for", T0 + timedelta(minutes=5), "物业已签收，今天下午维修。")
    assert pending() == 1
    hotline.start()
    result = webhooks.drain(T0 + timedelta(minutes=6))
    assert (result.delivered, result.retrying) == (1, 0)
    [delivery] = hotline.received
    assert delivery["service_request_id"] == str(issue.id)
    assert delivery["event"] == "signed_for" and delivery["sequence"] == 1 and delivery["status"] == "open"
    assert delivery["public_text"] == "物业已签收，今天下午维修。"
    assert delivery["jurisdiction_id"] == "x"
    assert datetime.fromisoformat(delivery["occurred_at"]) == T0 + timedelta(minutes=5)
    assert delivery["occurred_at"].endswith("+08:00")  # the community's time zone, ISO 8601 with its offset
    row = db.session.scalar(db.select(Open311Delivery))
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 1, T0 + timedelta(minutes=6))
    key = db.session.get(Open311Key, hooked.key.id)
    assert key.webhook_last_success_at == T0 + timedelta(minutes=6) and key.webhook_failures == 0
    assert webhooks.drain(T0 + timedelta(hours=2)).delivered == 0  # never twice


def test_the_signature_scheme_is_hmac_sha256_over_timestamp_dot_body(hooked):
    body = b'{"a":1}'
    expected = hmac.new(b"whsec_x", b"1765000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.signature("whsec_x", 1765000000, body) == "sha256=" + expected


def test_a_wrong_signature_is_refused_and_the_delivery_waits_for_the_right_secret(hooked, hotline):
    issue = create_via_service(hooked, now=T0)
    db.session.commit()
    change(issue, "resolved", T0 + timedelta(hours=1), "已修复。")
    right = hotline.secret
    hotline.secret = "whsec_not_the_one_the_portal_holds"
    hotline.start()
    result = webhooks.drain(T0 + timedelta(hours=1))
    assert (result.delivered, result.retrying) == (0, 1)
    assert hotline.unauthorized == 1 and hotline.received == []
    row = db.session.scalar(db.select(Open311Delivery))
    assert row.status == "pending" and row.attempts == 1 and row.last_error.startswith("HTTP 401")
    assert row.next_attempt_at == T0 + timedelta(hours=1, minutes=1)
    key = db.session.get(Open311Key, hooked.key.id)
    assert key.webhook_failures == 1 and key.webhook_last_error.startswith("HTTP 401")
    hotline.secret = right
    assert webhooks.drain(T0 + timedelta(hours=1, seconds=30)).delivered == 0  # not due before its backoff
    assert webhooks.drain(T0 + timedelta(hours=1, minutes=1)).delivered == 1
    assert hotline.of(issue.id) == [(1, "resolved")]
    assert db.session.get(Open311Key, hooked.key.id).webhook_failures == 0


def test_the_hotline_refuses_an_old_timestamp(hooked, hotline):
    issue = create_via_service(hooked, now=T0)
    db.session.commit()
    change(issue, "signed_for", T0)
    row = db.session.scalar(db.select(Open311Delivery))
    body = webhooks.body_of(row.payload)
    hotline.start()
    stale = webhooks.headers_for(row, hotline.secret, body, timestamp=int(time.time()) - 3600)
    with pytest.raises(webhooks.WebhookError, match="HTTP 401"):
        webhooks.post(hotline.url, body, stale)
    tampered = webhooks.headers_for(row, hotline.secret, body)
    with pytest.raises(webhooks.WebhookError, match="HTTP 401"):
        webhooks.post(hotline.url, body.replace(b"signed_for", b"resolved__"), tampered)
    assert webhooks.post(hotline.url, body, webhooks.headers_for(row, hotline.secret, body)) == 204


def test_down_then_refusing_then_up_every_event_arrives_once_in_order_per_request(hooked, hotline):
    a = create_via_service(hooked, now=T0)
    b = create_via_service(hooked, now=T0, description="Corridor light out")
    db.session.commit()
    change(a, "signed_for", T0 + timedelta(minutes=1), "已签收")
    change(b, "signed_for", T0 + timedelta(minutes=2))
    change(a, "extension_requested", T0 + timedelta(minutes=3), "申请延期两天")
    # Down: nothing listens on the port.
    result = webhooks.drain(T0 + timedelta(minutes=4))
    assert result.delivered == 0 and pending() == 3
    key = db.session.get(Open311Key, hooked.key.id)
    assert key.webhook_failures >= 1 and "cannot reach" in key.webhook_last_error
    # Up, but refusing a's first change three times: b goes, a's second change waits behind its first.
    refused, a_id = [], str(a.id)  # the receiver's thread has no database

    def refuse(delivery):
        if delivery["service_request_id"] == a_id and delivery["sequence"] == 1 and len(refused) < 3:
            refused.append(delivery["delivery_id"])
            return True
        return False
    hotline.refuse = refuse
    hotline.start()
    change(a, "extension_decided", T0 + timedelta(minutes=5), "同意延期")
    now = T0 + timedelta(minutes=5)
    seen_b_before_a = False
    for _ in range(12):
        now += timedelta(minutes=61)
        webhooks.drain(now)
        if hotline.of(b.id) and not hotline.of(a.id):
            seen_b_before_a = True
        if pending() == 0:
            break
    assert len(refused) == 3 and seen_b_before_a
    change(a, "resolved", now, "已修好")
    change(b, "reopened", now, "居民反映仍未解决")
    webhooks.drain(now)
    assert pending() == 0
    assert hotline.of(a.id) == [(1, "signed_for"), (2, "extension_requested"), (3, "extension_decided"),
                                (4, "resolved")]
    assert hotline.of(b.id) == [(1, "signed_for"), (2, "reopened")]
    assert hotline.repeats == 0 and hotline.unauthorized == 0
    ids = [d["delivery_id"] for d in hotline.received]
    assert len(ids) == len(set(ids)) == 6


def test_the_run_due_step_sends_them(hooked, hotline):
    from portal.due import run_step
    issue = create_via_service(hooked, now=T0)
    db.session.commit()
    change(issue, "signed_for", T0)
    hotline.start()
    assert run_step("send_open311_webhooks", T0 + timedelta(minutes=1), datetime.now(UTC)) == 1
    assert hotline.of(issue.id) == [(1, "signed_for")]


def test_nothing_is_written_without_a_webhook_or_for_other_issues(world):
    issue = create_via_service(world, now=T0)
    db.session.commit()
    change(issue, "signed_for", T0)
    change(world.issue if hasattr(world, "issue") else issue, "resolved", T0)
    assert db.session.scalar(db.select(db.func.count()).select_from(Open311Delivery)) == 0


def test_a_revoked_key_or_a_removed_webhook_keeps_its_deliveries_waiting(hooked, hotline):
    issue = create_via_service(hooked, now=T0)
    db.session.commit()
    change(issue, "signed_for", T0)
    hotline.start()
    services.set_webhook(hooked.admin, hooked.key, "")
    db.session.commit()
    assert webhooks.drain(T0 + timedelta(minutes=1)).delivered == 0 and pending() == 1
    services.set_webhook(hooked.admin, hooked.key, hotline.url)  # the same secret stays
    db.session.commit()
    assert webhooks.drain(T0 + timedelta(minutes=2)).delivered == 1


def test_the_webhook_address_must_be_https(app, world):
    for bad in ("http://hotline.example.cn/hook", "ftp://hotline.example.cn/", "https://", "https://u:p@h.cn/",
                "https://h.cn/a b", "javascript:alert(1)", "https://h.cn:port/"):
        with pytest.raises(DomainError):
            services.check_webhook_url(bad)
    assert services.check_webhook_url("https://hotline.example.cn/yishi") == "https://hotline.example.cn/yishi"
    assert services.check_webhook_url("  ") is None
    assert services.check_webhook_url("http://127.0.0.1:8080/hook")  # testing allows the local receiver
    saved = app.config["TESTING"]
    app.config["TESTING"] = False
    try:
        with pytest.raises(DomainError):
            services.check_webhook_url("http://127.0.0.1:8080/hook")
    finally:
        app.config["TESTING"] = saved


def test_the_secret_is_shown_once_and_rotating_shows_the_new_one_once(client, auth, world):
    auth.login(world.admin)
    path = f"/open311/keys/{world.key.id}/webhook"
    response = post(client, path, {"webhook_url": "https://hotline.example.cn/yishi/webhook"}, token_from=path)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    secret = SECRET_SHOWN.search(response.get_data(as_text=True)).group(1)
    db.session.expire_all()
    key = db.session.get(Open311Key, world.key.id)
    assert key.webhook_secret == secret and key.webhook_url == "https://hotline.example.cn/yishi/webhook"
    for page in ("/open311/keys", path, f"/open311/keys/{world.key.id}"):
        assert secret not in client.get(page).get_data(as_text=True)
    # Saving the address again keeps the secret and does not show it.
    response = post(client, path, {"webhook_url": "https://hotline.example.cn/v2/webhook"}, token_from=path)
    assert response.status_code == 302 and secret not in client.get("/open311/keys").get_data(as_text=True)
    response = post(client, f"{path}/secret", token_from=path)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    rotated = SECRET_SHOWN.search(response.get_data(as_text=True)).group(1)
    assert rotated != secret
    db.session.expire_all()
    assert db.session.get(Open311Key, world.key.id).webhook_secret == rotated
    assert rotated not in client.get(path).get_data(as_text=True)
    actions = db.session.scalars(db.select(AuditEntry.action).where(AuditEntry.action.like("open311_key.webhook%"))
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["open311_key.webhook_set", "open311_key.webhook_set", "open311_key.webhook_secret_rotated"]
    assert all(secret not in json.dumps(e.details) for e in db.session.scalars(db.select(AuditEntry)))


def test_a_bad_address_comes_back_on_the_form_with_the_typing_kept(client, auth, world):
    auth.login(world.admin)
    path = f"/open311/keys/{world.key.id}/webhook"
    response = post(client, path, {"webhook_url": "http://hotline.example.cn/hook"}, token_from=path)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "https://" in text and 'value="http://hotline.example.cn/hook"' in text
    assert db.session.get(Open311Key, world.key.id).webhook_url is None


def test_only_admins_set_webhooks(client, auth, world):
    path = f"/open311/keys/{world.key.id}/webhook"
    auth.login(world.chair_x)
    assert client.get(path).status_code == 403
    assert post(client, path, {"webhook_url": "https://h.example.cn/"}).status_code == 403
    assert post(client, f"{path}/secret").status_code == 403
    with pytest.raises(Exception):  # noqa: B017  (NotAllowed)
        services.set_webhook(world.chair_x, world.key, "https://h.example.cn/")


def test_the_keys_page_shows_the_senders_figures(client, auth, hooked, hotline):
    issue = create_via_service(hooked, now=T0)
    db.session.commit()
    change(issue, "signed_for", T0)
    change(issue, "resolved", T0)
    webhooks.drain(T0)  # the receiver is down
    auth.login(hooked.admin)
    text = client.get("/open311/keys").get_data(as_text=True)
    assert "Waiting to be sent" in text and "cannot reach" in text and hotline.url in text


def test_the_work_order_signed_for_by_its_staff_reaches_the_hotline_that_sent_it(hooked, hotline):
    """End to end: a request the integration created, signed for by the property staff through the work-order
    service (not a hand-sent signal), arrives at the hotline as "signed_for" with the staff's note."""
    from portal.issues import services as issues

    issue = create_via_service(hooked, now=T0)
    db.session.commit()
    issues.sign_for(hooked.property_x, issue, note="今天下午维修。", now=T0 + timedelta(minutes=5))
    db.session.commit()
    hotline.start()
    assert webhooks.drain(T0 + timedelta(minutes=6)).delivered == 1
    [delivery] = hotline.received
    assert (delivery["service_request_id"], delivery["event"]) == (str(issue.id), "signed_for")
    assert delivery["public_text"] == "今天下午维修。"
