"""Places and the household register: the rules, as plain functions taking the acting person explicitly.

Every change is audited; every refusal is a DomainError naming the field it concerns.

Ownership periods: `end_date` is the handover day, which is also the next owners' `start_date`, so on
any day exactly one set of owners holds a unit (start_date <= day < end_date)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, or_
from sqlalchemy.orm import aliased, contains_eager

from portal import clock, versions
from portal.audit.services import record
from portal.auth import permissions
from portal.auth.services import is_phone, normalize_login
from portal.clock import DEFAULT_TIME_ZONE
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.places import estates
from portal.places.importer import (
    AREA_SOURCE_WORDS,
    DEVELOPER,
    OwnerEntry,
    RegisterRow,
    parse_area,
    read_register,
    unit_label,
)
from portal.places.models import (
    AREA_SOURCES,
    Building,
    Community,
    Household,
    Owner,
    OwnerPhone,
    Ownership,
    OwnersKeptApart,
    SubDistrict,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from decimal import Decimal

    from flask_sqlalchemy.pagination import Pagination

    from portal.auth.models import User

    # Owner rows, OwnerEntry / (name, phone) pairs or "developer", one or several (see resolve_owners).
    OwnersGiven = Iterable[Owner | OwnerEntry | tuple[str, str] | str] | Owner | OwnerEntry | str

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
POSTCODE_RE = re.compile(r"^\d{6}$")
BUILDING_CODE_RE = re.compile(r"^[\w-]{1,16}$")
DEVELOPER_NAME = "开发商"
AREA_SOURCE_LABELS = {"register": _l("Property register (不动产登记簿)"), "surveyed": _l("Surveyed (实测)"),
                      "contract": _l("Contract (合同)")}
OWNER_KIND_LABELS = {"person": _l("Person"), "organization": _l("Organization"), "developer": _l("Developer")}


def local_today(community: Community) -> date:
    """Today's date where the community is: what a committee member means by "today"."""
    return clock.local_today(community.time_zone)


def community_or_404(slug: str, *, with_sub_district: bool = False) -> Community:
    """The community of the address, or 404; `with_sub_district` reads its sub-district in the same statement
    (for a page that shows it)."""
    community = db.session.scalars(_community_statement(with_sub_district), {"slug": slug}).first()
    if community is None:
        abort(404)
    return community


@cache
def _community_statement(with_sub_district):
    # Built once per process: nearly every page of a community asks it first.
    query = db.select(Community).where(Community.slug == bindparam("slug"))
    return query.options(db.joinedload(Community.sub_district)) if with_sub_district else query


def _require(allowed: bool, message=None) -> None:
    if not allowed:
        raise NotAllowed(message or _l("You may not change this."))


