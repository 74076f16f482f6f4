"""What insight keeps: monthly issue counts (the forecasts' history, kept exact where issues are written),
each month's forecasts per community × category with the expected rises among them, grids' buildings and
grid workers' patrol rounds."""
from sqlalchemy import CheckConstraint, Index, UniqueConstraint

from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

# An issue counts as found proactively (未诉先办) when it was filed from a patrol or from checking an expected
# rise; one a resident had reported first is merged into the resident's as a duplicate and counts nowhere.
PROACTIVE_SOURCES = ("patrol", "forecast")
METHODS = ("glm", "trend", "mean")


class IssueMonthCount(db.Model):
    """Non-duplicate issues of one community × category × local month of submission (month = year × 12 +
    month − 1 in the community's zone, as the dashboard's rollups), and how many of them were proactive.
    Kept exact by portal.insight.rollup in the same transaction as every change of an issue."""

    __tablename__ = "issue_month_count"

    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), primary_key=True)
    category_id = db.Column(db.Integer, db.ForeignKey("issue_category.id"), primary_key=True)
    month = db.Column(db.Integer, primary_key=True, autoincrement=False)
    issues = db.Column(db.Integer, nullable=False, default=0)
    proactive = db.Column(db.Integer, nullable=False, default=0)


class ForecastRun(db.Model):
    """One community's forecasts for one month were computed (the run-due step's mark: once per month)."""

    __tablename__ = "forecast_run"

    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), primary_key=True)
    month = db.Column(db.Integer, primary_key=True, autoincrement=False)
    computed_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    series = db.Column(db.Integer, nullable=False, default=0)
    rises = db.Column(db.Integer, nullable=False, default=0)


class Forecast(db.Model):
    """The expected issues of a community × category in a month, computed at the month's start from the
    months before it, with what a reader needs to see why: the last month's count, the mean of the three
    months before, the month's seasonal factor and the yearly trend (percent), and whether it is a rise."""

    __tablename__ = "forecast"
    __table_args__ = (
        UniqueConstraint("community_id", "category_id", "month"),
        CheckConstraint("method IN ('glm', 'trend', 'mean')", name="method"),
        CheckConstraint("expected >= 0 AND last_month >= 0 AND recent >= 0", name="counts"),
        Index("ix_forecast_community_month", "community_id", "month"),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    category_id = db.Column(db.Integer, db.ForeignKey("issue_category.id"), nullable=False)
    month = db.Column(db.Integer, nullable=False)
    expected = db.Column(db.Numeric(9, 1), nullable=False)
    last_month = db.Column(db.Integer, nullable=False)
    recent = db.Column(db.Numeric(9, 1), nullable=False)  # mean of the 3 months before
    method = db.Column(db.String(8), nullable=False)
    season_pct = db.Column(db.Integer)  # this month of the year against the yearly average, percent (glm)
    trend_pct = db.Column(db.Integer)  # change a year, percent (glm, trend)
    rise = db.Column(db.Boolean, nullable=False, default=False)
    action_id = db.Column(db.Integer, db.ForeignKey("action.id"), index=True)  # the proactive action taken
    computed_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    community = db.relationship("Community")
    category = db.relationship("IssueCategory")
    action = db.relationship("Action")


class GridBuilding(db.Model):
    """A building in a grid (网格, an organization of kind "grid"), which its grid workers patrol."""

    __tablename__ = "grid_building"

    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"), primary_key=True)
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"), primary_key=True)

    building = db.relationship("Building")


class PatrolRound(db.Model):
    """One entry of a grid worker's patrol log (巡查): when, where, what was checked, and the issue filed
    when something was found."""

    __tablename__ = "patrol_round"
    __table_args__ = (Index("ix_patrol_round_community_at", "community_id", "at"),)

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    grid_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False, index=True)
    worker_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"))
    place = db.Column(db.String(120), nullable=False, default="")
    checked = db.Column(db.String(1000), nullable=False)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), index=True)
    forecast_id = db.Column(db.Integer, db.ForeignKey("forecast.id"))  # the expected rise this round checked

    grid = db.relationship("Organization")
    worker = db.relationship("User")
    building = db.relationship("Building")
    issue = db.relationship("Issue")
    forecast = db.relationship("Forecast")


# --- the month's problem (每月一题) and programmes (专项) -------------------------------------------------------

PROGRAMME_STATES = ("open", "achieved", "missed", "closed")


