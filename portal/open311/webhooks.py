"""Telling the hotline: the receiver of `work_order_changed` (portal.events) and the sender of the webhook
outbox (Open311Delivery), drained like the e-mail outbox (portal.notifications.sender): by the
`send_open311_webhooks` step of `run-due` (cron, every minute; no Redis needed).

Each delivery is an HTTPS POST of a small JSON document to the integration's webhook URL, with headers
  X-Yishi-Delivery: <delivery_id>   (the same on every retry: the receiver's idempotency key)
  X-Yishi-Event: <event>
  X-Yishi-Timestamp: <Unix seconds when this attempt was signed>
  X-Yishi-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
A 2xx answer delivers it; anything else (another status, a redirect, no connection, a timeout after
TIMEOUT seconds) is a failure retried after 1, 2, 4 … minutes, at most an hour apart, for ever: nothing is
dropped. Per request the deliveries go strictly in `sequence` order: a later one waits while an earlier one
is failing. Rows are claimed by moving `next_attempt_at` a lease ahead and each outcome is committed at
once, so two senders never send one row at the same time, and a sender that dies between the receiver's
answer and its commit sends that row again (same X-Yishi-Delivery: the receiver ignores the repeat).
A key revoked or without a webhook keeps its rows waiting."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, update

from portal import events
from portal.clock import utcnow
from portal.due import due_step
from portal.extensions import db
from portal.open311.models import Open311Delivery, Open311Key
from portal.open311.services import webhooks as rules

LEASE = timedelta(minutes=5)
MAX_BACKOFF_MINUTES = 60
BATCH_SIZE = 100
TIMEOUT = 10  # seconds to connect, and to wait for the answer
MAX_ROUNDS = 50  # per drain: a request's next change goes out in the next round once the earlier one arrived
USER_AGENT = "Yishi-Webhook/1"


# --- the receiver of work_order_changed -------------------------------------------------------------------------

@events.work_order_changed.connect
def _record_work_order_change(issue, *, event, now, public_text="", **kwargs):
    rules.record_change(issue, event, now=now, public_text=public_text)


# --- signing --------------------------------------------------------------------------------------------------

def body_of(payload: dict) -> bytes:
    """The exact bytes POSTed (and signed): compact UTF-8 JSON, keys sorted."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def signature(secret: str, timestamp: str | int, body: bytes) -> str:
    """The X-Yishi-Signature value: "sha256=" and the hex HMAC-SHA256 with the secret over
    `timestamp + "." + body` (the timestamp as its decimal digits)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers_for(delivery: Open311Delivery, secret: str, body: bytes, *, timestamp: int | None = None) -> dict:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
            "X-Yishi-Delivery": delivery.delivery_id, "X-Yishi-Event": delivery.event,
            "X-Yishi-Timestamp": stamp, "X-Yishi-Signature": signature(secret, stamp, body)}


# --- the channel ----------------------------------------------------------------------------------------------

class WebhookError(Exception):
    """The receiver did not take the delivery. `unreachable`: no answer at all (the rest of this
    integration's batch waits too)."""

    def __init__(self, reply: str, *, unreachable: bool = False):
        super().__init__(reply)
        self.reply = reply[:500]
        self.unreachable = unreachable


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is an answer other than 2xx: a failure, retried later


def post(url: str, body: bytes, headers: dict, *, timeout: float = TIMEOUT) -> int:
    """POST once; the 2xx status, else WebhookError."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)
            status = response.status
    except urllib.error.HTTPError as error:
        raise WebhookError(f"HTTP {error.code} {error.reason or ''}".strip()) from None
    except urllib.error.URLError as error:
        raise WebhookError(f"cannot reach {url}: {error.reason}", unreachable=True) from None
    except (OSError, ValueError) as error:  # reset, timed out, a malformed answer
        raise WebhookError(f"{url}: {type(error).__name__}: {error}", unreachable=True) from None
    if not 200 <= status < 300:
        raise WebhookError(f"HTTP {status}")
    return status


# --- draining -------------------------------------------------------------------------------------------------

def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 1, 2, 4 … minutes, at most an hour (as e-mail)."""
    return timedelta(minutes=min(MAX_BACKOFF_MINUTES, 2 ** max(0, min(attempts - 1, 10))))


@dataclass
class DrainResult:
    delivered: int = 0
    retrying: int = 0

    def lines(self) -> list[str]:
        return [f"{key}: {value}" for key, value in asdict(self).items()]


def _due(now):
    return or_(Open311Delivery.next_attempt_at.is_(None), Open311Delivery.next_attempt_at <= now)


def claim(now: datetime, *, limit: int = BATCH_SIZE) -> list[int]:
    """Take the due first waiting delivery of each request (of integrations with a webhook) by moving it a
    lease ahead; returns their ids. A request whose first waiting delivery is not due has nothing to send."""
    first = (db.select(Open311Delivery.issue_id, func.min(Open311Delivery.sequence).label("sequence"))
             .where(Open311Delivery.status == "pending").group_by(Open311Delivery.issue_id).subquery())
    candidates = (db.select(Open311Delivery.id)
                  .join(first, and_(first.c.issue_id == Open311Delivery.issue_id,
                                    first.c.sequence == Open311Delivery.sequence))
                  .join(Open311Key, Open311Key.id == Open311Delivery.key_id)
                  .where(Open311Delivery.status == "pending", _due(now), Open311Key.revoked_at.is_(None),
                         Open311Key.webhook_url.is_not(None), Open311Key.webhook_secret.is_not(None))
                  .order_by(Open311Delivery.id).limit(limit))
    ids = list(db.session.scalars(candidates))
    if not ids:
        return []
    table = Open311Delivery.__table__
    statement = (update(table).where(table.c.id.in_(ids), table.c.status == "pending",
                                     or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now))
                 .values(next_attempt_at=now + LEASE).returning(table.c.id))
    taken = sorted(db.session.execute(statement).scalars())
    db.session.commit()
    return taken


