"""Migration f5a1b2c3d4e5 backfills the rollups' appeal and work-order counts: on issues written at head,
downgraded one step (the columns go) and upgraded again, the rollup rows equal the direct computation. Runs on
SQLite and on PostgreSQL (TEST_DATABASE_URL), from an empty database."""
from datetime import UTC, datetime, timedelta

from flask_migrate import downgrade, upgrade

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db
from tests.dashboard.test_rollups import recounted, stored
from tests.factories import gen_community, gen_user
from tests.test_migrations import empty_database_url  # noqa: F401  (fixture)

H = timedelta(hours=1)


def test_the_backfill_counts_appeals_and_work_orders_as_the_rollups_do(empty_database_url):
    from portal.dashboard import services as S
    from portal.issues.models import Issue, IssueCategory
    app = create_app(TestConfig(database_url=empty_database_url))
    with app.app_context():
        upgrade()
        community = gen_community(time_zone="Asia/Shanghai")
        reporter = gen_user()
        category = IssueCategory(community_id=community.id, code="lift", name="Lift", respond_hours=24,
                                 resolve_hours=168)
        db.session.add(category)
        db.session.flush()
        at = datetime(2026, 1, 31, 17, 0, tzinfo=UTC)  # 1 February in Shanghai
        for n, (source, resolved, extended, excluded) in enumerate([
                ("hotline", 10 * H, False, False), ("hotline", 200 * H, True, False),
                ("hotline", 300 * H, True, True), ("hotline", None, False, False), ("portal", 5 * H, False, True),
                ("hotline", 170 * H, False, False)]):
            submitted = at + n * 24 * H
            resolve_by = submitted + 168 * H
            db.session.add(Issue(
                community_id=community.id, category_id=category.id, title=f"Issue {n}", reporter_id=reporter.id,
                source=source, status="closed" if resolved else "accepted", submitted_at=submitted,
                respond_by=submitted + 24 * H, first_response_at=submitted + H,
                resolve_by=resolve_by + (72 * H if extended else 0 * H),
                original_resolve_by=resolve_by if extended else None,
                resolved_at=submitted + resolved if resolved else None, rating_excluded=excluded))
        db.session.commit()
        sub_district_id = community.sub_district_id
        kept = stored()
        assert kept == recounted()
        db.session.remove()  # its transaction would hold the lock the migration's ALTER TABLE waits for
        downgrade(revision="e6a1b2c3d4e5")
        upgrade()
        assert stored() == kept == recounted()
        from portal.places.models import SubDistrict
        f = S.Filters(sub_district=db.session.get(SubDistrict, sub_district_id), month_from=S.parse_month("2026-02"),
                      month_to=S.parse_month("2026-02"))
        assert S.work_orders_on_time(f) == S.work_orders_on_time_direct(f) == {"resolved": 4, "on_time": 1,
                                                                                 "extended": 2}
        assert S.removed_by_appeal_count(f) == S.removed_by_appeal_count_direct(f) == 2
        db.session.remove()
        db.engine.dispose()
