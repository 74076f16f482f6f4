"""What the dashboard keeps beside the issues so that its figures do not recount every issue on each view.

`IssueRollup` holds, per community × category × handling organization × local month of submission, the
counts the three rates are made of (and the ratings removed by appeals and the hotline work orders resolved
on time). It is kept exact by portal.dashboard.rollups in the same transaction
as every change of an issue; `rebuild_rollups()` recomputes it from the issues (backfill, bench loaders).

The one part of a rate that moves with the clock rather than with a row — issues whose respond-by time has
passed without a response — is counted live from the few unresponded issues (`ix_issue_unresponded`).
"""
from sqlalchemy import Index, text

from portal.extensions import db
from portal.issues.models import Issue

# The rate parts a rollup row counts, in this order everywhere (services, migration, tests).
COUNTS = ("issues", "responded", "responded_in_time", "resolved_yes", "resolution_rated", "satisfied",
          "satisfaction_rated")
# The other figures of the period a rollup row counts: ratings an upheld appeal removed, and the hotline work
# orders resolved — on time by the resolve-by before any extension, on time by the (extended) resolve-by,
# extended (the dashboard's setting WORK_ORDER_EXTENSION_ON_TIME picks which "on time" it shows).
WORK_COUNTS = ("appeal_removed", "hotline_resolved", "hotline_on_time", "hotline_on_time_extended",
               "hotline_extended")
ALL_COUNTS = COUNTS + WORK_COUNTS


class IssueRollup(db.Model):
    """Counts of the non-duplicate issues of one community, category, handling organization and local month.

    org_key is the handling organization's id, 0 when none is assigned (0 keeps the primary key free of
    NULLs, so the same upsert works on SQLite and PostgreSQL; hence no foreign key). month is
    year × 12 + (month − 1) of the submission instant in the community's time zone."""

    __tablename__ = "issue_rollup"

    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), primary_key=True)
    category_id = db.Column(db.Integer, db.ForeignKey("issue_category.id"), primary_key=True)
    org_key = db.Column(db.Integer, primary_key=True, autoincrement=False)
    month = db.Column(db.Integer, primary_key=True, autoincrement=False)
    issues = db.Column(db.Integer, nullable=False, default=0)
    responded = db.Column(db.Integer, nullable=False, default=0)  # first_response_at set
    responded_in_time = db.Column(db.Integer, nullable=False, default=0)  # … and ≤ respond_by
    resolved_yes = db.Column(db.Integer, nullable=False, default=0)  # rating_resolved true
    resolution_rated = db.Column(db.Integer, nullable=False, default=0)  # rating_resolved set
    satisfied = db.Column(db.Integer, nullable=False, default=0)  # satisfied or basically satisfied
    satisfaction_rated = db.Column(db.Integer, nullable=False, default=0)  # rating_satisfaction set
    appeal_removed = db.Column(db.Integer, nullable=False, default=0)  # rating_excluded
    hotline_resolved = db.Column(db.Integer, nullable=False, default=0)  # source hotline, resolved_at set
    hotline_on_time = db.Column(db.Integer, nullable=False, default=0)  # … ≤ original_resolve_by or resolve_by
    hotline_on_time_extended = db.Column(db.Integer, nullable=False, default=0)  # … ≤ resolve_by
    hotline_extended = db.Column(db.Integer, nullable=False, default=0)  # … original_resolve_by set


class IssueBuildingRollup(db.Model):
    """Non-duplicate issues with a building, per community × building × category × handling organization
    (org_key as in IssueRollup) × local month of submission: what the hotspots count, kept exact with
    IssueRollup by portal.dashboard.rollups."""

    __tablename__ = "issue_building_rollup"

    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), primary_key=True)
    month = db.Column(db.Integer, primary_key=True, autoincrement=False)
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"), primary_key=True)
    category_id = db.Column(db.Integer, db.ForeignKey("issue_category.id"), primary_key=True)
    org_key = db.Column(db.Integer, primary_key=True, autoincrement=False)
    issues = db.Column(db.Integer, nullable=False, default=0)


class IssueDuration(db.Model):
    """Each non-duplicate issue's whole seconds from submission to first response and to resolution (each
    timestamp truncated to the second, NULL while not reached), with the keys the dashboard filters on
    (as in IssueRollup). The exact medians sort these integers instead of reading and converting four
    timestamps of every issue of the period."""

    __tablename__ = "issue_duration"
    __table_args__ = (
        Index("ix_issue_duration_period", "community_id", "month",
              postgresql_include=["category_id", "org_key", "first_response_s", "resolution_s"]),
    )

    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True,
                         autoincrement=False)
    community_id = db.Column(db.Integer, nullable=False)
    category_id = db.Column(db.Integer, nullable=False)
    org_key = db.Column(db.Integer, nullable=False)
    month = db.Column(db.Integer, nullable=False)
    first_response_s = db.Column(db.BigInteger)
    resolution_s = db.Column(db.BigInteger)


UNRESPONDED_WHERE = "first_response_at IS NULL"

# Issues still waiting for a first response, by community and submission time: the live part of the
# response rate's denominator reads only these.
Index("ix_issue_unresponded", Issue.community_id, Issue.submitted_at,
      postgresql_include=["respond_by", "status", "category_id", "handling_org_id"],
      postgresql_where=text(UNRESPONDED_WHERE), sqlite_where=text(UNRESPONDED_WHERE))
