"""the notice board reads a community's open or ended notices a page at a time by (community, status,
starts_at, id)

Revision ID: f6a1b2c3d4e5
Revises: f3a1b2c3d4e5
Create Date: 2026-12-06 15:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f6a1b2c3d4e5'
down_revision = 'f3a1b2c3d4e5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("public_notice", schema=None) as batch_op:
        batch_op.create_index("ix_public_notice_board", ["community_id", "status", "starts_at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("public_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_public_notice_board")
