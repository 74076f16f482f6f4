"""Organizations (committees, the property company, departments, the sub-district office) and their members."""
from sqlalchemy import CheckConstraint

from portal.extensions import db

COMMUNITY_KINDS = ("residents_committee", "homeowners_committee", "deliberation_council", "property_company")
SUB_DISTRICT_KINDS = ("department", "subdistrict_office")
COMMITTEE_KINDS = ("residents_committee", "homeowners_committee", "deliberation_council")
TITLES = ("chair", "vice_chair", "member", "staff")


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

    community = db.relationship("Community")
    sub_district = db.relationship("SubDistrict")
    memberships = db.relationship("OrgMembership", back_populates="organization",
                                  order_by="OrgMembership.start_date")

    @property
    def is_committee(self) -> bool:
        return self.kind in COMMITTEE_KINDS


class OrgMembership(db.Model):
    __tablename__ = "org_membership"
    __table_args__ = (
        CheckConstraint("title IN ('chair', 'vice_chair', 'member', 'staff')", name="title"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="period"),
    )

    id = db.Column(db.Integer, primary_key=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    title = db.Column(db.String(16), nullable=False, default="member")
    start_date = db.Column(db.Date, nullable=False)
    end_date = db.Column(db.Date)

    organization = db.relationship("Organization", back_populates="memberships")
    user = db.relationship("User")
