"""Open311 GeoReport v2 integrations: API keys issued by admins, the requests they created, their usage.

A key's secret is shown once, when it is issued; only its SHA-256 is kept (the token is 32 random bytes,
so a plain hash is as strong as a slow one). The short `prefix` names the key in lists and logs."""
from sqlalchemy import CheckConstraint, Index

from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

DEFAULT_RATE_LIMIT = 60  # POSTs per key per minute

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
