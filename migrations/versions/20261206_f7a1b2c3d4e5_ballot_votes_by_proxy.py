"""a closed owners' ballot counts its votes cast by proxies through a partial index of those votes, instead
of reading every vote of the ballot

Revision ID: f7a1b2c3d4e5
Revises: f6a1b2c3d4e5
Create Date: 2026-12-06 15:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'f7a1b2c3d4e5'
down_revision = 'f6a1b2c3d4e5'
branch_labels = None
depends_on = None

PROXY_WHERE = "proxy_id IS NOT NULL"


def upgrade():
    op.create_index("ix_ballot_vote_by_proxy", "ballot_vote", ["ballot_id"],
                    postgresql_where=sa.text(PROXY_WHERE), sqlite_where=sa.text(PROXY_WHERE))


def downgrade():
    op.drop_index("ix_ballot_vote_by_proxy", table_name="ballot_vote", postgresql_where=sa.text(PROXY_WHERE),
                  sqlite_where=sa.text(PROXY_WHERE))
