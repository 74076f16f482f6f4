"""Whistle-blowing (吹哨报到) and the responsibility list (责任清单) (issue #20)

Revision ID: c3d4e5f6a7b8
Revises: cf3a4b5c6d78
Create Date: 2026-12-06 06:30:00

The basis of a category's responsible organization (issue_category.basis, NULL before) and the summons of
organizations to an issue with their reports (issue_summons).
"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'c3d4e5f6a7b8'
down_revision = 'cf3a4b5c6d78'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issue_category', schema=None) as batch_op:
        batch_op.add_column(sa.Column('basis', sa.String(length=1000), nullable=True))
    op.create_table('issue_summons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('summoned_by_id', sa.Integer(), nullable=True),
    sa.Column('summoned_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('report_by', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('reported_at', portal.clock.UTCDateTime(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('attendee', sa.String(length=200), nullable=True),
    sa.Column('action', sa.String(length=1000), nullable=True),
    sa.Column('action_due', portal.clock.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['issue_id'], ['issue.id'], name=op.f('fk_issue_summons_issue_id_issue')),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'],
                            name=op.f('fk_issue_summons_organization_id_organization')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['user.id'], name=op.f('fk_issue_summons_reported_by_id_user')),
    sa.ForeignKeyConstraint(['summoned_by_id'], ['user.id'], name=op.f('fk_issue_summons_summoned_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issue_summons'))
    )
    with op.batch_alter_table('issue_summons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issue_summons_issue_id'), ['issue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_issue_summons_organization_id'), ['organization_id'], unique=False)


def downgrade():
    with op.batch_alter_table('issue_summons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issue_summons_organization_id'))
        batch_op.drop_index(batch_op.f('ix_issue_summons_issue_id'))
    op.drop_table('issue_summons')
    with op.batch_alter_table('issue_category', schema=None) as batch_op:
        batch_op.drop_column('basis')
