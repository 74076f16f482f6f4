"""Who a person is where: roles come from memberships that are current today.

"Today" is a local date: a community's own for its ownerships, the portal's default zone for memberships
(whose organizations may span a sub-district). Membership end dates are the last day served (inclusive);
ownership end dates are handover days (exclusive), see `Ownership.held_on`."""
from datetime import date

from flask import g, has_request_context
from sqlalchemy import or_
from sqlalchemy.orm import contains_eager

from portal.clock import local_today
from portal.committees.models import COMMITTEE_KINDS, Organization, OrgMembership
from portal.extensions import db
from portal.places.models import Community, Ownership, Owner, Residency


def today() -> date:
    return local_today()


def _current(model, on: date | None = None):
    on = on or today()
    return (model.start_date <= on) & or_(model.end_date.is_(None), model.end_date >= on)


def memberships(user, kinds=None):
    """The person's current organization memberships, optionally of some kinds."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [m for m in _current_memberships(user) if not kinds or m.organization.kind in kinds]


def _current_memberships(user) -> list[OrgMembership]:
    # Every permission rule asks this; within one request the answer is read once (see forget_memberships).
    cache = g.setdefault("current_memberships", {}) if has_request_context() else None
    key = (user.id, today())
    if cache is not None and key in cache:
        return cache[key]
    rows = db.session.scalars(
        db.select(OrgMembership).join(Organization).options(contains_eager(OrgMembership.organization))
        .where(OrgMembership.user_id == user.id, _current(OrgMembership))).all()
    if cache is not None:
        cache[key] = rows
    return rows


def forget_memberships() -> None:
    """After memberships change within a request, later rules must read them afresh."""
    if has_request_context():
        g.pop("current_memberships", None)


def organizations(user, kinds=None) -> list[Organization]:
    return [m.organization for m in memberships(user, kinds)]


def is_member_of(user, organization) -> bool:
    return any(m.organization_id == organization.id for m in memberships(user))


def committee_community_ids(user) -> set[int]:
    return {o.community_id for o in organizations(user, COMMITTEE_KINDS)}


def is_committee_member(user, community) -> bool:
    return community is not None and community.id in committee_community_ids(user)


def is_property_staff(user, community) -> bool:
    return community is not None and any(
        o.community_id == community.id for o in organizations(user, ("property_company",)))


def official_sub_district_ids(user) -> set[int]:
    return {o.sub_district_id for o in organizations(user, ("subdistrict_office",))}


def is_official_of(user, sub_district) -> bool:
    return sub_district is not None and sub_district.id in official_sub_district_ids(user)


def is_verified_resident(user, community) -> bool:
    if not getattr(user, "is_authenticated", False) or community is None:
        return False
    return db.session.scalar(db.select(Residency.id).where(
        Residency.user_id == user.id, Residency.community_id == community.id,
        Residency.status == "verified").limit(1)) is not None


def is_owner_in(user, community) -> bool:
    if not getattr(user, "is_authenticated", False) or community is None:
        return False
    return db.session.scalar(db.select(Ownership.id).join(Owner).where(
        Owner.user_id == user.id, Owner.community_id == community.id,
        Ownership.held_on(local_today(community.time_zone))).limit(1)) is not None


def communities_of(user) -> list[Community]:
    """Communities the person belongs to in any way: resident, committee, company, or official."""
    if not getattr(user, "is_authenticated", False):
        return []
    ids = {r.community_id for r in db.session.scalars(db.select(Residency).where(
        Residency.user_id == user.id, Residency.status.in_(("pending", "verified"))))}
    for org in organizations(user):
        if org.community_id:
            ids.add(org.community_id)
    sub_districts = official_sub_district_ids(user)
    query = db.select(Community).where(or_(Community.id.in_(ids), Community.sub_district_id.in_(sub_districts)))
    return db.session.scalars(query.order_by(Community.name)).all()


def current_clause(model, on: date | None = None):
    """The SQL condition "current on this day" for any model with start_date and end_date columns."""
    return _current(model, on)
