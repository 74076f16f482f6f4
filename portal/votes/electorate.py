"""The frozen electorate of a ballot: who may vote, with what weight, cast by which accounts.

`freeze` runs once, when voting opens, and writes one `BallotVoter` row per vote that can be cast and one
`BallotCaster` row per account allowed to cast it. It writes with INSERT … SELECT only — no ORM object
per row — so a community of 300,000 units freezes in a few statements. The caller commits.

Owners' ballots (Civil Code art. 278, SPC building-ownership interpretation art. 9), from the register as
it stands on the freeze date (`Ownership.held_on`: the handover day belongs to the new owners):
- all units the developer holds count together as ONE voter ("developer": headcount 1, area the sum),
  cast by the developer's designated representative (the account linked to the developer's register
  entry), when one is set;
- a unit with two or more current owners is one voter ("co_owned_unit": headcount 1, its area), cast by
  any co-owner linked to an account — the latest cast counts;
- the remaining, solely owned units are grouped by owner: one voter per owner ("owner": headcount 1,
  area the sum of their units), cast by the owner's linked account. A register owner is one buyer (one
  phone, one owner row per community), so a buyer of three units counts once with all three areas.
Only units within the ballot's scope count: its estate, or the listed buildings or entrances of it
(portal.votes.scope). A unit the developer holds together with someone else goes to the developer (its units
count together whatever else holds them).

A unit with no current owner never drops out silently (`portal.votes.services.unowned`): opening refuses
until the committee has resolved it; a unit assigned to the developer counts in the developer's one head
and area; an excluded unit is frozen with its reason in `BallotExclusion` (as is, with no reason, one that
lost its owner between the announcement and the opening), and the result lists them.

The co-owner reading (`Ballot.co_owner_headcount`, from the CO_OWNER_HEADCOUNT setting): "separate" — a
co-owned unit is a head of its own, so a person co-owning one unit and solely owning another is in two
heads; "once" — a co-owned unit one of whose co-owners already counts as a sole owner has headcount 0 (its
head merges into that owner's; its area still counts, cast like any co-owned unit).

A co-owned unit whose co-owners named a representative (`UnitRepresentative`, a current co-owner on the
freeze date) is cast by the representative's account only (`BallotVoter.representative_id`); otherwise by
any co-owner, the latest cast counting.

Areas are integer hundredths of m², each unit rounded to its exact hundredths before summing, so the
floating-point storage of SQLite numerics cannot leak into a weight.

Residents' ballots: per person, every verified adult resident of the community once (two residencies are
still one person); per household, every unit with at least one verified adult resident, cast by any of
them. Committee ballots: the organization's members current on the freeze date, each once."""
from datetime import date
from functools import cache

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)

from portal.auth.models import User
from portal.auth.roles import current_clause
from portal.committees.models import OrgMembership
from portal.extensions import db
from portal.places.models import Building, Household, Owner, Ownership, Residency
from portal.votes.models import BallotCaster, BallotExclusion, BallotVoter, UnitRepresentative, UnownedUnit
from portal.votes.scope import units_clause

VOTER_COLUMNS = ("ballot_id", "kind", "user_id", "owner_id", "household_id", "label", "headcount", "area_cm")
CASTER_COLUMNS = ("ballot_id", "voter_id", "user_id")


def _null_id():
    """A typed NULL: PostgreSQL reads a bare NULL in INSERT … SELECT as text, which an integer column refuses."""
    return cast(null(), Integer)


def freeze(ballot, *, on: date) -> None:
    """Write the electorate of `ballot` as it stands on `on` (see the module docstring). Caller commits."""
    if ballot.id is None:
        db.session.flush()
    if db.session.scalar(select(BallotVoter.id).where(BallotVoter.ballot_id == ballot.id).limit(1)) is not None:
        raise RuntimeError(f"the electorate of ballot {ballot.id} is already frozen")
    freezers = {"committee": _freeze_committee, "residents": _freeze_residents, "owners": _freeze_owners}
    freezers[ballot.method](ballot, on)


