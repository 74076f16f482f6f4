"""Signed-in sessions: signing out ends this browser's session only (issue #18)

Revision ID: 7a8b9c0d1e23
Revises: 6f7a8b9c0d12
Create Date: 2026-12-06 03:00:00

Sessions and remember-me cookies now carry a session key as well as the generation; the table keeps each key's
digest. Cookies from before carry no key and load nobody: everyone signs in once more.
"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '7a8b9c0d1e23'
down_revision = '6f7a8b9c0d12'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signed_in_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', portal.clock.UTCDateTime(), nullable=True),
    sa.Column('ended_at', portal.clock.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_signed_in_session_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signed_in_session')),
    sa.UniqueConstraint('key_digest', name=op.f('uq_signed_in_session_key_digest'))
    )
    with op.batch_alter_table('signed_in_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signed_in_session_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('signed_in_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signed_in_session_user_id'))
    op.drop_table('signed_in_session')
