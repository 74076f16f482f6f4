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


class PushSubscription(db.Model):
    """A browser a person subscribed to Web Push (RFC 8030): where its push service takes messages for it and
    the keys that encrypt them for that browser alone (RFC 8291). `browser` and `system` are coarse names read
    from the user agent when it subscribed ("Chromium", "Android"); the user agent itself is not kept."""

    __tablename__ = "push_subscription"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    endpoint = db.Column(db.String(1000), nullable=False, unique=True)
    p256dh = db.Column(db.String(120), nullable=False)  # the browser's P-256 public key, base64url
    auth = db.Column(db.String(60), nullable=False)     # its 16-byte authentication secret, base64url
    browser = db.Column(db.String(20), nullable=False, default="", server_default="")
    system = db.Column(db.String(20), nullable=False, default="", server_default="")
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    last_success_at = db.Column(UTCDateTime)
    last_failure_at = db.Column(UTCDateTime)
    last_error = db.Column(db.String(200))

    user = db.relationship("User")


# What became of a push message: "pending" (waiting for its first or next attempt), "sent" (the push service
# accepted it), "failed" (refused for good). A browser whose subscription is gone takes its messages with it.
PUSH_STATUSES = ("pending", "sent", "failed")


class PushMessage(db.Model):
    """The push outbox: one row per notification and subscribed browser, written with the notification."""

    __tablename__ = "push_message"
    __table_args__ = (
        UniqueConstraint("notification_id", "subscription_id"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        db.Index("ix_push_message_due", "status", "next_attempt_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    notification_id = db.Column(db.Integer, db.ForeignKey("notification.id", ondelete="CASCADE"), nullable=False)
    subscription_id = db.Column(db.Integer, db.ForeignKey("push_subscription.id", ondelete="CASCADE"),
                                nullable=False, index=True)
    status = db.Column(db.String(8), nullable=False, default="pending", server_default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    rejections = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    # Not before then: a retry's backoff, the end of quiet hours, or a sender's lease; NULL: at once.
    next_attempt_at = db.Column(UTCDateTime)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = db.Column(UTCDateTime)
    last_error = db.Column(db.String(200))

    notification = db.relationship("Notification")
    subscription = db.relationship("PushSubscription")
