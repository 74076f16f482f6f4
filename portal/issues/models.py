"""Issues, their categories and deadlines, supports ("me too"), timeline, photos and search terms.

Lifecycle (DESIGN §3): submitted → accepted → in_progress → resolved → closed, plus rejected, duplicate
(merged into another issue) and reopened (after a dissatisfied rating, once; back to the same handler)."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Index, UniqueConstraint, case, event, false, null, text

from portal import versions
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

STATES = ("submitted", "accepted", "in_progress", "resolved", "closed", "rejected", "duplicate", "reopened")
OPEN_STATES = ("submitted", "accepted", "in_progress", "reopened")
STATE_LABELS = {
    "submitted": _l("Submitted"),
    "accepted": _l("Accepted"),
    "in_progress": _l("In progress"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
    "rejected": _l("Rejected"),
    "duplicate": _l("Duplicate"),
    "reopened": _l("Reopened"),
}

# Deadline classes after the 12345 hotline practice: (respond within hours, resolve within hours).
DEADLINE_CLASSES = {
    "emergency": (2, 24),
    "utilities": (24, 24),
    "ordinary": (24, 7 * 24),
    "complex": (24, 15 * 24),
}
DEADLINE_CLASS_LABELS = {
    "emergency": _l("Emergency"),
    "utilities": _l("Utilities (water, power, gas, heating)"),
    "ordinary": _l("Ordinary"),
    "complex": _l("Complex"),
}

SATISFACTION = ("satisfied", "basically_satisfied", "dissatisfied")
SATISFACTION_LABELS = {
    "satisfied": _l("Satisfied"),
    "basically_satisfied": _l("Basically satisfied"),
    "dissatisfied": _l("Dissatisfied"),
}

# The work order (issue #20): why a receiver sends a hotline issue back, how the handler reached the caller
# for the closure report, what an extension or an appeal is waiting for.
SEND_BACK_REASONS = ("not_our_area", "wrong_address", "duplicate", "not_government", "other")
SEND_BACK_REASON_LABELS = {
    "not_our_area": _l("Not our area of responsibility"),
    "wrong_address": _l("Wrong address"),
    "duplicate": _l("Duplicate of another work order"),
    "not_government": _l("Not a matter for the government"),
    "other": _l("Other"),
}
CONTACT_METHODS = ("phone", "visit", "message")
CONTACT_METHOD_LABELS = {"phone": _l("By phone"), "visit": _l("In person"), "message": _l("By message")}
DECISION_STATES = ("pending", "approved", "refused")
APPEAL_STATES = ("pending", "upheld", "rejected")
RETURN_VISIT_ATTEMPTS = 3

MAX_PHOTOS = 6
TITLE_MAX = 120
DESCRIPTION_MAX = 4000


class IssueCategory(db.Model):
    """A community's kind of problem. `code` is stable: once an issue uses it, it never changes."""

    __tablename__ = "issue_category"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        CheckConstraint("respond_hours > 0 AND resolve_hours >= respond_hours", name="deadlines"),
        CheckConstraint("deadline_class IN ('emergency', 'utilities', 'ordinary', 'complex')", name="deadline_class"),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    code = db.Column(db.String(32), nullable=False)
    name = db.Column(db.String(80), nullable=False)
    deadline_class = db.Column(db.String(16), nullable=False, default="ordinary")
    respond_hours = db.Column(db.Integer, nullable=False)
    resolve_hours = db.Column(db.Integer, nullable=False)
    # Who receives new issues of this kind: the property company, the residents' committee, or a department.
    default_org_id = db.Column(db.Integer, db.ForeignKey("organization.id"))
    # The responsibility list (责任清单): why default_org is responsible (e.g. the regulation), public.
    basis = db.Column(db.String(1000))
    # Whistle-blowing (吹哨报到): minutes a summoned organization has to report in; NULL = 30 for an emergency
    # category, 24 hours otherwise (portal.issues.services.whistle).
    report_minutes = db.Column(db.Integer)
    is_active = db.Column(db.Boolean, nullable=False, default=True)
    # Words that point to this category (comma or space separated), edited by admins: the category
    # suggestion falls back to them while the community has too few categorized issues to learn from.
    keywords = db.Column(db.String(1000))

    community = db.relationship("Community")
    default_org = db.relationship("Organization")

    def __repr__(self):
        return f"<IssueCategory {self.code}>"


