"""Test factories: each makes one believable object with sensible defaults and flushes it."""
import itertools
from datetime import date, timedelta
from decimal import Decimal

from portal.extensions import db

DEFAULT_PASSWORD = "correct horse 42"
_seq = itertools.count(1)


def gen_user(*, email=None, phone=None, display_name=None, password=DEFAULT_PASSWORD, is_admin=False, **extra):
    from portal.auth.services import create_user
    n = next(_seq)
    if email is None and phone is None:
        email = f"person{n}@example.org"
    user = create_user(display_name=display_name or f"Person {n}", password=password, email=email,
                       phone=phone, is_admin=is_admin)
    for key, value in extra.items():
        setattr(user, key, value)
    db.session.flush()
    return user


def gen_sub_district(name=None, slug=None):
    from portal.places.models import SubDistrict
    n = next(_seq)
    sd = SubDistrict(name=name or f"Sub-district {n}", slug=slug or f"sd-{n}")
    db.session.add(sd)
    db.session.flush()
    return sd


def gen_community(sub_district=None, name=None, slug=None, **extra):
    from portal.places.models import Community
    n = next(_seq)
    c = Community(sub_district=sub_district or gen_sub_district(), name=name or f"Community {n}",
                  slug=slug or f"c-{n}", **extra)
    db.session.add(c)
    db.session.flush()
    return c


def gen_building(community=None, code=None, name=None):
    from portal.places.models import Building
    n = next(_seq)
    b = Building(community=community or gen_community(), code=code or f"B{n}", name=name or f"Building {n}")
    db.session.add(b)
    db.session.flush()
    return b


def gen_household(building=None, entrance="1", room=None, area="88.50"):
    from portal.places.models import Household
    n = next(_seq)
    h = Household(building=building or gen_building(), entrance=entrance, room=room or f"{n:04d}",
                  area_m2=Decimal(area))
    db.session.add(h)
    db.session.flush()
    return h


def gen_organization(kind="residents_committee", community=None, sub_district=None, name=None):
    from portal.committees.models import SUB_DISTRICT_KINDS, Organization
    n = next(_seq)
    if kind in SUB_DISTRICT_KINDS:
        org = Organization(kind=kind, sub_district=sub_district or gen_sub_district(), name=name or f"Org {n}")
    else:
        org = Organization(kind=kind, community=community or gen_community(), name=name or f"Org {n}")
    db.session.add(org)
    db.session.flush()
    return org


def gen_membership(user, organization, title="member", start=None, end=None):
    from portal.committees.models import OrgMembership
    m = OrgMembership(user=user, organization=organization, title=title,
                      start_date=start or date.today() - timedelta(days=30), end_date=end)
    db.session.add(m)
    db.session.flush()
    return m


def gen_residency(user, community=None, household=None, status="verified"):
    from portal.places.models import Residency
    household = household or (gen_household(gen_building(community)) if community else gen_household())
    r = Residency(user=user, community=household.building.community, household=household, status=status)
    db.session.add(r)
    db.session.flush()
    return r


def gen_committee_member(community, kind="residents_committee", title="member", user=None):
    org = gen_organization(kind, community=community)
    user = user or gen_user()
    gen_membership(user, org, title=title)
    return user
