"""Places and the household register: the rules, as plain functions taking the acting person explicitly.

Every change is audited; every refusal is a DomainError naming the field it concerns.

Ownership periods: `end_date` is the handover day, which is also the next owners' `start_date`, so on
any day exactly one set of owners holds a unit (start_date <= day < end_date)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_
from sqlalchemy.orm import contains_eager

from portal import clock
from portal.audit.services import record
from portal.auth import permissions
from portal.auth.services import is_phone, normalize_login
from portal.clock import DEFAULT_TIME_ZONE
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.places import estates
from portal.places.importer import DEVELOPER, OwnerEntry, RegisterRow, parse_area, read_register, unit_label
from portal.places.models import Building, Community, Household, Owner, Ownership, SubDistrict

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


def local_today(community: Community) -> date:
    """Today's date where the community is: what a committee member means by "today"."""
    return clock.local_today(community.time_zone)


def community_or_404(slug: str) -> Community:
    return db.first_or_404(db.select(Community).where(Community.slug == slug))


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


def create_household(actor: User, building: Building, *, entrance: str, room: str, area_m2: str | Decimal,
                     owners: OwnersGiven | None = None, on_date: date | None = None) -> Household:
    """A unit; with `owners` (see `resolve_owners`) its first owners start on `on_date` (default today)."""
    _require(permissions.can_edit_register(actor, building.community))
    entrance, room = _unit_fields(building, entrance, room)
    household = Household(building=building, entrance=entrance, room=room, area_m2=parse_area(area_m2))
    db.session.add(household)
    db.session.flush()
    record(actor, "household.create", household, unit=unit_label(building.code, entrance, room),
           area_m2=str(household.area_m2))
    if owners:
        start_ownership(actor, household, owners, on_date)
    return household


def update_household(actor: User, household: Household, *, entrance: str, room: str,
                     area_m2: str | Decimal) -> Household:
    _require(permissions.can_edit_register(actor, household.community))
    entrance, room = _unit_fields(household.building, entrance, room, current=household)
    changed = _assign(household, entrance=entrance, room=room, area_m2=parse_area(area_m2))
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


def owner_by_phone(actor: User, community: Community, name: str, phone: str) -> Owner:
    """The community's owner with this phone, made on first use; the register's latest name wins."""
    owner = db.session.scalar(db.select(Owner).where(Owner.community_id == community.id, Owner.phone == phone))
    if owner is None:
        owner = Owner(community=community, name=name, phone=phone, is_developer=False)
        db.session.add(owner)
        db.session.flush()
    elif owner.name != name:
        record(actor, "owner.rename", owner, before=owner.name, after=name)
        owner.name = name
    return owner


def resolve_owners(actor: User, community: Community, new_owners: OwnersGiven) -> list[Owner]:
    """Owners from any of: Owner rows, OwnerEntry / (name, phone) pairs, or "developer"."""
    if isinstance(new_owners, (str, Owner, OwnerEntry)):
        new_owners = [new_owners]
    owners: list[Owner] = []
    for item in new_owners or ():
        if isinstance(item, Owner):
            if item.community_id != community.id:
                raise DomainError(_l("This owner is registered in another community."), "owners")
            owner = item
        elif isinstance(item, str) and item.lower() == DEVELOPER:
            owner = developer_of(community)
        else:
            name, phone = (item.name, item.phone) if isinstance(item, OwnerEntry) else item
            name, phone = (name or "").strip(), normalize_login(phone)
            if not name or len(name) > 80:
                raise DomainError(_l("Write each owner as name:phone, for example 王芳:13900001234."), "owners")
            if not is_phone(phone):
                raise DomainError(_l("“%(phone)s” is not a mainland mobile number (11 digits starting with 1).",
                                     phone=phone), "owners")
            owner = owner_by_phone(actor, community, name, phone)
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
    owners = resolve_owners(actor, community, new_owners)
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

    @property
    def label(self) -> str:
        return self.row.label


@dataclass
class ImportPreview:
    added: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    renamed: list = field(default_factory=list)  # (Owner, new name)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.renamed)


def read_import(actor: User, community: Community, data: bytes) -> list[RegisterRow]:
    """The rows of an uploaded register file, or RegisterFileRefused with every faulty row and why."""
    _require(permissions.can_import_register(actor, community))
    codes = db.session.scalars(db.select(Building.code).where(Building.community_id == community.id)).all()
    return read_register(data, codes)