OPEN_WHERE = "status IN ('submitted', 'accepted', 'in_progress', 'reopened')"  # OPEN_STATES, as SQL
# What officials' dashboard reads of every issue in its range (portal.dashboard.services).
DASHBOARD_COLUMNS = ["status", "category_id", "handling_org_id", "building_id", "first_response_at", "respond_by",
                     "resolved_at", "rating_resolved", "rating_satisfaction"]


class Issue(db.Model):
    __tablename__ = "issue"
    __table_args__ = (
        CheckConstraint("status IN ('submitted', 'accepted', 'in_progress', 'resolved', 'closed', 'rejected', "
                        "'duplicate', 'reopened')", name="status"),
        CheckConstraint("reporter_id IS NOT NULL OR reporter_name IS NOT NULL", name="has_reporter"),
        CheckConstraint("rating_satisfaction IS NULL OR rating_satisfaction IN "
                        "('satisfied', 'basically_satisfied', 'dissatisfied')", name="satisfaction"),
        CheckConstraint("work_order_state IS NULL OR work_order_state IN ('sent_back', 'returned')",
                        name="work_order_state"),
        # The community list pages by (submitted_at, id) and filters by status. On PostgreSQL the index
        # also carries what the dashboard aggregates, so its figures come from an index-only scan.
        Index("ix_issue_community_submitted", "community_id", "submitted_at", "id",
              postgresql_include=DASHBOARD_COLUMNS),
        Index("ix_issue_community_status", "community_id", "status"),
        # Open (and overdue) issues per community, for the dashboard, without reading closed ones.
        Index("ix_issue_open", "community_id", postgresql_include=["first_response_at", "respond_by", "resolve_by"],
              postgresql_where=text(OPEN_WHERE), sqlite_where=text(OPEN_WHERE)),
        # "Most supported first" without sorting every issue of the community.
        Index("ix_issue_community_support", "community_id", "support_count", "id"),
        Index("ix_issue_handling_org_status", "handling_org_id", "status"),
        # "Due soonest" pages the open issues by their stored next deadline (NULL exactly when not open).
        Index("ix_issue_community_next_deadline", "community_id", "next_deadline", "id",
              postgresql_where=text("next_deadline IS NOT NULL"), sqlite_where=text("next_deadline IS NOT NULL")),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    category_id = db.Column(db.Integer, db.ForeignKey("issue_category.id"), nullable=False, index=True)
    title = db.Column(db.String(TITLE_MAX), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    # Where: a building of the community, optionally a unit, a free-text spot, a WGS-84 point.
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"), index=True)
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"))
    location_text = db.Column(db.String(120))
    latitude = db.Column(db.Numeric(9, 6))
    longitude = db.Column(db.Numeric(9, 6))
    # Who: a resident's account, or (from the city hotline) contact fields only handlers see.
    reporter_id = db.Column(db.Integer, db.ForeignKey("user.id"), index=True)
    reporter_name = db.Column(db.String(80))
    reporter_phone = db.Column(db.String(20))
    source = db.Column(db.String(16), nullable=False, default="portal")
    show_name = db.Column(db.Boolean, nullable=False, default=False)

    status = db.Column(db.String(16), nullable=False, default="submitted")
    # The organization accountable now (首接负责: the first receiver until another accepts a handover).
    handling_org_id = db.Column(db.Integer, db.ForeignKey("organization.id"))
    # A handover waiting for the receiving organization to accept it.
    handover_org_id = db.Column(db.Integer, db.ForeignKey("organization.id"))
    duplicate_of_id = db.Column(db.Integer, db.ForeignKey("issue.id"))

    submitted_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    respond_by = db.Column(UTCDateTime, nullable=False)
    resolve_by = db.Column(UTCDateTime, nullable=False)
    first_response_at = db.Column(UTCDateTime)
    resolved_at = db.Column(UTCDateTime)
    closed_at = db.Column(UTCDateTime)
    # What next_deadline(issue) gives, stored so "due soonest" reads an index instead of computing it for
    # every issue of the community. Kept on every ORM write by _keep_next_deadline below; a bulk UPDATE of
    # status, first_response_at, respond_by or resolve_by must set it too (services.rebuild_next_deadlines).
    next_deadline = db.Column(UTCDateTime)
    # Deadline warnings sent so far (0 none, 1 at 75 %, 2 at the deadline), so run-due warns once.
    respond_warned = db.Column(db.SmallInteger, nullable=False, default=0)
    resolve_warned = db.Column(db.SmallInteger, nullable=False, default=0)
    reopen_count = db.Column(db.SmallInteger, nullable=False, default=0)
    support_count = db.Column(db.Integer, nullable=False, default=0)

    # The reporter's answer after resolution: the three rates of DESIGN §4 are computed from these.
    rated_at = db.Column(UTCDateTime)
    rating_resolved = db.Column(db.Boolean)
    rating_satisfaction = db.Column(db.String(24))
    rating_comment = db.Column(db.String(500))

    # Moderation (portal.moderation): NULL visible, "pending" hidden by flags, "hidden" by a moderator.
    hidden_state = db.Column(db.String(8))
    hidden_reason = db.Column(db.String(500))

    # The 12345 work order (a hotline issue, portal.issues.services.workorder): when the receiving
    # organization signed for it (签收, its response), whether it was sent back (退单: "sent_back" waits for
    # the sub-district office, "returned" went back to the hotline) with the reason from SEND_BACK_REASONS,
    # the resolve-by time before the first approved extension (延期), and whether an upheld appeal (核减)
    # removed its rating from the resolution and satisfaction rates.
    signed_at = db.Column(UTCDateTime)
    work_order_state = db.Column(db.String(16))
    send_back_reason = db.Column(db.String(24))
    original_resolve_by = db.Column(UTCDateTime)
    rating_excluded = db.Column(db.Boolean, nullable=False, default=False, server_default=false())

    community = db.relationship("Community")
    category = db.relationship("IssueCategory")
    building = db.relationship("Building")
    household = db.relationship("Household")
    reporter = db.relationship("User", foreign_keys=[reporter_id])
    handling_org = db.relationship("Organization", foreign_keys=[handling_org_id])
    handover_org = db.relationship("Organization", foreign_keys=[handover_org_id])
    duplicate_of = db.relationship("Issue", remote_side=[id])
    events = db.relationship("IssueEvent", back_populates="issue", order_by="IssueEvent.id")
    photos = db.relationship("IssuePhoto", back_populates="issue", order_by="IssuePhoto.id")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def status_label(self):
        return STATE_LABELS.get(self.status, self.status)

    def __repr__(self):
        return f"<Issue {self.id} {self.status}>"


def next_deadline(issue):
    """The deadline that matters now: respond-by until someone responded, then resolve-by; None once the
    issue is no longer open."""
    if issue.status not in OPEN_STATES:
        return None
    return issue.respond_by if issue.first_response_at is None else issue.resolve_by


def next_deadline_sql():
    """next_deadline() as an SQL expression over the issue table, for bulk rebuilds."""
    return case((Issue.status.not_in(OPEN_STATES), null()),
                (Issue.first_response_at.is_(None), Issue.respond_by), else_=Issue.resolve_by)


@event.listens_for(Issue, "before_insert")
@event.listens_for(Issue, "before_update")
def _keep_next_deadline(mapper, connection, issue):
    # Every ORM write of an issue goes through here, whichever area or step made it, so the stored
    # column cannot drift from the columns it is computed from.
    if issue.status is None:
        issue.status = "submitted"  # the column's default, which would only be applied after this
    issue.next_deadline = next_deadline(issue)


class IssueSupport(db.Model):
    """"Me too": one per person per issue, enforced here as well as in the service."""

    __tablename__ = "issue_support"
    __table_args__ = (UniqueConstraint("issue_id", "user_id"),)

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class IssueEvent(db.Model):
    """One step on an issue's timeline: who, when, what. Public entries are what the reporter and the
    public see; internal notes between handlers are not public."""

    __tablename__ = "issue_event"

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False, index=True)
    kind = db.Column(db.String(24), nullable=False)
    actor_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    on_behalf_of_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"))
    body = db.Column(db.Text)
    is_public = db.Column(db.Boolean, nullable=False, default=True)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    details = db.Column(db.JSON, nullable=False, default=dict)
    hidden_state = db.Column(db.String(8))  # moderation of public updates, as on Issue
    hidden_reason = db.Column(db.String(500))

    issue = db.relationship("Issue", back_populates="events")
    actor = db.relationship("User", foreign_keys=[actor_id])
    on_behalf_of = db.relationship("User", foreign_keys=[on_behalf_of_id])
    organization = db.relationship("Organization")
    photos = db.relationship("IssuePhoto", back_populates="event", order_by="IssuePhoto.id")


class IssuePhoto(db.Model):
    """A re-encoded photo (metadata stripped) stored as `<key>-1600.jpg` and `<key>-400.jpg` under
    UPLOAD_DIR/issues/. The uploaded bytes themselves are never kept or served."""

    __tablename__ = "issue_photo"

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False, index=True)
    event_id = db.Column(db.Integer, db.ForeignKey("issue_event.id"))
    uploaded_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    key = db.Column(db.String(64), nullable=False, unique=True)
    width = db.Column(db.Integer, nullable=False)
    height = db.Column(db.Integer, nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    issue = db.relationship("Issue", back_populates="photos")
    event = db.relationship("IssueEvent", back_populates="photos")


class IssueTerm(db.Model):
    """The words of an open issue's title (portal.words), each with its weight in that title (BM25's term
    frequency part), for "similar issues" lookups by index instead of scanning every title."""

    __tablename__ = "issue_term"
    __table_args__ = (
        UniqueConstraint("issue_id", "term"),
        Index("ix_issue_term_community_term", "community_id", "term"),
    )

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    term = db.Column(db.String(32), nullable=False)
    weight = db.Column(db.Float, nullable=False, default=1.0, server_default=text("1.0"))


class IssueTermCount(db.Model):
    """How many open issues of a community hold a term (the document frequency that weighs rare words
    above common ones), kept up to date by portal.issues.similar.index_issue in the same transaction. The
    row whose term is "" counts the community's indexed issues themselves."""

    __tablename__ = "issue_term_count"

    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), primary_key=True)
    term = db.Column(db.String(32), primary_key=True)
    issues = db.Column(db.Integer, nullable=False, default=0)


