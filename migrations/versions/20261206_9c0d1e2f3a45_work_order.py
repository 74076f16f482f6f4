"""The 12345 work order: sign for, send back, extensions, return visits, appeals (issue #20)

Revision ID: 9c0d1e2f3a45
Revises: 3c4d5e6f7a81
Create Date: 2026-12-06 05:15:00

A hotline issue is signed for (签收) or sent back (退单) by its receiver; the handler may ask for more time
(延期); the sub-district office's staff call the caller back (回访, up to three attempts), and that answer is
the issue's rating; the handling organization may appeal (申诉) a dissatisfied or unsolved one, and an
upheld appeal takes it out of the resolution and satisfaction rates (the issue's `rating_excluded`, counted
by the dashboard's rollups; false for every issue before).

A reopened issue being redone (open again, with the rating that reopened it) no longer counts as "resolved:
yes": the rollups' resolved_yes of those issues' buckets is corrected here.
"""
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

from portal.clock import UTCDateTime


# revision identifiers, used by Alembic.
revision = '9c0d1e2f3a45'
down_revision = '3c4d5e6f7a81'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signed_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('work_order_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('send_back_reason', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('original_resolve_by', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('rating_excluded', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_check_constraint(
            op.f('ck_issue_work_order_state'),
            "work_order_state IS NULL OR work_order_state IN ('sent_back', 'returned')")

    op.create_table(
        'issue_extension',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=True),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('requested_at', UTCDateTime(), nullable=False),
        sa.Column('reason', sa.String(length=1000), nullable=False),
        sa.Column('previous_resolve_by', UTCDateTime(), nullable=False),
        sa.Column('proposed_resolve_by', UTCDateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', UTCDateTime(), nullable=True),
        sa.Column('decision_reason', sa.String(length=1000), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'refused')", name=op.f('ck_issue_extension_status')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_issue_extension_decided_by_id_user')),
        sa.ForeignKeyConstraint(['issue_id'], ['issue.id'], name=op.f('fk_issue_extension_issue_id_issue')),
        sa.ForeignKeyConstraint(['organization_id'], ['organization.id'],
                                name=op.f('fk_issue_extension_organization_id_organization')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['user.id'],
                                name=op.f('fk_issue_extension_requested_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_issue_extension')),
    )
    op.create_index(op.f('ix_issue_extension_issue_id'), 'issue_extension', ['issue_id'], unique=False)

    op.create_table(
        'return_visit_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('visitor_id', sa.Integer(), nullable=True),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('resolved_at', UTCDateTime(), nullable=False),
        sa.Column('contacted', sa.Boolean(), nullable=False),
        sa.Column('solved', sa.Boolean(), nullable=True),
        sa.Column('satisfaction', sa.String(length=24), nullable=True),
        sa.Column('words', sa.String(length=500), nullable=True),
        sa.CheckConstraint("satisfaction IS NULL OR satisfaction IN ('satisfied', 'basically_satisfied', "
                           "'dissatisfied')", name=op.f('ck_return_visit_attempt_satisfaction')),
        sa.ForeignKeyConstraint(['issue_id'], ['issue.id'], name=op.f('fk_return_visit_attempt_issue_id_issue')),
        sa.ForeignKeyConstraint(['visitor_id'], ['user.id'], name=op.f('fk_return_visit_attempt_visitor_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_return_visit_attempt')),
    )
    op.create_index(op.f('ix_return_visit_attempt_issue_id'), 'return_visit_attempt', ['issue_id'], unique=False)

    op.create_table(
        'issue_appeal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=True),
        sa.Column('appealed_by_id', sa.Integer(), nullable=True),
        sa.Column('appealed_at', UTCDateTime(), nullable=False),
        sa.Column('evidence', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', UTCDateTime(), nullable=True),
        sa.Column('decision_reason', sa.String(length=1000), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'upheld', 'rejected')", name=op.f('ck_issue_appeal_status')),
        sa.ForeignKeyConstraint(['appealed_by_id'], ['user.id'], name=op.f('fk_issue_appeal_appealed_by_id_user')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_issue_appeal_decided_by_id_user')),
        sa.ForeignKeyConstraint(['issue_id'], ['issue.id'], name=op.f('fk_issue_appeal_issue_id_issue')),
        sa.ForeignKeyConstraint(['organization_id'], ['organization.id'],
                                name=op.f('fk_issue_appeal_organization_id_organization')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_issue_appeal')),
    )
    op.create_index(op.f('ix_issue_appeal_issue_id'), 'issue_appeal', ['issue_id'], unique=False)
    _correct_rollups(+1)


OPEN = ("submitted", "accepted", "in_progress", "reopened")


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _correct_rollups(sign):
    """Take (sign +1) or give back (-1) the "resolved: yes" of reopened issues being redone (open again,
    with the rating that reopened them), bucket by bucket as portal.dashboard.rollups counts them."""
    conn = op.get_bind()
    issue = sa.table("issue", *[sa.column(c) for c in (
        "community_id", "category_id", "handling_org_id", "status", "submitted_at", "rating_resolved",
        "reopen_count")])
    community = sa.table("community", sa.column("id"), sa.column("time_zone"))
    rollup = sa.table("issue_rollup", *[sa.column(c) for c in (
        "community_id", "category_id", "org_key", "month", "resolved_yes")])
    zones = {cid: ZoneInfo(tz or "Asia/Shanghai") for cid, tz in conn.execute(
        sa.select(community.c.id, community.c.time_zone))}
    found = Counter()
    for row in conn.execute(sa.select(issue).where(issue.c.status.in_(OPEN), issue.c.reopen_count > 0,
                                           issue.c.rating_resolved.is_(True))):
        local = _aware(row.submitted_at).astimezone(zones[row.community_id])
        found[(row.community_id, row.category_id, row.handling_org_id or 0, local.year * 12 + local.month - 1)] += 1
    for (cid, cat, org, month), n in sorted(found.items()):
        conn.execute(sa.update(rollup).where(
            rollup.c.community_id == cid, rollup.c.category_id == cat, rollup.c.org_key == org,
            rollup.c.month == month).values(resolved_yes=rollup.c.resolved_yes - sign * n))


def downgrade():
    _correct_rollups(-1)
    op.drop_index(op.f('ix_issue_appeal_issue_id'), table_name='issue_appeal')
    op.drop_table('issue_appeal')
    op.drop_index(op.f('ix_return_visit_attempt_issue_id'), table_name='return_visit_attempt')
    op.drop_table('return_visit_attempt')
    op.drop_index(op.f('ix_issue_extension_issue_id'), table_name='issue_extension')
    op.drop_table('issue_extension')
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_issue_work_order_state'), type_='check')
        batch_op.drop_column('rating_excluded')
        batch_op.drop_column('original_resolve_by')
        batch_op.drop_column('send_back_reason')
        batch_op.drop_column('work_order_state')
        batch_op.drop_column('signed_at')
