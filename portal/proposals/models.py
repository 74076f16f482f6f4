"""Proposals (议题), their supports, versions, attachments, timeline, and consultation comments.

Lifecycle (DESIGN §3, 民提 → 民议 → 民决 → 民办 → 民评): draft → collecting (N supports within D days) →
deliberation (comments with a stance; moderated) → voting → decided (outcome passed / rejected) → notice →
implementing → evaluated, plus withdrawn (by the author, with a reason) and archived (the support window
ended, or a rejected proposal after its notice)."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Index, UniqueConstraint

from portal import versions
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

STATES = ("draft", "collecting", "deliberation", "voting", "decided", "notice", "implementing", "evaluated",
          "withdrawn", "archived")
# The steps of the step bar, in order; withdrawn and archived end the walk wherever it stood.
STEPS = ("draft", "collecting", "deliberation", "voting", "decided", "notice", "implementing", "evaluated")
PUBLIC_STATES = STATES[1:]  # everything past draft is public (DESIGN §2)
EDITABLE_STATES = ("draft", "collecting", "deliberation")
STATE_LABELS = {
    "draft": _l("Draft"),
    "collecting": _l("Collecting supports"),
    "deliberation": _l("In consultation"),
    "voting": _l("Voting"),
    "decided": _l("Decided"),
    "notice": _l("Public notice"),
    "implementing": _l("Being carried out"),
    "evaluated": _l("Evaluated"),
    "withdrawn": _l("Withdrawn"),
    "archived": _l("Archived"),
}
OUTCOME_LABELS = {"passed": _l("Passed"), "rejected": _l("Rejected")}

CATEGORIES = ("facilities", "lift", "parking", "environment", "safety", "maintenance_fund", "rules", "activities",
              "other")
CATEGORY_LABELS = {
    "facilities": _l("Facilities and renovation"),
    "lift": _l("Lifts"),
    "parking": _l("Parking and traffic"),
    "environment": _l("Environment and greenery"),
    "safety": _l("Safety"),
    "maintenance_fund": _l("Maintenance fund and fees"),
    "rules": _l("Community rules"),
    "activities": _l("Activities and services"),
    "other": _l("Other"),
}

WITHDRAW_REASONS = ("duplicate", "already_done", "no_longer_needed", "other")
WITHDRAW_REASON_LABELS = {
    "duplicate": _l("Duplicate of another proposal"),
    "already_done": _l("Already done"),
    "no_longer_needed": _l("No longer needed"),
    "other": _l("Other"),
}

STANCES = ("for", "against", "neutral")
STANCE_LABELS = {"for": _l("For"), "against": _l("Against"), "neutral": _l("Neutral")}

TITLE_MAX = 120
SUMMARY_MAX = 500
BODY_MAX = 20000
COMMENT_MAX = 2000
REASON_MAX = 1000
SUMMARY_TEXT_MAX = 4000
MAX_ATTACHMENTS = 6

DEFAULT_SUPPORT_THRESHOLD = 10
DEFAULT_SUPPORT_DAYS = 30

# Moderation states shared by every item that can be flagged (proposals, comments, issues, issue updates):
# NULL visible; "pending" hidden by three flags until a moderator reviews it; "hidden" by a moderator, with
# a reason shown in place of the text.
HIDDEN_STATES = ("pending", "hidden")


proposal_building = db.Table(
    "proposal_building",
    db.Column("proposal_id", db.Integer, db.ForeignKey("proposal.id", ondelete="CASCADE"), primary_key=True),
    db.Column("building_id", db.Integer, db.ForeignKey("building.id"), primary_key=True),
)


class Proposal(db.Model):
    __tablename__ = "proposal"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'collecting', 'deliberation', 'voting', 'decided', 'notice', "
                        "'implementing', 'evaluated', 'withdrawn', 'archived')", name="status"),
        CheckConstraint("outcome IS NULL OR outcome IN ('passed', 'rejected')", name="outcome"),
        CheckConstraint("withdrawn_reason IS NULL OR withdrawn_reason IN ('duplicate', 'already_done', "
                        "'no_longer_needed', 'other')", name="withdrawn_reason"),
        CheckConstraint("hidden_state IS NULL OR hidden_state IN ('pending', 'hidden')", name="hidden_state"),
        CheckConstraint("estimated_cost IS NULL OR estimated_cost >= 0", name="cost"),
        CheckConstraint("kind IN ('idea', 'project')", name="kind"),
        # The community list pages by (published_at, id) newest first and filters by status.
        Index("ix_proposal_community_published", "community_id", "published_at", "id"),
        Index("ix_proposal_community_status", "community_id", "status"),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    author_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    # A committee member who wrote it for the author at the counter (acting for them), else NULL.
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    source_issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), index=True)
    # "project": a budget round's project (portal.funds.rounds_models.BudgetProject); else an idea.
    kind = db.Column(db.String(8), nullable=False, default="idea", server_default="idea")

    title = db.Column(db.String(TITLE_MAX), nullable=False)
    summary = db.Column(db.String(SUMMARY_MAX), nullable=False, default="")
    body = db.Column(db.Text, nullable=False, default="")  # Markdown as written
    body_html = db.Column(db.Text, nullable=False, default="")  # rendered and sanitized (portal.markup)
    category = db.Column(db.String(24), nullable=False, default="other")
    whole_community = db.Column(db.Boolean, nullable=False, default=True)
    estimated_cost = db.Column(db.Numeric(12, 2))  # yuan
    version = db.Column(db.Integer, nullable=False, default=1)

    status = db.Column(db.String(16), nullable=False, default="draft")
    outcome = db.Column(db.String(8))
    withdrawn_reason = db.Column(db.String(24))
    withdrawn_note = db.Column(db.String(REASON_MAX))

    # Frozen when published, from the community's settings at that moment.
    support_threshold = db.Column(db.Integer)
    support_deadline = db.Column(UTCDateTime)
    support_count = db.Column(db.Integer, nullable=False, default=0)
    comment_count = db.Column(db.Integer, nullable=False, default=0)  # visible, undeleted comments
    # Changes (to another random number) with every like or unlike of one of its comments, in the same
    # transaction: the consultation page keeps its comments' like counts under it (proposals.views._likes).
    likes_version = db.Column(db.BigInteger, nullable=False, default=versions.new_version, server_default="0")

    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    published_at = db.Column(UTCDateTime)
    deliberation_at = db.Column(UTCDateTime)
    # A committee member closed the consultation: comments are read-only from then on.
    comments_closed_at = db.Column(UTCDateTime)
    # A moderator locked the whole discussion.
    locked_at = db.Column(UTCDateTime)
    ended_at = db.Column(UTCDateTime)  # withdrawn or archived

    # The consultation summary a moderator pins on top: the main arguments for and against.
    summary_for = db.Column(db.Text)
    summary_against = db.Column(db.Text)
    summary_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    summary_at = db.Column(UTCDateTime)

    hidden_state = db.Column(db.String(8))
    hidden_reason = db.Column(db.String(500))

    community = db.relationship("Community")
    author = db.relationship("User", foreign_keys=[author_id])
    created_by = db.relationship("User", foreign_keys=[created_by_id])
    summary_by = db.relationship("User", foreign_keys=[summary_by_id])
    source_issue = db.relationship("Issue")
    buildings = db.relationship("Building", secondary=proposal_building, order_by="Building.code")
    events = db.relationship("ProposalEvent", back_populates="proposal", order_by="ProposalEvent.id")
    attachments = db.relationship("ProposalAttachment", back_populates="proposal",
                                  order_by="ProposalAttachment.id")

    @property
    def status_label(self):
        return STATE_LABELS.get(self.status, self.status)

    @property
    def category_label(self):
        return CATEGORY_LABELS.get(self.category, self.category)

    @property
    def is_public(self) -> bool:
        return self.status != "draft"

    @property
    def consultation_open(self) -> bool:
        return self.status == "deliberation" and self.comments_closed_at is None and self.locked_at is None

    def __repr__(self):
        return f"<Proposal {self.id} {self.status}>"


class ProposalVersion(db.Model):
    """The text as it stood after each published edit (version 1 is the text as published)."""

    __tablename__ = "proposal_version"
    __table_args__ = (UniqueConstraint("proposal_id", "version"),)

    id = db.Column(db.Integer, primary_key=True)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id"), nullable=False)
    version = db.Column(db.Integer, nullable=False)
    title = db.Column(db.String(TITLE_MAX), nullable=False)
    summary = db.Column(db.String(SUMMARY_MAX), nullable=False)
    body = db.Column(db.Text, nullable=False)
    category = db.Column(db.String(24), nullable=False)
    estimated_cost = db.Column(db.Numeric(12, 2))
    building_ids = db.Column(db.JSON, nullable=False, default=list)  # [] means the whole community
    note = db.Column(db.String(REASON_MAX))  # what changed, in the editor's words
    edited_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    edited_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    edited_by = db.relationship("User")


class ProposalEvent(db.Model):
    """One step on a proposal's timeline: state changes (with the reason when one is required), edits,
    the threshold reached, the summary written, moderation."""

    __tablename__ = "proposal_event"

    id = db.Column(db.Integer, primary_key=True)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id"), nullable=False, index=True)
    kind = db.Column(db.String(24), nullable=False)
    from_state = db.Column(db.String(16))
    to_state = db.Column(db.String(16))
    actor_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    on_behalf_of_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    body = db.Column(db.Text)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    details = db.Column(db.JSON, nullable=False, default=dict)

    proposal = db.relationship("Proposal", back_populates="events")
    actor = db.relationship("User", foreign_keys=[actor_id])
    on_behalf_of = db.relationship("User", foreign_keys=[on_behalf_of_id])


class ProposalSupport(db.Model):
    """One support per verified resident per proposal, enforced here as well as in the service."""

    __tablename__ = "proposal_support"
    __table_args__ = (UniqueConstraint("proposal_id", "user_id"),)

    id = db.Column(db.Integer, primary_key=True)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class ProposalAttachment(db.Model):
    """An image (re-encoded like issue photos, stored as `<key>-1600.jpg` and `<key>-400.jpg`) or a PDF
    (checked by content, stored as `<key>.pdf`) under UPLOAD_DIR/proposals/."""

    __tablename__ = "proposal_attachment"
    __table_args__ = (CheckConstraint("kind IN ('image', 'pdf')", name="kind"),)

    id = db.Column(db.Integer, primary_key=True)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id"), nullable=False, index=True)
    key = db.Column(db.String(64), nullable=False, unique=True)
    kind = db.Column(db.String(8), nullable=False)
    filename = db.Column(db.String(120), nullable=False)  # shown to people, never used as a path
    size = db.Column(db.Integer, nullable=False)
    width = db.Column(db.Integer)
    height = db.Column(db.Integer)
    uploaded_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    proposal = db.relationship("Proposal", back_populates="attachments")


class Comment(db.Model):
    """A consultation comment with a stance. Replies are one level deep (parent is a top-level comment).
    A deleted comment keeps its row (body emptied, deleted_at set) so replies keep their place."""

    __tablename__ = "proposal_comment"
    __table_args__ = (
        CheckConstraint("stance IN ('for', 'against', 'neutral')", name="stance"),
        CheckConstraint("hidden_state IS NULL OR hidden_state IN ('pending', 'hidden')", name="hidden_state"),
        # A page of top-level comments in either order, then their replies.
        Index("ix_proposal_comment_thread", "proposal_id", "parent_id", "id"),
        Index("ix_proposal_comment_liked", "proposal_id", "parent_id", "like_count", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id"), nullable=False)
    parent_id = db.Column(db.Integer, db.ForeignKey("proposal_comment.id"))
    author_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))  # a member acting for the author
    stance = db.Column(db.String(8), nullable=False)
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    # Set by an edit after the silent-edit window: the page shows "edited"; revisions keep what it said.
    edited_at = db.Column(UTCDateTime)
    deleted_at = db.Column(UTCDateTime)
    like_count = db.Column(db.Integer, nullable=False, default=0)
    locked_at = db.Column(UTCDateTime)  # a moderator locked this thread: no more replies or edits
    hidden_state = db.Column(db.String(8))
    hidden_reason = db.Column(db.String(500))

    proposal = db.relationship("Proposal")
    parent = db.relationship("Comment", remote_side=[id])
    author = db.relationship("User", foreign_keys=[author_id])

    @property
    def stance_label(self):
        return STANCE_LABELS.get(self.stance, self.stance)

    def __repr__(self):
        return f"<Comment {self.id} {self.stance}>"


class CommentRevision(db.Model):
    """What a comment said before a visible edit (for moderators)."""

    __tablename__ = "proposal_comment_revision"

    id = db.Column(db.Integer, primary_key=True)
    comment_id = db.Column(db.Integer, db.ForeignKey("proposal_comment.id"), nullable=False, index=True)
    stance = db.Column(db.String(8), nullable=False)
    body = db.Column(db.Text, nullable=False)
    written_at = db.Column(UTCDateTime, nullable=False)  # when this text was written
    replaced_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class CommentLike(db.Model):
    __tablename__ = "proposal_comment_like"
    __table_args__ = (UniqueConstraint("comment_id", "user_id"),)

    id = db.Column(db.Integer, primary_key=True)
    comment_id = db.Column(db.Integer, db.ForeignKey("proposal_comment.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class ProposalTerm(db.Model):
    """The words and Chinese character pairs of a proposal's title and summary (portal.issues.similar.terms),
    for search by index instead of scanning every text."""

    __tablename__ = "proposal_term"
    __table_args__ = (
        UniqueConstraint("proposal_id", "term"),
        Index("ix_proposal_term_community_term", "community_id", "term"),
    )

    id = db.Column(db.Integer, primary_key=True)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id", ondelete="CASCADE"), nullable=False)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    term = db.Column(db.String(32), nullable=False)

# The proposal list keeps its rendered pages of proposals (with their stance tallies, from the comments),
# the calendar its ballots of proposals not hidden, a proposal's page its step dates (from its events) and
# stance tally, a proposal's page for residents and visitors, between requests (portal.versions). A comment's
# likes change nothing the community's version covers: the page keeps its comments' like counts under the
# proposal's likes_version, which a like changes instead.
versions.track("proposal", ignoring=("likes_version",))
versions.track("proposal_comment", community_of=versions.through("proposal_id", "proposal"),
               columns=("proposal_id", "parent_id", "stance", "body", "edited_at", "deleted_at", "hidden_state",
                        "hidden_reason", "locked_at"))
versions.track("proposal_event", community_of=versions.through("proposal_id", "proposal"))
versions.track("proposal_attachment", community_of=versions.through("proposal_id", "proposal"))
