"""Personal information (issue #18): deletion requests, data exports, consent records

Revision ID: 6f7a8b9c0d12
Revises: 5e6f7a8b9c01
Create Date: 2026-12-06 02:30:00

New tables only. Existing accounts have no consent record: their agreement at registration (user.consented_at)
stands for the notice in force then, and PRIVACY_NOTICE_SINCE decides whether they are asked again.
"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '6f7a8b9c0d12'
down_revision = '5e6f7a8b9c01'
branch_labels = None
depends_on = None

OPEN_DELETION = "cancelled_at IS NULL AND carried_out_at IS NULL"


def upgrade():
    op.create_table('deletion_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('due_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', portal.clock.UTCDateTime(), nullable=True),
    sa.Column('carried_out_at', portal.clock.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user.id'], name=op.f('fk_deletion_request_requested_by_id_user')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_deletion_request_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deletion_request'))
    )
    with op.batch_alter_table('deletion_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deletion_request_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_deletion_request_open', ['user_id'], unique=True,
                              sqlite_where=sa.text(OPEN_DELETION), postgresql_where=sa.text(OPEN_DELETION))
        batch_op.create_index('ix_deletion_request_due', ['due_at'], unique=False,
                              sqlite_where=sa.text(OPEN_DELETION), postgresql_where=sa.text(OPEN_DELETION))

    op.create_table('data_export',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('requested_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('ready_at', portal.clock.UTCDateTime(), nullable=True),
    sa.Column('expires_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('removed_at', portal.clock.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'ready', 'removed')", name=op.f('ck_data_export_status')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_data_export_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_export')),
    sa.UniqueConstraint('key', name=op.f('uq_data_export_key'))
    )
    with op.batch_alter_table('data_export', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_export_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_data_export_status', ['status', 'expires_at'], unique=False)

    op.create_table('consent_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('version', sa.String(length=16), nullable=True),
    sa.Column('given', sa.Boolean(), nullable=False),
    sa.Column('at', portal.clock.UTCDateTime(), nullable=False),
    sa.CheckConstraint("purpose IN ('privacy_notice', 'email_digest')", name=op.f('ck_consent_record_purpose')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_consent_record_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_record'))
    )
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.create_index('ix_consent_record_user_purpose', ['user_id', 'purpose', 'id'], unique=False)


def downgrade():
    op.drop_table('consent_record')
    op.drop_table('data_export')
    op.drop_table('deletion_request')
