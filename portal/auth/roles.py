"""Who a person is where: roles come from memberships that are current today.

"Today" is a local date: a community's own for its ownerships, the portal's default zone for memberships
(whose organizations may span a sub-district). Membership end dates are the last day served (inclusive);
ownership end dates are handover days (exclusive), see `Ownership.held_on`."""
from datetime import date

from flask import g, has_request_context
from sqlalchemy import Date, Integer, String, bindparam, event, func, literal, or_
from sqlalchemy.orm import Session, contains_eager, joinedload

from portal.clock import local_today
from portal.committees.models import COMMITTEE_KINDS, GRID_KINDS, Organization, OrgMembership
from portal.extensions import columns_of, db, loaded, width
from portal.places.models import OPEN_RESIDENCY_STATES, Community, Owner, Ownership, Residency


def today() -> date:
    return local_today()


def _current(model, on: date | None = None):
    on = today() if on is None else on
    return (model.start_date <= on) & or_(model.end_date.is_(None), model.end_date >= on)


def memberships(user, kinds=None):
    """The person's current organization memberships, optionally of some kinds."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [m for m in _current_memberships(user) if not kinds or m.organization.kind in kinds]


def _current_memberships(user) -> list[OrgMembership]:
    # Every permission rule asks this; within one request the answer is read once (the user loader reads it
    # with the person, see remember_memberships) and forgotten when a flush or rollback touches memberships.
    cache = _request_cache("current_memberships")
    key = (user.id, today())
    if cache is not None and key in cache:
        return cache[key]
    rows = db.session.scalars(
        db.select(OrgMembership).join(Organization).options(contains_eager(OrgMembership.organization))
        .where(OrgMembership.user_id == user.id, _current(OrgMembership))).all()
    if cache is not None:
        cache[key] = rows
    return rows


def remember_memberships(user, rows) -> None:
    """The person's current memberships, read by the caller in the same statement as the person."""
    cache = _request_cache("current_memberships")
    if cache is not None:
        cache[(user.id, today())] = list(rows)


_PERSON_STATEMENT = []


def person_statement():
    """The user loader's one statement, built once per process (building it costs more than running it):
    the person with current memberships (and their organizations), open residencies and the unread count,
    for the bound parameters user_id and today; nobody unless the session whose key digest is the bound
    parameter digest is the person's, has not ended and began after the bound parameter since (a sign-in
    lasts REMEMBER_COOKIE_DURATION at most, whatever cookie a browser keeps). Plain columns, for read_person:
    the person's, a membership's and its organization's, the residency's community and state, the count."""
    if not _PERSON_STATEMENT:
        from portal.auth.models import SignedInSession, User
        from portal.outbox import Notification
        on = bindparam("today", type_=Date)
        user, membership, organization = User.__table__, OrgMembership.__table__, Organization.__table__
        residency, signed_in, notification = Residency.__table__, SignedInSession.__table__, Notification.__table__
        unread = (db.select(func.count(notification.c.id))
                  .where(notification.c.recipient_id == user.c.id, notification.c.read_at.is_(None))
                  .correlate(user).scalar_subquery())
        session_is_live = (db.select(signed_in.c.id).where(
            signed_in.c.user_id == user.c.id, signed_in.c.ended_at.is_(None),
            signed_in.c.key_digest == bindparam("digest", type_=String),
            signed_in.c.created_at > bindparam("since", type_=signed_in.c.created_at.type))
            .correlate(user).exists())
        # The open states as one bound value each: an IN over a list is expanded into the SQL text again on
        # every execution (a tenth of the statement's cost).
        open_states = [literal(state, String) for state in OPEN_RESIDENCY_STATES]
        _PERSON_STATEMENT.append(
            db.select(*columns_of(User), *columns_of(OrgMembership), *columns_of(Organization),
                      residency.c.community_id, residency.c.status, unread)
            .select_from(user)
            .where(user.c.id == bindparam("user_id", type_=Integer), session_is_live)
            .outerjoin(membership, (membership.c.user_id == user.c.id) & (membership.c.start_date <= on)
                       & or_(membership.c.end_date.is_(None), membership.c.end_date >= on))
            .outerjoin(organization, organization.c.id == membership.c.organization_id)
            .outerjoin(residency, (residency.c.user_id == user.c.id) & residency.c.status.in_(open_states)))
    return _PERSON_STATEMENT[0]


