"""Issue categories and their deadlines: the default set a community starts with (after the 12345 hotline
practice), the respond-by and resolve-by hours of each deadline class, and the organization a category
routes to. Only the community's committee changes them."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.auth import permissions
from portal.committees.models import Organization
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues.models import DEADLINE_CLASSES, IssueCategory
from portal.issues.services.whistle import report_minutes

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.places.models import Community

CATEGORY_CODE_MAX = 32
CATEGORY_NAME_MAX = 80
BASIS_MAX = 1000

# (code, English name, deadline class, kind of the organization that receives it by default)
DEFAULT_CATEGORIES = [
    ("lift", "Lift", "emergency", "property_company"),
    ("water", "Water supply", "utilities", "property_company"),
    ("power", "Power", "utilities", "property_company"),
    ("gas", "Gas", "utilities", "property_company"),
    ("heating", "Heating", "utilities", "property_company"),
    ("leak", "Leaks and pipes", "ordinary", "property_company"),
    ("lighting", "Lighting", "ordinary", "property_company"),
    ("rubbish", "Rubbish and cleaning", "ordinary", "property_company"),
    ("greenery", "Greenery", "ordinary", "property_company"),
    ("facilities", "Shared facilities", "complex", "property_company"),
    ("parking", "Parking and fire lanes", "ordinary", "department"),
    ("noise", "Noise", "ordinary", "department"),
    ("security", "Safety and security", "emergency", "residents_committee"),
    ("neighbours", "Neighbour disputes", "complex", "residents_committee"),
    ("other", "Other", "ordinary", "residents_committee"),
]
CATEGORY_LABELS = {
    "lift": _l("Lift"),
    "water": _l("Water supply"),
    "power": _l("Power"),
    "gas": _l("Gas"),
    "heating": _l("Heating"),
    "leak": _l("Leaks and pipes"),
    "lighting": _l("Lighting"),
    "rubbish": _l("Rubbish and cleaning"),
    "greenery": _l("Greenery"),
    "facilities": _l("Shared facilities"),
    "parking": _l("Parking and fire lanes"),
    "noise": _l("Noise"),
    "security": _l("Safety and security"),
    "neighbours": _l("Neighbour disputes"),
    "other": _l("Other"),
}

DEADLINE_KIND_LABELS = {"respond": _l("respond"), "resolve": _l("resolve")}


# --- categories -----------------------------------------------------------------------------------------

def _default_org(community, kind):
    if kind == "department":
        query = db.select(Organization).where(Organization.kind == "department",
                                              Organization.sub_district_id == community.sub_district_id)
    else:
        query = db.select(Organization).where(Organization.kind == kind, Organization.community_id == community.id)
    org = db.session.scalar(query.order_by(Organization.id).limit(1))
    if org is None and kind != "residents_committee":
        return _default_org(community, "residents_committee")
    return org


def ensure_default_categories(community: Community) -> list[IssueCategory]:
    """The default categories of a community, created when missing (existing ones are left as edited)."""
    existing = {c.code: c for c in db.session.scalars(
        db.select(IssueCategory).where(IssueCategory.community_id == community.id))}
    result = []
    for code, name, deadline_class, org_kind in DEFAULT_CATEGORIES:
        category = existing.get(code)
        if category is None:
            respond, resolve = DEADLINE_CLASSES[deadline_class]
            category = IssueCategory(community_id=community.id, code=code, name=name, deadline_class=deadline_class,
                                     respond_hours=respond, resolve_hours=resolve,
                                     default_org=_default_org(community, org_kind))
            db.session.add(category)
        result.append(category)
    db.session.flush()
    return result


def categories_for(community: Community, *, active_only: bool = True) -> list[IssueCategory]:
    query = db.select(IssueCategory).where(IssueCategory.community_id == community.id)
    if active_only:
        query = query.where(IssueCategory.is_active.is_(True))
    return db.session.scalars(query.options(joinedload(IssueCategory.default_org)).order_by(IssueCategory.id)).all()


def category_label(category: IssueCategory) -> str:
    """Default categories show their translated label while their name is the default one."""
    defaults = {code: name for code, name, _c, _k in DEFAULT_CATEGORIES}
    if category.code in CATEGORY_LABELS and category.name == defaults[category.code]:
        return str(CATEGORY_LABELS[category.code])
    return category.name


def _check_deadlines(deadline_class, respond_hours, resolve_hours):
    if deadline_class not in DEADLINE_CLASSES:
        raise DomainError(_l("Choose a deadline class."), "deadline_class")
    default_respond, default_resolve = DEADLINE_CLASSES[deadline_class]
    respond_hours = default_respond if respond_hours in (None, "") else respond_hours
    resolve_hours = default_resolve if resolve_hours in (None, "") else resolve_hours
    try:
        respond_hours, resolve_hours = int(respond_hours), int(resolve_hours)
    except (TypeError, ValueError):
        raise DomainError(_l("Deadlines are whole numbers of hours."), "respond_hours") from None
    if respond_hours <= 0:
        raise DomainError(_l("The time to respond must be at least one hour."), "respond_hours")
    if resolve_hours < respond_hours:
        raise DomainError(_l("The time to resolve cannot be shorter than the time to respond."), "resolve_hours")
    return respond_hours, resolve_hours


def _check_org_for(community, org):
    if org is None:
        return
    if org.community_id != community.id and org.sub_district_id != community.sub_district_id:
        raise DomainError(_l("Choose an organization of this community or its sub-district."), "default_org")


def create_category(actor: User, community: Community, *, code: str, name: str, deadline_class: str,
                    respond_hours: int | str | None = None, resolve_hours: int | str | None = None,
                    default_org: Organization | None = None) -> IssueCategory:
    if not permissions.can_manage_issue_categories(actor, community):
        raise NotAllowed(_l("Only administrators can change issue categories."))
    code = (code or "").strip().lower()
    name = (name or "").strip()
    if not code or len(code) > CATEGORY_CODE_MAX or not all(ch.isascii() and (ch.isalnum() or ch in "-_")
                                                            for ch in code):
        raise DomainError(_l("The code is 1 to 32 letters, digits, - or _."), "code")
    if db.session.scalar(db.select(IssueCategory.id).where(IssueCategory.community_id == community.id,
                                                           IssueCategory.code == code)) is not None:
        raise DomainError(_l("This community already has a category with this code."), "code")
    if not name or len(name) > CATEGORY_NAME_MAX:
        raise DomainError(_l("The name is 1 to 80 characters."), "name")
    respond_hours, resolve_hours = _check_deadlines(deadline_class, respond_hours, resolve_hours)
    _check_org_for(community, default_org)
    category = IssueCategory(community_id=community.id, code=code, name=name, deadline_class=deadline_class,
                             respond_hours=respond_hours, resolve_hours=resolve_hours, default_org=default_org)
    db.session.add(category)
    db.session.flush()
    record(actor, "issue_category.created", category, code=code, name=name, deadline_class=deadline_class,
           respond_hours=respond_hours, resolve_hours=resolve_hours,
           default_org_id=getattr(default_org, "id", None))
    return category


def update_category(actor: User, category: IssueCategory, *, name: str, deadline_class: str,
                    respond_hours: int | str | None, resolve_hours: int | str | None, default_org: Organization,
                    is_active: bool, basis: str | None = None,
                    report_within: int | str | None = None) -> IssueCategory:
    """Everything but the code, which issues keep referring to. Existing issues keep their deadlines."""
    if not permissions.can_manage_issue_categories(actor, category.community):
        raise NotAllowed(_l("Only administrators can change issue categories."))
    name = (name or "").strip()
    if not name or len(name) > CATEGORY_NAME_MAX:
        raise DomainError(_l("The name is 1 to 80 characters."), "name")
    respond_hours, resolve_hours = _check_deadlines(deadline_class, respond_hours, resolve_hours)
    _check_org_for(category.community, default_org)
    # The time to report in when summoned (whistle-blowing); "" clears it: the default by deadline class.
    minutes = None if report_within is None or str(report_within).strip() == "" \
        else report_minutes(str(report_within).strip(), "report_minutes")
    if basis is not None:
        basis = basis.strip()
        if len(basis) > BASIS_MAX:
            raise DomainError(_l("At most %(max)d characters, please.", max=BASIS_MAX), "basis")
        category.basis = basis or None
    if report_within is not None:
        category.report_minutes = minutes
    category.name = name
    category.deadline_class = deadline_class
    category.respond_hours = respond_hours
    category.resolve_hours = resolve_hours
    category.default_org = default_org
    category.is_active = bool(is_active)
    db.session.flush()
    record(actor, "issue_category.updated", category, name=name, deadline_class=deadline_class,
           respond_hours=respond_hours, resolve_hours=resolve_hours,
           default_org_id=getattr(default_org, "id", None), is_active=bool(is_active), basis=category.basis or "",
           report_minutes=category.report_minutes)
    return category
