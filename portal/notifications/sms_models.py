"""What text messages keep: a person's choice per SMS group, the SMS outbox (one row per message, written in
the transaction of the notification it carries) and the one-time sign-in codes (only their digests)."""
from sqlalchemy import CheckConstraint, UniqueConstraint

from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

# What became of an SMS row: "pending" (not decided yet, or waiting: backoff, quiet hours, a lease),
# "sent" (the provider accepted it), "failed" (refused for good, or five permanent refusals), "skipped" (not
# for SMS: the group off, no mobile number, not the person's own issue), "capped" (over the daily or monthly
# cap), "expired" (could not go while it still meant something).
SMS_STATUSES = ("pending", "sent", "failed", "skipped", "capped", "expired")


class SmsPreference(db.Model):
    """A person's choice for one SMS group; no row means on (every SMS group is on by default)."""

    __tablename__ = "sms_preference"
    __table_args__ = (UniqueConstraint("user_id", "group"),)

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    group = db.Column(db.String(32), nullable=False)
    enabled = db.Column(db.Boolean, nullable=False)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class SmsMessage(db.Model):
    """One text message to send: for a notification (`notification_id`) or a one-time code (`kind` "code",
    whose parameters are wiped once it is sent or given up)."""

    __tablename__ = "sms_message"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed', 'skipped', 'capped', 'expired')",
                        name="status"),
        CheckConstraint("kind IN ('notification', 'code')", name="kind"),
        db.Index("ix_sms_message_due", "status", "next_attempt_at"),
        db.Index("ix_sms_message_sent", "status", "sent_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(16), nullable=False, default="notification")
    notification_id = db.Column(db.Integer, db.ForeignKey("notification.id", ondelete="CASCADE"), unique=True)
    recipient_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    group = db.Column(db.String(32), nullable=False)
    # Code messages only (a notification's parameters are made from it when it is sent).
    params = db.Column(db.JSON)
    urgent = db.Column(db.Boolean, nullable=False, default=False)
    status = db.Column(db.String(8), nullable=False, default="pending", server_default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    rejections = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    next_attempt_at = db.Column(UTCDateTime)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = db.Column(UTCDateTime)
    phone = db.Column(db.String(16))  # the number it went to (masked in pages)
    provider_id = db.Column(db.String(64))  # the provider's id for the message (BizId / SerialNo)
    last_error = db.Column(db.String(500))

    notification = db.relationship("Notification")
    recipient = db.relationship("User")


class SmsCode(db.Model):
    """A one-time sign-in code asked for a mobile number. A row is written for every request, whether or not
    the number has an account (user_id NULL then), so the two cases take the same path."""

    __tablename__ = "sms_code"

    id = db.Column(db.Integer, primary_key=True)
    phone = db.Column(db.String(16), nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    code_digest = db.Column(db.String(64), nullable=False)  # HMAC-SHA256 of the code with the secret key
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = db.Column(UTCDateTime, nullable=False)
    tries = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    used_at = db.Column(UTCDateTime)
