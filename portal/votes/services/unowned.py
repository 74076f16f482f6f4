"""The owner roll before an owners' ballot opens: units with no current owner, and co-owners' representatives.

A unit with no owner on the register does not drop out of an owners' ballot silently. Until each is
resolved, an owners' ballot cannot be opened: the committee records its owner in the register, assigns it
to the developer (it then counts in the developer's one head and area: unsold or undelivered units are the
developer's), or records why it is excluded (e.g. demolished). A resolution belongs to the unit, from the
day it is recorded, and is changed in place (every change audited); each ballot freezes the excluded units
with their reasons at opening and shows them on its result.

Co-owners name their representative for a unit; the committee records it (audited) and may change or clear
it. Ballots opened afterwards let only the representative cast the unit's vote; ballots already open keep
what was frozen. Both are done by whoever may open owners' ballots (`permissions.can_keep_owner_roll`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from portal.audit.services import record
from portal.auth import permissions
from portal.clock import in_zone
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.places.models import Building, Household, Owner, Ownership
from portal.votes import electorate
from portal.votes.models import UNIT_RESOLUTIONS, UnitRepresentative, UnownedUnit
from portal.votes.services._common import _now

if TYPE_CHECKING:
    from datetime import datetime

    from portal.auth.models import User
    from portal.places.models import Community
    from portal.votes.models import Ballot

REASON_MAX = 500
UNITS_SHOWN_MAX = 500  # the roll page lists at most this many units of each kind


@dataclass(frozen=True)
class UnitStanding:
    """A unit with no owner on a day, and how it counts (resolution None: not resolved)."""
    household_id: int
    label: str
    resolution: str | None
    reason: str | None


@dataclass(frozen=True)
class CoOwnedUnit:
    household_id: int
    label: str
    co_owners: list[Owner]
    representative: Owner | None


def today_in(community: Community, now: datetime | None = None) -> date:
    return in_zone(_now(now), community.time_zone).date()


def units_without_owner(community: Community, on: date, *, household_id: int | None = None,
                        ballot: Ballot | None = None) -> list[UnitStanding]:
    """The community's units with no owner on `on` (or only that one; or only those within an owners'
    ballot's scope), by label, with the resolution in effect then."""
    query = electorate.unowned_units(community.id, on, ballot).subquery("unowned")
    statement = select(query.c.household_id, query.c.label, query.c.resolution, query.c.reason)
    if household_id is not None:
        statement = statement.where(query.c.household_id == household_id)
    rows = db.session.execute(statement.order_by(query.c.label).limit(UNITS_SHOWN_MAX)).all()
    return [UnitStanding(int(r.household_id), r.label, r.resolution, r.reason) for r in rows]


def unresolved_units(community: Community, on: date, ballot: Ballot | None = None) -> list[UnitStanding]:
    """The units that keep an owners' ballot (within its scope, when given) from opening on `on`."""
    return [unit for unit in units_without_owner(community, on, ballot=ballot) if unit.resolution is None]


def co_owned_units(community: Community, on: date, *, household_id: int | None = None) -> list[CoOwnedUnit]:
    """The community's units with two or more owners on `on` (none the developer), or only that one, their
    co-owners and the representative they named (if still a co-owner)."""
    only = [Ownership.household_id == household_id] if household_id is not None else []
    held = (select(Ownership.household_id).join(Owner, Owner.id == Ownership.owner_id)
            .join(Household, Household.id == Ownership.household_id)
            .join(Building, Building.id == Household.building_id)
            .where(Building.community_id == community.id, Ownership.held_on(on), *only)
            .group_by(Ownership.household_id)
            .having(func.count() > 1, func.max(case((Owner.is_developer, 1), else_=0)) == 0)
            .limit(UNITS_SHOWN_MAX).subquery())
    rows = db.session.execute(
        select(Household.id, electorate.unit_label(), Owner).join(held, held.c.household_id == Household.id)
        .join(Building, Building.id == Household.building_id)
        .join(Ownership, Ownership.household_id == Household.id).join(Owner, Owner.id == Ownership.owner_id)
        .where(Ownership.held_on(on)).order_by(Household.id, Owner.name, Owner.id)).all()
    representatives = dict(db.session.execute(
        select(UnitRepresentative.household_id, UnitRepresentative.owner_id)
        .where(UnitRepresentative.household_id.in_(select(held.c.household_id)))).all())
    units: dict[int, tuple[str, list[Owner]]] = {}
    for household_id, label, owner in rows:
        units.setdefault(household_id, (label, []))[1].append(owner)
    found = []
    for household_id, (label, owners) in units.items():
        chosen = next((o for o in owners if o.id == representatives.get(household_id)), None)
        found.append(CoOwnedUnit(household_id, label, owners, chosen))
    return sorted(found, key=lambda unit: unit.label)


