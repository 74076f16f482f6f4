"""Short links for sharing an item's page: /s/<code> (issue #21)

Revision ID: e5a1b2c3d4e5
Revises: e7a1b2c3d4e5
Create Date: 2026-12-06 08:03:03

short_link: one row per shared item (kind, target_id), made the first time the item's page is shown; the
code is never reused, so the table starts empty and nothing is backfilled.
"""
import portal.clock  # noqa: F401  (UTCDateTime columns)
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5a1b2c3d4e5'
down_revision = "e7a1b2c3d4e5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('short_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.clock.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('issue', 'proposal', 'ballot', 'notice', 'action')", name=op.f('ck_short_link_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_short_link')),
    sa.UniqueConstraint('code', name=op.f('uq_short_link_code')),
    sa.UniqueConstraint('kind', 'target_id', name=op.f('uq_short_link_kind_target_id'))
    )


def downgrade():
    op.drop_table('short_link')
