"""Organizations (committees, the property company, departments, the sub-district office) and their members."""
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, UniqueConstraint, event
from sqlalchemy.orm import Session

from portal import versions
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db
from portal.places.models import default_estate

COMMUNITY_KINDS = ("residents_committee", "homeowners_committee", "deliberation_council", "property_company",
                   "party_committee", "service_station", "social_organization", "volunteer_team",
                   "property_management_committee", "grid")
SUB_DISTRICT_KINDS = ("department", "subdistrict_office")
COMMITTEE_KINDS = ("residents_committee", "homeowners_committee", "deliberation_council",
                   "property_management_committee")
# The owners' committees of one estate: its homeowners' committee (业委会) or, where none is elected, its
# property management committee (物业管理委员会, formed under the sub-district's guidance). Each belongs to an
# estate (Organization.estate_id) and opens that estate's owners' ballots.
ESTATE_KINDS = ("homeowners_committee", "property_management_committee")
# Beijing's community framework: the community Party committee (社区党委) leads — its members open
# deliberations and sit in the community's meetings; the community service station (社区服务站) does the
# counter work — registering residents, verifying their claims, acting for them; social organizations
# (社会组织) and volunteer teams (志愿服务队) carry out agreed actions. None of them is a committee: they do not
# moderate, open ballots or vote as one.
PARTY_KINDS = ("party_committee",)
COUNTER_KINDS = ("service_station",)
SOCIAL_KINDS = ("social_organization", "volunteer_team")
# A grid (网格) of a community: a set of buildings (portal.insight.models.GridBuilding) whose members are its
# grid workers (网格员), who patrol them and file what they find before residents complain (未诉先办).
GRID_KINDS = ("grid",)
TITLES = ("chair", "vice_chair", "member", "staff")

KIND_LABELS = {
    "residents_committee": _l("Residents' committee"),
    "homeowners_committee": _l("Homeowners' committee"),
    "deliberation_council": _l("Deliberation council"),
    "property_company": _l("Property service company"),
    "party_committee": _l("Community Party committee"),
    "service_station": _l("Community service station"),
    "social_organization": _l("Social organization"),
    "volunteer_team": _l("Volunteer team"),
    "property_management_committee": _l("Property management committee"),
    "grid": _l("Grid (网格)"),
    "department": _l("Sub-district department"),
    "subdistrict_office": _l("Sub-district office"),
}
TITLE_LABELS = {
    "chair": _l("Chair"),
    "vice_chair": _l("Vice chair"),
    "member": _l("Member"),
    "staff": _l("Staff"),
}


class Organization(db.Model):
    __tablename__ = "organization"
    __table_args__ = (
        CheckConstraint(
            "(community_id IS NOT NULL AND sub_district_id IS NULL AND kind IN "
            "('residents_committee', 'homeowners_committee', 'deliberation_council', 'property_company',"
            " 'party_committee', 'service_station', 'social_organization', 'volunteer_team',"
            " 'property_management_committee', 'grid'))"
            " OR (community_id IS NULL AND sub_district_id IS NOT NULL AND kind IN "
            "('department', 'subdistrict_office'))",
            name="kind_place"),
    )

    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(32), nullable=False)
    name = db.Column(db.String(120), nullable=False)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), index=True)
    sub_district_id = db.Column(db.Integer, db.ForeignKey("sub_district.id"), index=True)
    # The estate of a homeowners' or property management committee (ESTATE_KINDS); NULL for the others.
    estate_id = db.Column(db.Integer, db.ForeignKey("estate.id"), index=True)
    # Committee votes pass with yes from more than half of all members; some local rules read 半数以上 as
    # "at least half" — an organization may be set so.
    at_least_half = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())

    community = db.relationship("Community")
    sub_district = db.relationship("SubDistrict")
    estate = db.relationship("Estate")
    memberships = db.relationship("OrgMembership", back_populates="organization",
                                  order_by="OrgMembership.start_date")

    @property
    def is_committee(self) -> bool:
        return self.kind in COMMITTEE_KINDS

    @property
    def kind_label(self):
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def place(self):
        """The community or sub-district the organization belongs to."""
        return self.community or self.sub_district

    def current_memberships(self, on: date | None = None) -> list["OrgMembership"]:
        return [m for m in self.memberships if m.is_current(on)]

    def past_memberships(self, on: date | None = None) -> list["OrgMembership"]:
        on = on or utcnow().date()
        return [m for m in self.memberships if m.end_date is not None and m.end_date < on]


