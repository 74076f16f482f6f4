"""Demo residents in every state: verified, pending (one whose phone matches an owner in the register),
rejected with a reason, moved out, an owner linked by the committee, and an elderly resident registered
at the counter and helped by the chair. Idempotent; runs after the places demo and skips what is missing."""
from portal.auth.models import User
from portal.auth.services import hash_password
from portal.clock import local_today
from portal.demo_people import COMMUNITY_PEOPLE, DEMO_PASSWORD, ensure_user, seed_organizations
from portal.extensions import db
from portal.places.models import Building, Community, Household, Owner, Residency
from portal.residents import services

# (login offset from the community's base, display name, what happens to the claim)
RESIDENTS = [
    (1, "张阿姨", "verified"),
    (3, "钱先生", "pending"),
    (4, "孙女士", "rejected"),
    (5, "李先生", "ended"),
]
COMMUNITY_BASE = {"huajiadi": 13800000000, "nanhu": 13800000100, "wanghualu": 13800000200}


def _households(community) -> list[Household]:
    return db.session.scalars(db.select(Household).join(Building).where(Building.community_id == community.id)
                              .order_by(Building.code, Household.entrance, Household.room)).all()


def _owned(households) -> list[tuple[Household, Owner]]:
    today = local_today()
    pairs = []
    for h in households:
        for o in h.ownerships:
            owner = o.owner
            if o.is_held_on(today) and not owner.is_developer:
                pairs.append((h, owner))
    return pairs


def _has_residency(user, community) -> bool:
    return db.session.scalar(db.select(Residency.id).where(
        Residency.user_id == user.id, Residency.community_id == community.id).limit(1)) is not None


def _seed_community(community, chair, base) -> list[str]:
    households = _households(community)
    if len(households) < 6:
        return []
    owned = _owned(households)
    owned_ids = {h.id for h, _owner in owned}
    free = [h for h in households if h.id not in owned_ids] or households
    states = {}
    for offset, name, state in RESIDENTS:
        person = ensure_user(str(base + offset), name)
        states[state] = person
        if _has_residency(person, community):
            continue
        residency = services.claim_unit(person, free[offset % len(free)], community=community)
        if state == "verified":
            services.verify_claim(chair, residency)
        elif state == "rejected":
            services.reject_claim(chair, residency, "登记表中该户没有此人，请带户口本或租房合同到居委会核实。")
        elif state == "ended":
            services.verify_claim(chair, residency)
            services.end_residency(person, residency)
    lines = [f"{community.name}: resident {base + 1} (verified), {base + 3} (pending), {base + 4} (rejected), "
             f"{base + 5} (moved out)"]

    # An owner linked by the chair: the account takes the register's name, and the chair confirms the link.
    unlinked = [(h, o) for h, o in owned if o.user_id is None]
    owner_login = str(base + 2)
    owner_user = db.session.scalar(db.select(User).where(User.phone == owner_login))
    if owner_user is None and unlinked:
        household, owner = unlinked[0]
        owner_user = ensure_user(owner_login, owner.name)
        residency = services.claim_unit(owner_user, household, community=community)
        services.verify_claim(chair, residency, confirm_owner_ids=[owner.id])
        unlinked = unlinked[1:]
    if owner_user is not None:
        lines.append(f"{community.name}: owner {owner_login} (verified, linked to the owners' register)")

    # A pending claim whose phone matches an owner in the register: the pending page proposes the link.
    users_by_phone = {u.phone: u for u in db.session.scalars(db.select(User).where(User.phone.is_not(None)))}
    for household, owner in unlinked:
        if not owner.phone:
            continue
        existing = users_by_phone.get(owner.phone)
        if existing is not None and existing.display_name != owner.name:
            continue  # the number belongs to another demo account
        claimant = existing or ensure_user(owner.phone, owner.name)
        if not _has_residency(claimant, community):
            services.claim_unit(claimant, household, community=community)
        lines.append(f"{community.name}: pending claim by {owner.phone}, whose phone matches owner {owner.name}")
        break

    # An elderly resident registered at the counter, then helped by the chair.
    elderly_login = str(base + 9)
    elderly = db.session.scalar(db.select(User).where(User.phone == elderly_login))
    if elderly is None:
        elderly, _residency = services.register_on_behalf(
            chair, community, display_name="刘奶奶", phone=elderly_login,
            household=free[9 % len(free)])
        # Only so the demo can sign in as her; a real counter registration leaves no password anyone knows.
        elderly.password_hash = hash_password(DEMO_PASSWORD)
        services.record_view(chair, elderly, community)
        services.start_acting_for(chair, elderly)
        services.stop_acting_for(chair, elderly)
    lines.append(f"{community.name}: elderly resident {elderly_login}, registered at the counter by the chair")
    return lines


def seed_people() -> list[str]:
    """Organizations and their members, then residents in every state. Returns summary lines."""
    lines = seed_organizations()
    for slug, base in COMMUNITY_BASE.items():
        community = db.session.scalar(db.select(Community).where(Community.slug == slug))
        if community is None:
            continue
        chair = ensure_user(*COMMUNITY_PEOPLE[slug]["chair"])
        lines += _seed_community(community, chair, base)
    db.session.flush()
    return lines