class CategoryModel(db.Model):
    """A community's learned category suggester (portal.issues.services.suggest): the fitted model as
    joblib bytes and the figures of its training. `stale` is set when handlers re-categorize an issue; the
    next run-due retrains it. `method` is "model", or "keywords" while too few categorized issues exist."""

    __tablename__ = "category_model"
    __table_args__ = (CheckConstraint("method IN ('model', 'keywords')", name="method"),)

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, unique=True)
    method = db.Column(db.String(16), nullable=False, default="keywords")
    model = db.Column(db.LargeBinary)
    examples = db.Column(db.Integer, nullable=False, default=0)  # categorized issues it learned from
    categories = db.Column(db.Integer, nullable=False, default=0)  # categories with enough examples
    accuracy = db.Column(db.Float)  # top-1 on a held-out fifth, when there were enough examples
    trained_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    stale = db.Column(db.Boolean, nullable=False, default=False)


class IssueExtension(db.Model):
    """A handler's request for more time (延期) on a hotline issue, and the sub-district office's decision.
    An approved one moved the issue's resolve-by from `previous_resolve_by` to `proposed_resolve_by`."""

    __tablename__ = "issue_extension"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'refused')", name="status"),
    )

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"))
    requested_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    requested_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    reason = db.Column(db.String(1000), nullable=False)
    previous_resolve_by = db.Column(UTCDateTime, nullable=False)
    proposed_resolve_by = db.Column(UTCDateTime, nullable=False)
    status = db.Column(db.String(16), nullable=False, default="pending")
    decided_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    decided_at = db.Column(UTCDateTime)
    decision_reason = db.Column(db.String(1000))

    issue = db.relationship("Issue")
    organization = db.relationship("Organization")


