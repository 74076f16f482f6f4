"""The dashboard keeps its figures between requests under the versions of the communities in scope
(portal.versions) and never shows them stale: every kind of row it counts, written the way the portal writes
it, shows on the next view; the clock passing a deadline changes them with nothing written; ballots'
participation (votes change no version) is kept under the heads of the ballots' logs, read each time
(tests/votes/test_views.py); a community's committee member never gets the sub-district's figures, nor a
reader of Chinese the English ones."""
from datetime import timedelta

from portal.clock import utcnow
from portal.extensions import db
from tests.dashboard.conftest import add_issues
from tests.dashboard.test_views import _table_rows
from tests.queries import recorded_statements


def tables(client, path="/dashboard"):
    response = client.get(path)
    assert response.status_code == 200
    return _table_rows(response.get_data(as_text=True))


def overall(found):
    return found["The three rates"][1]


def open_overdue(found, community):
    return next(row for row in found["Open and overdue issues by community"][1:] if row[0] == community.name)


def test_a_second_view_reads_no_issue_nor_rollup(client, auth, world):
    auth.login(world.official_a)
    first = tables(client)
    with recorded_statements() as statements:
        assert tables(client) == first
    read = " ".join(statements)
    assert "issue_rollup" not in read and "issue_duration" not in read and "FROM issue " not in read
    assert "FROM ballot " in read and "ballot_voter" not in read  # the ballots' log heads only


def test_new_issues_responses_and_ratings_show_on_the_next_view(client, auth, world):
    auth.login(world.official_a)
    assert overall(tables(client))[1:4] == ["3", "2", "3"]
    issues = add_issues(world, 2, responded=False, rated=False)
    assert overall(tables(client))[1:4] == ["5", "2", "3"]
    issues[0].first_response_at = utcnow()
    db.session.commit()
    assert overall(tables(client))[1:4] == ["5", "3", "4"]


def test_the_clock_passing_a_respond_by_changes_the_figures_with_nothing_written(client, auth, world,
                                                                                  monkeypatch):
    import portal.clock
    import portal.dashboard.views
    auth.login(world.official_a)
    waiting = add_issues(world, 1, responded=False, rated=False)[0]
    waiting.respond_by = utcnow() + timedelta(hours=1)
    db.session.commit()
    before = tables(client)
    assert overall(before)[1:4] == ["4", "2", "3"] and open_overdue(before, world.x)[2] == "1"
    later = utcnow() + timedelta(hours=2)
    for module in (portal.clock, portal.dashboard.views):
        monkeypatch.setattr(module, "utcnow", lambda: later)
    after = tables(client)
    assert overall(after)[1:4] == ["4", "2", "4"] and open_overdue(after, world.x)[2] == "2"


def test_actions_departments_chases_and_summons_show_on_the_next_view(client, auth, world):
    from portal.actions import services as actions
    from portal.actions.models import Chase
    from portal.issues.models import IssueSummons
    auth.login(world.official_a)
    tables(client)
    action = actions.create_action(
        world.official_a, world.x, source="hotspot", title="Fix the lift of building X", responsible_org=world.dept_a,
        due_date=utcnow().date() + timedelta(days=30),
        hotspot={"building": world.bx, "category": world.categories["lift"], "month": utcnow().strftime("%Y-%m")})
    db.session.commit()
    rows = tables(client)["Overdue actions by responsible organization"]
    assert [world.dept_a.name, "1", "0"] in rows

    action.due_date = utcnow().date() - timedelta(days=2)
    db.session.commit()
    assert [world.dept_a.name, "1", "1"] in tables(client)["Overdue actions by responsible organization"]

    world.dept_a.name = "Housing and lifts department"
    db.session.commit()
    assert ["Housing and lifts department", "1", "1"] in tables(client)["Overdue actions by responsible organization"]

    issue = world.good[0]
    db.session.add(Chase(item_type="issue", item_id=issue.id, community_id=world.x.id,
                         organization_id=world.dept_a.id, official_id=world.official_a.id, note="Hurry up",
                         new_due=utcnow() + timedelta(days=1)))
    db.session.commit()
    assert ["Housing and lifts department", "1", "0", "1"] in tables(client)["Chases by organization"]

    db.session.add(IssueSummons(issue_id=issue.id, organization_id=world.dept_a.id, reason="Come and look",
                                report_by=utcnow() - timedelta(hours=1), summoned_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    found = tables(client)["Summoned organizations that reported in on time (whistle-blowing)"]
    assert ["Housing and lifts department", "0", "1", "0.0"] in found


def test_a_committee_member_never_gets_the_sub_district_figures(client, auth, world):
    auth.login(world.official_a)
    whole = tables(client)
    assert len(whole["By community"]) > 2
    auth.logout()
    auth.login(world.chair_x)
    own = tables(client)
    assert [row[0] for row in own["By community"][1:]] == [world.x.name]


def test_each_language_has_its_own_figures(client, auth, world):
    auth.login(world.official_a)
    assert "The three rates" in tables(client)
    page = client.get("/dashboard", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "The three rates" not in page and "“三率”" in page


def test_rebuilding_the_rollups_changes_the_versions(app, world):
    from portal.dashboard import rollups
    from portal.places.models import Community
    before = db.session.scalar(db.select(Community.content_version).where(Community.id == world.x.id))
    rollups.rebuild_rollups([world.x.id])
    db.session.commit()
    assert db.session.scalar(db.select(Community.content_version).where(Community.id == world.x.id)) != before


def test_figures_change_at_the_first_deadline_to_come(app, world):
    """A new day in the zone, else the first respond-by of an issue without a response, resolve-by of an open
    issue, report-by of an unreported summons (of an issue or an action) still to come."""
    from zoneinfo import ZoneInfo

    from portal.dashboard import services
    from portal.issues.models import IssueSummons
    now = utcnow()
    filters = services.Filters(sub_district=world.sd_a)
    local = now.astimezone(ZoneInfo(world.x.time_zone))
    midnight = (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(
        ZoneInfo("UTC"))
    assert services.figures_change_at(filters, now) == min(
        [midnight] + [i.resolve_by for i in world.late if i.resolve_by > now])

    soon = min(midnight, now + timedelta(hours=3))
    waiting = add_issues(world, 1, responded=False, rated=False)[0]
    waiting.respond_by = soon - timedelta(minutes=10)
    waiting.resolve_by = now + timedelta(days=30)
    for issue in world.late:
        issue.resolve_by = now + timedelta(days=30)
    db.session.commit()
    assert services.figures_change_at(filters, now) == waiting.respond_by

    responded = world.good[0]
    responded.status, responded.resolve_by = "in_progress", soon - timedelta(minutes=20)
    db.session.commit()
    assert services.figures_change_at(filters, now) == responded.resolve_by

    summons = IssueSummons(issue_id=responded.id, organization_id=world.dept_a.id, reason="Come",
                           report_by=soon - timedelta(minutes=30))
    db.session.add(summons)
    db.session.commit()
    assert services.figures_change_at(filters, now) == summons.report_by
    summons.reported_at = now
    db.session.commit()
    assert services.figures_change_at(filters, now) == responded.resolve_by
    # Another sub-district's deadlines are not the dashboard's.
    assert services.figures_change_at(services.Filters(sub_district=world.sd_b), now) > responded.resolve_by
