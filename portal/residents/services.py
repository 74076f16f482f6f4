"""Residents: claiming a unit, verification by the committee, owners confirmed, moving out, registering
and acting on behalf of residents at the counter, and who may see a phone number.

Every function takes the acting person explicitly. When a committee member acts for a resident, the
member is the actor and the resident is `on_behalf_of`; the audit log records both, and the resident
can read every entry about them on their own page. Callers commit; a DomainError leaves nothing written
that the caller will keep (views roll back)."""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from portal.audit.services import entries_about, record
from portal.auth import permissions
from portal.clock import local_today, utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.formatting import mask_phone
from portal.outbox import notify, register_event
from portal.places.models import OPEN_RESIDENCY_STATES, Building, Community, Household, Owner, Ownership, Residency

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flask_login import AnonymousUserMixin

    from portal.audit.models import AuditEntry
    from portal.auth.models import User

REASON_MAX = 500

STATUS_LABELS = {
    "pending": _l("Waiting for verification"),
    "verified": _l("Verified"),
    "rejected": _l("Not accepted"),
    "ended": _l("Moved out"),
}


def _pending_link(notification):
    slug = notification.payload.get("slug")
    return url_for("residents.pending", slug=slug) if slug else None


def _mine_link(notification):
    return url_for("residents.mine")


register_event("residency.claimed", _l("%(name)s claimed %(unit)s in %(community)s."), _pending_link)
register_event("residency.verified", _l("Your residence at %(unit)s is verified."), _mine_link)
register_event("residency.rejected", _l("Your claim for %(unit)s was not accepted: %(reason)s"), _mine_link)
register_event("residency.ended", _l("Your residence at %(unit)s was ended by %(by)s."), _mine_link)


def unit_label(household: Household | None) -> str:
    """Building, entrance and room, the way residents write an address: "3号楼 1-0201"."""
    if household is None:
        return ""
    door = f"{household.entrance}-{household.room}" if household.entrance else household.room
    return f"{household.building.name} {door}"


def phone_for(viewer: User | AnonymousUserMixin, person: User | None) -> str:
    """The full phone number for those allowed to see it (see permissions.can_see_full_phone), else masked."""
    if person is None or not person.phone:
        return ""
    return person.phone if permissions.can_see_full_phone(viewer, person) else mask_phone(person.phone)


# --- reading -------------------------------------------------------------------------------------------

def all_communities() -> list[Community]:
    return db.session.scalars(db.select(Community).order_by(Community.name)).all()


def households_by_building(community: Community | None) -> dict[str, list[tuple[int, str]]]:
    """The community's units grouped by building, for a select with one group per building."""
    if community is None:
        return {}
    rows = db.session.scalars(db.select(Household).join(Building).where(Building.community_id == community.id)
                              .order_by(Building.code, Household.entrance, Household.room)).all()
    groups: dict[str, list[tuple[int, str]]] = {}
    for h in rows:
        groups.setdefault(h.building.name, []).append((h.id, unit_label(h)))
    return groups


def residencies_of(person: User) -> list[Residency]:
    return db.session.scalars(db.select(Residency).where(Residency.user_id == person.id)
                              .options(joinedload(Residency.household).joinedload(Household.building))
                              .order_by(Residency.claimed_at.desc(), Residency.id.desc())).all()


def residencies_in(community: Community, statuses: Iterable[str] = OPEN_RESIDENCY_STATES) -> list[Residency]:
    return db.session.scalars(db.select(Residency).where(
        Residency.community_id == community.id, Residency.status.in_(statuses))
        .order_by(Residency.claimed_at, Residency.id)).all()


def pending_claims(community: Community) -> list[Residency]:
    return residencies_in(community, ("pending",))


def resident_history(community: Community, person: User) -> list[Residency]:
    return db.session.scalars(db.select(Residency).where(
        Residency.community_id == community.id, Residency.user_id == person.id)
        .order_by(Residency.claimed_at.desc(), Residency.id.desc())).all()


def record_about(person: User) -> list[AuditEntry]:
    """Every audit entry about the person: acts on their behalf, who viewed or changed their record."""
    return entries_about(person)


def owner_proposals(residency: Residency) -> list[Owner]:
    """Owners in the register, with a current ownership of the claimed unit and not yet linked to an
    account, one of whose register phones is the account's phone. Only a proposal: a member must confirm."""
    person = residency.user
    if residency.household_id is None or not person.phone:
        return []
    return [o for o in _unlinked_current_owners(residency) if person.phone in o.phone_numbers]


def linked_owners(person: User) -> list[Owner]:
    return db.session.scalars(db.select(Owner).where(Owner.user_id == person.id).order_by(Owner.id)).all()


