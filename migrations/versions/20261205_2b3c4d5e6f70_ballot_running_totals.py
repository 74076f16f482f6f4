"""Running totals on ballots (issue #15): the frozen electorate and the voted headcount and area on the
ballot, the live votes per option (headcount and area) on each option, backfilled from the live votes.

Revision ID: 2b3c4d5e6f70
Revises: 4d5e6f7a8b90
Create Date: 2026-12-05 19:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2b3c4d5e6f70'
down_revision = '4d5e6f7a8b90'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('electorate_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('electorate_area_cm', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('voted_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('voted_area_cm', sa.BigInteger(), server_default='0', nullable=False))
    with op.batch_alter_table('ballot_option', schema=None) as batch_op:
        batch_op.add_column(sa.Column('live_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('live_area_cm', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_ballot_option_live_totals'),
                                         'live_count >= 0 AND live_area_cm >= 0')

    # Every existing ballot's totals from its frozen electorate and live votes (closed ones too: their live
    # votes are those the stored result counted).
    from portal.votes.totals import rebuild_running_totals
    rebuild_running_totals(bind=op.get_bind())


def downgrade():
    with op.batch_alter_table('ballot_option', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ballot_option_live_totals'), type_='check')
        batch_op.drop_column('live_area_cm')
        batch_op.drop_column('live_count')
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.drop_column('voted_area_cm')
        batch_op.drop_column('voted_count')
        batch_op.drop_column('electorate_area_cm')
        batch_op.drop_column('electorate_count')
