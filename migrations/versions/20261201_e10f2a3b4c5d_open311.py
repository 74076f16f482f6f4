"""Open311 GeoReport v2 integrations (issue #10)

Revision ID: e10f2a3b4c5d
Revises: d9a0b1c2e3f4
Create Date: 2026-12-01 17:10:02

"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'e10f2a3b4c5d'
down_revision = 'd9a0b1c2e3f4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('open311_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('media_hosts', sa.JSON(), nullable=False),
    sa.Column('rate_limit', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', portal.clock.UTCDateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('last_used_at', portal.clock.UTCDateTime(), nullable=True),
    sa.CheckConstraint('rate_limit > 0', name=op.f('ck_open311_key_rate_limit_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_open311_key_created_by_id_user')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user.id'], name=op.f('fk_open311_key_revoked_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_open311_key_key_hash'))
    )
    op.create_table('open311_key_community',
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'],
                            name=op.f('fk_open311_key_community_community_id_community')),
    sa.ForeignKeyConstraint(['key_id'], ['open311_key.id'], name=op.f('fk_open311_key_community_key_id_open311_key')),
    sa.PrimaryKeyConstraint('key_id', 'community_id', name=op.f('pk_open311_key_community'))
    )
    op.create_table('open311_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('first_name', sa.String(length=40), nullable=True),
    sa.Column('last_name', sa.String(length=40), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('media_url', sa.String(length=2048), nullable=True),
    sa.Column('media_stored', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('created_at', portal.clock.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['issue_id'], ['issue.id'], name=op.f('fk_open311_request_issue_id_issue')),
    sa.ForeignKeyConstraint(['key_id'], ['open311_key.id'], name=op.f('fk_open311_request_key_id_open311_key')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_request')),
    sa.UniqueConstraint('issue_id', name=op.f('uq_open311_request_issue_id'))
    )
    with op.batch_alter_table('open311_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_open311_request_key_id'), ['key_id'], unique=False)

    op.create_table('open311_usage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('endpoint', sa.String(length=40), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('at', portal.clock.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['open311_key.id'], name=op.f('fk_open311_usage_key_id_open311_key')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_usage'))
    )
    with op.batch_alter_table('open311_usage', schema=None) as batch_op:
        batch_op.create_index('ix_open311_usage_key_method_at', ['key_id', 'method', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('open311_usage', schema=None) as batch_op:
        batch_op.drop_index('ix_open311_usage_key_method_at')
    op.drop_table('open311_usage')
    with op.batch_alter_table('open311_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_open311_request_key_id'))
    op.drop_table('open311_request')
    op.drop_table('open311_key_community')
    op.drop_table('open311_key')
