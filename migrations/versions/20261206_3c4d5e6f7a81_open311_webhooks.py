"""Telling the hotline: a webhook per Open311 integration and the outbox of its deliveries (issue #20)

Revision ID: 3c4d5e6f7a81
Revises: 8b9c0d1e2f34
Create Date: 2026-12-06 05:20:00

An integration (Open311 key) may name a webhook URL and hold a signing secret; each state change of a work
order it created is written to open311_delivery in the same transaction and POSTed, signed, by the sender.
"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '3c4d5e6f7a81'
down_revision = '8b9c0d1e2f34'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('open311_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('webhook_secret', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('webhook_secret_set_at', portal.clock.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('webhook_last_success_at', portal.clock.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('webhook_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('webhook_last_error', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('webhook_last_error_at', portal.clock.UTCDateTime(), nullable=True))
    op.create_table('open311_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.String(length=36), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('occurred_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('created_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', portal.clock.UTCDateTime(), nullable=True),
    sa.Column('delivered_at', portal.clock.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'delivered')", name=op.f('ck_open311_delivery_status')),
    sa.ForeignKeyConstraint(['issue_id'], ['issue.id'], name=op.f('fk_open311_delivery_issue_id_issue')),
    sa.ForeignKeyConstraint(['key_id'], ['open311_key.id'], name=op.f('fk_open311_delivery_key_id_open311_key')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_delivery')),
    sa.UniqueConstraint('delivery_id', name=op.f('uq_open311_delivery_delivery_id')),
    sa.UniqueConstraint('issue_id', 'sequence', name=op.f('uq_open311_delivery_issue_id_sequence'))
    )
    with op.batch_alter_table('open311_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_open311_delivery_status_key', ['status', 'key_id'], unique=False)


def downgrade():
    with op.batch_alter_table('open311_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_open311_delivery_status_key')
    op.drop_table('open311_delivery')
    with op.batch_alter_table('open311_key', schema=None) as batch_op:
        batch_op.drop_column('webhook_last_error_at')
        batch_op.drop_column('webhook_last_error')
        batch_op.drop_column('webhook_failures')
        batch_op.drop_column('webhook_last_success_at')
        batch_op.drop_column('webhook_secret_set_at')
        batch_op.drop_column('webhook_secret')
        batch_op.drop_column('webhook_url')
