"""Places and who lives there: sub-districts, communities, buildings, households, owners, residents."""
from sqlalchemy import CheckConstraint, Index, UniqueConstraint, event, or_, select, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Session, validates

from portal import versions
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db


class SubDistrict(db.Model):
    __tablename__ = "sub_district"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    slug = db.Column(db.String(64), nullable=False, unique=True)

    communities = db.relationship("Community", back_populates="sub_district", order_by="Community.name")


class Community(db.Model):
    __tablename__ = "community"

    id = db.Column(db.Integer, primary_key=True)
    sub_district_id = db.Column(db.Integer, db.ForeignKey("sub_district.id"), nullable=False, index=True)
    name = db.Column(db.String(120), nullable=False)
    slug = db.Column(db.String(64), nullable=False, unique=True)
    time_zone = db.Column(db.String(64), nullable=False, default="Asia/Shanghai")
    postcode = db.Column(db.String(6))
    members_only = db.Column(db.Boolean, nullable=False, default=False)
    # Proposals: supports needed to reach consultation, and the days allowed to collect them.
    proposal_support_threshold = db.Column(db.Integer, nullable=False, default=10, server_default="10")
    proposal_support_days = db.Column(db.Integer, nullable=False, default=30, server_default="30")
    # Public notice (公示) of a decision: how many days residents may object.
    notice_days = db.Column(db.Integer, nullable=False, default=7, server_default="7")
    # Changes with anything of the community that pages keep between requests (portal.versions).
    content_version = db.Column(db.BigInteger, nullable=False, default=versions.new_version, server_default="0")

    sub_district = db.relationship("SubDistrict", back_populates="communities")
    buildings = db.relationship("Building", back_populates="community", order_by="Building.code")
    estates = db.relationship("Estate", back_populates="community", order_by="Estate.id")


class Estate(db.Model):
    """An estate (小区 / 物业管理区域) of a community: its buildings, and its owners' assembly. A community
    holds one or more; owners' decisions belong to one estate. A building added without one goes to the
    community's first estate (created, named after the community, when it has none: see
    `_default_estates` below)."""

    __tablename__ = "estate"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    name = db.Column(db.String(120), nullable=False)

    community = db.relationship("Community", back_populates="estates")
    buildings = db.relationship("Building", back_populates="estate", order_by="Building.code")


class Building(db.Model):
    __tablename__ = "building"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    estate_id = db.Column(db.Integer, db.ForeignKey("estate.id"), nullable=False, index=True)
    name = db.Column(db.String(120), nullable=False)
    code = db.Column(db.String(16), nullable=False)

    community = db.relationship("Community", back_populates="buildings")
    estate = db.relationship("Estate", back_populates="buildings")
    households = db.relationship("Household", back_populates="building",
                                 order_by="(Household.entrance, Household.room)")


# Where a unit's exclusive area comes from, in the order the SPC building-ownership interpretation (art. 8)
# prefers them: the property register (不动产登记簿), else the surveyed area (实测), else the contract (合同).
AREA_SOURCES = ("register", "surveyed", "contract")


class Household(db.Model):
    """A unit: building, entrance, room, and its exclusive area in m² (exact decimal) with the area's source."""

    __tablename__ = "household"
    __table_args__ = (
        UniqueConstraint("building_id", "entrance", "room"),
        CheckConstraint("area_m2 > 0", name="area_positive"),
        CheckConstraint("area_source IN ('register', 'surveyed', 'contract')", name="area_source"),
    )

    id = db.Column(db.Integer, primary_key=True)
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"), nullable=False, index=True)
    entrance = db.Column(db.String(16), nullable=False, default="")
    room = db.Column(db.String(16), nullable=False)
    area_m2 = db.Column(db.Numeric(10, 2), nullable=False)
    area_source = db.Column(db.String(16), nullable=False, default="register", server_default="register")

    building = db.relationship("Building", back_populates="households")
    ownerships = db.relationship("Ownership", back_populates="household", order_by="Ownership.start_date")

    @property
    def community(self):
        return self.building.community


OWNER_KINDS = ("person", "organization", "developer")


