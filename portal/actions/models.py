"""Agreed actions (落实事项): what was agreed, who does it, by when, and proof it was done.

An action comes from a passed proposal (after its notice), a meeting decision, a resolved issue that needs
follow-up work, or an official's hotspot; it links back to its source. Status planned → in_progress → done |
blocked; "overdue" is derived (past the due date, in the community's zone, and not done), never stored.
Sub-actions split an action into steps: the parent's progress is the average of its children unless set by
hand, and its status follows them: once a step has started (or is done) a planned action is in progress.
After done, residents rate the result for 14 days; then the source proposal becomes evaluated.

Volunteers: verified residents sign up to help with an action (and may withdraw); each chooses whether their
name is shown. The action keeps the running count of its current volunteers (volunteer_count), so the
tracker shows it without counting rows.

Whistle-blowing (吹哨报到): the sub-district office summons organizations to an action (ActionSummons); each
reports in naming who comes and what it will do, and a commitment with a date becomes a sub-action of the
action whose responsible organization is the reporting one (ActionSummons.sub_action). A whistle-blown ISSUE
gets a joint-handling action (joint_issue_id, one per issue, source "issue" though the issue is not resolved:
it is the record of the joint handling, not follow-up work) whose sub-actions are the commitments of the
issue's report-ins (issue_summons_id, one per report-in).

Chases (督办): an official's formal reminder on an overdue issue or action to the responsible organization,
with a note and a new date; shown on the item's timeline and counted per organization on the dashboard."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Index, UniqueConstraint

from portal import versions
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

STATES = ("planned", "in_progress", "done", "blocked")
STATE_LABELS = {"planned": _l("Planned"), "in_progress": _l("In progress"), "done": _l("Done"),
                "blocked": _l("Blocked")}
SOURCES = ("proposal", "decision", "issue", "hotspot", "forecast", "programme", "budget")
RATING_DAYS = 14


class Action(db.Model):
    __tablename__ = "action"
    __table_args__ = (
        CheckConstraint("status IN ('planned', 'in_progress', 'done', 'blocked')", name="status"),
        CheckConstraint("source IN ('proposal', 'decision', 'issue', 'hotspot', 'forecast', 'programme', "
                        "'budget')",
                        name="source"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress"),
        CheckConstraint("budget IS NULL OR budget >= 0", name="budget"),
        CheckConstraint("status != 'blocked' OR blocked_reason IS NOT NULL", name="blocked_reason"),
        Index("ix_action_community_status", "community_id", "status"),
        Index("ix_action_org_status_due", "responsible_org_id", "status", "due_date"),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    parent_id = db.Column(db.Integer, db.ForeignKey("action.id"), index=True)  # a sub-action's action
    title = db.Column(db.String(200), nullable=False)  # what
    description = db.Column(db.Text, nullable=False, default="")
    # Where it came from: exactly the column of its source is set (hotspot: building + issue category + month;
    # forecast, an expected rise acted on before the complaints come: issue category + month).
    source = db.Column(db.String(16), nullable=False)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id"), index=True)
    decision_id = db.Column(db.Integer, db.ForeignKey("meeting_decision.id"), index=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), index=True)
    hotspot_building_id = db.Column(db.Integer, db.ForeignKey("building.id"))
    hotspot_category_id = db.Column(db.Integer, db.ForeignKey("issue_category.id"))
    hotspot_month = db.Column(db.String(7))  # "2026-11"
    # The joint handling of a whistle-blown issue (its issue_id too): at most one action per issue.
    joint_issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), unique=True)
    # A sub-action filed from an issue's report-in (报到) with a date: at most one per report-in.
    issue_summons_id = db.Column(db.Integer, db.ForeignKey("issue_summons.id"), unique=True)
    # The programme (专项, insight) the action serves: set for one created from it (source "programme") and
    # for an existing action of any source linked to it; at most one programme per action.
    programme_id = db.Column(db.Integer, db.ForeignKey("programme.id"), index=True)

    responsible_org_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False)
    owner_id = db.Column(db.Integer, db.ForeignKey("user.id"), index=True)  # the person who carries it out
    due_date = db.Column(db.Date, nullable=False)  # in the community's zone; overdue the day after
    budget = db.Column(db.Numeric(12, 2))  # yuan
    funding_source = db.Column(db.String(120))  # e.g. the maintenance fund

    status = db.Column(db.String(16), nullable=False, default="planned")
    progress = db.Column(db.SmallInteger, nullable=False, default=0)  # percent
    progress_set_by_hand = db.Column(db.Boolean, nullable=False, default=False)
    blocked_reason = db.Column(db.String(1000))
    unblock_by = db.Column(db.String(200))  # who must unblock it
    completion_note = db.Column(db.Text)
    # Current volunteers (ActionVolunteer rows not withdrawn), kept up to date by the services.
    volunteer_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")

    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    started_at = db.Column(UTCDateTime)
    done_at = db.Column(UTCDateTime)
    evaluated_at = db.Column(UTCDateTime)  # the rating window closed (done_at + 14 days)

    community = db.relationship("Community")
    parent = db.relationship("Action", remote_side=[id], back_populates="children")
    children = db.relationship("Action", back_populates="parent", order_by="Action.id")
    proposal = db.relationship("Proposal")
    decision = db.relationship("Decision")
    issue = db.relationship("Issue", foreign_keys=[issue_id])
    hotspot_building = db.relationship("Building")
    hotspot_category = db.relationship("IssueCategory")
    responsible_org = db.relationship("Organization")
    owner = db.relationship("User", foreign_keys=[owner_id])
    created_by = db.relationship("User", foreign_keys=[created_by_id])
    updates = db.relationship("ActionUpdate", back_populates="action", order_by="ActionUpdate.id")
    evidence = db.relationship("ActionEvidence", back_populates="action", order_by="ActionEvidence.id")

    @property
    def status_label(self):
        return STATE_LABELS.get(self.status, self.status)


class ActionUpdate(db.Model):
    """One step on an action's timeline: created, a progress report, a status change, a chase."""

    __tablename__ = "action_update"

    id = db.Column(db.Integer, primary_key=True)
    action_id = db.Column(db.Integer, db.ForeignKey("action.id"), nullable=False, index=True)
    kind = db.Column(db.String(16), nullable=False)  # created, progress, started, blocked, unblocked, done, chase
    author_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    body = db.Column(db.Text, nullable=False, default="")
    percent = db.Column(db.SmallInteger)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    details = db.Column(db.JSON, nullable=False, default=dict)

    action = db.relationship("Action", back_populates="updates")
    author = db.relationship("User")
    evidence = db.relationship("ActionEvidence", back_populates="update", order_by="ActionEvidence.id")