class OrgMembership(db.Model):
    """A person's place in an organization over a period; leaving sets end_date, the row is never deleted."""

    __tablename__ = "org_membership"
    __table_args__ = (
        CheckConstraint("title IN ('chair', 'vice_chair', 'member', 'staff')", name="title"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="period"),
        # At most one open-ended membership per person and organization.
        db.Index("uq_org_membership_open", "organization_id", "user_id", unique=True,
                 sqlite_where=db.text("end_date IS NULL"), postgresql_where=db.text("end_date IS NULL")),
    )

    id = db.Column(db.Integer, primary_key=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    title = db.Column(db.String(16), nullable=False, default="member")
    start_date = db.Column(db.Date, nullable=False)
    end_date = db.Column(db.Date)

    organization = db.relationship("Organization", back_populates="memberships")
    user = db.relationship("User")

    @property
    def title_label(self):
        return TITLE_LABELS.get(self.title, self.title)

    def is_current(self, on: date | None = None) -> bool:
        on = on or utcnow().date()
        return self.start_date <= on and (self.end_date is None or self.end_date >= on)


# --- meetings ------------------------------------------------------------------------------------------------
# A meeting of one organization: its agenda (items pointing at proposals and issues of the community),
# attendance (quorum: more than half of the members at the meeting's date), minutes per agenda item and
# decisions. Minutes are versioned: a version is drafted, approved by a member and published; a published
# version never changes — a correction is a new version, and every published version stays visible.

MEETING_STATES = ("scheduled", "held", "cancelled")
ATTENDANCE = ("present", "absent", "excused")
FOLLOW_UPS = ("none", "open_ballot", "create_action", "refer_subdistrict")


class Meeting(db.Model):
    __tablename__ = "meeting"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled', 'held', 'cancelled')", name="status"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="period"),
        db.Index("ix_meeting_community_starts", "community_id", "starts_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False, index=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    title = db.Column(db.String(200), nullable=False)
    starts_at = db.Column(UTCDateTime, nullable=False)
    ends_at = db.Column(UTCDateTime)
    place = db.Column(db.String(200))
    online_url = db.Column(db.String(500))  # http(s) only
    is_public = db.Column(db.Boolean, nullable=False, default=True)  # the agenda and published minutes
    status = db.Column(db.String(16), nullable=False, default="scheduled")
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    cancelled_reason = db.Column(db.String(1000))

    organization = db.relationship("Organization")
    community = db.relationship("Community")
    created_by = db.relationship("User")
    agenda = db.relationship("AgendaItem", back_populates="meeting", order_by="AgendaItem.position")


class AgendaItem(db.Model):
    __tablename__ = "agenda_item"
    __table_args__ = (
        UniqueConstraint("meeting_id", "position"),
        CheckConstraint("proposal_id IS NULL OR issue_id IS NULL", name="one_subject"),
    )

    id = db.Column(db.Integer, primary_key=True)
    meeting_id = db.Column(db.Integer, db.ForeignKey("meeting.id"), nullable=False)
    position = db.Column(db.SmallInteger, nullable=False)
    title = db.Column(db.String(200), nullable=False)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id"), index=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issue.id"), index=True)

    meeting = db.relationship("Meeting", back_populates="agenda")
    proposal = db.relationship("Proposal")
    issue = db.relationship("Issue")


