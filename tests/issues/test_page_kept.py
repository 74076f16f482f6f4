"""An issue's page reads its photos, its short link's code and the actions that include it once per version of
the community (portal.versions.remember_each) and never shows them stale: a photo added or removed, a link
made, an action made from the issue or moved on, each shows on the next view."""
import re
from datetime import timedelta

from portal.extensions import db
from portal.sharing import ShortLink
from tests.issues import gen_issue
from tests.issues.test_services import tiny_png
from tests.queries import assert_read_with_its_community, recorded_statements


def view(client, issue):
    response = client.get(f"/c/{issue.community.slug}/issues/{issue.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def photos_shown(page):
    return len(re.findall(r'<img src="/issues/photos/[^"]+', page))


def test_a_second_view_reads_no_photo_short_link_nor_action(client, auth, world):
    from portal.issues import services
    issue = gen_issue(world, photos=[tiny_png()])
    services.accept_issue(world.property_x, issue)
    db.session.commit()
    auth.login(world.neighbour)
    first = view(client, issue)  # makes the short link (committed after the page)
    view(client, issue)
    with recorded_statements() as statements:
        again = view(client, issue)
    read = " ".join(statements)
    assert "FROM issue_photo" not in read and "FROM short_link" not in read and "FROM action " not in read
    assert photos_shown(again) == photos_shown(first) == 1
    [code] = set(re.findall(r'href="http[^"]*/s/(\w+)"', again))
    assert db.session.scalar(db.select(ShortLink.code).where(ShortLink.target_id == issue.id)) == code


def test_photos_added_and_removed_show_on_the_next_view(client, auth, world):
    from portal.issues import services
    from portal.issues.models import IssuePhoto
    from portal.privacy.services import remove_photo_on_request
    issue = gen_issue(world, photos=[tiny_png()])
    services.accept_issue(world.property_x, issue)
    db.session.commit()
    auth.login(world.neighbour)
    assert photos_shown(view(client, issue)) == 1
    services.post_update(world.property_x, issue, "施工中", photos=[tiny_png(), tiny_png()])
    db.session.commit()
    assert photos_shown(view(client, issue)) == 3
    first = db.session.scalar(db.select(IssuePhoto).where(IssuePhoto.issue_id == issue.id).order_by(IssuePhoto.id))
    remove_photo_on_request(world.chair_x, first)
    db.session.commit()
    assert photos_shown(view(client, issue)) == 2


def test_a_link_made_by_a_view_changes_the_version_so_no_other_life_of_the_data_meets_its_code(client, auth,
                                                                                             world):
    from portal.places.models import Community
    issue = gen_issue(world)
    db.session.commit()
    before = db.session.get(Community, issue.community_id).content_version
    auth.login(world.neighbour)
    view(client, issue)
    db.session.expire_all()
    assert db.session.get(Community, issue.community_id).content_version != before
    assert db.session.scalar(db.select(ShortLink).where(ShortLink.target_id == issue.id)) is not None


# --- the page below the title, kept for residents and visitors --------------------------------------------

def accepted_with_update(world, body="We called the lift company; they come on Monday."):
    from portal.issues import services
    issue = gen_issue(world)
    services.accept_issue(world.property_x, issue)
    services.post_update(world.property_x, issue, body)
    db.session.commit()
    return issue


def test_a_residents_second_view_reads_no_timeline(client, auth, world):
    issue = accepted_with_update(world)
    auth.login(world.neighbour)
    first = view(client, issue)  # makes the short link, which changes the version
    view(client, issue)
    with recorded_statements() as statements:
        view(client, issue)
    read = " ".join(statements)
    assert "FROM issue_event" not in read and "FROM issue_photo" not in read and "FROM short_link" not in read
    assert "they come on Monday" in first


def test_every_change_shows_on_the_next_view(client, auth, world):
    from portal.auth.services import update_profile
    from portal.issues import services
    issue = accepted_with_update(world)
    auth.login(world.neighbour)
    assert "they come on Monday" in view(client, issue)
    services.post_update(world.property_x, issue, "The new cable is fitted.")
    db.session.commit()
    assert "The new cable is fitted." in view(client, issue)
    update_profile(world.property_x, world.property_x, display_name="Lift Team Lead", locale=None,
                   large_text=False)
    db.session.commit()
    assert "Lift Team Lead" in view(client, issue)
    services.resolve_issue(world.property_x, issue, "Fixed for good.")
    db.session.commit()
    page = view(client, issue)
    assert "Fixed for good." in page and "Resolved" in page


def test_the_clock_moves_the_times_and_the_deadlines_with_nothing_written(client, auth, world, monkeypatch):
    import portal.clock
    from portal.clock import utcnow
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.neighbour)
    view(client, issue)  # makes the short link, which changes the version
    page = view(client, issue)
    assert "1 minute ago" in page and "Overdue" not in page
    later = max(issue.respond_by, utcnow()) + timedelta(hours=2)
    monkeypatch.setattr(portal.clock, "utcnow", lambda: later)
    page = view(client, issue)
    assert "1 minute ago" not in page and "Overdue" in page