def _unlinked_current_owners(residency) -> list[Owner]:
    today = local_today(residency.community.time_zone)
    return db.session.scalars(
        db.select(Owner).join(Ownership).where(
            Ownership.household_id == residency.household_id, Ownership.held_on(today),
            Owner.is_developer.is_(False), Owner.user_id.is_(None))
        .order_by(Owner.id).distinct()).all()


# --- claims and verification ----------------------------------------------------------------------------

def _claimant(actor, on_behalf_of):
    if on_behalf_of is None:
        return actor
    if not permissions.can_act_for(actor, on_behalf_of):
        raise NotAllowed(_l("You may not act for this person."))
    return on_behalf_of


def claim_unit(user: User, household: Household | None, *, community: Community | None = None, is_adult: bool = True,
               on_behalf_of: User | None = None) -> Residency:
    """A claim to live in `household`; `community` is the one the person picked, which the unit must be in."""
    claimant = _claimant(user, on_behalf_of)
    if community is None and household is None:
        raise DomainError(_l("Choose your community."), "community")
    if household is None:
        raise DomainError(_l("This unit is not in our register. Choose your unit from the list."), "household")
    if community is not None and household.building.community_id != community.id:
        raise DomainError(_l("This unit is not in %(community)s. Choose a unit of the community you picked.",
                             community=community.name), "household")
    community = household.building.community
    existing = db.session.scalar(db.select(Residency).where(
        Residency.user_id == claimant.id, Residency.household_id == household.id,
        Residency.status.in_(OPEN_RESIDENCY_STATES)))
    if existing is not None:
        message = (_l("You already live at this unit.") if existing.status == "verified"
                   else _l("You have already claimed this unit; the committee will verify it soon."))
        raise DomainError(message, "household")
    residency = Residency(user=claimant, community=community, household=household, status="pending",
                          is_adult=bool(is_adult), claimed_at=utcnow())
    db.session.add(residency)
    db.session.flush()
    record(user, "residency.claimed", residency, on_behalf_of=on_behalf_of, subject_user=claimant,
           community=community.slug, unit=unit_label(household))
    from portal.committees.services import committee_members
    notify([m for m in committee_members(community) if m.id != claimant.id], "residency.claimed", residency,
           name=claimant.display_name, unit=unit_label(household), community=community.name, slug=community.slug)
    return residency


def _require_verifier(member, residency):
    if not permissions.can_verify_residents(member, residency.community):
        raise NotAllowed(_l("Only committee members of %(community)s can verify its residents.",
                            community=residency.community.name))


def confirm_owners(member: User, residency: Residency, owner_ids: Iterable[int]) -> list[Owner]:
    """Links register owners of the resident's unit to the resident's account, each explicitly chosen."""
    _require_verifier(member, residency)
    owner_ids = {int(i) for i in owner_ids or ()}
    if not owner_ids:
        return []
    candidates = {o.id: o for o in _unlinked_current_owners(residency)}
    unknown = owner_ids - set(candidates)
    if unknown:
        raise DomainError(_l("Only an unlinked owner of this unit in the register can be confirmed."), "owners")
    if residency.status != "verified":
        raise DomainError(_l("Verify the residence before confirming ownership."), "owners")
    confirmed = []
    now = utcnow()
    for owner_id in sorted(owner_ids):
        owner = candidates[owner_id]
        owner.user_id = residency.user_id
        owner.confirmed_by_id = member.id
        owner.confirmed_at = now
        record(member, "owner.confirmed", owner, subject_user=residency.user, residency_id=residency.id,
               unit=unit_label(residency.household), phone_matched=residency.user.phone in owner.phone_numbers)
        confirmed.append(owner)
    return confirmed


def verify_claim(member: User, residency: Residency, confirm_owner_ids: Iterable[int] = ()) -> bool:
    """Verifies a pending claim and confirms the chosen owners. Returns False (and changes nothing) when
    the claim was already verified."""
    _require_verifier(member, residency)
    if residency.status == "verified":
        return False
    if residency.status != "pending":
        raise DomainError(_l("Only a claim waiting for verification can be verified."), "status")
    candidates = {o.id for o in _unlinked_current_owners(residency)}
    if {int(i) for i in confirm_owner_ids or ()} - candidates:
        raise DomainError(_l("Only an unlinked owner of this unit in the register can be confirmed."), "owners")
    residency.status = "verified"
    residency.decided_at = utcnow()
    residency.decided_by_id = member.id
    residency.reason = None
    record(member, "residency.verified", residency, subject_user=residency.user,
           community=residency.community.slug, unit=unit_label(residency.household))
    confirm_owners(member, residency, confirm_owner_ids)
    notify([residency.user], "residency.verified", residency, unit=unit_label(residency.household))
    return True