def read_person(rows):
    """(the person, their current memberships, {community id: open residency states}, unread notifications)
    from person_statement's rows, as persistent objects; None when there are no rows."""
    if not rows:
        return None
    from portal.auth.models import User
    people = width(User)
    organizations = people + width(OrgMembership)
    residency = organizations + width(Organization)
    user = loaded(User, rows[0][:people])
    found: dict[int, OrgMembership] = {}
    residencies: dict[int, set[str]] = {}
    for row in rows:
        membership = loaded(OrgMembership, row[people:organizations],
                            organization=loaded(Organization, row[organizations:residency]))
        if membership is not None:
            found[membership.id] = membership
        if row[residency] is not None:
            residencies.setdefault(row[residency], set()).add(row[residency + 1])
    return user, list(found.values()), residencies, rows[0][residency + 2] or 0


def _open_residencies(user_id: int) -> dict[int, set[str]]:
    """{community id: the person's pending and verified residency states there}, read once per request."""
    cache = _request_cache("open_residencies")
    if cache is not None and user_id in cache:
        return cache[user_id]
    found: dict[int, set[str]] = {}
    for community_id, status in db.session.execute(db.select(Residency.community_id, Residency.status).where(
            Residency.user_id == user_id, Residency.status.in_(OPEN_RESIDENCY_STATES))):
        found.setdefault(community_id, set()).add(status)
    if cache is not None:
        cache[user_id] = found
    return found


def remember_residencies(user, found: dict[int, set[str]]) -> None:
    """The person's open residencies, read by the caller in the same statement as the person."""
    cache = _request_cache("open_residencies")
    if cache is not None:
        cache[user.id] = found


def open_residency_community_ids(user_id: int) -> set[int]:
    """Communities the person lives in or has claimed a unit in (pending or verified residencies)."""
    return set(_open_residencies(user_id))


def _request_cache(name):
    return g.setdefault(name, {}) if has_request_context() else None


REQUEST_CACHES = ("current_memberships", "open_residencies")


def forget_memberships() -> None:
    """After memberships or residencies change within a request, later rules must read them afresh. Flushes
    and rollbacks that touch them call this by themselves (the listeners below)."""
    if has_request_context():
        for name in REQUEST_CACHES:
            g.pop(name, None)


@event.listens_for(Session, "after_flush")
def _forget_after_flush(session, flush_context):
    if any(isinstance(obj, (OrgMembership, Organization, Residency))
           for obj in (*session.new, *session.dirty, *session.deleted)):
        forget_memberships()


def _forget_on_change(target, value, oldvalue, initiator):
    # A change not yet flushed: the next read flushes it (autoflush) and must not be answered from the cache.
    forget_memberships()


for _attribute in (Residency.status, Residency.user_id, Residency.community_id, OrgMembership.user_id,
                   OrgMembership.organization_id, OrgMembership.start_date, OrgMembership.end_date):
    event.listen(_attribute, "set", _forget_on_change)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    # What was read after an uncommitted change may be gone with it.
    forget_memberships()


@event.listens_for(Session, "do_orm_execute")
def _forget_after_bulk_change(execute_state):
    if execute_state.is_update or execute_state.is_delete:
        tables = {getattr(mapper, "local_table", None) for mapper in execute_state.all_mappers}
        if tables & {OrgMembership.__table__, Organization.__table__, Residency.__table__}:
            forget_memberships()


def without_organization(user) -> bool:
    """Signed out, or signed in with no organization (not staff, official, committee member) and not an
    admin: the residents and visitors whom a page may show the same kept page, but for their own parts."""
    return not getattr(user, "is_authenticated", False) or not (user.is_admin or memberships(user))


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


def grids(user, community) -> list[Organization]:
    """The grids (网格) of the community the person is a current grid worker of."""
    if community is None:
        return []
    return [o for o in organizations(user, GRID_KINDS) if o.community_id == community.id]


def is_grid_worker(user, community) -> bool:
    return bool(grids(user, community))


def official_sub_district_ids(user) -> set[int]:
    return {o.sub_district_id for o in organizations(user, ("subdistrict_office",))}


def is_official_of(user, sub_district) -> bool:
    return sub_district is not None and sub_district.id in official_sub_district_ids(user)


def is_official_over(user, community) -> bool:
    """An official of the community's sub-district, by its id: without loading the sub-district."""
    return community is not None and community.sub_district_id in official_sub_district_ids(user)


def is_verified_resident(user, community) -> bool:
    if not getattr(user, "is_authenticated", False) or community is None:
        return False
    return "verified" in _open_residencies(user.id).get(community.id, ())


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
    ids = open_residency_community_ids(user.id)
    for org in organizations(user):
        if org.community_id:
            ids.add(org.community_id)
    sub_districts = official_sub_district_ids(user)
    query = db.select(Community).where(or_(Community.id.in_(ids), Community.sub_district_id.in_(sub_districts)))
    return db.session.scalars(query.options(joinedload(Community.sub_district)).order_by(Community.name)).all()


def current_clause(model, on: date | None = None):
    """The SQL condition "current on this day" for any model with start_date and end_date columns."""
    return _current(model, on)
