"""Open311 GeoReport v2 integrations: API keys issued by admins, the requests they created, their usage.

A key's secret is shown once, when it is issued; only its SHA-256 is kept (the token is 32 random bytes,
so a plain hash is as strong as a slow one). The short `prefix` names the key in lists and logs.

An integration may also have a webhook: the portal tells it of each state change of the work orders it
created (Open311Delivery, an outbox sent by portal.open311.webhooks). Its signing secret must be kept as it is
(an HMAC needs the secret itself, not a hash of it); it is shown once, when set or rotated, and never again.
Anyone who can read the database can read it, as with the mail server's password: rotate it after a leak."""
import re

from sqlalchemy import CheckConstraint, Index, UniqueConstraint

from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

DEFAULT_RATE_LIMIT = 60  # POSTs per key per minute
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def caller_name(first_name: str | None, last_name: str | None) -> str:
    """A caller's name as it is written: a Chinese name in Chinese order, the family name (GeoReport's
    last_name) first and no space (first_name 测试, last_name 王 → 王测试); a name in Latin letters in the order
    its script uses, given name first, with a space (first_name John, last_name Smith → John Smith)."""
    first, last = (first_name or "").strip(), (last_name or "").strip()
    if CJK.search(first + last):
        return last + first
    return " ".join(p for p in (first, last) if p)

open311_key_community = db.Table(
    "open311_key_community",
    db.Column("key_id", db.Integer, db.ForeignKey("open311_key.id"), primary_key=True),
    db.Column("community_id", db.Integer, db.ForeignKey("community.id"), primary_key=True),
)


class Open311Key(db.Model):
    """One integration (e.g. "12345 hotline, Xicheng district") and the communities it may report into."""

    __tablename__ = "open311_key"
    __table_args__ = (CheckConstraint("rate_limit > 0", name="rate_limit_positive"),)

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    prefix = db.Column(db.String(12), nullable=False)
    key_hash = db.Column(db.String(64), nullable=False, unique=True)
    # Host names whose media_url is fetched and stored as a photo; any other media_url stays a link.
    media_hosts = db.Column(db.JSON, nullable=False, default=list)
    rate_limit = db.Column(db.Integer, nullable=False, default=DEFAULT_RATE_LIMIT)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at = db.Column(UTCDateTime)
    revoked_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    last_used_at = db.Column(UTCDateTime)
    # The webhook (optional): where state changes are POSTed, the HMAC secret, and the sender's last news.
    webhook_url = db.Column(db.String(2048))
    webhook_secret = db.Column(db.String(100))
    webhook_secret_set_at = db.Column(UTCDateTime)
    webhook_last_success_at = db.Column(UTCDateTime)
    webhook_failures = db.Column(db.Integer, nullable=False, default=0, server_default="0")  # since the last success
    webhook_last_error = db.Column(db.String(500))
    webhook_last_error_at = db.Column(UTCDateTime)

    created_by = db.relationship("User", foreign_keys=[created_by_id])
    revoked_by = db.relationship("User", foreign_keys=[revoked_by_id])
    communities = db.relationship("Community", secondary=open311_key_community, order_by="Community.name")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self):
        return f"<Open311Key {self.prefix} {self.name!r}>"


class Open311Request(db.Model):
    """What an integration sent with an issue it created: the caller's contact (handlers only) and the
    original media_url. The issue itself is an ordinary Issue (source "hotline")."""

    __tablename__ = "open311_request"

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False, unique=True)
    key_id = db.Column(db.Integer, db.ForeignKey("open311_key.id"), nullable=False, index=True)
    email = db.Column(db.String(254))
    first_name = db.Column(db.String(40))
    last_name = db.Column(db.String(40))
    phone = db.Column(db.String(20))
    media_url = db.Column(db.String(2048))
    # Whether media_url was fetched and stored as the issue's photo (else it is kept as a link only).
    media_stored = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    attributes = db.Column(db.JSON, nullable=False, default=dict)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    issue = db.relationship("Issue")
    key = db.relationship("Open311Key")

    @property
    def caller_name(self) -> str:
        return caller_name(self.first_name, self.last_name)


class Open311Usage(db.Model):
    """One authenticated call of the API: the key's usage record, and what the database rate limit counts."""

    __tablename__ = "open311_usage"
    __table_args__ = (Index("ix_open311_usage_key_method_at", "key_id", "method", "at"),)

    id = db.Column(db.Integer, primary_key=True)
    key_id = db.Column(db.Integer, db.ForeignKey("open311_key.id"), nullable=False)
    method = db.Column(db.String(8), nullable=False)
    endpoint = db.Column(db.String(40), nullable=False)
    status = db.Column(db.SmallInteger, nullable=False)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)


DELIVERY_STATES = ("pending", "delivered")


class Open311Delivery(db.Model):
    """One state change of a work order to tell the integration that created it (the webhook's outbox).
    Written in the transaction that made the change; `sequence` numbers the changes of one request (1, 2, …),
    and a later one is sent only after every earlier one was delivered. `delivery_id` is the idempotency key
    the receiver sees as X-Yishi-Delivery (the same on every retry)."""

    __tablename__ = "open311_delivery"
    __table_args__ = (
        UniqueConstraint("issue_id", "sequence"),
        CheckConstraint("status IN ('pending', 'delivered')", name="status"),
        Index("ix_open311_delivery_status_key", "status", "key_id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    delivery_id = db.Column(db.String(36), nullable=False, unique=True)
    key_id = db.Column(db.Integer, db.ForeignKey("open311_key.id"), nullable=False)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False)
    sequence = db.Column(db.Integer, nullable=False)
    event = db.Column(db.String(32), nullable=False)
    status = db.Column(db.String(16), nullable=False, default="pending")
    payload = db.Column(db.JSON, nullable=False)
    occurred_at = db.Column(UTCDateTime, nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(UTCDateTime)
    delivered_at = db.Column(UTCDateTime)
    last_error = db.Column(db.String(500))

    key = db.relationship("Open311Key")