class ActionEvidence(db.Model):
    """A photo (re-encoded like issue photos) or a PDF (checked like proposal attachments) under
    UPLOAD_DIR/actions/."""

    __tablename__ = "action_evidence"
    __table_args__ = (CheckConstraint("kind IN ('image', 'pdf')", name="kind"),)

    id = db.Column(db.Integer, primary_key=True)
    action_id = db.Column(db.Integer, db.ForeignKey("action.id"), nullable=False, index=True)
    update_id = db.Column(db.Integer, db.ForeignKey("action_update.id"))
    key = db.Column(db.String(64), nullable=False, unique=True)
    kind = db.Column(db.String(8), nullable=False)
    filename = db.Column(db.String(120), nullable=False)
    size = db.Column(db.Integer, nullable=False)
    width = db.Column(db.Integer)
    height = db.Column(db.Integer)
    uploaded_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    action = db.relationship("Action", back_populates="evidence")
    update = db.relationship("ActionUpdate", back_populates="evidence")


class ActionRating(db.Model):
    """A resident's rating of a done action: one each, changeable while the rating window is open."""

    __tablename__ = "action_rating"
    __table_args__ = (
        UniqueConstraint("action_id", "user_id"),
        CheckConstraint("satisfaction IN ('satisfied', 'basically_satisfied', 'dissatisfied')", name="satisfaction"),
    )

    id = db.Column(db.Integer, primary_key=True)
    action_id = db.Column(db.Integer, db.ForeignKey("action.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    satisfaction = db.Column(db.String(24), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class ActionVolunteer(db.Model):
    """A resident's sign-up to help with an action: one row per person and action; withdrawing sets
    withdrawn_at (the row stays), signing up again clears it."""

    __tablename__ = "action_volunteer"
    __table_args__ = (UniqueConstraint("action_id", "user_id"),)

    id = db.Column(db.Integer, primary_key=True)
    action_id = db.Column(db.Integer, db.ForeignKey("action.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    show_name = db.Column(db.Boolean, nullable=False, default=True)  # the volunteer's choice
    signed_up_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    withdrawn_at = db.Column(UTCDateTime)

    user = db.relationship("User")


class Chase(db.Model):
    """督办: an official's formal chase of an overdue issue or action."""

    __tablename__ = "chase"
    __table_args__ = (
        CheckConstraint("item_type IN ('issue', 'action')", name="item_type"),
        Index("ix_chase_item", "item_type", "item_id"),
        Index("ix_chase_org_created", "organization_id", "created_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    item_type = db.Column(db.String(8), nullable=False)
    item_id = db.Column(db.Integer, nullable=False)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False)  # chased
    official_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    note = db.Column(db.Text, nullable=False)
    new_due = db.Column(UTCDateTime, nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    organization = db.relationship("Organization")
    official = db.relationship("User")


class ActionSummons(db.Model):
    """Whistle-blowing on an agreed action (吹哨报到): the sub-district office summons an organization with a
    time to report by; the organization reports in (报到) naming who comes and what it will do (by when); a
    commitment with a date is filed as a sub-action (sub_action_id, one per report-in)."""

    __tablename__ = "action_summons"

    id = db.Column(db.Integer, primary_key=True)
    action_id = db.Column(db.Integer, db.ForeignKey("action.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False, index=True)
    summoned_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    summoned_at = db.Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    report_by = db.Column(UTCDateTime, nullable=False)
    reason = db.Column(db.String(1000), nullable=False)
    reported_at = db.Column(UTCDateTime)
    reported_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    attendee = db.Column(db.String(200))
    will_do = db.Column(db.String(1000))
    will_do_due = db.Column(UTCDateTime)
    # When the late warning went out (report-by passed with no report): the step warns each summons once.
    late_warned_at = db.Column(UTCDateTime)
    sub_action_id = db.Column(db.Integer, db.ForeignKey("action.id"), unique=True)

    action = db.relationship("Action", foreign_keys=[action_id])
    organization = db.relationship("Organization")
    sub_action = db.relationship("Action", foreign_keys=[sub_action_id])

    def is_late(self, now) -> bool:
        """Reported after report-by, or not reported and report-by has passed."""
        return (self.reported_at or now) > self.report_by


# The tracker keeps its rendered pages of actions and its figures between requests, the dashboard its figures
# of actions, chases and report-ins (portal.versions).
versions.track("action")
versions.track("chase")
versions.track("action_summons", community_of=versions.through("action_id", "action"))
