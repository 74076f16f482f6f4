"""The owner roll (业主名册) (issue #19): an owner is a person or an organization, not a phone

Revision ID: cf3a4b5c6d78
Revises: be2f3a4b5c67
Create Date: 2026-12-06 05:20:00

- `owner.kind` (person / organization / developer; `is_developer` kept equal to kind = developer);
- contact phones move to `owner_phone` (any number per owner, none too); the unique (community, phone) goes,
  so two co-owners may share one phone;
- an identity document number only as a keyed hash (`id_hash`) and its last 4 characters (`id_last4`);
- `merged_into_id` / `merged_at`: a duplicate entry merged into another owner, kept for the history;
- `owners_kept_apart`: pairs the committee decided are different owners;
- `household.area_source` (register / surveyed / contract; existing units: register).
"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'cf3a4b5c6d78'
down_revision = 'be2f3a4b5c67'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('owner_phone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_owner_phone_owner_id_owner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owner_phone')),
    sa.UniqueConstraint('owner_id', 'phone', name=op.f('uq_owner_phone_owner_id_phone'))
    )
    with op.batch_alter_table('owner_phone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_owner_phone_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_owner_phone_phone'), ['phone'], unique=False)
    op.execute("INSERT INTO owner_phone (owner_id, phone, position) "
               "SELECT id, phone, 0 FROM owner WHERE phone IS NOT NULL AND phone <> ''")

    with op.batch_alter_table('owner', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='person', nullable=False))
        batch_op.add_column(sa.Column('id_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('id_last4', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('merged_at', portal.clock.UTCDateTime(), nullable=True))
    op.execute("UPDATE owner SET kind = 'developer' WHERE is_developer")
    with op.batch_alter_table('owner', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_owner_community_id_phone'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_owner_phone'))
        batch_op.drop_column('phone')
        batch_op.create_index(batch_op.f('ix_owner_id_hash'), ['id_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_owner_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_owner_merged_into_id_owner'), 'owner', ['merged_into_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_owner_kind'), "kind IN ('person', 'organization', 'developer')")
        batch_op.create_check_constraint(op.f('ck_owner_developer_kind'), "is_developer = (kind = 'developer')")

    op.create_table('owners_kept_apart',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('owner_low_id', sa.Integer(), nullable=False),
    sa.Column('owner_high_id', sa.Integer(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', portal.clock.UTCDateTime(), nullable=False),
    sa.CheckConstraint('owner_low_id < owner_high_id', name=op.f('ck_owners_kept_apart_ordered')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_owners_kept_apart_community_id_community')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_owners_kept_apart_decided_by_id_user')),
    sa.ForeignKeyConstraint(['owner_high_id'], ['owner.id'], name=op.f('fk_owners_kept_apart_owner_high_id_owner')),
    sa.ForeignKeyConstraint(['owner_low_id'], ['owner.id'], name=op.f('fk_owners_kept_apart_owner_low_id_owner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owners_kept_apart')),
    sa.UniqueConstraint('owner_low_id', 'owner_high_id', name=op.f('uq_owners_kept_apart_owner_low_id_owner_high_id'))
    )
    with op.batch_alter_table('owners_kept_apart', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_owners_kept_apart_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_owners_kept_apart_owner_high_id'), ['owner_high_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_owners_kept_apart_owner_low_id'), ['owner_low_id'], unique=False)

    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.add_column(sa.Column('area_source', sa.String(length=16), server_default='register', nullable=False))
        batch_op.create_check_constraint(op.f('ck_household_area_source'),
                                         "area_source IN ('register', 'surveyed', 'contract')")


def downgrade():
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_household_area_source'), type_='check')
        batch_op.drop_column('area_source')
    op.drop_table('owners_kept_apart')
    with op.batch_alter_table('owner', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=11), nullable=True))
    op.execute("UPDATE owner SET phone = (SELECT owner_phone.phone FROM owner_phone "
               "WHERE owner_phone.owner_id = owner.id ORDER BY position, id LIMIT 1)")
    with op.batch_alter_table('owner', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_owner_developer_kind'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_owner_kind'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_owner_merged_into_id_owner'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_owner_merged_into_id'))
        batch_op.drop_index(batch_op.f('ix_owner_id_hash'))
        batch_op.drop_column('merged_at')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('id_last4')
        batch_op.drop_column('id_hash')
        batch_op.drop_column('kind')
        batch_op.create_index(batch_op.f('ix_owner_phone'), ['phone'], unique=False)
        # Owners sharing a phone since the upgrade would break the old unique (community, phone): not restored.
    op.drop_table('owner_phone')
