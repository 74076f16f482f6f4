"""What e-mail delivery keeps about people (their choices per group, their last digest, an address that bounces)."""
from sqlalchemy import CheckConstraint, UniqueConstraint

from portal.clock import UTCDateTime, utcnow
from portal.extensions import db
from portal.outbox import EMAIL_STATUSES, Notification  # noqa: F401  (the outbox row, kept below the areas)

# How a person wants a group of events by e-mail.
MODES = ("now", "digest", "off")


class NotificationPreference(db.Model):
    """A person's choice for one group of events; no row means the group's default (preferences.DEFAULTS)."""

    __tablename__ = "notification_preference"
    __table_args__ = (
        UniqueConstraint("user_id", "group"),
        CheckConstraint("mode IN ('now', 'digest', 'off')", name="mode"),
    )

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    group = db.Column(db.String(32), nullable=False)
    mode = db.Column(db.String(8), nullable=False)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class MailboxState(db.Model):
    """Per person: when the last daily digest went, and the address the mail server refused for good (shown
    on their account page while it is still their address)."""

    __tablename__ = "notification_mailbox"

    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), primary_key=True)
    last_digest_on = db.Column(db.Date)  # the person's local date of the last digest
    last_digest_at = db.Column(UTCDateTime)
    bounced_address = db.Column(db.String(254))
    bounced_reply = db.Column(db.String(500))
    bounced_at = db.Column(UTCDateTime)
