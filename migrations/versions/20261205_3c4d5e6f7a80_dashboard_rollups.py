"""dashboard rollups: issue counts per community × category × organization × local month and each issue's
durations in whole seconds, backfilled; an index of unresponded issues

Revision ID: 3c4d5e6f7a80
Revises: 1a2b3c4d5e60
Create Date: 2026-12-05 19:30:00

"""
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '3c4d5e6f7a80'
down_revision = '1a2b3c4d5e60'
branch_labels = None
depends_on = None

COUNTS = ("issues", "responded", "responded_in_time", "resolved_yes", "resolution_rated", "satisfied",
          "satisfaction_rated")
SATISFIED = ("satisfied", "basically_satisfied")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
UNRESPONDED_WHERE = "first_response_at IS NULL"


def upgrade():
    rollup = op.create_table(
        "issue_rollup",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("org_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
        sa.ForeignKeyConstraint(["category_id"], ["issue_category.id"],
                                name=op.f("fk_issue_rollup_category_id_issue_category")),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"],
                                name=op.f("fk_issue_rollup_community_id_community")),
        sa.PrimaryKeyConstraint("community_id", "category_id", "org_key", "month", name=op.f("pk_issue_rollup")),
    )
    duration = op.create_table(
        "issue_duration",
        sa.Column("issue_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("org_key", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("first_response_s", sa.BigInteger(), nullable=True),
        sa.Column("resolution_s", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"], name=op.f("fk_issue_duration_issue_id_issue"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_issue_duration")),
    )
    op.create_index("ix_issue_duration_period", "issue_duration", ["community_id", "month"],
                    postgresql_include=["category_id", "org_key", "first_response_s", "resolution_s"])
    op.create_index("ix_issue_unresponded", "issue", ["community_id", "submitted_at"],
                    postgresql_include=["respond_by", "status", "category_id", "handling_org_id"],
                    postgresql_where=sa.text(UNRESPONDED_WHERE), sqlite_where=sa.text(UNRESPONDED_WHERE))
    _backfill(rollup, duration)


def _seconds(start, end):
    """Whole seconds, each timestamp truncated to the second first."""
    if end is None:
        return None
    return (end - EPOCH) // SECOND - (start - EPOCH) // SECOND


def _backfill(rollup, duration):
    """The same counts as portal.dashboard.rollups.contribution, written out here so that the migration
    keeps meaning what it meant when the models change."""
    conn = op.get_bind()
    issue = sa.table("issue", *[sa.column(c) for c in (
        "id", "resolved_at", "community_id", "category_id", "handling_org_id", "status", "submitted_at", "first_response_at",
        "respond_by", "rating_resolved", "rating_satisfaction")])
    community = sa.table("community", sa.column("id"), sa.column("time_zone"))
    zones = {cid: ZoneInfo(tz or "Asia/Shanghai") for cid, tz in conn.execute(sa.select(community.c.id,
                                                                                        community.c.time_zone))}
    totals = defaultdict(lambda: [0] * len(COUNTS))
    durations = []
    rows = conn.execute(sa.select(issue).where(issue.c.status != "duplicate")).all()
    for row in rows:
        submitted, first, respond_by = (_aware(row.submitted_at), _aware(row.first_response_at),
                                        _aware(row.respond_by))
        local = submitted.astimezone(zones[row.community_id])
        key = (row.community_id, row.category_id, row.handling_org_id or 0, local.year * 12 + local.month - 1)
        resolved = None if row.rating_resolved is None else bool(row.rating_resolved)
        values = (1, int(first is not None), int(first is not None and first <= respond_by), int(resolved is True),
                  int(resolved is not None), int(row.rating_satisfaction in SATISFIED),
                  int(row.rating_satisfaction is not None))
        total = totals[key]
        for i, v in enumerate(values):
            total[i] += v
        durations.append(dict(issue_id=row.id, community_id=key[0], category_id=key[1], org_key=key[2],
                              month=key[3], first_response_s=_seconds(submitted, first),
                              resolution_s=_seconds(submitted, _aware(row.resolved_at))))
    if durations:
        op.bulk_insert(duration, durations)
    if totals:
        op.bulk_insert(rollup, [dict(community_id=k[0], category_id=k[1], org_key=k[2], month=k[3],
                                     **dict(zip(COUNTS, v))) for k, v in sorted(totals.items())])


def _aware(value):
    """Timestamps come back naive on SQLite (stored as UTC) and aware on PostgreSQL."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def downgrade():
    op.drop_index("ix_issue_unresponded", table_name="issue", postgresql_where=sa.text(UNRESPONDED_WHERE),
                  sqlite_where=sa.text(UNRESPONDED_WHERE))
    op.drop_index("ix_issue_duration_period", table_name="issue_duration")
    op.drop_table("issue_duration")
    op.drop_table("issue_rollup")