def test_viewers_who_may_do_more_never_get_the_kept_page(client, auth, world):
    from portal.issues import services
    issue = accepted_with_update(world)
    services.resolve_issue(world.property_x, issue, "Fixed.")
    db.session.commit()
    auth.login(world.neighbour)
    kept = view(client, issue)
    assert "Rate the result" not in kept and "Handle this issue" not in kept and "Hide…" not in kept
    for person, shows in ((world.reporter, "Rate the result"), (world.property_x, "Handle this issue"),
                          (world.chair_x, "Hide…")):
        auth.logout()
        auth.login(person)
        assert shows in view(client, issue), person.display_name
    auth.logout()
    page = view(client, issue)  # a visitor: the kept page, with no support button nor "Report"
    assert "Fixed." in page and "Me too" not in page and "flag-control" not in page


def test_the_support_block_and_report_controls_are_each_viewers_own(client, auth, world):
    from portal.moderation import services as moderation
    from tests.conftest import Auth
    issue = accepted_with_update(world)
    update = issue.events[-1]
    auth.login(world.neighbour)
    page = view(client, issue)
    assert "Me too" in page and f'id="flag-issue_update-{update.id}"' in page and "flag-done" not in page
    [token] = set(re.findall(r'name="csrf_token" value="([^"]+)"', page))
    response = client.post(f"/c/x/issues/{issue.id}/support", data={"csrf_token": token})
    assert response.status_code in (200, 302, 303)
    moderation.flag(world.neighbour, "issue_update", update, "spam")
    db.session.commit()
    page = view(client, issue)
    assert "You support this issue." in page and "Me too" not in page
    assert re.search(rf'flag-done" id="flag-issue_update-{update.id}"', page)
    other = client.application.test_client()
    Auth(other).login(world.resident_y)  # another community's resident: may not support nor report here
    page = view(other, issue)
    assert "Me too" not in page and "You support" not in page and "flag-control" not in page
    assert "they come on Monday" in page


def test_a_hidden_update_is_read_for_each_viewer(client, auth, world):
    from portal.moderation import services as moderation
    issue = accepted_with_update(world, body="Rude words about the neighbour")
    moderation.hide(world.chair_x, "issue_update", issue.events[-1], "Names a neighbour")
    db.session.commit()
    auth.login(world.neighbour)
    for _ in range(2):  # the first makes the short link
        assert "Rude words" not in view(client, issue)
    with recorded_statements() as statements:
        assert "Rude words" not in view(client, issue)
    assert "FROM issue_event" in " ".join(statements)


def test_hiding_an_update_shows_on_the_next_view(client, auth, world):
    from portal.moderation import services as moderation
    issue = accepted_with_update(world, body="Rude words about the neighbour")
    auth.login(world.neighbour)
    for _ in range(2):
        assert "Rude words" in view(client, issue)
    moderation.hide(world.chair_x, "issue_update", issue.events[-1], "Names a neighbour")
    db.session.commit()
    page = view(client, issue)
    assert "Rude words" not in page and "Names a neighbour" in page


def test_a_report_shows_as_reported_on_the_next_view(client, auth, world):
    from portal.moderation import services as moderation
    issue = accepted_with_update(world)
    update = issue.events[-1]
    auth.login(world.neighbour)
    for _ in range(2):  # the first makes the short link
        page = view(client, issue)
    assert f'id="flag-issue_update-{update.id}"' in page and "flag-done" not in page
    moderation.flag(world.neighbour, "issue_update", update, "spam")
    db.session.commit()
    assert re.search(rf'flag-done" id="flag-issue_update-{update.id}"', view(client, issue))


def test_the_issue_is_read_with_its_community_and_found_only_under_its_own(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    # The kept page (a visitor, a resident) and the page drawn in full (a handler).
    assert_read_with_its_community(client, auth, f"/c/{world.x.slug}/issues/{issue.id}", "issue",
                                   (None, world.neighbour, world.property_x))
    assert client.get(f"/c/{world.y.slug}/issues/{issue.id}").status_code == 404
    assert client.post(f"/c/{world.y.slug}/issues/{issue.id}/support").status_code in (400, 404)
