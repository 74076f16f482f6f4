"""Estates (小区 / 物业管理区域) of a community: adding and renaming them, and which estate a building belongs
to. A community holds one or more estates; each has its buildings and its owners' committee (a homeowners'
committee or, where none exists, a property management committee), and its owners decide their own matters.
As the other services: the acting person first, the named rule, an audit entry; the caller commits."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.places.models import Building, Estate, default_estate

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.places.models import Community

NAME_MAX = 120


def estates_of(community: Community) -> list[Estate]:
    return list(db.session.scalars(select(Estate).where(Estate.community_id == community.id).order_by(Estate.id)))


def estate_in(community: Community, estate_id) -> Estate | None:
    if not isinstance(estate_id, int) or not 0 < estate_id < 2**31:
        return None
    estate = db.session.get(Estate, estate_id)
    return estate if estate is not None and estate.community_id == community.id else None


def _name(community, value, current=None) -> str:
    name = (value or "").strip()
    if not name:
        raise DomainError(_l("This field is required."), "name")
    if len(name) > NAME_MAX:
        raise DomainError(_l("Use at most %(n)d characters.", n=NAME_MAX), "name")
    clash = db.session.scalar(select(Estate.id).where(Estate.community_id == community.id,
                                                      func.lower(Estate.name) == name.lower()))
    if clash is not None and (current is None or clash != current.id):
        raise DomainError(_l("This community already has an estate called %(name)s.", name=name), "name")
    return name


def create_estate(actor: User, community: Community, *, name: str) -> Estate:
    if not permissions.can_edit_estates(actor, community):
        raise NotAllowed(_l("You may not change this."))
    estate = Estate(community=community, name=_name(community, name))
    db.session.add(estate)
    db.session.flush()
    record(actor, "estate.create", estate, community_id=community.id, name=estate.name)
    return estate


def rename_estate(actor: User, estate: Estate, *, name: str) -> Estate:
    if not permissions.can_edit_estates(actor, estate.community):
        raise NotAllowed(_l("You may not change this."))
    name = _name(estate.community, name, current=estate)
    if name != estate.name:
        record(actor, "estate.rename", estate, name=[estate.name, name])
        estate.name = name
        db.session.flush()
    return estate


def estate_for_building(community: Community, estate_id) -> Estate:
    """The estate a building form chose; the community's default when it has only one (or none yet)."""
    estates = estates_of(community)
    if len(estates) <= 1 and estate_id in (None, 0, ""):
        return estates[0] if estates else default_estate(db.session, community)
    estate = estate_in(community, estate_id)
    if estate is None:
        raise DomainError(_l("Choose the estate the building belongs to."), "estate_id")
    return estate


def estate_overview(community: Community) -> list[tuple[Estate, int]]:
    """Each estate with its number of buildings (two queries)."""
    estates = estates_of(community)
    counts = dict(db.session.execute(select(Building.estate_id, func.count()).where(
        Building.community_id == community.id).group_by(Building.estate_id)).all())
    return [(e, counts.get(e.id, 0)) for e in estates]
