"""The organizations of a community (Party committee, service station, social organizations, volunteer
teams), volunteers for agreed actions, and actions whose status follows their steps (issue #16)

Revision ID: 7a8b9c0d1e20
Revises: 2b3c4d5e6f70
Create Date: 2026-12-05 20:45:00

Backfill: no organization changes kind and no volunteer exists yet (every action's count starts at 0). A
planned action with a step already started or done becomes in progress, as the services now keep it; its
start time is the earliest such step's.
"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '7a8b9c0d1e20'
down_revision = '2b3c4d5e6f70'
branch_labels = None
depends_on = None

OLD_COMMUNITY_KINDS = "'residents_committee', 'homeowners_committee', 'deliberation_council', 'property_company'"
NEW_COMMUNITY_KINDS = OLD_COMMUNITY_KINDS + (
    ", 'party_committee', 'service_station', 'social_organization', 'volunteer_team'")


def _kind_place(community_kinds):
    return (f"(community_id IS NOT NULL AND sub_district_id IS NULL AND kind IN ({community_kinds}))"
            " OR (community_id IS NULL AND sub_district_id IS NOT NULL AND kind IN "
            "('department', 'subdistrict_office'))")


def upgrade():
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_organization_kind_place'), type_='check')
        batch_op.create_check_constraint(op.f('ck_organization_kind_place'), _kind_place(NEW_COMMUNITY_KINDS))

    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('volunteer_count', sa.Integer(), server_default='0', nullable=False))

    op.create_table('action_volunteer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('show_name', sa.Boolean(), nullable=False),
    sa.Column('signed_up_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('withdrawn_at', portal.clock.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['action.id'], name=op.f('fk_action_volunteer_action_id_action')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_action_volunteer_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_volunteer')),
    sa.UniqueConstraint('action_id', 'user_id', name=op.f('uq_action_volunteer_action_id_user_id'))
    )
    with op.batch_alter_table('action_volunteer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_volunteer_user_id'), ['user_id'], unique=False)

    op.execute(
        "UPDATE action SET status = 'in_progress', started_at = COALESCE(started_at, ("
        "SELECT MIN(COALESCE(step.started_at, step.done_at, step.created_at)) FROM action AS step"
        " WHERE step.parent_id = action.id AND (step.status IN ('in_progress', 'done')"
        " OR step.started_at IS NOT NULL)))"
        " WHERE status = 'planned' AND EXISTS (SELECT 1 FROM action AS step WHERE step.parent_id = action.id"
        " AND (step.status IN ('in_progress', 'done') OR step.started_at IS NOT NULL))")


def downgrade():
    with op.batch_alter_table('action_volunteer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_volunteer_user_id'))
    op.drop_table('action_volunteer')

    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_column('volunteer_count')

    # Refused (the constraint fails) while organizations of the new kinds exist: they are not deleted silently.
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_organization_kind_place'), type_='check')
        batch_op.create_check_constraint(op.f('ck_organization_kind_place'), _kind_place(OLD_COMMUNITY_KINDS))
