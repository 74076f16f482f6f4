"""What the privacy area keeps: requests to delete an account, prepared copies of a person's data, and each
consent given or withdrawn (with the notice version and the time)."""
from sqlalchemy import CheckConstraint, Index, text

from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

CONSENT_PURPOSES = ("privacy_notice", "email_digest")
EXPORT_STATES = ("pending", "ready", "removed")
OPEN_DELETION = "cancelled_at IS NULL AND carried_out_at IS NULL"


class DeletionRequest(db.Model):
    """A person's request to delete their account. It waits out the cooling-off period (`due_at`), during
    which it can be cancelled; then run-due anonymizes the account. A request taken at the counter by a
    committee member or an admin is carried out at once (`requested_by_id` is who took it)."""

    __tablename__ = "deletion_request"
    __table_args__ = (
        # One open request per person.
        Index("uq_deletion_request_open", "user_id", unique=True,
              sqlite_where=text(OPEN_DELETION), postgresql_where=text(OPEN_DELETION)),
        Index("ix_deletion_request_due", "due_at",
              sqlite_where=text(OPEN_DELETION), postgresql_where=text(OPEN_DELETION)),
    )

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    requested_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    due_at = db.Column(UTCDateTime, nullable=False)
    requested_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))  # at the counter; NULL: the person
    cancelled_at = db.Column(UTCDateTime)
    carried_out_at = db.Column(UTCDateTime)

    user = db.relationship("User", foreign_keys=[user_id])
    requested_by = db.relationship("User", foreign_keys=[requested_by_id])

    @property
    def is_open(self) -> bool:
        return self.cancelled_at is None and self.carried_out_at is None


class DataExport(db.Model):
    """A ZIP of everything about one person (JSON plus their photos), stored as UPLOAD_DIR/exports/<key>.zip,
    offered until `expires_at`, then removed by run-due."""

    __tablename__ = "data_export"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'ready', 'removed')", name="status"),
        Index("ix_data_export_status", "status", "expires_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    status = db.Column(db.String(8), nullable=False, default="pending")
    key = db.Column(db.String(64), nullable=False, unique=True)
    size = db.Column(db.Integer)
    requested_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    ready_at = db.Column(UTCDateTime)
    expires_at = db.Column(UTCDateTime, nullable=False)
    removed_at = db.Column(UTCDateTime)

    user = db.relationship("User")


class ConsentRecord(db.Model):
    """One consent given or withdrawn: to a version of the privacy notice, or to optional processing
    (e-mail digests). Rows are never changed; the latest per person and purpose holds."""

    __tablename__ = "consent_record"
    __table_args__ = (
        CheckConstraint("purpose IN ('privacy_notice', 'email_digest')", name="purpose"),
        Index("ix_consent_record_user_purpose", "user_id", "purpose", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    purpose = db.Column(db.String(16), nullable=False)
    version = db.Column(db.String(16))  # the notice version, for purpose privacy_notice
    given = db.Column(db.Boolean, nullable=False)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)
