"""dashboard indexes: the issue list index carries the dashboard's columns (PostgreSQL), open issues

Revision ID: c0e1d2a3b4f5
Revises: 57f20324e2c0
Create Date: 2026-12-01 17:10:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'c0e1d2a3b4f5'
down_revision = '57f20324e2c0'
branch_labels = None
depends_on = None

DASHBOARD_COLUMNS = ["status", "category_id", "handling_org_id", "building_id", "first_response_at", "respond_by",
                     "resolved_at", "rating_resolved", "rating_satisfaction"]


def _recreate(include):
    # SQLite has no INCLUDE: there the index stays (community_id, submitted_at, id).
    if op.get_context().dialect.name != "postgresql":
        return
    op.drop_index("ix_issue_community_submitted", table_name="issue")
    op.create_index("ix_issue_community_submitted", "issue", ["community_id", "submitted_at", "id"],
                    postgresql_include=include)


OPEN_WHERE = "status IN ('submitted', 'accepted', 'in_progress', 'reopened')"


def upgrade():
    _recreate(DASHBOARD_COLUMNS)
    op.create_index("ix_issue_open", "issue", ["community_id"],
                    postgresql_include=["first_response_at", "respond_by", "resolve_by"],
                    postgresql_where=sa.text(OPEN_WHERE), sqlite_where=sa.text(OPEN_WHERE))


def downgrade():
    op.drop_index("ix_issue_open", table_name="issue")
    _recreate([])
