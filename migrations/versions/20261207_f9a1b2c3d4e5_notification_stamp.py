"""a notification's stamp: a random number drawn when it is added and when its payload is written again
(the centre keeps a person's list until their notifications change)

Revision ID: f9a1b2c3d4e5
Revises: f8a1b2c3d4e5
Create Date: 2026-12-07 01:15:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'f9a1b2c3d4e5'
down_revision = 'f8a1b2c3d4e5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("stamp", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("stamp")
