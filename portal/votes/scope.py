"""Who of an estate's owners decide an owners' ballot: the whole estate, listed buildings or listed entrances
(单元). `units_clause` is the SQL condition on `Building` and `Household` that the electorate's freeze and the
announcement use; `scope_label` says it in words on the ballot page and the result."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, or_, select

from portal import versions
from portal.extensions import db
from portal.places.models import Building, Household
from portal.votes.models import BallotScope

SCOPE_LABELS = {
    "estate": _l("The whole estate"),
    "buildings": _l("Listed buildings"),
    "entrances": _l("Listed entrances (单元)"),
}


def units_clause(ballot, community_id=None):
    """SQL: the unit (a `Household` joined to its `Building`) is within the ballot's scope. A ballot without
    an estate (before estates) covers its community."""
    community_id = community_id if community_id is not None else ballot.community_id
    clause = Building.community_id == community_id
    if ballot.estate_id is not None:
        clause = and_(clause, Building.estate_id == ballot.estate_id)
    if ballot.scope in ("buildings", "entrances"):
        listed = and_(BallotScope.ballot_id == ballot.id, BallotScope.building_id == Household.building_id,
                      or_(BallotScope.entrance.is_(None), BallotScope.entrance == Household.entrance))
        clause = and_(clause, exists(select(BallotScope.id).where(listed)))
    return clause


SHOWN_PLACES = 12  # a label names at most this many buildings or entrances, then says how many more


def scope_label(ballot) -> str:
    """"Owners of Building 3, entrance 2", "Owners of 5号楼; 7号楼", "Owners of Sunny Garden". Reads the listed
    places in one query (or from `scope_rows` when a list page loaded them with their buildings), once for the
    ballot's instance (the ballot page says it twice)."""
    if ballot.method != "owners":
        return ""
    if ballot.scope in ("buildings", "entrances"):
        rows = _listed_places(ballot)
        parts = [_("%(building)s, entrance %(entrance)s", building=name, entrance=entrance)
                 if entrance is not None else name for entrance, name in rows[:SHOWN_PLACES]]
        if len(rows) > SHOWN_PLACES:
            parts.append(_("%(num)d more", num=len(rows) - SHOWN_PLACES))
        if parts:
            return _("Owners of %(places)s", places="; ".join(parts))
    name = ballot.estate.name if ballot.estate is not None else ballot.community.name
    return _("Owners of %(places)s", places=name)


def _listed_places(ballot) -> list:
    """[(entrance, building name)] of the ballot's scope, in the order listed; kept on the instance (the rows are
    written with the ballot, before any page shows it)."""
    rows = ballot.__dict__.get("_listed_places")
    if rows is None:
        if "scope_rows" in ballot.__dict__:
            rows = [(r.entrance, r.building.name) for r in ballot.scope_rows]
        else:  # kept per ballot under its community's version (scope rows and buildings are tracked)
            rows = versions.remember_item("ballot_listed_places", ballot.community, ballot.id, lambda: tuple(
                (entrance, name) for entrance, name in db.session.execute(
                    select(BallotScope.entrance, Building.name).join(Building, Building.id == BallotScope.building_id)
                    .where(BallotScope.ballot_id == ballot.id).order_by(BallotScope.id))))
        ballot.__dict__["_listed_places"] = rows
    return rows
