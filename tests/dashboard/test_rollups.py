"""The rollups (portal.dashboard.rollups) equal the direct computation from the issues: on hand-made data
with known answers, after random sequences of issue transitions through the real services (across month
boundaries and time zones), after bulk statements, deletions, a time-zone change, and after a rebuild.
Runs on SQLite and, with TEST_DATABASE_URL, PostgreSQL."""
import random
from datetime import UTC, datetime, timedelta

import pytest

from portal.dashboard import rollups
from portal.dashboard import services as S
from portal.dashboard.models import ALL_COUNTS, COUNTS, IssueBuildingRollup, IssueDuration, IssueRollup
from portal.errors import DomainError
from portal.extensions import db
from portal.issues import services as issues
from portal.issues.models import OPEN_STATES, Issue
from portal.places.models import Community
from tests.dashboard.test_figures import NOW, filters, rated, w  # noqa: F401
from tests.factories import gen_building
from tests.issues.conftest import world  # noqa: F401

UTC = UTC


def stored() -> dict:
    """The rollup table, rows that count nothing left out."""
    t = IssueRollup.__table__
    out = {}
    for row in db.session.execute(db.select(t)).mappings():
        values = tuple(row[c] for c in ALL_COUNTS)
        if any(values):
            out[(row["community_id"], row["category_id"], row["org_key"], row["month"])] = values
    return out


def recounted() -> dict:
    """The same table computed from scratch from every issue."""
    out = {}
    stmt = db.select(Issue, Community.time_zone).join(Community, Community.id == Issue.community_id)
    for issue, zone in db.session.execute(stmt):
        found = rollups.contribution(issue, zone)
        if found is not None:
            key, values = found
            out[key] = tuple(a + b for a, b in zip(out.get(key, (0,) * len(ALL_COUNTS)), values))
    return out


def buildings_stored() -> dict:
    """The building rollup table, rows that count nothing left out."""
    t = IssueBuildingRollup.__table__
    rows = db.session.execute(db.select(t)).mappings()
    return {(r["community_id"], r["month"], r["building_id"], r["category_id"], r["org_key"]): r["issues"]
            for r in rows if r["issues"]}


def buildings_recounted() -> dict:
    out = {}
    stmt = db.select(Issue, Community.time_zone).join(Community, Community.id == Issue.community_id)
    for issue, zone in db.session.execute(stmt):
        key = rollups.building_key(issue, zone)
        if key is not None:
            out[key] = out.get(key, 0) + 1
    return out


def durations() -> dict:
    t = IssueDuration.__table__
    return {row["issue_id"]: tuple(row[c.name] for c in t.c) for row in db.session.execute(db.select(t)).mappings()}


def recounted_durations() -> dict:
    out = {}
    stmt = db.select(Issue, Community.time_zone).join(Community, Community.id == Issue.community_id)
    for issue, zone in db.session.execute(stmt):
        if issue.status != "duplicate":
            row = rollups.duration_row(issue.id, issue, zone)
            out[issue.id] = tuple(row[c.name] for c in IssueDuration.__table__.c)
    return out


def assert_kept():
    assert stored() == recounted()
    assert buildings_stored() == buildings_recounted()
    assert durations() == recounted_durations()


def assert_rates_equal_direct(f, now):
    from flask import current_app
    assert S.three_rates(f, now=now) == S.three_rates_direct(f, now=now)
    assert S.removed_by_appeal_count(f) == S.removed_by_appeal_count_direct(f)
    setting = current_app.config.get("WORK_ORDER_EXTENSION_ON_TIME", False)
    try:
        for extension_on_time in (False, True):
            current_app.config["WORK_ORDER_EXTENSION_ON_TIME"] = extension_on_time
            assert S.work_orders_on_time(f) == S.work_orders_on_time_direct(f)
    finally:
        current_app.config["WORK_ORDER_EXTENSION_ON_TIME"] = setting
    assert S.medians(f) == S.medians_direct(f)
    for month in (f.month_from, f.month_to):
        assert S.hotspots(f, month) == S.hotspots_direct(f, month)


# --- hand-made data with known answers --------------------------------------------------------------------

def test_rollup_rows_of_known_issues(rated):
    w = rated
    jan, feb, dec = 2026 * 12, 2026 * 12 + 1, 2026 * 12  # 2025-12-31 17:00 UTC is January in Shanghai
    assert dec == jan
    rows = stored()
    # i1 (in time, resolved, satisfied), i2 (late, not resolved, dissatisfied), i3 (no response), i7 (in time)
    assert rows[(w.a.id, w.a_lift.id, w.pc.id, jan)][:len(COUNTS)] == (3, 2, 1, 1, 2, 1, 2)
    assert rows[(w.a.id, w.a_lift.id, 0, jan)][:len(COUNTS)] == (1, 1, 1, 0, 0, 0, 0)
    # i4 counted, i5 (a duplicate) left out
    assert rows[(w.a.id, w.a_water.id, w.dept.id, feb)][:len(COUNTS)] == (1, 1, 1, 1, 1, 1, 1)
    # i8 is April in Shanghai
    assert rows[(w.a.id, w.a_lift.id, 0, 2026 * 12 + 3)][:len(COUNTS)] == (1, 1, 1, 0, 0, 0, 0)
    assert rows == recounted()
    # i1: first response after 1 h, resolved after 10 h; i3 not yet
    assert durations()[w.i1.id][-2:] == (3600, 36000)
    assert durations()[w.i3.id][-2:] == (None, None)
    assert w.i5.id not in durations()


