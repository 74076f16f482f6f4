"""a community's content version, changed with anything of the community that its pages keep between
requests (portal.versions)

Revision ID: f8a1b2c3d4e5
Revises: f7a1b2c3d4e5
Create Date: 2026-12-06 19:50:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'f8a1b2c3d4e5'
down_revision = 'f7a1b2c3d4e5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("community") as batch:
        batch.add_column(sa.Column("content_version", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("community") as batch:
        batch.drop_column("content_version")
