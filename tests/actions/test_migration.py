"""Migration 7a8b9c0d1e20 backfills what the services now keep: a planned action whose step has started or is
done becomes in progress (started when its earliest such step did), others keep their status; every action's
volunteer count starts at 0. Runs on SQLite and on PostgreSQL (TEST_DATABASE_URL), from an empty database."""
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db
from tests.test_migrations import empty_database_url  # noqa: F401  (fixture)

BEFORE = "4d5e6f7a8b90"


def test_planned_actions_with_a_started_step_become_in_progress(empty_database_url):
    app = create_app(TestConfig(database_url=empty_database_url))
    with app.app_context():
        upgrade(revision=BEFORE)
        with db.engine.begin() as conn:
            meta = sa.MetaData()
            table = {name: sa.Table(name, meta, autoload_with=conn)
                     for name in ("sub_district", "community", "user", "organization", "action")}
            at = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
            sd = conn.execute(table["sub_district"].insert().values(name="望京街道", slug="wj")).inserted_primary_key[0]
            c = conn.execute(table["community"].insert().values(
                sub_district_id=sd, name="花家地社区", slug="hjd", time_zone="Asia/Shanghai",
                members_only=False)).inserted_primary_key[0]
            u = conn.execute(table["user"].insert().values(
                display_name="王主任", phone="13800000010", password_hash="x", large_text=False, is_admin=False,
                is_active_account=True,
                consented_at=at, consent_in_person=False, created_at=at,
                password_changed_at=at)).inserted_primary_key[0]
            org = conn.execute(table["organization"].insert().values(
                kind="property_company", name="物业", community_id=c)).inserted_primary_key[0]

            def action(title, status, parent=None, started=None):
                return conn.execute(table["action"].insert().values(
                    community_id=c, title=title, description="", source="hotspot", responsible_org_id=org,
                    due_date=date(2026, 12, 31), status=status, progress=0, progress_set_by_hand=False,
                    created_by_id=u, created_at=at, parent_id=parent, started_at=started,
                    blocked_reason="等待" if status == "blocked" else None)).inserted_primary_key[0]
            started_parent = action("planned, a step running", "planned")
            action("running step", "in_progress", started_parent, started=datetime(2026, 11, 3, tzinfo=UTC))
            action("planned step", "planned", started_parent)
            quiet_parent = action("planned, no step started", "planned")
            action("planned step", "planned", quiet_parent)
            blocked_parent = action("blocked, a step running", "blocked")
            action("running step", "in_progress", blocked_parent, started=datetime(2026, 11, 4, tzinfo=UTC))
        upgrade()
        with db.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(sa.text(
                "SELECT id, status, started_at, volunteer_count FROM action"))}
        assert rows[started_parent].status == "in_progress" and rows[started_parent].started_at is not None
        assert rows[quiet_parent].status == "planned" and rows[quiet_parent].started_at is None
        assert rows[blocked_parent].status == "blocked"
        assert {r.volunteer_count for r in rows.values()} == {0}
        db.engine.dispose()
