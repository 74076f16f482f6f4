"""Organizations (committees, the property company, departments, the sub-district office) and their members."""
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint

from portal.clock import utcnow
from portal.extensions import db

COMMUNITY_KINDS = ("residents_committee", "homeowners_committee", "deliberation_council", "property_company")
SUB_DISTRICT_KINDS = ("department", "subdistrict_office")
COMMITTEE_KINDS = ("residents_committee", "homeowners_committee", "deliberation_council")
TITLES = ("chair", "vice_chair", "member", "staff")

KIND_LABELS = {
    "residents_committee": _l("Residents' committee"),
    "homeowners_committee": _l("Homeowners' committee"),
    "deliberation_council": _l("Deliberation council"),
    "property_company": _l("Property service company"),
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
            "('residents_committee', 'homeowners_committee', 'deliberation_council', 'property_company'))"
            " OR (community_id IS NULL AND sub_district_id IS NOT NULL AND kind IN "
            "('department', 'subdistrict_office'))",
            name="kind_place"),
    )

    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(32), nullable=False)
    name = db.Column(db.String(120), nullable=False)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), index=True)
    sub_district_id = db.Column(db.Integer, db.ForeignKey("sub_district.id"), index=True)
    # Committee votes pass with yes from more than half of all members; some local rules read 半数以上 as
    # "at least half" — an organization may be set so.
    at_least_half = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())

    community = db.relationship("Community")
    sub_district = db.relationship("SubDistrict")
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
