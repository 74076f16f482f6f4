"""dashboard building rollups: issue counts per community × local month × building × category ×
organization, for the hotspots; backfilled

Revision ID: c3f4a5b6d7e8
Revises: c3d4e5f6a7b8
Create Date: 2026-12-06 06:30:00

"""
from collections import defaultdict
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'c3f4a5b6d7e8'
down_revision = 'c3d4e5f6a7b8'
branch_labels = None
depends_on = None


def upgrade():
    rollup = op.create_table(
        "issue_building_rollup",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("org_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("issues", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["building_id"], ["building.id"],
                                name=op.f("fk_issue_building_rollup_building_id_building")),
        sa.ForeignKeyConstraint(["category_id"], ["issue_category.id"],
                                name=op.f("fk_issue_building_rollup_category_id_issue_category")),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"],
                                name=op.f("fk_issue_building_rollup_community_id_community")),
        sa.PrimaryKeyConstraint("community_id", "month", "building_id", "category_id", "org_key",
                                name=op.f("pk_issue_building_rollup")),
    )
    _backfill(rollup)


def _backfill(rollup):
    """The same counts as portal.dashboard.rollups.building_key, written out here so that the migration
    keeps meaning what it meant when the models change."""
    conn = op.get_bind()
    issue = sa.table("issue", *[sa.column(c) for c in (
        "id", "community_id", "building_id", "category_id", "handling_org_id", "status", "submitted_at")])
    community = sa.table("community", sa.column("id"), sa.column("time_zone"))
    zones = {cid: ZoneInfo(tz or "Asia/Shanghai") for cid, tz in conn.execute(sa.select(community.c.id,
                                                                                        community.c.time_zone))}
    totals = defaultdict(int)
    stmt = sa.select(issue).where(issue.c.status != "duplicate", issue.c.building_id.is_not(None))
    for row in conn.execute(stmt):
        local = _aware(row.submitted_at).astimezone(zones[row.community_id])
        totals[(row.community_id, local.year * 12 + local.month - 1, row.building_id, row.category_id,
                row.handling_org_id or 0)] += 1
    if totals:
        op.bulk_insert(rollup, [dict(community_id=k[0], month=k[1], building_id=k[2], category_id=k[3],
                                     org_key=k[4], issues=v) for k, v in sorted(totals.items())])


def _aware(value):
    """Timestamps come back naive on SQLite (stored as UTC) and aware on PostgreSQL."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def downgrade():
    op.drop_table("issue_building_rollup")