def test_late_response_part_moves_with_the_clock_not_the_rollups(rated):
    w = rated
    before = S.three_rates(filters(w), now=NOW)
    # i6 was submitted at 00:00 on 15 March: its respond-by passes a day later.
    later = NOW + timedelta(days=1)
    after = S.three_rates(filters(w), now=later)
    assert after["overall"][0].response.denominator == before["overall"][0].response.denominator + 1
    assert after["overall"][0].response.numerator == before["overall"][0].response.numerator
    for now in (NOW, later):
        assert_rates_equal_direct(filters(w), now)


def test_filters_read_the_same_as_the_direct_computation(rated):
    w = rated
    for f in (filters(w), filters(w, communities=[w.a]), filters(w, category_code="lift"),
              filters(w, category_id=w.a_water.id), filters(w, org_id=w.pc.id), filters(w, f="2026-02", t="2026-02"),
              filters(w, f="2025-11", t="2026-04")):
        assert_rates_equal_direct(f, NOW)


def test_an_issue_turned_duplicate_and_deleted_leaves_its_bucket(rated):
    w = rated
    w.i1.status = "duplicate"
    db.session.commit()
    db.session.delete(w.i4)
    db.session.commit()
    assert_kept()
    assert_rates_equal_direct(filters(w), NOW)


def test_bulk_update_and_delete_statements_are_followed(rated):
    w = rated
    db.session.execute(db.update(Issue).where(Issue.community_id == w.a.id)
                       .values(rating_resolved=True, rating_satisfaction="satisfied"))
    db.session.commit()
    assert_kept()
    db.session.execute(db.update(Issue).where(Issue.id == w.i2.id).values(first_response_at=None))
    db.session.execute(db.delete(Issue).where(Issue.id == w.i7.id))
    db.session.commit()
    assert_kept()
    assert_rates_equal_direct(filters(w), NOW)


def test_a_time_zone_change_moves_issues_between_months(rated):
    w = rated
    w.a.time_zone = "UTC"  # i7 (31 December 17:00 UTC) moves to December, i8 back to March
    db.session.commit()
    assert_kept()
    rates = S.three_rates(filters(w), now=NOW)
    assert [r.issues for r in rates["month"]] == [r.issues for r in S.three_rates_direct(filters(w), now=NOW)["month"]]
    assert_rates_equal_direct(filters(w), NOW)


def test_a_rolled_back_change_leaves_the_rollups_as_they_were(rated):
    w = rated
    before = stored()
    w.i3.first_response_at = NOW
    db.session.flush()
    assert stored() != before
    db.session.rollback()
    assert stored() == before == recounted()
    assert buildings_stored() == buildings_recounted()
    assert durations() == recounted_durations()


def test_rebuild_gives_the_same_rows(rated):
    w = rated
    for issue, building in ((w.i1, w.b1), (w.i2, w.b1), (w.i4, w.b2)):
        if issue.community_id == building.community_id:
            issue.building = building
    db.session.commit()
    kept, kept_buildings = stored(), buildings_stored()
    assert kept_buildings
    db.session.execute(IssueRollup.__table__.delete())
    db.session.execute(IssueBuildingRollup.__table__.delete())
    assert stored() == {} and buildings_stored() == {}
    assert rollups.rebuild_rollups() > 0
    db.session.commit()
    assert stored() == kept == recounted()
    assert buildings_stored() == kept_buildings == buildings_recounted()
    assert durations() == recounted_durations()


def test_rebuild_command(app, rated):
    db.session.execute(IssueRollup.__table__.delete())
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["dashboard", "rebuild-rollups"])
    assert result.exit_code == 0 and "8 issues counted" in result.output
    assert_kept()


# --- random transitions through the real services --------------------------------------------------------

