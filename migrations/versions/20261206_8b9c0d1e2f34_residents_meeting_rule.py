"""The residents' meeting rule (居民会议, Organic Law of Urban Residents' Committees art. 10) (issue #19)

Revision ID: 8b9c0d1e2f34
Revises: 7a8b9c0d1e23
Create Date: 2026-12-06 03:30:00

A residents' vote is counted by the "simple" rule (the quorum and threshold set at opening, abstentions left
out) or the "meeting" rule (more than half of the frozen electorate take part; more than half of those taking
part vote yes, abstentions included). Residents' ballots from before were all counted by the simple rule.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8b9c0d1e2f34'
down_revision = '7a8b9c0d1e23'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resident_rule', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(op.f('ck_ballot_resident_rule'),
                                         "resident_rule IS NULL OR resident_rule IN ('simple', 'meeting')")
    op.execute("UPDATE ballot SET resident_rule = 'simple' WHERE method = 'residents'")


def downgrade():
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ballot_resident_rule'), type_='check')
        batch_op.drop_column('resident_rule')
