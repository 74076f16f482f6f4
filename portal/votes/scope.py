"""Who of an estate's owners decide an owners' ballot: the whole estate, listed buildings or listed entrances
(单元). `units_clause` is the SQL condition on `Building` and `Household` that the electorate's freeze and the
announcement use; `scope_label` says it in words on the ballot page and the result."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, or_, select

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


def scope_label(ballot) -> str:
    """"Owners of Building 3, entrance 2", "Owners of Buildings 3 and 5", "Owners of Sunny Garden"."""
    if ballot.method != "owners":
        return ""
    rows = list(ballot.scope_rows)
    if ballot.scope in ("buildings", "entrances") and rows:
        parts = [_("%(building)s, entrance %(entrance)s", building=r.building.name, entrance=r.entrance)
                 if r.entrance is not None else r.building.name for r in rows]
        return _("Owners of %(places)s", places="; ".join(parts))
    name = ballot.estate.name if ballot.estate is not None else ballot.community.name
    return _("Owners of %(places)s", places=name)
