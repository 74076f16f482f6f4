"""Sessions that end on the server: the person's session generation (issue #18)

Revision ID: 5e6f7a8b9c01
Revises: 7a8b9c0d1e20
Create Date: 2026-12-06 02:10:00

Sessions and remember-me cookies now carry the generation they were started under; signing out, a password
change and a lock raise it. Cookies issued before this revision carry a bare id, which reads as generation 0,
so existing accounts start at 1: everyone signs in once more, and no cookie from before (some of them kept
for a year) outlives the upgrade.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e6f7a8b9c01'
down_revision = '7a8b9c0d1e20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
    op.execute(sa.text('UPDATE "user" SET session_generation = 1'))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