def _random_step(rng, w, now):
    """One random thing that happens to issues; False when the chosen step does not apply."""
    mine = db.session.execute(db.select(Issue).order_by(Issue.id)).scalars().all()
    kind = rng.choice(["report", "report", "move", "accept", "hand_over", "take_over", "start", "update", "resolve",
                       "reject", "merge", "rate", "due", "close_unrated", "support", "hotline", "appeal", "extend"])
    if kind == "report" or not mine:
        community, reporter = rng.choice([(w.x, w.reporter), (w.x, w.neighbour), (w.y, w.resident_y)])
        category = rng.choice(issues.categories_for(community))
        building = rng.choice([None, *w.buildings[community.id]])
        issues.report_issue(reporter, community, category=category, title="Random", building=building, now=now)
        return True
    issue = rng.choice(mine)
    if kind == "move":  # another building of its community, or none
        issue.building = rng.choice([None, *w.buildings[issue.community_id]])
    elif kind == "accept":
        issues.accept_issue(w.official_a, issue, now=now)
    elif kind == "hand_over":
        issues.hand_over(w.official_a, issue, w.dept_a, "Theirs", now=now)
    elif kind == "take_over":
        issues.accept_handover(w.department_a, issue, now=now)
    elif kind == "start":
        issues.start_work(w.official_a, issue, now=now)
    elif kind == "update":
        issues.post_update(w.official_a, issue, "Working on it", public=rng.random() < 0.7, now=now)
    elif kind == "resolve":
        issues.resolve_issue(w.official_a, issue, "Done", now=now)
    elif kind == "reject":
        issues.reject_issue(w.official_a, issue, "Not ours", now=now)
    elif kind == "merge":
        into = [i for i in mine if i.id != issue.id and i.community_id == issue.community_id
                and i.status in OPEN_STATES]
        if not into:
            return False
        issues.merge_duplicate(w.official_a, issue, rng.choice(into), now=now)
    elif kind == "rate":
        issues.rate_issue(issue.reporter, issue, resolved=rng.random() < 0.7,
                          satisfaction=rng.choice(["satisfied", "basically_satisfied", "dissatisfied"]), now=now)
    elif kind == "due":
        issues.apply_due(issue, now=now)
    elif kind == "close_unrated":
        issues.close_unrated(now)
    elif kind == "support":
        issues.support_issue(w.neighbour, issue, now=now)
    # What the rollups' work-order and appeal counts follow, set straight on the issue (the work-order
    # services have their own tests in tests/issues/test_workorder.py).
    elif kind == "hotline":  # resolved at a random time around its deadlines, so that every count moves
        issue.source = "hotline" if issue.source != "hotline" else "portal"
        if issue.resolved_at is None and rng.random() < 0.7:
            issue.resolved_at = issue.resolve_by + timedelta(hours=rng.choice([-100, -1, 0, 1, 30]))
    elif kind == "appeal":
        issue.rating_excluded = not issue.rating_excluded
    elif kind == "extend":
        if issue.original_resolve_by is None:
            issue.original_resolve_by = issue.resolve_by
        issue.resolve_by = issue.resolve_by + timedelta(hours=rng.choice([-30, 5, 50]))
    return True


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_transitions_keep_rollups_equal_to_the_direct_computation(world, seed):
    w = world
    rng = random.Random(seed)
    w.y.time_zone = rng.choice(["America/New_York", "Europe/London", "Asia/Kolkata"])
    issues.ensure_default_categories(w.y)
    w.buildings = {c.id: [gen_building(c, code=f"{c.id}-{k}") for k in range(2)] for c in (w.x, w.y)}
    db.session.commit()
    # From just before a month boundary in Shanghai (16:00 UTC on the last day is midnight there), across
    # several months.
    now = datetime(2026, 1, 31, 15, 0, tzinfo=UTC) + timedelta(minutes=rng.randrange(120))
    applied = 0
    for step in range(90):
        now += timedelta(minutes=rng.choice([5, 30, 90, 600, 1500, 4000]))
        try:
            applied += bool(_random_step(rng, w, now))
            db.session.commit()
        except DomainError:
            db.session.rollback()
        if step % 15 == 14:
            assert stored() == recounted() and durations() == recounted_durations(), f"after step {step}"
            assert buildings_stored() == buildings_recounted(), f"after step {step}"
    assert applied > 30
    assert_kept()
    whole = S.Filters(sub_district=w.sd_a, month_from=S.parse_month("2026-01"), month_to=S.parse_month("2026-06"))
    for f in (whole, S.Filters(**{**whole.__dict__, "communities": [w.y]}),
              S.Filters(**{**whole.__dict__, "category_code": "lift"}),
              S.Filters(**{**whole.__dict__, "org_id": w.pc_x.id}),
              S.Filters(**{**whole.__dict__, "month_from": S.parse_month("2026-02"),
                           "month_to": S.parse_month("2026-02")})):
        for at in (now - timedelta(days=3), now, now + timedelta(days=30)):
            assert_rates_equal_direct(f, at)
    # a time-zone change after all that
    w.x.time_zone = "Pacific/Auckland"
    db.session.commit()
    assert_kept()
    assert_rates_equal_direct(whole, now)


def test_deleting_every_issue_empties_the_rollups(rated):
    db.session.execute(Issue.__table__.delete())
    db.session.commit()
    assert stored() == {} and durations() == {} and buildings_stored() == {}
