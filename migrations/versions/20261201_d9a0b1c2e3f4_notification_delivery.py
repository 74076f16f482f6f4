"""notification delivery: preferences, digests, retries (issue #9)

Revision ID: d9a0b1c2e3f4
Revises: c0e1d2a3b4f5
Create Date: 2026-12-01 17:10:01

"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'd9a0b1c2e3f4'
down_revision = 'c0e1d2a3b4f5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_mailbox',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('last_digest_on', sa.Date(), nullable=True),
    sa.Column('last_digest_at', portal.clock.UTCDateTime(), nullable=True),
    sa.Column('bounced_address', sa.String(length=254), nullable=True),
    sa.Column('bounced_reply', sa.String(length=500), nullable=True),
    sa.Column('bounced_at', portal.clock.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_notification_mailbox_user_id_user')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_mailbox'))
    )
    op.create_table('notification_preference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('group', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('updated_at', portal.clock.UTCDateTime(), nullable=False),
    sa.CheckConstraint("mode IN ('now', 'digest', 'off')", name=op.f('ck_notification_preference_mode')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_notification_preference_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_preference')),
    sa.UniqueConstraint('user_id', 'group', name=op.f('uq_notification_preference_user_id_group'))
    )
    with op.batch_alter_table('notification_preference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_preference_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_status', sa.String(length=8), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('email_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('email_rejections', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', portal.clock.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=500), nullable=True))
        batch_op.create_index('ix_notification_email_due', ['email_status', 'next_attempt_at'], unique=False)
        batch_op.create_check_constraint(
            op.f('ck_notification_email_status'), "email_status IN ('pending', 'digest', 'sent', 'failed', 'skipped')")

    # Rows from before e-mail delivery: what was e-mailed stays sent; the rest were in-app only and are not
    # e-mailed now, long after the fact.
    op.execute("UPDATE notification SET email_status = CASE WHEN emailed_at IS NULL THEN 'skipped' ELSE 'sent' END")


def downgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notification_email_status'), type_='check')
        batch_op.drop_index('ix_notification_email_due')
        batch_op.drop_column('last_error')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('email_rejections')
        batch_op.drop_column('email_attempts')
        batch_op.drop_column('email_status')

    with op.batch_alter_table('notification_preference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_preference_user_id'))

    op.drop_table('notification_preference')
    op.drop_table('notification_mailbox')