def _unit_in(community: Community, household_id) -> Household:
    household = db.session.get(Household, household_id) if isinstance(household_id, int) else None
    if household is None or household.building.community_id != community.id:
        raise DomainError(_l("Choose a unit of this community."), "household")
    return household


def resolve_unit(actor: User, community: Community, household_id: int, *, resolution: str, reason: str = "",
                 now: datetime | None = None) -> UnownedUnit:
    """Record how a unit with no current owner counts in owners' ballots from today: with the developer's
    units, or excluded with a reason. Replaces what was recorded before."""
    if not permissions.can_keep_owner_roll(actor, community):
        raise NotAllowed(_l("Units without an owner are resolved by the committee that opens owners' ballots."))
    household = _unit_in(community, household_id)
    on = today_in(community, now)
    if resolution not in UNIT_RESOLUTIONS:
        raise DomainError(_l("Choose how the unit counts: with the developer's units, or excluded."), "resolution")
    if db.session.scalar(select(Ownership.id).where(Ownership.household_id == household.id,
                                                     Ownership.held_on(on)).limit(1)) is not None:
        raise DomainError(_l("This unit has an owner on the register: it counts with its owner."), "household")
    reason = " ".join((reason or "").split())
    developer = None
    if resolution == "developer":
        developer = db.session.scalar(select(Owner).where(Owner.community_id == community.id,
                                                          Owner.is_developer.is_(True)).order_by(Owner.id).limit(1))
        if developer is None:
            raise DomainError(_l("Record the developer in the owner register first."), "resolution")
        reason = reason or None
    elif not reason:
        raise DomainError(_l("Say why the unit is excluded (for example: demolished)."), "reason")
    if reason and len(reason) > REASON_MAX:
        raise DomainError(_l("A reason has at most %(max)d characters.", max=REASON_MAX), "reason")
    row = db.session.scalar(select(UnownedUnit).where(UnownedUnit.household_id == household.id))
    if row is None:
        row = UnownedUnit(community_id=community.id, household_id=household.id)
        db.session.add(row)
    row.resolution, row.owner_id, row.reason = resolution, getattr(developer, "id", None), reason
    row.since, row.recorded_by_id, row.recorded_at = on, actor.id, _now(now)
    db.session.flush()
    record(actor, "owner_roll.unit_resolved", household, community_id=community.id, resolution=resolution,
           owner_id=row.owner_id, reason=reason, on_date=on.isoformat())
    return row


def name_representative(actor: User, community: Community, household_id: int, owner_id: int | None, *,
                        now: datetime | None = None) -> UnitRepresentative | None:
    """Record the representative the co-owners of a unit named (`owner_id` one of its current owners), or
    clear it (None): ballots opened afterwards follow it."""
    if not permissions.can_keep_owner_roll(actor, community):
        raise NotAllowed(_l("Co-owners' representatives are recorded by the committee that opens owners' "
                            "ballots."))
    household = _unit_in(community, household_id)
    on = today_in(community, now)
    co_owner_ids = set(db.session.scalars(select(Ownership.owner_id).where(Ownership.household_id == household.id,
                                                                           Ownership.held_on(on))))
    if len(co_owner_ids) < 2:
        raise DomainError(_l("Only a unit with two or more owners names a representative."), "household")
    row = db.session.scalar(select(UnitRepresentative).where(UnitRepresentative.household_id == household.id))
    previous = row.owner_id if row is not None else None
    if owner_id is None:
        if row is not None:
            db.session.delete(row)
            row = None
    else:
        if owner_id not in co_owner_ids:
            raise DomainError(_l("The representative must be one of the unit's owners."), "owner")
        if row is None:
            row = UnitRepresentative(household_id=household.id)
            db.session.add(row)
        row.owner_id, row.recorded_by_id, row.recorded_at = owner_id, actor.id, _now(now)
    db.session.flush()
    record(actor, "owner_roll.representative_named", household, community_id=community.id, owner_id=owner_id,
           previous_owner_id=previous)
    return row