def reject_claim(member: User, residency: Residency, reason: str) -> Residency:
    _require_verifier(member, residency)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_l("Say why the claim is not accepted; the person will read it."), "reason")
    if len(reason) > REASON_MAX:
        raise DomainError(_l("Keep the reason under %(n)d characters.", n=REASON_MAX), "reason")
    if residency.status != "pending":
        raise DomainError(_l("Only a claim waiting for verification can be rejected."), "reason")
    residency.status = "rejected"
    residency.decided_at = utcnow()
    residency.decided_by_id = member.id
    residency.reason = reason
    record(member, "residency.rejected", residency, subject_user=residency.user, reason=reason,
           community=residency.community.slug, unit=unit_label(residency.household))
    notify([residency.user], "residency.rejected", residency, unit=unit_label(residency.household), reason=reason)
    return residency


def end_residency(actor: User, residency: Residency, *, on_behalf_of: User | None = None) -> Residency:
    """Moving out (or withdrawing a pending claim): status "ended" with who and when; the row stays."""
    if on_behalf_of is not None:
        if on_behalf_of.id != residency.user_id or not permissions.can_act_for(actor, on_behalf_of):
            raise NotAllowed(_l("You may not act for this person."))
    elif not permissions.can_end_residency(actor, residency):
        raise NotAllowed(_l("Only the resident or a committee member of %(community)s can end this residence.",
                            community=residency.community.name))
    if not residency.is_open:
        raise DomainError(_l("This residence has already ended."), "status")
    residency.status = "ended"
    residency.ended_at = utcnow()
    residency.ended_by_id = actor.id
    record(actor, "residency.ended", residency, on_behalf_of=on_behalf_of, subject_user=residency.user,
           community=residency.community.slug, unit=unit_label(residency.household))
    if actor.id != residency.user_id and on_behalf_of is None:
        notify([residency.user], "residency.ended", residency, unit=unit_label(residency.household),
               by=actor.display_name)
    return residency


def set_act_for_consent(person: User, residency: Residency, consent: bool) -> Residency:
    """The resident's own choice (never a helper's) to let the community's committee act for them."""
    if person.id != residency.user_id:
        raise NotAllowed(_l("Only the resident can decide this."))
    if consent and residency.act_for_consent_at is None:
        residency.act_for_consent_at = utcnow()
        record(person, "residency.consent_given", residency, subject_user=person)
    elif not consent and residency.act_for_consent_at is not None:
        residency.act_for_consent_at = None
        record(person, "residency.consent_withdrawn", residency, subject_user=person)
    return residency


# --- at the counter: registering and acting for a resident -------------------------------------------------

def register_on_behalf(member: User, community: Community, *, display_name: str, phone: str, household: Household,
                       is_adult: bool = True) -> tuple:
    """Registers a resident who came to the counter: an account (consent given in person, no password
    anyone knows; the resident sets one with a reset code) and a verified residency for their unit."""
    from portal.auth.services import create_user
    if not permissions.can_register_on_behalf(member, community):
        raise NotAllowed(_l("Only committee members of %(community)s can register its residents.",
                            community=community.name))
    display_name = (display_name or "").strip()
    if not display_name:
        raise DomainError(_l("Enter the resident's name."), "display_name")
    if not (phone or "").strip():
        raise DomainError(_l("Enter the resident's mobile number."), "phone")
    if household is None:
        raise DomainError(_l("This unit is not in our register. Choose the unit from the list."), "household")
    if household.building.community_id != community.id:
        raise DomainError(_l("This unit is not in %(community)s. Choose a unit of the community you picked.",
                             community=community.name), "household")
    try:
        person = create_user(display_name=display_name, phone=phone, password=secrets.token_urlsafe(32),
                             registered_by=member)
    except DomainError as error:
        raise DomainError(error.message, "phone" if error.field == "login" else error.field) from None
    now = utcnow()
    residency = Residency(user=person, community=community, household=household, status="verified",
                          is_adult=bool(is_adult), claimed_at=now, decided_at=now, decided_by_id=member.id)
    db.session.add(residency)
    db.session.flush()
    record(member, "residency.registered", residency, on_behalf_of=person, subject_user=person,
           community=community.slug, unit=unit_label(household))
    return person, residency


def start_acting_for(member: User, person: User) -> None:
    if not permissions.can_act_for(member, person):
        raise NotAllowed(_l("You may act only for residents of your community who were registered at the "
                            "counter or have agreed to it."))
    record(member, "act_for.started", person, on_behalf_of=person, subject_user=person)


def stop_acting_for(member: User, person: User) -> None:
    record(member, "act_for.stopped", person, on_behalf_of=person, subject_user=person)


def record_view(viewer: User | AnonymousUserMixin, person: User, community: Community) -> None:
    """Opening a resident's record is itself recorded, so the resident sees who looked."""
    record(viewer, "resident.viewed", person, subject_user=person, community=community.slug)
