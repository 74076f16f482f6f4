"""issue.next_deadline: the stored deadline that matters now, for "due soonest" by index

Revision ID: 1a2b3c4d5e60
Revises: e10f2a3b4c5d
Create Date: 2026-12-05 19:30:00

"""
from alembic import op
import sqlalchemy as sa

import portal.clock

# revision identifiers, used by Alembic.
revision = '1a2b3c4d5e60'
down_revision = 'e10f2a3b4c5d'
branch_labels = None
depends_on = None

# portal.issues.models.next_deadline as SQL: respond-by until the first response, then resolve-by; NULL
# once the issue is no longer open.
BACKFILL = """
UPDATE issue SET next_deadline = CASE
    WHEN status NOT IN ('submitted', 'accepted', 'in_progress', 'reopened') THEN NULL
    WHEN first_response_at IS NULL THEN respond_by
    ELSE resolve_by END
"""


def upgrade():
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_deadline', portal.clock.UTCDateTime(), nullable=True))
    op.execute(BACKFILL)
    op.create_index('ix_issue_community_next_deadline', 'issue', ['community_id', 'next_deadline', 'id'],
                    postgresql_where=sa.text('next_deadline IS NOT NULL'),
                    sqlite_where=sa.text('next_deadline IS NOT NULL'))


def downgrade():
    op.drop_index('ix_issue_community_next_deadline', table_name='issue')
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.drop_column('next_deadline')