def _text(value, field_name: str, max_length: int, label=None, required=True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError(_l("This field is required."), field_name)
    if len(value) > max_length:
        raise DomainError(_l("Use at most %(n)d characters.", n=max_length), field_name)
    return value


def _slug(value, model, current=None) -> str:
    slug = (value or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise DomainError(_l("Use lower-case letters, digits and hyphens, for example wangjing."), "slug")
    clash = db.session.scalar(db.select(model.id).where(model.slug == slug))
    if clash is not None and (current is None or clash != current.id):
        raise DomainError(_l("This short name is already taken."), "slug")
    return slug


# ---- sub-districts and communities (admins) ------------------------------------------------------------

def create_sub_district(actor: User, *, name: str, slug: str) -> SubDistrict:
    _require(permissions.can_manage_places(actor))
    sub_district = SubDistrict(name=_text(name, "name", 120), slug=_slug(slug, SubDistrict))
    db.session.add(sub_district)
    db.session.flush()
    record(actor, "sub_district.create", sub_district, name=sub_district.name, slug=sub_district.slug)
    return sub_district


def update_sub_district(actor: User, sub_district: SubDistrict, *, name: str, slug: str) -> SubDistrict:
    _require(permissions.can_manage_places(actor))
    name, slug = _text(name, "name", 120), _slug(slug, SubDistrict, sub_district)
    changed = _assign(sub_district, name=name, slug=slug)
    if changed:
        record(actor, "sub_district.update", sub_district, **changed)
    return sub_district


def _community_fields(sub_district, name, slug, time_zone, postcode, current=None) -> dict:
    if sub_district is None:
        raise DomainError(_l("Choose the sub-district."), "sub_district_id")
    time_zone = (time_zone or "").strip() or DEFAULT_TIME_ZONE
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(_l("“%(zone)s” is not a time zone; use a name such as Asia/Shanghai.",
                             zone=time_zone), "time_zone") from None
    postcode = (postcode or "").strip()
    if not POSTCODE_RE.match(postcode):
        raise DomainError(_l("A postcode is 6 digits, for example 100102."), "postcode")
    return {"sub_district_id": sub_district.id, "name": _text(name, "name", 120),
            "slug": _slug(slug, Community, current), "time_zone": time_zone, "postcode": postcode}


def create_community(actor: User, *, sub_district: SubDistrict, name: str, slug: str, postcode: str,
                     time_zone: str = DEFAULT_TIME_ZONE, members_only: bool = False) -> Community:
    _require(permissions.can_manage_places(actor))
    values = _community_fields(sub_district, name, slug, time_zone, postcode)
    community = Community(members_only=bool(members_only), **values)
    db.session.add(community)
    db.session.flush()
    record(actor, "community.create", community, members_only=community.members_only, **values)
    return community


def update_community(actor: User, community: Community, *, sub_district: SubDistrict, name: str, slug: str,
                     postcode: str, time_zone: str = DEFAULT_TIME_ZONE, members_only: bool = False) -> Community:
    _require(permissions.can_edit_community(actor, community))
    values = _community_fields(sub_district, name, slug, time_zone, postcode, current=community)
    changed = _assign(community, members_only=bool(members_only), **values)
    if changed:
        db.session.flush()
        record(actor, "community.update", community, **changed)
    return community


def _assign(obj, **values) -> dict:
    """Set the values that differ; returns {name: [before, after]} for the audit entry."""
    changed = {}
    for key, value in values.items():
        before = getattr(obj, key)
        if before != value:
            changed[key] = [_plain(before), _plain(value)]
            setattr(obj, key, value)
    return changed


def _plain(value):
    return value if value is None or isinstance(value, (bool, int, str)) else str(value)


# ---- buildings and households (admins and the community's committee members) --------------------------

def _building_code(community, code, current=None) -> str:
    code = (code or "").strip()
    if not BUILDING_CODE_RE.match(code):
        raise DomainError(_l("Use up to 16 letters or digits, for example 3 or 5A."), "code")
    clash = db.session.scalar(db.select(Building.id).where(
        Building.community_id == community.id, func.lower(Building.code) == code.lower()))
    if clash is not None and (current is None or clash != current.id):
        raise DomainError(_l("Another building in this community already has the code %(code)s.", code=code),
                          "code")
    return code


def create_building(actor: User, community: Community, *, name: str, code: str, estate_id: int | None = None
                    ) -> Building:
    """`estate_id`: the estate (小区) it belongs to; needed when the community has several."""
    _require(permissions.can_edit_register(actor, community))
    name, code = _text(name, "name", 120), _building_code(community, code)
    estate = estates.estate_for_building(community, estate_id)
    building = Building(community=community, estate=estate, name=name, code=code)
    db.session.add(building)
    db.session.flush()
    record(actor, "building.create", building, community_id=community.id, code=building.code, name=building.name,
           estate_id=estate.id)
    return building


def update_building(actor: User, building: Building, *, name: str, code: str, estate_id: int | None = None
                    ) -> Building:
    """The code is stable once the building has units: imports and people refer to units by it. Moving a
    building to another estate changes the owners' assembly its owners belong to from the next ballot on
    (open ballots keep their frozen electorate)."""
    _require(permissions.can_edit_register(actor, building.community))
    name = _text(name, "name", 120)
    code = _building_code(building.community, code, current=building)
    if code != building.code and unit_count(building):
        raise DomainError(_l("The code cannot change once the building has units."), "code")
    estate = estates.estate_for_building(building.community, estate_id or building.estate_id)
    changed = _assign(building, name=name, code=code, estate_id=estate.id)
    if changed:
        record(actor, "building.update", building, **changed)
    return building


def _unit_fields(building, entrance, room, current=None) -> tuple[str, str]:
    entrance = _text(entrance, "entrance", 16)
    room = _text(room, "room", 16)
    clash = db.session.scalar(db.select(Household.id).where(
        Household.building_id == building.id, Household.entrance == entrance, Household.room == room))
    if clash is not None and (current is None or clash != current.id):
        raise DomainError(_l("The unit %(unit)s is already in the register.",
                             unit=unit_label(building.code, entrance, room)), "room")
    return entrance, room


def _area_source(value) -> str:
    value = (value or "register").strip()
    for code, words in AREA_SOURCE_WORDS.items():
        if value == code or value.lower() in words:
            return code
    raise DomainError(_l("Choose where the area comes from."), "area_source")


def create_household(actor: User, building: Building, *, entrance: str, room: str, area_m2: str | Decimal,
                     owners: OwnersGiven | None = None, on_date: date | None = None,
                     area_source: str = "register") -> Household:
    """A unit; with `owners` (see `resolve_owners`) its first owners start on `on_date` (default today)."""
    _require(permissions.can_edit_register(actor, building.community))
    entrance, room = _unit_fields(building, entrance, room)
    household = Household(building=building, entrance=entrance, room=room, area_m2=parse_area(area_m2),
                          area_source=_area_source(area_source))
    db.session.add(household)
    db.session.flush()
    record(actor, "household.create", household, unit=unit_label(building.code, entrance, room),
           area_m2=str(household.area_m2), area_source=household.area_source)
    if owners:
        start_ownership(actor, household, owners, on_date)
    return household


def update_household(actor: User, household: Household, *, entrance: str, room: str,
                     area_m2: str | Decimal, area_source: str | None = None) -> Household:
    _require(permissions.can_edit_register(actor, household.community))
    entrance, room = _unit_fields(household.building, entrance, room, current=household)
    area_source = _area_source(area_source) if area_source is not None else household.area_source
    changed = _assign(household, entrance=entrance, room=room, area_m2=parse_area(area_m2),
                      area_source=area_source)
    if changed:
        db.session.flush()
        record(actor, "household.update", household, **changed)
    return household


def unit_count(building: Building) -> int:
    return db.session.scalar(db.select(func.count(Household.id)).where(Household.building_id == building.id))


# ---- owners and ownership ------------------------------------------------------------------------------

def current_ownerships(household: Household, on: date | None = None) -> list[Ownership]:
    on = on or local_today(household.community)
    return db.session.scalars(db.select(Ownership).join(Owner).where(
        Ownership.household_id == household.id, Ownership.held_on(on)).order_by(Owner.name)).all()


def current_owners_by_household(household_ids: Iterable[int], on: date) -> dict[int, list[Owner]]:
    """Current owners of many units in one query, for register pages."""
    owners: dict[int, list[Owner]] = {}
    if not household_ids:
        return owners
    rows = db.session.execute(db.select(Ownership.household_id, Owner).join(Owner).where(
        Ownership.household_id.in_(list(household_ids)), Ownership.held_on(on)).order_by(Owner.name)).all()
    for household_id, owner in rows:
        owners.setdefault(household_id, []).append(owner)
    return owners


def ownership_history(household: Household) -> list[Ownership]:
    """Every holding of the unit, newest first; co-owners started together sit next to each other."""
    return db.session.scalars(db.select(Ownership).join(Owner).where(Ownership.household_id == household.id)
                              .order_by(Ownership.start_date.desc(), Ownership.id)).all()


def developer_of(community: Community) -> Owner:
    """The community's one developer owner, made on first use."""
    owner = db.session.scalar(db.select(Owner).where(Owner.community_id == community.id, Owner.is_developer))
    if owner is None:
        owner = Owner(community=community, name=DEVELOPER_NAME, is_developer=True)
        db.session.add(owner)
        db.session.flush()
    return owner


class OwnerIndex:
    """A community's owners (persons and organizations, not merged away), to match a register entry to one.

    An entry is the same owner as a row with the same identity-document hash; else with the same name and one
    phone in common; else (`unit_owners`) a current owner of the same unit with the same name. Two different
    names sharing a phone are two owners (a couple, a parent and the child who answers for them)."""

    def __init__(self, community: Community):
        self.by_hash: dict[str, Owner] = {}
        self.by_name_phone: dict[tuple, Owner] = {}
        for owner in db.session.scalars(db.select(Owner).where(
                Owner.community_id == community.id, Owner.merged_into_id.is_(None), Owner.is_developer.is_(False))
                .order_by(Owner.id)):
            self.add(owner)

    def add(self, owner: Owner) -> None:
        if owner.id_hash:
            self.by_hash.setdefault(owner.id_hash, owner)
        for phone in owner.phone_numbers:
            self.by_name_phone.setdefault((owner.name, phone), owner)

    def match(self, entry: OwnerEntry, unit_owners=()) -> Owner | None:
        if entry.id_hash and entry.id_hash in self.by_hash:
            return self.by_hash[entry.id_hash]

        def compatible(owner):
            return not (entry.id_hash and owner.id_hash and owner.id_hash != entry.id_hash)
        for phone in entry.phones:
            owner = self.by_name_phone.get((entry.name, phone))
            if owner is not None and compatible(owner):
                return owner
        for owner in unit_owners:
            if not owner.is_developer and owner.merged_into_id is None and owner.name == entry.name \
                    and compatible(owner):
                return owner
        return None


def owner_for_entry(actor: User, community: Community, entry: OwnerEntry, index: OwnerIndex,
                    unit_owners: Iterable[Owner] = ()) -> Owner:
    """The owner this entry names (see OwnerIndex), made when there is none; new phones and a document hash
    are added to a matched owner, and a name the document hash matches under another name is corrected."""
    owner = index.match(entry, unit_owners)
    if owner is None:
        owner = Owner(community=community, name=entry.name, kind=entry.kind, id_hash=entry.id_hash,
                      id_last4=entry.id_last4)
        owner.phones = [OwnerPhone(phone=phone, position=i) for i, phone in enumerate(entry.phones)]
        db.session.add(owner)
        db.session.flush()
        index.add(owner)
        return owner
    if owner.name != entry.name:
        record(actor, "owner.rename", owner, before=owner.name, after=entry.name)
        owner.name = entry.name
    known = owner.phone_numbers
    added = [phone for phone in entry.phones if phone not in known]
    for i, phone in enumerate(added, start=len(known)):
        owner.phones.append(OwnerPhone(phone=phone, position=i))
    if entry.id_hash and not owner.id_hash:
        owner.id_hash, owner.id_last4 = entry.id_hash, entry.id_last4
    if added or entry.id_hash:
        db.session.flush()
        index.add(owner)
    return owner


def resolve_owners(actor: User, community: Community, new_owners: OwnersGiven,
                   unit_owners: Iterable[Owner] = ()) -> list[Owner]:
    """Owners from any of: Owner rows, OwnerEntry / (name, phone) pairs, or "developer"."""
    if isinstance(new_owners, (str, Owner, OwnerEntry)):
        new_owners = [new_owners]
    owners: list[Owner] = []
    index = None
    for item in new_owners or ():
        if isinstance(item, Owner):
            if item.community_id != community.id:
                raise DomainError(_l("This owner is registered in another community."), "owners")
            owner = item
        elif isinstance(item, str) and item.lower() == DEVELOPER:
            owner = developer_of(community)
        else:
            if isinstance(item, OwnerEntry):
                entry = item
            else:
                name, phone = item
                phone = normalize_login(phone) if phone else ""
                entry = OwnerEntry((name or "").strip(), (phone,) if phone else ())
            if not entry.name or len(entry.name) > 80:
                raise DomainError(_l("Write each owner as name:phone, for example 王芳:13900001234."), "owners")
            for phone in entry.phones:
                if not is_phone(phone):
                    raise DomainError(_l("“%(phone)s” is not a mainland mobile number (11 digits starting with 1).",
                                         phone=phone), "owners")
            index = index or OwnerIndex(community)
            owner = owner_for_entry(actor, community, entry, index, unit_owners)
        if owner not in owners:
            owners.append(owner)
    if not owners:
        raise DomainError(_l("Enter the owners, or “developer”."), "owners")
    if len(owners) > 1 and any(o.is_developer for o in owners):
        raise DomainError(_l("The developer cannot hold a unit together with persons."), "owners")
    return owners


def _lock(household) -> None:
    """Serialise ownership changes of one unit (row lock on PostgreSQL; SQLite writes one at a time)."""
    db.session.execute(db.select(Household.id).where(Household.id == household.id).with_for_update())


def _open_ownerships(household, on_date) -> list[Ownership]:
    """Holdings that still run on or after `on_date`: any of them would overlap new owners from that day."""
    return db.session.scalars(db.select(Ownership).where(
        Ownership.household_id == household.id,
        or_(Ownership.end_date.is_(None), Ownership.end_date > on_date))).all()


def _owner_names(ownerships) -> str:
    return ", ".join(o.owner.name for o in ownerships)


def start_ownership(actor: User, household: Household, new_owners: OwnersGiven,
                    on_date: date | None = None) -> list[Ownership]:
    """First owners of a unit that has none from `on_date`; co-owners are given together.

    Refused when anyone else already holds the unit then: a change of owners is a sale."""
    community = household.community
    _require(permissions.can_edit_register(actor, community))
    on_date = on_date or local_today(community)
    owners = resolve_owners(actor, community, new_owners)
    _lock(household)
    overlapping = _open_ownerships(household, on_date)
    if overlapping:
        raise DomainError(_l(
            "%(unit)s is already held by %(names)s from %(start)s. Co-owners must be recorded together; "
            "to change the owners, record a sale.", unit=unit_label(household.building.code, household.entrance,
                                                                    household.room),
            names=_owner_names(overlapping), start=min(o.start_date for o in overlapping).isoformat()), "owners")
    created = _start(household, owners, on_date)
    record(actor, "household.owners_start", household, on_date=on_date.isoformat(),
           owner_ids=[o.id for o in owners])
    return created


def _start(household, owners, on_date) -> list[Ownership]:
    created = [Ownership(household=household, owner=owner, start_date=on_date) for owner in owners]
    db.session.add_all(created)
    db.session.flush()
    return created


def transfer_household(actor: User, household: Household, new_owners: OwnersGiven,
                       on_date: date | None = None) -> list[Ownership]:
    """A sale or other change of owners on `on_date`: the current holdings end that day and the new
    owners' (co-owners together) start that day. Nothing is deleted, so the history stays true."""
    community = household.community
    _require(permissions.can_edit_register(actor, community))
    today = local_today(community)
    on_date = on_date or today
    if on_date > today:
        raise DomainError(_l("The date cannot be in the future."), "on_date")
    owners = resolve_owners(actor, community, new_owners,
                            unit_owners=[o.owner for o in current_ownerships(household, on_date)])
    _lock(household)
    ending = _open_ownerships(household, on_date)
    later = [o for o in ending if o.start_date > on_date]
    if later:
        raise DomainError(_l("%(names)s held this unit from %(start)s; the change cannot be dated earlier.",
                             names=_owner_names(later), start=max(o.start_date for o in later).isoformat()),
                          "on_date")
    if ending and {o.owner_id for o in ending} == {o.id for o in owners}:
        raise DomainError(_l("These are already the owners of this unit."), "owners")
    for ownership in ending:
        ownership.end_date = on_date
    db.session.flush()
    created = _start(household, owners, on_date)
    record(actor, "household.transfer", household, on_date=on_date.isoformat(),
           previous_owner_ids=sorted({o.owner_id for o in ending}), owner_ids=[o.id for o in owners])
    return created


# ---- register import -----------------------------------------------------------------------------------

@dataclass
class UnitPreview:
    row: RegisterRow
    household: Household | None = None
    area_before: object = None
    owners_before: list = field(default_factory=list)
    area_changed: bool = False
    owners_changed: bool = False
    source_before: str | None = None

    @property
    def label(self) -> str:
        return self.row.label


@dataclass
class ImportPreview:
    added: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    renamed: list = field(default_factory=list)  # (Owner, new name)
    new_details: list = field(default_factory=list)  # owners who get a new phone or a document number

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.renamed or self.new_details)


def read_import(actor: User, community: Community, data: bytes) -> list[RegisterRow]:
    """The rows of an uploaded register file, or RegisterFileRefused with every faulty row and why."""
    _require(permissions.can_import_register(actor, community))
    codes = db.session.scalars(db.select(Building.code).where(Building.community_id == community.id)).all()
    return read_register(data, codes)


def _owner_key(owners) -> frozenset:
    return frozenset(DEVELOPER if o.is_developer else o.id for o in owners)


def _row_owner_key(row: RegisterRow, index: OwnerIndex, unit_owners) -> frozenset:
    if row.developer:
        return frozenset({DEVELOPER})
    key = set()
    for entry in row.owners:
        owner = index.match(entry, unit_owners)
        key.add(owner.id if owner is not None else ("new", entry.name, entry.phones, entry.id_hash))
    return frozenset(key)


def preview_import(actor: User, community: Community, rows: list[RegisterRow]) -> ImportPreview:
    """What importing these rows would change; writes nothing."""
    _require(permissions.can_import_register(actor, community))
    buildings = {b.code: b for b in db.session.scalars(
        db.select(Building).where(Building.community_id == community.id))}
    households = {(h.building.code, h.entrance, h.room): h for h in db.session.scalars(
        db.select(Household).join(Building).where(Building.community_id == community.id))}
    today = local_today(community)
    owners_now = current_owners_by_household([h.id for h in households.values()], today)
    index = OwnerIndex(community)
    preview, renamed, details = ImportPreview(), {}, {}
    for row in rows:
        if row.building_code not in buildings:
            raise DomainError(_l("There is no building with code “%(code)s” in this community.",
                                 code=row.building_code), "file")
        household = households.get(row.unit_key)
        before = owners_now.get(household.id, []) if household is not None else []
        for entry in row.owners:
            owner = index.match(entry, before)
            if owner is None:
                continue
            if owner.name != entry.name:
                renamed[owner.id] = (owner, entry.name)
            if set(entry.phones) - set(owner.phone_numbers) or (entry.id_hash and not owner.id_hash):
                details[owner.id] = owner
        if household is None:
            preview.added.append(UnitPreview(row))
            continue
        unit = UnitPreview(row, household, household.area_m2, before,
                           area_changed=(household.area_m2 != row.area_m2
                                         or household.area_source != row.area_source),
                           owners_changed=_owner_key(before) != _row_owner_key(row, index, before),
                           source_before=household.area_source)
        (preview.changed if unit.area_changed or unit.owners_changed else preview.unchanged).append(unit)
    preview.renamed = list(renamed.values())
    preview.new_details = list(details.values())
    return preview


def apply_import(actor: User, community: Community, rows: list[RegisterRow], *, filename: str = "") -> ImportPreview:
    """Import the rows: add new units, update areas, and where the owners differ end the old holdings
    today and start the new ones. Importing the same file again changes nothing."""
    preview = preview_import(actor, community, rows)
    today = local_today(community)
    buildings = {b.code: b for b in db.session.scalars(
        db.select(Building).where(Building.community_id == community.id))}
    index = OwnerIndex(community)

    def owners_for(row, unit_owners=()):
        if row.developer:
            return [developer_of(community)]
        result = []
        for entry in row.owners:
            owner = owner_for_entry(actor, community, entry, index, unit_owners)
            if owner not in result:
                result.append(owner)
        return result

    for unit in preview.added:
        row = unit.row
        household = Household(building=buildings[row.building_code], entrance=row.entrance, room=row.room,
                              area_m2=row.area_m2, area_source=row.area_source)
        db.session.add(household)
        db.session.flush()
        _start(household, owners_for(row), today)
        unit.household = household
    for unit in preview.changed:
        household, row = unit.household, unit.row
        if unit.area_changed:
            household.area_m2 = row.area_m2
            household.area_source = row.area_source
        if unit.owners_changed:
            _lock(household)
            ending = _open_ownerships(household, today)
            if any(o.start_date > today for o in ending):
                raise DomainError(_l("%(unit)s has owners from a later date; change it on its own page.",
                                     unit=row.label), "file")
            new_owners = owners_for(row, unit.owners_before)
            for ownership in ending:
                ownership.end_date = today
            db.session.flush()
            _start(household, new_owners, today)
        else:
            owners_for(row, unit.owners_before)  # new phones or a document number of the same owners
    for unit in preview.unchanged:
        owners_for(unit.row, unit.owners_before)
    db.session.flush()
    record(actor, "register.import", community, filename=filename, on_date=today.isoformat(),
           added=len(preview.added), changed=len(preview.changed), unchanged=len(preview.unchanged),
           renamed=len(preview.renamed),
           units_added=[u.label for u in preview.added],
           units_changed=[{"unit": u.label, "area": u.area_changed, "owners": u.owners_changed}
                          for u in preview.changed])
    return preview


# ---- the owner roll: probable duplicates, merged or kept apart -------------------------------------------

@dataclass
class DuplicatePair:
    first: Owner
    second: Owner
    shared_phones: list = field(default_factory=list)
    same_document: bool = False


def probable_duplicates(community: Community) -> list[DuplicatePair]:
    """Owner rows of the community that are probably one owner: the same name and document hash, or a phone in
    common. Rows merged away, the developer, and pairs the committee kept apart are left out. Three queries."""
    first, second = aliased(Owner), aliased(Owner)
    phone1, phone2 = aliased(OwnerPhone), aliased(OwnerPhone)
    live = (first.community_id == community.id, second.community_id == community.id, first.id < second.id,
            first.merged_into_id.is_(None), second.merged_into_id.is_(None),
            first.is_developer.is_(False), second.is_developer.is_(False))
    pairs: dict[tuple, dict] = {}
    for a, b, phone in db.session.execute(
            db.select(first.id, second.id, phone1.phone)
            .join(phone1, phone1.owner_id == first.id).join(phone2, phone2.phone == phone1.phone)
            .join(second, second.id == phone2.owner_id).where(*live).order_by(first.id, second.id, phone1.phone)):
        pairs.setdefault((a, b), {"phones": [], "document": False})["phones"].append(phone)
    for a, b in db.session.execute(db.select(first.id, second.id).where(
            *live, first.id_hash.is_not(None), first.id_hash == second.id_hash, first.name == second.name)):
        pairs.setdefault((a, b), {"phones": [], "document": False})["document"] = True
    if not pairs:
        return []
    kept = set(db.session.execute(db.select(OwnersKeptApart.owner_low_id, OwnersKeptApart.owner_high_id)
                                  .where(OwnersKeptApart.community_id == community.id)).tuples())
    ids = {i for pair in pairs for i in pair}
    owners = {o.id: o for o in db.session.scalars(db.select(Owner).where(Owner.id.in_(ids)))}
    return [DuplicatePair(owners[a], owners[b], found["phones"], found["document"])
            for (a, b), found in sorted(pairs.items()) if (a, b) not in kept]


def _pair(community, first, second) -> tuple[Owner, Owner]:
    for owner in (first, second):
        if owner is None or owner.community_id != community.id:
            raise DomainError(_l("This owner is not in the community's register."), "decision")
        if owner.merged_into_id is not None:
            raise DomainError(_l("%(name)s was already merged into another owner.", name=owner.name), "decision")
        if owner.is_developer:
            raise DomainError(_l("The developer is not merged with other owners."), "decision")
    if first.id == second.id:
        raise DomainError(_l("Choose two different owners."), "decision")
    return first, second


def merge_owners(actor: User, community: Community, keep: Owner, other: Owner) -> Owner:
    """`other` is the same owner as `keep`: its holdings move to `keep` (a holding of a unit `keep` already
    holds at the same time is removed, once), its phones, document hash and account link are added to `keep`
    where missing, and the row stays, marked as merged into `keep`, so the history still names it."""
    _require(permissions.can_decide_owner_duplicates(actor, community))
    keep, other = _pair(community, keep, other)
    if keep.user_id and other.user_id and keep.user_id != other.user_id:
        raise DomainError(_l("These owners are linked to two different accounts; they cannot be merged."),
                          "decision")
    kept_holdings = db.session.scalars(db.select(Ownership).where(Ownership.owner_id == keep.id)).all()
    moved, removed = [], []
    for holding in db.session.scalars(db.select(Ownership).where(Ownership.owner_id == other.id)
                                      .order_by(Ownership.id)).all():
        overlap = any(h.household_id == holding.household_id and h.start_date < (holding.end_date or date.max)
                      and holding.start_date < (h.end_date or date.max) for h in kept_holdings)
        if overlap:
            removed.append({"household_id": holding.household_id, "start": holding.start_date.isoformat(),
                            "end": holding.end_date.isoformat() if holding.end_date else None})
            db.session.delete(holding)
        else:
            moved.append(holding.id)
            holding.owner_id = keep.id
    known = keep.phone_numbers
    for phone in other.phone_numbers:
        if phone not in known:
            keep.phones.append(OwnerPhone(phone=phone, position=len(known)))
            known.append(phone)
    if other.id_hash and not keep.id_hash:
        keep.id_hash, keep.id_last4 = other.id_hash, other.id_last4
    if other.user_id and not keep.user_id:
        keep.user_id, keep.confirmed_by_id, keep.confirmed_at = other.user_id, other.confirmed_by_id, other.confirmed_at
    other.merged_into_id, other.merged_at = keep.id, clock.utcnow()
    db.session.flush()
    record(actor, "owner.merged", keep, merged_owner_id=other.id, merged_name=other.name,
           holdings_moved=len(moved), holdings_removed=removed)
    return keep


def keep_owners_apart(actor: User, community: Community, first: Owner, second: Owner) -> OwnersKeptApart:
    """The committee says the two rows are different owners: the pair is not flagged again."""
    _require(permissions.can_decide_owner_duplicates(actor, community))
    first, second = _pair(community, first, second)
    low, high = sorted((first.id, second.id))
    decision = db.session.scalar(db.select(OwnersKeptApart).where(
        OwnersKeptApart.owner_low_id == low, OwnersKeptApart.owner_high_id == high))
    if decision is None:
        decision = OwnersKeptApart(community_id=community.id, owner_low_id=low, owner_high_id=high,
                                   decided_by_id=actor.id)
        db.session.add(decision)
        db.session.flush()
        record(actor, "owner.kept_apart", first, other_owner_id=second.id, other_name=second.name)
    return decision


def area_sources(community: Community, on: date) -> dict[str, int]:
    """How many of the community's units held on `on` take their area from each source (one query)."""
    rows = db.session.execute(
        db.select(Household.area_source, func.count(func.distinct(Household.id)))
        .join(Ownership, Ownership.household_id == Household.id).join(Building, Building.id == Household.building_id)
        .where(Building.community_id == community.id, Ownership.held_on(on)).group_by(Household.area_source)).all()
    return {source: int(n) for source, n in sorted(rows, key=lambda r: AREA_SOURCES.index(r[0]))}


# ---- reading -------------------------------------------------------------------------------------------

def community_size(community: Community) -> tuple[int, int]:
    """(buildings, units) of the community, as its page shows them: kept until its make-up changes."""
    def count():
        counts = building_unit_counts(community)
        return len(counts), sum(n for _b, n in counts)
    return versions.remember("community_size", community, count)


def building_unit_counts(community: Community) -> list[tuple[Building, int]]:
    rows = db.session.execute(
        db.select(Building, func.count(Household.id)).outerjoin(Household)
        .where(Building.community_id == community.id).group_by(Building.id).order_by(Building.code)).all()
    return sorted(((b, n) for b, n in rows), key=lambda pair: _natural(pair[0].code))


def _natural(code: str):
    """Building 2 before building 10, and 5 before 5A."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", code)]


def households_page(building: Building, page: int = 1, per_page: int = 60) -> Pagination:
    query = (db.select(Household).where(Household.building_id == building.id)
             .order_by(Household.entrance, func.length(Household.room), Household.room))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


DIRECTORY_PAGE_SIZE = 20


def community_directory(query: str | None = None, page: int = 1, per_page: int = DIRECTORY_PAGE_SIZE) -> Pagination:
    """Communities open to everyone (not members only), by sub-district and name, a page at a time; `query`
    narrows to names or sub-district names holding it. Returns a Flask-SQLAlchemy pagination of communities,
    each with its sub-district loaded."""
    query = (query or "").replace("\x00", "").strip()[:100]
    statement = (db.select(Community).join(SubDistrict, SubDistrict.id == Community.sub_district_id)
                 .options(contains_eager(Community.sub_district)).where(Community.members_only.is_(False))
                 .order_by(SubDistrict.name, Community.name, Community.id))
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(or_(Community.name.ilike(pattern, escape="\\"),
                                        SubDistrict.name.ilike(pattern, escape="\\")))
    page = max(1, min(int(page), 10_000))
    return db.paginate(statement, page=page, per_page=per_page, error_out=False, max_per_page=per_page)
