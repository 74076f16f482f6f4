"""The funds tests' world (see tests/funds/__init__.py)."""
from datetime import timedelta
from types import SimpleNamespace

import pytest


def _ballot(w, *, method, result, matter=None, estate=None, org=None):
    from portal.clock import utcnow
    from portal.extensions import db
    from portal.proposals.models import Proposal
    from portal.votes.models import Ballot
    now = utcnow()
    proposal = Proposal(community_id=w.x.id, author_id=w.keeper.id, title=f"{method} {matter} {result}",
                        status="decided")
    db.session.add(proposal)
    db.session.flush()
    ballot = Ballot(proposal_id=proposal.id, community_id=w.x.id, organization_id=(org or w.rc_x).id,
                    opened_by_id=w.keeper.id, method=method, matter=matter, question=proposal.title,
                    estate_id=estate.id if estate is not None else None,
                    scope="estate" if method == "owners" else None,
                    opens_at=now - timedelta(days=20), closes_at=now - timedelta(days=1), status="closed",
                    closed_at=now - timedelta(days=1), result=result)
    db.session.add(ballot)
    db.session.flush()
    return ballot


@pytest.fixture
def world(app):
    from portal.actions.models import Action
    from portal.clock import local_today, utcnow
    from portal.committees.models import Decision, Meeting
    from portal.extensions import db
    from portal.funds import services
    from portal.places.models import default_estate
    from tests.factories import (
        gen_building,
        gen_community,
        gen_household,
        gen_membership,
        gen_organization,
        gen_residency,
        gen_sub_district,
        gen_user,
    )
    w = SimpleNamespace()
    w.sd = gen_sub_district()
    w.x = gen_community(w.sd)
    w.y = gen_community(w.sd)
    w.building_x = gen_building(w.x)
    w.estate_x = default_estate(db.session, w.x)
    w.rc_x = gen_organization("residents_committee", community=w.x)
    w.hoa_x = gen_organization("homeowners_committee", community=w.x)
    w.office = gen_organization("subdistrict_office", sub_district=w.sd)
    w.company = gen_organization("property_company", community=w.x)
    w.keeper = gen_user(display_name="Keeper")
    gen_membership(w.keeper, w.rc_x, title="chair")
    w.hoa_member = gen_user(display_name="HOA member")
    gen_membership(w.hoa_member, w.hoa_x)
    w.official = gen_user(display_name="Official")
    gen_membership(w.official, w.office)
    w.property = gen_user(display_name="Property staff")
    gen_membership(w.property, w.company, title="staff")
    w.resident = gen_user(display_name="Resident")
    gen_residency(w.resident, household=gen_household(w.building_x))
    w.resident_y = gen_user(display_name="Resident Y")
    gen_residency(w.resident_y, community=w.y)
    w.outsider = gen_user(display_name="Outsider")
    w.admin = gen_user(display_name="Admin", is_admin=True)
    w.action = Action(community_id=w.x.id, title="Repair the playground", source="decision",
                      responsible_org_id=w.rc_x.id, due_date=local_today() + timedelta(days=30),
                      created_by_id=w.keeper.id)
    db.session.add(w.action)
    now = utcnow()
    w.meeting = Meeting(organization=w.rc_x, community_id=w.x.id, title="Monthly meeting",
                        starts_at=now - timedelta(days=3), status="held", created_by_id=w.keeper.id)
    db.session.add(w.meeting)
    db.session.flush()
    w.decision = Decision(meeting=w.meeting, text="Raise the playground budget by 500 yuan",
                          created_by_id=w.keeper.id)
    db.session.add(w.decision)
    db.session.flush()
    w.passed_committee = _ballot(w, method="committee", result="passed")
    w.owners_use = _ballot(w, method="owners", result="passed", matter=5, estate=w.estate_x, org=w.hoa_x)
    w.owners_other = _ballot(w, method="owners", result="passed", matter=4, estate=w.estate_x, org=w.hoa_x)
    w.owners_failed = _ballot(w, method="owners", result="failed", matter=5, estate=w.estate_x, org=w.hoa_x)
    w.fund = services.create_fund(w.keeper, kind="public_welfare", name="Public-welfare fund", community=w.x,
                                  managing_org=w.rc_x)
    w.maintenance = services.create_fund(w.hoa_member, kind="maintenance", name="Maintenance fund",
                                         estate=w.estate_x, managing_org=w.hoa_x)
    db.session.commit()
    return w