def _delivered(row: Open311Delivery, key: Open311Key, now):
    row.status, row.delivered_at, row.next_attempt_at, row.last_error = "delivered", now, None, None
    row.attempts += 1
    key.webhook_last_success_at, key.webhook_failures = now, 0


def _failed(row: Open311Delivery, key: Open311Key, error: WebhookError, now):
    row.attempts += 1
    row.last_error = error.reply
    row.next_attempt_at = now + backoff(row.attempts)
    key.webhook_failures = (key.webhook_failures or 0) + 1
    key.webhook_last_error, key.webhook_last_error_at = error.reply, now


def drain(now: datetime | None = None, *, send=post) -> DrainResult:
    """Deliver everything due at `now`, in order per request; commits each outcome. `send(url, body, headers)`
    is the channel (tests may wrap it)."""
    now = now or utcnow()
    result = DrainResult()
    for _round in range(MAX_ROUNDS):
        ids = claim(now)
        if not ids:
            break
        rows = db.session.scalars(db.select(Open311Delivery).where(Open311Delivery.id.in_(ids))
                                  .order_by(Open311Delivery.id)
                                  .execution_options(populate_existing=True)).all()
        down: dict[int, WebhookError] = {}
        for row in rows:
            key = db.session.get(Open311Key, row.key_id)
            if row.key_id in down:  # the integration did not answer at all: its other rows wait untried
                _failed(row, key, down[row.key_id], now)
                result.retrying += 1
                db.session.commit()
                continue
            body = body_of(row.payload)
            try:
                send(key.webhook_url, body, headers_for(row, key.webhook_secret, body))
            except WebhookError as error:
                _failed(row, key, error, now)
                result.retrying += 1
                if error.unreachable:
                    down[row.key_id] = error
                    current_app.logger.warning("open311 webhook: %s", error.reply)
            else:
                _delivered(row, key, now)
                result.delivered += 1
            db.session.commit()
    return result


@due_step("send_open311_webhooks")
def send_webhooks_step(now) -> int:
    return drain(now).delivered