class ReturnVisitAttempt(db.Model):
    """One call of the return visit (回访) to a hotline issue's caller by sub-district staff: reached or not;
    when reached, the caller's answers, which are the issue's rating."""

    __tablename__ = "return_visit_attempt"
    __table_args__ = (
        CheckConstraint("satisfaction IS NULL OR satisfaction IN ('satisfied', 'basically_satisfied', "
                        "'dissatisfied')", name="satisfaction"),
    )

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False, index=True)
    visitor_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    # Which resolution of the issue this visit is about (a reopened and resolved again issue is visited again).
    resolved_at = db.Column(UTCDateTime, nullable=False)
    contacted = db.Column(db.Boolean, nullable=False)
    solved = db.Column(db.Boolean)
    satisfaction = db.Column(db.String(24))
    words = db.Column(db.String(500))

    visitor = db.relationship("User")


class IssueAppeal(db.Model):
    """The handling organization's appeal (申诉/核减) against a dissatisfied or unsolved rating, and the
    sub-district office's decision: upheld takes the rating out of the resolution and satisfaction rates."""

    __tablename__ = "issue_appeal"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'upheld', 'rejected')", name="status"),
    )

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"))
    appealed_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    appealed_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    evidence = db.Column(db.Text, nullable=False)
    status = db.Column(db.String(16), nullable=False, default="pending")
    decided_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    decided_at = db.Column(UTCDateTime)
    decision_reason = db.Column(db.String(1000))

    issue = db.relationship("Issue")
    organization = db.relationship("Organization")


