"""The organizations of a community in Beijing's framework, through their pages: the admin form offers them,
the service station's counter verifies and registers residents, the Party committee opens a consultation and
sits in a closed meeting, and none of them gains a committee's other powers."""
from datetime import timedelta

import pytest

from portal.extensions import db
from tests.factories import gen_membership, gen_organization, gen_user
from tests.issues.conftest import world as issues_world  # noqa: F401
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.residents import gen_residency, post

NEW_KINDS = {"party_committee": "Community Party committee", "service_station": "Community service station",
             "social_organization": "Social organization", "volunteer_team": "Volunteer team"}


@pytest.fixture
def world(proposals_world):
    w = proposals_world
    for name, kind in (("party", "party_committee"), ("station", "service_station"),
                       ("social", "social_organization")):
        org = gen_organization(kind, community=w.x, name=f"{kind} of x")
        person = gen_user(display_name=f"{name} member", phone=f"1390000{len(name):02d}{len(kind):02d}")
        gen_membership(person, org)
        setattr(w, name, person)
        setattr(w, f"{name}_org", org)
    db.session.commit()
    return w


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize("lang,labels", [
    ("en", NEW_KINDS),
    ("zh-CN", {"party_committee": "社区党委", "service_station": "社区服务站", "social_organization": "社会组织",
               "volunteer_team": "志愿服务队"}),
])
def test_the_admin_form_offers_the_new_kinds(client, auth, world, lang, labels):
    auth.login(world.admin)
    page = html(client.get("/admin/organizations", headers={"Accept-Language": lang}))
    for kind, label in labels.items():
        assert f'<option value="{kind}">{label}</option>' in page
    assert ("social organizations and volunteer teams" in page) if lang == "en" else ("社会组织和志愿服务队" in page)


@pytest.mark.parametrize("kind", sorted(NEW_KINDS))
def test_an_admin_creates_each_new_kind_for_a_community(client, auth, world, kind):
    from portal.committees.models import Organization
    auth.login(world.admin)
    response = post(client, "/admin/organizations", {"kind": kind, "name": f"新的{kind}", "community": world.y.id,
                                                     "sub_district": ""}, token_from="/admin/organizations")
    assert response.status_code == 302
    org = db.session.scalar(db.select(Organization).where(Organization.name == f"新的{kind}"))
    assert org.kind == kind and org.community_id == world.y.id and org.sub_district_id is None


def test_the_service_station_verifies_a_claim_and_registers_a_resident_at_the_counter(client, auth, world):
    newcomer = gen_user(display_name="王奶奶", phone="13811112222")
    claim = gen_residency(newcomer, household=world.hx2, status="pending")
    db.session.commit()
    auth.login(world.station)
    community = html(client.get("/c/x"))
    assert "/c/x/residents/pending" in community and "/c/x/residents/register-for" in community
    assert client.get("/c/x/residents/pending").status_code == 200
    post(client, f"/c/x/residents/claims/{claim.id}/verify", token_from="/c/x/residents/pending")
    db.session.refresh(claim)
    assert claim.status == "verified" and claim.decided_by_id == world.station.id
    assert client.get("/c/x/residents/register-for").status_code == 200
    # Another community's counter is not theirs.
    assert client.get("/c/y/residents/pending").status_code == 403


def test_the_party_committee_and_social_organization_do_not_verify_residents(client, auth, world):
    for person in (world.party, world.social):
        auth.login(person)
        assert client.get("/c/x/residents/pending").status_code == 403
        assert "/c/x/residents/pending" not in html(client.get("/c/x"))
        auth.logout()


def test_a_party_committee_member_opens_the_consultation(client, auth, world):
    from tests.proposals import gen_proposal
    proposal = gen_proposal(world)
    db.session.commit()
    assert proposal.status == "collecting"
    auth.login(world.station)  # the counter does not lead deliberations
    assert client.get(f"/c/x/proposals/{proposal.id}/deliberate").status_code == 403
    auth.logout()
    auth.login(world.party)
    page = html(client.get(f"/c/x/proposals/{proposal.id}"))
    assert f"/c/x/proposals/{proposal.id}/deliberate" in page
    response = post(client, f"/c/x/proposals/{proposal.id}/deliberate", {"reason": "党委牵头：涉及全体居民"},
                    token_from=f"/c/x/proposals/{proposal.id}/deliberate")
    assert response.status_code == 302
    db.session.refresh(proposal)
    assert proposal.status == "deliberation"


def test_a_party_committee_member_sits_in_a_closed_meeting_of_the_community(client, auth, world):
    from portal.clock import utcnow
    from portal.committees.models import Meeting
    meeting = Meeting(organization=world.rc_x, community_id=world.x.id, title="闭门会议", is_public=False,
                      starts_at=utcnow() + timedelta(days=2), created_by_id=world.chair_x.id)
    db.session.add(meeting)
    db.session.commit()
    address = f"/o/{world.rc_x.id}/meetings/{meeting.id}"
    auth.login(world.social)
    assert client.get(address).status_code in (403, 404)
    auth.logout()
    auth.login(world.party)
    response = client.get(address)
    assert response.status_code == 200 and "闭门会议" in html(response)