def voters_for(ballot, user) -> list[BallotVoter]:
    """The votes this account may cast in the ballot (own units, a co-owned unit, the developer's…), in one
    query; empty for anonymous visitors and for those outside the electorate."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(db.session.scalars(_voters_for_statement(), {"ballot_id": ballot.id, "user_id": user.id}))


@cache
def _voters_for_statement():
    # Built once: every ballot page and cast asks it (see services._lock_statement).
    return (select(BallotVoter).join(BallotCaster, BallotCaster.voter_id == BallotVoter.id)
            .where(BallotCaster.ballot_id == bindparam("ballot_id"), BallotCaster.user_id == bindparam("user_id"))
            .order_by(BallotVoter.id))


# --- committee ---

def _freeze_committee(ballot, on: date) -> None:
    members = (select(literal(ballot.id), literal("member"), User.id, _null_id(), _null_id(),
                      User.display_name, literal(1), literal(0))
               .select_from(OrgMembership).join(User, User.id == OrgMembership.user_id)
               .where(OrgMembership.organization_id == ballot.organization_id, current_clause(OrgMembership, on))
               .group_by(User.id, User.display_name))
    _insert_voters(members)
    _insert_casters(select(BallotVoter.ballot_id, BallotVoter.id, BallotVoter.user_id)
                    .where(BallotVoter.ballot_id == ballot.id))


# --- residents ---

def verified_adults(community_id):
    """The residencies that give a vote in the community: verified, adult (residents' ballots here, and a
    budget round's ballots, portal.funds.budget_ballot)."""
    return and_(Residency.community_id == community_id, Residency.status == "verified",
                Residency.is_adult.is_(True))


def _freeze_residents(ballot, on: date) -> None:
    if ballot.resident_unit == "household":
        _freeze_households(ballot)
    else:
        _freeze_persons(ballot)


def _freeze_persons(ballot) -> None:
    people = (select(literal(ballot.id), literal("resident"), User.id, _null_id(), _null_id(),
                     User.display_name, literal(1), literal(0))
              .select_from(Residency).join(User, User.id == Residency.user_id)
              .where(verified_adults(ballot.community_id))
              .group_by(User.id, User.display_name))
    _insert_voters(people)
    _insert_casters(select(BallotVoter.ballot_id, BallotVoter.id, BallotVoter.user_id)
                    .where(BallotVoter.ballot_id == ballot.id))


def _freeze_households(ballot) -> None:
    label = unit_label()
    households = (select(literal(ballot.id), literal("household"), _null_id(), _null_id(), Household.id,
                         label, literal(1), literal(0))
                  .select_from(Residency).join(Household, Household.id == Residency.household_id)
                  .join(Building, Building.id == Household.building_id)
                  .where(verified_adults(ballot.community_id))
                  .group_by(Household.id, Building.name, Household.entrance, Household.room))
    _insert_voters(households)
    _insert_casters(select(BallotVoter.ballot_id, BallotVoter.id, Residency.user_id).distinct()
                    .join(Residency, Residency.household_id == BallotVoter.household_id)
                    .where(BallotVoter.ballot_id == ballot.id, verified_adults(ballot.community_id)))


# --- owners ---

def _held_units(ballot, on: date):
    """Subquery: the units within the ballot's scope (its estate, or listed buildings or entrances: see
    portal.votes.scope) held on `on`, one row per (unit, owner), with the unit's area in
    hundredths and how many current owners the unit has, and whether the developer is one of them."""
    area_cm = cast(func.round(Household.area_m2 * 100), BigInteger)
    window = {"partition_by": Ownership.household_id}
    return (select(Ownership.household_id, Ownership.owner_id, Owner.is_developer, Owner.name.label("owner_name"),
                   area_cm.label("area_cm"),
                   func.count().over(**window).label("n_owners"),
                   func.max(case((Owner.is_developer, 1), else_=0)).over(**window).label("has_developer"))
            .join(Owner, Owner.id == Ownership.owner_id)
            .join(Household, Household.id == Ownership.household_id)
            .join(Building, Building.id == Household.building_id)
            .where(units_clause(ballot), Owner.community_id == ballot.community_id,
                   Ownership.held_on(on))
            .subquery("held"))


def _freeze_owners(ballot, on: date) -> None:
    held = _with_developer_assigned(_held_units(ballot, on), ballot, on)
    _insert_voters(_developer_voter(ballot, held))
    _insert_voters(_co_owned_unit_voters(ballot, held))
    _insert_voters(_sole_owner_voters(ballot, held))
    _name_representatives(ballot, on)
    if ballot.co_owner_headcount == "once":
        _merge_co_owned_heads(ballot, on)
    _insert_owner_casters(ballot, on)
    _insert_exclusions(ballot, on)


def unowned_units(community_id, on: date, ballot=None):
    """Select: the community's units with no owner on `on` (household_id, label), and their resolution
    (resolution, owner_id, reason) when one was recorded with effect on or before `on` (else NULLs); with a
    `ballot`, only the units within its scope (portal.votes.scope)."""
    owned = exists().where(Ownership.household_id == Household.id, Ownership.held_on(on))
    return (select(Household.id.label("household_id"), unit_label(), UnownedUnit.resolution, UnownedUnit.owner_id,
                   UnownedUnit.reason)
            .select_from(Household).join(Building, Building.id == Household.building_id)
            .outerjoin(UnownedUnit, and_(UnownedUnit.household_id == Household.id, UnownedUnit.since <= on))
            .where(Building.community_id == community_id if ballot is None else units_clause(ballot), ~owned))


def _with_developer_assigned(held, ballot, on: date):
    """`held` and the units without an owner the committee assigned to the developer, as if it held them."""
    unowned = unowned_units(ballot.community_id, on, ballot).subquery("unowned")
    area_cm = cast(func.round(Household.area_m2 * 100), BigInteger)
    assigned = (select(unowned.c.household_id, Owner.id.label("owner_id"), Owner.is_developer,
                       Owner.name.label("owner_name"), area_cm.label("area_cm"), literal(1).label("n_owners"),
                       literal(1).label("has_developer"))
                .join(Owner, Owner.id == unowned.c.owner_id)
                .join(Household, Household.id == unowned.c.household_id)
                .where(unowned.c.resolution == "developer", Owner.is_developer.is_(True),
                       Owner.community_id == ballot.community_id))
    return union_all(select(*held.c), assigned).subquery("held_or_assigned")


def _name_representatives(ballot, on: date) -> None:
    """Each co-owned unit's named representative, when they still co-own it on `on`."""
    representative = (select(UnitRepresentative.owner_id)
                      .join(Ownership, and_(Ownership.household_id == UnitRepresentative.household_id,
                                            Ownership.owner_id == UnitRepresentative.owner_id))
                      .where(UnitRepresentative.household_id == BallotVoter.household_id, Ownership.held_on(on))
                      .limit(1).scalar_subquery())
    db.session.execute(update(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                 BallotVoter.kind == "co_owned_unit")
                       .values(representative_id=representative).execution_options(synchronize_session=False))


def _merge_co_owned_heads(ballot, on: date) -> None:
    """The "once" reading: a co-owned unit one of whose co-owners counts as a sole owner in this ballot
    adds no head of its own."""
    sole = BallotVoter.__table__.alias("sole")
    co_owner_counted = (select(Ownership.id)
                        .join(sole, and_(sole.c.owner_id == Ownership.owner_id, sole.c.ballot_id == ballot.id,
                                         sole.c.kind == "owner"))
                        .where(Ownership.household_id == BallotVoter.household_id, Ownership.held_on(on))
                        .exists())
    db.session.execute(update(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                 BallotVoter.kind == "co_owned_unit", co_owner_counted)
                       .values(headcount=0).execution_options(synchronize_session=False))


def _insert_exclusions(ballot, on: date) -> None:
    """The units without an owner not assigned to the developer, frozen with the committee's reason."""
    unowned = unowned_units(ballot.community_id, on, ballot).subquery("unowned")
    reason = case((unowned.c.resolution == "excluded", unowned.c.reason), else_=null())
    db.session.execute(insert(BallotExclusion).from_select(
        ["ballot_id", "household_id", "label", "reason"],
        select(literal(ballot.id), unowned.c.household_id, unowned.c.label, reason)
        .where(func.coalesce(unowned.c.resolution, "") != "developer")))


def _developer_voter(ballot, held):
    """All units the developer holds: one voter, headcount 1, the whole area."""
    return (select(literal(ballot.id), literal("developer"), _null_id(), held.c.owner_id, _null_id(),
                   held.c.owner_name, literal(1), func.sum(held.c.area_cm))
            .where(held.c.is_developer.is_(True))
            .group_by(held.c.owner_id, held.c.owner_name))


def _co_owned_unit_voters(ballot, held):
    """Each unit with two or more current owners (none of them the developer): one voter, its area."""
    label = unit_label()
    return (select(literal(ballot.id), literal("co_owned_unit"), _null_id(), _null_id(), held.c.household_id,
                   label, literal(1), func.max(held.c.area_cm))
            .select_from(held).join(Household, Household.id == held.c.household_id)
            .join(Building, Building.id == Household.building_id)
            .where(held.c.n_owners > 1, held.c.has_developer == 0)
            .group_by(held.c.household_id, Building.name, Household.entrance, Household.room))


def _sole_owner_voters(ballot, held):
    """Each owner's solely held units together: one voter, headcount 1, the sum of their areas."""
    return (select(literal(ballot.id), literal("owner"), _null_id(), held.c.owner_id, _null_id(),
                   held.c.owner_name, literal(1), func.sum(held.c.area_cm))
            .where(held.c.n_owners == 1, held.c.is_developer.is_(False))
            .group_by(held.c.owner_id, held.c.owner_name))


def _insert_owner_casters(ballot, on: date) -> None:
    """The developer's representative and sole owners cast through their linked account; a co-owned unit
    through its named representative's account, or when none is named any co-owner's linked account."""
    _insert_casters(select(BallotVoter.ballot_id, BallotVoter.id, Owner.user_id)
                    .join(Owner, Owner.id == BallotVoter.owner_id)
                    .where(BallotVoter.ballot_id == ballot.id, BallotVoter.kind.in_(("owner", "developer")),
                           Owner.user_id.is_not(None)))
    _insert_casters(select(BallotVoter.ballot_id, BallotVoter.id, Owner.user_id)
                    .join(Owner, Owner.id == BallotVoter.representative_id)
                    .where(BallotVoter.ballot_id == ballot.id, BallotVoter.kind == "co_owned_unit",
                           Owner.user_id.is_not(None)))
    _insert_casters(select(BallotVoter.ballot_id, BallotVoter.id, Owner.user_id).distinct()
                    .join(Ownership, Ownership.household_id == BallotVoter.household_id)
                    .join(Owner, Owner.id == Ownership.owner_id)
                    .where(BallotVoter.ballot_id == ballot.id, BallotVoter.kind == "co_owned_unit",
                           BallotVoter.representative_id.is_(None),
                           Ownership.held_on(on), Owner.community_id == ballot.community_id,
                           Owner.user_id.is_not(None)))


# --- shared ---

def unit_label():
    """SQL for "Building 3, 1-0201" (or "Building 3, 0201" when the unit has no entrance)."""
    door = case((Household.entrance == "", Household.room), else_=Household.entrance + "-" + Household.room)
    return (Building.name + ", " + door).label("label")


def _insert_voters(query) -> None:
    db.session.execute(insert(BallotVoter).from_select(list(VOTER_COLUMNS), query))


def _insert_casters(query) -> None:
    db.session.execute(insert(BallotCaster).from_select(list(CASTER_COLUMNS), query))
