"""insight (issue #22): the month's topics (每月一题) with their issues, the month's problem, programmes (专项)
with their communities; actions serving a programme (source "programme", action.programme_id)

Revision ID: f1a1b2c3d4e5
Revises: e6a1b2c3d4e5
Create Date: 2026-12-06 11:04:44.916197

"""
from alembic import op
import sqlalchemy as sa

import portal.clock  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'f1a1b2c3d4e5'
down_revision = 'e6a1b2c3d4e5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('topic_run',
    sa.Column('sub_district_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('computed_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('issues', sa.Integer(), nullable=False),
    sa.Column('topics', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['sub_district_id'], ['sub_district.id'], name=op.f('fk_topic_run_sub_district_id_sub_district')),
    sa.PrimaryKeyConstraint('sub_district_id', 'month', name=op.f('pk_topic_run'))
    )
    op.create_table('topic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sub_district_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('words', sa.String(length=200), nullable=False),
    sa.Column('representative_id', sa.Integer(), nullable=False),
    sa.Column('issues', sa.Integer(), nullable=False),
    sa.Column('community_ids', sa.JSON(), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=True),
    sa.Column('trend', sa.JSON(), nullable=False),
    sa.CheckConstraint('issues >= 0', name=op.f('ck_topic_issues')),
    sa.ForeignKeyConstraint(['representative_id'], ['issue.id'], name=op.f('fk_topic_representative_id_issue')),
    sa.ForeignKeyConstraint(['sub_district_id'], ['sub_district.id'], name=op.f('fk_topic_sub_district_id_sub_district')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic'))
    )
    with op.batch_alter_table('topic', schema=None) as batch_op:
        batch_op.create_index('ix_topic_sub_district_month', ['sub_district_id', 'month'], unique=False)

    op.create_table('month_problem',
    sa.Column('sub_district_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('chosen_by_id', sa.Integer(), nullable=False),
    sa.Column('chosen_at', portal.clock.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['chosen_by_id'], ['user.id'], name=op.f('fk_month_problem_chosen_by_id_user')),
    sa.ForeignKeyConstraint(['sub_district_id'], ['sub_district.id'], name=op.f('fk_month_problem_sub_district_id_sub_district')),
    sa.ForeignKeyConstraint(['topic_id'], ['topic.id'], name=op.f('fk_month_problem_topic_id_topic')),
    sa.PrimaryKeyConstraint('sub_district_id', 'month', name=op.f('pk_month_problem'))
    )
    op.create_table('programme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sub_district_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=True),
    sa.Column('words', sa.String(length=200), nullable=False),
    sa.Column('baseline', sa.Integer(), nullable=False),
    sa.Column('target', sa.Integer(), nullable=False),
    sa.Column('start_month', sa.Integer(), nullable=False),
    sa.Column('target_month', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('settled_at', portal.clock.UTCDateTime(), nullable=True),
    sa.CheckConstraint("category_code IS NOT NULL OR words != ''", name=op.f('ck_programme_rule')),
    sa.CheckConstraint("status IN ('open', 'achieved', 'missed', 'closed')", name=op.f('ck_programme_status')),
    sa.CheckConstraint('baseline >= 0 AND target >= 0 AND target_month > start_month', name=op.f('ck_programme_target')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_programme_created_by_id_user')),
    sa.ForeignKeyConstraint(['sub_district_id'], ['sub_district.id'], name=op.f('fk_programme_sub_district_id_sub_district')),
    sa.ForeignKeyConstraint(['topic_id'], ['topic.id'], name=op.f('fk_programme_topic_id_topic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme'))
    )
    with op.batch_alter_table('programme', schema=None) as batch_op:
        batch_op.create_index('ix_programme_sub_district_status', ['sub_district_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_programme_topic_id'), ['topic_id'], unique=False)

    op.create_table('topic_issue',
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['issue_id'], ['issue.id'], name=op.f('fk_topic_issue_issue_id_issue')),
    sa.ForeignKeyConstraint(['topic_id'], ['topic.id'], name=op.f('fk_topic_issue_topic_id_topic')),
    sa.PrimaryKeyConstraint('topic_id', 'issue_id', name=op.f('pk_topic_issue'))
    )
    with op.batch_alter_table('topic_issue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topic_issue_issue_id'), ['issue_id'], unique=False)

    op.create_table('programme_community',
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_programme_community_community_id_community')),
    sa.ForeignKeyConstraint(['programme_id'], ['programme.id'], name=op.f('fk_programme_community_programme_id_programme')),
    sa.PrimaryKeyConstraint('programme_id', 'community_id', name=op.f('pk_programme_community'))
    )
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('programme_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_action_programme_id'), ['programme_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_action_programme_id_programme'), 'programme', ['programme_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_action_source'), type_='check')
        batch_op.create_check_constraint(op.f('ck_action_source'), ACTION_SOURCE.format(programme=", 'programme'"))


ACTION_SOURCE = "source IN ('proposal', 'decision', 'issue', 'hotspot', 'forecast'{programme})"


def downgrade():
    # What the older schema cannot name keeps its rows: an action created for a programme reads as from a
    # hotspot (it has no building, as a forecast's action).
    op.execute("UPDATE action SET source = 'hotspot' WHERE source = 'programme'")
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_action_source'), type_='check')
        batch_op.create_check_constraint(op.f('ck_action_source'), ACTION_SOURCE.format(programme=""))
        batch_op.drop_constraint(batch_op.f('fk_action_programme_id_programme'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_action_programme_id'))
        batch_op.drop_column('programme_id')

    op.drop_table('programme_community')
    with op.batch_alter_table('topic_issue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topic_issue_issue_id'))

    op.drop_table('topic_issue')
    with op.batch_alter_table('programme', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programme_topic_id'))
        batch_op.drop_index('ix_programme_sub_district_status')

    op.drop_table('programme')
    op.drop_table('month_problem')
    with op.batch_alter_table('topic', schema=None) as batch_op:
        batch_op.drop_index('ix_topic_sub_district_month')

    op.drop_table('topic')
    op.drop_table('topic_run')