class Attendance(db.Model):
    __tablename__ = "meeting_attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "user_id"),
        CheckConstraint("status IN ('present', 'absent', 'excused')", name="status"),
    )

    id = db.Column(db.Integer, primary_key=True)
    meeting_id = db.Column(db.Integer, db.ForeignKey("meeting.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    status = db.Column(db.String(8), nullable=False)
    recorded_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    recorded_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    user = db.relationship("User", foreign_keys=[user_id])


class MinutesVersion(db.Model):
    """One version of a meeting's minutes: drafted, then approved and published by a member (not
    necessarily the one who wrote it); published versions are immutable."""

    __tablename__ = "minutes_version"
    __table_args__ = (
        UniqueConstraint("meeting_id", "version"),
        CheckConstraint("status IN ('draft', 'published')", name="status"),
    )

    id = db.Column(db.Integer, primary_key=True)
    meeting_id = db.Column(db.Integer, db.ForeignKey("meeting.id"), nullable=False)
    version = db.Column(db.Integer, nullable=False)
    status = db.Column(db.String(16), nullable=False, default="draft")
    correction_note = db.Column(db.String(1000))  # what a later version corrects
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    published_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    published_at = db.Column(UTCDateTime)

    items = db.relationship("MinutesItem", back_populates="minutes", order_by="MinutesItem.position")


class MinutesItem(db.Model):
    """The minutes of one agenda item (or general remarks when agenda_item_id is NULL), Markdown as written
    and sanitized HTML."""

    __tablename__ = "minutes_item"

    id = db.Column(db.Integer, primary_key=True)
    minutes_id = db.Column(db.Integer, db.ForeignKey("minutes_version.id"), nullable=False, index=True)
    agenda_item_id = db.Column(db.Integer, db.ForeignKey("agenda_item.id"))
    position = db.Column(db.SmallInteger, nullable=False)
    body = db.Column(db.Text, nullable=False, default="")
    body_html = db.Column(db.Text, nullable=False, default="")

    minutes = db.relationship("MinutesVersion", back_populates="items")
    agenda_item = db.relationship("AgendaItem")


class Decision(db.Model):
    """What a meeting decided, with its intended follow-up. "open_ballot" links the ballot once opened;
    "create_action" is carried out by an agreed action made from the decision; "refer_subdistrict"
    notifies the sub-district office."""

    __tablename__ = "meeting_decision"
    __table_args__ = (
        CheckConstraint("follow_up IN ('none', 'open_ballot', 'create_action', 'refer_subdistrict')",
                        name="follow_up"),
    )

    id = db.Column(db.Integer, primary_key=True)
    meeting_id = db.Column(db.Integer, db.ForeignKey("meeting.id"), nullable=False, index=True)
    agenda_item_id = db.Column(db.Integer, db.ForeignKey("agenda_item.id"))
    text = db.Column(db.Text, nullable=False)
    follow_up = db.Column(db.String(24), nullable=False, default="none")
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"))
    referred_at = db.Column(UTCDateTime)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    meeting = db.relationship("Meeting")
    agenda_item = db.relationship("AgendaItem")
    ballot = db.relationship("Ballot")


@event.listens_for(Session, "before_flush")
def _estate_committees(session, _context, _instances):
    """A homeowners' or property management committee added without an estate belongs to the community's
    default estate (places.models.default_estate)."""
    for obj in list(session.new):
        if isinstance(obj, Organization) and obj.kind in ESTATE_KINDS and obj.estate is None \
                and obj.estate_id is None and (obj.community is not None or obj.community_id is not None):
            obj.estate = default_estate(session, obj.community or obj.community_id)


# The community page keeps its organizations, the calendar its meetings between requests (portal.versions); a
# sub-district's department (no community) is named on the pages of all its communities.
versions.track("organization", community_of=versions.or_sub_district())
versions.track("meeting")
