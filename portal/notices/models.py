"""Public notices (公示) of decided proposals, and residents' objections with the committee's answers.

A notice starts when a proposal is decided (the ballot's result); it runs for the community's notice period
(default 7 days). After the period, and only when every objection has a public answer, a passed proposal
moves to implementing and a rejected one is archived."""
from sqlalchemy import CheckConstraint, UniqueConstraint

from portal import versions
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db


class Notice(db.Model):
    __tablename__ = "public_notice"
    __table_args__ = (
        CheckConstraint("outcome IN ('passed', 'rejected')", name="outcome"),
        CheckConstraint("status IN ('open', 'ended')", name="status"),
        CheckConstraint("ends_at > starts_at", name="period"),
        db.Index("ix_public_notice_status_ends", "status", "ends_at"),
        # The notice board: a community's open or ended notices, the ended ones latest first, a page at a time.
        db.Index("ix_public_notice_board", "community_id", "status", "starts_at", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id"), nullable=False, index=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"))
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"))  # the committee answering
    outcome = db.Column(db.String(8), nullable=False)
    statement = db.Column(db.Text, nullable=False)  # the decision in words, with the vote figures
    how_to_object = db.Column(db.Text, nullable=False)
    starts_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    ends_at = db.Column(UTCDateTime, nullable=False)
    status = db.Column(db.String(8), nullable=False, default="open")
    ended_at = db.Column(UTCDateTime)  # the proposal moved on (implementing / archived)

    proposal = db.relationship("Proposal")
    community = db.relationship("Community")
    ballot = db.relationship("Ballot")
    organization = db.relationship("Organization")
    objections = db.relationship("Objection", back_populates="notice", order_by="Objection.id")


class Objection(db.Model):
    __tablename__ = "notice_objection"
    __table_args__ = (UniqueConstraint("notice_id", "user_id"),)  # once each

    id = db.Column(db.Integer, primary_key=True)
    notice_id = db.Column(db.Integer, db.ForeignKey("public_notice.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    answer = db.Column(db.Text)
    answered_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    answered_at = db.Column(UTCDateTime)

    notice = db.relationship("Notice", back_populates="objections")
    user = db.relationship("User", foreign_keys=[user_id])
    answered_by = db.relationship("User", foreign_keys=[answered_by_id])


# The notice board keeps its rendered pages between requests (portal.versions): notices and their objections.
versions.track("public_notice")
versions.track("notice_objection", community_of=versions.through("notice_id", "public_notice"))
