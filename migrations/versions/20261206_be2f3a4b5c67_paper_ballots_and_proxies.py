"""Paper ballots and proxies (书面委托) of owners' ballots (issue #19)

Revision ID: be2f3a4b5c67
Revises: 4c5d6e7f8a9b
Create Date: 2026-12-06 05:01:04

An owner's written authorization of a proxy for one ballot (ballot_proxy, one live per vote), scans of signed
paper ballot forms and of authorizations (ballot_scan), and the proxy a vote was cast by (ballot_vote and
ballot_log_entry.proxy_id; NULL for every vote cast before).
"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'be2f3a4b5c67'
down_revision = '4c5d6e7f8a9b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ballot_proxy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ballot_id', sa.Integer(), nullable=False),
    sa.Column('voter_id', sa.Integer(), nullable=False),
    sa.Column('proxy_user_id', sa.Integer(), nullable=True),
    sa.Column('proxy_name', sa.String(length=100), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', portal.clock.UTCDateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_proxy_ballot_id_ballot')),
    sa.ForeignKeyConstraint(['proxy_user_id'], ['user.id'], name=op.f('fk_ballot_proxy_proxy_user_id_user')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_ballot_proxy_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user.id'], name=op.f('fk_ballot_proxy_revoked_by_id_user')),
    sa.ForeignKeyConstraint(['voter_id'], ['ballot_voter.id'], name=op.f('fk_ballot_proxy_voter_id_ballot_voter')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot_proxy'))
    )
    with op.batch_alter_table('ballot_proxy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_proxy_ballot_id'), ['ballot_id'], unique=False)
        batch_op.create_index('ix_ballot_proxy_holder', ['ballot_id', 'proxy_user_id'], unique=False)
        batch_op.create_index('uq_ballot_proxy_live', ['voter_id'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    op.create_table('ballot_scan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ballot_id', sa.Integer(), nullable=False),
    sa.Column('voter_id', sa.Integer(), nullable=False),
    sa.Column('proxy_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', portal.clock.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('image', 'pdf')", name=op.f('ck_ballot_scan_kind')),
    sa.CheckConstraint("purpose IN ('paper_ballot', 'proxy')", name=op.f('ck_ballot_scan_purpose')),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_scan_ballot_id_ballot')),
    sa.ForeignKeyConstraint(['proxy_id'], ['ballot_proxy.id'], name=op.f('fk_ballot_scan_proxy_id_ballot_proxy')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_ballot_scan_uploaded_by_id_user')),
    sa.ForeignKeyConstraint(['voter_id'], ['ballot_voter.id'], name=op.f('fk_ballot_scan_voter_id_ballot_voter')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot_scan')),
    sa.UniqueConstraint('key', name=op.f('uq_ballot_scan_key'))
    )
    with op.batch_alter_table('ballot_scan', schema=None) as batch_op:
        batch_op.create_index('ix_ballot_scan_voter', ['ballot_id', 'voter_id'], unique=False)

    with op.batch_alter_table('ballot_log_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proxy_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ballot_log_entry_proxy_id_ballot_proxy'), 'ballot_proxy', ['proxy_id'], ['id'])

    with op.batch_alter_table('ballot_vote', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proxy_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ballot_vote_proxy_id_ballot_proxy'), 'ballot_proxy', ['proxy_id'], ['id'])



def downgrade():
    with op.batch_alter_table('ballot_vote', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ballot_vote_proxy_id_ballot_proxy'), type_='foreignkey')
        batch_op.drop_column('proxy_id')

    with op.batch_alter_table('ballot_log_entry', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ballot_log_entry_proxy_id_ballot_proxy'), type_='foreignkey')
        batch_op.drop_column('proxy_id')

    with op.batch_alter_table('ballot_scan', schema=None) as batch_op:
        batch_op.drop_index('ix_ballot_scan_voter')

    op.drop_table('ballot_scan')
    with op.batch_alter_table('ballot_proxy', schema=None) as batch_op:
        batch_op.drop_index('uq_ballot_proxy_live', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index('ix_ballot_proxy_holder')
        batch_op.drop_index(batch_op.f('ix_ballot_proxy_ballot_id'))

    op.drop_table('ballot_proxy')
