"""The append-only audit log: every state change, who did it, and for whom."""
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entry"

    id = db.Column(db.Integer, primary_key=True)
    actor_id = db.Column(db.Integer, db.ForeignKey("user.id"), index=True)
    on_behalf_of_id = db.Column(db.Integer, db.ForeignKey("user.id"), index=True)
    action = db.Column(db.String(64), nullable=False, index=True)
    object_type = db.Column(db.String(40), index=True)
    object_id = db.Column(db.Integer, index=True)
    # The person whose record this entry touches, so they can see who looked at or changed it.
    subject_user_id = db.Column(db.Integer, db.ForeignKey("user.id"), index=True)
    details = db.Column(db.JSON, nullable=False, default=dict)
    # The request that made the change (X-Request-ID, also in the JSON request log); empty outside requests.
    request_id = db.Column(db.String(64), index=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow, index=True)

    actor = db.relationship("User", foreign_keys=[actor_id])
    on_behalf_of = db.relationship("User", foreign_keys=[on_behalf_of_id])
    subject_user = db.relationship("User", foreign_keys=[subject_user_id])
