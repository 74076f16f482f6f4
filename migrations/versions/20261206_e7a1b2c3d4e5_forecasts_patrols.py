"""insight (issue #22): monthly issue counts per community × category (backfilled), forecasts and their
monthly runs, grids' buildings and patrol rounds; grids as organizations; actions from a forecast

Revision ID: e7a1b2c3d4e5
Revises: e1a1b2c3d4e5
Create Date: 2026-12-06 08:13:25.109592

"""
from collections import defaultdict
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'e7a1b2c3d4e5'
down_revision = "e1a1b2c3d4e5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('forecast_run',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('computed_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('series', sa.Integer(), nullable=False),
    sa.Column('rises', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_forecast_run_community_id_community')),
    sa.PrimaryKeyConstraint('community_id', 'month', name=op.f('pk_forecast_run'))
    )
    op.create_table('grid_building',
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_grid_building_building_id_building')),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_grid_building_organization_id_organization')),
    sa.PrimaryKeyConstraint('organization_id', 'building_id', name=op.f('pk_grid_building'))
    )
    counts = op.create_table('issue_month_count',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('issues', sa.Integer(), nullable=False),
    sa.Column('proactive', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['issue_category.id'], name=op.f('fk_issue_month_count_category_id_issue_category')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_issue_month_count_community_id_community')),
    sa.PrimaryKeyConstraint('community_id', 'category_id', 'month', name=op.f('pk_issue_month_count'))
    )
    _backfill(counts)
    op.create_table('forecast',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Numeric(precision=9, scale=1), nullable=False),
    sa.Column('last_month', sa.Integer(), nullable=False),
    sa.Column('recent', sa.Numeric(precision=9, scale=1), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('season_pct', sa.Integer(), nullable=True),
    sa.Column('trend_pct', sa.Integer(), nullable=True),
    sa.Column('rise', sa.Boolean(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.Column('computed_at', portal.clock.UTCDateTime(), nullable=False),
    sa.CheckConstraint("method IN ('glm', 'trend', 'mean')", name=op.f('ck_forecast_method')),
    sa.CheckConstraint('expected >= 0 AND last_month >= 0 AND recent >= 0', name=op.f('ck_forecast_counts')),
    sa.ForeignKeyConstraint(['action_id'], ['action.id'], name=op.f('fk_forecast_action_id_action')),
    sa.ForeignKeyConstraint(['category_id'], ['issue_category.id'], name=op.f('fk_forecast_category_id_issue_category')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_forecast_community_id_community')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast')),
    sa.UniqueConstraint('community_id', 'category_id', 'month', name=op.f('uq_forecast_community_id_category_id_month'))
    )
    with op.batch_alter_table('forecast', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forecast_action_id'), ['action_id'], unique=False)
        batch_op.create_index('ix_forecast_community_month', ['community_id', 'month'], unique=False)

    op.create_table('patrol_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=120), nullable=False),
    sa.Column('checked', sa.String(length=1000), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=True),
    sa.Column('forecast_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_patrol_round_building_id_building')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_patrol_round_community_id_community')),
    sa.ForeignKeyConstraint(['forecast_id'], ['forecast.id'], name=op.f('fk_patrol_round_forecast_id_forecast')),
    sa.ForeignKeyConstraint(['grid_id'], ['organization.id'], name=op.f('fk_patrol_round_grid_id_organization')),
    sa.ForeignKeyConstraint(['issue_id'], ['issue.id'], name=op.f('fk_patrol_round_issue_id_issue')),
    sa.ForeignKeyConstraint(['worker_id'], ['user.id'], name=op.f('fk_patrol_round_worker_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_round'))
    )
    with op.batch_alter_table('patrol_round', schema=None) as batch_op:
        batch_op.create_index('ix_patrol_round_community_at', ['community_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_round_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_round_issue_id'), ['issue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_round_worker_id'), ['worker_id'], unique=False)

    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_organization_kind_place'), type_='check')
        batch_op.create_check_constraint(op.f('ck_organization_kind_place'), KIND_PLACE.format(grid=", 'grid'"))
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_action_source'), type_='check')
        batch_op.create_check_constraint(op.f('ck_action_source'), ACTION_SOURCE.format(forecast=", 'forecast'"))


KIND_PLACE = ("(community_id IS NOT NULL AND sub_district_id IS NULL AND kind IN "
              "('residents_committee', 'homeowners_committee', 'deliberation_council', 'property_company',"
              " 'party_committee', 'service_station', 'social_organization', 'volunteer_team',"
              " 'property_management_committee'{grid}))"
              " OR (community_id IS NULL AND sub_district_id IS NOT NULL AND kind IN "
              "('department', 'subdistrict_office'))")
ACTION_SOURCE = "source IN ('proposal', 'decision', 'issue', 'hotspot'{forecast})"


def _aware(value):
    """Timestamps come back naive on SQLite (stored as UTC) and aware on PostgreSQL."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _backfill(counts):
    """The counts of portal.insight.rollup.bucket, written out here so that the migration keeps meaning what
    it meant when the models change."""
    conn = op.get_bind()
    issue = sa.table("issue", *[sa.column(c) for c in (
        "id", "community_id", "category_id", "status", "submitted_at", "source")])
    community = sa.table("community", sa.column("id"), sa.column("time_zone"))
    zones = {cid: ZoneInfo(tz or "Asia/Shanghai") for cid, tz in conn.execute(sa.select(community.c.id,
                                                                                        community.c.time_zone))}
    totals = defaultdict(lambda: [0, 0])
    for row in conn.execute(sa.select(issue).where(issue.c.status != "duplicate")):
        local = _aware(row.submitted_at).astimezone(zones[row.community_id])
        total = totals[(row.community_id, row.category_id, local.year * 12 + local.month - 1)]
        total[0] += 1
        total[1] += int(row.source in ("patrol", "forecast"))
    if totals:
        op.bulk_insert(counts, [dict(community_id=k[0], category_id=k[1], month=k[2], issues=v[0], proactive=v[1])
                                for k, v in sorted(totals.items())])


def downgrade():
    with op.batch_alter_table('patrol_round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_round_worker_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_round_issue_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_round_grid_id'))
        batch_op.drop_index('ix_patrol_round_community_at')

    op.drop_table('patrol_round')
    with op.batch_alter_table('forecast', schema=None) as batch_op:
        batch_op.drop_index('ix_forecast_community_month')
        batch_op.drop_index(batch_op.f('ix_forecast_action_id'))

    op.drop_table('forecast')
    op.drop_table('issue_month_count')
    op.drop_table('grid_building')
    op.drop_table('forecast_run')
    # What the older schema cannot name keeps its rows: an action from a forecast reads as from a hotspot
    # (its category and month kept), a grid as a volunteer team.
    op.execute("UPDATE action SET source = 'hotspot' WHERE source = 'forecast'")
    op.execute("UPDATE organization SET kind = 'volunteer_team' WHERE kind = 'grid'")
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_action_source'), type_='check')
        batch_op.create_check_constraint(op.f('ck_action_source'), ACTION_SOURCE.format(forecast=""))
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_organization_kind_place'), type_='check')
        batch_op.create_check_constraint(op.f('ck_organization_kind_place'), KIND_PLACE.format(grid=""))