class TopicRun(db.Model):
    """A sub-district's topics of one month were computed (the run-due step's mark: once per month)."""

    __tablename__ = "topic_run"

    sub_district_id = db.Column(db.Integer, db.ForeignKey("sub_district.id"), primary_key=True)
    month = db.Column(db.Integer, primary_key=True, autoincrement=False)
    computed_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    issues = db.Column(db.Integer, nullable=False, default=0)
    topics = db.Column(db.Integer, nullable=False, default=0)


class Topic(db.Model):
    """Issues of one month of a sub-district that say the same thing (portal.insight.topics), across its
    communities and categories: the top words of the group, the issue nearest its centre, how many issues,
    which communities, the commonest category's code, and the counts of the six months to this one."""

    __tablename__ = "topic"
    __table_args__ = (
        CheckConstraint("issues >= 0", name="issues"),
        Index("ix_topic_sub_district_month", "sub_district_id", "month"),
    )

    id = db.Column(db.Integer, primary_key=True)
    sub_district_id = db.Column(db.Integer, db.ForeignKey("sub_district.id"), nullable=False)
    month = db.Column(db.Integer, nullable=False)
    words = db.Column(db.String(200), nullable=False)  # the top words, space-separated, strongest first
    representative_id = db.Column(db.Integer, db.ForeignKey("issue.id"), nullable=False)
    issues = db.Column(db.Integer, nullable=False)
    community_ids = db.Column(db.JSON, nullable=False, default=list)
    category_code = db.Column(db.String(32))
    trend = db.Column(db.JSON, nullable=False, default=list)  # six monthly counts, oldest first, this month last

    representative = db.relationship("Issue")

    @property
    def word_list(self) -> list[str]:
        return self.words.split()


class TopicIssue(db.Model):
    """An issue of a topic's month grouped into that topic."""

    __tablename__ = "topic_issue"

    topic_id = db.Column(db.Integer, db.ForeignKey("topic.id"), primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), primary_key=True, index=True)


class MonthProblem(db.Model):
    """The month's problem (每月一题) officials picked among a month's topics: one per sub-district and month,
    changeable (each change audited)."""

    __tablename__ = "month_problem"

    sub_district_id = db.Column(db.Integer, db.ForeignKey("sub_district.id"), primary_key=True)
    month = db.Column(db.Integer, primary_key=True, autoincrement=False)
    topic_id = db.Column(db.Integer, db.ForeignKey("topic.id"), nullable=False)
    chosen_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    chosen_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    topic = db.relationship("Topic")
    chosen_by = db.relationship("User")


class Programme(db.Model):
    """A programme (专项): a named target on the issues matching a rule (category code and/or words) in some
    communities of a sub-district — e.g. cut them from a baseline of 40 a month to 20 by a target month —
    and the actions that serve it (Action.programme_id). Status open → achieved | missed (settled after the
    target month) | closed (stopped by officials)."""

    __tablename__ = "programme"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'achieved', 'missed', 'closed')", name="status"),
        CheckConstraint("baseline >= 0 AND target >= 0 AND target_month > start_month", name="target"),
        CheckConstraint("category_code IS NOT NULL OR words != ''", name="rule"),
        Index("ix_programme_sub_district_status", "sub_district_id", "status"),
    )

    id = db.Column(db.Integer, primary_key=True)
    sub_district_id = db.Column(db.Integer, db.ForeignKey("sub_district.id"), nullable=False)
    topic_id = db.Column(db.Integer, db.ForeignKey("topic.id"), index=True)  # the topic it was opened from
    name = db.Column(db.String(120), nullable=False)
    category_code = db.Column(db.String(32))
    words = db.Column(db.String(200), nullable=False, default="")  # any of these words, space-separated
    baseline = db.Column(db.Integer, nullable=False)
    target = db.Column(db.Integer, nullable=False)
    start_month = db.Column(db.Integer, nullable=False)
    target_month = db.Column(db.Integer, nullable=False)
    status = db.Column(db.String(10), nullable=False, default="open")
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    settled_at = db.Column(UTCDateTime)

    sub_district = db.relationship("SubDistrict")
    topic = db.relationship("Topic")
    created_by = db.relationship("User")
    communities = db.relationship("Community", secondary="programme_community", order_by="Community.name")

    @property
    def word_list(self) -> list[str]:
        return self.words.split()


class ProgrammeCommunity(db.Model):
    __tablename__ = "programme_community"

    programme_id = db.Column(db.Integer, db.ForeignKey("programme.id"), primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), primary_key=True)
