"""An issue's page reads its photos, its short link's code and the actions that include it once per version of
the community (portal.versions.remember_each) and never shows them stale: a photo added or removed, a link
made, an action made from the issue or moved on, each shows on the next view."""
import re

from portal.extensions import db
from portal.sharing import ShortLink
from tests.issues import gen_issue
from tests.issues.test_services import tiny_png
from tests.queries import recorded_statements


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