class Owner(db.Model):
    """An owner as the register (业主名册) knows them: a person, an organization (a company, an institution)
    or the developer; not a phone number. An owner has any number of contact phones (none at all for
    some), and optionally an identity document number, kept only as a keyed hash (`id_hash`, to find
    duplicates) and its last 4 characters (`id_last4`, to tell people apart on a page).

    A register phone is not proof of identity, so `user_id` is set only when a committee member confirms
    that an account is this owner. A row merged into another (`merged_into_id`) keeps its history but
    holds nothing any more."""

    __tablename__ = "owner"
    __table_args__ = (
        CheckConstraint("kind IN ('person', 'organization', 'developer')", name="kind"),
        CheckConstraint("is_developer = (kind = 'developer')", name="developer_kind"),
        # All of a developer's unsold units together count as one owner.
        Index("uq_owner_developer_per_community", "community_id", unique=True,
              sqlite_where=text("is_developer"), postgresql_where=text("is_developer")),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    name = db.Column(db.String(80), nullable=False)
    kind = db.Column(db.String(16), nullable=False, default="person", server_default="person")
    # Kept equal to kind == "developer" (a check constraint holds it): the electorate and others read it.
    is_developer = db.Column(db.Boolean, nullable=False, default=False)
    id_hash = db.Column(db.String(64), index=True)
    id_last4 = db.Column(db.String(4))
    merged_into_id = db.Column(db.Integer, db.ForeignKey("owner.id"), index=True)
    merged_at = db.Column(UTCDateTime)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), index=True)
    confirmed_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    confirmed_at = db.Column(UTCDateTime)

    community = db.relationship("Community")
    user = db.relationship("User", foreign_keys=[user_id])
    ownerships = db.relationship("Ownership", back_populates="owner")
    merged_into = db.relationship("Owner", remote_side=[id])
    phones = db.relationship("OwnerPhone", back_populates="owner", order_by="(OwnerPhone.position, OwnerPhone.id)",
                             cascade="all, delete-orphan", lazy="selectin")

    def __init__(self, **values):
        kind = values.pop("kind", None) or ("developer" if values.get("is_developer") else "person")
        values["is_developer"] = kind == "developer"
        super().__init__(kind=kind, **values)

    @validates("kind")
    def _keep_is_developer(self, _key, kind):
        self.is_developer = kind == "developer"
        return kind

    @property
    def phone_numbers(self) -> list[str]:
        return [p.phone for p in self.phones]

    @hybrid_property
    def phone(self) -> str | None:
        """The first contact phone (None without any): what pages and matching read when one is enough."""
        return self.phones[0].phone if self.phones else None

    @phone.inplace.setter
    def _phone_setter(self, value) -> None:
        self.phones = [OwnerPhone(phone=value, position=0)] if value else []

    @phone.inplace.expression
    @classmethod
    def _phone_expression(cls):
        return (select(OwnerPhone.phone).where(OwnerPhone.owner_id == cls.id)
                .order_by(OwnerPhone.position, OwnerPhone.id).limit(1).scalar_subquery())


class OwnerPhone(db.Model):
    """One contact phone of an owner. Two owners may share a phone (a couple, an elderly parent's child)."""

    __tablename__ = "owner_phone"
    __table_args__ = (UniqueConstraint("owner_id", "phone"),)

    id = db.Column(db.Integer, primary_key=True)
    owner_id = db.Column(db.Integer, db.ForeignKey("owner.id"), nullable=False, index=True)
    phone = db.Column(db.String(11), nullable=False, index=True)
    position = db.Column(db.Integer, nullable=False, default=0, server_default="0")

    owner = db.relationship("Owner", back_populates="phones")


