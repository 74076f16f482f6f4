"""Issue 19 in a phone browser (390 px): the homeowners' committee chair announces a lift retrofit decided
by the owners of one entrance (单元) only — building 5, entrance 2 — ticking that entrance on the form; a
building of the estate ticked by mistake under "listed entrances" is ignored, an empty list is refused with
the typing kept; the ballot page says who decides; the residents' committee is told; fifteen days later
voting opens and the electorate is that entrance's owners alone. (Printing the forms and entering paper
ballots belong to the paper ballots' own test.)"""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import form_with, sign_in, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_building,
    gen_community,
    gen_household,
    gen_membership,
    gen_organization,
    gen_user,
)
from tests.residents import gen_owner

pytestmark = pytest.mark.browser


def seed(live_server, label: str) -> dict:
    """Building 5 with two entrances of three owners each; a homeowners' committee and a residents'
    committee; a proposal in consultation."""
    from portal.proposals import services as proposals
    with live_server.app.app_context():
        community = gen_community(name=f"Magnolia Court {label}", slug=f"magnolia-{label}")
        building = gen_building(community, code="5", name="Building 5")
        hoa = gen_organization("homeowners_committee", community=community, name="Magnolia homeowners' committee")
        rc = gen_organization("residents_committee", community=community, name="Magnolia residents' committee")
        chair = gen_user(email=unique_email("lift-chair"), display_name="Chair Gao", phone=unique_phone())
        gen_membership(chair, hoa, title="chair")
        rc_chair = gen_user(email=unique_email("rc-chair"), display_name="RC chair Wang", phone=unique_phone())
        gen_membership(rc_chair, rc, title="chair")
        for entrance in ("1", "2"):
            for room in ("0101", "0201", "0301"):
                gen_owner(gen_household(building, entrance=entrance, room=room, area="80.00"),
                          name=f"Owner {entrance}-{room}", phone=unique_phone())
        proposal = proposals.create_proposal(
            chair, community, title="Add a lift to building 5, entrance 2",
            summary="Elderly owners of entrance 2 can hardly climb the stairs: add a lift on the north side.",
            body="Budget about 680,000 yuan, shared by floor.", category="facilities", publish=True)
        proposals.move_to_deliberation(chair, proposal, "The owners of entrance 2 asked together.")
        db.session.commit()
        return {"slug": community.slug, "chair": chair.email, "rc_chair_id": rc_chair.id,
                "proposal": f"/c/{community.slug}/proposals/{proposal.id}", "building_id": building.id}


def test_the_chair_announces_a_lift_ballot_for_one_entrance(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    chair = new_context().new_page()
    sign_in(chair, place["chair"], DEFAULT_PASSWORD)
    visit(chair, place["proposal"])
    chair.locator("main").get_by_role("link", name="Open a ballot").click()
    chair.locator("main").get_by_label("Homeowners' decision").check()
    chair.locator("main").get_by_role("button", name="Next").click()
    form = form_with(chair, "question")
    form.locator("[name=question]").fill("Add a lift to building 5, entrance 2 (about 680,000 yuan, shared by floor)?")
    form.get_by_label("(7) Rebuilding or reconstructing buildings and attached facilities").check()
    form.locator("[name=notice]").fill("The owners of building 5, entrance 2 decide. Vote online or on paper.")
    # Listed entrances, but none ticked: refused, with the typing kept.
    form.get_by_label("Listed entrances (单元)").check()
    form.get_by_role("button", name="Announce the ballot").click()
    form = form_with(chair, "question")
    expect(form).to_contain_text("Tick the entrances whose owners decide.")
    expect(form.locator("[name=question]")).to_have_value(re.compile("Add a lift"))
    # Tick entrance 2 (and building 5 by mistake: listed entrances use only the entrances).
    form.get_by_label("Building 5, entrance 2").check()
    form.get_by_label("Building 5", exact=True).check()
    for label in form.locator(".scope-places label").all():
        box = label.bounding_box()
        assert box["height"] >= 44 and box["x"] + box["width"] <= 390, label.inner_text()
    capture(chair, "ballot-new-scoped")
    form.get_by_role("button", name="Announce the ballot").click()
    expect(chair).to_have_url(re.compile(rf"/c/{place['slug']}/ballots/\d+$"))
    ballot_id = int(chair.url.rsplit("/", 1)[1])
    expect(chair.locator("main .ballot-scope")).to_have_text("Owners of Building 5, entrance 2")
    capture(chair, "ballot-announced-scoped")

    # The announcement is among the public notices.
    visit(chair, f"/c/{place['slug']}/notices")
    expect(chair.locator("main .owners-announcements")).to_contain_text("Owners of Building 5, entrance 2")

    from portal.clock import utcnow
    from portal.outbox import Notification
    from portal.votes import services
    from portal.votes.models import Ballot
    with live_server.app.app_context():
        told = db.session.scalars(db.select(Notification.recipient_id).where(
            Notification.event == "votes.announced_to_residents_committee",
            Notification.object_id == ballot_id)).all()
        assert told == [place["rc_chair_id"]]
        ballot = db.session.get(Ballot, ballot_id)
        assert [(r.building_id, r.entrance) for r in ballot.scope_rows] == [(place["building_id"], "2")]
        ballot.opens_at = utcnow() - timedelta(minutes=1)
        db.session.flush()
        assert services.apply_due(ballot)
        db.session.commit()
        assert (ballot.status, ballot.electorate_count, ballot.electorate_area_cm) == ("open", 3, 24000)
