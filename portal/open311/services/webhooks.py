"""Telling the hotline: an integration's webhook (its URL and signing secret), the outbox rows written when a
work order it created changes state, and the figures of its delivery for the keys page. The sending itself
is portal.open311.webhooks.

The secret is generated here (never chosen by a person), kept as it is (an HMAC needs it), returned once when
set or rotated for the page that shows it, and never shown again. Events are recorded only while the
integration has a webhook: a URL set later starts with the next change."""
from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from portal.audit.services import record
from portal.auth import permissions
from portal.clock import utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues.models import OPEN_STATES
from portal.open311.models import Open311Delivery, Open311Key, Open311Request

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from portal.auth.models import User
    from portal.issues.models import Issue

SECRET_PREFIX = "whsec_"
WEBHOOK_URL_MAX = 2048
PUBLIC_TEXT_MAX = 2000
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
EVENTS = ("signed_for", "sent_back", "returned_to_hotline", "rerouted", "extension_requested",
          "extension_decided", "resolved", "reopened", "return_visit", "appeal_decided")


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def plain_http_allowed() -> bool:
    """http:// to this machine (a receiver in a test, a developer's stub): only when testing or when
    OPEN311_WEBHOOK_ALLOW_HTTP is set. Production always needs HTTPS."""
    config = current_app.config
    return bool(config.get("OPEN311_WEBHOOK_ALLOW_HTTP") or config.get("TESTING"))


def check_webhook_url(text: str | None) -> str | None:
    """The webhook URL, checked; None when empty (no webhook)."""
    url = (text or "").strip()
    if not url:
        return None
    message = _l("The webhook address is an https:// address of at most %(max)d characters, such as "
                 "https://hotline.example.cn/yishi/webhook.", max=WEBHOOK_URL_MAX)
    if len(url) > WEBHOOK_URL_MAX or any(c.isspace() or ord(c) < 32 for c in url):
        raise DomainError(message, "webhook_url")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:
        raise DomainError(message, "webhook_url") from None
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise DomainError(message, "webhook_url")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and host in LOOPBACK and plain_http_allowed():
        return url
    raise DomainError(message, "webhook_url")


def set_webhook(actor: User, key: Open311Key, url: str | None, *, now: datetime | None = None) -> str | None:
    """Set (or, with an empty URL, remove) the integration's webhook. Returns the new signing secret when one
    was made (the first time a URL is set), to be shown once; else None. Rows waiting in the outbox wait
    while there is no webhook and go out once there is one again."""
    if not permissions.is_admin(actor):
        raise NotAllowed(_l("Only administrators can change API keys."))
    if key.revoked_at is not None:
        raise DomainError(_l("This key was revoked: it has no webhook."), "webhook_url")
    url = check_webhook_url(url)
    now = now or utcnow()
    secret = None
    if url is not None and key.webhook_secret is None:
        secret = key.webhook_secret = new_secret()
        key.webhook_secret_set_at = now
    changed = url != key.webhook_url
    key.webhook_url = url
    db.session.flush()
    if changed or secret:
        record(actor, "open311_key.webhook_set" if url else "open311_key.webhook_removed", key, prefix=key.prefix,
               webhook_url=url)
    return secret


def rotate_secret(actor: User, key: Open311Key, *, now: datetime | None = None) -> str:
    """A new signing secret, in force at once (the next delivery is signed with it); returned to be shown once."""
    if not permissions.is_admin(actor):
        raise NotAllowed(_l("Only administrators can change API keys."))
    if key.revoked_at is not None:
        raise DomainError(_l("This key was revoked: it has no webhook."))
    key.webhook_secret = new_secret()
    key.webhook_secret_set_at = now or utcnow()
    db.session.flush()
    record(actor, "open311_key.webhook_secret_rotated", key, prefix=key.prefix)
    return key.webhook_secret


# --- the outbox ----------------------------------------------------------------------------------------------

def record_change(issue: Issue, event: str, *, now: datetime, public_text: str | None = "") -> Open311Delivery | None:
    """Write the delivery telling the integration that created `issue` of this change, in the caller's
    transaction; None when the issue did not come through Open311 or its integration has no webhook."""
    found = db.session.execute(db.select(Open311Request.key_id, Open311Key.webhook_url)
                               .join(Open311Key, Open311Key.id == Open311Request.key_id)
                               .where(Open311Request.issue_id == issue.id)).first()
    if found is None or not found.webhook_url:
        return None
    last = db.session.scalar(db.select(func.max(Open311Delivery.sequence))
                             .where(Open311Delivery.issue_id == issue.id)) or 0
    community = issue.community
    zone = ZoneInfo(community.time_zone)
    delivery_id = str(uuid.uuid4())
    text = (public_text or "").strip()[:PUBLIC_TEXT_MAX]
    payload = {
        "delivery_id": delivery_id,
        "event": event,
        "service_request_id": str(issue.id),
        "jurisdiction_id": community.slug,
        "sequence": last + 1,
        "status": "open" if issue.status in OPEN_STATES else "closed",
        "occurred_at": now.astimezone(zone).isoformat(timespec="seconds"),
        "public_text": text,
    }
    delivery = Open311Delivery(delivery_id=delivery_id, key_id=found.key_id, issue_id=issue.id,
                               sequence=last + 1, event=event[:32], status="pending", payload=payload,
                               occurred_at=now, created_at=now, attempts=0)
    db.session.add(delivery)
    db.session.flush()
    return delivery


def pending_counts(keys: Iterable[Open311Key]) -> dict[int, int]:
    """Deliveries waiting per integration (one statement for the whole keys page)."""
    ids = [k.id for k in keys]
    if not ids:
        return {}
    rows = db.session.execute(db.select(Open311Delivery.key_id, func.count()).where(
        Open311Delivery.key_id.in_(ids), Open311Delivery.status == "pending").group_by(Open311Delivery.key_id))
    return dict(rows.all())
