"""Flags on public content: proposals, consultation comments, neighbourhood issues and their public
updates. Each flaggable model carries `hidden_state` (NULL visible, "pending" hidden by three flags until
reviewed, "hidden" by a moderator) and `hidden_reason` (shown in place of the text)."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Index, UniqueConstraint

from portal import versions
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

ITEM_TYPES = ("proposal", "comment", "issue", "issue_update")
FLAG_REASONS = ("spam", "offensive", "personal_info", "off_topic")
FLAG_REASON_LABELS = {
    "spam": _l("Spam or advertising"),
    "offensive": _l("Offensive or abusive"),
    "personal_info": _l("Personal information (names, phones, addresses)"),
    "off_topic": _l("Off topic"),
}
HIDE_AFTER_FLAGS = 3  # open flags from different people that hide an item pending review


class Flag(db.Model):
    __tablename__ = "moderation_flag"
    __table_args__ = (
        UniqueConstraint("item_type", "item_id", "user_id"),
        CheckConstraint("item_type IN ('proposal', 'comment', 'issue', 'issue_update')", name="item_type"),
        CheckConstraint("reason IN ('spam', 'offensive', 'personal_info', 'off_topic')", name="reason"),
        CheckConstraint("resolution IS NULL OR resolution IN ('restored', 'hidden')", name="resolution"),
        # The queue: a community's open flags, newest first.
        Index("ix_moderation_flag_queue", "community_id", "resolved_at", "created_at"),
        Index("ix_moderation_flag_item", "item_type", "item_id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    item_type = db.Column(db.String(16), nullable=False)
    item_id = db.Column(db.Integer, nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    reason = db.Column(db.String(16), nullable=False)
    note = db.Column(db.String(500))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    resolved_at = db.Column(UTCDateTime)
    resolved_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    resolution = db.Column(db.String(8))

    user = db.relationship("User", foreign_keys=[user_id])
    resolved_by = db.relationship("User", foreign_keys=[resolved_by_id])


# Who reported what is kept per person under the community's version (moderation_reported): a new or
# withdrawn flag changes it; deciding on flags does not.
versions.track("moderation_flag", columns=("item_type", "item_id", "user_id"))
