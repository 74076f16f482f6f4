"""Organizations and memberships: creating organizations, adding members, ending memberships.

Every function takes the acting person, checks the rule, changes the model, writes an audit entry and
raises DomainError (with the form field it concerns) when the rule says no. Callers commit."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from portal import versions
from portal.audit.services import record
from portal.auth import permissions, roles
from portal.committees.models import (
    COMMITTEE_KINDS,
    COMMUNITY_KINDS,
    ESTATE_KINDS,
    KIND_LABELS,
    SUB_DISTRICT_KINDS,
    TITLES,
    Organization,
    OrgMembership,
)
from portal.errors import DomainError, NotAllowed
from portal.extensions import db

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.places.models import Community, SubDistrict


def create_organization(actor: User, *, kind: str, name: str, community: Community | None = None,
                        sub_district: SubDistrict | None = None) -> Organization:
    if not permissions.can_manage_organizations(actor):
        raise NotAllowed(_l("Only administrators can create organizations."))
    name = (name or "").strip()
    if not name:
        raise DomainError(_l("Enter the organization's name."), "name")
    if kind in COMMUNITY_KINDS:
        if community is None:
            raise DomainError(_l("Choose the community this organization serves."), "community")
        sub_district = None
    elif kind in SUB_DISTRICT_KINDS:
        if sub_district is None:
            raise DomainError(_l("Choose the sub-district this organization belongs to."), "sub_district")
        community = None
    else:
        raise DomainError(_l("Choose a kind of organization."), "kind")
    org = Organization(kind=kind, name=name, community=community, sub_district=sub_district)
    db.session.add(org)
    db.session.flush()
    record(actor, "organization.created", org, kind=kind, name=name)
    return org


def add_member(actor: User, org: Organization, user: User, title: str, start: date,
               end: date | None = None) -> OrgMembership:
    if not permissions.can_manage_members(actor, org):
        raise NotAllowed(_l("Only the chair of this organization or an administrator can change its members."))
    if user is None:
        raise DomainError(_l("No account has this mobile number or e-mail. Ask the person to register first."),
                          "login")
    if title not in TITLES:
        raise DomainError(_l("Choose a title."), "title")
    if start is None:
        raise DomainError(_l("Enter the date the membership starts."), "start_date")
    if end is not None and end < start:
        raise DomainError(_l("A membership cannot end before it starts (%(start)s).", start=start.isoformat()),
                          "end_date")
    overlapping = db.session.scalar(db.select(OrgMembership.id).where(
        OrgMembership.organization_id == org.id, OrgMembership.user_id == user.id,
        or_(OrgMembership.end_date.is_(None), OrgMembership.end_date >= start)).limit(1))
    if overlapping is not None:
        raise DomainError(_l("%(name)s is already a member of this organization.", name=user.display_name), "login")
    membership = OrgMembership(organization=org, user=user, title=title, start_date=start, end_date=end)
    db.session.add(membership)
    db.session.flush()
    roles.forget_memberships()
    record(actor, "membership.added", membership, subject_user=user, organization_id=org.id, title=title,
           start_date=start.isoformat())
    return membership


def end_membership(actor: User, membership: OrgMembership, end_date: date) -> OrgMembership:
    """Ends a membership on end_date (the last day served); the row stays, so history stays true."""
    if not permissions.can_manage_members(actor, membership.organization):
        raise NotAllowed(_l("Only the chair of this organization or an administrator can change its members."))
    if end_date is None:
        raise DomainError(_l("Enter the last day of the membership."), "end_date")
    if end_date < membership.start_date:
        raise DomainError(_l("A membership cannot end before it starts (%(start)s).",
                             start=membership.start_date.isoformat()), "end_date")
    if membership.end_date is not None and membership.end_date < roles.today():
        raise DomainError(_l("This membership has already ended."), "end_date")
    membership.end_date = end_date
    roles.forget_memberships()
    record(actor, "membership.ended", membership, subject_user=membership.user,
           organization_id=membership.organization_id, end_date=end_date.isoformat())
    return membership


def committee_members(community: Community) -> list:
    """The people currently on any committee of the community: they verify its residents."""
    from portal.auth.models import User
    query = (db.select(User).join(OrgMembership, OrgMembership.user_id == User.id).join(Organization)
             .where(Organization.community_id == community.id, Organization.kind.in_(COMMITTEE_KINDS),
                    roles.current_clause(OrgMembership)).distinct())
    return db.session.scalars(query).all()


class OrganizationLink(NamedTuple):
    """An organization as the community page lists it (kept between requests: plain values, no row)."""
    id: int
    name: str
    kind: str

    @property
    def kind_label(self):
        return KIND_LABELS.get(self.kind, self.kind)


def organization_links(community: Community) -> tuple[OrganizationLink, ...]:
    """The community's organizations by kind and name: kept until its make-up changes (portal.versions)."""
    return versions.remember("organization_links", community, lambda: tuple(
        OrganizationLink(*row) for row in db.session.execute(
            db.select(Organization.id, Organization.name, Organization.kind)
            .where(Organization.community_id == community.id).order_by(Organization.kind, Organization.name))))


def organizations_of_community(community: Community) -> list[Organization]:
    return db.session.scalars(db.select(Organization).where(Organization.community_id == community.id)
                              .order_by(Organization.kind, Organization.name)).all()


def all_organizations() -> list[Organization]:
    return db.session.scalars(db.select(Organization).order_by(Organization.id)).all()


def managed_organizations(user: User) -> list[Organization]:
    """The organizations whose members this person may manage (for a link on their pages)."""
    if permissions.is_admin(user):
        return all_organizations()
    return [m.organization for m in roles.memberships(user) if m.title == "chair"]


def estate_committees(community: Community) -> dict[int, list[Organization]]:
    """The homeowners' and property management committees of the community's estates, by estate id."""
    found: dict[int, list[Organization]] = {}
    for organization in db.session.scalars(select(Organization).where(
            Organization.community_id == community.id, Organization.kind.in_(ESTATE_KINDS))
            .order_by(Organization.id)):
        found.setdefault(organization.estate_id, []).append(organization)
    return found
