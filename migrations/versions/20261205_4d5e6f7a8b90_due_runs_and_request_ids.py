"""Operations: the last run of each time-driven step, and the request id on audit entries (issue #15)

Revision ID: 4d5e6f7a8b90
Revises: 3c4d5e6f7a80
Create Date: 2026-12-05 19:40:00

Existing audit entries keep an empty request id: they were written before requests had ids. The step runs
table starts empty and fills as `run-due` runs (a step that never ran shows no lag).
"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '4d5e6f7a8b90'
down_revision = '3c4d5e6f7a80'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('due_step_run',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('started_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('finished_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_due_step_run'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_entry_request_id'), ['request_id'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_request_id'))
        batch_op.drop_column('request_id')
    op.drop_table('due_step_run')
