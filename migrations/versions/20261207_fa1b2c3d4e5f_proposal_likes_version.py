"""a proposal's likes version, changed with every like or unlike of one of its comments (the consultation
page keeps its comments' like counts under it)

Revision ID: fa1b2c3d4e5f
Revises: f9a1b2c3d4e5
Create Date: 2026-12-07 18:40:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'fa1b2c3d4e5f'
down_revision = 'f9a1b2c3d4e5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("proposal") as batch:
        batch.add_column(sa.Column("likes_version", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("proposal") as batch:
        batch.drop_column("likes_version")
