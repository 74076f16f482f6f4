"""The notification outbox: one row per recipient and event, written with the change it reports; and what
e-mail delivery keeps about people (their choices per group, their last digest, an address that bounces)."""
from sqlalchemy import CheckConstraint, UniqueConstraint

from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

# What became of a row's e-mail: "pending" (not decided yet, or waiting for its next attempt), "digest"
# (waits for the person's daily digest), "sent" (the SMTP server accepted it), "failed" (refused for good),
# "skipped" (no e-mail for it: no address, the group is off, or an in-app-only row from before delivery).
EMAIL_STATUSES = ("pending", "digest", "sent", "failed", "skipped")
# How a person wants a group of events by e-mail.
MODES = ("now", "digest", "off")


class Notification(db.Model):
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint("email_status IN ('pending', 'digest', 'sent', 'failed', 'skipped')", name="email_status"),
        # The sender's question: which rows are due now?
        db.Index("ix_notification_email_due", "email_status", "next_attempt_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    recipient_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    event = db.Column(db.String(64), nullable=False)
    object_type = db.Column(db.String(40))
    object_id = db.Column(db.Integer)
    # What the message needs to be rendered later, in the recipient's language (never rendered text).
    payload = db.Column(db.JSON, nullable=False, default=dict)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    read_at = db.Column(UTCDateTime)
    emailed_at = db.Column(UTCDateTime)
    # E-mail delivery (portal.notifications.sender). next_attempt_at: not before then (a retry's backoff, the
    # end of quiet hours, the digest hour, or a sender's lease while it is sending); NULL: at once.
    email_status = db.Column(db.String(8), nullable=False, default="pending", server_default="pending")
    email_attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    email_rejections = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    next_attempt_at = db.Column(UTCDateTime)
    last_error = db.Column(db.String(500))

    recipient = db.relationship("User")


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
