"""Whistle-blowing: a category's own time to report in, and the late warning of a summons (issue #20)

Revision ID: d4e5f6a7b8c9
Revises: c3f4a5b6d7e8
Create Date: 2026-12-06 06:50:00

issue_category.report_minutes: minutes a summoned organization has to report in; NULL (every existing
category) keeps the default by deadline class (30 for emergencies, 24 hours otherwise).
issue_summons.late_warned_at: when the late warning of a summons with no report went out (once).
"""
import portal.clock  # noqa: F401  (UTCDateTime columns)
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e5f6a7b8c9'
down_revision = 'c3f4a5b6d7e8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issue_category', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_minutes', sa.Integer(), nullable=True))
    with op.batch_alter_table('issue_summons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('late_warned_at', portal.clock.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('issue_summons', schema=None) as batch_op:
        batch_op.drop_column('late_warned_at')
    with op.batch_alter_table('issue_category', schema=None) as batch_op:
        batch_op.drop_column('report_minutes')
