"""The notification outbox: one row per recipient and event, written with the change it reports."""
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db


class Notification(db.Model):
    __tablename__ = "notification"

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

    recipient = db.relationship("User")