class OwnersKeptApart(db.Model):
    """The committee's decision that two owner rows flagged as probable duplicates are different owners,
    so the pair is not flagged again. `owner_low_id` < `owner_high_id`."""

    __tablename__ = "owners_kept_apart"
    __table_args__ = (
        UniqueConstraint("owner_low_id", "owner_high_id"),
        CheckConstraint("owner_low_id < owner_high_id", name="ordered"),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    owner_low_id = db.Column(db.Integer, db.ForeignKey("owner.id"), nullable=False, index=True)
    owner_high_id = db.Column(db.Integer, db.ForeignKey("owner.id"), nullable=False, index=True)
    decided_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    decided_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class Ownership(db.Model):
    """One owner's holding of one unit over a period; a sale ends it and starts another, never deletes.

    `end_date` is the handover day: the day a sale or register change took effect, which is also the
    `start_date` of the next owners. Co-owners are ownerships of one unit started together."""

    __tablename__ = "ownership"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="period"),
        # One open holding per owner per unit; overlaps between different owners are refused by the service.
        Index("uq_ownership_open", "household_id", "owner_id", unique=True,
              sqlite_where=text("end_date IS NULL"), postgresql_where=text("end_date IS NULL")),
    )

    id = db.Column(db.Integer, primary_key=True)
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"), nullable=False, index=True)
    owner_id = db.Column(db.Integer, db.ForeignKey("owner.id"), nullable=False, index=True)
    start_date = db.Column(db.Date, nullable=False)
    end_date = db.Column(db.Date)

    household = db.relationship("Household", back_populates="ownerships")
    owner = db.relationship("Owner", back_populates="ownerships")

    @classmethod
    def held_on(cls, day):
        """SQL condition: held on `day` (the handover day belongs to the new owners)."""
        return (cls.start_date <= day) & or_(cls.end_date.is_(None), cls.end_date > day)

    def is_held_on(self, day) -> bool:
        return self.start_date <= day and (self.end_date is None or self.end_date > day)


RESIDENCY_STATES = ("pending", "verified", "rejected", "ended")
OPEN_RESIDENCY_STATES = ("pending", "verified")


class Residency(db.Model):
    """A person's claim to live in a unit of a community, verified by its committee.

    Moving out ends a residency (status "ended", with who and when); rows are never deleted, so the
    history of who lived where, and past electorates, stay true."""

    __tablename__ = "residency"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'verified', 'rejected', 'ended')", name="status"),
        # One open claim per person and unit: a second click or a second tab cannot claim twice.
        db.Index("uq_residency_open_claim", "user_id", "household_id", unique=True,
                 sqlite_where=db.text("status IN ('pending', 'verified')"),
                 postgresql_where=db.text("status IN ('pending', 'verified')")),
    )

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"), index=True)
    status = db.Column(db.String(16), nullable=False, default="pending")
    is_adult = db.Column(db.Boolean, nullable=False, default=True)
    claimed_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    decided_at = db.Column(UTCDateTime)
    decided_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    reason = db.Column(db.String(500))
    ended_at = db.Column(UTCDateTime)
    ended_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    # When the resident agreed that the community's committee members may act for them (NULL: not agreed).
    act_for_consent_at = db.Column(UTCDateTime)

    user = db.relationship("User", foreign_keys=[user_id])
    community = db.relationship("Community")
    household = db.relationship("Household")
    decided_by = db.relationship("User", foreign_keys=[decided_by_id])
    ended_by = db.relationship("User", foreign_keys=[ended_by_id])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_RESIDENCY_STATES


# --- the default estate ------------------------------------------------------------------------------------

def default_estate(session, community) -> Estate:
    """The estate a building (or an estate's committee) goes to when none is chosen: the community's first
    estate, one added in this flush, or a new one named after the community when it has none yet. Safe
    inside a flush: reads without autoflush."""
    community_id = community.id if isinstance(community, Community) else community
    for obj in session.new:
        if not isinstance(obj, Estate):
            continue
        # A new estate knows its community by the object (its community_id is set only by the flush).
        of = obj.community_id if obj.community_id is not None else getattr(obj.community, "id", None)
        if obj.community is community or (community_id is not None and of == community_id):
            return obj
    if community_id is not None:
        with session.no_autoflush:
            estate = session.scalar(select(Estate).where(Estate.community_id == community_id)
                                    .order_by(Estate.id).limit(1))
        if estate is not None:
            return estate
    if not isinstance(community, Community):
        community = session.get(Community, community_id)
    estate = Estate(community=community, name=community.name)
    session.add(estate)
    return estate


@event.listens_for(Session, "before_flush")
def _default_estates(session, _context, _instances):
    """Buildings added without an estate go to the community's default estate (see Estate)."""
    for obj in list(session.new):
        if isinstance(obj, Building) and obj.estate is None and obj.estate_id is None:
            obj.estate = default_estate(session, obj.community or obj.community_id)


# What community pages keep between requests reads these (portal.versions): buildings and their units, estates
# (an owners' ballot's scope names them on the notice board).
versions.track("estate")
versions.track("building")
versions.track("household", community_of=versions.through("building_id", "building"))