class IssueSummons(db.Model):
    """Whistle-blowing (吹哨报到): the sub-district office summons an organization to an issue with a time to
    report by; the organization reports in (报到) naming who comes and what it will do (by when)."""

    __tablename__ = "issue_summons"

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False, index=True)
    summoned_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    summoned_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    report_by = db.Column(UTCDateTime, nullable=False)
    reason = db.Column(db.String(1000), nullable=False)
    reported_at = db.Column(UTCDateTime)
    reported_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    attendee = db.Column(db.String(200))
    action = db.Column(db.String(1000))
    action_due = db.Column(UTCDateTime)
    # When the late warning went out (report-by passed with no report): the step warns each summons once.
    late_warned_at = db.Column(UTCDateTime)

    issue = db.relationship("Issue")
    organization = db.relationship("Organization")

    def is_late(self, now) -> bool:
        """Reported after report-by, or not reported and report-by has passed."""
        return (self.reported_at or now) > self.report_by


# The issue list keeps its filters' kinds of problem and its rendered pages of rows between requests, the
# dashboard its figures (portal.versions).
versions.track("issue_category")
versions.track("issue")
versions.track("issue_summons", community_of=versions.through("issue_id", "issue"))
versions.track("issue_photo", community_of=versions.through("issue_id", "issue"))
versions.track("issue_event", community_of=versions.through("issue_id", "issue"))