def _owner_key(owners) -> frozenset:
    return frozenset(DEVELOPER if o.is_developer else (o.phone or f"owner:{o.id}") for o in owners)


def _row_owner_key(row: RegisterRow) -> frozenset:
    return frozenset({DEVELOPER}) if row.developer else frozenset(o.phone for o in row.owners)


def preview_import(actor: User, community: Community, rows: list[RegisterRow]) -> ImportPreview:
    """What importing these rows would change; writes nothing."""
    _require(permissions.can_import_register(actor, community))
    buildings = {b.code: b for b in db.session.scalars(
        db.select(Building).where(Building.community_id == community.id))}
    households = {(h.building.code, h.entrance, h.room): h for h in db.session.scalars(
        db.select(Household).join(Building).where(Building.community_id == community.id))}
    today = local_today(community)
    owners_now = current_owners_by_household([h.id for h in households.values()], today)
    known = {o.phone: o for o in db.session.scalars(
        db.select(Owner).where(Owner.community_id == community.id, Owner.phone.is_not(None)))}
    preview, renamed = ImportPreview(), {}
    for row in rows:
        if row.building_code not in buildings:
            raise DomainError(_l("There is no building with code “%(code)s” in this community.",
                                 code=row.building_code), "file")
        for entry in row.owners:
            owner = known.get(entry.phone)
            if owner is not None and owner.name != entry.name:
                renamed[owner.id] = (owner, entry.name)
        household = households.get(row.unit_key)
        if household is None:
            preview.added.append(UnitPreview(row))
            continue
        before = owners_now.get(household.id, [])
        unit = UnitPreview(row, household, household.area_m2, before,
                           area_changed=household.area_m2 != row.area_m2,
                           owners_changed=_owner_key(before) != _row_owner_key(row))
        (preview.changed if unit.area_changed or unit.owners_changed else preview.unchanged).append(unit)
    preview.renamed = list(renamed.values())
    return preview


def apply_import(actor: User, community: Community, rows: list[RegisterRow], *, filename: str = "") -> ImportPreview:
    """Import the rows: add new units, update areas, and where the owners differ end the old holdings
    today and start the new ones. Importing the same file again changes nothing."""
    preview = preview_import(actor, community, rows)
    today = local_today(community)
    buildings = {b.code: b for b in db.session.scalars(
        db.select(Building).where(Building.community_id == community.id))}
    owner_cache: dict = {}

    def owners_for(row):
        if row.developer:
            return [developer_of(community)]
        result = []
        for entry in row.owners:
            if entry.phone not in owner_cache:
                owner_cache[entry.phone] = owner_by_phone(actor, community, entry.name, entry.phone)
            result.append(owner_cache[entry.phone])
        return result

    for unit in preview.added:
        row = unit.row
        household = Household(building=buildings[row.building_code], entrance=row.entrance, room=row.room,
                              area_m2=row.area_m2)
        db.session.add(household)
        db.session.flush()
        _start(household, owners_for(row), today)
        unit.household = household
    for unit in preview.changed:
        household, row = unit.household, unit.row
        if unit.area_changed:
            household.area_m2 = row.area_m2
        if unit.owners_changed:
            _lock(household)
            ending = _open_ownerships(household, today)
            if any(o.start_date > today for o in ending):
                raise DomainError(_l("%(unit)s has owners from a later date; change it on its own page.",
                                     unit=row.label), "file")
            for ownership in ending:
                ownership.end_date = today
            db.session.flush()
            _start(household, owners_for(row), today)
    for owner, name in preview.renamed:
        if owner.name != name:
            record(actor, "owner.rename", owner, before=owner.name, after=name)
            owner.name = name
    db.session.flush()
    record(actor, "register.import", community, filename=filename, on_date=today.isoformat(),
           added=len(preview.added), changed=len(preview.changed), unchanged=len(preview.unchanged),
           renamed=len(preview.renamed),
           units_added=[u.label for u in preview.added],
           units_changed=[{"unit": u.label, "area": u.area_changed, "owners": u.owners_changed}
                          for u in preview.changed])
    return preview


# ---- reading -------------------------------------------------------------------------------------------

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
