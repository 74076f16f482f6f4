"""dashboard rollups also count the ratings upheld appeals removed and the hotline work orders resolved (on
time before and after extensions, extended), so the dashboard does not count them from every issue of the
period; backfilled

Revision ID: f5a1b2c3d4e5
Revises: f1a1b2c3d4e5
Create Date: 2026-12-06 11:30:00

"""
from collections import defaultdict
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'f5a1b2c3d4e5'
down_revision = 'f1a1b2c3d4e5'
branch_labels = None
depends_on = None

COLUMNS = ("appeal_removed", "hotline_resolved", "hotline_on_time", "hotline_on_time_extended", "hotline_extended")


def upgrade():
    with op.batch_alter_table("issue_rollup", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("issue_rollup", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.alter_column(name, server_default=None)
    _backfill()


def _backfill():
    """The same counts as portal.dashboard.rollups.contribution, written out here so that the migration keeps
    meaning what it meant when the models change. Only the issues that count in one of them are read (the
    rollup row of each of their buckets exists: every non-duplicate issue is counted in one)."""
    conn = op.get_bind()
    issue = sa.table("issue", *[sa.column(c) for c in (
        "community_id", "category_id", "handling_org_id", "status", "submitted_at", "source", "resolved_at",
        "resolve_by", "original_resolve_by", "rating_excluded")])
    community = sa.table("community", sa.column("id"), sa.column("time_zone"))
    zones = {cid: ZoneInfo(tz or "Asia/Shanghai") for cid, tz in conn.execute(sa.select(community.c.id,
                                                                                        community.c.time_zone))}
    totals = defaultdict(lambda: [0] * len(COLUMNS))
    stmt = sa.select(issue).where(issue.c.status != "duplicate", sa.or_(
        issue.c.rating_excluded.is_(True), sa.and_(issue.c.source == "hotline", issue.c.resolved_at.is_not(None))))
    for row in conn.execute(stmt):
        local = _aware(row.submitted_at).astimezone(zones[row.community_id])
        total = totals[(row.community_id, row.category_id, row.handling_org_id or 0, local.year * 12 + local.month - 1)]
        total[0] += int(bool(row.rating_excluded))
        if row.source == "hotline" and row.resolved_at is not None:
            resolved, first = _aware(row.resolved_at), _aware(row.original_resolve_by or row.resolve_by)
            total[1] += 1
            total[2] += int(resolved <= first)
            total[3] += int(resolved <= _aware(row.resolve_by))
            total[4] += int(row.original_resolve_by is not None)
    rollup = sa.table("issue_rollup", *[sa.column(c) for c in ("community_id", "category_id", "org_key", "month",
                                                               *COLUMNS)])
    for key, values in sorted(totals.items()):
        conn.execute(rollup.update().where(rollup.c.community_id == key[0], rollup.c.category_id == key[1],
                                           rollup.c.org_key == key[2], rollup.c.month == key[3])
                     .values(dict(zip(COLUMNS, values))))


def _aware(value):
    """Timestamps come back naive on SQLite (stored as UTC) and aware on PostgreSQL."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def downgrade():
    with op.batch_alter_table("issue_rollup", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
