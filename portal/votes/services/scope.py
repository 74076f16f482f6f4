"""The estate and scope of an owners' ballot, checked at opening: whose owners decide (the estate, listed
buildings or listed entrances of it), who opens it (the estate's homeowners' committee, else its property
management committee, else the community's residents' committee), and telling the residents' committee when
the ballot is announced (Property Management Regulations art. 14; the community's public notices list the
announcement, read by portal.notices from the ballot)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, tuple_

from portal.auth import roles
from portal.committees.models import ESTATE_KINDS, Organization, OrgMembership
from portal.errors import DomainError
from portal.extensions import db
from portal.outbox import instant, register_event
from portal.places.models import Building, Estate, Household, default_estate
from portal.votes.models import SCOPES, BallotScope
from portal.votes.scope import scope_label
from portal.votes.services._common import _ballot_link, _local, _notify_all, _payload

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from portal.places.models import Community
    from portal.votes.models import Ballot

ENTRANCE_MAX = 16

register_event("votes.announced_to_residents_committee",
               _l("An owners' ballot of %(estate)s was announced on “%(title)s”: voting opens %(opens)s and closes "
                  "%(closes)s (%(scope)s)."),
               _ballot_link, times=("opens", "closes"))


@dataclass
class Scope:
    """A checked scope: the estate, "estate" / "buildings" / "entrances", and the listed (building id,
    entrance or None) pairs."""
    estate: Estate
    kind: str = "estate"
    rows: list[tuple[int, str | None]] = field(default_factory=list)


def estates_of(community: Community) -> list[Estate]:
    return list(db.session.scalars(select(Estate).where(Estate.community_id == community.id).order_by(Estate.id)))


def _estate(community, estate) -> Estate:
    if isinstance(estate, Estate):
        if estate.community_id != community.id:
            raise DomainError(_l("Choose an estate of this community."), "estate")
        return estate
    if estate not in (None, ""):
        found = db.session.get(Estate, estate) if isinstance(estate, int) else None
        if found is None or found.community_id != community.id:
            raise DomainError(_l("Choose an estate of this community."), "estate")
        return found
    estates = estates_of(community)
    if len(estates) > 1:
        raise DomainError(_l("This community has several estates: choose the one whose owners decide."), "estate")
    if estates:
        return estates[0]
    estate = default_estate(db.session, community)
    db.session.flush()
    return estate


def check_scope(community: Community, *, estate: Estate | None = None, scope: str | None = None,
                buildings: Iterable[int] = (), entrances: Iterable[tuple[int, str]] = ()) -> Scope:
    """The estate (default: the community's only one) and who of its owners decide. Listed buildings and
    entrances must be of that estate (an entrance: a building of it with units on that entrance). Raises
    DomainError naming the field; writes nothing (except a community's first, default estate)."""
    scope = scope or "estate"
    if scope not in SCOPES:
        raise DomainError(_l("Choose who decides: the whole estate, listed buildings or listed entrances."), "scope")
    chosen = _estate(community, estate)
    if scope == "estate":
        return Scope(chosen)
    if scope == "buildings":
        ids = sorted({int(b) for b in buildings if b is not None})
        if not ids:
            raise DomainError(_l("Tick the buildings whose owners decide."), "scope")
        found = set(db.session.scalars(select(Building.id).where(Building.id.in_(ids),
                                                                 Building.estate_id == chosen.id)))
        if found != set(ids):
            raise DomainError(_l("Each building listed must be a building of %(estate)s.", estate=chosen.name),
                              "scope")
        return Scope(chosen, scope, [(i, None) for i in ids])
    pairs = sorted({(int(b), (e or "").strip()) for b, e in entrances if b is not None})
    if not pairs:
        raise DomainError(_l("Tick the entrances whose owners decide."), "scope")
    if any(not e or len(e) > ENTRANCE_MAX for _b, e in pairs):
        raise DomainError(_l("Each entrance listed must be an entrance of a building of %(estate)s.",
                             estate=chosen.name), "scope")
    found = set(db.session.execute(
        select(Household.building_id, Household.entrance).distinct()
        .join(Building, Building.id == Household.building_id)
        .where(Building.estate_id == chosen.id, tuple_(Household.building_id, Household.entrance).in_(pairs))).all())
    if {tuple(p) for p in found} != set(pairs):
        raise DomainError(_l("Each entrance listed must be an entrance of a building of %(estate)s.",
                             estate=chosen.name), "scope")
    return Scope(chosen, scope, pairs)


def entrances_by_building(community: Community) -> list[tuple[Estate, list[tuple[Building, list[str]]]]]:
    """The form's lists: each estate, its buildings, and each building's entrances (two queries)."""
    buildings = db.session.scalars(select(Building).where(Building.community_id == community.id)
                                   .order_by(Building.estate_id, Building.code)).all()
    pairs = db.session.execute(select(Household.building_id, Household.entrance).distinct()
                               .join(Building, Building.id == Household.building_id)
                               .where(Building.community_id == community.id, Household.entrance != "")).all()
    entrances: dict[int, list[str]] = {}
    for building_id, entrance in pairs:
        entrances.setdefault(building_id, []).append(entrance)
    result = []
    for estate in estates_of(community):
        result.append((estate, [(b, sorted(entrances.get(b.id, []), key=_natural)) for b in buildings
                                if b.estate_id == estate.id]))
    return result


def _natural(text: str):
    return (len(text), text)


def opening_committees(community: Community, estate: Estate) -> list[Organization]:
    """Who opens the estate's owners' ballots, in order: its homeowners' committee, its property management
    committee, the community's residents' committee."""
    organizations = db.session.scalars(select(Organization).where(
        Organization.community_id == community.id,
        Organization.kind.in_((*ESTATE_KINDS, "residents_committee"))).order_by(Organization.id)).all()
    order = {"homeowners_committee": 0, "property_management_committee": 1, "residents_committee": 2}
    mine = [o for o in organizations if o.kind == "residents_committee" or o.estate_id == estate.id]
    return sorted(mine, key=lambda o: order[o.kind])


def apply_scope(ballot: Ballot, scope: Scope) -> None:
    ballot.estate = scope.estate
    ballot.scope = scope.kind
    for building_id, entrance in scope.rows:
        ballot.scope_rows.append(BallotScope(building_id=building_id, entrance=entrance))


def tell_residents_committee(ballot: Ballot, now: datetime) -> None:
    """An owners' ballot was announced: the community's residents' committee is told (Property Management
    Regulations art. 14)."""
    members = (select(OrgMembership.user_id.label("user_id")).distinct()
               .join(Organization, Organization.id == OrgMembership.organization_id)
               .where(Organization.community_id == ballot.community_id,
                      Organization.kind == "residents_committee",
                      roles.current_clause(OrgMembership, _local(ballot, now).date())))
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "en")):  # stored words, as printed
        scope = scope_label(ballot)
    _notify_all(members, "votes.announced_to_residents_committee", ballot,
                _payload(ballot, opens=instant(ballot.opens_at), closes=instant(ballot.closes_at),
                         estate=ballot.estate.name if ballot.estate is not None else ballot.community.name,
                         scope=scope), now)
