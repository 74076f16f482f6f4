"""Estates (小区 / 物业管理区域) and the scope of owners' ballots (issue #19)

Revision ID: ad1e2f3a4b56
Revises: 9c0d1e2f3a45
Create Date: 2026-12-06 05:30:00

A community holds one or more estates; buildings belong to an estate, and so do homeowners' committees and
the new kind, the property management committee (物业管理委员会). An owners' ballot records its estate and its
scope: the whole estate, or listed buildings or entrances (rows of ballot_scope).

Backfill: one estate per existing community, named after it, holding all its buildings and its homeowners'
committees; owners' ballots from before belong to it with the scope "estate" (they counted the whole
community, which is now its one estate).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ad1e2f3a4b56'
down_revision = '9c0d1e2f3a45'
branch_labels = None
depends_on = None

OLD_COMMUNITY_KINDS = ("'residents_committee', 'homeowners_committee', 'deliberation_council', 'property_company',"
                       " 'party_committee', 'service_station', 'social_organization', 'volunteer_team'")
NEW_COMMUNITY_KINDS = OLD_COMMUNITY_KINDS + ", 'property_management_committee'"


def _kind_place(community_kinds):
    return (f"(community_id IS NOT NULL AND sub_district_id IS NULL AND kind IN ({community_kinds}))"
            " OR (community_id IS NULL AND sub_district_id IS NOT NULL AND kind IN "
            "('department', 'subdistrict_office'))")


def upgrade():
    op.create_table('estate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_estate_community_id_community')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_estate')),
    sa.UniqueConstraint('community_id', 'name', name=op.f('uq_estate_community_id_name'))
    )
    with op.batch_alter_table('estate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_estate_community_id'), ['community_id'], unique=False)

    op.execute("INSERT INTO estate (community_id, name) SELECT id, name FROM community")
    first_estate = "(SELECT MIN(estate.id) FROM estate WHERE estate.community_id = {table}.community_id)"

    with op.batch_alter_table('building', schema=None) as batch_op:
        batch_op.add_column(sa.Column('estate_id', sa.Integer(), nullable=True))
    op.execute(f"UPDATE building SET estate_id = {first_estate.format(table='building')}")
    with op.batch_alter_table('building', schema=None) as batch_op:
        batch_op.alter_column('estate_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_building_estate_id'), ['estate_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_building_estate_id_estate'), 'estate', ['estate_id'], ['id'])

    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.add_column(sa.Column('estate_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_organization_estate_id'), ['estate_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_organization_estate_id_estate'), 'estate', ['estate_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_organization_kind_place'), type_='check')
        batch_op.create_check_constraint(op.f('ck_organization_kind_place'), _kind_place(NEW_COMMUNITY_KINDS))
    op.execute(f"UPDATE organization SET estate_id = {first_estate.format(table='organization')}"
               " WHERE kind = 'homeowners_committee'")

    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('estate_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('scope', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_ballot_estate_id'), ['estate_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_ballot_estate_id_estate'), 'estate', ['estate_id'], ['id'])
    op.execute(f"UPDATE ballot SET scope = 'estate', estate_id = {first_estate.format(table='ballot')}"
               " WHERE method = 'owners'")
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_ballot_scope'),
                                         "scope IS NULL OR scope IN ('estate', 'buildings', 'entrances')")
        batch_op.create_check_constraint(op.f('ck_ballot_scope_for_owners'),
                                         "method = 'owners' OR (estate_id IS NULL AND scope IS NULL)")

    op.create_table('ballot_scope',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ballot_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('entrance', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_scope_ballot_id_ballot')),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_ballot_scope_building_id_building')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot_scope')),
    sa.UniqueConstraint('ballot_id', 'building_id', 'entrance',
                        name=op.f('uq_ballot_scope_ballot_id_building_id_entrance'))
    )
    with op.batch_alter_table('ballot_scope', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_scope_ballot_id'), ['ballot_id'], unique=False)


def downgrade():
    with op.batch_alter_table('ballot_scope', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_scope_ballot_id'))
    op.drop_table('ballot_scope')

    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ballot_scope_for_owners'), type_='check')
        batch_op.drop_constraint(op.f('ck_ballot_scope'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_ballot_estate_id_estate'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_ballot_estate_id'))
        batch_op.drop_column('scope')
        batch_op.drop_column('estate_id')

    # Refused (the constraint fails) while property management committees exist: they are not deleted silently.
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_organization_kind_place'), type_='check')
        batch_op.create_check_constraint(op.f('ck_organization_kind_place'), _kind_place(OLD_COMMUNITY_KINDS))
        batch_op.drop_constraint(batch_op.f('fk_organization_estate_id_estate'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_organization_estate_id'))
        batch_op.drop_column('estate_id')

    with op.batch_alter_table('building', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_building_estate_id_estate'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_building_estate_id'))
        batch_op.drop_column('estate_id')

    with op.batch_alter_table('estate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_estate_community_id'))
    op.drop_table('estate')
