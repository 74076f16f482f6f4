"""Owners' ballots: units without an owner, the co-owner reading, co-owners' representatives (issue #19)

Revision ID: 4c5d6e7f8a9b
Revises: ad1e2f3a4b56
Create Date: 2026-12-06 05:20:00

- unowned_unit: how a unit with no current owner counts (with the developer's units, or excluded with a
  reason), recorded by the committee; ballot_exclusion: the excluded units an owners' ballot froze at opening.
- unit_representative: the co-owners' named representative of a unit; ballot_voter.representative_id the
  one frozen at opening.
- ballot.co_owner_headcount: the co-owner reading ("separate" | "once") frozen at opening; owners' ballots
  from before were counted "separate". A co-owned unit's voter may now have headcount 0 (the "once" reading).
"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '4c5d6e7f8a9b'
down_revision = 'ad1e2f3a4b56'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unowned_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('resolution', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', portal.clock.UTCDateTime(), nullable=False),
    sa.CheckConstraint("resolution IN ('developer', 'excluded')", name=op.f('ck_unowned_unit_resolution')),
    sa.CheckConstraint("(resolution = 'developer') = (owner_id IS NOT NULL)",
                       name=op.f('ck_unowned_unit_developer_owner')),
    sa.CheckConstraint("resolution = 'developer' OR reason IS NOT NULL", name=op.f('ck_unowned_unit_reason')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_unowned_unit_community_id_community')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_unowned_unit_household_id_household')),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_unowned_unit_owner_id_owner')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_unowned_unit_recorded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unowned_unit')),
    sa.UniqueConstraint('household_id', name=op.f('uq_unowned_unit_household_id'))
    )
    with op.batch_alter_table('unowned_unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unowned_unit_community_id'), ['community_id'], unique=False)

    op.create_table('unit_representative',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', portal.clock.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'],
                            name=op.f('fk_unit_representative_household_id_household')),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_unit_representative_owner_id_owner')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'],
                            name=op.f('fk_unit_representative_recorded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_representative')),
    sa.UniqueConstraint('household_id', name=op.f('uq_unit_representative_household_id'))
    )

    op.create_table('ballot_exclusion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ballot_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_exclusion_ballot_id_ballot')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'],
                            name=op.f('fk_ballot_exclusion_household_id_household')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot_exclusion')),
    sa.UniqueConstraint('ballot_id', 'household_id', name=op.f('uq_ballot_exclusion_ballot_id_household_id'))
    )
    with op.batch_alter_table('ballot_exclusion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_exclusion_ballot_id'), ['ballot_id'], unique=False)

    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('co_owner_headcount', sa.String(length=8), nullable=True))
        batch_op.create_check_constraint(op.f('ck_ballot_co_owner_headcount'),
                                         "co_owner_headcount IS NULL OR co_owner_headcount IN ('separate', 'once')")
    op.execute("UPDATE ballot SET co_owner_headcount = 'separate' WHERE method = 'owners'")

    with op.batch_alter_table('ballot_voter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('representative_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ballot_voter_representative_id_owner'), 'owner',
                                    ['representative_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_ballot_voter_weights'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_ballot_voter_weights'),
                                         "headcount IN (0, 1) AND area_cm >= 0")


def downgrade():
    with op.batch_alter_table('ballot_voter', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ballot_voter_weights'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_ballot_voter_weights'), "headcount = 1 AND area_cm >= 0")
        batch_op.drop_constraint(batch_op.f('fk_ballot_voter_representative_id_owner'), type_='foreignkey')
        batch_op.drop_column('representative_id')
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ballot_co_owner_headcount'), type_='check')
        batch_op.drop_column('co_owner_headcount')
    op.drop_table('ballot_exclusion')
    op.drop_table('unit_representative')
    with op.batch_alter_table('unowned_unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unowned_unit_community_id'))
    op.drop_table('unowned_unit')
